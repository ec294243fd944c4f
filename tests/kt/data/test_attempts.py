"""kt.data.attempts: attempt grouping against hand-worked tables and brute-force loops."""

import numpy as np
import pandas as pd
import pytest

from riley_gym.kt.data.attempts import (
    attempt_codes,
    attempt_index,
    attempt_sizes,
    canonical_order,
    history_length,
    prior_counts,
    sort_canonical,
    student_codes,
)


@pytest.fixture
def hand_table():
    # Student "b" first seen; its attempt at order 3 carries two skills (rows 0 and 3).
    return pd.DataFrame(
        {
            "user_id": ["b", "b", "a", "b", "b", "a"],
            "order": [3, 1, 1, 3, 5, 0],
            "skill_id": [0, 0, 0, 1, 0, 0],
            "correct": [1, 1, 0, 0, 1, 1],
        }
    )


def test_hand_worked_grouping(hand_table):
    before = hand_table.copy()
    assert student_codes(hand_table).tolist() == [0, 0, 1, 0, 0, 1]
    assert attempt_index(hand_table).tolist() == [1, 0, 1, 1, 2, 0]
    assert attempt_sizes(hand_table).tolist() == [2, 1, 1, 2, 1, 1]
    # b: order 1 -> attempt 0, order 3 -> attempt 1, order 5 -> 2; a: order 0 -> 3, 1 -> 4
    assert attempt_codes(hand_table).tolist() == [1, 0, 4, 1, 2, 3]
    assert history_length(hand_table).tolist() == [1, 0, 1, 1, 3, 0]
    assert canonical_order(hand_table).tolist() == [1, 0, 3, 4, 5, 2]
    assert sort_canonical(hand_table)["order"].tolist() == [1, 3, 3, 5, 0, 1]
    pd.testing.assert_frame_equal(hand_table, before)


def test_prior_counts_hand_worked(hand_table):
    successes, failures = prior_counts(hand_table, by="skill_id")
    # skill 0 of b: order 1 (right), order 3 (right), order 5 sees both; a: order 0 (right)
    assert successes.tolist() == [1, 0, 1, 0, 2, 0]
    assert failures.tolist() == [0, 0, 0, 0, 0, 0]
    successes, failures = prior_counts(hand_table, by="user_id")
    # by student: row 3 (b, order 3) must not count row 0 (same attempt)
    assert successes.tolist() == [1, 0, 1, 1, 2, 0]
    assert failures.tolist() == [0, 0, 0, 0, 1, 0]


def _random_table(seed, n_rows=120):
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "user_id": rng.integers(0, 6, n_rows),
            "order": rng.integers(0, 15, n_rows).astype(float),  # many ties: multi-skill attempts
            "skill_id": rng.integers(0, 3, n_rows),
            "correct": rng.integers(0, 2, n_rows),
        }
    )


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_against_brute_force(seed):
    table = _random_table(seed)
    users, order = table["user_id"].to_numpy(), table["order"].to_numpy()
    skills, correct = table["skill_id"].to_numpy(), table["correct"].to_numpy()
    index, history = attempt_index(table), history_length(table)
    successes, failures = prior_counts(table)
    sizes = attempt_sizes(table)
    for row in range(len(table)):
        same_student = users == users[row]
        earlier = same_student & (order < order[row])
        assert index[row] == len(np.unique(order[earlier]))
        assert history[row] == earlier.sum()
        assert sizes[row] == (same_student & (order == order[row])).sum()
        same_skill_earlier = earlier & (skills == skills[row])
        assert successes[row] == correct[same_skill_earlier].sum()
        assert failures[row] == (1 - correct[same_skill_earlier]).sum()


def test_bad_input_errors():
    with pytest.raises(ValueError, match="lacks column"):
        attempt_index(pd.DataFrame({"user_id": [1]}))
    with pytest.raises(ValueError, match="NaN at row 1"):
        attempt_index(pd.DataFrame({"user_id": [1, 1], "order": [0.0, np.nan]}))
    with pytest.raises(ValueError, match="missing value at row 0"):
        student_codes(pd.DataFrame({"user_id": [None, "a"], "order": [0, 1]}))
    with pytest.raises(ValueError, match="must be numeric"):
        attempt_index(pd.DataFrame({"user_id": [1], "order": ["x"]}))
    with pytest.raises(TypeError, match="DataFrame"):
        attempt_index([1, 2])
