"""Runs behind the KT scripts: settings from flags, train and report into a folder, evaluate.

``scripts/train_kt.py`` calls ``train_and_report`` and ``scripts/evaluate_kt.py`` calls
``evaluate_saved``. The settings flags are generated from the chosen models' config
dataclasses, ``TrainingConfig``, ``FitPlan`` and ``ProtocolConfig`` (``add_run_arguments``),
so ``--help`` stays in step with the defaults.

Resuming: a run writes ``run.json`` (its settings) when it starts, and every model trained
by ``kt.models.training.train`` checkpoints its loop after each epoch into its folder
(``checkpoint.pt``, ``checkpoint_fold<i>.pt`` for k-fold, ``..._refit.pt`` for a refit).
``resume=True`` checks the settings against ``run.json`` and continues each fit from its
checkpoint, so a killed run ends as an uninterrupted one would. The baselines (BKT, PFA,
IRT, marginal) keep no checkpoint: they fit in seconds and are simply refit,
deterministically, on resume.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import os
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
from riley_gym.kt.data.protocols import ProtocolConfig
from riley_gym.kt.data.splits import pykt_test_windows
from riley_gym.kt.data.table import PREDICTION_COLUMN
from riley_gym.kt.experiments.distillation import load_teachers
from riley_gym.kt.experiments.evaluation import EvaluationResult, evaluate
from riley_gym.kt.experiments.fitting import FitPlan
from riley_gym.kt.experiments.plots import plot_calibration, plot_model_comparison
from riley_gym.kt.experiments.saved_runs import RUN_FILE, SUMMARY_FILE, load_saved
from riley_gym.kt.models.registry import MODELS
from riley_gym.kt.models.training import (
    CHECKPOINT_FIELDS,
    TrainingConfig,
    settings_differences,
    training_settings,
)

__all__ = [
    "ResumeError",
    "add_run_arguments",
    "run_settings_from_arguments",
    "train_and_report",
    "evaluate_saved",
]

# The script's --seed sets every seed; --out and --resume set where and whether to checkpoint.
_SKIPPED_FIELDS = {"seed", "training", *CHECKPOINT_FIELDS}


class ResumeError(ValueError):
    """A run cannot be resumed: nothing to resume, already finished, or other settings given."""


def _settings_classes(models: list[str]) -> dict[str, type]:
    """Name -> config class of each model; ``TrainingConfig`` under "training" if needed.

    It is needed if one of the models trains by epochs.
    """
    classes = {name: MODELS[name].config_class for name in models}
    trains = any(
        any(spec.name == "training" for spec in dataclasses.fields(cls)) for cls in classes.values()
    )
    return {**classes, **({"training": TrainingConfig} if trains else {})}


def add_run_arguments(parser: argparse.ArgumentParser, models: list[str]) -> None:
    """Flags of the protocol, the fit plan and every field of the models' settings.

    A field that several of the models have is one flag that sets it in each of them.
    """
    nets.add_arguments(parser.add_argument_group("protocol"), ProtocolConfig, skip={"seed"})
    nets.add_arguments(parser.add_argument_group("fit plan"), FitPlan, skip={"seed"})
    seen: set[str] = {
        spec.name for cls in (ProtocolConfig, FitPlan) for spec in dataclasses.fields(cls)
    }
    for owner, cls in _settings_classes(models).items():
        fresh = {spec.name for spec in dataclasses.fields(cls)} - seen - _SKIPPED_FIELDS
        group = parser.add_argument_group(f"{owner} settings ({cls.__name__})")
        nets.add_arguments(group, cls, skip={spec.name for spec in dataclasses.fields(cls)} - fresh)
        seen |= fresh


def run_settings_from_arguments(
    args: argparse.Namespace, models: list[str], seed: int
) -> tuple[ProtocolConfig, FitPlan, dict[str, Any]]:
    """(protocol, fit plan, model name -> config) named by ``add_run_arguments``'s flags.

    Raises:
        nets.SettingsError: naming the field (``nets.flag_of`` gives its flag) of a bad value.
    """
    protocol = ProtocolConfig(**nets.given_arguments(args, ProtocolConfig, {"seed"}), seed=seed)
    plan = FitPlan(**nets.given_arguments(args, FitPlan, {"seed"}), seed=seed)
    classes = _settings_classes(models)
    training = TrainingConfig(
        **nets.given_arguments(args, TrainingConfig, _SKIPPED_FIELDS), seed=seed
    )
    configs = {}
    for name in models:
        cls = classes[name]
        values = nets.given_arguments(args, cls, _SKIPPED_FIELDS)
        names = {spec.name for spec in dataclasses.fields(cls)}
        if "seed" in names:
            values["seed"] = seed
        if "training" in names:
            values["training"] = training
        configs[name] = cls(**values)
    return protocol, plan, configs


def peak_memory_mb() -> float:
    """Peak resident memory of this process so far, in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _model_summary(name: str, result: EvaluationResult, config: Any) -> dict[str, Any]:
    summary = {"model": name, **result.summary()}
    fit = result.fits[0]
    if fit.history is not None:  # models trained by epochs keep a TrainingHistory
        summary.update(fit.history.summary())
        summary["train_seconds"] = result.train_seconds
    if fit.refit_history is not None:
        summary["refit_epochs"] = len(fit.refit_history.epochs)
    if fit.mixing is not None:
        summary["concept_mixing"] = fit.mixing
    # What the model reads (the attention tracers: item ids and skills, or skills only).
    inputs = getattr(result.models[0], "inputs", None) if result.models else None
    if isinstance(inputs, str):
        summary["inputs"] = inputs
    summary["settings"] = config.to_dict()
    return summary


