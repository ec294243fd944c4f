"""Metrics for predicted p(correct): AUC, accuracy, RMSE, log-loss, calibration.

AUC is the Mann-Whitney statistic computed from average ranks (tied predictions
count one half), in numpy only. Accuracy thresholds at 0.5 (p >= 0.5 predicts
correct, as pyKT does). Log-loss clips p to [1e-15, 1 - 1e-15] so a confident
mistake costs about 34.5 nats instead of infinity. Metrics are computed on the
predictions as given, never on rounded ones.

Example:
    >>> binary_metrics([0, 1, 1, 0], [0.2, 0.8, 0.5, 0.5])["auc"]
    0.875
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from riley_gym.kt.data.attempts import history_length
from riley_gym.kt.data.table import PREDICTION_COLUMN

__all__ = [
    "answer_log_losses",
    "binary_metrics",
    "auc_score",
    "evaluate_predictions",
    "per_skill_metrics",
    "calibration_curve",
]

LOG_LOSS_EPS = 1e-15


def _check(correct: Sequence, p: Sequence, where: str) -> tuple[np.ndarray, np.ndarray]:
    correct = np.asarray(correct)
    p = np.asarray(p, dtype=np.float64)
    if correct.ndim != 1 or p.ndim != 1:
        raise ValueError(
            f"{where}: correct and p must be 1-d, got shapes {correct.shape}, {p.shape}"
        )
    if len(correct) != len(p):
        raise ValueError(f"{where}: length mismatch: {len(correct)} answers, {len(p)} predictions")
    if len(p) == 0:
        raise ValueError(f"{where}: no predictions")
    if not np.issubdtype(correct.dtype, np.number) and correct.dtype != bool:
        raise ValueError(f"{where}: correct must be numeric 0/1, got dtype {correct.dtype}")
    bad = ~np.isin(correct, (0, 1))
    if bad.any():
        index = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"{where}: correct must be 0 or 1; index {index} has {correct.tolist()[index]!r}"
        )
    bad = ~np.isfinite(p) | (p < 0.0) | (p > 1.0)
    if bad.any():
        index = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"{where}: predictions must be finite and in [0, 1]; index {index} has "
            f"{p.tolist()[index]!r}"
        )
    return correct.astype(np.int64), p


def _average_ranks(values: np.ndarray) -> np.ndarray:
    """Ranks 1..n with ties given the mean of their ranks, shape ``(n,)``."""
    order = np.argsort(values, kind="mergesort")
    sorted_values = values[order]
    change = np.empty(len(values) + 1, dtype=bool)
    change[0] = change[-1] = True
    change[1:-1] = sorted_values[1:] != sorted_values[:-1]
    boundaries = np.flatnonzero(change)
    starts, ends = boundaries[:-1], boundaries[1:]  # tie group i covers [starts[i], ends[i])
    ranks = np.empty(len(values), dtype=np.float64)
    ranks[order] = np.repeat((starts + 1 + ends) / 2.0, ends - starts)
    return ranks


def auc_score(correct: Sequence, p: Sequence) -> float:
    """Area under the ROC curve: P(p of a random correct > p of a random wrong), ties 1/2.

    Args:
        correct: 0/1 answers, shape ``(n,)``.
        p: Predicted p(correct), shape ``(n,)``.

    Returns:
        The AUC in [0, 1].

    Raises:
        ValueError: Bad values (see ``binary_metrics``) or a single class.
    """
    correct, p = _check(correct, p, "auc_score")
    n_positive = int(correct.sum())
    n_negative = len(correct) - n_positive
    if n_positive == 0 or n_negative == 0:
        raise ValueError(
            f"auc_score: AUC needs both classes; got {n_positive} correct and {n_negative} wrong"
        )
    ranks = _average_ranks(p)
    u_statistic = ranks[correct == 1].sum() - n_positive * (n_positive + 1) / 2.0
    return float(u_statistic / (n_positive * n_negative))


def answer_log_losses(correct: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Log-loss of each answer (any shape), p clipped to [LOG_LOSS_EPS, 1 - LOG_LOSS_EPS];
    inputs already checked."""
    clipped = np.clip(np.asarray(p, dtype=np.float64), LOG_LOSS_EPS, 1.0 - LOG_LOSS_EPS)
    return -np.where(np.asarray(correct) == 1, np.log(clipped), np.log1p(-clipped))


def binary_metrics(correct: Sequence, p: Sequence) -> dict[str, float]:
    """AUC, accuracy, RMSE and log-loss of predictions against 0/1 answers.

    Args:
        correct: 0/1 answers, shape ``(n,)``.
        p: Predicted p(correct), shape ``(n,)``, each in [0, 1].

    Returns:
        ``{"auc", "acc", "rmse", "log_loss", "n"}``.

    Raises:
        ValueError: Length mismatch, no predictions, NaN or values outside [0, 1],
            answers other than 0/1, or only one class present (AUC undefined).
    """
    correct, p = _check(correct, p, "binary_metrics")
    log_loss = answer_log_losses(correct, p).mean()
    return {
        "auc": auc_score(correct, p),
        "acc": float(np.mean((p >= 0.5) == (correct == 1))),
        "rmse": float(np.sqrt(np.mean((p - correct) ** 2))),
        "log_loss": float(log_loss),
        "n": int(len(p)),
    }


