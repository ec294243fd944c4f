"""Readers of student logs: each returns the canonical table (``kt.data.table``) and a report.

Readers (``read_log`` picks one, ``format="auto"`` detects it) return
``(table, ReadReport)``. Nothing is lost or altered without a word (issue 18): every input
row (an interaction, or one entry of a list) is either kept, its place in the file in the
``source_line`` and ``source_entry`` columns, or dropped, the report counting it by reason
with ``file:line`` examples, so ``n_rows_kept + n_dropped == n_rows_read``. Other choices a
reader makes (a student without attempts, a duplicate kept, a blank line) are counted in
``ReadReport.decisions``. Malformed input (a missing column, a non-binary answer, lists of
unequal length, an empty file, an undecodable byte) raises ``ValueError`` naming the file,
the line or column, and what is allowed.

The decisions, in one place:

- **Padding and negative ids.** ``-1`` in a pyKT file is padding: dropped and counted. Any
  other negative skill or item id, in any format, is refused: models index skills by id,
  where a negative id would silently wrap around to the last skill.
- **Exact duplicate rows** (equal in every column: the same attempt logged twice, which
  Xiong et al. 2016, "Going deeper with deep knowledge tracing", found inflating DKT's AUC
  on ASSISTments 2009) are dropped by default (``duplicates="drop"``), each counted with the
  line it repeats; ``duplicates="keep"`` keeps them (counted; the attempt then carries the
  skill twice) and ``duplicates="error"`` refuses the file. Without an order column every
  line is its own attempt, so no line duplicates another.
- **Order values** are kept exactly: integers as int64; a value beyond the int64 range, or
  two different values that float64 cannot tell apart (they would merge two attempts), is
  refused. Dates become int64 nanoseconds since 1970-01-01, times with a UTC offset
  converted to UTC. A column mixing numbers and dates, or timestamps with different UTC
  offsets (or with and without one), is refused naming the column and the first line that
  differs from the first row.
- **Students with no attempts** (a three-line count of 0, with empty or ``,`` lists, also
  as the file's last student) have no rows; they are counted.
- **Empty results are refused**: a file with a header but no data rows, or whose every row
  was dropped, raises ``ValueError`` at read time, so an empty table never reaches training.
"""

from __future__ import annotations

import csv
import io
import os
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import pandas as pd

from riley_gym.kt.data.attempts import canonical_order
from riley_gym.kt.data.table import (
    N_EXAMPLES,
    PROVENANCE_COLUMNS,
    REQUIRED_COLUMNS,
    SOURCE_ENTRY,
    SOURCE_LINE,
    as_int64,
    validate_table,
)

__all__ = [
    "FORMATS",
    "DUPLICATE_POLICIES",
    "ReadReport",
    "read_log",
    "read_interactions",
    "read_three_line",
    "read_pykt",
    "read_matrix",
    "detect_format",
    "default_data_dir",
]

FORMATS = ("interactions", "three-line", "pykt", "matrix")
# What a reader does with a row equal in every column to an earlier one (module docstring).
DUPLICATE_POLICIES = ("drop", "keep", "error")

# Column names recognised in interaction logs, in order of preference, per canonical
# column: ASSISTments (user_id, problem_id, skill_id, skill_name, correct, order_id),
# pyBKT (the same names), and PSLC DataShop / KDD Cup ("Anon Student Id", "KC(...)",
# "Correct First Attempt").
KNOWN_COLUMNS: dict[str, tuple[str, ...]] = {
    "user_id": ("user_id", "Anon Student Id", "student_id", "studentId", "uid"),
    "item_id": ("item_id", "problem_id", "question_id", "Problem Name", "assistment_id"),
    "skill_id": (
        "skill_id",
        "skill_name",
        "KC(Default)",
        "KC(SubSkills)",
        "KC",
        "skill",
        "concept_id",
    ),
    "correct": ("correct", "Correct First Attempt", "is_correct"),
    "order": (
        "order",
        "order_id",
        "timestamp",
        "start_time",
        "First Transaction Time",
        "Step Start Time",
        "Row",
    ),
}
# DataShop KC columns list several skills separated by "~~" (one attempt, many skills).
KC_SEPARATOR = "~~"
_INT64_MAX = np.iinfo(np.int64).max
_INT64_MIN = np.iinfo(np.int64).min
# Cell values read as a missing value in interaction logs (compared lower-case).
_MISSING = ("nan", "na", "null", "none")
_PARQUET_MAGIC = b"PAR1"
_INTEGER_TEXT = r"[+-]?\d+(\.0*)?"
_NEGATIVE_ID_HINT = "ids must be >= 0 (-1 is padding only in pyKT files, format='pykt')"


