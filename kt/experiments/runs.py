"""Runs behind the KT scripts: settings from flags, train-and-report into a folder, reload and evaluate.

``scripts/train_kt.py`` calls ``train_and_report`` and ``scripts/evaluate_kt.py`` calls
``evaluate_saved``; the DKT flags are generated from ``DKTConfig`` and ``TrainingConfig``
field metadata, so ``--help`` stays in step with the defaults.

Resuming: a run writes ``run.json`` (its settings) when it starts, and every model trained
by ``kt.models.training.train`` (DKT) checkpoints its loop after each epoch into its folder
(``checkpoint.pt``, or ``checkpoint_fold<i>.pt`` for k-fold). ``resume=True`` checks the
settings against ``run.json`` and continues each fit from its checkpoint, so a killed run
ends as an uninterrupted one would. The baselines (BKT, PFA, IRT, marginal) keep no
checkpoint: they fit in seconds and are simply refit, deterministically, on resume.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import os
import re
import resource
import time
import warnings
from pathlib import Path
from typing import Any, Callable

import pandas as pd
import torch

from riley_gym import nets
from riley_gym.kt.data import read_log
from riley_gym.kt.data.metrics import evaluate_predictions, per_skill_metrics
from riley_gym.kt.data.splits import pykt_test_windows
from riley_gym.kt.data.table import PREDICTION_COLUMN
from riley_gym.kt.experiments.evaluation import EvaluationResult, evaluate
from riley_gym.kt.experiments.plots import plot_calibration
from riley_gym.kt.models.dkt import DKTConfig
from riley_gym.kt.models.registry import MODELS
from riley_gym.kt.models.training import (
    CHECKPOINT_FIELDS,
    TrainingConfig,
    settings_differences,
    training_settings,
)

SUMMARY_FILE = "summary.json"
RUN_FILE = "run.json"
# The script's --seed sets both seeds; --out and --resume set where and whether to checkpoint.
_SKIPPED_FIELDS = {"seed", "training", *CHECKPOINT_FIELDS}
_CHECKPOINT_NAME = re.compile(r"checkpoint(_fold\d+)?\.pt")


class ResumeError(ValueError):
    """A run cannot be resumed: nothing to resume, already finished, or other settings given."""


class TeacherError(ValueError):
    """A run cannot teach this one: not a saved single-model run, or trained on another split."""


def add_dkt_arguments(parser: argparse.ArgumentParser) -> None:
    """Add one ``--flag`` per ``DKTConfig`` / ``TrainingConfig`` field (default: the dataclass default)."""
    group = parser.add_argument_group("DKT settings (defaults from DKTConfig and TrainingConfig)")
    for spec in [*dataclasses.fields(DKTConfig), *dataclasses.fields(TrainingConfig)]:
        if spec.name in _SKIPPED_FIELDS:
            continue
        flag = "--" + spec.name.replace("_", "-")
        default = spec.default
        if isinstance(default, bool):
            group.add_argument(
                flag,
                type=nets.parse_bool,
                default=None,
                metavar="BOOL",
                help=f"{spec.metadata['help']} (default {default})",
            )
        else:
            group.add_argument(
                flag,
                type=type(default),
                default=None,
                help=f"{spec.metadata['help']} (default {default})",
            )


def dkt_config_from_arguments(args: argparse.Namespace, seed: int) -> DKTConfig:
    """The ``DKTConfig`` named by the flags of ``add_dkt_arguments`` (unset flags keep defaults)."""

    def overrides(cls: type) -> dict[str, Any]:
        return {
            spec.name: getattr(args, spec.name)
            for spec in dataclasses.fields(cls)
            if spec.name not in _SKIPPED_FIELDS and getattr(args, spec.name, None) is not None
        }

    training = TrainingConfig(**{**overrides(TrainingConfig), "seed": seed})
    return DKTConfig(**overrides(DKTConfig), seed=seed, training=training)


def peak_memory_mb() -> float:
    """Peak resident memory of this process so far, in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _model_summary(name: str, result: EvaluationResult) -> dict[str, Any]:
    summary = {"model": name, **result.summary()}
    history = getattr(result.models[0], "history", None)  # neural models keep a TrainingHistory
    if history is not None and hasattr(history, "summary"):
        summary.update(history.summary())
        summary["train_seconds"] = result.train_seconds
    mixing = getattr(result.models[0], "mixing", None)
    if mixing is not None:
        summary["concept_mixing"] = mixing
    config = result.models[0].config
    summary["settings"] = (
        config.to_dict() if hasattr(config, "to_dict") else dataclasses.asdict(config)
    )
    return summary


