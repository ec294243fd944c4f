"""Performance Factors Analysis (Pavlik, Cen and Koedinger, 2009): logistic regression on practice.

The lecture's logistic regression applied to students: the log-odds that a student answers
a row of skill k right is

    logit p = beta_k + gamma_k * x(successes) + rho_k * x(failures),

where successes and failures count the student's earlier rows of skill k answered right
and wrong, and x is the identity (the paper) or log(1 + count) (``count_transform="log"``,
which keeps the hundredth repetition from weighing 100 times the first). The per-skill
intercept beta_k is the skill's easiness, gamma_k and rho_k how much a success and a
failure change it. Every row touches only its skill's three weights, so the L2-regularised
fit splits into one small logistic regression per skill; all of them are solved at once by
Newton's method with batched 3 x 3 solves (exact up to ``tolerance``, a few iterations).

Scoring protocol (leak-free): the counts of a row come from ``kt.data.attempts.prior_counts``:
only the student's rows of the same skill with strictly smaller ``order``, so neither the
row's own answer nor any other row of its attempt is counted. A multi-skill attempt is
scored row by row, each row by its own skill (pyKT's expansion). A row whose skill was not
seen in training is scored by one global set of weights fitted on all rows, and counted in
``n_unknown_skill_rows`` with a warning.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from riley_gym import nets
from riley_gym.kt.data import validate_table
from riley_gym.kt.data.attempts import prior_counts
from riley_gym.kt.data.table import PREDICTION_COLUMN
from riley_gym.kt.models.files import read_model, write_model

__all__ = ["PFAConfig", "PFA", "fit_logistic_groups"]

COUNT_TRANSFORMS = ("raw", "log")


@dataclass(frozen=True)
class PFAConfig(nets.Settings):
    """Settings of PFA and its Newton fit."""

    count_transform: str = field(
        default="log",
        metadata={"help": "feature of a count c: 'raw' (c, as in the paper) or 'log' (log(1 + c))"},
    )
    l2: float = field(
        default=1.0,
        metadata={"help": "L2 penalty on each skill's weights (added to the summed log-loss)"},
    )
    max_iterations: int = field(default=50, metadata={"help": "most Newton iterations"})
    tolerance: float = field(
        default=1e-8, metadata={"help": "stop when no weight moves by more than this"}
    )

    def __post_init__(self) -> None:
        self.check_choice("count_transform", COUNT_TRANSFORMS)
        self.check_above(["l2"], 0.0)  # it keeps a skill answered always right finite
        self.check_at_least(["max_iterations"], 1)
        self.check_at_least(["tolerance"], 0.0, integer=False)


def fit_logistic_groups(
    features: np.ndarray,
    target: np.ndarray,
    group: np.ndarray,
    n_groups: int,
    l2: float,
    max_iterations: int = 50,
    tolerance: float = 1e-8,
) -> tuple[np.ndarray, int]:
    """One L2-regularised logistic regression per group, all solved together by Newton's method.

    Minimises, for each group g, sum over its rows of the log-loss of
    sigmoid(features[r] @ weights[g]) against target[r], plus l2 / 2 * |weights[g]|^2.

    Args:
        features: (n_rows, n_features) inputs of each row.
        target: (n_rows,) 0/1 labels.
        group: (n_rows,) group index of each row, in ``0 .. n_groups - 1``.
        n_groups: Number of groups (groups without rows get zero weights).
        l2: Penalty, > 0.
        max_iterations: Most Newton iterations.
        tolerance: Stop when no weight moves by more than this.

    Returns:
        (weights, n_iterations): weights of shape (n_groups, n_features).
    """
    n_rows, n_features = features.shape
    weights = np.zeros((n_groups, n_features))
    pairs = [(i, j) for i in range(n_features) for j in range(i, n_features)]
    products = {
        pair: features[:, pair[0]] * features[:, pair[1]] for pair in pairs
    }  # each (n_rows,)
    iteration = 0
    for iteration in range(1, max_iterations + 1):
        logits = np.einsum("rf,rf->r", features, weights[group])  # (n_rows,)
        p = 1.0 / (1.0 + np.exp(-logits))  # (n_rows,)
        residual = p - target  # (n_rows,)
        curvature = p * (1.0 - p)  # (n_rows,)
        gradient = (
            np.stack(
                [
                    np.bincount(group, weights=residual * features[:, i], minlength=n_groups)
                    for i in range(n_features)
                ],
                axis=1,
            )
            + l2 * weights
        )  # (n_groups, n_features)
        hessian = np.zeros((n_groups, n_features, n_features))
        for i, j in pairs:
            hessian[:, i, j] = hessian[:, j, i] = np.bincount(
                group, weights=curvature * products[(i, j)], minlength=n_groups
            )
        hessian += l2 * np.eye(n_features)  # (n_groups, n_features, n_features)
        step = np.linalg.solve(hessian, gradient[..., None])[..., 0]  # (n_groups, n_features)
        # Newton on the regularised log-loss converges from 0; the cap only guards the
        # first steps against a huge move on a nearly separable group.
        step = np.clip(step, -5.0, 5.0)
        weights -= step
        if np.abs(step).max() <= tolerance:
            break
    return weights, iteration


class PFA:
    """Performance Factors Analysis with per-skill intercept, success and failure weights.

    Attributes:
        config: The settings.
        weights: DataFrame indexed by ``skill_id`` (the order of ``skill_ids``) with columns
            intercept (beta), success (gamma), failure (rho).
        global_weights: (3,) intercept, success, failure weights for unseen skills.
        n_iterations: Newton iterations of the last ``fit``.
        n_unknown_skill_rows: Rows of the last ``predict`` whose skill was unseen.
    """

    config_class = PFAConfig  # what the constructor takes (the registry's flags read it)

    def __init__(self, config: PFAConfig | None = None) -> None:
        self.config = PFAConfig() if config is None else config
        if not isinstance(self.config, PFAConfig):
            raise TypeError(f"PFA expects a PFAConfig, got {type(self.config).__name__}")
        self.weights: pd.DataFrame | None = None
        self.global_weights: np.ndarray | None = None
        self.n_iterations = 0
        self.n_unknown_skill_rows = 0

    @property
    def skill_ids(self) -> np.ndarray:
        """(n_skills,) sorted skill ids seen in training."""
        self._require_fitted("skill_ids")
        return self.weights.index.to_numpy()

    def _require_fitted(self, where: str) -> None:
        if self.weights is None:
            raise RuntimeError(
                f"PFA.{where}: the model is not fitted; call fit(table) or load(directory) first"
            )

    def _features(self, successes: np.ndarray, failures: np.ndarray) -> np.ndarray:
        """(n_rows, 3) columns 1, x(successes), x(failures)."""
        counts = np.stack([successes, failures], axis=1).astype(np.float64)  # (n_rows, 2)
        if self.config.count_transform == "log":
            counts = np.log1p(counts)
        return np.concatenate([np.ones((len(counts), 1)), counts], axis=1)

    def fit(self, table: pd.DataFrame, valid: pd.DataFrame | None = None) -> "PFA":
        """Fit every skill's weights (and the global fallback weights) by Newton's method.

        Args:
            table: Canonical training interactions (not modified); must not be empty.
            valid: Unused (the fit is a convex problem solved to ``tolerance``);
                accepted for the protocol.

        Returns:
            The fitted model itself.
        """
        validate_table(table, where="PFA.fit")
        if len(table) == 0:
            raise ValueError("PFA.fit: the training table is empty")
        config = self.config
        skill_ids, skill = np.unique(table["skill_id"].to_numpy(), return_inverse=True)
        features = self._features(*prior_counts(table, by="skill_id"))  # (n_rows, 3)
        target = table["correct"].to_numpy().astype(np.float64)  # (n_rows,)
        weights, self.n_iterations = fit_logistic_groups(
            features,
            target,
            skill,
            len(skill_ids),
            config.l2,
            config.max_iterations,
            config.tolerance,
        )
        global_weights, _ = fit_logistic_groups(
            features,
            target,
            np.zeros(len(target), dtype=np.int64),
            1,
            config.l2,
            config.max_iterations,
            config.tolerance,
        )
        self.weights = pd.DataFrame(
            weights,
            columns=["intercept", "success", "failure"],
            index=pd.Index(skill_ids.astype(np.int64), name="skill_id"),
        )
        self.global_weights = global_weights[0]
        return self

    def predict(self, table: pd.DataFrame) -> pd.DataFrame:
        """p(correct) of every row from the student's earlier successes and failures on its skill.

        Args:
            table: Canonical interactions (not modified), any row order.

        Returns:
            A copy of ``table`` in the same row order with float column ``p_correct``.
            Rows of unseen skills use ``global_weights`` (counted in
            ``n_unknown_skill_rows``, with a warning).
        """
        self._require_fitted("predict")
        validate_table(table, where="PFA.predict")
        skill_ids = self.skill_ids
        skill = table["skill_id"].to_numpy()
        index = np.minimum(np.searchsorted(skill_ids, skill), len(skill_ids) - 1)  # (n_rows,)
        known = skill_ids[index] == skill  # (n_rows,)
        row_weights = np.where(
            known[:, None], self.weights.to_numpy()[index], self.global_weights
        )  # (n_rows, 3)
        features = self._features(*prior_counts(table, by="skill_id"))  # (n_rows, 3)
        p = 1.0 / (1.0 + np.exp(-np.einsum("rf,rf->r", features, row_weights)))  # (n_rows,)
        self.n_unknown_skill_rows = int((~known).sum())
        if self.n_unknown_skill_rows:
            warnings.warn(
                f"PFA.predict: {self.n_unknown_skill_rows} row(s) have skills unseen in training; "
                "they are scored with the global weights",
                stacklevel=2,
            )
        result = table.copy()
        result[PREDICTION_COLUMN] = np.clip(p, 1e-9, 1.0 - 1e-9)
        return result

    def knowledge_state(self, history: pd.DataFrame) -> np.ndarray:
        """(n_skills,) p(correct) on a next attempt at each skill after one student's history.

        Args:
            history: One student's rows in the canonical format (may be empty); rows of
                unseen skills are ignored.

        Returns:
            (n_skills,) in the order of ``skill_ids``.

        Raises:
            ValueError: If the history holds more than one student.
        """
        self._require_fitted("knowledge_state")
        validate_table(history, where="PFA.knowledge_state")
        if len(history) and history["user_id"].nunique() > 1:
            raise ValueError(
                "PFA.knowledge_state: needs one student's history, got "
                f"{history['user_id'].nunique()} students"
            )
        skill_ids = self.skill_ids
        skill = history["skill_id"].to_numpy()
        index = np.minimum(np.searchsorted(skill_ids, skill), len(skill_ids) - 1)
        known = skill_ids[index] == skill
        correct = history["correct"].to_numpy()[known].astype(np.float64)
        successes = np.bincount(
            index[known], weights=correct, minlength=len(skill_ids)
        )  # (n_skills,)
        failures = np.bincount(index[known], minlength=len(skill_ids)) - successes  # (n_skills,)
        logits = np.einsum("sf,sf->s", self._features(successes, failures), self.weights.to_numpy())
        return np.clip(1.0 / (1.0 + np.exp(-logits)), 1e-9, 1.0 - 1e-9)

    def save(self, directory: str | Path) -> Path:
        """Write the weights and settings to ``directory`` (``model.pt``, ``config.json``)."""
        self._require_fitted("save")
        payload = {
            "skill_ids": np.array(self.skill_ids),
            "weights": np.array(self.weights.to_numpy()),
            "global_weights": self.global_weights,
            "n_iterations": self.n_iterations,
        }
        return write_model(directory, "pfa", payload, self.config.to_dict())

    @classmethod
    def load(cls, directory: str | Path) -> "PFA":
        """Read a model written by ``save`` (weights-only loading, no pickle)."""
        payload, config = read_model(directory, "pfa")
        model = cls(PFAConfig.from_dict(config))
        model.weights = pd.DataFrame(
            payload["weights"].numpy(),
            columns=["intercept", "success", "failure"],
            index=pd.Index(payload["skill_ids"].numpy(), name="skill_id"),
        )
        model.global_weights = payload["global_weights"].numpy()
        model.n_iterations = int(payload["n_iterations"])
        return model
