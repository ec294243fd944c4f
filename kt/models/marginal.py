"""Marginal baseline: every attempt at a skill is predicted by the skill's training mean.

The model ignores the student entirely: p(correct | skill k) is the fraction of correct
training rows of skill k, shrunk towards the global mean by ``smoothing`` pseudo-rows
(a Beta prior; 0 gives the raw mean). It is the floor every knowledge tracer must beat:
whatever AUC it reaches comes from skill difficulty alone, none from tracing a student.

Scoring protocol: a row's prediction uses no answer at all (not even earlier ones), so
it is leak-free trivially; multi-skill attempts score each row by its own skill. A row
whose skill was not seen in training gets the global training mean; ``predict`` counts
such rows in ``n_unknown_skill_rows`` and warns.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from riley_gym import nets
from riley_gym.kt.data import validate_table
from riley_gym.kt.data.table import PREDICTION_COLUMN
from riley_gym.kt.models.files import read_model, write_model

__all__ = ["MarginalConfig", "Marginal"]


@dataclass(frozen=True)
class MarginalConfig(nets.Settings):
    """Settings of the marginal (per-skill mean) baseline."""

    smoothing: float = field(
        default=1.0,
        metadata={
            "help": "pseudo-rows at the global mean added to each skill's count "
            "(0: raw per-skill mean)"
        },
    )

    def __post_init__(self) -> None:
        self.check_interval(["smoothing"], 0.0, float("inf"), high_open=True)


class Marginal:
    """Per-skill mean correctness, the global mean for unseen skills.

    Attributes:
        config: The settings.
        skill_means: (n_skills,) predicted p(correct) of skill ``skill_ids[i]``.
        global_mean: Training mean correctness, the fallback for unseen skills.
        n_unknown_skill_rows: Rows of the last ``predict`` whose skill was unseen.
    """

    config_class = MarginalConfig  # what the constructor takes (the registry's flags read it)

    def __init__(self, config: MarginalConfig | None = None) -> None:
        self.config = MarginalConfig() if config is None else config
        if not isinstance(self.config, MarginalConfig):
            raise TypeError(f"Marginal expects a MarginalConfig, got {type(self.config).__name__}")
        self._skill_ids: np.ndarray | None = None
        self.skill_means: np.ndarray | None = None
        self.global_mean: float | None = None
        self.n_unknown_skill_rows = 0

    @property
    def skill_ids(self) -> np.ndarray:
        """(n_skills,) sorted skill ids seen in training."""
        self._require_fitted("skill_ids")
        return self._skill_ids

    def _require_fitted(self, where: str) -> None:
        if self._skill_ids is None:
            raise RuntimeError(
                f"Marginal.{where}: the model is not fitted; call fit(table) or "
                "load(directory) first"
            )

    def fit(self, table: pd.DataFrame, valid: pd.DataFrame | None = None) -> "Marginal":
        """Count each skill's correct and total training rows.

        Args:
            table: Canonical training interactions (not modified); must not be empty.
            valid: Unused (the model has no hyperparameter to stop on); accepted for the protocol.

        Returns:
            The fitted model itself.
        """
        validate_table(table, where="Marginal.fit")
        if len(table) == 0:
            raise ValueError("Marginal.fit: the training table is empty")
        skill_ids, skill_index = np.unique(table["skill_id"].to_numpy(), return_inverse=True)
        correct = table["correct"].to_numpy().astype(np.float64)  # (n_rows,)
        self.global_mean = float(correct.mean())
        n_correct = np.bincount(
            skill_index, weights=correct, minlength=len(skill_ids)
        )  # (n_skills,)
        n_rows = np.bincount(skill_index, minlength=len(skill_ids)).astype(
            np.float64
        )  # (n_skills,)
        smoothing = self.config.smoothing
        self.skill_means = (n_correct + smoothing * self.global_mean) / (n_rows + smoothing)
        self._skill_ids = skill_ids.astype(np.int64)
        return self

    def _clip(self, p: np.ndarray) -> np.ndarray:
        # A skill answered always right (or wrong) with smoothing 0 would give p = 1 (0);
        # keep p inside (0, 1) so that log-loss stays finite.
        return np.clip(p, 1e-6, 1.0 - 1e-6)

    def predict(self, table: pd.DataFrame) -> pd.DataFrame:
        """The skill mean for every row.

        Args:
            table: Canonical interactions (not modified).

        Returns:
            A copy of ``table`` in the same row order with float column ``p_correct``;
            rows of unseen skills get ``global_mean`` (counted in
            ``n_unknown_skill_rows``, with a warning).
        """
        self._require_fitted("predict")
        validate_table(table, where="Marginal.predict")
        skill = table["skill_id"].to_numpy()
        index = np.searchsorted(self._skill_ids, skill)  # (n_rows,)
        index = np.minimum(index, len(self._skill_ids) - 1)
        known = self._skill_ids[index] == skill  # (n_rows,)
        p = np.where(known, self.skill_means[index], self.global_mean)
        self.n_unknown_skill_rows = int((~known).sum())
        if self.n_unknown_skill_rows:
            warnings.warn(
                f"Marginal.predict: {self.n_unknown_skill_rows} row(s) have skills unseen in "
                f"training; they get the training mean {self.global_mean:.4f}",
                stacklevel=2,
            )
        result = table.copy()
        result[PREDICTION_COLUMN] = self._clip(p.astype(np.float64))
        return result

    def knowledge_state(self, history: pd.DataFrame) -> np.ndarray:
        """(n_skills,) the skill means; the history is ignored (the model does not trace)."""
        self._require_fitted("knowledge_state")
        validate_table(history, where="Marginal.knowledge_state")
        return self._clip(self.skill_means.copy())

    def save(self, directory: str | Path) -> Path:
        """Write the skill means and settings to ``directory`` (``model.pt``, ``config.json``)."""
        self._require_fitted("save")
        payload = {
            "skill_ids": self._skill_ids,
            "skill_means": self.skill_means,
            "global_mean": self.global_mean,
        }
        return write_model(directory, "marginal", payload, self.config.to_dict())

    @classmethod
    def load(cls, directory: str | Path) -> "Marginal":
        """Read a model written by ``save`` (weights-only loading, no pickle)."""
        payload, config = read_model(directory, "marginal")
        model = cls(MarginalConfig.from_dict(config))
        model._skill_ids = payload["skill_ids"].numpy()
        model.skill_means = payload["skill_means"].numpy()
        model.global_mean = float(payload["global_mean"])
        return model