def _write_model_files(folder: Path, result: EvaluationResult) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    pd.DataFrame([result.metrics]).to_csv(folder / "metrics.csv", index=False)
    pd.DataFrame(result.folds).to_csv(folder / "folds.csv", index=False)
    result.per_skill.to_csv(folder / "per_skill.csv", index=False)
    history = getattr(result.models[0], "history", None)
    if history is not None and hasattr(history, "to_frame"):
        history.to_frame().to_csv(folder / "history.csv", index=False)
    for number, model in enumerate(result.models):
        model.save(folder / ("model" if len(result.models) == 1 else f"model_fold{number}"))


def _plot_comparison(table: pd.DataFrame, path: Path) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(6, 3.5), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    axes.bar(table["model"], table["test_auc"], color="tab:blue")
    for x, value in enumerate(table["test_auc"]):
        axes.text(x, value, f"{value:.3f}", ha="center", va="bottom")
    axes.set_ylim(0.5, 1.0)
    axes.set_ylabel("test AUC")
    axes.set_title("Knowledge tracers on the same split")
    figure.savefig(path, dpi=120)


def _config_or_default(name: str, config: Any) -> Any:
    return config if config is not None else MODELS[name]().config


def _config_dict(config: Any) -> dict[str, Any]:
    values = config.to_dict() if hasattr(config, "to_dict") else dataclasses.asdict(config)
    if isinstance(
        getattr(config, "training", None), TrainingConfig
    ):  # where to checkpoint may differ between a run and its resumption
        values["training"] = training_settings(config.training)
    return values


def _with_checkpoint(config: Any, path: Path, resume: bool) -> Any:
    """``config`` with its training loop checkpointing to ``path`` (resuming from it when asked and present).

    Configs without a ``TrainingConfig`` (the baselines) come back unchanged.
    """
    training = getattr(config, "training", None)
    if not isinstance(training, TrainingConfig):
        return config
    training = dataclasses.replace(
        training, checkpoint_path=str(path), resume=resume and path.is_file()
    )
    return dataclasses.replace(config, training=training)


def _model_factory(
    model_class: type,
    config: Any,
    folder: Path,
    protocol: str,
    resume: bool,
    teacher: Callable[[pd.DataFrame], Any] | None = None,
) -> Callable[[], Any]:
    """Builds the model of each fit in turn, each checkpointing to its own file in ``folder`` (and taught by ``teacher``)."""
    fits = itertools.count()  # evaluate() makes one model per fit, in fold order

    def make_model() -> Any:
        number = next(fits)
        path = folder / ("checkpoint.pt" if protocol != "kfold" else f"checkpoint_fold{number}.pt")
        config_here = _with_checkpoint(config, path, resume)
        return (
            model_class(config_here)
            if teacher is None
            else model_class(config_here, teacher=teacher)
        )

    return make_model


def _file_identity(path: str | None, size: int | None = None) -> tuple[str, int | None] | None:
    """(file name, size in bytes) of a log, to recognise the same file under another folder (``size``: as recorded)."""
    if not path:
        return None
    if size is None and os.path.isfile(path):
        size = os.path.getsize(path)
    return Path(path).name, size


