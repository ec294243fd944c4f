"""The canonical interaction table: its columns, building one from arrays, checking one.

The canonical table is a pandas DataFrame with one row per (attempt, skill):

=========  ================================================================
user_id    the student: int64 or string, kept as read
item_id    the exercise (int64); string ids are mapped to codes
skill_id   the skill (int64); string names are mapped to codes, the names
           kept in ``table.attrs["skill_names"]`` and in the report
correct    int8 in {0, 1}
order      int64 or float64: timestamp or sequence number within the student
=========  ================================================================

plus any extra columns (``fold`` and ``window`` from pyKT files, the original columns
of an interaction log). A table returned by a reader (``kt.data.readers``) also says where
each row came from, so that every kept row maps back to exactly one input row:

============  ============================================================
source_line   int64: the line of the file the row was read from (1-based; the
              header is line 1). Three-line files: the line of the skill ids (the
              answer is on the next line). Parquet: the row number (0-based).
source_entry  int64: the row's position (0-based) within that line: in a list
              (three-line, pyKT), the column of a response matrix, the skill in a
              DataShop ``KC(...)`` cell listing several; 0 for a plain log row.
============  ============================================================

``(source_line, source_entry)`` is unique within a table read from one file. Rows are
sorted by (student as first seen, order), stably.
Rows of one student with the same ``order`` are ONE attempt carrying several skills
(see ``kt.data.attempts``). A model's ``predict`` returns the table with one more
column, ``p_correct`` (``PREDICTION_COLUMN``).

Example:
    >>> table = make_table(user_ids=[5, 5, 9], skill_ids=[1, 2, 1], correct=[1, 0, 1])
    >>> table[["user_id", "skill_id", "correct", "order"]].values.tolist()
    [[5, 1, 1, 0], [5, 2, 0, 1], [9, 1, 1, 0]]
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from riley_gym.kt.data.attempts import canonical_order

__all__ = [
    "REQUIRED_COLUMNS",
    "PREDICTION_COLUMN",
    "TARGET_COLUMN",
    "SOURCE_LINE",
    "SOURCE_ENTRY",
    "PROVENANCE_COLUMNS",
    "make_table",
    "validate_table",
    "soft_targets",
]

REQUIRED_COLUMNS = ("user_id", "item_id", "skill_id", "correct", "order")
# Name of the column that ``KnowledgeTracer.predict`` adds to the table it returns.
PREDICTION_COLUMN = "p_correct"
# An optional column of soft training targets in [0, 1] (a teacher's p(correct)): models that
# train by gradient descent fit it instead of ``correct``; validation and metrics use ``correct``.
TARGET_COLUMN = "training_target"
# Where a reader found each row (see the module docstring).
SOURCE_LINE = "source_line"
SOURCE_ENTRY = "source_entry"
PROVENANCE_COLUMNS = (SOURCE_LINE, SOURCE_ENTRY)
# Bad values quoted in an error message.
N_EXAMPLES = 5


def make_table(
    user_ids: Sequence,
    skill_ids: Sequence[int],
    correct: Sequence[int],
    order: Sequence[float] | None = None,
    item_ids: Sequence[int] | None = None,
    **extra: Sequence,
) -> pd.DataFrame:
    """Build a canonical table from arrays (for tests, simulators and other helpers).

    Args:
        user_ids: Student of each row, shape ``(n_rows,)``.
        skill_ids: Integer skill of each row, shape ``(n_rows,)``.
        correct: 0/1 answer of each row, shape ``(n_rows,)``.
        order: Order of each row within its student; default: the row's position
            among that student's rows (0, 1, ...), so every row is its own attempt.
        item_ids: Integer exercise of each row; default: the skill id.
        **extra: Further columns, each of shape ``(n_rows,)``.

    Returns:
        The validated canonical table, sorted by (student as first seen, order).

    Raises:
        ValueError: If lengths differ or a value is not allowed (see ``validate_table``).
    """
    columns = {"user_id": user_ids, "skill_id": skill_ids, "correct": correct}
    if order is not None:
        columns["order"] = order
    if item_ids is not None:
        columns["item_id"] = item_ids
    columns.update(extra)
    lengths = {name: len(values) for name, values in columns.items()}
    if len(set(lengths.values())) > 1:
        raise ValueError(f"make_table: arrays have different lengths {lengths}")
    users = pd.Series(np.asarray(user_ids))
    if order is None:
        order = users.groupby(users, sort=False).cumcount().to_numpy()
    table = pd.DataFrame(
        {
            "user_id": users.to_numpy(),
            "item_id": np.asarray(skill_ids if item_ids is None else item_ids),
            "skill_id": np.asarray(skill_ids),
            "correct": np.asarray(correct),
            "order": np.asarray(order),
        }
    )
    for name, values in extra.items():
        table[name] = np.asarray(values)
    for name in ("skill_id", "item_id"):
        table[name] = as_int64(table[name], f"make_table: column '{name}'")
    table["correct"] = as_binary(table["correct"], "make_table: column 'correct'")
    validate_table(table, where="make_table")
    return table.iloc[canonical_order(table)].reset_index(drop=True)


def as_int64(series: pd.Series, where: str) -> pd.Series:
    values = pd.to_numeric(series, errors="coerce").astype(np.float64)
    bad = values.isna() | (values != np.floor(values)) | (values.abs() >= 2.0**63)
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise ValueError(f"{where}: value {series.tolist()[row]!r} at row {row} is not an integer")
    return values.astype(np.int64)


def as_binary(series: pd.Series, where: str) -> pd.Series:
    values = pd.to_numeric(series, errors="coerce")
    bad = ~values.isin([0, 1])
    if bad.any():
        rows = np.flatnonzero(bad.to_numpy())[:N_EXAMPLES]
        listed = series.tolist()
        shown = ", ".join(f"row {r}: {listed[r]!r}" for r in rows)
        raise ValueError(f"{where}: correctness must be 0 or 1; got {shown}")
    return values.astype(np.int8)


def validate_table(table: pd.DataFrame, where: str = "table") -> None:
    """Check that a DataFrame is a canonical interaction table.

    Args:
        table: The table to check (not modified).
        where: Name used in error messages.

    Raises:
        TypeError: If ``table`` is not a DataFrame.
        ValueError: Naming the missing column, or the first bad value and its row:
            missing values, non-integer ``skill_id``/``item_id``, ``correct`` not in
            {0, 1}, non-numeric ``order``.
    """
    if not isinstance(table, pd.DataFrame):
        raise TypeError(f"{where}: expected a pandas DataFrame, got {type(table).__name__}")
    missing = [c for c in REQUIRED_COLUMNS if c not in table.columns]
    if missing:
        raise ValueError(
            f"{where}: missing column(s) {missing}; required {list(REQUIRED_COLUMNS)}, "
            f"found {list(table.columns)}"
        )
    for name in REQUIRED_COLUMNS:
        isna = table[name].isna().to_numpy()
        if isna.any():
            row = int(np.flatnonzero(isna)[0])
            raise ValueError(f"{where}: column '{name}' has a missing value at row {row}")
    for name in ("item_id", "skill_id"):
        if not pd.api.types.is_integer_dtype(table[name]):
            raise ValueError(
                f"{where}: column '{name}' must have an integer dtype, got {table[name].dtype}"
            )
    correct = table["correct"].to_numpy()
    if not (pd.api.types.is_integer_dtype(table["correct"]) or correct.dtype == bool):
        raise ValueError(
            f"{where}: column 'correct' must be integer 0/1, got dtype {correct.dtype}"
        )
    bad = (correct != 0) & (correct != 1)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"{where}: column 'correct' must be 0 or 1; row {row} has {correct.tolist()[row]!r}"
        )
    if not pd.api.types.is_numeric_dtype(table["order"]) or table["order"].dtype == bool:
        raise ValueError(
            f"{where}: column 'order' must be numeric (int or float), got {table['order'].dtype}"
        )


def soft_targets(table: pd.DataFrame, where: str = "table") -> np.ndarray:
    """(len(table),) float64 values of the ``training_target`` column, checked to be probabilities.

    Raises:
        ValueError: if the column is missing, or naming the first row (and its student) whose
            value is not in [0, 1] (NaN included).
    """
    if TARGET_COLUMN not in table.columns:
        raise ValueError(f"{where}: no {TARGET_COLUMN!r} column of soft targets")
    values = pd.to_numeric(table[TARGET_COLUMN], errors="coerce").to_numpy(dtype=np.float64)
    bad = ~((values >= 0) & (values <= 1))  # NaN too
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"{where}: {TARGET_COLUMN} is {table[TARGET_COLUMN].tolist()[row]!r} at row {row} "
            f"(student {table['user_id'].tolist()[row]!r}); a target must be a probability "
            "in [0, 1]"
        )
    return values
