"""Student-level splits of an interaction table: a student's rows never straddle.

- ``holdout_split``: a random test fraction of students.
- ``kfold_splits``: k folds of students.
- ``dkt_synthetic_split``: the DKT paper's Simulated-5 protocol (Piech et al. 2015):
  the first half of the students (in order of first appearance) train, the rest test.
- ``pykt_split``: pyKT's protocol (Liu et al. 2022): the ``fold`` column of
  ``train_valid.csv`` chooses the validation students; the test set is its own file.
- ``pykt_test_windows``: pyKT's scoring units on a test set (windows of 200 attempts,
  each its own "student"), to reproduce its published figures' convention.

Every split returns copies with the index reset and the row order of the input kept;
the input table is not modified.

Example:
    >>> from riley_gym.kt.data import make_table
    >>> table = make_table(user_ids=[0, 0, 1, 2, 3], skill_ids=[0, 1, 0, 0, 1],
    ...                    correct=[1, 0, 1, 1, 0])
    >>> train, test = dkt_synthetic_split(table)
    >>> sorted(set(train.user_id)), sorted(set(test.user_id))
    ([0, 1], [2, 3])
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from riley_gym.kt.data.attempts import student_codes

__all__ = [
    "holdout_split",
    "kfold_splits",
    "dkt_synthetic_split",
    "pykt_split",
    "pykt_test_windows",
]


def _take(table: pd.DataFrame, mask: np.ndarray) -> pd.DataFrame:
    part = table[mask].reset_index(drop=True)
    part.attrs = dict(table.attrs)
    return part


def _n_students(table: pd.DataFrame, where: str) -> tuple[np.ndarray, int]:
    codes = student_codes(table)
    n_students = int(codes.max()) + 1 if len(codes) else 0
    if n_students < 2:
        raise ValueError(f"{where}: need at least 2 students to split, got {n_students}")
    return codes, n_students


def holdout_split(
    table: pd.DataFrame, test_fraction: float = 0.2, seed: int = 0
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split students at random into train and test.

    Args:
        table: Canonical interaction table (not modified).
        test_fraction: Fraction of students in the test part, in (0, 1); rounded to a
            whole number of students, at least 1 and at most ``n_students - 1``.
        seed: Seed of the permutation of students.

    Returns:
        ``(train, test)`` tables.

    Raises:
        ValueError: If ``test_fraction`` is outside (0, 1) or there are < 2 students.
    """
    if not 0.0 < float(test_fraction) < 1.0:
        raise ValueError(f"holdout_split: test_fraction must be in (0, 1), got {test_fraction}")
    codes, n_students = _n_students(table, "holdout_split")
    n_test = min(max(int(round(test_fraction * n_students)), 1), n_students - 1)
    permutation = np.random.default_rng(seed).permutation(n_students)
    is_test = np.zeros(n_students, dtype=bool)
    is_test[permutation[:n_test]] = True
    return _take(table, ~is_test[codes]), _take(table, is_test[codes])


def kfold_splits(
    table: pd.DataFrame, k: int = 5, seed: int = 0
) -> list[tuple[pd.DataFrame, pd.DataFrame]]:
    """k-fold cross-validation by student: every student is in exactly one test fold.

    Args:
        table: Canonical interaction table (not modified).
        k: Number of folds, 2 <= k <= number of students.
        seed: Seed of the permutation of students.

    Returns:
        A list of ``k`` ``(train, test)`` pairs; fold sizes differ by at most one student.

    Raises:
        ValueError: If ``k`` is out of range.
    """
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 2:
        raise ValueError(f"kfold_splits: k must be an integer >= 2, got {k!r}")
    codes, n_students = _n_students(table, "kfold_splits")
    if k > n_students:
        raise ValueError(f"kfold_splits: k={k} exceeds the number of students ({n_students})")
    permutation = np.random.default_rng(seed).permutation(n_students)
    fold_of_student = np.empty(n_students, dtype=np.int64)
    for fold, members in enumerate(np.array_split(permutation, k)):
        fold_of_student[members] = fold
    fold_of_row = fold_of_student[codes]  # (n_rows,)
    return [
        (_take(table, fold_of_row != fold), _take(table, fold_of_row == fold)) for fold in range(k)
    ]


