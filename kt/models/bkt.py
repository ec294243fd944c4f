"""Bayesian Knowledge Tracing (Corbett and Anderson, 1995), fitted by EM, vectorised.

Each skill is a two-state hidden Markov model per student: the skill is known or not.
Before the first attempt it is known with probability ``prior``; after each attempt an
unknown skill becomes known with probability ``learn`` and, optionally, a known one is
forgotten with probability ``forget`` (0 in classic BKT). An attempt is answered right
with probability ``1 - slip`` if the skill is known and ``guess`` if not. The
parameters of every skill are fitted by expectation-maximisation (Baum-Welch), as pyBKT
does, with guess and slip at most 0.5 (``max_guess``, ``max_slip``) so that "known"
keeps meaning "more likely right" (the model is otherwise not identifiable). The fitted
parameters are the DataFrame ``BKT.params`` (one row per skill id); ``BKT.mastery``
gives p(known) per skill after a history, ``BKT.from_params`` builds a model from given
parameters.

Vectorised: the rows of all (student, skill) sequences of all skills are laid out time
step by time step ("time-major"), sequences sorted by length, so the forward filter and
the backward smoother are one numpy operation per time step over every sequence still
running, and the M-step is a handful of ``np.bincount`` calls. The filter carries
p(unknown) rather than p(known), which would round to exactly 1 after long runs of
right answers and never come down again. Each skill stops iterating on its own, as if
fitted alone (pyBKT fits skills one by one); once the running skills hold few of the rows,
EM goes on over a layout rebuilt from their sequences only. Random restarts are extra
copies of the skills fitted side by side; the best log-likelihood per skill wins.

Scoring protocol (leak-free): a row is predicted by the forward filter of its (student,
skill) sequence before that row: p(correct) = L (1 - slip) + (1 - L) guess with L the
probability that the skill is known given the student's earlier rows of that skill.
Rows of different skills never share information (classic BKT). Rows of one student and
skill that share an ``order`` (a repeated row of one attempt) all take the prediction
of the first of them, so no row sees its own attempt. Rows of skills unseen in training
get the training mean correctness, counted in ``n_unknown_skill_rows`` with a warning.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from riley_gym import nets
from riley_gym.kt.data import validate_table
from riley_gym.kt.data.attempts import student_codes
from riley_gym.kt.data.table import PREDICTION_COLUMN
from riley_gym.kt.models.files import read_model, write_model

__all__ = ["BKTConfig", "BKT", "PARAMETER_NAMES"]

PARAMETER_NAMES = ("prior", "learn", "forget", "guess", "slip")
_EPS = 1e-6  # parameters stay in [_EPS, 1 - _EPS] (or their bound) so that logs stay finite
# Rebuild the layout once the running skills hold less than this fraction of its rows.
# ASSISTments 2009 builder, load 4.5: 14 rebuilds, 25 ms in a 0.61 s fit; best fit of 3
# 0.77 s at 0.7, 0.80 s at 0.5 and at 0.9, 3.1 s never rebuilding.
_RELAYOUT_FRACTION = 0.7


@dataclass(frozen=True)
class BKTConfig(nets.Settings):
    """Settings of BKT and its EM fit."""

    forget: bool = field(
        default=False, metadata={"help": "fit a forget probability (classic BKT: no forgetting)"}
    )
    max_iterations: int = field(default=100, metadata={"help": "most EM iterations"})
    # Each skill stopping on its own at 1e-4, the training log-likelihood per row is 2.3e-4
    # (ASSISTments 2009 builder, 77 iterations for the slowest skill) and 5.5e-4 (2015 pyKT
    # train_valid, 36) below the fully converged fit (1e-7); 3e-4 left 6e-4 and 1.2e-3. Test
    # AUC moves by a few 1e-4 with the tolerance and not monotonically: 2009 0.7601 (3e-4:
    # 0.7604, converged 0.7595), 2015 0.6998 (3e-4: 0.6992, converged 0.6998).
    tolerance: float = field(
        default=1e-4,
        metadata={
            "help": "a skill stops when an iteration improves its log-likelihood "
            "per row by at most this"
        },
    )
    n_restarts: int = field(
        default=1,
        metadata={
            "help": "EM starts per skill: the first from the init_* values, the others random; "
            "each skill keeps its best"
        },
    )
    max_guess: float = field(
        default=0.5,
        metadata={
            "help": "upper bound of guess, in (0, 0.5] (0.3 cost 0.004 test AUC "
            "on ASSISTments 2009)"
        },
    )
    max_slip: float = field(default=0.5, metadata={"help": "upper bound of slip, in (0, 0.5]"})
    # Default start: the best training log-likelihood of a 12-point grid (prior 0.2/0.5/0.8,
    # guess 0.2/0.3, slip 0.1/0.2) summed over ASSISTments 2009 builder train and 2015
    # train/valid (EM lands in different optima per skill from different starts).
    init_prior: float = field(
        default=0.2, metadata={"help": "initial p(known) before the first attempt"}
    )
    init_learn: float = field(
        default=0.1, metadata={"help": "initial p(unknown -> known) per attempt"}
    )
    init_forget: float = field(
        default=0.02,
        metadata={"help": "initial p(known -> unknown) per attempt (forget=True only)"},
    )
    init_guess: float = field(default=0.3, metadata={"help": "initial p(correct | unknown)"})
    init_slip: float = field(default=0.1, metadata={"help": "initial p(wrong | known)"})
    seed: int = field(default=0, metadata={"help": "seed of the random restarts"})

    def __post_init__(self) -> None:
        self.check_at_least(["max_iterations", "n_restarts"], 1)
        self.check_at_least(["seed"], 0)
        self.check_at_least(["tolerance"], 0.0, integer=False)
        # identifiability: known must mean more likely right
        self.check_interval(["max_guess", "max_slip"], 0.0, 0.5, low_open=True)
        names = ["init_prior", "init_learn", "init_forget", "init_guess", "init_slip"]
        self.check_interval(names, 0.0, 1.0, low_open=True, high_open=True)
        self.check(
            "init_guess", self.init_guess <= self.max_guess, f"<= max_guess ({self.max_guess})"
        )
        self.check("init_slip", self.init_slip <= self.max_slip, f"<= max_slip ({self.max_slip})")


@dataclass(frozen=True)
class _Layout:
    """Rows of many (student, skill) sequences stored time step by time step.

    Flat position ``offsets[t] + i`` holds step ``t`` of the sequence of rank ``i``
    (sequences ranked by length, longest first), so the sequences still running at step
    ``t`` are ranks ``0 .. n_active[t] - 1`` and their next steps are a contiguous block.

    Attributes:
        rows: (n_positions,) index of the input row at each flat position.
        offsets: (max_length + 1,) start of each time step's block.
        n_active: (max_length,) sequences with more than ``t`` rows.
        sequence_skill: (n_sequences,) skill index of each sequence, by rank.
        sequence_of: (n_positions,) rank of the sequence of each flat position.
        step: (n_positions,) time step (row number within its sequence) of each flat position.
        last_positions: (n_sequences,) flat position of each sequence's last row, by rank.
    """

    rows: np.ndarray
    offsets: np.ndarray
    n_active: np.ndarray
    sequence_skill: np.ndarray
    sequence_of: np.ndarray
    step: np.ndarray
    last_positions: np.ndarray


def _time_major(student: np.ndarray, skill: np.ndarray, order: np.ndarray) -> _Layout:
    """Group rows into (student, skill) sequences sorted by ``order`` and lay them out by time step.

    Args:
        student: (n_rows,) student code of each row.
        skill: (n_rows,) skill index of each row.
        order: (n_rows,) order of each row within its student (ties keep row order).

    Returns:
        The layout; rows of one sequence appear in increasing order.
    """
    n_rows = len(student)
    same_student = student[1:] == student[:-1]  # (n_rows - 1,)
    if np.all(student[1:] >= student[:-1]) and np.all(
        order[1:][same_student] >= order[:-1][same_student]
    ):
        # Rows already by student and order (as the readers return them): a stable sort by
        # skill alone is the same permutation, 5 ms instead of 33 ms for the three-key
        # lexsort on ASSISTments 2009 builder.
        perm = np.argsort(skill, kind="stable")  # (n_rows,)
    else:
        perm = np.lexsort((order, student, skill))  # (n_rows,) stable: ties keep row order
    sorted_student, sorted_skill = student[perm], skill[perm]
    new_sequence = np.ones(n_rows, dtype=bool)
    new_sequence[1:] = (sorted_student[1:] != sorted_student[:-1]) | (
        sorted_skill[1:] != sorted_skill[:-1]
    )
    sequence = np.cumsum(new_sequence) - 1  # (n_rows,) sorted rows
    starts = np.flatnonzero(new_sequence)  # (n_sequences,)
    step = np.arange(n_rows) - starts[sequence]  # (n_rows,) position within its sequence
    lengths = np.diff(np.append(starts, n_rows))  # (n_sequences,)
    by_length = np.argsort(-lengths, kind="stable")  # (n_sequences,) rank -> sequence
    rank = np.empty_like(by_length)
    rank[by_length] = np.arange(len(by_length))
    max_length = int(lengths.max()) if n_rows else 0
    ended = np.cumsum(np.bincount(lengths, minlength=max_length + 1))[:max_length]  # (max_length,)
    n_active = len(lengths) - ended  # (max_length,) sequences longer than t
    offsets = np.concatenate([[0], np.cumsum(n_active)])  # (max_length + 1,)
    flat = offsets[step] + rank[sequence]  # (n_rows,) flat position of each sorted row
    rows = np.empty(n_rows, dtype=np.int64)
    rows[flat] = perm
    sequence_of = np.empty(n_rows, dtype=np.int64)
    sequence_of[flat] = rank[sequence]
    step_of = np.empty(n_rows, dtype=np.int64)
    step_of[flat] = step
    last_positions = np.empty(len(lengths), dtype=np.int64)
    last_positions[rank] = offsets[lengths - 1] + rank  # (n_sequences,) by rank
    return _Layout(
        rows,
        offsets,
        n_active,
        sorted_skill[starts][by_length],
        sequence_of,
        step_of,
        last_positions,
    )


def _forward(
    layout: _Layout,
    start: np.ndarray,
    ratio: np.ndarray,
    keep: np.ndarray,
    forget: np.ndarray | None,
    moving_posterior: np.ndarray | None = None,
) -> np.ndarray:
    """Forward filter: p(skill unknown) before each row given the sequence's earlier rows.

    The state is carried as p(unknown), not p(known): after a run of right answers the
    skill is known with probability 1 - 1e-20, which p(known) would round to exactly 1
    and then never leave again, however many wrong answers follow (measured on the
    ASSISTments 2009 builder data, where this cost 0.013 test AUC). With U the
    p(unknown) before a row and r = p(answer | unknown) / p(answer | known), the
    posterior after the answer is U r / (1 - U + U r) and the next row's p(unknown) is
    posterior * (1 - learn - forget) + forget.

    Transition arrays (``keep``, ``forget``, ``moving_posterior``) are indexed by the
    row *after* the transition minus ``offsets[1]``: the rows of time step t + 1 are
    exactly the successors of the sequences running on at step t.

    Args:
        layout: The sequences.
        start: (n_sequences,) p(unknown) before each sequence's first row (1 - prior).
        ratio: (n_positions,) likelihood ratio r of each row's answer.
        keep: (n_transitions,) 1 - learn - forget of the skill.
        forget: (n_transitions,) forget of the skill, or None when there is none.
        moving_posterior: optional (n_transitions,) output: the posterior p(unknown)
            of the row before each transition.

    Returns:
        (n_positions,) p(unknown) before each row.
    """
    unknown = np.empty(len(ratio))
    unknown[: layout.offsets[1]] = start
    if moving_posterior is None:
        moving_posterior = np.empty(len(ratio) - layout.offsets[1])
    offsets, n_active = layout.offsets, layout.n_active
    tail = _single_tail(n_active)
    for t in range(min(tail, len(n_active) - 1)):
        a, b, n = offsets[t], offsets[t + 1], n_active[t + 1]
        c = b - offsets[1]  # transition index of the block
        current = unknown[a : a + n]  # (n,) p(unknown) of the sequences running on to step t + 1
        posterior = np.multiply(current, ratio[a : a + n], out=moving_posterior[c : c + n])
        evidence = 1.0 - current
        evidence += posterior
        posterior /= evidence
        if forget is None:
            np.multiply(posterior, keep[c : c + n], out=unknown[b : b + n])
        else:
            np.multiply(posterior, keep[c : c + n], out=unknown[b : b + n])
            unknown[b : b + n] += forget[c : c + n]
    if tail < len(n_active) - 1:
        # The longest sequence runs alone from step ``tail`` on, at consecutive positions:
        # plain floats beat numpy calls on one element (885 of 1907 steps on ASSISTments 2009).
        a, c = offsets[tail], offsets[tail + 1] - offsets[1]
        current = float(unknown[a])
        ratios = ratio[a:].tolist()
        keeps = keep[c:].tolist()
        forgets = [0.0] * len(keeps) if forget is None else forget[c:].tolist()
        posteriors, unknowns = [], []
        for r, k, f in zip(ratios, keeps, forgets):
            posterior = current * r
            posterior /= 1.0 - current + posterior
            current = posterior * k + f
            posteriors.append(posterior)
            unknowns.append(current)
        moving_posterior[c:] = posteriors
        unknown[a + 1 :] = unknowns
    return unknown


def _single_tail(n_active: np.ndarray) -> int:
    """First time step from which only one sequence runs (len(n_active) - 1 if never)."""
    several = np.flatnonzero(n_active > 1)
    return int(several[-1]) + 1 if len(several) else 0


def _smooth(
    layout: _Layout, last_posterior: np.ndarray, constant: np.ndarray, slope: np.ndarray
) -> np.ndarray:
    """Backward pass: p(unknown at a row | the whole sequence) from the filter's results.

    h_t = constant + slope * h_{t+1} (coefficients indexed by transition, as in
    ``_forward``), with h = the filtered posterior at each sequence's last row.

    Args:
        layout: The sequences.
        last_posterior: (n_sequences,) p(unknown | all answers) at each
            sequence's last row, by rank.
        constant: (n_transitions,) constant term of the recursion.
        slope: (n_transitions,) slope of the recursion.

    Returns:
        (n_positions,) smoothed p(unknown).
    """
    smoothed = np.empty(len(layout.rows))
    smoothed[layout.last_positions] = last_posterior
    offsets, n_active = layout.offsets, layout.n_active
    tail = _single_tail(n_active)
    if tail < len(n_active) - 1:
        # The lone tail of the longest sequence, with plain floats (see ``_forward``).
        a, c = offsets[tail], offsets[tail + 1] - offsets[1]
        following = float(smoothed[-1])
        values = []
        for k, m in zip(reversed(slope[c:].tolist()), reversed(constant[c:].tolist())):
            following = k * following + m
            values.append(following)
        smoothed[a:-1] = values[::-1]
    for t in range(min(tail, len(n_active) - 1) - 1, -1, -1):
        a, b, n = offsets[t], offsets[t + 1], n_active[t + 1]
        c = b - offsets[1]
        np.multiply(slope[c : c + n], smoothed[b : b + n], out=smoothed[a : a + n])
        smoothed[a : a + n] += constant[c : c + n]
    return smoothed


def _answer_ratio(guess: np.ndarray, slip: np.ndarray, correct: np.ndarray) -> np.ndarray:
    """p(answer | unknown) / p(answer | known) per row; shapes as ``correct``."""
    return np.where(correct, guess / (1.0 - slip), (1.0 - guess) / slip)


def _subset(layout: _Layout, keep: np.ndarray) -> tuple[_Layout, np.ndarray]:
    """The layout of the sequences with ``keep`` true, still time-major and sorted by length.

    Args:
        layout: The sequences.
        keep: (n_sequences,) bool by rank.

    Returns:
        (layout, positions): the smaller layout and (n_kept_positions,) the old flat
        position of each of its flat positions, to gather per-position arrays.
    """
    lengths = layout.step[layout.last_positions] + 1  # (n_sequences,) by rank, non-increasing
    kept_lengths = lengths[keep]  # (n_kept,)
    new_rank = np.cumsum(keep) - 1  # (n_sequences,) valid where keep
    max_length = int(kept_lengths[0]) if len(kept_lengths) else 0
    ended = np.cumsum(np.bincount(kept_lengths, minlength=max_length + 1))[:max_length]
    n_active = len(kept_lengths) - ended  # (max_length,)
    offsets = np.concatenate([[0], np.cumsum(n_active)])  # (max_length + 1,)
    old = np.flatnonzero(
        keep[layout.sequence_of]
    )  # (n_kept_positions,) old flat positions, old order
    flat = offsets[layout.step[old]] + new_rank[layout.sequence_of[old]]  # (n_kept_positions,)
    positions = np.empty_like(old)
    positions[flat] = old
    sequence_of = new_rank[layout.sequence_of[positions]]
    return _Layout(
        rows=layout.rows[positions],
        offsets=offsets,
        n_active=n_active,
        sequence_skill=layout.sequence_skill[keep],
        sequence_of=sequence_of,
        step=layout.step[positions],
        last_positions=offsets[kept_lengths - 1] + np.arange(len(kept_lengths)),
    ), positions


def _em(
    layout: _Layout,
    row_skill: np.ndarray,
    row_correct: np.ndarray,
    values: dict[str, np.ndarray],
    n_total: int,
    config: BKTConfig,
    max_iterations: int,
) -> tuple[dict[str, np.ndarray], np.ndarray, int]:
    """Baum-Welch for every skill at once; each skill stops on its own.

    A skill stops (its parameters freeze) at the first iteration that improves its
    log-likelihood per row by at most ``config.tolerance``, as when it is fitted alone.
    Most rows belong to skills that stop early (ASSISTments 2009 builder, default
    tolerance: 61% of the rows by iteration 12, 96% by iteration 26 of 77), so once the
    running skills hold less than
    ``_RELAYOUT_FRACTION`` of the rows of the current layout, the next iterations run on
    a layout of their sequences only.

    Args:
        layout: The (student, skill) sequences.
        row_skill: (n_positions,) skill index of each flat position.
        row_correct: (n_positions,) bool answer of each flat position.
        values: Starting parameters, each (n_total,).
        n_total: Number of skills (times restarts when fitted side by side).
        config: Bounds, forget switch and tolerance.
        max_iterations: Most EM iterations.

    Returns:
        (values, log_likelihood, iterations): the parameters after each skill's last
        M-step, the training log-likelihood per skill at its last E-step, and the
        iterations run (by the slowest skill).
    """
    n_rows = np.bincount(row_skill, minlength=n_total).astype(np.float64)  # (n_total,)
    values = {name: np.array(value, dtype=np.float64) for name, value in values.items()}
    log_likelihood = np.full(n_total, -np.inf)
    running = n_rows > 0  # (n_total,) skills still iterating
    iteration = 0
    while iteration < max_iterations and running.any():
        keep = running[layout.sequence_skill]  # (n_sequences,)
        if not keep.all():
            layout, positions = _subset(layout, keep)
            row_skill, row_correct = row_skill[positions], row_correct[positions]
        em_step = _em_step(layout, row_skill, row_correct, n_total, config)
        layout_rows = n_rows[running].sum()
        while (
            iteration < max_iterations and n_rows[running].sum() > _RELAYOUT_FRACTION * layout_rows
        ):
            updated, new_log_likelihood = em_step(values)
            iteration += 1
            improvement = (new_log_likelihood - log_likelihood) / np.maximum(n_rows, 1.0)
            for name in PARAMETER_NAMES:
                values[name][running] = updated[name][running]
            log_likelihood[running] = new_log_likelihood[running]
            running &= improvement > config.tolerance
    return values, log_likelihood, iteration


def _em_step(
    layout: _Layout, row_skill: np.ndarray, row_correct: np.ndarray, n_total: int, config: BKTConfig
):
    """One EM iteration over a layout, as a function of the parameters.

    Args:
        layout, row_skill, row_correct, n_total, config: As in ``_em``.

    Returns:
        ``em_step(values) -> (updated, log_likelihood)``: parameters (n_total,) after one
        E-step and M-step, and the log-likelihood (n_total,) of ``values`` (0 for skills
        without rows in the layout, whose parameters come back unchanged).
    """
    n_rows = np.bincount(row_skill, minlength=n_total).astype(np.float64)  # (n_total,)
    n_right = np.bincount(row_skill, weights=row_correct, minlength=n_total)  # (n_total,)
    n_first = np.bincount(layout.sequence_skill, minlength=n_total).astype(np.float64)  # (n_total,)
    start = layout.offsets[1]  # rows from here on are the successors of a transition
    moving_skill = row_skill[start:]  # (n_transitions,)
    last = layout.last_positions  # (n_sequences,)
    last_skill = layout.sequence_skill  # (n_sequences,)
    answer = 2 * row_skill + row_correct  # (n_positions,) index into per-(skill, answer) tables
    moving_posterior = np.empty(len(moving_skill))

    def em_step(values: dict[str, np.ndarray]) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """One E-step and M-step: (updated parameters, log-likelihood (n_total,) of ``values``)."""
        prior, learn, forget, guess, slip = (values[name] for name in PARAMETER_NAMES)
        # E-step in p(unknown): forward filter, backward smoother, expected counts.
        ratio = np.stack([(1.0 - guess) / slip, guess / (1.0 - slip)], axis=1).ravel()[
            answer
        ]  # (n_positions,)
        moving_learn = learn[moving_skill]  # (n_transitions,)
        moving_forget = forget[moving_skill] if config.forget else None  # (n_transitions,)
        keep = 1.0 - moving_learn if moving_forget is None else 1.0 - moving_learn - moving_forget
        unknown = _forward(
            layout, 1.0 - prior[layout.sequence_skill], ratio, keep, moving_forget, moving_posterior
        )
        evidence = unknown * ratio  # (n_positions,) becomes p(answer | past) / p(answer | known)
        evidence += 1.0
        evidence -= unknown
        # log p(answer | past) = log evidence + log p(answer | known);
        # the second sum is closed-form.
        last_posterior = unknown[last] * ratio[last] / evidence[last]  # (n_sequences,)
        log_likelihood = (
            np.bincount(row_skill, weights=np.log(evidence, out=evidence), minlength=n_total)
            + n_right * np.log(1.0 - slip)
            + (n_rows - n_right) * np.log(slip)
        )
        next_unknown = unknown[start:]  # (n_transitions,) p(unknown) before the next row
        # Backward recursion h_t = to_known + (stay_unknown - to_known) h_{t+1}, whatever the
        # forget: P(unknown now | known next, past) = posterior * learn / P(known next | past),
        # P(unknown now | unknown next, past) = posterior * (1 - learn) / P(unknown next | past).
        to_known = moving_posterior * moving_learn / (1.0 - next_unknown)  # (n_transitions,)
        if moving_forget is None:
            # without forgetting, P(unknown next | past) is exactly posterior * (1 - learn):
            # the ratio is 1
            stay_unknown = (next_unknown > 0).astype(np.float64)
        else:
            stay_unknown = np.divide(
                moving_posterior * (1.0 - moving_learn),
                next_unknown,
                out=np.zeros_like(next_unknown),
                where=next_unknown > 0,
            )
        stay_unknown -= to_known
        # (n_positions,) p(unknown | all answers); rounding may leave it 1e-16 outside [0, 1],
        # harmless in the sums below (the M-step clips the parameters).
        smoothed = _smooth(layout, last_posterior, to_known, stay_unknown)
        next_smoothed = smoothed[start:]  # (n_transitions,)
        learned = np.bincount(
            moving_skill, weights=to_known * (1.0 - next_smoothed), minlength=n_total
        )
        by_answer = np.bincount(answer, weights=smoothed, minlength=2 * n_total).reshape(n_total, 2)
        unknown_right = by_answer[:, 1]  # (n_total,) expected unknown rows answered right
        unknown_all = by_answer.sum(axis=1)  # (n_total,)
        unknown_before = unknown_all - np.bincount(
            last_skill, weights=smoothed[last], minlength=n_total
        )
        known_before = (n_rows - n_first) - unknown_before
        if moving_forget is not None:
            # P(known now, unknown next | all)
            #     = (1 - posterior) * forget * P(unknown next | all) / P(unknown next | past)
            forgotten = np.divide(
                (1.0 - moving_posterior) * moving_forget * next_smoothed,
                next_unknown,
                out=np.zeros_like(next_unknown),
                where=next_unknown > 0,
            )
            forgotten_sum = np.bincount(moving_skill, weights=forgotten, minlength=n_total)
        else:
            forgotten_sum = np.zeros(n_total)
        # M-step: each parameter's update is a one-dimensional concave maximisation, so
        # clipping it to its bounds gives the constrained maximum.
        updated = {
            "prior": 1.0
            - _ratio_or(
                np.bincount(layout.sequence_skill, weights=smoothed[:start], minlength=n_total),
                n_first,
                1.0 - prior,
            ),
            "learn": _ratio_or(learned, unknown_before, learn),
            "forget": _ratio_or(forgotten_sum, known_before, forget),
            "guess": _ratio_or(unknown_right, unknown_all, guess),
            "slip": _ratio_or(
                (n_rows - n_right) - (unknown_all - unknown_right), n_rows - unknown_all, slip
            ),
        }
        upper = {
            "prior": 1.0 - _EPS,
            "learn": 1.0 - _EPS,
            "forget": 1.0 - _EPS,
            "guess": config.max_guess,
            "slip": config.max_slip,
        }
        values = {name: np.clip(updated[name], _EPS, upper[name]) for name in PARAMETER_NAMES}
        if not config.forget:
            values["forget"] = np.zeros(n_total)
        return values, log_likelihood

    return em_step


def _tile(layout: _Layout, repeats: int, n_skills: int) -> _Layout:
    """The layout of ``repeats`` copies of every sequence, copy r on skills r * n_skills + k.

    Sequence rank i, copy r becomes rank i * repeats + r, so the copies stay sorted by
    length and every time step's block stays contiguous.
    """
    copy = np.arange(repeats)

    def spread(index: np.ndarray) -> np.ndarray:
        return (index[:, None] * repeats + copy).ravel()

    return _Layout(
        rows=np.repeat(layout.rows, repeats),
        offsets=layout.offsets * repeats,
        n_active=layout.n_active * repeats,
        sequence_skill=(layout.sequence_skill[:, None] + copy * n_skills).ravel(),
        sequence_of=spread(layout.sequence_of),
        step=np.repeat(layout.step, repeats),
        last_positions=spread(layout.last_positions),
    )


class BKT:
    """Bayesian Knowledge Tracing with per-skill parameters fitted by EM.

    Attributes:
        config: The settings.
        params: DataFrame indexed by ``skill_id`` (the order of ``skill_ids``) with
            columns prior, learn, forget, guess, slip (and after ``fit``: n_rows,
            log_likelihood, the best restart's training log-likelihood).
        global_mean: Training mean correctness, the fallback for unseen skills.
        n_iterations: EM iterations run by the last ``fit``.
        n_unknown_skill_rows: Rows of the last ``predict`` whose skill was unseen.
    """

    config_class = BKTConfig  # what the constructor takes (the registry's flags read it)

    def __init__(self, config: BKTConfig | None = None) -> None:
        self.config = BKTConfig() if config is None else config
        if not isinstance(self.config, BKTConfig):
            raise TypeError(f"BKT expects a BKTConfig, got {type(self.config).__name__}")
        self.params: pd.DataFrame | None = None
        self.global_mean: float | None = None
        self.n_iterations = 0
        self.n_unknown_skill_rows = 0

    @classmethod
    def from_params(
        cls,
        skill_ids: np.ndarray,
        prior: np.ndarray,
        learn: np.ndarray,
        guess: np.ndarray,
        slip: np.ndarray,
        forget: np.ndarray | None = None,
        global_mean: float = 0.5,
        config: BKTConfig | None = None,
    ) -> "BKT":
        """A BKT with given parameters (e.g. to simulate, or from another fit).

        Args:
            skill_ids: (n_skills,) distinct integer skill ids.
            prior, learn, guess, slip: (n_skills,) probabilities per skill.
            forget: (n_skills,) probabilities, or None for no forgetting.
            global_mean: Prediction for rows of unseen skills.
            config: Settings (default ``BKTConfig()``).

        Returns:
            The model, ready to predict.

        Raises:
            ValueError: If shapes differ, ids repeat, or a value is outside [0, 1].
        """
        skill_ids = np.asarray(skill_ids, dtype=np.int64)
        if len(np.unique(skill_ids)) != len(skill_ids):
            raise ValueError("BKT.from_params: skill_ids must be distinct")
        values = {
            "prior": prior,
            "learn": learn,
            "guess": guess,
            "slip": slip,
            "forget": np.zeros(len(skill_ids)) if forget is None else forget,
        }
        columns = {}
        for name in PARAMETER_NAMES:
            value = np.asarray(values[name], dtype=np.float64)
            if value.shape != skill_ids.shape:
                raise ValueError(
                    f"BKT.from_params: {name} has shape {value.shape}, skill_ids {skill_ids.shape}"
                )
            if not np.all((value >= 0.0) & (value <= 1.0)):
                raise ValueError(f"BKT.from_params: {name} must be in [0, 1], got {value}")
            columns[name] = value
        model = cls(config)
        model.params = pd.DataFrame(columns, index=pd.Index(skill_ids, name="skill_id"))
        model.global_mean = float(global_mean)
        return model

    @property
    def skill_ids(self) -> np.ndarray:
        """(n_skills,) sorted skill ids seen in training."""
        self._require_fitted("skill_ids")
        return self.params.index.to_numpy()

    def _require_fitted(self, where: str) -> None:
        if self.params is None:
            raise RuntimeError(
                f"BKT.{where}: the model is not fitted; call fit(table) or load(directory) first"
            )

    def _initial(self, n_skills: int) -> dict[str, np.ndarray]:
        """(n_restarts * n_skills,) starting values: restart 0 from config, the rest random."""
        config = self.config
        rng = np.random.default_rng(config.seed)
        n_random = (config.n_restarts - 1) * n_skills
        draws = {
            "prior": rng.uniform(0.05, 0.95, n_random),
            "learn": rng.uniform(0.01, 0.4, n_random),
            "forget": rng.uniform(0.0, 0.1, n_random) if config.forget else np.zeros(n_random),
            "guess": rng.uniform(0.05, config.max_guess, n_random),
            "slip": rng.uniform(0.05, config.max_slip, n_random),
        }
        first = {name: getattr(config, f"init_{name}") for name in PARAMETER_NAMES}
        if not config.forget:
            first["forget"] = 0.0
        return {
            name: np.concatenate([np.full(n_skills, first[name]), draws[name]])
            for name in PARAMETER_NAMES
        }

    def fit(self, table: pd.DataFrame, valid: pd.DataFrame | None = None) -> "BKT":
        """Fit prior, learn, (forget,) guess and slip of every skill by EM.

        With ``n_restarts`` > 1, all starting points run side by side to convergence and
        each skill keeps its best (highest log-likelihood); a last EM run from the kept
        values checks convergence (one or two iterations).

        Args:
            table: Canonical training interactions (not modified); must not be empty.
            valid: Unused (EM stops on ``tolerance``); accepted for the protocol.

        Returns:
            The fitted model itself.
        """
        validate_table(table, where="BKT.fit")
        if len(table) == 0:
            raise ValueError("BKT.fit: the training table is empty")
        config = self.config
        skill, skill_ids = pd.factorize(
            table["skill_id"].to_numpy(), sort=True
        )  # 2 ms; np.unique 17 ms
        n_skills, repeats = len(skill_ids), config.n_restarts
        correct = table["correct"].to_numpy().astype(bool)
        student, order = student_codes(table), table["order"].to_numpy()
        layout = _time_major(student, skill, order)
        row_skill = layout.sequence_skill[layout.sequence_of]  # (n_positions,) skill of each row
        row_correct = correct[layout.rows]  # (n_positions,)
        values = self._initial(n_skills)
        self.n_iterations = 0
        if repeats > 1:
            # Restart r fits a copy of every skill as skill r * n_skills + k, side by side.
            tiled = _tile(layout, repeats, n_skills)
            values, log_likelihood, self.n_iterations = _em(
                tiled,
                tiled.sequence_skill[tiled.sequence_of],
                np.repeat(row_correct, repeats),
                values,
                repeats * n_skills,
                config,
                config.max_iterations,
            )
            best = np.argmax(log_likelihood.reshape(repeats, n_skills), axis=0)  # (n_skills,)
            pick = best * n_skills + np.arange(n_skills)
            values = {name: value[pick] for name, value in values.items()}
        values, log_likelihood, iterations = _em(
            layout, row_skill, row_correct, values, n_skills, config, config.max_iterations
        )
        self.n_iterations += iterations
        columns = {name: values[name] for name in PARAMETER_NAMES}
        columns["n_rows"] = np.bincount(row_skill, minlength=n_skills)
        columns["log_likelihood"] = log_likelihood
        self.params = pd.DataFrame(
            columns, index=pd.Index(skill_ids.astype(np.int64), name="skill_id")
        )
        self.global_mean = float(correct.mean())
        return self

    def _arrays(self) -> tuple[np.ndarray, ...]:
        return tuple(self.params[name].to_numpy() for name in PARAMETER_NAMES)

    def _filter(
        self, table: pd.DataFrame, where: str
    ) -> tuple[np.ndarray, np.ndarray, _Layout, np.ndarray]:
        """Forward filter over the known-skill rows of a table.

        Returns:
            (known_rows, skill_index, layout, p_unknown): rows (positions in ``table``)
            with a known skill, their skill indices, their layout, and p(unknown) before
            each flat position.
        """
        validate_table(table, where=where)
        skill_ids = self.skill_ids
        skill = table["skill_id"].to_numpy()
        index = np.minimum(np.searchsorted(skill_ids, skill), len(skill_ids) - 1)  # (n_rows,)
        known_rows = np.flatnonzero(skill_ids[index] == skill)
        skill_index = index[known_rows]
        layout = _time_major(
            student_codes(table)[known_rows], skill_index, table["order"].to_numpy()[known_rows]
        )
        prior, learn, forget, guess, slip = self._arrays()
        row_skill = skill_index[layout.rows]  # (n_positions,)
        ratio = _answer_ratio(
            guess[row_skill],
            slip[row_skill],
            table["correct"].to_numpy()[known_rows][layout.rows].astype(bool),
        )
        moving_skill = row_skill[layout.offsets[1] :]  # (n_transitions,)
        p_unknown = _forward(
            layout,
            1.0 - prior[layout.sequence_skill],
            ratio,
            1.0 - forget[moving_skill] - learn[moving_skill],
            forget[moving_skill],
        )
        return known_rows, skill_index, layout, p_unknown

    def predict(self, table: pd.DataFrame) -> pd.DataFrame:
        """p(correct) of every row from its (student, skill) forward filter.

        Args:
            table: Canonical interactions (not modified), any row order.

        Returns:
            A copy of ``table`` in the same row order with float column ``p_correct``.
            Rows of unseen skills get ``global_mean`` (counted in
            ``n_unknown_skill_rows``, with a warning).
        """
        self._require_fitted("predict")
        validate_table(table, where="BKT.predict")
        p = np.full(len(table), self.global_mean)
        skill_ids = self.skill_ids
        skill = table["skill_id"].to_numpy()
        known = np.isin(skill, skill_ids)  # (n_rows,)
        self.n_unknown_skill_rows = int((~known).sum())
        if self.n_unknown_skill_rows:
            warnings.warn(
                f"BKT.predict: {self.n_unknown_skill_rows} row(s) have skills unseen in training; "
                f"they get the training mean {self.global_mean:.4f}",
                stacklevel=2,
            )
        result = table.copy()
        if known.any():
            p[known] = self._predict_known(table)
        result[PREDICTION_COLUMN] = p
        return result

    def _predict_known(self, table: pd.DataFrame) -> np.ndarray:
        """p(correct) of the rows of known skills, in table order."""
        known_rows, skill_index, layout, p_unknown = self._filter(table, "BKT.predict")
        prior, learn, forget, guess, slip = self._arrays()
        row_skill = skill_index[layout.rows]  # (n_positions,)
        p_flat = (
            1.0 - slip[row_skill] - p_unknown * (1.0 - slip[row_skill] - guess[row_skill])
        )  # (n_positions,)
        # A repeated row of the same attempt (same student, skill and order) takes the
        # prediction of the first of them: it must not see its twin's answer.
        order = table["order"].to_numpy()[known_rows][layout.rows]  # (n_positions,)
        along = np.lexsort((layout.step, layout.sequence_of))  # flat positions in sequence order
        head = np.ones(len(along), dtype=bool)
        head[1:] = (layout.sequence_of[along][1:] != layout.sequence_of[along][:-1]) | (
            order[along][1:] != order[along][:-1]
        )
        first_of_attempt = np.maximum.accumulate(
            np.where(head, np.arange(len(along)), 0)
        )  # (n_positions,)
        p_flat[along] = p_flat[along][first_of_attempt]
        p = np.empty(len(table))
        p[known_rows[layout.rows]] = p_flat
        return p[known_rows]

    def _unknown_after(self, history: pd.DataFrame, where: str) -> np.ndarray:
        """(n_skills,) p(unknown) before a next attempt after one student's history."""
        self._require_fitted(where)
        if len(history) and history["user_id"].nunique() > 1:
            raise ValueError(
                f"BKT.{where}: needs one student's history, got "
                f"{history['user_id'].nunique()} students"
            )
        prior, learn, forget, guess, slip = self._arrays()
        unknown = 1.0 - prior
        if len(history) and np.isin(history["skill_id"].to_numpy(), self.skill_ids).any():
            known_rows, skill_index, layout, p_unknown = self._filter(history, f"BKT.{where}")
            last = layout.last_positions  # (n_sequences,) flat position of each skill's last row
            skill = layout.sequence_skill  # (n_sequences,)
            correct = history["correct"].to_numpy()[known_rows][layout.rows[last]].astype(bool)
            ratio = _answer_ratio(guess[skill], slip[skill], correct)  # (n_sequences,)
            posterior = p_unknown[last] * ratio / (1.0 - p_unknown[last] + p_unknown[last] * ratio)
            unknown[skill] = posterior * (1.0 - learn[skill] - forget[skill]) + forget[skill]
        return unknown

    def mastery(self, history: pd.DataFrame) -> np.ndarray:
        """p(skill known) for each skill after one student's history (BKT's mastery estimate).

        Args:
            history: One student's rows in the canonical format (may be empty); rows of
                unseen skills are ignored.

        Returns:
            (n_skills,) p(known) before a next attempt, in the order of ``skill_ids``.

        Raises:
            ValueError: If the history holds more than one student.
        """
        return 1.0 - self._unknown_after(history, "mastery")

    def knowledge_state(self, history: pd.DataFrame) -> np.ndarray:
        """(n_skills,) p(correct) on a next attempt at each skill after one student's history.

        Args:
            history: One student's rows in the canonical format (may be empty).

        Returns:
            (n_skills,) (1 - slip) * p(known) + guess * p(unknown), order of ``skill_ids``.
        """
        unknown = self._unknown_after(history, "knowledge_state")
        _, _, _, guess, slip = self._arrays()
        return 1.0 - slip - unknown * (1.0 - slip - guess)

    def save(self, directory: str | Path) -> Path:
        """Write the parameters and settings to ``directory`` (``model.pt``, ``config.json``)."""
        self._require_fitted("save")
        payload = {
            "skill_ids": np.array(self.skill_ids),
            "global_mean": self.global_mean,
            "n_iterations": self.n_iterations,
            "columns": {
                name: np.array(self.params[name].to_numpy()) for name in self.params.columns
            },
        }
        return write_model(directory, "bkt", payload, self.config.to_dict())

    @classmethod
    def load(cls, directory: str | Path) -> "BKT":
        """Read a model written by ``save`` (weights-only loading, no pickle)."""
        payload, config = read_model(directory, "bkt")
        model = cls(BKTConfig.from_dict(config))
        index = pd.Index(payload["skill_ids"].numpy(), name="skill_id")
        model.params = pd.DataFrame(
            {name: value.numpy() for name, value in payload["columns"].items()}, index=index
        )
        model.global_mean = float(payload["global_mean"])
        model.n_iterations = int(payload["n_iterations"])
        return model


def _ratio_or(numerator: np.ndarray, denominator: np.ndarray, fallback: np.ndarray) -> np.ndarray:
    """numerator / denominator where the denominator is positive, else the fallback (no data)."""
    safe = denominator > 0
    return np.where(safe, numerator / np.where(safe, denominator, 1.0), fallback)