def load_teachers(
    runs: list[str | os.PathLike],
    data: str,
    test: str | None,
    protocol: str,
    valid_fold: int = 0,
    device: str | None = None,
) -> tuple[Callable[[pd.DataFrame], Any], list[dict[str, Any]]]:
    """The mean prediction of the models saved in ``runs``, to train a DKT on (``DKT(teacher=...)``).

    A teacher must have seen none of this run's test students, so each run must be a
    single-model run of ``train_and_report`` on the same split: the same protocol, data and
    test file (recognised by name and size, so a copy elsewhere is accepted) and, for
    ``pykt``, the same validation fold. Splits that depend on the seed (``kfold``,
    ``holdout`` without a test file) are refused: teachers trained with other seeds held
    out other students. DKT teachers predict on ``device`` (the student's; None: as saved).

    Returns:
        (teacher: table -> (len(table),) mean p(correct), one record per run: its folder,
        model and test AUC).

    Raises:
        TeacherError: naming the run and what differs.
    """
    if not runs:
        raise TeacherError("no teacher runs given")
    if protocol == "kfold" or (protocol == "holdout" and not test):
        raise TeacherError(
            f"teachers need a split that does not depend on the seed (dkt-synthetic, pykt, or holdout "
            f"with --test); protocol {protocol!r}{'' if test else ' without a test file'} holds out other "
            "students for each seed, so a teacher may have trained on this run's test students"
        )
    expected = {"protocol": protocol, "data": _file_identity(data), "test": _file_identity(test)}
    if protocol == "pykt":
        expected["validation fold"] = valid_fold
    models, records = [], []
    for run in runs:
        try:
            name, model = load_saved(run, device)
        except (ValueError, OSError) as error:
            raise TeacherError(f"teacher {run}: {error}") from error
        summary = json.loads((Path(run) / SUMMARY_FILE).read_text())
        run_file = (
            Path(run) / RUN_FILE
        )  # the settings as the teacher started, with its files' sizes then
        recorded = json.loads(run_file.read_text())["settings"] if run_file.is_file() else {}
        found = {
            "protocol": summary.get("protocol"),
            "data": _file_identity(summary.get("data"), recorded.get("data_bytes")),
            "test": _file_identity(summary.get("test"), recorded.get("test_bytes")),
            "validation fold": recorded.get("valid_fold", 0),
        }
        differing = [
            f"{key} {found[key]} (this run: {expected[key]})"
            for key in expected
            if found[key] != expected[key]
        ]
        if differing:
            raise TeacherError(
                f"teacher {run} was trained on another split, so it may have seen this run's test "
                f"students: " + "; ".join(differing)
            )
        models.append(model)
        records.append({"run": str(run), "model": name, "test_auc": summary.get("test_auc")})

    def mean_prediction(table: pd.DataFrame) -> Any:
        with (
            warnings.catch_warnings()
        ):  # a teacher's unknown-skill fallback is its documented behaviour
            warnings.simplefilter("ignore", UserWarning)
            return sum(
                model.predict(table)[PREDICTION_COLUMN].to_numpy() for model in models
            ) / len(models)

    return mean_prediction, records


def _start_run(out: Path, folders: list[Path], settings: dict[str, Any]) -> None:
    """Clear a previous run's summary and checkpoints from ``out`` (they would pass for this run's) and record the settings."""
    stale = [out / SUMMARY_FILE] + [
        path
        for folder in folders
        if folder.is_dir()
        for path in folder.iterdir()
        if _CHECKPOINT_NAME.fullmatch(path.name)
    ]
    for path in stale:
        path.unlink(missing_ok=True)
    record = {"settings": settings, "torch_threads": torch.get_num_threads()}
    (out / RUN_FILE).write_text(json.dumps(record, indent=2))


def _check_resumable(out: Path, settings: dict[str, Any]) -> None:
    """Raise ``ResumeError`` unless ``out`` holds an unfinished run started with ``settings``."""
    if not (out / RUN_FILE).is_file():
        raise ResumeError(
            f"nothing to resume in {out}: no {RUN_FILE}, which a run writes when it starts; "
            "run without --resume to start one"
        )
    if (out / SUMMARY_FILE).is_file():
        raise ResumeError(
            f"nothing to resume in {out}: the run there finished ({SUMMARY_FILE} exists); "
            "run without --resume to start it again, or choose another --out"
        )
    record = json.loads((out / RUN_FILE).read_text())
    differences = settings_differences(record["settings"], settings, saved_as="the run")
    if differences:
        raise ResumeError(
            f"cannot resume {out}: the settings given differ from the run's: "
            + "; ".join(differences)
        )
    if record["torch_threads"] != torch.get_num_threads():
        warnings.warn(
            f"resuming with {torch.get_num_threads()} torch threads; the run started with "
            f"{record['torch_threads']}, so the result may differ in the last bits",
            stacklevel=3,
        )


