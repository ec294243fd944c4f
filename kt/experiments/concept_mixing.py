"""Concept mixing: more training students for DKT,
made by recombining real students' answers per concept.

On a log where every student answers the same exercises in the same order (a response matrix, as the
DKT paper's synthetic data), and the exercises fall into concepts whose abilities are independent
across students, a student's answers on one concept say nothing about their answers on another.
Then a virtual student that takes each concept's answers from a different real student (drawn at
random) is as likely a student as a real one, and DKT trained on many of them cannot learn the
spurious cross-concept dependences that a few thousand real students show by chance; it still learns
every dependence within a concept from real answer blocks. On the DKT paper's Synthetic-5 log,
DKT alone fits its training students better than the generating model fitted to them does, and
its test log-loss is 0.4933; trained also on 30 mixtures per student, 0.4887 (the Bayes predictor
of the generating model, with parameters learned from the same students: 0.4873).

The concepts are not given: ``kt.experiments.irt_oracle.cluster_exercises`` finds them in the
training students' answer correlations, their number chosen by held-out likelihood
(``choose_n_concepts``). The independence is an assumption about the data; ``mixing_report``
measures it (the mean absolute answer correlation within and across the concepts found). On real
logs, where skills correlate through general ability, it does not hold and this should not be used.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from riley_gym.kt.data import make_table
from riley_gym.kt.data.attempts import sort_canonical
from riley_gym.kt.experiments.irt_oracle import choose_n_concepts, cluster_exercises

__all__ = ["ResponseMatrix", "concept_mixtures", "mix_students", "mixing_report", "response_matrix"]


@dataclass
class ResponseMatrix:
    """Answers of students who all answered the same exercises in the same order."""

    user_ids: np.ndarray  # (n,) students, as first seen
    item_ids: np.ndarray  # (m,) exercise at each position
    skill_ids: np.ndarray  # (m,) skill at each position
    answers: np.ndarray  # (n, m) 0/1


def response_matrix(table: pd.DataFrame) -> ResponseMatrix:
    """The table as a response matrix.

    Raises:
        ValueError: naming the first student whose count or sequence of (exercise, skill)
            differs from the first student's: mixing needs one common sequence.
    """
    if len(table) == 0:
        raise ValueError("response_matrix: the table is empty")
    return _sorted_response_matrix(sort_canonical(table))


def _sorted_response_matrix(rows: pd.DataFrame) -> ResponseMatrix:
    """``response_matrix`` of a table already in canonical order."""
    users, starts, counts = np.unique(
        rows["user_id"].to_numpy(), return_index=True, return_counts=True
    )
    first_seen = np.argsort(starts)
    users, starts, counts = users[first_seen], starts[first_seen], counts[first_seen]
    m = int(counts[0])
    names = users.tolist()  # plain Python ids for the messages
    if (counts != m).any():
        bad = int(np.flatnonzero(counts != m)[0])
        raise ValueError(
            "concept mixing needs every student to answer the same exercises in the same order; "
            f"student {names[bad]!r} has {counts[bad]} rows, student {names[0]!r} has {m}"
        )
    items = rows["item_id"].to_numpy().reshape(len(users), m)
    skills = rows["skill_id"].to_numpy().reshape(len(users), m)
    differs = ((items != items[0]) | (skills != skills[0])).any(axis=1)
    if differs.any():
        bad = int(np.flatnonzero(differs)[0])
        position = int(np.flatnonzero((items[bad] != items[0]) | (skills[bad] != skills[0]))[0])
        raise ValueError(
            "concept mixing needs every student to answer the same exercises in the same order; "
            f"student {names[bad]!r}'s attempt {position} is exercise {items[bad, position]} "
            f"(skill {skills[bad, position]}), student {names[0]!r}'s is {items[0, position]} "
            f"(skill {skills[0, position]})"
        )
    answers = rows["correct"].to_numpy().reshape(len(users), m).astype(np.int64)
    return ResponseMatrix(users, items[0].copy(), skills[0].copy(), answers)


def mix_students(
    answers: np.ndarray, concept: np.ndarray, n_virtual: int, rng: np.random.Generator
) -> np.ndarray:
    """(n_virtual, m) answers: each virtual student's answers on concept c are those of a
    random real student.

    Args:
        answers: (n, m) 0/1 answers of the real students.
        concept: (m,) concept of each position.
        n_virtual: virtual students to make.
        rng: the draws of the donors, one per virtual student and concept.
    """
    _, concept_index = np.unique(concept, return_inverse=True)
    donors = rng.integers(
        0, answers.shape[0], size=(n_virtual, concept_index.max() + 1)
    )  # (virtual, concepts)
    return answers[donors[:, concept_index], np.arange(answers.shape[1])]  # (virtual, m)


def mixing_report(answers: np.ndarray, concept: np.ndarray) -> dict:
    """How independent the concepts look: mean |answer correlation| of exercise pairs within
    and across concepts."""
    correlation = np.abs(np.corrcoef(answers.T.astype(np.float64)))  # (m, m)
    same = concept[:, None] == concept[None, :]
    upper = np.triu(np.ones_like(same), k=1)
    within, across = correlation[same & upper], correlation[~same & upper]
    return {
        "n_concepts": int(len(np.unique(concept))),
        "concept": concept.tolist(),
        "mean_abs_correlation_within": float(within.mean()) if within.size else float("nan"),
        "mean_abs_correlation_across": float(across.mean()) if across.size else float("nan"),
    }


def concept_mixtures(
    table: pd.DataFrame,
    per_student: float,
    n_concepts: int = 0,
    seed: int = 0,
    concept: np.ndarray | None = None,
) -> tuple[pd.DataFrame, dict]:
    """The table with ``per_student`` virtual students per real one added, and a report.

    Args:
        table: canonical training interactions, a response matrix (see ``response_matrix``).
        per_student: virtual students per real student (> 0).
        n_concepts: concepts to cluster the exercises into; 0 chooses the number by held-out
            likelihood (``choose_n_concepts``).
        seed: seed of the donor draws.
        concept: (m,) concept of each position, to reuse an earlier clustering (then
            ``n_concepts`` is ignored).

    Returns:
        (real and virtual rows, canonical; ``mixing_report`` of the real answers plus
        "virtual_students"). Virtual students' ids follow the real ones: integers above the
        largest real id, or "mixed-<i>" strings when the ids are not integers.
    """
    if not per_student > 0:
        raise ValueError(f"concept_mixtures: per_student must be > 0, got {per_student}")
    if n_concepts < 0:
        raise ValueError(f"concept_mixtures: n_concepts must be >= 0 (0: choose), got {n_concepts}")
    if len(table) == 0:
        raise ValueError("concept_mixtures: the table is empty")
    rows = sort_canonical(table)
    matrix = _sorted_response_matrix(rows)
    m = matrix.answers.shape[1]
    if concept is None:
        concept = cluster_exercises(
            matrix.answers, n_concepts or choose_n_concepts(matrix.answers)[0]
        )
    elif len(concept) != m:
        raise ValueError(
            f"concept_mixtures: {len(concept)} concept labels for {m} exercises per student"
        )
    n_virtual = int(round(per_student * len(matrix.user_ids)))
    virtual = mix_students(
        matrix.answers, np.asarray(concept), n_virtual, np.random.default_rng(seed)
    )
    if np.issubdtype(matrix.user_ids.dtype, np.integer):
        ids = np.arange(n_virtual, dtype=np.int64) + int(matrix.user_ids.max()) + 1
    else:
        ids = np.array([f"mixed-{i}" for i in range(n_virtual)], dtype=object)
    mixed = make_table(
        np.repeat(ids, m),
        np.tile(matrix.skill_ids, n_virtual),
        virtual.ravel(),
        order=np.tile(np.arange(m), n_virtual),
        item_ids=np.tile(matrix.item_ids, n_virtual),
    )
    report = {**mixing_report(matrix.answers, np.asarray(concept)), "virtual_students": n_virtual}
    real = rows[list(mixed.columns)]  # the canonical columns; virtual students have no others
    return pd.concat([real, mixed], ignore_index=True), report
