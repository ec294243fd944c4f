"""Settings sweeps of a knowledge tracer on Ray Tune, with ASHA early stopping on validation AUC.

``run_sweep`` samples ``SweepSettings.trials`` settings from a ``SearchSpace`` (its
``start_from`` points first), trains each as ``train_kt.py`` would (``train_and_report`` into
``OUT/trials/<trial id>/``, one torch thread, the sweep's seed), and reports the validation
AUC after every epoch (``kt.models.training.epoch_listener``) to an ASHA scheduler, which stops
the trials that trail at its rungs. A trial that ASHA lets finish is also scored on the test
log; the best trial is chosen by validation AUC alone.

A killed sweep continues with ``resume=True``: Ray Tune restores its experiment state from
``OUT/tune/`` and restarts the unfinished trials, and each of those continues from its last
finished epoch (the run folder's checkpoint), so no epoch is trained twice.

Writes ``OUT/summary.json`` (every trial's settings, epochs, best validation AUC, status, and
the best trial with the ``train_kt.py`` command that reruns it), ``trials.csv``, ``sweep.md``
(the table) and ``sweep.png`` (validation AUC by epoch, one line per trial).
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from riley_gym import nets
from riley_gym.kt.experiments.fanout import start_ray
from riley_gym.kt.experiments.plots import plot_sweep
from riley_gym.kt.experiments.runs import ResumeError, evaluate_saved, train_and_report
from riley_gym.kt.experiments.saved_runs import RUN_FILE, SUMMARY_FILE
from riley_gym.kt.experiments.search_space import SearchSpace
from riley_gym.kt.models.training import epoch_listener

__all__ = ["SweepSettings", "run_sweep", "sweep_table"]

METRIC = "valid_auc"
TUNE_FOLDER = "tune"  # Ray Tune's experiment state, under the sweep's folder
TRIALS_FOLDER = "trials"  # one train_kt.py run folder per trial


@dataclass(frozen=True)
class SweepSettings(nets.Settings):
    """How many trials, how many at once, and how hard ASHA prunes."""

    trials: int = field(default=16, metadata={"help": "settings to try (start points included)"})
    concurrent: int = field(default=0, metadata={"help": "trials at once (0: one per CPU Ray has)"})
    grace_period: int = field(
        default=3, metadata={"help": "epochs every trial trains before ASHA may stop it"}
    )
    reduction_factor: int = field(
        default=3, metadata={"help": "ASHA keeps the best 1/this of the trials at each rung"}
    )
    seed: int = field(
        default=0, metadata={"help": "seed of the sampling and of every trial's training"}
    )

    def __post_init__(self) -> None:
        self.check_at_least(["trials", "grace_period"], 1)
        self.check_at_least(["concurrent", "seed"], 0)
        self.check_at_least(["reduction_factor"], 2)


def _numbers(record: dict[str, Any]) -> dict[str, float]:
    return {
        key: float(value)
        for key, value in record.items()
        if isinstance(value, (int, float)) and not isinstance(value, bool)
    }


def run_trial(
    config: dict[str, Any],
    space: SearchSpace,
    data: str,
    test: str | None,
    data_format: str,
    seed: int,
    trials_dir: str,
) -> None:
    """One Ray Tune trial: ``train_and_report`` with the trial's settings, each epoch reported.

    A trial restarted by a resumed sweep continues its run folder from its last checkpoint.
    """
    from ray import tune  # optional: the distributed extra

    trial_dir = Path(trials_dir) / tune.get_context().get_trial_id()
    torch.set_num_threads(1)
    if (trial_dir / SUMMARY_FILE).is_file():
        # Finished before the sweep was killed, but Ray had not recorded it: report its end.
        history = pd.read_csv(trial_dir / "history.csv")
        tune.report(_numbers(history.iloc[-1].to_dict()))
        return
    protocol, plan, configs = space.settings(config, seed)
    with epoch_listener(lambda record: tune.report(_numbers(record))):
        train_and_report(
            [space.model], data, trial_dir, protocol, test=test, data_format=data_format,
            configs=configs, plan=plan, resume=(trial_dir / RUN_FILE).is_file(),
            extra={"threads": 1, "sweep_trial": trial_dir.name, "sweep_values": config},
        )  # fmt: skip


def _tuner(space, trainable, settings, out, cpus):
    from ray import tune  # optional: the distributed extra
    from ray.tune.schedulers import ASHAScheduler
    from ray.tune.search import BasicVariantGenerator

    # ASHA stops a trial when its epoch reaches max_t; one more than the last epoch lets a
    # trial that ASHA keeps finish its run (test scoring, summary) instead.
    scheduler = ASHAScheduler(
        time_attr="epoch",
        max_t=space.max_epochs() + 1,
        grace_period=settings.grace_period,
        reduction_factor=settings.reduction_factor,
    )
    search = BasicVariantGenerator(points_to_evaluate=space.start_from, random_state=settings.seed)
    return tune.Tuner(
        trainable,
        param_space=space.ray_param_space(),
        tune_config=tune.TuneConfig(
            metric=METRIC,
            mode="max",
            num_samples=settings.trials,
            search_alg=search,
            scheduler=scheduler,
            max_concurrent_trials=settings.concurrent or cpus,
        ),
        run_config=tune.RunConfig(name=TUNE_FOLDER, storage_path=str(out.resolve()), verbose=1),
    )


def _trial_row(result: Any, space: SearchSpace, trials_dir: Path) -> dict[str, Any]:
    trial_id = result.metrics.get("trial_id") if result.metrics else None
    if not trial_id:  # it never reported: its id is in its folder's name, run_trial_<id>_...
        trial_id = "_".join(Path(result.path).name.split("_")[2:4])
    values = {name: result.config.get(name) for name in space.search}
    curve = result.metrics_dataframe
    reported = curve is not None and METRIC in curve
    run_dir = trials_dir / trial_id
    finished = (run_dir / SUMMARY_FILE).is_file()
    status = "error" if result.error else ("finished" if finished else "stopped by ASHA")
    row = {
        "trial": trial_id,
        **values,
        "start_point": any(
            all(values.get(name) == value for name, value in point.items())
            for point in space.start_from
        ),
        "status": status,
        "epochs": int(curve["epoch"].max()) if reported else 0,
        "best_valid_auc": float(curve[METRIC].max()) if reported else float("nan"),
        "test_auc": float("nan"),
        "error": str(result.error).splitlines()[0] if result.error else None,
        "curve": curve[["epoch", METRIC]].values.tolist() if reported else [],
    }
    if finished:
        summary = json.loads((run_dir / SUMMARY_FILE).read_text())
        row.update(test_auc=summary["test_auc"], best_epoch=summary.get("best_epoch"))
    return row


def sweep_table(trials: list[dict[str, Any]], names: list[str]) -> str:
    """The trials as a markdown table, best validation AUC first."""
    windows = any("test_auc_pykt_windows" in row for row in trials)
    columns = ["trial", *names, "status", "epochs", "best valid AUC", "test AUC"]
    columns += ["test AUC (pyKT windows)"] if windows else []
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    ordered = sorted(trials, key=lambda row: -_or_minus_one(row["best_valid_auc"]))
    for row in ordered:
        values = [_cell(row[name]) for name in names]
        mark = " (start point)" if row["start_point"] else ""
        cells = [row["trial"] + mark, *values, row["status"], str(row["epochs"])]
        cells += [_cell(row["best_valid_auc"]), _cell(row["test_auc"])]
        cells += [_cell(row.get("test_auc_pykt_windows", float("nan")))] if windows else []
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _or_minus_one(value: float) -> float:
    return -1.0 if value != value else value  # NaN (no epoch reported) sorts last


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return "" if value != value else (f"{value:.4f}" if abs(value) >= 0.01 else f"{value:.3g}")
    return str(value)


def run_sweep(
    space: SearchSpace,
    data: str,
    out: str | os.PathLike,
    settings: SweepSettings,
    test: str | None = None,
    data_format: str = "auto",
    ray_address: str = "local",
    num_cpus: int | None = None,
    resume: bool = False,
    overwrite: bool = False,
    pykt_windows: bool = False,
) -> dict[str, Any]:
    """Sweep ``space`` on ``data`` with Ray Tune and ASHA; write and return the summary.

    Args:
        space: the checked search space (``load_search_space``).
        data: the training log (``pykt`` protocol: ``train_valid.csv``).
        out: the sweep's folder.
        settings: trials, concurrency, ASHA's rungs and the seed.
        test: the separate test log, if the protocol takes one.
        data_format: reader format of both logs.
        ray_address: ``"local"`` starts a Ray here with ``num_cpus``; another string connects
            to that cluster. A Ray already initialised in this process is used as it is.
        num_cpus: CPUs of a local Ray (None: all of this machine's).
        resume: continue the killed sweep in ``out`` (same space and settings).
        overwrite: delete what ``out`` holds first.
        pykt_windows: also score the best trial and the finished start points on ``test`` as
            pyKT does (``evaluate_saved(..., pykt_windows=True)``; ``test_auc_pykt_windows``).

    Raises:
        ValueError: fewer trials than start points, or ``pykt_windows`` without ``test``.
        nets.RunFolderError: if ``out`` holds a sweep and neither ``resume`` nor ``overwrite``
            is given, or ``resume`` finds none.
        ResumeError: if a resumed sweep was started with another space or other settings.
    """
    import ray  # optional: the distributed extra
    from ray import tune

    if pykt_windows and not test:
        raise ValueError("pykt_windows scores on the test log: give test")
    if settings.trials < len(space.start_from):
        raise ValueError(
            f"--trials {settings.trials} is fewer than the {len(space.start_from)} start_from "
            f"points of {space.source}: every start point is a trial"
        )
    out = nets.claim_run_folder(out, resume, overwrite, (TUNE_FOLDER, SUMMARY_FILE))
    record = {
        "space": dataclasses.asdict(space),
        "settings": settings.to_dict(),
        "data": str(data),
        "test": test,
        "format": data_format,
    }
    record = json.loads(json.dumps(record))
    record_file = out / "sweep.json"
    if resume:
        started_with = json.loads(record_file.read_text())
        if started_with != record:
            changed = sorted(key for key in record if record[key] != started_with.get(key))
            raise ResumeError(
                f"cannot resume the sweep in {out}: {', '.join(changed)} differ from the "
                "sweep it holds; give the same space file and flags, or another --out"
            )
        if not any((out / TUNE_FOLDER).glob("experiment_state*.json")):
            raise ResumeError(
                f"cannot resume the sweep in {out}: it was killed before Ray Tune saved its "
                "state; start it again with --overwrite"
            )
        (out / SUMMARY_FILE).unlink(missing_ok=True)
    else:
        record_file.write_text(json.dumps(record, indent=2))
    trials_dir = (out / TRIALS_FOLDER).resolve()
    trainable = functools.partial(
        run_trial, space=space, data=str(Path(data).resolve()),
        test=str(Path(test).resolve()) if test else None, data_format=data_format,
        seed=settings.seed, trials_dir=str(trials_dir),
    )  # fmt: skip
    started_here = start_ray(ray_address, num_cpus)
    started = time.perf_counter()
    try:
        cpus = int(ray.cluster_resources().get("CPU", 1))
        trainable = tune.with_resources(trainable, {"cpu": 1})
        if resume:
            tuner = tune.Tuner.restore(
                str((out / TUNE_FOLDER).resolve()), trainable, resume_errored=True
            )
        else:
            tuner = _tuner(space, trainable, settings, out, cpus)
        results = tuner.fit()
    finally:
        if started_here:
            ray.shutdown()
    trials = sorted(
        (_trial_row(result, space, trials_dir) for result in results), key=lambda r: r["trial"]
    )
    finished = [row for row in trials if row["status"] == "finished"]
    best = max(finished, key=lambda row: row["best_valid_auc"], default=None)
    if pykt_windows:
        for row in finished:
            if row is best or row["start_point"]:
                run = trials_dir / row["trial"]
                scored = evaluate_saved(run, test, run / "evaluate-test", data_format, True)
                row["test_auc_pykt_windows"] = scored["test_auc"]
    return _write_summary(out, space, settings, trials, best, data, test, started, cpus)


def _write_summary(out, space, settings, trials, best, data, test, started, cpus):
    """summary.json, trials.csv, sweep.md and sweep.png of a finished sweep."""
    names = list(space.search)
    summary: dict[str, Any] = {
        "model": space.model,
        "space_file": space.source,
        "data": str(data),
        "test": test,
        "settings": settings.to_dict(),
        "chosen_by": "best validation AUC among the trials ASHA let finish; test AUC not used",
        "trials": trials,
        "n_finished": sum(row["status"] == "finished" for row in trials),
        "n_stopped": sum(row["status"] == "stopped by ASHA" for row in trials),
        "n_errors": sum(row["status"] == "error" for row in trials),
        "epochs_trained": sum(row["epochs"] for row in trials),
        "wall_seconds": time.perf_counter() - started,
        "ray_cpus": cpus,
        "load_average": os.getloadavg(),
        "best": None,
    }
    if best is not None:
        values = {name: best[name] for name in names}
        summary["best"] = {
            **{key: best[key] for key in ("trial", "best_valid_auc", "test_auc", "epochs")},
            "test_auc_pykt_windows": best.get("test_auc_pykt_windows"),
            "values": values,
            "command": space.command(values, str(data), test, settings.seed),
            "run": str(out / TRIALS_FOLDER / best["trial"]),
        }
    frame = pd.DataFrame([{k: v for k, v in row.items() if k != "curve"} for row in trials])
    frame.to_csv(out / "trials.csv", index=False)
    (out / "sweep.md").write_text(sweep_table(trials, names))
    plot_sweep(trials, best["trial"] if best else None, out / "sweep.png")
    (out / SUMMARY_FILE).write_text(json.dumps(summary, indent=2, default=float))
    return summary