@dataclass
class ReadReport:
    """What a reader did with a file: rows read, kept, dropped (by reason), decisions, notes.

    Attributes:
        path: The file read.
        format: The format used ("interactions", "three-line", "pykt", "matrix").
        n_rows_read: Interactions (or list entries) found in the file before dropping.
        n_rows_kept: Rows in the returned table (``n_rows_read - n_dropped``).
        dropped: Reason -> number of rows dropped for it.
        decisions: Reason -> number of other things the reader decided about, none of them a
            dropped row: students with no attempts, blank lines skipped, duplicates kept.
        examples: Reason (of ``dropped`` or ``decisions``) -> first few locations as
            "file:line" strings.
        notes: Other things the reader did (mappings, defaults it filled in).
        skill_names: Skill names by code when string skill names were mapped to
            integer codes (``skill_names[code]``), else empty.
        item_names: Item names by code when string item ids were mapped, else empty.
        seconds: Wall-clock seconds the read took.
    """

    path: str
    format: str
    n_rows_read: int = 0
    n_rows_kept: int = 0
    dropped: dict[str, int] = field(default_factory=dict)
    decisions: dict[str, int] = field(default_factory=dict)
    examples: dict[str, list[str]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    skill_names: list[str] = field(default_factory=list)
    item_names: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def drop(self, reason: str, locations: Sequence[str], count: int | None = None) -> None:
        """Record dropped rows: ``count`` of them (default ``len(locations)``) for
        ``reason``, with ``locations`` ("file:line" strings, possibly only the first few)."""
        self._count(self.dropped, reason, locations, count)

    def decide(self, reason: str, locations: Sequence[str], count: int | None = None) -> None:
        """Record a decision that drops no row (``count`` things, default
        ``len(locations)``, for ``reason``), with the first ``locations``."""
        self._count(self.decisions, reason, locations, count)

    def _count(
        self, counts: dict[str, int], reason: str, locations: Sequence[str], count: int | None
    ) -> None:
        count = len(locations) if count is None else int(count)
        if count == 0:
            return
        counts[reason] = counts.get(reason, 0) + count
        kept = self.examples.setdefault(reason, [])
        kept.extend(list(locations[: max(0, N_EXAMPLES - len(kept))]))

    def to_dict(self) -> dict:
        """The report as JSON-able plain values (for ``summary.json``)."""
        return {
            "path": self.path,
            "format": self.format,
            "n_rows_read": self.n_rows_read,
            "n_rows_kept": self.n_rows_kept,
            "n_dropped": self.n_dropped,
            "dropped": dict(self.dropped),
            "decisions": dict(self.decisions),
            "examples": {k: list(v) for k, v in self.examples.items()},
            "notes": list(self.notes),
            "skill_names": list(self.skill_names),
            "n_item_names": len(self.item_names),
            "seconds": self.seconds,
        }

    @property
    def n_dropped(self) -> int:
        """Total rows dropped, all reasons."""
        return int(sum(self.dropped.values()))

    def __str__(self) -> str:
        lines = [
            f"{self.path} ({self.format}): read {self.n_rows_read} rows, "
            f"kept {self.n_rows_kept}, dropped {self.n_dropped} in {self.seconds:.2f} s"
        ]
        for verb, counts in (("dropped", self.dropped), ("counted", self.decisions)):
            for reason, count in counts.items():
                where = ", ".join(self.examples.get(reason, []))
                lines.append(f"  {verb} {count}: {reason} (e.g. {where})")
        lines.extend(f"  note: {note}" for note in self.notes)
        return "\n".join(lines)


def default_data_dir() -> Path:
    """The shared data folder: ``$RILEY_DATA_DIR`` or ``../shared/data`` from the repo root.

    Returns:
        The path (it may not exist; callers check and skip or fail clearly).
    """
    env = os.environ.get("RILEY_DATA_DIR")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[3] / "shared" / "data"


# ----------------------------------------------------------------------------------
# File access and shared checks


def _read_bytes(path: Path) -> bytes:
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    data = path.read_bytes()
    if len(data.strip()) == 0:
        raise ValueError(f"{path}: file is empty")
    return data


def _decode(path: Path, data: bytes, encoding: str) -> str:
    codec = "utf-8-sig" if encoding.lower().replace("_", "-") in ("utf-8", "utf8") else encoding
    try:
        return data.decode(codec)
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise ValueError(
            f"{path}:{line}: cannot decode byte {data[error.start : error.start + 1]!r} as "
            f"{encoding}; convert the file to UTF-8, or read it from Python with its encoding "
            "(read_log(..., encoding='latin-1'))"
        ) from error
    except LookupError as error:
        raise ValueError(f"{path}: unknown encoding {encoding!r}") from error


def _lines(path: Path, encoding: str) -> tuple[list[str], int]:
    """The file's lines without the blank ones at its end, and how many those were."""
    lines = _decode(path, _read_bytes(path), encoding).splitlines()
    n_lines = len(lines)
    while lines and not lines[-1].strip():
        lines.pop()
    return lines, n_lines - len(lines)


def _record_lines(text: str, separator: str, path: Path) -> list[tuple[int, list[str]]]:
    """Every CSV record with the line (1-based) it starts on, the header first.

    A quoted field may span lines, so the n-th record need not be on line n: the lines
    come from the csv module's count of the lines it has consumed.
    """
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=separator)
    records, previous = [], 0
    try:
        for record in reader:
            records.append((previous + 1, record))
            previous = reader.line_num
    except csv.Error as error:
        raise ValueError(f"{path}:{previous + 1}: not a readable CSV: {error}") from error
    return records


def _data_lines(text: str, separator: str, n_rows: int, path: Path) -> np.ndarray:
    """``(n_rows,)`` line where each data row of ``pd.read_csv(..., skip_blank_lines=False)``
    starts (the header is line 1)."""
    n_crlf = text.count("\r\n")
    n_lines = text.count("\n") + text.count("\r") - n_crlf  # lone "\r" ends a line too
    if not text.endswith(("\n", "\r")):
        n_lines += 1
    if n_lines == n_rows + 1:  # every record (the header too) is one line: no field spans lines
        return np.arange(n_rows, dtype=np.int64) + 2
    starts = [line for line, _ in _record_lines(text, separator, path)][1:]
    if len(starts) != n_rows:
        raise ValueError(
            f"{path}: cannot tell which line each row is on (pandas read {n_rows} rows, the "
            f"csv module {len(starts)}); check the file's quoting"
        )
    return np.asarray(starts, dtype=np.int64)


def _location(path: Path | str, line: int, unit: str = "line") -> str:
    return f"{path}:row {line}" if unit == "row" else f"{path}:{line}"


def _parse_ints(text: str, where: str, what: str) -> list[int]:
    parts = [p.strip() for p in text.strip().split(",")]
    if parts and parts[-1] == "":
        parts.pop()  # the DKT files end every list with a comma
    if parts == [""]:
        parts = []  # "," alone: an empty list written with its trailing comma
    try:
        values = [int(p) for p in parts]
    except ValueError:
        bad = next(p for p in parts if not re.fullmatch(r"[+-]?\d+", p))
        raise ValueError(
            f"{where}: {what} must be comma-separated integers; found {bad!r}"
        ) from None
    if values and (max(values) > _INT64_MAX or min(values) < _INT64_MIN):
        raise ValueError(
            f"{where}: {what} must fit in 64-bit integers; found {max(values, key=abs)}"
        )
    return values


def _check_binary(values: np.ndarray, where: str) -> None:
    bad = (values != 0) & (values != 1)
    if bad.any():
        shown = sorted(set(values[bad].tolist()))[:N_EXAMPLES]
        raise ValueError(f"{where}: correctness must be 0 or 1; found {shown}")


def _refuse_negative(values: np.ndarray, where: Callable[[int], str], what: str) -> None:
    """Raise naming the first negative value (``where(index)`` says where it is)."""
    negative = values < 0
    if negative.any():
        index = int(np.flatnonzero(negative)[0])
        raise ValueError(
            f"{where(index)}: {what} {int(values[index])} is negative "
            f"({int(negative.sum())} negative in all); {_NEGATIVE_ID_HINT}"
        )


def _check_duplicates_policy(duplicates: str) -> None:
    if duplicates not in DUPLICATE_POLICIES:
        raise ValueError(
            f"duplicates must be one of {list(DUPLICATE_POLICIES)}, got {duplicates!r}"
        )


def _apply_duplicates(
    table: pd.DataFrame, report: ReadReport, policy: str, unit: str
) -> pd.DataFrame:
    """Find rows equal in every column (but provenance) to an earlier row; drop, keep or
    refuse them, counted with the location each repeats."""
    values = table.drop(columns=list(PROVENANCE_COLUMNS))
    try:
        repeated = values.duplicated(keep="first").to_numpy()
    except TypeError:  # unhashable cells (a Parquet list column): compare their text
        values = values.astype(str)
        repeated = values.duplicated(keep="first").to_numpy()
    if not repeated.any():
        return table
    hashes = pd.util.hash_pandas_object(values, index=False).to_numpy()  # (n_rows,)
    lines = table[SOURCE_LINE].to_numpy()
    entries = table[SOURCE_ENTRY].to_numpy()

    def where(row: int, with_entry: bool) -> str:
        place = _location(report.path, int(lines[row]), unit)
        return f"{place} entry {int(entries[row])}" if with_entry else place

    examples = []
    for row in np.flatnonzero(repeated)[:N_EXAMPLES]:
        first = int(np.flatnonzero(hashes == hashes[row])[0])
        with_entry = report.format == "pykt" or lines[first] == lines[row]
        examples.append(f"{where(row, with_entry)} (same as {where(first, with_entry)})")
    count = int(repeated.sum())
    if policy == "error":
        raise ValueError(
            f"{examples[0]}: exact duplicate row ({count} in all); pass duplicates='drop' to "
            "drop them or duplicates='keep' to keep them"
        )
    if policy == "keep":
        report.decide("exact duplicate row, kept (duplicates='keep')", examples, count)
        return table
    report.drop("exact duplicate row (duplicates='drop')", examples, count)
    return table[~repeated].reset_index(drop=True)


