"""What a run prepares for a model's ``fit``: a validation hold-out, mixtures,
teacher targets, a refit.

Models fit the table they are given (``kt.models``). The preparations of a research run live
here, in one ``FitPlan``:

1. Hold-out: a model that early-stops (``model.early_stopping``) and gets no validation part
   from the protocol is validated on ``valid_fraction`` of its training students.
2. Concept mixing (``kt.experiments.concept_mixing``): virtual students are added to the table
   the model is fitted on, the concepts clustered once from the first table and reused.
3. Teacher targets: each row of that table gets the teacher's p(correct) in the
   ``training_target`` column (``kt.data.table.TARGET_COLUMN``), which the model fits instead of
   the 0/1 answers (distillation).
4. Refit: a fresh model is fitted on every training student (their mixtures and targets too) for
   the epoch count the hold-out chose; it checkpoints beside the first (``<name>_refit.pt``).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd

from riley_gym import nets
from riley_gym.kt.data.splits import holdout_split
from riley_gym.kt.data.table import TARGET_COLUMN
from riley_gym.kt.experiments.concept_mixing import concept_mixtures

__all__ = ["FitPlan", "FitOutcome", "fit_prepared"]

Teacher = Callable[[pd.DataFrame], np.ndarray]


@dataclass(frozen=True)
class FitPlan(nets.Settings):
    """How the tables a model is fitted on are prepared (models that do not early-stop get their
    training table as it is, mixtures and targets aside)."""

    valid_fraction: float = field(
        default=0.1,
        metadata={
            "help": "training students held out for early stopping when the protocol gives no "
            "validation part (0: none; models that do not early-stop use every student)"
        },
    )
    refit: bool = field(
        default=False,
        metadata={
            "help": "after early stopping on the held-out students, fit a fresh model on all "
            "training students for the best epoch count"
        },
    )
    concept_mixing: float = field(
        default=0.0,
        metadata={
            "help": "also fit on this many virtual students per real one, each taking every "
            "concept's answers from a random real student (kt/experiments/concept_mixing.py; "
            "only for logs where all students answer the same exercises in one order and the "
            "concepts are independent; 0: off)"
        },
    )
    mixing_concepts: int = field(
        default=0,
        metadata={
            "help": "concepts the exercises are clustered into for concept_mixing "
            "(0: chosen by held-out likelihood)"
        },
    )
    seed: int = field(default=0, metadata={"help": "seed of the hold-out and the mixtures"})

    def __post_init__(self) -> None:
        self.check_interval(["valid_fraction"], 0.0, 1.0, high_open=True)
        self.check_at_least(["concept_mixing"], 0.0, integer=False)
        self.check_at_least(["mixing_concepts", "seed"], 0)


@dataclass
class FitOutcome:
    """A prepared fit.

    Attributes:
        model: the fitted model (with ``refit``: the refitted one).
        history: the training history that chose the epochs (the hold-out run's), or None for
            models without one.
        refit_history: the refit's training history (None without ``refit``).
        mixing: the ``concept_mixtures`` report of the last table fitted (None without mixing).
        n_valid_students: students held out here for early stopping (0 if none).
    """

    model: Any
    history: Any = None
    refit_history: Any = None
    mixing: dict | None = None
    n_valid_students: int = 0


def _with_teacher(table: pd.DataFrame, teacher: Teacher | None) -> pd.DataFrame:
    """``table`` with the teacher's p(correct) of every row as its training target, checked."""
    if teacher is None:
        return table
    targets = np.asarray(teacher(table), dtype=np.float64)
    if targets.shape != (len(table),):
        raise ValueError(
            f"the teacher returned shape {targets.shape} for a training table of {len(table)} rows"
        )
    return table.assign(**{TARGET_COLUMN: targets})


def _refit_config(config: Any, epochs: int) -> Any:
    """``config`` training ``epochs`` epochs, checkpointing to ``<name>_refit.pt``
    beside the first."""
    training = replace(config.training, max_epochs=max(epochs, 1))
    if training.checkpoint_path:
        path = Path(training.checkpoint_path)
        path = path.with_name(f"{path.stem}_refit{path.suffix}")
        training = replace(
            training, checkpoint_path=str(path), resume=training.resume and path.is_file()
        )
    return replace(config, training=training)


def fit_prepared(
    model: Any,
    train: pd.DataFrame,
    valid: pd.DataFrame | None,
    plan: FitPlan,
    teacher: Teacher | None = None,
    progress: bool = False,
) -> FitOutcome:
    """Prepare the tables ``plan`` asks for and fit ``model`` (and its refit) on them.

    Args:
        model: an unfitted knowledge tracer (``fit(table, valid, progress=...)`` for models
            with ``early_stopping``, ``fit(table)`` otherwise).
        train: the protocol's training part.
        valid: the protocol's validation part, or None.
        plan: what to prepare.
        teacher: p(correct) of every row of a table (see ``kt.experiments.distillation``);
            only for models that early-stop (those train by gradient descent).
        progress: progress bars.

    Returns:
        The ``FitOutcome``.

    Raises:
        ValueError: if ``refit`` cannot be done (the model does not early-stop, or the
            validation part is given by the protocol or there is none) or a teacher is given
            to a model that cannot fit soft targets.
    """
    early_stopping = bool(getattr(model, "early_stopping", False))
    holds_out = early_stopping and valid is None and plan.valid_fraction > 0
    if plan.refit and not holds_out:
        raise ValueError(
            "refit needs the run to hold out its own validation students (a model that "
            "early-stops, no validation part from the protocol, valid_fraction > 0)"
        )
    if teacher is not None and not early_stopping:
        raise ValueError(f"{type(model).__name__} does not fit soft targets; a teacher is for DKT")
    whole = train
    n_valid = 0
    if holds_out:
        train, valid = holdout_split(train, test_fraction=plan.valid_fraction, seed=plan.seed)
        n_valid = int(valid["user_id"].nunique())
    mixing, concept = None, None
    if plan.concept_mixing:
        train, mixing = concept_mixtures(
            train, plan.concept_mixing, plan.mixing_concepts, seed=plan.seed
        )
        concept = np.asarray(mixing["concept"])
    train = _with_teacher(train, teacher)
    if early_stopping:
        model.fit(train, valid, progress=progress)
    else:
        model.fit(train)
    history = getattr(model, "history", None)
    outcome = FitOutcome(model, history=history, mixing=mixing, n_valid_students=n_valid)
    if plan.refit:
        if plan.concept_mixing:
            whole, outcome.mixing = concept_mixtures(
                whole, plan.concept_mixing, plan.mixing_concepts, seed=plan.seed, concept=concept
            )
        refitted = type(model)(_refit_config(model.config, history.best_epoch))
        refitted.fit(_with_teacher(whole, teacher), None, progress=progress)
        outcome.model, outcome.refit_history = refitted, refitted.history
    return outcome
