"""Evaluation protocols: how a log is split into the parts a model is fitted,
validated and scored on.

Protocols (all split by student, so a student's rows never straddle train and test):

- ``holdout``: a random ``test_fraction`` of students is the test set (or the given
  ``test`` table, when there is one).
- ``kfold``: k folds of students; each is predicted by a model fitted on the others and
  the metrics are computed on all predictions pooled (per-fold AUCs are kept too).
- ``dkt-synthetic``: the DKT paper's Simulated-5 protocol: the first half of students
  (in order of first appearance) trains, the second half tests.
- ``pykt``: pyKT's protocol: ``fold != valid_fold`` of ``train_valid.csv`` trains,
  ``valid_fold`` validates (early stopping), and the separate ``test.csv`` is reported.

``ProtocolConfig`` holds a protocol's settings; it travels whole from a script's flags to
``protocol_splits``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from riley_gym import nets
from riley_gym.kt.data.splits import dkt_synthetic_split, holdout_split, kfold_splits, pykt_split

__all__ = ["PROTOCOLS", "ProtocolConfig", "protocol_splits", "seed_dependent"]

PROTOCOLS = ("holdout", "kfold", "dkt-synthetic", "pykt")


@dataclass(frozen=True)
class ProtocolConfig(nets.Settings):
    """Settings of an evaluation protocol."""

    protocol: str = field(
        default="holdout", metadata={"help": "evaluation protocol", "choices": PROTOCOLS}
    )
    k: int = field(default=5, metadata={"help": "folds of the kfold protocol"})
    test_fraction: float = field(
        default=0.2, metadata={"help": "test students of the holdout protocol"}
    )
    valid_fold: int = field(default=0, metadata={"help": "validation fold of the pykt protocol"})
    seed: int = field(default=0, metadata={"help": "seed of the student permutations"})

    def __post_init__(self) -> None:
        self.check_choice("protocol", PROTOCOLS)
        self.check_at_least(["k"], 2)
        self.check_interval(["test_fraction"], 0.0, 1.0, low_open=True, high_open=True)
        self.check_at_least(["valid_fold", "seed"], 0)


def seed_dependent(config: ProtocolConfig, has_test_table: bool) -> bool:
    """Whether the students held out depend on the seed (kfold, holdout without a test table)."""
    return config.protocol == "kfold" or (config.protocol == "holdout" and not has_test_table)


def protocol_splits(
    table: pd.DataFrame, config: ProtocolConfig, test: pd.DataFrame | None = None
) -> list[tuple[pd.DataFrame, pd.DataFrame | None, pd.DataFrame]]:
    """The ``(train, valid, test)`` parts of a protocol (valid None: the protocol gives none).

    Args:
        table: canonical interactions (for ``pykt``: ``train_valid.csv`` with its ``fold`` column).
        config: the protocol and its settings.
        test: a separate test table (required by ``pykt``; for ``holdout`` it replaces the
            random test fraction; refused by the others).

    Returns:
        One ``(train, valid, test)`` triple per fit (k for ``kfold``, else one).

    Raises:
        ValueError: for a missing or unexpected ``test`` table.
    """
    protocol = config.protocol
    if protocol == "pykt":
        if test is None:
            raise ValueError("protocol 'pykt' needs the separate test table (pyKT's test.csv)")
        train, valid = pykt_split(table, valid_fold=config.valid_fold)
        return [(train, valid, test)]
    if test is not None and protocol != "holdout":
        raise ValueError(
            f"protocol {protocol!r} makes its own test set; a separate test table is for "
            "'holdout' or 'pykt'"
        )
    if protocol == "holdout":
        if test is not None:
            return [(table, None, test)]
        train, held_out = holdout_split(table, test_fraction=config.test_fraction, seed=config.seed)
        return [(train, None, held_out)]
    if protocol == "dkt-synthetic":
        train, held_out = dkt_synthetic_split(table)
        return [(train, None, held_out)]
    splits = kfold_splits(table, k=config.k, seed=config.seed)
    return [(train, None, held_out) for train, held_out in splits]