def _refuse_empty(report: ReadReport, why: str) -> None:
    raise ValueError(
        f"{report.path}: {why}; an empty table cannot be trained on or scored, so the file "
        "is refused"
    )


def _finish(
    table: pd.DataFrame, report: ReadReport, duplicates: str | None = None, unit: str = "line"
) -> pd.DataFrame:
    """Apply the duplicates policy, refuse an empty result, sort, validate, count."""
    if duplicates is not None:
        table = _apply_duplicates(table, report, duplicates, unit)
    if len(table) == 0:
        reasons = ", ".join(f"{count} {reason}" for reason, count in report.dropped.items())
        _refuse_empty(report, f"no usable rows: read {report.n_rows_read}, dropped all ({reasons})")
    for name in PROVENANCE_COLUMNS:
        table[name] = table[name].astype(np.int64)
    table = table.iloc[canonical_order(table)].reset_index(drop=True)
    if report.skill_names:
        table.attrs["skill_names"] = list(report.skill_names)
    validate_table(table, where=report.path)
    report.n_rows_kept = len(table)
    assert report.n_rows_kept + report.n_dropped == report.n_rows_read, str(report)
    return table


# ----------------------------------------------------------------------------------
# Three-line (DKT), matrix (DKT synthetic), pyKT


def read_three_line(path: str | Path, encoding: str = "utf-8") -> tuple[pd.DataFrame, ReadReport]:
    """Read the DKT three-line format (count; skill ids; 0/1 answers) per student.

    ``user_id`` is the student's index in the file (0, 1, ...), ``skill_id`` the ids on
    the second line, ``item_id`` equals ``skill_id`` (the format has no exercise ids),
    ``order`` is the position in the sequence; ``source_line`` is the skill line and
    ``source_entry`` the position in it. Lines may end with a trailing comma. A student
    with 0 attempts has empty (or ``,``) lists, which the file's last student may leave
    out; such students have no rows and are counted in ``report.decisions``.

    Args:
        path: The file.
        encoding: Text encoding ("utf-8" default; "latin-1" accepts any byte).

    Returns:
        ``(table, report)``.

    Raises:
        ValueError: Empty file, an incomplete last student, a non-integer value, a
            negative skill id, non-binary answers, lists whose lengths differ from the
            count, or no attempts at all, naming the file and line.
    """
    start = pd.Timestamp.now()
    path = Path(path)
    lines, _ = _lines(path, encoding)  # trailing blank lines hold no student
    report = ReadReport(path=str(path), format="three-line")
    if len(lines) % 3 and lines[len(lines) - len(lines) % 3].strip().rstrip(",").strip() != "0":
        # only a last student with 0 attempts may leave out its (empty) lines
        raise ValueError(
            f"{path}:{len(lines)}: three-line format needs 3 lines per student; the file "
            f"has {len(lines)} non-trailing lines (the last student is incomplete)"
        )
    users, skills, answers, source_lines = [], [], [], []
    student, first = 0, 0  # first: 0-based index of the student's count line
    while first < len(lines):
        where = f"{path}:{first + 1}"
        count_text = lines[first].strip().rstrip(",").strip()
        if not re.fullmatch(r"\d+", count_text):
            raise ValueError(
                f"{where}: expected the number of attempts (a non-negative integer), "
                f"found {lines[first][:40]!r}"
            )
        count = int(count_text)
        # A last student with 0 attempts may end the file without its two empty lines.
        skill_text, answer_text = (
            lines[first + k] if first + k < len(lines) else "" for k in (1, 2)
        )
        skill_list = _parse_ints(skill_text, f"{path}:{first + 2}", "skill ids")
        answer_list = _parse_ints(answer_text, f"{path}:{first + 3}", "answers")
        if len(skill_list) != count or len(answer_list) != count:
            raise ValueError(
                f"{path}:{first + 1}-{first + 3}: mismatched lengths: count line says "
                f"{count}, skill line has {len(skill_list)}, answer line has {len(answer_list)}"
            )
        skill_array = np.asarray(skill_list, dtype=np.int64)
        _refuse_negative(skill_array, lambda i: f"{path}:{first + 2} position {i + 1}", "skill id")
        answer_array = np.asarray(answer_list, dtype=np.int64)
        _check_binary(answer_array, f"{path}:{first + 3}")
        if count == 0:
            report.decide("student with no attempts (no rows)", [where])
        users.append(np.full(count, student, dtype=np.int64))
        skills.append(skill_array)
        answers.append(answer_array)
        source_lines.append(np.full(count, first + 2, dtype=np.int64))
        student += 1
        first += 3
    skill = np.concatenate(skills) if skills else np.zeros(0, dtype=np.int64)
    positions = [np.arange(len(s), dtype=np.int64) for s in skills]
    order = np.concatenate(positions) if positions else skill.copy()
    table = pd.DataFrame(
        {
            "user_id": np.concatenate(users) if users else np.zeros(0, dtype=np.int64),
            "item_id": skill.copy(),
            "skill_id": skill,
            "correct": (np.concatenate(answers) if answers else skill).astype(np.int8),
            "order": order,
            SOURCE_LINE: np.concatenate(source_lines) if source_lines else skill.copy(),
            SOURCE_ENTRY: order.copy(),
        }
    )
    report.n_rows_read = len(table)
    report.notes.append(f"{student} students; item_id = skill_id (no exercise ids)")
    if len(table) == 0:
        _refuse_empty(report, f"no attempts: all {student} students have 0 attempts")
    table = _finish(table, report)
    report.seconds = (pd.Timestamp.now() - start).total_seconds()
    return table, report