def train_and_report(
    models: list[str],
    data: str,
    out: str | os.PathLike,
    protocol: str,
    test: str | None = None,
    data_format: str = "auto",
    configs: dict[str, Any] | None = None,
    seed: int = 0,
    k: int = 5,
    test_fraction: float = 0.2,
    valid_fold: int = 0,
    progress: bool = False,
    extra: dict[str, Any] | None = None,
    resume: bool = False,
    teachers: list[str] | None = None,
) -> dict[str, Any]:
    """Fit and score each named model under a protocol and write its files.

    One model writes into ``out``; several write into ``out/<model>/`` plus
    ``comparison.csv`` and ``comparison.png``. Each model folder gets ``metrics.csv``,
    ``folds.csv``, ``per_skill.csv``, ``history.csv`` (neural models), the saved
    model(s) and, for models trained by ``kt.models.training.train``, the per-epoch loop
    checkpoint(s); ``out`` gets ``run.json`` at the start, ``calibration.png`` and
    ``summary.json`` at the end.

    Args:
        models: names in ``kt.models.registry.MODELS``.
        data: the log to read (for ``pykt``: ``train_valid.csv``).
        out: output folder.
        protocol: see ``kt.experiments.evaluation.PROTOCOLS``.
        test: a separate test log (``pykt``, or ``holdout`` with a given test set).
        data_format: reader format for both logs.
        configs: model name -> config (missing names use the model's default config).
        seed, k, test_fraction, valid_fold: protocol settings.
        progress: progress bars.
        extra: more plain values to record in ``summary.json``.
        resume: continue the unfinished run in ``out`` (same arguments as when it started):
            neural models from their last finished epoch, baselines refit.
        teachers: run folders of saved models whose mean prediction is DKT's training target
            (``load_teachers``; DKT alone). The summary adds ``teachers`` and ``teachers_test_auc``
            (their mean prediction scored on this run's test students).

    Returns:
        The summary written to ``out/summary.json``.

    Raises:
        ResumeError: with ``resume``, if ``out`` holds no run, a finished one, or one started
            with other settings (each differing setting is named).
        TeacherError: if a teacher run cannot teach this one (see ``load_teachers``).
    """
    unknown = [name for name in models if name not in MODELS]
    if unknown or not models:
        raise ValueError(f"models must be names from {list(MODELS)}, got {models}")
    if teachers and models != ["dkt"]:
        raise TeacherError(f"teachers train DKT alone; the models asked for are {models}")
    configs = {name: _config_or_default(name, (configs or {}).get(name)) for name in models}
    out = Path(out)
    folders = {name: out if len(models) == 1 else out / name for name in models}
    settings = json.loads(
        json.dumps(
            {
                "models": models,
                "data": str(data),
                "data_bytes": os.path.getsize(data) if os.path.isfile(data) else None,
                "test": str(test) if test else None,
                "test_bytes": os.path.getsize(test) if test and os.path.isfile(test) else None,
                "format": data_format,
                "protocol": protocol,
                "seed": seed,
                "k": k,
                "test_fraction": test_fraction,
                "valid_fold": valid_fold,
                "configs": {name: _config_dict(config) for name, config in configs.items()},
                "teachers": [str(run) for run in teachers or []],
            }
        )
    )  # as read back from run.json (tuples become lists)
    teacher, teacher_records = (
        load_teachers(teachers, data, test, protocol, valid_fold, configs["dkt"].device)
        if teachers
        else (None, None)
    )
    out.mkdir(parents=True, exist_ok=True)
    if resume:
        _check_resumable(out, settings)
    else:
        _start_run(out, list(folders.values()), settings)
    table, report = read_log(data, format=data_format)
    test_table, test_report = read_log(test, format=data_format) if test else (None, None)
    summaries, predictions = {}, {}
    started = time.perf_counter()
    for name in models:
        folders[name].mkdir(parents=True, exist_ok=True)
        make_model = _model_factory(
            MODELS[name], configs[name], folders[name], protocol, resume, teacher
        )
        result = evaluate(
            make_model,
            table,
            protocol,
            test_table,
            k=k,
            test_fraction=test_fraction,
            valid_fold=valid_fold,
            seed=seed,
            progress=progress,
        )
        _write_model_files(folders[name], result)
        summaries[name] = _model_summary(name, result)
        if teacher is not None:
            taught = result.predictions.assign(**{PREDICTION_COLUMN: teacher(result.predictions)})
            summaries[name].update(
                teachers=teacher_records, teachers_test_auc=evaluate_predictions(taught)["auc"]
            )
        predictions[name] = result.predictions
    plot_calibration(predictions, out / "calibration.png")
    common = {
        "data": str(data),
        "test": str(test) if test else None,
        "format": data_format,
        "protocol": protocol,
        "seed": seed,
        "resumed": resume,
        "read_report": str(report),
        "test_read_report": str(test_report) if test_report else None,
        "wall_seconds": time.perf_counter() - started,
        "peak_memory_mb": peak_memory_mb(),
        "load_average": os.getloadavg(),
        **(extra or {}),
    }
    if len(models) == 1:
        summary = {**summaries[models[0]], **common}
    else:
        columns = [
            "model",
            "test_auc",
            "test_acc",
            "test_rmse",
            "test_log_loss",
            "train_seconds",
            "predict_seconds",
        ]
        comparison = pd.DataFrame(
            [{column: summaries[name].get(column) for column in columns} for name in models]
        )
        comparison.to_csv(out / "comparison.csv", index=False)
        _plot_comparison(comparison, out / "comparison.png")
        summary = {
            "model": "all" if set(models) == set(MODELS) else ",".join(models),
            "models": summaries,
            **common,
        }
    (out / SUMMARY_FILE).write_text(json.dumps(summary, indent=2, default=float))
    return summary