def dkt_synthetic_split(table: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The DKT paper's synthetic split: first half of students train, second half test.

    Students are ordered by first appearance (the row order of the response matrix);
    with an odd count the extra student goes to the test half.

    Args:
        table: Canonical interaction table (not modified).

    Returns:
        ``(train, test)`` tables.
    """
    codes, n_students = _n_students(table, "dkt_synthetic_split")
    is_train = codes < n_students // 2
    return _take(table, is_train), _take(table, ~is_train)


def pykt_split(
    train_valid_table: pd.DataFrame, valid_fold: int = 0
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """pyKT's protocol: the rows of ``valid_fold`` validate, the other folds train.

    Args:
        train_valid_table: Table read from pyKT's ``train_valid.csv`` (with ``fold``).
        valid_fold: The fold used for validation (pyKT uses 0..4).

    Returns:
        ``(train, valid)`` tables.

    Raises:
        ValueError: If there is no ``fold`` column, the fold is absent, or a student
            appears in more than one fold.
    """
    table = train_valid_table
    if "fold" not in table.columns:
        raise ValueError(
            f"pykt_split: table has no 'fold' column (read pyKT's train_valid.csv with "
            f"format='pykt'); columns are {list(table.columns)}"
        )
    folds = table["fold"].to_numpy()
    present = sorted(set(folds.tolist()))
    if valid_fold not in present:
        raise ValueError(f"pykt_split: valid_fold={valid_fold} not in the table's folds {present}")
    codes = student_codes(table)
    folds_per_student = pd.Series(folds).groupby(codes).nunique().to_numpy()
    if (folds_per_student > 1).any():
        student = int(np.flatnonzero(folds_per_student > 1)[0])
        user = table["user_id"].to_numpy()[np.flatnonzero(codes == student)[0]]
        raise ValueError(f"pykt_split: student {user!r} appears in more than one fold")
    is_valid = folds == valid_fold
    return _take(table, ~is_valid), _take(table, is_valid)


def pykt_test_windows(table: pd.DataFrame, window: int = 200, min_rows: int = 3) -> pd.DataFrame:
    """Each student's attempts cut into consecutive windows, each window a student of its own.

    pyKT 0.0.38 scores its test set this way (``generate_sequences``): a student's rows, in
    ``order``, are cut into windows of ``window`` rows; every window starts from a model's
    empty state, its first row is not scored (``evaluate_predictions(...,
    skip_first_attempt=True)``), and windows (a remainder, or a whole short student) of fewer
    than ``min_rows`` rows are dropped. Scoring our models this way reproduces the convention
    of pyKT's published AUCs; our own protocol scores every attempt with its whole history.

    Args:
        table: interaction table (``user_id``, ``order``, ...).
        window: rows per window (pyKT's ``maxlen``, 200).
        min_rows: shortest window kept (pyKT's ``min_seq_len``, 3).

    Returns:
        A copy sorted by student and order, ``user_id`` replaced by ``"<user_id>/<window index>"``,
        short windows removed, index reset.

    Raises:
        ValueError: if ``window`` or ``min_rows`` is below 1, or a column is missing.
    """
    if window < 1 or min_rows < 1:
        raise ValueError(
            f"pykt_test_windows needs window >= 1 and min_rows >= 1, got {window} and {min_rows}"
        )
    missing = [name for name in ("user_id", "order") if name not in table.columns]
    if missing:
        raise ValueError(f"pykt_test_windows: the table has no column(s) {missing}")
    ordered = table.assign(_student=student_codes(table)).sort_values(
        ["_student", "order"], kind="stable"
    )
    position = (
        ordered.groupby("_student", sort=False).cumcount().to_numpy()
    )  # (n_rows,) rank within the student
    ordered["user_id"] = ordered["user_id"].astype(str) + "/" + (position // window).astype(str)
    size = (
        ordered.groupby("user_id", sort=False)["order"].transform("size").to_numpy()
    )  # (n_rows,) rows of its window
    return ordered[size >= min_rows].drop(columns="_student").reset_index(drop=True)
