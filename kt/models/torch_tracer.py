"""What DKT and the attention tracers share: a torch network over a skill index, fitted by
the shared training loop, predicting every row given only the student's earlier attempts.

``TorchTracer`` holds the bookkeeping that does not depend on the network: the settings
check, the skill index, the fit (encode, cut windows, batch, soft targets, seeded network,
``kt.models.training.train``), ``predict``'s handling of skills unseen in training, and the
training record that ``save`` writes and ``load`` restores. A subclass supplies its network
(``_build_network``), how it scores validation and known rows (``_validator``,
``_score_known``) and, if it reads more than skills, ``_read_training_items``.
"""

from __future__ import annotations

import warnings
from typing import Any, Callable

import numpy as np
import pandas as pd
import torch
from torch import nn

from riley_gym import nets
from riley_gym.kt.data.sequences import (
    EncodedSequences,
    cut_windows,
    drop_unknown_skills,
    encode_table,
    make_batches,
)
from riley_gym.kt.data.table import TARGET_COLUMN, soft_targets
from riley_gym.kt.models.training import TrainingHistory, train

__all__ = ["TorchTracer"]


class TorchTracer:
    """The shared part of a knowledge tracer whose ``network`` is trained by ``train``.

    Attributes:
        network: the fitted network (None before ``fit``).
        history: the ``TrainingHistory`` of the last ``fit``.
        global_mean: training mean correctness, the prediction for unknown skills.
        n_unknown_skill_rows: rows of the last ``predict`` whose skill was unknown.
    """

    # fit(table, valid) early-stops on valid; kt.experiments.fitting holds out students for it.
    early_stopping = True
    config_class: type  # what the constructor takes (the registry's flags read it)

    def __init__(self, config: Any = None) -> None:
        self.config = config if config is not None else self.config_class()
        if not isinstance(self.config, self.config_class):
            raise TypeError(
                f"{type(self).__name__} config must be a {self.config_class.__name__}, "
                f"got {type(self.config).__name__}"
            )
        self.network: nn.Module | None = None
        self.history = TrainingHistory()
        self.global_mean = float("nan")
        self.n_unknown_skill_rows = 0
        self._skill_ids = np.zeros(0, dtype=np.int64)
        self._device = nets.select_device(self.config.device)
        self._targets: torch.Tensor | None = None  # (n_rows,) soft targets per training row
        self._steps_per_batch = 1.0

    @property
    def skill_ids(self) -> np.ndarray:
        """(n_skills,) skill ids in the model's index order."""
        return self._skill_ids.copy()

    @property
    def n_skills(self) -> int:
        return int(self._skill_ids.size)

    def _require_fitted(self, what: str) -> nn.Module:
        if self.network is None:
            name = type(self).__name__
            raise ValueError(
                f"{name}.{what} needs a fitted model; call fit(table) or {name}.load(directory) "
                "first"
            )
        return self.network

    def _build_network(self) -> nn.Module:
        raise NotImplementedError

    def _read_training_items(self, table: pd.DataFrame, encoded: EncodedSequences) -> None:
        """Learn what the network reads besides skills (nothing here; items in AKT)."""

    def _validator(self, valid: pd.DataFrame) -> Callable[[], dict[str, float]]:
        raise NotImplementedError

    def _score_known(self, table: pd.DataFrame, known: EncodedSequences) -> np.ndarray:
        """(known.n_rows,) p(correct) of the rows of ``table`` whose skills are known."""
        raise NotImplementedError

    def fit(self, table: pd.DataFrame, valid: pd.DataFrame | None = None, progress: bool = False):
        """Train a fresh network on ``table``, early-stopping on ``valid`` by AUC.

        Args:
            table: canonical training interactions; an optional ``training_target`` column
                holds soft targets in [0, 1] (distillation).
            valid: canonical validation interactions; None trains ``max_epochs`` epochs.
            progress: show a progress bar.

        Returns:
            self.

        Raises:
            ValueError: if the table is empty or malformed, or a training target is not a
                probability (naming the row and the student).
        """
        name = type(self).__name__
        if len(table) == 0:
            raise ValueError(f"{name}.fit got an empty table")
        self._skill_ids = np.unique(table["skill_id"].to_numpy())
        encoded = encode_table(table, self._skill_ids, where="training table")
        self.global_mean = float(encoded.correct.mean())
        self._read_training_items(table, encoded)
        windows = cut_windows(encoded, self.config.max_length)
        batches = [
            batch.to(self._device)
            for batch in make_batches(encoded, windows, self.config.batch_size)
        ]
        self._steps_per_batch = encoded.n_rows / max(len(batches), 1)
        self._targets = None
        if TARGET_COLUMN in table.columns:
            targets = soft_targets(table, f"{name}.fit")[encoded.positions]  # encoded row order
            self._targets = torch.from_numpy(targets).to(self._device, torch.float32)
        validate = self._validator(valid) if valid is not None and len(valid) else None
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.config.seed)
            self.network = self._build_network()
            self.history = train(self, batches, self.config.training, validate, progress=progress)
        self._targets = None  # they belong to the training rows only
        return self

    def predict(self, table: pd.DataFrame) -> pd.DataFrame:
        """p(correct) of every row given only the student's earlier attempts.

        Args:
            table: canonical interactions (any students).

        Returns:
            A copy of ``table`` in the same row order with a float column ``p_correct``.
            Rows with skills unseen in training get ``global_mean`` (counted in
            ``n_unknown_skill_rows``, with a warning).
        """
        self._require_fitted("predict")
        encoded = encode_table(table, self._skill_ids)
        known, kept = drop_unknown_skills(encoded)
        probabilities = np.full(len(table), self.global_mean)
        if known.n_rows:
            probabilities[known.positions] = self._score_known(table, known)
        self.n_unknown_skill_rows = encoded.n_rows - kept.size
        if self.n_unknown_skill_rows:
            warnings.warn(
                f"{type(self).__name__}.predict: {self.n_unknown_skill_rows} row(s) have skills "
                f"unseen in training; they get the training mean {self.global_mean:.4f}",
                stacklevel=2,
            )
        result = table.copy()
        result["p_correct"] = probabilities
        return result

    def _saved_state(self) -> dict[str, Any]:
        """What ``save`` writes of every such model: weights, skill map, training record."""
        network = self._require_fitted("save")
        return {
            "network": network.state_dict(),
            "skill_ids": self._skill_ids,
            "global_mean": self.global_mean,
            "history": self.history.epochs,
            "best_epoch": self.history.best_epoch,
            "best_valid_auc": self.history.best_valid_auc,
            "stopped_early": self.history.stopped_early,
        }

    def _restore_state(self, payload: dict[str, Any]) -> None:
        """Rebuild the network from ``_saved_state``'s payload (after any item map is set)."""
        self._skill_ids = np.asarray(payload["skill_ids"].numpy(), dtype=np.int64)
        self.global_mean = float(payload["global_mean"])
        self.network = self._build_network()
        self.network.load_state_dict(payload["network"])
        self.network.eval()
        self.history = TrainingHistory(
            epochs=list(payload["history"]),
            best_epoch=int(payload["best_epoch"]),
            best_valid_auc=float(payload["best_valid_auc"]),
            stopped_early=bool(payload["stopped_early"]),
        )