def _write_model_files(folder: Path, result: EvaluationResult) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    pd.DataFrame([result.metrics]).to_csv(folder / "metrics.csv", index=False)
    pd.DataFrame(result.folds).to_csv(folder / "folds.csv", index=False)
    result.per_skill.to_csv(folder / "per_skill.csv", index=False)
    history = result.fits[0].history
    if history is not None:
        history.to_frame().to_csv(folder / "history.csv", index=False)
    for number, model in enumerate(result.models):
        model.save(folder / ("model" if len(result.models) == 1 else f"model_fold{number}"))


def _config_dict(config: Any) -> dict[str, Any]:
    """The settings a resumed run must share (where to checkpoint may differ)."""
    values = config.to_dict()
    if isinstance(getattr(config, "training", None), TrainingConfig):
        values["training"] = training_settings(config.training)
    return values


def _model_factory(
    model_class: type, config: Any, folder: Path, kfold: bool, resume: bool
) -> Callable[[], Any]:
    """Builds the model of each fit in turn, each checkpointing to its own file in ``folder``.

    Configs without a ``TrainingConfig`` (the baselines) are used as they are.
    """
    fits = itertools.count()  # evaluate() makes one model per fit, in fold order

    def make_model() -> Any:
        number = next(fits)
        training = getattr(config, "training", None)
        if not isinstance(training, TrainingConfig):
            return model_class(config)
        path = folder / (f"checkpoint_fold{number}.pt" if kfold else "checkpoint.pt")
        training = dataclasses.replace(
            training, checkpoint_path=str(path), resume=resume and path.is_file()
        )
        return model_class(dataclasses.replace(config, training=training))

    return make_model


def _start_run(out: Path, settings: dict[str, Any]) -> None:
    """Record the settings a run starts with (``run.json``)."""
    record = {"settings": settings, "torch_threads": torch.get_num_threads()}
    (out / RUN_FILE).write_text(json.dumps(record, indent=2))


