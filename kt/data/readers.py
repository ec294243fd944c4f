"""Readers of student logs: each returns the canonical table (``kt.data.table``) and a report.

Readers (``read_log`` picks one, ``format="auto"`` detects it) return
``(table, ReadReport)``. Rows that cannot be used (missing student, skill, answer)
are dropped only with the report counting them by reason with ``file:line``
examples; malformed input (a missing column, a non-binary answer, lists of unequal
length, an empty file, an undecodable byte) raises ``ValueError`` naming the file,
the line or column, and what is allowed.
"""

from __future__ import annotations

import io
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from riley_gym.kt.data.attempts import canonical_order
from riley_gym.kt.data.table import N_EXAMPLES, REQUIRED_COLUMNS, as_int64, validate_table

__all__ = [
    "FORMATS",
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
# Cell values read as a missing value in interaction logs (compared lower-case).
_MISSING = ("nan", "na", "null", "none")
_PARQUET_MAGIC = b"PAR1"


@dataclass
class ReadReport:
    """What a reader did with a file: rows read, kept, dropped (by reason), notes.

    Attributes:
        path: The file read.
        format: The format used ("interactions", "three-line", "pykt", "matrix").
        n_rows_read: Interactions (or entries) found in the file before dropping.
        n_rows_kept: Rows in the returned table.
        dropped: Reason -> number of rows dropped for it.
        examples: Reason -> first few locations as "file:line" strings.
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
    examples: dict[str, list[str]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    skill_names: list[str] = field(default_factory=list)
    item_names: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def drop(self, reason: str, locations: Sequence[str], count: int | None = None) -> None:
        """Record dropped rows: ``count`` of them (default ``len(locations)``) for
        ``reason``, with ``locations`` ("file:line" strings, possibly only the first few)."""
        count = len(locations) if count is None else int(count)
        if count == 0:
            return
        self.dropped[reason] = self.dropped.get(reason, 0) + count
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
        for reason, count in self.dropped.items():
            where = ", ".join(self.examples.get(reason, []))
            lines.append(f"  dropped {count}: {reason} (e.g. {where})")
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
# File access


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
            f"{encoding}; pass encoding='latin-1' (or the file's encoding)"
        ) from error
    except LookupError as error:
        raise ValueError(f"{path}: unknown encoding {encoding!r}") from error


def _lines(path: Path, encoding: str) -> list[str]:
    lines = _decode(path, _read_bytes(path), encoding).splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    return lines


def _parse_ints(text: str, where: str, what: str) -> list[int]:
    parts = [p.strip() for p in text.strip().split(",")]
    if parts and parts[-1] == "":
        parts.pop()  # the DKT files end every list with a comma
    try:
        values = [int(p) for p in parts]
    except ValueError:
        bad = next(p for p in parts if not re.fullmatch(r"[+-]?\d+", p))
        raise ValueError(
            f"{where}: {what} must be comma-separated integers; found {bad!r}"
        ) from None
    if values and (max(values) > _INT64_MAX or min(values) < -_INT64_MAX):
        raise ValueError(
            f"{where}: {what} must fit in 64-bit integers; found {max(values, key=abs)}"
        )
    return values


def _check_binary(values: np.ndarray, where: str) -> None:
    bad = (values != 0) & (values != 1)
    if bad.any():
        shown = sorted(set(values[bad].tolist()))[:N_EXAMPLES]
        raise ValueError(f"{where}: correctness must be 0 or 1; found {shown}")


def _finish(table: pd.DataFrame, report: ReadReport) -> pd.DataFrame:
    table = table.iloc[canonical_order(table)].reset_index(drop=True)
    if report.skill_names:
        table.attrs["skill_names"] = list(report.skill_names)
    validate_table(table, where=report.path)
    report.n_rows_kept = len(table)
    return table


# ----------------------------------------------------------------------------------
# Three-line (DKT), matrix (DKT synthetic), pyKT


def read_three_line(path: str | Path, encoding: str = "utf-8") -> tuple[pd.DataFrame, ReadReport]:
    """Read the DKT three-line format (count; skill ids; 0/1 answers) per student.

    ``user_id`` is the student's index in the file (0, 1, ...), ``skill_id`` the ids on
    the second line, ``item_id`` equals ``skill_id`` (the format has no exercise ids),
    ``order`` is the position in the sequence. Lines may end with a trailing comma.

    Args:
        path: The file.
        encoding: Text encoding ("utf-8" default; "latin-1" accepts any byte).

    Returns:
        ``(table, report)``.

    Raises:
        ValueError: Empty file, a line count not a multiple of 3, a non-integer value,
            non-binary answers, or lists whose lengths differ from the count, naming
            the file and line.
    """
    start = pd.Timestamp.now()
    path = Path(path)
    lines = _lines(path, encoding)
    report = ReadReport(path=str(path), format="three-line")
    if len(lines) % 3 != 0:
        raise ValueError(
            f"{path}:{len(lines)}: three-line format needs 3 lines per student; the file "
            f"has {len(lines)} non-trailing lines (the last student is incomplete)"
        )
    users, skills, answers, positions = [], [], [], []
    empty_students = 0
    for student in range(len(lines) // 3):
        first = 3 * student  # 0-based index of the count line
        where = f"{path}:{first + 1}"
        count_text = lines[first].strip().rstrip(",").strip()
        if not re.fullmatch(r"\d+", count_text):
            raise ValueError(
                f"{where}: expected the number of attempts (a non-negative integer), "
                f"found {lines[first][:40]!r}"
            )
        count = int(count_text)
        skill_list = _parse_ints(lines[first + 1], f"{path}:{first + 2}", "skill ids")
        answer_list = _parse_ints(lines[first + 2], f"{path}:{first + 3}", "answers")
        if len(skill_list) != count or len(answer_list) != count:
            raise ValueError(
                f"{path}:{first + 1}-{first + 3}: mismatched lengths: count line says "
                f"{count}, skill line has {len(skill_list)}, answer line has {len(answer_list)}"
            )
        if count == 0:
            empty_students += 1
        users.append(np.full(count, student, dtype=np.int64))
        skills.append(np.asarray(skill_list, dtype=np.int64))
        answers.append(np.asarray(answer_list, dtype=np.int64))
        positions.append(np.arange(count, dtype=np.int64))
        _check_binary(answers[-1], f"{path}:{first + 3}")
    skill = np.concatenate(skills) if skills else np.zeros(0, dtype=np.int64)
    table = pd.DataFrame(
        {
            "user_id": np.concatenate(users) if users else np.zeros(0, dtype=np.int64),
            "item_id": skill.copy(),
            "skill_id": skill,
            "correct": (np.concatenate(answers) if answers else skill).astype(np.int8),
            "order": np.concatenate(positions) if positions else skill.copy(),
        }
    )
    report.n_rows_read = len(table)
    report.notes.append(f"{len(lines) // 3} students; item_id = skill_id (no exercise ids)")
    if empty_students:
        report.notes.append(f"{empty_students} students with 0 attempts (no rows)")
    table = _finish(table, report)
    report.seconds = (pd.Timestamp.now() - start).total_seconds()
    return table, report


def read_matrix(path: str | Path, encoding: str = "utf-8") -> tuple[pd.DataFrame, ReadReport]:
    """Read a response matrix: one row per student, 0/1 answers to exercises 0..m-1.

    ``user_id`` is the row index, ``item_id`` = ``skill_id`` = ``order`` = the column
    index (the DKT synthetic data: every student answers the exercises in order). An
    empty field is a missing answer and is dropped with the report.

    Args:
        path: The file (comma-separated, no header).
        encoding: Text encoding.

    Returns:
        ``(table, report)``.

    Raises:
        ValueError: Empty file, rows of different lengths, or values other than 0/1,
            naming the file and line.
    """
    start = pd.Timestamp.now()
    path = Path(path)
    lines = _lines(path, encoding)
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


def read_pykt(path: str | Path, encoding: str = "utf-8") -> tuple[pd.DataFrame, ReadReport]:
    """Read a pyKT sequences CSV (one row per student or window) into one row per attempt.

    Columns: ``fold``, ``uid``, and quoted comma-separated lists ``concepts``,
    ``responses`` (and ``questions``, ``selectmasks``, ``is_repeat``, ``cidxs``,
    ``timestamps`` when present), all of one length per row. ``user_id`` = ``uid``;
    ``skill_id`` = concept; ``item_id`` = question (or the concept when absent);
    ``fold`` is kept; ``order`` counts the student's attempts across windows (rows of
    the same uid get ``window`` 0, 1, ...). pyKT repeats a multi-concept question with
    ``is_repeat`` = 1: those rows share the order of the question's first row (one
    attempt). Padding entries (-1) are dropped and reported.

    Args:
        path: The file.
        encoding: Text encoding.

    Returns:
        ``(table, report)``.

    Raises:
        ValueError: Missing column, lists of different lengths, non-integer values or
            answers other than 0/1 (or -1 padding), naming the file, line and column.
    """
    start = pd.Timestamp.now()
    path = Path(path)
    text = _decode(path, _read_bytes(path), encoding)
    report = ReadReport(path=str(path), format="pykt")
    try:
        frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as error:
        raise ValueError(f"{path}: not a readable CSV: {error}") from error
    required = ("uid", "concepts", "responses")
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise ValueError(
            f"{path}: pyKT file lacks column(s) {missing}; needs {list(required)}, "
            f"found {list(frame.columns)}"
        )
    present = [c for c in _PYKT_LISTS if c in frame.columns]
    line_of_row = np.arange(len(frame)) + 2  # header is line 1; lists are single-line
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
    integer_users = _to_int64(users) if users.str.fullmatch(r"[+-]?\d+").all() else None
    users = users if integer_users is None else pd.Series(integer_users)
    window = users.groupby(users, sort=False).cumcount().to_numpy()
    flat = {c: np.concatenate(parsed[c]) if len(frame) else np.zeros(0, np.int64) for c in present}
    row_of_entry = np.repeat(np.arange(len(frame)), lengths)  # (n_entries,)
    report.n_rows_read = int(lengths.sum())
    responses = flat["responses"]
    bad = ~np.isin(responses, (0, 1, -1))
    if bad.any():
        entry = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"{path}:{line_of_row[row_of_entry[entry]]} column 'responses': answers must be "
            f"0 or 1 (-1 for padding); found {int(responses[entry])}"
        )
    padding = (responses == -1) | (flat["concepts"] == -1)
    if "selectmasks" in flat:
        padding |= flat["selectmasks"] == -1
    if "questions" in flat:
        padding |= flat["questions"] == -1
    locations = [f"{path}:{line_of_row[r]}" for r in row_of_entry[padding][:N_EXAMPLES]]
    report.drop("padding (-1)", locations, int(padding.sum()))
    # One attempt per entry, except pyKT's repeated rows for extra concepts of a question.
    new_attempt = np.ones(len(responses), dtype=np.int64)
    if "is_repeat" in flat:
        new_attempt = (flat["is_repeat"] == 0).astype(np.int64)
        report.notes.append("rows with is_repeat=1 share the attempt of the row before")
    entry_user = users.to_numpy()[row_of_entry]
    user_codes, _ = pd.factorize(entry_user, sort=False)
    attempt_number = pd.Series(new_attempt).groupby(user_codes).cumsum().to_numpy() - 1
    table = pd.DataFrame(
        {
            "user_id": entry_user,
            "item_id": flat["questions"] if "questions" in flat else flat["concepts"].copy(),
            "skill_id": flat["concepts"],
            "correct": responses,
            "order": np.maximum(attempt_number, 0),
        }
    )
    if "fold" in frame.columns:
        table["fold"] = as_int64(frame["fold"], f"{path}: column 'fold'").to_numpy()[row_of_entry]
    table["window"] = window[row_of_entry]
    for column, name in (
        ("is_repeat", "is_repeat"),
        ("cidxs", "cidx"),
        ("timestamps", "timestamp"),
    ):
        if column in flat:
            table[name] = flat[column]
    table = table[~padding].reset_index(drop=True)
    table["correct"] = table["correct"].astype(np.int8)
    if "questions" not in flat:
        report.notes.append("no 'questions' column: item_id = skill_id")
    if (window > 0).any():
        report.notes.append(
            f"{int((window > 0).sum())} extra windows of repeated uids; "
            "order continues across a student's windows"
        )
    table = _finish(table, report)
    report.seconds = (pd.Timestamp.now() - start).total_seconds()
    return table, report


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
                f"{list(available)}; pass columns={{{name!r}: 'your column'}}"
            )
    return resolved


def _to_int64(text: pd.Series) -> np.ndarray | None:
    """Integer strings ("12", "12.0") as int64, or None if any is not one or overflows."""
    if not text.str.fullmatch(r"[+-]?\d+(\.0*)?").all():
        return None
    try:
        return text.str.replace(r"\.0*$", "", regex=True).astype(np.int64).to_numpy()
    except (OverflowError, ValueError):
        return None


def _codes_or_ints(values: pd.Series) -> tuple[np.ndarray, list[str]]:
    """Integer ids as int64, or other names mapped to codes in sorted name order."""
    text = values.astype(str).str.strip()
    integers = _to_int64(text)
    if integers is not None:
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
    # header is line 1; rows map to lines when no quoted field spans lines
    return frame, resolved, np.arange(len(frame)) + 2, "line"


def read_interactions(
    path: str | Path,
    columns: dict[str, str] | None = None,
    encoding: str = "utf-8",
) -> tuple[pd.DataFrame, ReadReport]:
    """Read a row-per-interaction log (CSV, tab-separated, or Parquet).

    Columns are found by ``columns`` (canonical name -> file column, e.g.
    ``{"skill_id": "KC(Default)"}``) and otherwise by the names in ``KNOWN_COLUMNS``
    (ASSISTments, pyBKT, DataShop). String skill and item ids are mapped to integer
    codes in sorted name order (names kept in the report and, for skills, in
    ``table.attrs["skill_names"]``). DataShop ``KC(...)`` cells listing several skills
    with "~~" become one row per skill sharing the attempt. Without an order column
    the row position in the file is the order; without an item column the item is the
    skill. All other columns are kept with the types pandas infers.

    Args:
        path: The file.
        columns: Optional mapping canonical name -> file column.
        encoding: Text encoding of a CSV file.

    Returns:
        ``(table, report)``; rows missing the student, skill, answer, item or order
        are dropped and reported by reason with ``file:line`` examples.

    Raises:
        ValueError: Empty or unreadable file, no column for ``user_id``/``skill_id``/
            ``correct``, answers other than 0/1 (naming the lines), non-numeric order.
    """
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
    blank = np.ones(len(frame), dtype=bool)
    for source in needed:
        blank &= (frame[source].str.strip() == "").to_numpy()
    if others:
        blank &= frame[others].isna().all(axis=1).to_numpy()
    frame["_line"] = lines
    report.n_rows_read = int((~blank).sum())
    if blank.any():
        report.notes.append(f"{int(blank.sum())} blank lines skipped")
        frame = frame[~blank]
    skill_column = resolved["skill_id"]
    if skill_column.startswith("KC"):
        frame = frame.assign(**{skill_column: frame[skill_column].str.split(KC_SEPARATOR)})
        frame = frame.explode(skill_column)
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
            [
                f"{path}:{unit} {n}" if unit == "row" else f"{path}:{n}"
                for n in line_numbers[empty][:N_EXAMPLES]
            ],
            int(empty.sum()),
        )
        dropped |= empty
    if dropped.any():
        frame = frame[~dropped]
    correct_text = frame[resolved["correct"]].str.strip()
    correct_values = pd.to_numeric(correct_text, errors="coerce")
    bad = ~correct_values.isin([0, 1]).to_numpy()
    if bad.any():
        shown = ", ".join(
            f"{path}:{n}: {v!r}"
            for n, v in zip(frame["_line"][bad][:N_EXAMPLES], correct_text[bad][:N_EXAMPLES])
        )
        raise ValueError(
            f"{path}: column {resolved['correct']!r} must be 0 or 1 ({int(bad.sum())} bad "
            f"rows); e.g. {shown}"
        )
    skill_codes, report.skill_names = _codes_or_ints(frame[skill_column])
    if report.skill_names:
        report.notes.append(
            f"{len(report.skill_names)} skill names mapped to codes 0.."
            f"{len(report.skill_names) - 1} (sorted by name)"
        )
    if resolved["item_id"] is not None:
        item_codes, report.item_names = _codes_or_ints(frame[resolved["item_id"]])
        if report.item_names:
            report.notes.append(f"{len(report.item_names)} item names mapped to codes")
    else:
        item_codes = skill_codes.copy()
        report.notes.append("no item column: item_id = skill_id")
    if resolved["order"] is not None:
        order = _parse_order(frame[resolved["order"]], frame["_line"], path)
    else:
        order = frame["_line"].to_numpy().astype(np.int64)
        report.notes.append(f"no order column: order = {unit} number in the file")
    users = frame[resolved["user_id"]].str.strip()
    integer_users = _to_int64(users) if users.str.fullmatch(r"[+-]?\d+").all() else None
    users = users if integer_users is None else pd.Series(integer_users)
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
    table = _finish(table, report)
    report.seconds = (pd.Timestamp.now() - start).total_seconds()
    return table, report


def _parse_order(values: pd.Series, lines: pd.Series, path: Path) -> np.ndarray:
    text = values.str.strip()
    numbers = pd.to_numeric(text, errors="coerce")
    if numbers.notna().all():
        as_float = numbers.astype(np.float64).to_numpy()
        if not np.isfinite(as_float).all():
            row = int(np.flatnonzero(~np.isfinite(as_float))[0])
            raise ValueError(
                f"{path}:{lines.iloc[row]}: order value {text.iloc[row]!r} is not finite"
            )
        if (as_float == np.floor(as_float)).all() and (np.abs(as_float) < 2.0**63).all():
            return numbers.astype(np.int64).to_numpy()
        return as_float
    times = pd.to_datetime(text, errors="coerce", format="mixed")
    if times.notna().all():
        # timestamps become nanoseconds since the epoch (int64), so order stays numeric
        return times.astype("datetime64[ns]").astype(np.int64).to_numpy()
    bad = numbers.isna() & times.isna()
    row = int(np.flatnonzero(bad.to_numpy())[0])
    raise ValueError(
        f"{path}:{lines.iloc[row]}: order value {text.iloc[row]!r} is neither a number nor "
        "a date/time"
    )


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
        f"{path}: could not detect the format (tried {tried}); pass format= one of "
        f"{list(FORMATS)} (and columns= for an interaction log)"
    )


def read_log(
    path: str | Path,
    format: str = "auto",
    columns: dict[str, str] | None = None,
    encoding: str = "utf-8",
) -> tuple[pd.DataFrame, ReadReport]:
    """Read any supported log into the canonical table.

    Args:
        path: The file.
        format: "auto" (detect), "interactions", "three-line", "pykt" or "matrix".
        columns: Column mapping for interaction logs (canonical name -> file column);
            given with ``format="auto"``, the file is read as an interaction log.
        encoding: Text encoding ("utf-8" default; "latin-1" reads any byte).

    Returns:
        ``(table, report)``.

    Raises:
        ValueError: Unknown format, detection failure (listing what was tried), or
            malformed content (see the readers).
    """
    allowed = ("auto",) + FORMATS
    if format not in allowed:
        raise ValueError(f"read_log: format must be one of {list(allowed)}, got {format!r}")
    if columns is not None and format not in ("auto", "interactions"):
        raise ValueError(
            f"read_log: columns= applies only to format='interactions', not {format!r}"
        )
    if format == "auto":
        format = "interactions" if columns is not None else detect_format(path, encoding)
    if format == "interactions":
        return read_interactions(path, columns=columns, encoding=encoding)
    if format == "three-line":
        return read_three_line(path, encoding=encoding)
    if format == "pykt":
        return read_pykt(path, encoding=encoding)
    return read_matrix(path, encoding=encoding)
