"""Turn a canonical interaction table into padded batches of per-student sequences.

A recurrent knowledge tracer reads each student's rows in order. This module does the
bookkeeping once, in numpy, so that the training loop does no per-row Python work:

1. ``encode_table`` orders the rows by (student as first seen, ``order``), maps skill ids
   to indices and computes each row's *context*: the last row of the student's previous
   attempt (-1 for the first attempt). Rows sharing ``(user_id, order)`` are one attempt,
   and every row of an attempt gets the same context, so no row sees its own answer or
   the answers of the other skills of its attempt (leak-free multi-skill attempts).
2. ``cut_windows`` cuts each student into windows of at most ``max_length`` rows, always at
   attempt boundaries (an attempt is never split; a single attempt longer than
   ``max_length`` gets a window of its own).
   ``cut_attempt_windows`` cuts every ``max_attempts`` attempts instead (a row's window
   then depends on its attempt number only).
3. ``make_batches`` pads windows into ``SequenceBatch`` tensors, sorted by length so that
   little padding is computed (ASSISTments 2015: mean 36 rows per student, max 618).
4. ``evaluation_rounds`` groups window ``j`` of every student into round ``j``; a model
   carries each student's recurrent state from round to round, so every row is scored
   exactly once and cutting never changes the history a prediction sees.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from riley_gym.kt.data.attempts import canonical_order, student_codes

UNKNOWN_SKILL = -1


@dataclass(frozen=True)
class EncodedSequences:
    """A table's rows in sequence order, as flat numpy arrays.

    Attributes:
        positions: (n_rows,) int64 position (``iloc``) in the original table of each row.
        student: (n_rows,) int64 student number (0.. in order of first appearance).
        skill: (n_rows,) int64 skill index, or ``UNKNOWN_SKILL`` for skills outside the map.
        correct: (n_rows,) int64 in {0, 1}.
        context: (n_rows,) int64 index (into these arrays) of the last row of the student's
            previous attempt, or -1 for the student's first attempt.
        attempt_start: (n_rows,) bool, True on the first row of each attempt.
        student_start: (n_students + 1,) int64 offsets: student ``s`` owns rows
            ``student_start[s]:student_start[s + 1]``.
    """

    positions: np.ndarray
    student: np.ndarray
    skill: np.ndarray
    correct: np.ndarray
    context: np.ndarray
    attempt_start: np.ndarray
    student_start: np.ndarray

    @property
    def n_rows(self) -> int:
        return int(self.positions.shape[0])

    @property
    def n_students(self) -> int:
        return int(self.student_start.shape[0] - 1)


@dataclass(frozen=True)
class SequenceBatch:
    """Padded windows of student sequences.

    Attributes:
        skills: (batch, time) long skill index per step (0 at padding).
        correct: (batch, time) float 0/1 answer per step (0 at padding).
        context: (batch, time) long step, within the window, whose output predicts this
            step: the last row of the previous attempt; -1 means the window's initial
            output (zeros at a student's start, the carried state after an earlier window).
        mask: (batch, time) bool, True at real steps.
        lengths: (batch,) long number of real steps.
        rows: (batch, time) long index into the ``EncodedSequences`` arrays (-1 at padding).
        students: (batch,) long student number of each window.
    """

    skills: torch.Tensor
    correct: torch.Tensor
    context: torch.Tensor
    mask: torch.Tensor
    lengths: torch.Tensor
    rows: torch.Tensor
    students: torch.Tensor

    @property
    def n_steps(self) -> int:
        """Number of real (unpadded) steps in the batch."""
        return int(self.lengths.sum())

    def to(self, device: torch.device | str) -> "SequenceBatch":
        """The same batch with every tensor on ``device``."""
        return SequenceBatch(
            **{name: getattr(self, name).to(device) for name in self.__dataclass_fields__}
        )


def encode_table(
    table: pd.DataFrame, skill_ids: np.ndarray, where: str = "table"
) -> EncodedSequences:
    """Order a canonical table into per-student sequences and compute each row's context.

    Args:
        table: canonical interactions (``user_id``, ``skill_id``, ``correct``, ``order``).
        skill_ids: (n_skills,) the model's skill ids; ``skill_ids[i]`` gets index ``i``.
            Skills not in it get ``UNKNOWN_SKILL``.
        where: name of the table for error messages.

    Returns:
        The rows as ``EncodedSequences``; rows of a student are ordered by ``order``
        (stable, so equal orders keep table order).

    Raises:
        ValueError: if a required column is missing or ``correct`` is not 0/1.
    """
    missing = [
        name for name in ("user_id", "skill_id", "correct", "order") if name not in table.columns
    ]
    if missing:
        raise ValueError(
            f"{where} lacks column(s) {missing}; a canonical table has user_id, item_id, skill_id, "
            "correct, order"
        )
    correct = table["correct"].to_numpy()
    if correct.size and not np.isin(correct, (0, 1)).all():
        bad = int(np.flatnonzero(~np.isin(correct, (0, 1)))[0])
        raise ValueError(f"{where} row {bad}: correct must be 0 or 1, got {correct[bad]!r}")
    positions = canonical_order(table)  # (n_rows,) stable: ties keep table order
    student = student_codes(table)[positions]  # (n_rows,) numbered in order of first appearance
    order_sorted = table["order"].to_numpy()[positions]
    n_rows = positions.shape[0]
    n_students = int(student.max()) + 1 if n_rows else 0

    skill_ids = np.asarray(skill_ids)
    sorter = np.argsort(skill_ids, kind="stable")
    raw_skill = table["skill_id"].to_numpy()[positions]
    found = (
        np.searchsorted(skill_ids, raw_skill, sorter=sorter)
        if skill_ids.size
        else np.zeros(n_rows, np.int64)
    )
    found = np.clip(found, 0, max(skill_ids.size - 1, 0))
    skill = (
        sorter[found].astype(np.int64)
        if skill_ids.size
        else np.full(n_rows, UNKNOWN_SKILL, np.int64)
    )
    if skill_ids.size:
        skill[skill_ids[skill] != raw_skill] = UNKNOWN_SKILL

    new_student = np.ones(n_rows, dtype=bool)
    new_student[1:] = student[1:] != student[:-1]
    attempt_start = new_student.copy()
    attempt_start[1:] |= order_sorted[1:] != order_sorted[:-1]
    first_row_of_attempt = np.maximum.accumulate(np.where(attempt_start, np.arange(n_rows), 0))
    student_start = np.searchsorted(student, np.arange(n_students + 1)).astype(np.int64)
    context = first_row_of_attempt - 1
    context[context < student_start[student]] = -1  # first attempt: no previous attempt
    return EncodedSequences(
        positions=positions,
        student=student,
        skill=skill,
        correct=correct[positions].astype(np.int64),
        context=context.astype(np.int64),
        attempt_start=attempt_start,
        student_start=student_start,
    )


def drop_unknown_skills(encoded: EncodedSequences) -> tuple[EncodedSequences, np.ndarray]:
    """Remove rows whose skill is unknown, recomputing contexts over the kept rows.

    Returns:
        The kept rows, and ``kept`` (n_kept,) the index of each kept row in ``encoded``.
    """
    kept = np.flatnonzero(encoded.skill != UNKNOWN_SKILL)
    if kept.size == encoded.n_rows:
        return encoded, kept
    student = encoded.student[kept]
    n_students = encoded.n_students
    # An attempt starts where the original attempt id changes; ids survive the removal.
    attempt_id = np.cumsum(encoded.attempt_start)[kept]
    attempt_start = np.ones(kept.size, dtype=bool)
    attempt_start[1:] = (attempt_id[1:] != attempt_id[:-1]) | (student[1:] != student[:-1])
    first_row_of_attempt = (
        np.maximum.accumulate(np.where(attempt_start, np.arange(kept.size), 0))
        if kept.size
        else kept
    )
    student_start = np.searchsorted(student, np.arange(n_students + 1)).astype(np.int64)
    context = first_row_of_attempt - 1
    context[context < student_start[student]] = -1
    reduced = EncodedSequences(
        positions=encoded.positions[kept],
        student=student,
        skill=encoded.skill[kept],
        correct=encoded.correct[kept],
        context=context.astype(np.int64),
        attempt_start=attempt_start,
        student_start=student_start,
    )
    return reduced, kept


def cut_windows(
    encoded: EncodedSequences, max_length: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cut each student's rows into windows of at most ``max_length`` rows at attempt boundaries.

    Args:
        encoded: the rows.
        max_length: the most rows in a window (an attempt with more rows gets its own window).

    Returns:
        ``(students, starts, ends)``: (n_windows,) int64 arrays; window ``w`` covers rows
        ``starts[w]:ends[w]`` of student ``students[w]``. Windows of a student are consecutive
        and in order; every row is in exactly one window.
    """
    if max_length < 1:
        raise ValueError(f"max_length must be >= 1, got {max_length}")
    lengths = np.diff(encoded.student_start)
    boundaries = np.flatnonzero(encoded.attempt_start)  # every row where a cut is allowed
    if boundaries.size == encoded.n_rows and encoded.n_rows:
        # One row per attempt: cut every max_length rows, without a Python loop.
        n_windows = -(-lengths // max_length)
        students = np.repeat(np.arange(encoded.n_students), n_windows)
        offset = np.arange(students.size) - np.repeat(np.cumsum(n_windows) - n_windows, n_windows)
        starts = encoded.student_start[students] + offset * max_length
        ends = np.minimum(starts + max_length, encoded.student_start[students + 1])
        return students.astype(np.int64), starts.astype(np.int64), ends.astype(np.int64)
    students, starts, ends = [], [], []
    for student in range(encoded.n_students):
        start, stop = int(encoded.student_start[student]), int(encoded.student_start[student + 1])
        while start < stop:
            limit = start + max_length
            if limit >= stop:
                end = stop
            else:
                # Last attempt boundary in (start, limit]; none means one oversized attempt.
                index = np.searchsorted(boundaries, limit, side="right") - 1
                end = int(boundaries[index])
                if end <= start:
                    after = np.searchsorted(boundaries, start, side="right")
                    end = (
                        int(boundaries[after])
                        if after < boundaries.size and boundaries[after] < stop
                        else stop
                    )
            students.append(student)
            starts.append(start)
            ends.append(end)
            start = end
    return np.asarray(students, np.int64), np.asarray(starts, np.int64), np.asarray(ends, np.int64)


def cut_attempt_windows(
    encoded: EncodedSequences, max_attempts: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cut each student's rows into windows of ``max_attempts`` attempts (any number of rows).

    Unlike ``cut_windows``, where a window ends depends only on the attempts before it, never
    on how many rows a later or the current attempt has: a row's window is fixed by its
    attempt number alone. Models that read each window from an empty history (the attention
    tracers) predict with these windows, so a prediction never depends on its own attempt's
    size. With one row per attempt they equal ``cut_windows``'.

    Returns:
        ``(students, starts, ends)`` as ``cut_windows``.
    """
    if max_attempts < 1:
        raise ValueError(f"max_attempts must be >= 1, got {max_attempts}")
    attempt = np.cumsum(encoded.attempt_start) - 1  # (n_rows,) attempt number over all students
    number = attempt - attempt[encoded.student_start[encoded.student]]  # within the student
    cut = encoded.attempt_start & (number % max_attempts == 0)  # (n_rows,) window starts
    starts = np.flatnonzero(cut).astype(np.int64)
    ends = np.r_[starts[1:], encoded.n_rows].astype(np.int64)
    return encoded.student[starts].astype(np.int64), starts, ends


def batch_windows(
    lengths: np.ndarray, batch_size: int, sort_by_length: bool = True
) -> list[np.ndarray]:
    """The window indices of each batch ``make_batches`` builds, in its order.

    With ``sort_by_length`` windows are taken longest first (stable), so that a batch pads
    little; otherwise in the given order.
    """
    order = np.argsort(-lengths, kind="stable") if sort_by_length else np.arange(lengths.size)
    return [order[first : first + batch_size] for first in range(0, order.size, batch_size)]


def make_batches(
    encoded: EncodedSequences,
    windows: tuple[np.ndarray, np.ndarray, np.ndarray],
    batch_size: int,
    sort_by_length: bool = True,
) -> list[SequenceBatch]:
    """Pad windows into batches.

    Args:
        encoded: the rows (every row's skill must be known: see ``drop_unknown_skills``).
        windows: ``(students, starts, ends)`` as from ``cut_windows`` (or a subset).
        batch_size: windows per batch.
        sort_by_length: batch windows of similar length together (longest first) so that
            little padding is computed; otherwise keep the given window order.

    Returns:
        The batches; each is padded to its own longest window.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if encoded.n_rows and (encoded.skill < 0).any():
        raise ValueError("make_batches needs known skills only; call drop_unknown_skills first")
    students, starts, ends = windows
    lengths = ends - starts
    batches = []
    for chosen in batch_windows(lengths, batch_size, sort_by_length):
        batch_lengths = lengths[chosen]  # (batch,)
        time = int(batch_lengths.max())
        steps = np.arange(time)  # (time,)
        mask = steps[None, :] < batch_lengths[:, None]  # (batch, time)
        rows = np.where(mask, starts[chosen, None] + steps[None, :], -1)  # (batch, time)
        safe = np.where(mask, rows, 0)  # (batch, time)
        context = np.where(mask, encoded.context[safe] - starts[chosen, None], -1)  # (batch, time)
        # Windows are cut at attempt boundaries, so a context before the window is its last
        # row before the cut, i.e. the window's initial output.
        context = np.maximum(context, -1)
        batches.append(
            SequenceBatch(
                skills=torch.from_numpy(np.where(mask, encoded.skill[safe], 0)),
                correct=torch.from_numpy(
                    np.where(mask, encoded.correct[safe], 0).astype(np.float32)
                ),
                context=torch.from_numpy(context.astype(np.int64)),
                mask=torch.from_numpy(mask),
                lengths=torch.from_numpy(batch_lengths.astype(np.int64)),
                rows=torch.from_numpy(rows.astype(np.int64)),
                students=torch.from_numpy(students[chosen].astype(np.int64)),
            )
        )
    return batches


def evaluation_rounds(
    encoded: EncodedSequences, max_length: int, batch_size: int
) -> list[list[SequenceBatch]]:
    """Batches for scoring every row exactly once with the recurrent state carried across windows.

    Round ``j`` holds window ``j`` of every student that has more than ``j`` windows. A model
    runs the rounds in order and starts each student's window from the state its previous
    window ended in, so the predictions equal those of the uncut sequences.

    Args:
        encoded: the rows (known skills only).
        max_length: the most rows per window.
        batch_size: windows per batch.

    Returns:
        A list of rounds, each a list of batches. A window followed by another of the same
        student is in a batch whose windows all have the same length (so its final
        recurrent state can be read without packing); the other windows are batched by
        length, longest first.
    """
    students, starts, ends = cut_windows(encoded, max_length)
    first_window = (
        np.r_[True, students[1:] != students[:-1]] if students.size else np.zeros(0, bool)
    )
    window_number = np.arange(students.size) - np.maximum.accumulate(
        np.where(first_window, np.arange(students.size), 0)
    )
    continued = np.r_[students[1:] == students[:-1], False] if students.size else np.zeros(0, bool)
    rounds = []
    for number in range(int(window_number.max()) + 1 if students.size else 0):
        in_round = window_number == number
        batches = []
        # A window that a later window continues is batched only with windows of its exact
        # length, so a model may run the batch unpacked and still read each window's final state.
        lengths = ends - starts
        for length in np.unique(lengths[in_round & continued]):
            chosen = in_round & continued & (lengths == length)
            batches += make_batches(
                encoded, (students[chosen], starts[chosen], ends[chosen]), batch_size
            )
        chosen = in_round & ~continued
        if chosen.any():
            batches += make_batches(
                encoded, (students[chosen], starts[chosen], ends[chosen]), batch_size
            )
        rounds.append(batches)
    return rounds