def _check_resumable(out: Path, settings: dict[str, Any]) -> None:
    """Raise ``ResumeError`` unless ``out`` holds an unfinished run started with ``settings``."""
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
    protocol: ProtocolConfig,
    test: str | None = None,
    data_format: str = "auto",
    configs: dict[str, Any] | None = None,
    plan: FitPlan | None = None,
    progress: bool = False,
    extra: dict[str, Any] | None = None,
    resume: bool = False,
    teachers: list[str] | None = None,
    overwrite: bool = False,
) -> dict[str, Any]:
    """Fit and score each named model under a protocol and write its files.

    One model writes into ``out``; several write into ``out/<model>/`` plus
    ``comparison.csv`` and ``comparison.png``. Each model folder gets ``metrics.csv``,
    ``folds.csv``, ``per_skill.csv``, ``history.csv`` (models trained by epochs), the saved
    model(s) and, for models trained by ``kt.models.training.train``, the per-epoch loop
    checkpoint(s); ``out`` gets ``run.json`` at the start, ``calibration.png`` and
    ``summary.json`` at the end.

    Args:
        models: names in ``kt.models.registry.MODELS``.
        data: the log to read (for ``pykt``: ``train_valid.csv``).
        out: output folder.
        protocol: the evaluation protocol and its settings.
        test: a separate test log (``pykt``, or ``holdout`` with a given test set).
        data_format: reader format for both logs.
        configs: model name -> config (missing names use the model's default config).
        plan: the preparations of each fit (default ``FitPlan(seed=protocol.seed)``).
        progress: progress bars.
        extra: more plain values to record in ``summary.json``.
        resume: continue the unfinished run in ``out`` (same arguments as when it started):
            neural models from their last finished epoch, baselines refit.
        overwrite: delete what ``out`` holds first (without it, or ``resume``, a folder holding
            a run is refused: ``nets.claim_run_folder``).
        teachers: run folders of saved models whose mean prediction is the training target
            (``kt.experiments.distillation.load_teachers``; models that early-stop only). The
            summary adds ``teachers`` and ``teachers_test_auc`` (their mean prediction scored
            on this run's test students).

    Returns:
        The summary written to ``out/summary.json``.

    Raises:
        nets.RunFolderError: if ``out`` holds a run and neither ``resume`` nor ``overwrite`` is
            given, or ``resume`` finds no run.
        ResumeError: with ``resume``, if the run in ``out`` finished, or started with other
            settings (each differing setting is named).
        TeacherError: if a teacher run cannot teach this one (see ``load_teachers``).
        ValueError: for unknown models, or teachers for a model that cannot learn from them.
    """
    unknown = [name for name in models if name not in MODELS]
    if unknown or not models:
        raise ValueError(f"models must be names from {list(MODELS)}, got {models}")
    plan = plan if plan is not None else FitPlan(seed=protocol.seed)
    untaught = [name for name in models if not getattr(MODELS[name], "early_stopping", False)]
    if teachers and untaught:
        raise ValueError(f"teachers train neural models only; {untaught} cannot learn from them")
    configs = {name: (configs or {}).get(name) or MODELS[name]().config for name in models}
    out = Path(out)
    folders = {name: out if len(models) == 1 else out / name for name in models}
    settings = {
        "models": models,
        "data": str(data),
        "data_bytes": os.path.getsize(data) if os.path.isfile(data) else None,
        "test": str(test) if test else None,
        "test_bytes": os.path.getsize(test) if test and os.path.isfile(test) else None,
        "format": data_format,
        "protocol": protocol.to_dict(),
        "fit_plan": plan.to_dict(),
        "configs": {name: _config_dict(config) for name, config in configs.items()},
        "teachers": [str(run) for run in teachers or []],
    }
    settings = json.loads(json.dumps(settings))  # as read back from run.json
    teacher, teacher_records = None, None
    if teachers:
        device = getattr(configs[models[0]], "device", None)
        teacher, teacher_records = load_teachers(teachers, data, test, protocol, device)
    out = nets.claim_run_folder(out, resume, overwrite, (RUN_FILE, SUMMARY_FILE))
    if resume:
        _check_resumable(out, settings)
    else:
        _start_run(out, settings)
    table, report = read_log(data, format=data_format)
    test_table, test_report = read_log(test, format=data_format) if test else (None, None)
    summaries, predictions = {}, {}
    started = time.perf_counter()
    for name in models:
        folders[name].mkdir(parents=True, exist_ok=True)
        kfold = protocol.protocol == "kfold"
        make_model = _model_factory(MODELS[name], configs[name], folders[name], kfold, resume)
        result = evaluate(make_model, table, protocol, test_table, plan, teacher, progress)
        _write_model_files(folders[name], result)
        summaries[name] = _model_summary(name, result, configs[name])
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
        "protocol": protocol.protocol,
        "seed": protocol.seed,
        "protocol_settings": protocol.to_dict(),
        "fit_plan": plan.to_dict(),
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
        columns = ["model", "test_auc", "test_acc", "test_rmse", "test_log_loss"]
        columns += ["train_seconds", "predict_seconds"]
        comparison = pd.DataFrame(
            [{column: summaries[name].get(column) for column in columns} for name in models]
        )
        comparison.to_csv(out / "comparison.csv", index=False)
        plot_model_comparison(comparison, out / "comparison.png")
        summary = {
            "model": "all" if set(models) == set(MODELS) else ",".join(models),
            "models": summaries,
            **common,
        }
    (out / SUMMARY_FILE).write_text(json.dumps(summary, indent=2, default=float))
    return summary


def evaluate_saved(
    run: str | os.PathLike,
    data: str,
    out: str | os.PathLike,
    data_format: str = "auto",
    pykt_windows: bool = False,
) -> dict[str, Any]:
    """Score a model saved by ``train_and_report`` on another log.

    Args:
        run: the folder ``train_and_report`` wrote for one model (holds ``summary.json`` and
            ``model/``).
        data: the log to score (every attempt of every student).
        out: output folder: ``summary.json``, ``metrics.csv``, ``per_skill.csv``,
            ``calibration.png``.
        data_format: reader format.
        pykt_windows: score as pyKT does (``kt.data.splits.pykt_test_windows``: windows of 200
            from an empty state, no window's first row); the summary's ``scoring`` says which.

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
