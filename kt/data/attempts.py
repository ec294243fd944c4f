"""Grouping rows of an interaction table into students and attempts, leak-free.

In the canonical table (``kt.data``) rows of one student that share an ``order`` are
ONE attempt that carries several skills (ASSISTments tags some problems with several
skills and repeats the row per skill). A model must never let one row of an attempt
see the answer of another row of the same attempt: the prediction for a row uses only
the student's rows with strictly smaller ``order``. These helpers make that easy to
get right: every function works on any row order and returns per-row arrays aligned
with the rows of the table it was given.

Example:
    >>> import pandas as pd
    >>> table = pd.DataFrame({"user_id": [7, 7, 7, 3], "order": [1, 2, 2, 1],
    ...                       "skill_id": [0, 0, 1, 0], "correct": [1, 0, 1, 1]})
    >>> attempt_index(table).tolist()
    [0, 1, 1, 0]
    >>> history_length(table).tolist()
    [0, 1, 1, 0]
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = [
    "student_codes",
    "canonical_order",
    "sort_canonical",
    "attempt_index",
    "attempt_codes",
    "attempt_sizes",
    "history_length",
    "prior_counts",
]


def _require(table: pd.DataFrame, columns: tuple[str, ...], where: str) -> None:
    if not isinstance(table, pd.DataFrame):
        raise TypeError(f"{where}: expected a pandas DataFrame, got {type(table).__name__}")
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise ValueError(f"{where}: table lacks column(s) {missing}; it has {list(table.columns)}")


def _order_values(table: pd.DataFrame, where: str) -> np.ndarray:
    order = table["order"].to_numpy()
    if not np.issubdtype(order.dtype, np.number):
        raise ValueError(f"{where}: column 'order' must be numeric, got dtype {order.dtype}")
    if np.issubdtype(order.dtype, np.floating) and np.isnan(order).any():
        row = int(np.flatnonzero(np.isnan(order))[0])
        raise ValueError(f"{where}: column 'order' has NaN at row {row}")
    return order


def student_codes(table: pd.DataFrame) -> np.ndarray:
    """Index of each row's student, numbered in order of first appearance.

    Args:
        table: Table with a ``user_id`` column (int or string ids, no missing values).

    Returns:
        int64 array of shape ``(n_rows,)`` with values ``0..n_students-1``.

    Raises:
        ValueError: If ``user_id`` is missing or has missing values.
    """
    _require(table, ("user_id",), "student_codes")
    codes, _ = pd.factorize(table["user_id"], sort=False)
    if (codes < 0).any():
        row = int(np.flatnonzero(codes < 0)[0])
        raise ValueError(f"student_codes: column 'user_id' has a missing value at row {row}")
    return codes.astype(np.int64)


def canonical_order(table: pd.DataFrame) -> np.ndarray:
    """Row positions that sort a table by (student as first seen, order), stably.

    Args:
        table: Table with ``user_id`` and numeric ``order`` columns.

    Returns:
        int64 array ``perm`` of shape ``(n_rows,)``: ``table.iloc[perm]`` is canonical.
    """
    _require(table, ("user_id", "order"), "canonical_order")
    order = _order_values(table, "canonical_order")
    codes = student_codes(table)
    return np.lexsort((order, codes)).astype(np.int64)  # lexsort is stable


def sort_canonical(table: pd.DataFrame) -> pd.DataFrame:
    """A copy of the table sorted by (student as first seen, order), stable, index reset.

    Args:
        table: Table with ``user_id`` and numeric ``order`` columns (not modified).

    Returns:
        The sorted copy.
    """
    return table.iloc[canonical_order(table)].reset_index(drop=True)


def _sorted_structure(table: pd.DataFrame, where: str):
    """Per sorted row: permutation, student code, global attempt id, starts of groups."""
    _require(table, ("user_id", "order"), where)
    order = _order_values(table, where)
    codes = student_codes(table)
    perm = np.lexsort((order, codes))
    sorted_codes = codes[perm]
    sorted_order = order[perm]
    n = len(perm)
    new_student = np.ones(n, dtype=bool)
    new_student[1:] = sorted_codes[1:] != sorted_codes[:-1]
    new_attempt = new_student.copy()
    new_attempt[1:] |= sorted_order[1:] != sorted_order[:-1]
    attempt_id = np.cumsum(new_attempt) - 1  # (n_rows,) global attempt number, sorted rows
    return perm, sorted_codes, attempt_id, new_student, new_attempt


def attempt_index(table: pd.DataFrame) -> np.ndarray:
    """Index of each row's attempt within its student (rows sharing an order share it).

    Args:
        table: Table with ``user_id`` and numeric ``order`` columns, any row order.

    Returns:
        int64 array of shape ``(n_rows,)``: 0 for the student's first attempt, ...
    """
    perm, sorted_codes, attempt_id, new_student, _ = _sorted_structure(table, "attempt_index")
    first_attempt = attempt_id[new_student]  # (n_students,) in code order
    result = np.empty(len(perm), dtype=np.int64)
    result[perm] = attempt_id - first_attempt[sorted_codes]
    return result


def attempt_codes(table: pd.DataFrame) -> np.ndarray:
    """A global id per attempt, numbered in canonical order (student first seen, order).

    Args:
        table: Table with ``user_id`` and numeric ``order`` columns, any row order.

    Returns:
        int64 array of shape ``(n_rows,)`` with values ``0..n_attempts-1``.
    """
    perm, _, attempt_id, _, _ = _sorted_structure(table, "attempt_codes")
    result = np.empty(len(perm), dtype=np.int64)
    result[perm] = attempt_id
    return result


def attempt_sizes(table: pd.DataFrame) -> np.ndarray:
    """Number of rows (skills) in each row's attempt.

    Args:
        table: Table with ``user_id`` and numeric ``order`` columns, any row order.

    Returns:
        int64 array of shape ``(n_rows,)``, 1 for single-skill attempts.
    """
    codes = attempt_codes(table)
    return np.bincount(codes)[codes].astype(np.int64)


def history_length(table: pd.DataFrame) -> np.ndarray:
    """Number of the student's rows with strictly smaller order (the visible history).

    Args:
        table: Table with ``user_id`` and numeric ``order`` columns, any row order.

    Returns:
        int64 array of shape ``(n_rows,)``. Rows of one attempt get the same value.
    """
    perm, _, _, new_student, new_attempt = _sorted_structure(table, "history_length")
    positions = np.arange(len(perm))
    student_start = np.maximum.accumulate(np.where(new_student, positions, 0))
    attempt_start = np.maximum.accumulate(np.where(new_attempt, positions, 0))
    result = np.empty(len(perm), dtype=np.int64)
    result[perm] = attempt_start - student_start
    return result


def prior_counts(table: pd.DataFrame, by: str = "skill_id") -> tuple[np.ndarray, np.ndarray]:
    """Earlier successes and failures of the same student on the same ``by`` value.

    Counts only rows with strictly smaller ``order`` (earlier attempts), so rows of
    the same attempt never count each other (the features of PFA, Pavlik et al. 2009).

    Args:
        table: Table with ``user_id``, numeric ``order``, ``correct`` (0/1) and ``by``.
        by: Column to count within, e.g. ``"skill_id"`` or ``"item_id"``.

    Returns:
        Two int64 arrays of shape ``(n_rows,)``: (successes, failures) before the row.
    """
    _require(table, ("user_id", "order", "correct", by), "prior_counts")
    perm = canonical_order(table)
    order = table["order"].to_numpy()[perm]
    correct = table["correct"].to_numpy().astype(np.int64)[perm]
    key_codes, _ = pd.factorize(table[by].to_numpy()[perm], sort=False)
    student = student_codes(table)[perm]
    frame = pd.DataFrame({"student": student, "key": key_codes, "order": order, "correct": correct})
    grouped = frame.groupby(["student", "key"], sort=False)
    success_before = grouped["correct"].cumsum().to_numpy() - correct  # (n_rows,) exclusive
    count_before = grouped.cumcount().to_numpy()  # (n_rows,) rows of this key seen before
    frame["success_before"] = success_before
    frame["count_before"] = count_before
    # Rows of one attempt on the same key must not count each other: take the value of
    # the attempt's first row (both counts are non-decreasing along the sorted rows).
    same_attempt = frame.groupby(["student", "key", "order"], sort=False)
    success_before = same_attempt["success_before"].transform("min").to_numpy()
    count_before = same_attempt["count_before"].transform("min").to_numpy()
    successes = np.empty(len(perm), dtype=np.int64)
    failures = np.empty(len(perm), dtype=np.int64)
    successes[perm] = success_before
    failures[perm] = count_before - success_before
    return successes, failures
