"""simulate_logs: the canonical interaction table with hidden truth, policies, seeding."""

import numpy as np
import pandas as pd
import pytest

from riley_gym.envs.curriculum import load_curriculum
from riley_gym.envs.simulate import simulate_logs
from riley_gym.envs.student_dynamics import BKTParams

RILEY = load_curriculum("riley")
INT_COLUMNS = ["user_id", "item_id", "skill_id", "correct", "order"]


@pytest.mark.parametrize("dynamics", ["bkt", "irt"])
def test_canonical_columns_one_row_per_student_step(dynamics):
    table = simulate_logs(n_students=30, dynamics=dynamics, episode_length=12, seed=1)
    assert list(table.columns) == INT_COLUMNS + ["p_correct_true", "mastery_true"]
    assert len(table) == 30 * 12
    assert all(table[column].dtype == np.int64 for column in INT_COLUMNS)
    assert table["p_correct_true"].dtype == np.float64 and table["mastery_true"].dtype == np.float64
    np.testing.assert_array_equal(table["user_id"], np.repeat(np.arange(30), 12))
    np.testing.assert_array_equal(table["order"], np.tile(np.arange(12), 30))
    np.testing.assert_array_equal(table["skill_id"], RILEY.exercise_skill[table["item_id"]])
    assert set(table["correct"].unique()) <= {0, 1}
    assert table["item_id"].between(0, RILEY.n_exercises - 1).all()
    assert table["mastery_true"].between(0.0, 1.0).all()


def test_correct_rate_matches_the_hidden_truth():
    # Seed 2, 60,000 answers: the standard error of the correct rate is under 0.002.
    table = simulate_logs(n_students=2000, episode_length=30, seed=2)
    assert abs(table["correct"].mean() - table["p_correct_true"].mean()) < 0.01
    assert set(table["mastery_true"].unique()) == {0.0, 1.0}
    mastered = table[table["mastery_true"] == 1.0]
    expected = 1.0 - RILEY.slip[mastered["item_id"]]
    np.testing.assert_allclose(mastered["p_correct_true"], expected)
    # Learning shows in the log: later answers are right more often.
    early = table[table["order"] < 5]["correct"].mean()
    late = table[table["order"] >= 25]["correct"].mean()
    assert late > early + 0.1


def test_same_seed_same_table():
    first = simulate_logs(n_students=20, episode_length=10, seed=9)
    pd.testing.assert_frame_equal(first, simulate_logs(n_students=20, episode_length=10, seed=9))
    assert not first.equals(simulate_logs(n_students=20, episode_length=10, seed=10))


def test_callable_policy_sees_the_observation():
    seen = []

    def repeat_last_or_start(observation, rng):
        seen.append(observation["time"][0, 0])
        last = observation["last_exercise"]
        return np.where(last == RILEY.n_exercises, 4, last)

    params = BKTParams(prior=0.0, learn=0.0, prior_sd=0.0)
    table = simulate_logs(
        n_students=5, episode_length=4, policy=repeat_last_or_start, params=params, seed=0
    )
    assert (table["item_id"] == 4).all()
    np.testing.assert_allclose(seen, [0.0, 0.25, 0.5, 0.75])
    np.testing.assert_allclose(table["p_correct_true"], RILEY.guess[4])


def test_bad_policies_are_rejected():
    with pytest.raises(ValueError, match="unknown policy 'greedy'"):
        simulate_logs(n_students=2, policy="greedy")
    with pytest.raises(ValueError, match="invalid action 99"):
        simulate_logs(n_students=2, policy=lambda observation, rng: np.full(2, 99))