def read_matrix(path: str | Path, encoding: str = "utf-8") -> tuple[pd.DataFrame, ReadReport]:
    """Read a response matrix: one row per student, 0/1 answers to exercises 0..m-1.

    ``user_id`` is the row index, ``item_id`` = ``skill_id`` = ``order`` =
    ``source_entry`` = the column index (the DKT synthetic data: every student answers the
    exercises in order). An empty field is a missing answer and is dropped with the report.

    Args:
        path: The file (comma-separated, no header).
        encoding: Text encoding.

    Returns:
        ``(table, report)``.

    Raises:
        ValueError: Empty file, rows of different lengths, values other than 0/1, or
            every answer missing, naming the file and line.

    Blank lines at the end of the file are not students; in a one-column matrix, where a
    missing answer is a blank line too, they are counted in ``report.decisions``.
    """
    start = pd.Timestamp.now()
    path = Path(path)
    lines, n_trailing = _lines(path, encoding)
    report = ReadReport(path=str(path), format="matrix")
    width = None
    rows = []
    for index, line in enumerate(lines):
        where = f"{path}:{index + 1}"
        fields = [f.strip() for f in line.split(",")]
        if width is None:
            width = len(fields)
        if len(fields) != width:
            raise ValueError(f"{where}: row has {len(fields)} answers, the first row has {width}")
        bad = [f for f in fields if f not in ("0", "1", "")]
        if bad:
            raise ValueError(
                f"{where}: answers must be 0 or 1 (or empty for missing); found {bad[0]!r}"
            )
        rows.append([-1 if f == "" else int(f) for f in fields])
    if width == 1:  # a student whose one answer is missing is a blank line, as the end is
        report.decide(
            "blank line at the end of a one-column matrix, not read as a student",
            [f"{path}:{len(lines) + k + 1}" for k in range(min(n_trailing, N_EXAMPLES))],
            n_trailing,
        )
    matrix = np.asarray(rows, dtype=np.int64)  # (n_students, n_exercises), -1 missing
    n_students, n_exercises = matrix.shape
    users = np.repeat(np.arange(n_students, dtype=np.int64), n_exercises)
    columns = np.tile(np.arange(n_exercises, dtype=np.int64), n_students)
    flat = matrix.reshape(-1)  # (n_students * n_exercises,)
    report.n_rows_read = flat.size
    missing = flat < 0
    report.drop(
        "missing answer (empty field)",
        [f"{path}:{u + 1}" for u in users[missing][:N_EXAMPLES]],
        int(missing.sum()),
    )
    keep = ~missing
    table = pd.DataFrame(
        {
            "user_id": users[keep],
            "item_id": columns[keep],
            "skill_id": columns[keep].copy(),
            "correct": flat[keep].astype(np.int8),
            "order": columns[keep].copy(),
            SOURCE_LINE: users[keep] + 1,
            SOURCE_ENTRY: columns[keep].copy(),
        }
    )
    report.notes.append(
        f"{n_students} students x {n_exercises} exercises; item_id = skill_id = order = column"
    )
    table = _finish(table, report)
    report.seconds = (pd.Timestamp.now() - start).total_seconds()
    return table, report


_PYKT_LISTS = (
    "concepts",
    "responses",
    "questions",
    "selectmasks",
    "is_repeat",
    "cidxs",
    "timestamps",
)


def _read_pykt_rows(path: Path, text: str) -> tuple[list[str], list[list[str]], np.ndarray]:
    """The header, the data records and the line each starts on; blank lines are left out
    (counted by the caller)."""
    records = _record_lines(text, ",", path)
    line, header = records[0]
    header = [name.strip() for name in header]
    repeated = sorted({name for name in header if header.count(name) > 1})
    if repeated:
        raise ValueError(f"{path}:{line}: column(s) {repeated} appear more than once")
    rows, lines = [], []
    for line, record in records[1:]:
        if all(not value.strip() for value in record):
            lines.append(-line)  # a blank line: no data
            continue
        if len(record) != len(header):
            raise ValueError(
                f"{path}:{line}: {len(record)} fields, the header has {len(header)} ({header})"
            )
        rows.append(record)
        lines.append(line)
    return header, rows, np.asarray(lines, dtype=np.int64)


def read_pykt(
    path: str | Path, encoding: str = "utf-8", duplicates: str = "drop"
) -> tuple[pd.DataFrame, ReadReport]:
    """Read a pyKT sequences CSV (one row per student or window) into one row per attempt.

    Columns: ``fold``, ``uid``, and quoted comma-separated lists ``concepts``,
    ``responses`` (and ``questions``, ``selectmasks``, ``is_repeat``, ``cidxs``,
    ``timestamps`` when present), all of one length per row. ``user_id`` = ``uid``;
    ``skill_id`` = concept; ``item_id`` = question (or the concept when absent);
    ``fold`` is kept; ``order`` counts the student's attempts across windows (rows of
    the same uid get ``window`` 0, 1, ...); ``source_entry`` is the position in the lists.
    pyKT repeats a multi-concept question with ``is_repeat`` = 1: those rows share the
    order of the question's first row (one attempt). Padding entries (-1) are dropped and
    reported; other negative concept or question ids are refused.

    Args:
        path: The file.
        encoding: Text encoding.
        duplicates: What to do with an entry equal in every column to an earlier one:
            "drop" (default), "keep" or "error" (see the module docstring).

    Returns:
        ``(table, report)``.

    Raises:
        ValueError: Missing column, lists of different lengths, non-integer values,
            answers other than 0/1 (or -1 padding), ids below -1, an ``is_repeat`` that
            repeats no question, a header without data rows, naming the file, line and
            column.
    """
    _check_duplicates_policy(duplicates)
    start = pd.Timestamp.now()
    path = Path(path)
    text = _decode(path, _read_bytes(path), encoding)
    report = ReadReport(path=str(path), format="pykt")
    header, records, record_lines = _read_pykt_rows(path, text)
    blank = record_lines < 0
    report.decide(
        "blank line (no values), skipped",
        [f"{path}:{-n}" for n in record_lines[blank][:N_EXAMPLES]],
        int(blank.sum()),
    )
    line_of_row = record_lines[~blank]  # (n_rows,)
    frame = pd.DataFrame(records, columns=header, dtype=str)
    required = ("uid", "concepts", "responses")
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise ValueError(
            f"{path}: pyKT file lacks column(s) {missing}; needs {list(required)}, "
            f"found {list(frame.columns)}"
        )
    if len(frame) == 0:
        _refuse_empty(report, "the file has a header but no data rows")
    present = [c for c in _PYKT_LISTS if c in frame.columns]
    parsed: dict[str, list[np.ndarray]] = {c: [] for c in present}
    lengths = np.zeros(len(frame), dtype=np.int64)
    for column in present:
        for row, text_list in enumerate(frame[column].tolist()):
            values = _parse_ints(
                text_list, f"{path}:{line_of_row[row]} column '{column}'", "list entries"
            )
            parsed[column].append(np.asarray(values, dtype=np.int64))
    for row in range(len(frame)):
        sizes = {c: len(parsed[c][row]) for c in present}
        if len(set(sizes.values())) > 1:
            raise ValueError(f"{path}:{line_of_row[row]}: mismatched list lengths {sizes}")
        lengths[row] = sizes["concepts"]
    users = frame["uid"].str.strip()
    if (users == "").any():
        row = int(np.flatnonzero((users == "").to_numpy())[0])
        raise ValueError(f"{path}:{line_of_row[row]}: empty 'uid'")
    users, note = _user_ids(users)
    if note:
        report.notes.append(note)
    window = users.groupby(users, sort=False).cumcount().to_numpy()
    flat = {c: np.concatenate(parsed[c]) for c in present}  # (n_entries,) each
    row_of_entry = np.repeat(np.arange(len(frame)), lengths)  # (n_entries,)
    entry_position = np.arange(len(row_of_entry)) - np.repeat(
        np.cumsum(lengths) - lengths, lengths
    )  # (n_entries,) position within its row's lists

    def where(column: str) -> Callable[[int], str]:
        return lambda entry: (
            f"{path}:{line_of_row[row_of_entry[entry]]} column '{column}' position "
            f"{entry_position[entry] + 1}"
        )

    report.n_rows_read = int(lengths.sum())
    responses = flat["responses"]
    bad = ~np.isin(responses, (0, 1, -1))
    if bad.any():
        entry = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"{path}:{line_of_row[row_of_entry[entry]]} column 'responses': answers must be "
            f"0 or 1 (-1 for padding); found {int(responses[entry])}"
        )
    for column in ("concepts", "questions"):
        if column in flat:
            # -1 is pyKT's padding; anything below is no id at all
            _refuse_negative(np.where(flat[column] == -1, 0, flat[column]), where(column), "id")
    padding = (responses == -1) | (flat["concepts"] == -1)
    if "selectmasks" in flat:
        padding |= flat["selectmasks"] == -1
    if "questions" in flat:
        padding |= flat["questions"] == -1
    locations = [f"{path}:{line_of_row[r]}" for r in row_of_entry[padding][:N_EXAMPLES]]
    report.drop("padding (-1)", locations, int(padding.sum()))
    entry_user = users.to_numpy()[row_of_entry]
    user_codes, _ = pd.factorize(entry_user, sort=False)
    # One attempt per entry, except pyKT's repeated rows for extra concepts of a question.
    new_attempt = np.ones(len(responses), dtype=np.int64)
    if "is_repeat" in flat:
        new_attempt = _pykt_new_attempts(flat, padding, user_codes, where)
        report.notes.append("rows with is_repeat=1 share the attempt of the row before")
    attempt_number = pd.Series(new_attempt).groupby(user_codes).cumsum().to_numpy() - 1
    table = pd.DataFrame(
        {
            "user_id": entry_user,
            "item_id": flat["questions"] if "questions" in flat else flat["concepts"].copy(),
            "skill_id": flat["concepts"],
            "correct": responses,
            "order": np.maximum(attempt_number, 0),  # padding before a first attempt: dropped
        }
    )
    if "fold" in frame.columns:
        folds = as_int64(frame["fold"], f"{path}: column 'fold'").to_numpy()
        table["fold"] = folds[row_of_entry]
    table["window"] = window[row_of_entry]
    for column, name in (
        ("is_repeat", "is_repeat"),
        ("cidxs", "cidx"),
        ("timestamps", "timestamp"),
    ):
        if column in flat:
            table[name] = flat[column]
    table[SOURCE_LINE] = line_of_row[row_of_entry]
    table[SOURCE_ENTRY] = entry_position
    table = table[~padding].reset_index(drop=True)
    table["correct"] = table["correct"].astype(np.int8)
    if "questions" not in flat:
        report.notes.append("no 'questions' column: item_id = skill_id")
    if (window > 0).any():
        report.notes.append(
            f"{int((window > 0).sum())} extra windows of repeated uids; "
            "order continues across a student's windows"
        )
    table = _finish(table, report, duplicates)
    report.seconds = (pd.Timestamp.now() - start).total_seconds()
    return table, report


