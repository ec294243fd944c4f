"""Run an evaluation protocol end to end: split, fit, predict every test attempt, score.

Protocols (all split by student, so a student's rows never straddle train and test):

- ``holdout``: a random ``test_fraction`` of students is the test set (or the given
  ``test`` table, when there is one).
- ``kfold``: k folds of students; each is predicted by a model fitted on the others and
  the metrics are computed on all predictions pooled (per-fold AUCs are kept too).
- ``dkt-synthetic``: the DKT paper's Simulated-5 protocol: the first half of students
  (in order of first appearance) trains, the second half tests.
- ``pykt``: pyKT's protocol: ``fold != valid_fold`` of ``train_valid.csv`` trains,
  ``valid_fold`` validates (early stopping), and the separate ``test.csv`` is reported.

Every model is handled alike through the ``KnowledgeTracer`` protocol: ``fit(train,
valid)`` then ``predict(test)``.
"""

from __future__ import annotations

import inspect
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import pandas as pd

from riley_gym.kt.data.metrics import evaluate_predictions, per_skill_metrics
from riley_gym.kt.data.splits import dkt_synthetic_split, holdout_split, kfold_splits, pykt_split
from riley_gym.kt.models.protocol import KnowledgeTracer

PROTOCOLS = ("holdout", "kfold", "dkt-synthetic", "pykt")


@dataclass
class EvaluationResult:
    """What a protocol run produced.

    Attributes:
        protocol: the protocol's name.
        metrics: overall test metrics (``auc``, ``acc``, ``rmse``, ``log_loss``, ``n``, ``n_students``).
        metrics_after_first: the same leaving out each student's first attempt (pyKT's and the
            DKT paper code's convention: only next-step predictions are scored).
        per_skill: one row per test skill (``kt.data.metrics.per_skill_metrics``).
        predictions: the test rows with ``p_correct`` (and ``fold`` for k-fold).
        models: the fitted models (one per fold for k-fold).
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
    models: list[Any]
    n_train_students: int
    n_test_students: int
    train_seconds: float
    predict_seconds: float
    folds: list[dict[str, float]] = field(default_factory=list)

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


def protocol_splits(
    table: pd.DataFrame,
    protocol: str,
    test: pd.DataFrame | None = None,
    k: int = 5,
    test_fraction: float = 0.2,
    valid_fold: int = 0,
    seed: int = 0,
) -> list[tuple[pd.DataFrame, pd.DataFrame | None, pd.DataFrame]]:
    """The ``(train, valid, test)`` parts of a protocol (valid None: the model decides).

    Args:
        table: canonical interactions (for ``pykt``: ``train_valid.csv`` with its ``fold`` column).
        protocol: one of ``PROTOCOLS``.
        test: a separate test table (required by ``pykt``; for ``holdout`` it replaces the
            random test fraction; refused by the others).
        k: folds for ``kfold``.
        test_fraction: test students for ``holdout`` without a ``test`` table.
        valid_fold: the validation fold for ``pykt``.
        seed: seed of the student permutations.

    Returns:
        One ``(train, valid, test)`` triple per fit (k for ``kfold``, else one).

    Raises:
        ValueError: for an unknown protocol or a missing / unexpected ``test`` table.
    """
    if protocol not in PROTOCOLS:
        raise ValueError(f"protocol must be one of {PROTOCOLS}, got {protocol!r}")
    if protocol == "pykt":
        if test is None:
            raise ValueError("protocol 'pykt' needs the separate test table (pyKT's test.csv)")
        train, valid = pykt_split(table, valid_fold=valid_fold)
        return [(train, valid, test)]
    if test is not None and protocol != "holdout":
        raise ValueError(
            f"protocol {protocol!r} makes its own test set; a separate test table is for 'holdout' or 'pykt'"
        )
    if protocol == "holdout":
        if test is not None:
            return [(table, None, test)]
        train, held_out = holdout_split(table, test_fraction=test_fraction, seed=seed)
        return [(train, None, held_out)]
    if protocol == "dkt-synthetic":
        train, held_out = dkt_synthetic_split(table)
        return [(train, None, held_out)]
    return [(train, None, held_out) for train, held_out in kfold_splits(table, k=k, seed=seed)]


def evaluate(
    make_model: Callable[[], KnowledgeTracer],
    table: pd.DataFrame,
    protocol: str,
    test: pd.DataFrame | None = None,
    k: int = 5,
    test_fraction: float = 0.2,
    valid_fold: int = 0,
    seed: int = 0,
    progress: bool = False,
) -> EvaluationResult:
    """Fit fresh models under a protocol and score every test attempt exactly once.

    Args:
        make_model: builds an unfitted model (called once per fold).
        table, protocol, test, k, test_fraction, valid_fold, seed: see ``protocol_splits``.
        progress: passed to ``fit`` when the model's ``fit`` accepts ``progress``.

    Returns:
        The ``EvaluationResult``.
    """
    parts = protocol_splits(
        table, protocol, test, k=k, test_fraction=test_fraction, valid_fold=valid_fold, seed=seed
    )
    predictions, models, folds = [], [], []
    train_seconds = predict_seconds = 0.0
    for number, (train, valid, held_out) in enumerate(parts):
        model = make_model()
        extra = (
            {"progress": progress} if "progress" in inspect.signature(model.fit).parameters else {}
        )
        started = time.perf_counter()
        model.fit(train, valid, **extra)
        train_seconds += time.perf_counter() - started
        started = time.perf_counter()
        predicted = model.predict(held_out)
        predict_seconds += time.perf_counter() - started
        if protocol == "kfold":
            predicted["fold"] = number
        folds.append({"fold": number, **evaluate_predictions(predicted)})
        predictions.append(predicted)
        models.append(model)
    pooled = pd.concat(predictions, ignore_index=True) if len(predictions) > 1 else predictions[0]
    return EvaluationResult(
        protocol=protocol,
        metrics=evaluate_predictions(pooled),
        metrics_after_first=evaluate_predictions(pooled, skip_first_attempt=True),
        per_skill=per_skill_metrics(pooled),
        predictions=pooled,
        models=models,
        n_train_students=int(parts[0][0]["user_id"].nunique()),
        n_test_students=int(pooled["user_id"].nunique())
        if protocol != "kfold"
        else int(table["user_id"].nunique()),
        train_seconds=train_seconds,
        predict_seconds=predict_seconds,
        folds=folds,
    )
