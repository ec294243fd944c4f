"""One-parameter item response theory (Rasch, 1960), with abilities traced online.

p(correct | student u, item i) = sigmoid(theta_u - b_i): theta_u is the student's
ability, b_i the item's difficulty. ``fit`` finds the joint MAP of all abilities and
difficulties on the training table (priors theta ~ N(0, ability_prior_var) and
b ~ N(0, difficulty_prior_var), which also pin down the otherwise free common shift) by
alternating one-dimensional Newton steps, vectorised over students and over items.

Scoring protocol (leak-free): the abilities fitted on the training rows are not used to
predict, since they have seen every answer of the student. Instead each student's
ability is traced online from the prior: before each attempt the belief is a Gaussian
N(mean, var); the attempt is predicted with sigmoid(mean - b_i); then the belief is
updated with the attempt's answers by a Laplace step (Newton iterations to the MAP of
prior times likelihood, and the curvature there as the new precision). All rows of a
multi-skill attempt are predicted from the belief before the attempt. Students are
processed side by side, one attempt index at a time. Items unseen in training take
difficulty 0 (the prior mean); such rows are counted in ``n_unknown_item_rows`` with a
warning.

``knowledge_state`` reports per skill the mean p(correct) over the skill's training
items at the traced ability (for the DKT three-line data, items are the skills).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from riley_gym import nets
from riley_gym.kt.data import validate_table
from riley_gym.kt.data.attempts import canonical_order, student_codes
from riley_gym.kt.data.table import PREDICTION_COLUMN
from riley_gym.kt.models.files import read_model, write_model

__all__ = ["IRTConfig", "IRT", "fit_rasch"]


@dataclass(frozen=True)
class IRTConfig(nets.Settings):
    """Settings of the Rasch model, its fit and its online ability tracing."""

    ability_prior_var: float = field(
        default=1.0, metadata={"help": "variance of the N(0, var) prior on a student's ability"}
    )
    difficulty_prior_var: float = field(
        default=10.0, metadata={"help": "variance of the N(0, var) prior on an item's difficulty"}
    )
    max_iterations: int = field(
        default=100, metadata={"help": "most alternating Newton sweeps of the fit"}
    )
    tolerance: float = field(
        default=1e-4,
        metadata={"help": "stop when no ability or difficulty moves by more than this"},
    )
    newton_steps: int = field(
        default=3, metadata={"help": "Newton iterations per online ability update"}
    )

    def __post_init__(self) -> None:
        self.check_interval(
            ["ability_prior_var", "difficulty_prior_var"],
            0.0,
            float("inf"),
            low_open=True,
            high_open=True,
        )
        self.check_at_least(["max_iterations", "newton_steps"], 1)
        self.check_at_least(["tolerance"], 0.0, integer=False)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def fit_rasch(
    student: np.ndarray,
    item: np.ndarray,
    correct: np.ndarray,
    n_students: int,
    n_items: int,
    config: IRTConfig,
) -> tuple[np.ndarray, np.ndarray, int]:
    """Joint MAP of abilities and difficulties by alternating per-parameter Newton steps.

    Args:
        student: (n_rows,) student index of each row.
        item: (n_rows,) item index of each row.
        correct: (n_rows,) 0/1 answers.
        n_students: Number of students.
        n_items: Number of items.
        config: Priors, iteration limit and tolerance.

    Returns:
        (abilities (n_students,), difficulties (n_items,), sweeps run).
    """
    ability = np.zeros(n_students)
    difficulty = np.zeros(n_items)
    target = correct.astype(np.float64)  # (n_rows,)
    sweep = 0
    for sweep in range(1, config.max_iterations + 1):
        p = _sigmoid(ability[student] - difficulty[item])  # (n_rows,)
        # d(-log posterior)/d(theta_u) = sum (p - y) + theta_u / var;
        # curvature sum p(1-p) + 1 / var.
        gradient = (
            np.bincount(student, weights=p - target, minlength=n_students)
            + ability / config.ability_prior_var
        )
        curvature = (
            np.bincount(student, weights=p * (1.0 - p), minlength=n_students)
            + 1.0 / config.ability_prior_var
        )
        ability_step = np.clip(
            gradient / curvature, -2.0, 2.0
        )  # (n_students,) the cap guards early sweeps
        ability -= ability_step
        p = _sigmoid(ability[student] - difficulty[item])
        gradient = (
            np.bincount(item, weights=target - p, minlength=n_items)
            + difficulty / config.difficulty_prior_var
        )
        curvature = (
            np.bincount(item, weights=p * (1.0 - p), minlength=n_items)
            + 1.0 / config.difficulty_prior_var
        )
        difficulty_step = np.clip(gradient / curvature, -2.0, 2.0)  # (n_items,)
        difficulty -= difficulty_step
        if max(np.abs(ability_step).max(), np.abs(difficulty_step).max()) <= config.tolerance:
            break
    return ability, difficulty, sweep


class IRT:
    """Rasch model: fitted item difficulties, student abilities traced online from a prior.

    Attributes:
        config: The settings.
        difficulties: Series of item difficulties indexed by ``item_id`` (sorted).
        train_abilities: (n_train_students,) abilities fitted on the training table
            (for inspection; predictions trace abilities online instead).
        n_iterations: Alternating Newton sweeps of the last ``fit``.
        n_unknown_item_rows: Rows of the last ``predict`` whose item was unseen.
    """

    config_class = IRTConfig  # what the constructor takes (the registry's flags read it)

    def __init__(self, config: IRTConfig | None = None) -> None:
        self.config = IRTConfig() if config is None else config
        if not isinstance(self.config, IRTConfig):
            raise TypeError(f"IRT expects an IRTConfig, got {type(self.config).__name__}")
        self.difficulties: pd.Series | None = None
        self.train_abilities: np.ndarray | None = None
        self._skill_ids: np.ndarray | None = None
        self._skill_items: tuple[np.ndarray, np.ndarray] | None = (
            None  # (skill index, item index) pairs
        )
        self.n_iterations = 0
        self.n_unknown_item_rows = 0

    @property
    def skill_ids(self) -> np.ndarray:
        """(n_skills,) sorted skill ids seen in training."""
        self._require_fitted("skill_ids")
        return self._skill_ids

    def _require_fitted(self, where: str) -> None:
        if self.difficulties is None:
            raise RuntimeError(
                f"IRT.{where}: the model is not fitted; call fit(table) or load(directory) first"
            )

    def fit(self, table: pd.DataFrame, valid: pd.DataFrame | None = None) -> "IRT":
        """Fit item difficulties (and training abilities) by joint MAP.

        Args:
            table: Canonical training interactions (not modified); must not be empty.
            valid: Unused (the fit is solved to ``tolerance``); accepted for the protocol.

        Returns:
            The fitted model itself.
        """
        validate_table(table, where="IRT.fit")
        if len(table) == 0:
            raise ValueError("IRT.fit: the training table is empty")
        student = student_codes(table)
        item_ids, item = np.unique(table["item_id"].to_numpy(), return_inverse=True)
        ability, difficulty, self.n_iterations = fit_rasch(
            student,
            item,
            table["correct"].to_numpy(),
            int(student.max()) + 1,
            len(item_ids),
            self.config,
        )
        self.difficulties = pd.Series(
            difficulty, index=pd.Index(item_ids.astype(np.int64), name="item_id"), name="difficulty"
        )
        self.train_abilities = ability
        skill_ids, skill = np.unique(table["skill_id"].to_numpy(), return_inverse=True)
        pairs = np.unique(
            np.stack([skill, item], axis=1), axis=0
        )  # (n_pairs, 2) distinct (skill, item)
        self._skill_ids = skill_ids.astype(np.int64)
        self._skill_items = (pairs[:, 0], pairs[:, 1])
        return self

    def _difficulty_of(self, items: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(difficulty, known) per row; unseen items get 0, the prior mean."""
        item_ids = self.difficulties.index.to_numpy()
        index = np.minimum(np.searchsorted(item_ids, items), len(item_ids) - 1)
        known = item_ids[index] == items
        return np.where(known, self.difficulties.to_numpy()[index], 0.0), known

    def _trace(self, table: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Online Laplace tracing of every student's ability.

        Returns:
            (mean_before, difficulty, final_mean, final_var): per row the ability mean
            before its attempt and its item's difficulty; per student (code order) the
            belief after all its rows.
        """
        config = self.config
        n_rows = len(table)
        perm = canonical_order(table)  # (n_rows,) canonical position -> row
        student = student_codes(table)[perm]
        order = table["order"].to_numpy()[perm]
        target = table["correct"].to_numpy()[perm].astype(np.float64)
        difficulty, known = self._difficulty_of(table["item_id"].to_numpy()[perm])
        self.n_unknown_item_rows = int((~known).sum())
        n_students = int(student.max()) + 1 if n_rows else 0
        # Attempt number of each row within its student, and the students' attempt counts.
        new_student = np.ones(n_rows, dtype=bool)
        new_student[1:] = student[1:] != student[:-1]
        new_attempt = new_student.copy()
        new_attempt[1:] |= order[1:] != order[:-1]
        attempt_id = np.cumsum(new_attempt) - 1  # (n_rows,) global attempt number
        first_attempt = attempt_id[new_student]  # (n_students,)
        step = attempt_id - first_attempt[student]  # (n_rows,) attempt index within the student
        n_attempts = np.bincount(student, weights=new_attempt, minlength=n_students).astype(
            np.int64
        )
        # Students ranked by attempt count (longest first): at step t the running students
        # are ranks 0 .. n_running[t] - 1, and their rows are one contiguous block.
        by_count = np.argsort(-n_attempts, kind="stable")
        rank = np.empty(n_students, dtype=np.int64)
        rank[by_count] = np.arange(n_students)
        row_rank = rank[student]  # (n_rows,)
        blocks = np.lexsort((row_rank, step))  # canonical positions sorted by (step, rank)
        block_starts = np.searchsorted(
            step[blocks], np.arange((n_attempts.max() if n_students else 0) + 1)
        )
        mean = np.zeros(n_students)  # by rank
        var = np.full(n_students, config.ability_prior_var)
        mean_before = np.empty(n_rows)
        for t in range(len(block_starts) - 1):
            rows = blocks[block_starts[t] : block_starts[t + 1]]  # canonical positions of step t
            who = row_rank[rows]  # (n_block,) rank of each row's student
            n = int(who.max()) + 1  # the running students are ranks 0 .. n - 1
            prior_mean, prior_var = mean[:n], var[:n]
            mean_before[rows] = prior_mean[who]
            theta = prior_mean.copy()
            for _ in range(config.newton_steps):
                p = _sigmoid(theta[who] - difficulty[rows])  # (n_block,)
                gradient = (
                    np.bincount(who, weights=p - target[rows], minlength=n)
                    + (theta - prior_mean) / prior_var
                )
                curvature = np.bincount(who, weights=p * (1.0 - p), minlength=n) + 1.0 / prior_var
                theta -= gradient / curvature
            p = _sigmoid(theta[who] - difficulty[rows])
            curvature = np.bincount(who, weights=p * (1.0 - p), minlength=n) + 1.0 / prior_var
            mean[:n], var[:n] = theta, 1.0 / curvature
        result_mean = np.empty(n_rows)
        result_mean[perm] = mean_before
        result_difficulty = np.empty(n_rows)
        result_difficulty[perm] = difficulty
        return result_mean, result_difficulty, mean[rank], var[rank]

    def predict(self, table: pd.DataFrame) -> pd.DataFrame:
        """p(correct) of every row from the ability traced over the student's earlier attempts.

        Args:
            table: Canonical interactions (not modified), any row order.

        Returns:
            A copy of ``table`` in the same row order with float column ``p_correct``.
            Rows of unseen items use difficulty 0 (counted in ``n_unknown_item_rows``,
            with a warning).
        """
        self._require_fitted("predict")
        validate_table(table, where="IRT.predict")
        mean_before, difficulty, _, _ = self._trace(table)
        if self.n_unknown_item_rows:
            warnings.warn(
                f"IRT.predict: {self.n_unknown_item_rows} row(s) have items unseen in training; "
                "they get difficulty 0 (the prior mean)",
                stacklevel=2,
            )
        result = table.copy()
        result[PREDICTION_COLUMN] = np.clip(_sigmoid(mean_before - difficulty), 1e-9, 1.0 - 1e-9)
        return result

    def ability(self, history: pd.DataFrame) -> tuple[float, float]:
        """(mean, variance) of the traced ability after one student's history (may be empty)."""
        self._require_fitted("ability")
        validate_table(history, where="IRT.ability")
        if len(history) == 0:
            return 0.0, self.config.ability_prior_var
        if history["user_id"].nunique() > 1:
            raise ValueError(
                "IRT.ability: needs one student's history, got "
                f"{history['user_id'].nunique()} students"
            )
        _, _, mean, var = self._trace(history)
        return float(mean[0]), float(var[0])

    def knowledge_state(self, history: pd.DataFrame) -> np.ndarray:
        """(n_skills,) mean p(correct) over each skill's training items at the traced ability.

        Args:
            history: One student's rows in the canonical format (may be empty).

        Returns:
            (n_skills,) in the order of ``skill_ids``.

        Raises:
            ValueError: If the history holds more than one student.
        """
        mean, _ = self.ability(history)
        skill, item = self._skill_items
        p = _sigmoid(mean - self.difficulties.to_numpy()[item])  # (n_pairs,)
        state = np.bincount(skill, weights=p, minlength=len(self._skill_ids)) / np.bincount(
            skill, minlength=len(self._skill_ids)
        )
        return np.clip(state, 1e-9, 1.0 - 1e-9)

    def save(self, directory: str | Path) -> Path:
        """Write difficulties, skill-item pairs and settings to ``directory`` (``model.pt``,
        ``config.json``)."""
        self._require_fitted("save")
        payload = {
            "item_ids": np.array(self.difficulties.index.to_numpy()),
            "difficulties": np.array(self.difficulties.to_numpy()),
            "train_abilities": self.train_abilities,
            "skill_ids": self._skill_ids,
            "pair_skill": self._skill_items[0],
            "pair_item": self._skill_items[1],
            "n_iterations": self.n_iterations,
        }
        return write_model(directory, "irt", payload, self.config.to_dict())

    @classmethod
    def load(cls, directory: str | Path) -> "IRT":
        """Read a model written by ``save`` (weights-only loading, no pickle)."""
        payload, config = read_model(directory, "irt")
        model = cls(IRTConfig.from_dict(config))
        model.difficulties = pd.Series(
            payload["difficulties"].numpy(),
            index=pd.Index(payload["item_ids"].numpy(), name="item_id"),
            name="difficulty",
        )
        model.train_abilities = payload["train_abilities"].numpy()
        model._skill_ids = payload["skill_ids"].numpy()
        model._skill_items = (payload["pair_skill"].numpy(), payload["pair_item"].numpy())
        model.n_iterations = int(payload["n_iterations"])
        return model