def _pykt_new_attempts(
    flat: dict[str, np.ndarray],
    padding: np.ndarray,
    user_codes: np.ndarray,
    where: Callable[[str], Callable[[int], str]],
) -> np.ndarray:
    """``(n_entries,)`` 1 where an entry starts a new attempt, 0 where ``is_repeat`` = 1
    repeats the question of the student's entry before (and for padding).

    Raises:
        ValueError: if ``is_repeat`` is not 0/1, or a repeat has no entry before it in its
            student or names another question than that entry.
    """
    repeat = flat["is_repeat"]
    real = np.flatnonzero(~padding)  # (n_real,) entries that are not padding
    bad = ~np.isin(repeat[real], (0, 1))
    if bad.any():
        entry = int(real[np.flatnonzero(bad)[0]])
        raise ValueError(
            f"{where('is_repeat')(entry)}: is_repeat must be 0 or 1, found {repeat[entry]}"
        )
    previous = pd.Series(real).groupby(user_codes[real]).shift(1).to_numpy()  # (n_real,) float
    repeats = repeat[real] == 1
    orphan = repeats & np.isnan(previous)
    if orphan.any():
        entry = int(real[np.flatnonzero(orphan)[0]])
        raise ValueError(
            f"{where('is_repeat')(entry)}: is_repeat=1 on the student's first entry: there is "
            "no question before it to repeat"
        )
    if "questions" in flat:
        questions = flat["questions"]
        before = np.where(repeats, previous, 0).astype(np.int64)
        other = repeats & (questions[real] != questions[before])
        if other.any():
            index = int(np.flatnonzero(other)[0])
            raise ValueError(
                f"{where('is_repeat')(int(real[index]))}: is_repeat=1 but the question "
                f"{questions[real[index]]} differs from the question {questions[before[index]]} "
                "of the entry before, which it should repeat"
            )
    new_attempt = np.zeros(len(repeat), dtype=np.int64)
    new_attempt[real] = repeat[real] == 0
    return new_attempt


# ----------------------------------------------------------------------------------
# Row-per-interaction logs (CSV, Parquet)


def _resolve_columns(
    available: Sequence[str], columns: dict[str, str] | None, path: Path
) -> dict[str, str | None]:
    """Map canonical names to file columns: explicit mapping first, then known names."""
    columns = dict(columns or {})
    unknown = [k for k in columns if k not in REQUIRED_COLUMNS]
    if unknown:
        raise ValueError(
            f"columns: keys must be canonical names {list(REQUIRED_COLUMNS)} (mapping "
            f"canonical name -> file column); got {unknown}"
        )
    resolved: dict[str, str | None] = {}
    for name in REQUIRED_COLUMNS:
        if name in columns:
            if columns[name] not in available:
                raise ValueError(
                    f"{path}: column {columns[name]!r} (given for {name!r}) not in the "
                    f"file; found {list(available)}"
                )
            resolved[name] = columns[name]
        else:
            resolved[name] = next((c for c in KNOWN_COLUMNS[name] if c in available), None)
    for name in ("user_id", "skill_id", "correct"):
        if resolved[name] is None:
            raise ValueError(
                f"{path}: no column for {name!r}; tried {list(KNOWN_COLUMNS[name])}; found "
                f"{list(available)}; rename the column in the file to one of those, or map it "
                f"from Python (read_log(..., columns={{{name!r}: 'your column'}}))"
            )
    return resolved


def _to_int64(text: pd.Series) -> np.ndarray | None:
    """Integer strings ("12", "12.0") as int64, or None if any is not one or overflows."""
    if not text.str.fullmatch(_INTEGER_TEXT).all():
        return None
    try:
        return text.str.replace(r"\.0*$", "", regex=True).astype(np.int64).to_numpy()
    except (OverflowError, ValueError):
        return None


def _user_ids(users: pd.Series) -> tuple[pd.Series, str | None]:
    """Student ids as int64 when every one is an integer that fits and no two texts name
    the same integer; else as read (strings), with a note saying why."""
    users = users.reset_index(drop=True)
    if not users.str.fullmatch(r"[+-]?\d+").all():
        return users, None
    integers = _to_int64(users)
    if integers is None:
        return users, "student ids kept as strings: some are beyond the 64-bit integer range"
    if pd.Series(integers).nunique() != users.nunique():
        return users, "student ids kept as strings: two of them name one integer (7 and 007)"
    return pd.Series(integers), None