def _prediction_columns(pred_table: pd.DataFrame, where: str) -> None:
    if not isinstance(pred_table, pd.DataFrame):
        raise TypeError(f"{where}: expected a DataFrame, got {type(pred_table).__name__}")
    missing = [c for c in ("correct", PREDICTION_COLUMN) if c not in pred_table.columns]
    if missing:
        raise ValueError(
            f"{where}: table lacks column(s) {missing} (use a model's predict() output); "
            f"it has {list(pred_table.columns)}"
        )


def evaluate_predictions(
    pred_table: pd.DataFrame, skip_first_attempt: bool = False
) -> dict[str, float]:
    """Overall metrics of a prediction table (a model's ``predict`` output).

    Args:
        pred_table: Table with ``correct`` and ``p_correct`` (and ``user_id``).
        skip_first_attempt: Score only attempts with some history, leaving out each
            student's first attempt (all its rows). pyKT and the DKT paper's code score
            next-step predictions, so the first answer of a sequence is never scored
            there; the default scores every attempt.

    Returns:
        ``binary_metrics`` plus ``n_students`` when ``user_id`` is present.
    """
    _prediction_columns(pred_table, "evaluate_predictions")
    if skip_first_attempt:
        pred_table = pred_table[history_length(pred_table) > 0]
    result = binary_metrics(
        pred_table["correct"].to_numpy(), pred_table[PREDICTION_COLUMN].to_numpy()
    )
    if "user_id" in pred_table.columns:
        result["n_students"] = int(pred_table["user_id"].nunique())
    return result


def per_skill_metrics(pred_table: pd.DataFrame) -> pd.DataFrame:
    """Metrics per skill; AUC is NaN for a skill whose answers are all one class.

    Args:
        pred_table: Table with ``skill_id``, ``correct`` and ``p_correct``.

    Returns:
        DataFrame with one row per skill (sorted by ``skill_id``) and columns
        ``skill_id, n, mean_correct, mean_p, auc, acc, rmse, log_loss``.
    """
    _prediction_columns(pred_table, "per_skill_metrics")
    if "skill_id" not in pred_table.columns:
        raise ValueError("per_skill_metrics: table lacks column 'skill_id'")
    _check(
        pred_table["correct"].to_numpy(),
        pred_table[PREDICTION_COLUMN].to_numpy(),
        "per_skill_metrics",
    )
    rows = []
    for skill, group in pred_table.groupby("skill_id", sort=True):
        correct = group["correct"].to_numpy().astype(np.int64)
        p = group[PREDICTION_COLUMN].to_numpy().astype(np.float64)
        both = 0 < correct.sum() < len(correct)
        rows.append(
            {
                "skill_id": skill,
                "n": len(p),
                "mean_correct": float(correct.mean()),
                "mean_p": float(p.mean()),
                "auc": auc_score(correct, p) if both else float("nan"),
                "acc": float(np.mean((p >= 0.5) == (correct == 1))),
                "rmse": float(np.sqrt(np.mean((p - correct) ** 2))),
                "log_loss": float(answer_log_losses(correct, p).mean()),
            }
        )
    return pd.DataFrame(
        rows, columns=["skill_id", "n", "mean_correct", "mean_p", "auc", "acc", "rmse", "log_loss"]
    )


def calibration_curve(correct: Sequence, p: Sequence, n_bins: int = 10) -> pd.DataFrame:
    """Reliability table: predictions binned uniformly on [0, 1].

    Args:
        correct: 0/1 answers, shape ``(n,)``.
        p: Predicted p(correct), shape ``(n,)``.
        n_bins: Number of equal-width bins (p = 1 falls in the last bin).

    Returns:
        DataFrame with ``n_bins`` rows and columns ``bin_lower, bin_upper, n, mean_p,
        frac_correct`` (NaN means for empty bins).
    """
    if isinstance(n_bins, bool) or not isinstance(n_bins, (int, np.integer)) or n_bins < 1:
        raise ValueError(f"calibration_curve: n_bins must be a positive integer, got {n_bins!r}")
    correct, p = _check(correct, p, "calibration_curve")
    bins = np.minimum((p * n_bins).astype(np.int64), n_bins - 1)  # (n,)
    counts = np.bincount(bins, minlength=n_bins)
    sum_p = np.bincount(bins, weights=p, minlength=n_bins)
    sum_correct = np.bincount(bins, weights=correct, minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_p = np.where(counts > 0, sum_p / counts, np.nan)
        frac_correct = np.where(counts > 0, sum_correct / counts, np.nan)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    return pd.DataFrame(
        {
            "bin_lower": edges[:-1],
            "bin_upper": edges[1:],
            "n": counts.astype(np.int64),
            "mean_p": mean_p,
            "frac_correct": frac_correct,
        }
    )
