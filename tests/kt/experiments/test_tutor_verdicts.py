"""The tutoring verdicts: the gap to the oracle a policy closes, paired wins, falls below random."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd

from riley_gym.kt.experiments.tutor_pipeline import verdicts


def comparison(finals: dict[str, np.ndarray]) -> SimpleNamespace:
    """What verdicts reads of a Comparison: per-student final post-tests and their means."""
    records = {name: SimpleNamespace(final=np.asarray(final)) for name, final in finals.items()}
    table = pd.DataFrame({"post_test_mean": {name: r.final.mean() for name, r in records.items()}})
    return SimpleNamespace(records=records, table=table)


STUDENTS = np.random.default_rng(0).uniform(0.3, 0.6, size=400)  # each student's own level


def test_gap_closed_is_measured_from_the_best_heuristic_to_the_oracle():
    judged = verdicts(comparison({
        "random": STUDENTS, "mastery": STUDENTS + 0.2, "dqn": STUDENTS + 0.3,
        "greedy": STUDENTS + 0.1, "oracle": STUDENTS + 0.4,
    }))  # fmt: skip
    assert judged["best_heuristic"] == "mastery" and judged["best_kt_policy"] == "dqn"
    closed = judged["gap_closed"]
    assert np.isclose(closed["dqn"], 0.5) and np.isclose(closed["mastery"], 0.0)
    assert np.isclose(closed["oracle"], 1.0) and np.isclose(closed["greedy"], -0.5)
    assert judged["beats_every_heuristic"] and judged["below_random"] == []
    assert set(judged["kt_vs_heuristics"]) == {"random", "mastery"}
    assert np.isclose(judged["kt_vs_heuristics"]["mastery"]["diff"], 0.1)


def test_a_tie_within_the_paired_interval_is_not_a_win():
    noise = np.random.default_rng(1).normal(0.0, 0.05, size=STUDENTS.size)
    judged = verdicts(comparison({
        "random": STUDENTS, "mastery": STUDENTS + 0.2, "dqn": STUDENTS + 0.2 + noise,
        "oracle": STUDENTS + 0.4,
    }))  # fmt: skip
    row = judged["kt_vs_heuristics"]["mastery"]
    assert abs(row["diff"]) < row["ci95"] and not row["better"]
    assert not judged["beats_every_heuristic"] and judged["kt_vs_heuristics"]["random"]["better"]


def test_policies_wholly_below_random_are_named_and_no_oracle_means_no_gap():
    judged = verdicts(comparison({
        "random": STUDENTS, "blocked": STUDENTS + 0.05, "expectimax": STUDENTS - 0.1,
        "greedy": STUDENTS + 0.01,
    }))  # fmt: skip
    assert judged["below_random"] == ["expectimax"]
    assert judged["best_kt_policy"] == "greedy" and not judged["beats_every_heuristic"]
    assert all(value is None for value in judged["gap_closed"].values())