def _ids(values: pd.Series, where: Callable[[int], str], what: str) -> tuple[np.ndarray, list[str]]:
    """Integer ids as int64 (refusing negative ones and ones beyond int64), or other names
    mapped to codes in sorted name order."""
    text = values.astype(str).str.strip()
    if text.str.fullmatch(_INTEGER_TEXT).all():
        integers = _to_int64(text)
        if integers is None:  # only an overflow fails here
            big = text.str.replace(r"\.0*$", "", regex=True).map(
                lambda t: not _INT64_MIN <= int(t) <= _INT64_MAX
            )
            row = int(np.flatnonzero(big.to_numpy())[0])
            raise ValueError(
                f"{where(row)}: {what} {text.iloc[row]} is beyond the 64-bit integer range; "
                "integer ids must fit in int64 (or use names, mapped to codes)"
            )
        _refuse_negative(integers, where, what)
        return integers, []
    names = sorted(text.unique().tolist())
    codes = pd.Categorical(text, categories=names).codes.astype(np.int64)
    return codes, names


def _read_frame(
    path: Path, data: bytes, encoding: str, columns: dict[str, str] | None
) -> tuple[pd.DataFrame, dict[str, str | None], np.ndarray, str]:
    """Read a log: the frame (the canonical source columns as stripped-able strings with
    "" for missing, the others as pandas infers them), the column mapping, the source
    line (or row) of each row and its unit."""
    if data[:4] == _PARQUET_MAGIC or path.suffix.lower() in (".parquet", ".pq"):
        try:
            frame = pd.read_parquet(io.BytesIO(data))
        except (OSError, ValueError, TypeError) as error:
            raise ValueError(f"{path}: not a readable Parquet file: {error}") from error
        resolved = _resolve_columns(list(frame.columns), columns, path)
        for source in {v for v in resolved.values() if v is not None}:
            values = frame[source]
            frame[source] = values.astype(object).where(values.notna(), "").astype(str)
        return frame, resolved, np.arange(len(frame)), "row"
    text = _decode(path, data, encoding)
    separator = "\t" if "\t" in text.split("\n", 1)[0] else ","
    try:
        header = pd.read_csv(io.StringIO(text), nrows=0, sep=separator).columns
        resolved = _resolve_columns(list(header), columns, path)
        needed = sorted({v for v in resolved.values() if v is not None})
        # Only the needed columns as strings: converting every column of a wide log
        # to strings tripled the read time of a 500k-row, 30-column file.
        frame = pd.read_csv(
            io.StringIO(text), dtype={c: str for c in needed}, skip_blank_lines=False, sep=separator
        )
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as error:
        if isinstance(error, ValueError) and str(error).startswith(str(path)):
            raise
        raise ValueError(f"{path}: not a readable CSV: {error}") from error
    for source in needed:
        frame[source] = frame[source].fillna("")
    return frame, resolved, _data_lines(text, separator, len(frame), path), "line"


def read_interactions(
    path: str | Path,
    columns: dict[str, str] | None = None,
    encoding: str = "utf-8",
    duplicates: str = "drop",
) -> tuple[pd.DataFrame, ReadReport]:
    """Read a row-per-interaction log (CSV, tab-separated, or Parquet).

    Columns are found by ``columns`` (canonical name -> file column, e.g.
    ``{"skill_id": "KC(Default)"}``) and otherwise by the names in ``KNOWN_COLUMNS``
    (ASSISTments, pyBKT, DataShop). String skill and item ids are mapped to integer
    codes in sorted name order (names kept in the report and, for skills, in
    ``table.attrs["skill_names"]``); integer ids must be >= 0. DataShop ``KC(...)`` cells
    listing several skills with "~~" become one row per skill sharing the attempt. Without
    an order column the row's line in the file is the order; without an item column the
    item is the skill. All other columns are kept with the types pandas infers.

    Args:
        path: The file.
        columns: Optional mapping canonical name -> file column.
        encoding: Text encoding of a CSV file.
        duplicates: What to do with a row equal in every column to an earlier one:
            "drop" (default), "keep" or "error" (see the module docstring).

    Returns:
        ``(table, report)``; rows missing the student, skill, answer, item or order
        are dropped and reported by reason with ``file:line`` examples.

    Raises:
        ValueError: Empty or unreadable file, a header without data rows, no column for
            ``user_id``/``skill_id``/``correct``, answers other than 0/1 (naming the
            lines), negative or out-of-range integer ids, an order that is neither all
            numbers nor all dates, or that cannot be kept exactly (see the module docstring).
    """
    _check_duplicates_policy(duplicates)
    start = pd.Timestamp.now()
    path = Path(path)
    data = _read_bytes(path)
    frame, resolved, lines, unit = _read_frame(path, data, encoding, columns)
    report = ReadReport(path=str(path), format="interactions")
    report.notes.append(
        "columns: " + ", ".join(f"{k} <- {v!r}" for k, v in resolved.items() if v is not None)
    )
    needed = sorted({v for v in resolved.values() if v is not None})
    others = [c for c in frame.columns if c not in needed]
    clash = [c for c in others if c in PROVENANCE_COLUMNS]
    if clash:
        raise ValueError(
            f"{path}: column(s) {clash} would be overwritten by the reader's own "
            f"{list(PROVENANCE_COLUMNS)} (where each row came from); rename or drop them"
        )
    frame["_line"] = lines
    if unit == "line":  # a blank line of a CSV holds no interaction; a Parquet row is one
        blank = np.ones(len(frame), dtype=bool)
        for source in needed:
            blank &= (frame[source].str.strip() == "").to_numpy()
        if others:
            blank &= frame[others].isna().all(axis=1).to_numpy()
        report.decide(
            "blank line (no values), skipped",
            [f"{path}:{n}" for n in lines[blank][:N_EXAMPLES]],
            int(blank.sum()),
        )
        frame = frame[~blank]
    report.n_rows_read = len(frame)
    if len(frame) == 0:
        _refuse_empty(report, "the file has a header but no data rows")

    def place(number: int) -> str:
        return _location(path, int(number), unit)

    skill_column = resolved["skill_id"]
    frame["_entry"] = 0
    if skill_column.startswith("KC"):
        frame = frame.assign(**{skill_column: frame[skill_column].str.split(KC_SEPARATOR)})
        frame = frame.explode(skill_column)
        frame["_entry"] = frame.groupby(level=0).cumcount().to_numpy()
        frame[skill_column] = frame[skill_column].fillna("")
        report.notes.append(
            f"{report.n_rows_read} rows in the file became {len(frame)} (attempt, skill) rows"
        )
        report.n_rows_read = len(frame)
        report.notes.append(
            f"{skill_column!r} cells split on {KC_SEPARATOR!r} into one row per skill"
        )
    # A row missing several values is counted once, under the first missing column.
    dropped = np.zeros(len(frame), dtype=bool)
    line_numbers = frame["_line"].to_numpy()
    for name in ("user_id", "skill_id", "correct", "item_id", "order"):
        source = resolved[name]
        if source is None:
            continue
        stripped = frame[source].str.strip()
        empty = ((stripped == "") | stripped.str.lower().isin(_MISSING)).to_numpy() & ~dropped
        report.drop(
            f"missing {name} (column {source!r})",
            [place(n) for n in line_numbers[empty][:N_EXAMPLES]],
            int(empty.sum()),
        )
        dropped |= empty
    frame = frame[~dropped]
    line_numbers = frame["_line"].to_numpy()

    def where(column: str) -> Callable[[int], str]:
        return lambda row: f"{place(line_numbers[row])} column {column!r}"

    correct_text = frame[resolved["correct"]].str.strip()
    correct_values = pd.to_numeric(correct_text, errors="coerce")
    bad = ~correct_values.isin([0, 1]).to_numpy()
    if bad.any():
        shown = ", ".join(
            f"{place(n)}: {v!r}"
            for n, v in zip(line_numbers[bad][:N_EXAMPLES], correct_text[bad][:N_EXAMPLES])
        )
        raise ValueError(
            f"{path}: column {resolved['correct']!r} must be 0 or 1 ({int(bad.sum())} bad "
            f"rows); e.g. {shown}"
        )
    skill_codes, report.skill_names = _ids(frame[skill_column], where(skill_column), "skill id")
    if report.skill_names:
        report.notes.append(
            f"{len(report.skill_names)} skill names mapped to codes 0.."
            f"{len(report.skill_names) - 1} (sorted by name)"
        )
    if resolved["item_id"] is not None:
        item_codes, report.item_names = _ids(
            frame[resolved["item_id"]], where(resolved["item_id"]), "item id"
        )
        if report.item_names:
            report.notes.append(f"{len(report.item_names)} item names mapped to codes")
    else:
        item_codes = skill_codes.copy()
        report.notes.append("no item column: item_id = skill_id")
    if resolved["order"] is not None:
        order, note = _parse_order(frame[resolved["order"]], where(resolved["order"]))
        if note:
            report.notes.append(note)
    else:
        order = line_numbers.astype(np.int64)
        report.notes.append(f"no order column: order = {unit} number in the file")
    users, note = _user_ids(frame[resolved["user_id"]].str.strip())
    if note:
        report.notes.append(note)
    table = pd.DataFrame(
        {
            "user_id": users.to_numpy(),
            "item_id": item_codes,
            "skill_id": skill_codes,
            "correct": correct_values.to_numpy().astype(np.int8),
            "order": order,
        }
    )
    extras = [c for c in others if c not in table.columns]
    if extras:
        table = pd.concat([table, frame[extras].reset_index(drop=True)], axis=1)
    table[SOURCE_LINE] = line_numbers
    table[SOURCE_ENTRY] = frame["_entry"].to_numpy()
    table = _finish(table, report, duplicates, unit)
    report.seconds = (pd.Timestamp.now() - start).total_seconds()
    return table, report


