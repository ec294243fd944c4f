"""The yardsticks for knowledge tracers on the synthetic logs: the Bayes predictor that made them.

``run_yardstick`` is what ``scripts/synthetic_oracle.py`` calls. Under the DKT paper's split
(first half of the students to fit, second half to test) it scores the Bayes predictor of the
item-response model that generated Synthetic-5 (``kt.experiments.irt_oracle``), either knowing
every exercise's hidden concept and difficulty (``structure="given"``, from the ``_info.txt``
file) or learning them from the first half's answers (``structure="learned"``). With saved
models to compare (``train_kt.py`` run folders on the same log), each model's log-loss minus
the predictor's is broken down by concept depth (earlier answers on the same concept) on both
halves: below the predictor on the training half and above it on the test half is overfitting.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from riley_gym.kt.data import read_matrix
from riley_gym.kt.data.metrics import binary_metrics
from riley_gym.kt.experiments.irt_oracle import (
    fit_oracle,
    learn_structure,
    log_loss_by_concept_depth,
    oracle_predictions,
    read_exercise_info,
)
from riley_gym.kt.experiments.plots import plot_loss_gap_by_depth
from riley_gym.kt.experiments.saved_runs import load_saved

__all__ = ["run_yardstick", "same_partition_fraction", "compare_by_depth"]


def same_partition_fraction(a: np.ndarray, b: np.ndarray) -> float:
    """Fraction of exercise pairs both labelings put together or both apart (1.0: same concepts)."""
    upper = np.triu_indices(len(a), k=1)
    return float(np.mean((a[:, None] == a[None, :])[upper] == (b[:, None] == b[None, :])[upper]))


def compare_by_depth(
    models: dict, table, matrix, half: int, concept: np.ndarray, reference: dict[str, np.ndarray]
) -> dict:
    """Each model's log-loss and AUC on both halves; its log-loss minus the reference's by depth.

    Args:
        models: run folder -> fitted model.
        table: the whole log; matrix: its (students, exercises) pivot, whose first ``half`` rows
            trained.
        reference: {"train": (half, m), "test": (n - half, m)} the predictor's probabilities.
    """
    responses = matrix.to_numpy(dtype=np.int64)
    halves = {"train": slice(0, half), "test": slice(half, None)}
    reference_by_depth = {
        h: log_loss_by_concept_depth(responses[rows], reference[h], concept)
        for h, rows in halves.items()
    }
    reference_loss = {
        h: binary_metrics(responses[rows].ravel(), reference[h].ravel())["log_loss"]
        for h, rows in halves.items()
    }
    report = {}
    for run, model in models.items():
        predicted = model.predict(table).pivot(
            index="user_id", columns="item_id", values="p_correct"
        )
        predicted = predicted.reindex(index=matrix.index, columns=matrix.columns).to_numpy(
            dtype=np.float64
        )  # (n, m)
        if np.isnan(predicted).any():
            raise ValueError(
                f"{run}: the model left {int(np.isnan(predicted).sum())} answers unpredicted"
            )
        entry = {}
        for h, rows in halves.items():
            metrics = binary_metrics(responses[rows].ravel(), predicted[rows].ravel())
            gap = (
                log_loss_by_concept_depth(responses[rows], predicted[rows], concept)
                - reference_by_depth[h]
            )
            entry.update(
                {
                    f"{h}_auc": metrics["auc"],
                    f"{h}_log_loss": metrics["log_loss"],
                    f"{h}_reference_log_loss": reference_loss[h],
                    f"{h}_gap_by_depth": gap.round(5).tolist(),
                }
            )
        report[run] = entry
    return report


def _structure(responses: np.ndarray, structure: str, truth, info: Path, concepts, max_concepts):
    """(concept, difficulty, fitted population parameters, report) of the predictor."""
    if structure == "given":
        concept, difficulty = truth
        fitted = fit_oracle(responses, concept, difficulty)
        return concept, difficulty, fitted, {"fitted": fitted, "info": str(info)}
    learned = learn_structure(responses, concepts, max_concepts)
    concept, difficulty = learned["concept"], learned["difficulty"]
    fitted = {key: learned[key] for key in ("guess", "ability_sd", "gain", "log_likelihood")}
    report = {
        "fitted": fitted,
        "n_concepts": learned["n_concepts"],
        "held_out_log_likelihood": learned["held_out_log_likelihood"],
        "concept": concept.tolist(),
        "difficulty": difficulty.round(4).tolist(),
    }
    if truth is not None:
        report["recovery"] = {
            "info": str(info),
            "same_partition_fraction": same_partition_fraction(concept, truth[0]),
            "difficulty_correlation": float(np.corrcoef(difficulty, truth[1])[0, 1]),
        }
    return concept, difficulty, fitted, report


def run_yardstick(
    data: str | Path,
    out: str | Path | None = None,
    structure: str = "given",
    info: str | Path | None = None,
    concepts: int | None = None,
    max_concepts: int = 10,
    compare: list[str] | tuple[str, ...] = (),
) -> dict[str, Any]:
    """Score the Bayes predictor on a response-matrix log and write ``out/summary.json``.

    Args:
        data: a response matrix (``naive_c5_q50_s4000_vN.csv``).
        out: output folder (default ``runs/oracle-<structure>-<data name>``).
        structure: "given" (concepts and difficulties from ``info``) or "learned".
        info: the exercise file (default: the data path with ``_info.txt``).
        concepts: learned structure: the number of concepts (None: chosen from 1..max_concepts).
        max_concepts: learned structure: most concepts tried.
        compare: ``train_kt.py`` run folders whose models are compared by concept depth
            (``summary["compare"]``, ``out/loss_by_depth.png``).

    Returns:
        The summary written.

    Raises:
        ValueError: for a missing info file with the given structure, a log where some student
            misses an exercise, a run that is not a saved model, or a model that leaves
            answers unpredicted.
    """
    data = Path(data)
    info = Path(info) if info else data.with_name(data.stem + "_info.txt")
    if structure not in ("given", "learned"):
        raise ValueError(f"--structure must be given or learned, got {structure!r}")
    if structure == "given" and not info.is_file():
        raise ValueError(
            f"no exercise file {info}: the given structure needs each exercise's concept and "
            "difficulty (--info), or use --structure learned"
        )
    if concepts is not None and concepts < 1:
        raise ValueError(f"--concepts must be >= 1, got {concepts}")
    models = {}
    for run in compare:
        try:
            models[run] = load_saved(run)[1]
        except ValueError as error:
            raise ValueError(f"--compare: {error}") from error
    table, _ = read_matrix(data)
    matrix = table.pivot(index="user_id", columns="item_id", values="correct")  # (students, m)
    if matrix.isna().any().any():
        raise ValueError(
            f"{data}: the oracle needs every student to answer every exercise; some are missing"
        )
    responses = matrix.to_numpy(dtype=np.int64)
    truth = read_exercise_info(info, responses.shape[1]) if info.is_file() else None
    half = responses.shape[0] // 2
    started = time.perf_counter()
    try:
        concept, difficulty, fitted, report = _structure(
            responses[:half], structure, truth, info, concepts, max_concepts
        )
    except ValueError as error:
        raise ValueError(f"{data}: {error}") from error
    population = (fitted["guess"], fitted["ability_sd"], fitted["gain"])
    predictions, _ = oracle_predictions(responses[half:], concept, difficulty, *population)
    metrics = binary_metrics(responses[half:].ravel(), predictions.ravel())
    summary = {
        "model": f"irt-oracle-{structure}",
        "data": str(data),
        "protocol": "dkt-synthetic",
        "n_train_students": half,
        "n_test_students": responses.shape[0] - half,
        **{f"test_{key}": value for key, value in metrics.items()},
        **report,
        "seconds": time.perf_counter() - started,
    }
    out = Path(out or f"runs/oracle-{structure}-{data.stem}")
    out.mkdir(parents=True, exist_ok=True)
    if models:
        train_predictions, _ = oracle_predictions(
            responses[:half], concept, difficulty, *population
        )
        reference = {"train": train_predictions, "test": predictions}
        try:
            summary["compare"] = compare_by_depth(models, table, matrix, half, concept, reference)
        except ValueError as error:
            raise ValueError(f"--compare: {error}") from error
        gaps = {
            run: {part: entry[f"{part}_gap_by_depth"] for part in ("train", "test")}
            for run, entry in summary["compare"].items()
        }
        reference_name = f"{structure}-structure predictor"
        plot_loss_gap_by_depth(gaps, out / "loss_by_depth.png", reference=reference_name)
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    summary["out"] = str(out)
    return summary
