"""An attention knowledge tracer (SAKT, AKT, simpleKT) as a tutoring belief.

``AttentionBelief`` speaks ``kt.tutoring.recommend.Belief``, as ``DKTBelief`` does for DKT, so the
ZPD, greedy, expectimax and DQN tutors, the gain model and the diagnosis run on any of them
(``scripts/tutor.py --tracer sakt|akt|simplekt``). The tracer must model EXERCISES as its skills
(fitted on a table whose ``skill_id`` is the exercise index), as the tutoring pipeline fits it.

An attention model has no recurrent state to step: its state here is the answer history itself,
``(exercises, correct, lengths)``, right-padded. ``p_correct`` asks for every exercise at once
with one forward pass per student: the history followed by one multi-row attempt holding every
exercise. Every row of an attempt reads the earlier attempts only (``history_mask``), never its
fellow rows, and shares their position, so each row's output is what ``predict`` gives that
exercise as a one-row next attempt (a test checks it against ``predict``) at the cost of one
sequence of ``length + n_exercises`` rows instead of ``n_exercises`` sequences.

Windows: ``predict`` restarts its window every ``max_length`` attempts; a belief keeps the last
``max_length - 1`` attempts instead (a sliding window), so past that length the two differ. The
tutoring sessions (50 exercises) are far shorter than the default window (200).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import torch

from riley_gym.kt.models.attention_tracer import UNKNOWN_ITEM, AttentionTracer
from riley_gym.kt.tutoring.recommend import skill_means

__all__ = ["AttentionBelief", "AnswerHistory"]

# Students per forward pass of p_correct: bounds the (students, heads, rows, rows) attention scores.
CHUNK = 512


@dataclass(frozen=True)
class AnswerHistory:
    """The state of an ``AttentionBelief``: each student's attempts, right-padded.

    Attributes:
        items: (n, width) long, the model's skill index of each attempt (0 past ``lengths``).
        correct: (n, width) long answers (0 past ``lengths``).
        lengths: (n,) long attempts held per student.
    """

    items: torch.Tensor
    correct: torch.Tensor
    lengths: torch.Tensor


class AttentionBelief:
    """A fitted attention tracer read one attempt at a time for a batch of students.

    Args:
        model: a fitted ``kt.models.attention_tracer.AttentionTracer`` whose skill ids are the
            exercise indices.
        exercise_skill: (n_exercises,) skill of each exercise (for per-skill summaries).

    Raises:
        TypeError: if ``model`` is not an attention tracer.
        ValueError: if it is not fitted, does not know every exercise or reads item ids.
    """

    def __init__(self, model: Any, exercise_skill: Sequence[int]) -> None:
        if not isinstance(model, AttentionTracer):
            raise TypeError(
                f"AttentionBelief needs an attention tracer (sakt, akt, simplekt), got "
                f"{type(model).__name__}; use DKTBelief for DKT"
            )
        if model.network is None:
            raise ValueError(f"AttentionBelief needs a fitted {model.model_name} (network is None)")
        self.model = model
        self.network = model.network
        self.exercise_skill = np.asarray(exercise_skill, dtype=np.int64)
        self.n_exercises = int(self.exercise_skill.size)
        self.n_skills = int(self.exercise_skill.max()) + 1
        known = np.asarray(model.skill_ids, dtype=np.int64)
        missing = sorted(set(range(self.n_exercises)) - set(known.tolist()))
        if missing:
            raise ValueError(
                f"AttentionBelief: the {model.model_name} never saw exercises {missing} (its skill "
                f"ids are {known.tolist()}); train it on logs covering every exercise"
            )
        self._device = next(self.network.parameters()).device
        self.model_index = np.searchsorted(known, np.arange(self.n_exercises))
        self._candidates = torch.from_numpy(self.model_index).to(self._device)  # (E,)
        if np.asarray(model._item_ids).size:
            raise ValueError(
                f"AttentionBelief: this {model.model_name} reads item ids (Rasch) besides its "
                "skills; a tutoring belief needs exercises as the skills and no items (fit it "
                "with questions='skills', or on a table whose item_id is the exercise)"
            )
        self.max_history = model.config.max_length - 1
        self.network.eval()

    def init(self, n: int) -> AnswerHistory:
        empty = torch.zeros((n, 0), dtype=torch.long, device=self._device)
        return AnswerHistory(empty, empty.clone(), torch.zeros(n, dtype=torch.long,
                                                               device=self._device))  # fmt: skip

    def update(self, state: AnswerHistory, exercises: np.ndarray, correct: np.ndarray) -> Any:
        n = state.lengths.shape[0]
        exercises = np.asarray(exercises)
        if exercises.shape != (n,):
            raise ValueError(f"exercises must have shape ({n},), got {exercises.shape}")
        if n and (exercises.min() < 0 or exercises.max() >= self.n_exercises):
            raise ValueError(
                f"exercises must be in [0, {self.n_exercises}), got values from "
                f"{exercises.min()} to {exercises.max()}"
            )
        items = self._candidates[torch.from_numpy(exercises.astype(np.int64)).to(self._device)]
        answers = torch.from_numpy(np.asarray(correct).astype(np.int64)).to(self._device)
        lengths = state.lengths
        full = lengths >= self.max_history  # (n,) these students drop their oldest attempt
        width = max(state.items.shape[1], int(lengths.max()) + 1 if n else 0)
        width = min(width, self.max_history)
        new_items, new_correct = self._padded(state, width)
        if bool(full.any()):
            new_items[full] = torch.roll(new_items[full], -1, dims=1)
            new_correct[full] = torch.roll(new_correct[full], -1, dims=1)
        lengths = torch.where(full, lengths - 1, lengths)
        rows = torch.arange(n, device=self._device)
        new_items[rows, lengths] = items
        new_correct[rows, lengths] = answers
        return AnswerHistory(new_items, new_correct, lengths + 1)

    def _padded(self, state: AnswerHistory, width: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Copies of the state's items and answers with ``width`` columns (zeros added)."""
        n, have = state.items.shape
        items = torch.zeros((n, width), dtype=torch.long, device=self._device)
        correct = torch.zeros_like(items)
        keep = min(have, width)
        items[:, :keep] = state.items[:, :keep]
        correct[:, :keep] = state.correct[:, :keep]
        return items, correct

    @torch.no_grad()
    def p_correct(self, state: AnswerHistory) -> np.ndarray:
        """(n, n_exercises) predicted p(correct) on each exercise as the next attempt."""
        n = state.lengths.shape[0]
        out = np.empty((n, self.n_exercises))
        for start in range(0, n, CHUNK):
            rows = slice(start, min(start + CHUNK, n))
            out[rows] = self._p_correct_chunk(
                state.items[rows], state.correct[rows], state.lengths[rows]
            )
        return out

    def _p_correct_chunk(
        self, items: torch.Tensor, correct: torch.Tensor, lengths: torch.Tensor
    ) -> np.ndarray:
        n, n_exercises = lengths.shape[0], self.n_exercises
        history = int(lengths.max()) if n else 0
        time = history + n_exercises
        steps = torch.arange(time, device=self._device)  # (T,)
        offset = steps[None, :] - lengths[:, None]  # (n, T) row index within the query attempt
        in_history = offset < 0
        in_query = (offset >= 0) & (offset < n_exercises)
        skills = torch.zeros((n, time), dtype=torch.long, device=self._device)
        answers = torch.zeros_like(skills)
        skills[:, :history] = items[:, :history]
        answers[:, :history] = correct[:, :history]
        skills = torch.where(in_query, self._candidates[offset.clamp(0, n_exercises - 1)], skills)
        answers = torch.where(in_history, answers, 0)
        # One-row attempts up to the history's end, then one attempt of every exercise (all read
        # the history only); the padding after it is one-row attempts that no query row reads.
        context = torch.where(in_query, lengths[:, None] - 1, steps[None, :] - 1)  # (n, T)
        unknown_items = torch.full_like(skills, UNKNOWN_ITEM)  # skills only (checked in __init__)
        logits, _ = self.network(skills, unknown_items, answers, context)  # (n, T)
        query = lengths[:, None] + torch.arange(n_exercises, device=self._device)[None, :]
        chosen = torch.gather(logits, 1, query)  # (n, E), exercise order
        return torch.sigmoid(chosen).double().cpu().numpy()

    def take(self, state: AnswerHistory, rows: np.ndarray) -> AnswerHistory:
        index = torch.from_numpy(np.asarray(rows, dtype=np.int64)).to(self._device)
        return AnswerHistory(state.items[index], state.correct[index], state.lengths[index])

    def merge(
        self, state: AnswerHistory, other: AnswerHistory, rows_from_other: np.ndarray
    ) -> AnswerHistory:
        """``state`` with the students where ``rows_from_other`` (n,) bool is True taken from
        ``other``."""
        mask = torch.from_numpy(np.asarray(rows_from_other, dtype=bool)).to(self._device)
        width = max(state.items.shape[1], other.items.shape[1])
        mine, theirs = self._padded(state, width), self._padded(other, width)
        items = torch.where(mask[:, None], theirs[0], mine[0])
        correct = torch.where(mask[:, None], theirs[1], mine[1])
        return AnswerHistory(items, correct, torch.where(mask, other.lengths, state.lengths))

    def skill_knowledge(self, state: AnswerHistory) -> np.ndarray:
        """(n, n_skills) mean predicted p(correct) over each skill's exercises."""
        return skill_means(self.p_correct(state), self.exercise_skill)