def _parse_order(values: pd.Series, where: Callable[[int], str]) -> tuple[np.ndarray, str | None]:
    """``(n_rows,)`` int64 or float64 order values, exactly as written, and a note.

    ``where(row)`` names a row's file, line and column in an error.

    Raises:
        ValueError: for a value neither a number nor a date, a column mixing numbers and
            dates, a number that cannot be kept exactly, or mixed UTC offsets.
    """
    text = values.str.strip().reset_index(drop=True)
    numbers = pd.to_numeric(text, errors="coerce")
    is_number = numbers.notna().to_numpy()
    if is_number.all():
        return _exact_numbers(text, numbers, where), None
    # utc=True only to tell which values parse at all: mixed offsets are checked below
    parses = pd.to_datetime(text, errors="coerce", format="mixed", utc=True).notna().to_numpy()
    neither = ~is_number & ~parses
    if neither.any():
        row = int(np.flatnonzero(neither)[0])
        raise ValueError(
            f"{where(row)}: order value {text.iloc[row]!r} is neither a number nor a date/time"
        )
    if is_number.any():
        kind = {True: "a number", False: "a date"}
        other = int(np.flatnonzero(is_number != is_number[0])[0])
        raise ValueError(
            f"{where(other)}: order value {text.iloc[other]!r} is {kind[bool(is_number[other])]} "
            f"but the first row's, {text.iloc[0]!r}, is {kind[bool(is_number[0])]}; an order "
            "column must hold only numbers (sequence numbers, epoch times) or only dates"
        )
    return _exact_times(text, where)


def _exact_numbers(text: pd.Series, numbers: pd.Series, where: Callable[[int], str]) -> np.ndarray:
    if pd.api.types.is_signed_integer_dtype(numbers):
        return numbers.astype(np.int64).to_numpy()
    if text.str.fullmatch(_INTEGER_TEXT).all():
        exact = _to_int64(text)  # parsed from the text: float64 would round beyond 2**53
        if exact is None:
            big = text.str.replace(r"\.0*$", "", regex=True).map(
                lambda t: not _INT64_MIN <= int(t) <= _INT64_MAX
            )
            row = int(np.flatnonzero(big.to_numpy())[0])
            raise ValueError(
                f"{where(row)}: order value {text.iloc[row]} is beyond the 64-bit integer "
                f"range [{_INT64_MIN}, {_INT64_MAX}]; as a float it would merge with its "
                "neighbours into one attempt (rank or rescale the column)"
            )
        return exact
    as_float = numbers.astype(np.float64).to_numpy()
    if not np.isfinite(as_float).all():
        row = int(np.flatnonzero(~np.isfinite(as_float))[0])
        raise ValueError(f"{where(row)}: order value {text.iloc[row]!r} is not finite")
    big = text.str.fullmatch(_INTEGER_TEXT).to_numpy() & (np.abs(as_float) >= 2.0**63)
    if big.any():
        row = int(np.flatnonzero(big)[0])
        raise ValueError(
            f"{where(row)}: order value {text.iloc[row]} is beyond the 64-bit integer range "
            f"[{_INT64_MIN}, {_INT64_MAX}]; as a float it would merge with its neighbours "
            "into one attempt (rank or rescale the column)"
        )
    _refuse_float_collisions(text, as_float, where)
    return as_float


def _refuse_float_collisions(text: pd.Series, as_float: np.ndarray, where: Callable[[int], str]):
    """Raise if two different numbers in ``text`` are the same float64 (two attempts would
    become one)."""
    first_row = pd.Series(np.arange(len(text))).groupby(text.to_numpy(), sort=False).first()
    floats = pd.Series(as_float[first_row.to_numpy()], index=first_row.index)
    shared = floats[floats.duplicated(keep=False)]  # distinct texts, one float
    for _, group in shared.groupby(shared):
        exact: dict[Decimal | str, str] = {}
        for written in group.index:
            try:
                key: Decimal | str = Decimal(written)
            except InvalidOperation:
                key = written
            exact.setdefault(key, written)
        if len(exact) > 1:
            a, b = list(exact.values())[:2]
            row_a, row_b = int(first_row[a]), int(first_row[b])
            raise ValueError(
                f"{where(row_b)}: order value {b!r} differs from {a!r} ({where(row_a)}) but "
                "both are the same 64-bit float, which would merge two attempts into one; "
                "write the order as integers (or with fewer digits)"
            )


