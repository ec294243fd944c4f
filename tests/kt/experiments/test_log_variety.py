"""The logs-without-variety experiment: exploring heuristics, their logs, the DAgger rounds."""

from __future__ import annotations

import numpy as np
import pytest

from riley_gym.envs.student_dynamics import make_dynamics
from riley_gym.kt.experiments.log_variety import Exploring, run_log_variety, session_log
from riley_gym.kt.experiments.tutor_pipeline import TutorConfig
from riley_gym.kt.tutoring.recommend import BlockedRecommender
from riley_gym.kt.tutoring.simulation import run_sessions

DYNAMICS = make_dynamics("bkt")
SKILLS = DYNAMICS.curriculum.exercise_skill


def test_exploring_follows_its_policy_at_zero_and_is_uniform_at_one():
    blocked = BlockedRecommender(SKILLS, 2)
    plain = run_sessions(blocked, DYNAMICS, 50, 10, seed=3)
    same = run_sessions(Exploring(blocked, 0.0), DYNAMICS, 50, 10, seed=3)
    assert np.array_equal(plain.exercises, same.exercises)
    uniform = run_sessions(Exploring(blocked, 1.0), DYNAMICS, 2000, 10, seed=3).exercises
    counts = np.bincount(uniform.ravel(), minlength=SKILLS.size) / uniform.size
    assert np.abs(counts - 1 / SKILLS.size).max() < 0.01
    with pytest.raises(ValueError, match="epsilon must be in"):
        Exploring(blocked, 1.5)


def test_session_log_has_one_row_per_student_step_in_order():
    record = run_sessions(BlockedRecommender(SKILLS, 2), DYNAMICS, 3, 4, seed=0)
    log = session_log(record, SKILLS, first_user=10)
    assert log["user_id"].tolist() == [10] * 4 + [11] * 4 + [12] * 4
    assert log["order"].tolist() == [0, 1, 2, 3] * 3
    assert log["item_id"].tolist() == record.exercises.T.ravel().tolist()
    assert (log["skill_id"] == SKILLS[log["item_id"]]).all()
    assert log["correct"].tolist() == record.correct.T.ravel().astype(int).tolist()


def test_each_dagger_round_adds_the_tutored_students_and_compares_again(tmp_path):
    config = TutorConfig.quick()
    results = run_log_variety(
        config, DYNAMICS, tmp_path, rounds=1, dagger_students=30,
        random_students=60, heuristic_students=20,
    )  # fmt: skip
    length = config.session_length
    assert [r["log_rows"] for r in results] == [120 * length, 150 * length]
    assert all("dqn" in r["policies"] and "verdicts" in r for r in results)
    assert (tmp_path / "round0" / "comparison.csv").is_file()
    assert (tmp_path / "round1" / "comparison.csv").is_file()
