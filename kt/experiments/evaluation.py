"""Run an evaluation protocol end to end: split, prepare and fit, predict every test attempt, score.

The protocols and their splits are ``kt.data.protocols``; the preparations of each fit
(hold-out, mixtures, teacher targets, refit) are ``kt.experiments.fitting``. Every model is
handled alike through the ``KnowledgeTracer`` protocol: fitted, then ``predict(test)``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable

import pandas as pd

from riley_gym.kt.data.metrics import evaluate_predictions, per_skill_metrics
from riley_gym.kt.data.protocols import ProtocolConfig, protocol_splits
from riley_gym.kt.experiments.fitting import FitOutcome, FitPlan, Teacher, fit_prepared
from riley_gym.kt.models.protocol import KnowledgeTracer


@dataclass
class EvaluationResult:
    """What a protocol run produced.

    Attributes:
        protocol: the protocol's name.
        metrics: overall test metrics (``auc``, ``acc``, ``rmse``, ``log_loss``,
            ``n``, ``n_students``).
        metrics_after_first: the same leaving out each student's first attempt (pyKT's and the
            DKT paper code's convention: only next-step predictions are scored).
        per_skill: one row per test skill (``kt.data.metrics.per_skill_metrics``).
        predictions: the test rows with ``p_correct`` (and ``fold`` for k-fold).
        fits: the prepared fits (one per fold for k-fold); ``fits[i].model`` is the fitted model.
        n_train_students: students in the (first) training part, validation excluded.
        n_test_students: students scored.
        train_seconds: wall seconds of fitting, summed over folds.
        predict_seconds: wall seconds of predicting, summed over folds.
        folds: per-fold metrics (k-fold; one entry otherwise).
    """

    protocol: str
    metrics: dict[str, float]
    metrics_after_first: dict[str, float]
    per_skill: pd.DataFrame
    predictions: pd.DataFrame
    fits: list[FitOutcome]
    n_train_students: int
    n_test_students: int
    train_seconds: float
    predict_seconds: float
    folds: list[dict[str, float]] = field(default_factory=list)

    @property
    def models(self) -> list[Any]:
        """The fitted models, one per fit."""
        return [fit.model for fit in self.fits]

    def summary(self) -> dict[str, Any]:
        """Headline figures as plain values, with the names ``summary.json`` uses."""
        return {
            "protocol": self.protocol,
            **{f"test_{name}": value for name, value in self.metrics.items()},
            "test_auc_after_first_attempt": self.metrics_after_first["auc"],
            "n_train_students": self.n_train_students,
            "n_test_students": self.n_test_students,
            "train_seconds": self.train_seconds,
            "predict_seconds": self.predict_seconds,
        }


def evaluate(
    make_model: Callable[[], KnowledgeTracer],
    table: pd.DataFrame,
    protocol: ProtocolConfig,
    test: pd.DataFrame | None = None,
    plan: FitPlan | None = None,
    teacher: Teacher | None = None,
    progress: bool = False,
) -> EvaluationResult:
    """Fit fresh models under a protocol and score every test attempt exactly once.

    Args:
        make_model: builds an unfitted model (called once per fold).
        table: canonical interactions (for ``pykt``: ``train_valid.csv``).
        protocol: the protocol and its settings.
        test: a separate test table (see ``kt.data.protocols.protocol_splits``).
        plan: the preparations of each fit (default ``FitPlan()``).
        teacher: soft training targets (see ``kt.experiments.fitting``).
        progress: progress bars while fitting.

    Returns:
        The ``EvaluationResult``.
    """
    plan = plan if plan is not None else FitPlan(seed=protocol.seed)
    parts = protocol_splits(table, protocol, test)
    predictions, fits, folds = [], [], []
    train_seconds = predict_seconds = 0.0
    for number, (train, valid, held_out) in enumerate(parts):
        started = time.perf_counter()
        fit = fit_prepared(make_model(), train, valid, plan, teacher, progress=progress)
        train_seconds += time.perf_counter() - started
        started = time.perf_counter()
        predicted = fit.model.predict(held_out)
        predict_seconds += time.perf_counter() - started
        if protocol.protocol == "kfold":
            predicted["fold"] = number
        folds.append({"fold": number, **evaluate_predictions(predicted)})
        predictions.append(predicted)
        fits.append(fit)
    pooled = pd.concat(predictions, ignore_index=True) if len(predictions) > 1 else predictions[0]
    kfold = protocol.protocol == "kfold"
    return EvaluationResult(
        protocol=protocol.protocol,
        metrics=evaluate_predictions(pooled),
        metrics_after_first=evaluate_predictions(pooled, skip_first_attempt=True),
        per_skill=per_skill_metrics(pooled),
        predictions=pooled,
        fits=fits,
        n_train_students=int(parts[0][0]["user_id"].nunique()),
        n_test_students=int((table if kfold else pooled)["user_id"].nunique()),
        train_seconds=train_seconds,
        predict_seconds=predict_seconds,
        folds=folds,
    )
