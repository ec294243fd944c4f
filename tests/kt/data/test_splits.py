"""kt.data.splits: every split is by student, covers every row once, and is seeded."""

import numpy as np
import pandas as pd
import pytest

from riley_gym.kt.data import make_table
from riley_gym.kt.data.splits import (
    dkt_synthetic_split,
    holdout_split,
    kfold_splits,
    pykt_split,
    pykt_test_windows,
)


@pytest.fixture
def table():
    rng = np.random.default_rng(0)
    n_rows = 400
    users = rng.integers(0, 23, n_rows)
    return make_table(users, rng.integers(0, 4, n_rows), rng.integers(0, 2, n_rows), fold=users % 5)


def row_keys(part):
    return sorted(map(tuple, part[["user_id", "order"]].to_numpy().tolist()))


def assert_partition(table, train, test):
    assert not set(train["user_id"]) & set(test["user_id"])
    assert row_keys(pd.concat([train, test])) == row_keys(table)


def test_holdout_by_student_and_seeded(table):
    before = table.copy()
    train, test = holdout_split(table, test_fraction=0.25, seed=3)
    assert_partition(table, train, test)
    assert test["user_id"].nunique() == round(0.25 * 23)
    pd.testing.assert_frame_equal(table, before)
    again = holdout_split(table, test_fraction=0.25, seed=3)[1]
    other = holdout_split(table, test_fraction=0.25, seed=4)[1]
    assert set(again["user_id"]) == set(test["user_id"]) != set(other["user_id"])
    # rows keep the input order inside each part
    assert train["order"].groupby(train["user_id"]).is_monotonic_increasing.all()


def test_holdout_errors(table):
    with pytest.raises(ValueError, match=r"test_fraction must be in \(0, 1\), got 1.0"):
        holdout_split(table, test_fraction=1.0)
    with pytest.raises(ValueError, match="at least 2 students"):
        holdout_split(make_table([1, 1], [0, 0], [1, 0]))


def test_kfold_each_student_tested_once(table):
    folds = kfold_splits(table, k=4, seed=1)
    assert len(folds) == 4
    tested = [set(test["user_id"]) for _, test in folds]
    assert sorted(len(s) for s in tested) == [5, 6, 6, 6]  # 23 students in 4 folds
    assert set().union(*tested) == set(table["user_id"]) and sum(map(len, tested)) == 23
    for train, test in folds:
        assert_partition(table, train, test)
    with pytest.raises(ValueError, match="k must be an integer >= 2"):
        kfold_splits(table, k=1)
    with pytest.raises(ValueError, match="k=30 exceeds the number of students"):
        kfold_splits(table, k=30)


def test_dkt_synthetic_split_first_half_by_first_appearance():
    table = make_table([9, 9, 4, 7, 2, 5], [0] * 6, [1, 0, 1, 0, 1, 1])
    train, test = dkt_synthetic_split(table)
    assert train["user_id"].tolist() == [9, 9, 4] and test["user_id"].tolist() == [7, 2, 5]


def test_pykt_split_uses_fold_column(table):
    train, valid = pykt_split(table, valid_fold=2)
    assert set(valid["fold"]) == {2} and 2 not in set(train["fold"])
    assert_partition(table, train, valid)
    with pytest.raises(
        ValueError, match=r"valid_fold=7 not in the table's folds \[0, 1, 2, 3, 4\]"
    ):
        pykt_split(table, valid_fold=7)
    with pytest.raises(ValueError, match="no 'fold' column"):
        pykt_split(table.drop(columns="fold"))
    straddling = table.copy()
    straddling.loc[0, "fold"] = (straddling.loc[0, "fold"] + 1) % 5
    with pytest.raises(ValueError, match="appears in more than one fold"):
        pykt_split(straddling)


def test_pykt_test_windows_cut_students_like_pykt():
    # Student "a": 450 rows -> windows of 200, 200, 50; "b": 202 rows -> 200 and a dropped remainder
    # of 2; "c": 2 rows -> dropped whole. Rows arrive shuffled: windows follow each student's order.
    sizes = {"a": 450, "b": 202, "c": 2}
    users = [u for u, n in sizes.items() for _ in range(n)]
    orders = [i for n in sizes.values() for i in range(n)]
    rng = np.random.default_rng(0)
    shuffle = rng.permutation(len(users))
    table = make_table(
        user_ids=np.array(users)[shuffle],
        skill_ids=np.zeros(len(users), int),
        correct=rng.integers(2, size=len(users)),
        order=np.array(orders)[shuffle],
    )
    windows = pykt_test_windows(table)
    assert windows.groupby("user_id", sort=False).size().to_dict() == {
        "a/0": 200,
        "a/1": 200,
        "a/2": 50,
        "b/0": 200,
    }
    first = windows[windows.user_id == "a/1"]
    assert first["order"].tolist() == list(
        range(200, 400)
    )  # the second window holds the student's attempts 200..399
    assert len(table) == 654 and len(pykt_test_windows(table, window=1000, min_rows=1)) == 654
    with pytest.raises(ValueError, match="window >= 1"):
        pykt_test_windows(table, window=0)