def load_saved(run: str | os.PathLike, device: str | None = None) -> tuple[str, Any]:
    """(model name, fitted model) of a folder ``train_and_report`` wrote for one model (a DKT on ``device`` if given).

    Raises:
        ValueError: if ``run`` holds no single saved model.
    """
    run = Path(run)
    summary_path = run / SUMMARY_FILE
    if not summary_path.is_file() or not (run / "model").is_dir():
        raise ValueError(
            f"{run} is not a single-model run folder of train_kt.py (needs {SUMMARY_FILE} and model/)"
        )
    name = json.loads(summary_path.read_text())["model"]
    on_device = (
        {"device": device} if device is not None and name == "dkt" else {}
    )  # the baselines live on the CPU
    return name, MODELS[name].load(run / "model", **on_device)


def evaluate_saved(
    run: str | os.PathLike,
    data: str,
    out: str | os.PathLike,
    data_format: str = "auto",
    pykt_windows: bool = False,
) -> dict[str, Any]:
    """Score a model saved by ``train_and_report`` on another log.

    Args:
        run: the folder ``train_and_report`` wrote for one model (holds ``summary.json`` and ``model/``).
        data: the log to score (every attempt of every student).
        out: output folder: ``summary.json``, ``metrics.csv``, ``per_skill.csv``, ``calibration.png``.
        data_format: reader format.
        pykt_windows: score as pyKT does (``kt.data.splits.pykt_test_windows``: windows of 200 from an
            empty state, no window's first row); the summary's ``scoring`` says which.

    Returns:
        The summary written.

    Raises:
        ValueError: if ``run`` holds no single saved model.
    """
    name, model = load_saved(run)
    table, report = read_log(data, format=data_format)
    if pykt_windows:
        table = pykt_test_windows(table)
    started = time.perf_counter()
    predicted = model.predict(table)
    seconds = time.perf_counter() - started
    metrics = evaluate_predictions(predicted, skip_first_attempt=pykt_windows)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    pd.DataFrame([metrics]).to_csv(out / "metrics.csv", index=False)
    per_skill_metrics(predicted).to_csv(out / "per_skill.csv", index=False)
    plot_calibration({name: predicted}, out / "calibration.png")
    summary = {
        "model": name,
        "model_dir": str(run),
        "data": str(data),
        "scoring": "pykt-windows" if pykt_windows else "every attempt, whole history",
        **{f"test_{key}": value for key, value in metrics.items()},
        "predict_seconds": seconds,
        "n_unknown_skill_rows": int(getattr(model, "n_unknown_skill_rows", 0)),
        "read_report": str(report),
        "load_average": os.getloadavg(),
    }
    (out / SUMMARY_FILE).write_text(json.dumps(summary, indent=2, default=float))
    return summary