def _exact_times(text: pd.Series, where: Callable[[int], str]) -> tuple[np.ndarray, str]:
    """Dates as int64 nanoseconds since 1970-01-01 (UTC when they carry an offset)."""
    try:
        times = pd.to_datetime(text, format="mixed")
    except ValueError as error:  # pandas: "Mixed timezones detected"; find the first that differs
        first = _utc_offset(text.iloc[0])
        for row, value in enumerate(text):
            offset = _utc_offset(value)
            if offset != first:
                raise ValueError(
                    f"{where(row)}: timestamp {value!r} has UTC offset {offset} but the first "
                    f"row's, {text.iloc[0]!r}, has {first}; an order column's timestamps must "
                    "share one UTC offset, or all have none (convert them to UTC first)"
                ) from None
        raise ValueError(f"{where(0)}: cannot read the order column as dates: {error}") from None
    note = "order: dates/times as nanoseconds since 1970-01-01 (no time zone)"
    if times.dt.tz is not None:
        note = (
            f"order: dates/times at {times.dt.tz} converted to UTC, as nanoseconds since 1970-01-01"
        )
        times = times.dt.tz_convert("UTC").dt.tz_localize(None)
    try:
        nanoseconds = times.dt.as_unit("ns")
    except (OverflowError, ValueError):  # pandas' OutOfBoundsDatetime is a ValueError
        years = times.dt.year.to_numpy()
        row = int(np.flatnonzero((years < 1678) | (years > 2261))[0])
        raise ValueError(
            f"{where(row)}: timestamp {text.iloc[row]!r} is outside the years 1678-2261 that "
            "nanoseconds since 1970 can hold in 64 bits"
        ) from None
    return nanoseconds.astype(np.int64).to_numpy(), note


def _utc_offset(value: str) -> str:
    """A timestamp's UTC offset as "+HH:MM", or "none"."""
    try:
        offset = pd.to_datetime(value, format="mixed").utcoffset()
    except ValueError:
        return "unreadable"
    if offset is None:
        return "none"
    minutes = int(offset.total_seconds() // 60)
    sign = "-" if minutes < 0 else "+"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


# ----------------------------------------------------------------------------------
# Detection and the front door


def _try_three_line(lines: list[str]) -> str | None:
    """None if the first lines look like the three-line format, else why not."""
    if len(lines) < 3:
        return "fewer than 3 lines"
    count = lines[0].strip().rstrip(",").strip()
    if not re.fullmatch(r"\d+", count):
        return f"line 1 is not a single count ({lines[0][:30]!r})"
    for offset, what in ((1, "skill ids"), (2, "answers")):
        parts = [p.strip() for p in lines[offset].strip().split(",")]
        if parts and parts[-1] == "":
            parts.pop()
        if parts == [""]:
            parts = []  # a student with no attempts, its empty list written as ","
        if len(parts) != int(count) or not all(re.fullmatch(r"-?\d+", p) for p in parts):
            return f"line {offset + 1} is not {count} comma-separated {what}"
    return None


def _try_matrix(lines: list[str]) -> str | None:
    widths = set()
    for number, line in enumerate(lines[:5]):
        fields = [f.strip() for f in line.split(",")]
        if not all(f in ("0", "1", "") for f in fields):
            return f"line {number + 1} has values other than 0/1"
        widths.add(len(fields))
    if len(widths) != 1:
        return "first lines have different numbers of fields"
    if widths == {1}:
        return "only one column"
    return None


def detect_format(path: str | Path, encoding: str = "utf-8") -> str:
    """Guess a file's format from its first lines.

    Args:
        path: The file.
        encoding: Text encoding.

    Returns:
        One of ``FORMATS``.

    Raises:
        ValueError: If no format fits, listing each format tried and why it failed.
    """
    path = Path(path)
    data = _read_bytes(path)
    if data[:4] == _PARQUET_MAGIC or path.suffix.lower() in (".parquet", ".pq"):
        return "interactions"
    head = (
        _decode(path, data[: 1 << 16], encoding)
        if len(data) > 1 << 16
        else _decode(path, data, encoding)
    )
    lines = [line for line in head.splitlines()[: -1 if len(data) > 1 << 16 else None]]
    while lines and not lines[-1].strip():
        lines.pop()
    reasons = {}
    header = [h.strip().strip('"') for h in re.split(r"[,\t]", lines[0])] if lines else []
    if {"uid", "concepts", "responses"} <= set(header):
        return "pykt"
    reasons["pykt"] = "header lacks uid, concepts, responses"
    why = _try_three_line(lines)
    if why is None:
        return "three-line"
    reasons["three-line"] = why
    why = _try_matrix(lines)
    if why is None:
        return "matrix"
    reasons["matrix"] = why
    missing = [
        n
        for n in ("user_id", "skill_id", "correct")
        if not any(c in header for c in KNOWN_COLUMNS[n])
    ]
    if not missing:
        return "interactions"
    reasons["interactions"] = f"header has no recognised column for {missing}"
    tried = "; ".join(f"{name}: {why}" for name, why in reasons.items())
    raise ValueError(
        f"{path}: could not detect the format (tried {tried}); give it (--format in the "
        f"scripts, format= in Python): one of {list(FORMATS)}"
    )


def read_log(
    path: str | Path,
    format: str = "auto",
    columns: dict[str, str] | None = None,
    encoding: str = "utf-8",
    duplicates: str = "drop",
) -> tuple[pd.DataFrame, ReadReport]:
    """Read any supported log into the canonical table.

    Args:
        path: The file.
        format: "auto" (detect), "interactions", "three-line", "pykt" or "matrix".
        columns: Column mapping for interaction logs (canonical name -> file column);
            given with ``format="auto"``, the file is read as an interaction log.
        encoding: Text encoding ("utf-8" default; "latin-1" reads any byte).
        duplicates: Rows equal in every column to an earlier one: "drop" (default),
            "keep" or "error" (interaction logs and pyKT files; the other formats cannot
            hold one).

    Returns:
        ``(table, report)``.

    Raises:
        ValueError: Unknown format, detection failure (listing what was tried), or
            malformed content (see the readers).
    """
    allowed = ("auto",) + FORMATS
    if format not in allowed:
        raise ValueError(
            f"the log format (--format, format=) must be one of {list(allowed)}, got {format!r}"
        )
    if columns is not None and format not in ("auto", "interactions"):
        raise ValueError(
            f"read_log: columns= applies only to format='interactions', not {format!r}"
        )
    _check_duplicates_policy(duplicates)
    if format == "auto":
        format = "interactions" if columns is not None else detect_format(path, encoding)
    if format == "interactions":
        return read_interactions(path, columns=columns, encoding=encoding, duplicates=duplicates)
    if format == "three-line":
        return read_three_line(path, encoding=encoding)
    if format == "pykt":
        return read_pykt(path, encoding=encoding, duplicates=duplicates)
    return read_matrix(path, encoding=encoding)
