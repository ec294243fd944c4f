"""Interaction logs too large for memory: a partitioned Parquet dataset read as student shards.

A *log dataset* is a folder of Parquet files ``part-00000.parquet, part-00001.parquet, ...``
plus ``manifest.json`` (the settings that produced it, the row and student counts, the
files). Its rows are canonical interactions (``user_id``, ``item_id``, ``skill_id``,
``correct``, ``order``; see ``kt.data.table``) stored student-contiguous: all rows of a
student are consecutive, in ``order``, and never span two files.

- ``LogDatasetWriter`` writes one: ``write(chunk)`` takes tables of whole students,
  ``close(settings)`` writes the manifest.
- ``student_folds`` assigns every student to train, validation or test by a hash of its id
  (splitmix64 of an integer id, BLAKE2b of a string id), so every process, rank and restart
  agrees on a student's fold from its id alone, without reading the rest of the log.
- ``iter_student_shards`` streams the dataset (Parquet record batches, a bounded
  number of record batches at a time) as tables of at most ``students_per_shard`` whole
  students, optionally only one fold's students: peak memory depends on the shard size, not
  on the size of the log. Files are read one at a time (``pyarrow.parquet.ParquetFile``
  record batches; a ``pyarrow.dataset`` scanner's memory grew with the log).

Example:
    >>> import tempfile
    >>> from riley_gym.kt.data import make_table
    >>> folder = tempfile.mkdtemp()
    >>> writer = LogDatasetWriter(folder, rows_per_file=3)
    >>> writer.write(make_table(user_ids=[0, 0, 1], skill_ids=[3, 4, 3], correct=[1, 0, 1]))
    >>> writer.write(make_table(user_ids=[2, 2], skill_ids=[4, 4], correct=[0, 1]))
    >>> manifest = writer.close({"source": "doctest"})
    >>> manifest["n_rows"], manifest["n_students"], len(manifest["files"])
    (5, 3, 2)
    >>> [shard.user_id.tolist() for shard in iter_student_shards(folder, students_per_shard=2)]
    [[0, 0, 1], [2, 2]]
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pandas as pd

from riley_gym.kt.data.table import REQUIRED_COLUMNS

__all__ = [
    "MANIFEST",
    "FOLDS",
    "LogDatasetWriter",
    "read_manifest",
    "is_log_dataset",
    "student_hash",
    "student_folds",
    "iter_student_shards",
]

MANIFEST = "manifest.json"
FOLDS = ("train", "valid", "test")
# Stored types: small ints keep 100M rows near 1 GB on disk; the reader returns int64 (the
# canonical table's types) except ``correct`` (int8, as ``make_table`` gives).
STORED_TYPES = {
    "user_id": "int64",
    "item_id": "int32",
    "skill_id": "int32",
    "correct": "int8",
    "order": "int32",
}
READ_TYPES = {"user_id": np.int64, "item_id": np.int64, "skill_id": np.int64, "order": np.int64}
_MASK64 = (1 << 64) - 1


def _pyarrow():
    """pyarrow and its parquet and dataset modules (the dev and distributed extras install it)."""
    try:
        import pyarrow  # optional: only log datasets need it
        import pyarrow.dataset  # noqa: F401
        import pyarrow.parquet  # noqa: F401
    except ImportError as error:  # pragma: no cover - the dev extra installs pyarrow
        raise ImportError(
            "log datasets need pyarrow: pip install 'riley-gym[distributed]'"
        ) from error
    return pyarrow


def is_log_dataset(path: str | Path) -> bool:
    """Whether ``path`` is a folder holding a log dataset's ``manifest.json``."""
    return (Path(path) / MANIFEST).is_file()


def read_manifest(directory: str | Path) -> dict[str, Any]:
    """The manifest of the log dataset in ``directory``.

    Raises:
        FileNotFoundError: if ``directory`` has no ``manifest.json``.
    """
    path = Path(directory) / MANIFEST
    if not path.is_file():
        raise FileNotFoundError(
            f"{directory} is not a log dataset: it has no {MANIFEST} (write one with "
            "scripts/make_log.py or kt.data.log_dataset.LogDatasetWriter)"
        )
    return json.loads(path.read_text())


class LogDatasetWriter:
    """Write a log dataset one chunk of whole students at a time.

    Args:
        directory: the folder to write (created; it must not hold a manifest already).
        rows_per_file: start a new file once the current one holds this many rows (files
            are cut between chunks, so a student never spans two files).
        row_group_rows: rows per Parquet row group (what a reader holds at a time).

    Raises:
        FileExistsError: if ``directory`` already holds a log dataset.
    """

    def __init__(
        self,
        directory: str | Path,
        rows_per_file: int = 10_000_000,
        row_group_rows: int = 1_000_000,
    ) -> None:
        if rows_per_file < 1 or row_group_rows < 1:
            raise ValueError(
                f"rows_per_file and row_group_rows must be >= 1, got {rows_per_file}, "
                f"{row_group_rows}"
            )
        self.directory = Path(directory)
        if is_log_dataset(self.directory):
            raise FileExistsError(f"{self.directory} already holds a log dataset")
        self.directory.mkdir(parents=True, exist_ok=True)
        self.rows_per_file = rows_per_file
        self.row_group_rows = row_group_rows
        self._pa = _pyarrow()
        self._schema = self._pa.schema(
            [(name, self._pa.type_for_alias(kind)) for name, kind in STORED_TYPES.items()]
        )
        self._writer = None
        self._files: list[dict[str, Any]] = []
        self._last_user: Any = None
        self._seen: list[np.ndarray] = []  # the ids of the students of each chunk
        self.n_rows = 0
        self.n_students = 0
        self._skills: set[int] = set()
        self._correct = 0

    def write(self, chunk: pd.DataFrame | dict[str, np.ndarray]) -> None:
        """Append whole students: rows of each student consecutive and in ``order``.

        Args:
            chunk: canonical columns (a DataFrame or a dict of equal-length arrays);
                other columns are not stored.

        Raises:
            ValueError: if a column is missing, ``correct`` is not 0/1, or the chunk's first
                student is the previous chunk's last (a student split across chunks).
        """
        missing = [name for name in REQUIRED_COLUMNS if name not in chunk]
        if missing:
            raise ValueError(f"LogDatasetWriter.write: the chunk lacks column(s) {missing}")
        arrays = {name: np.asarray(chunk[name]) for name in STORED_TYPES}
        n = arrays["user_id"].shape[0]
        if n == 0:
            return
        correct = arrays["correct"]
        if not np.isin(correct, (0, 1)).all():
            raise ValueError("LogDatasetWriter.write: correct must be 0 or 1")
        users = arrays["user_id"]
        self._check_consecutive(users)
        if self._writer is None:
            path = self.directory / f"part-{len(self._files):05d}.parquet"
            self._writer = self._pa.parquet.ParquetWriter(path, self._schema)
            self._files.append({"path": path.name, "n_rows": 0, "n_students": 0})
        table = self._pa.table(
            {name: arrays[name].astype(kind, copy=False) for name, kind in STORED_TYPES.items()},
            schema=self._schema,
        )
        self._writer.write_table(table, row_group_size=self.row_group_rows)
        n_students = int(np.count_nonzero(users[1:] != users[:-1])) + 1
        self._files[-1]["n_rows"] += n
        self._files[-1]["n_students"] += n_students
        self.n_rows += n
        self.n_students += n_students
        self._correct += int(correct.sum())
        self._skills.update(np.unique(arrays["skill_id"]).tolist())
        if self._files[-1]["n_rows"] >= self.rows_per_file:
            self._writer.close()
            self._writer = None

    def _check_consecutive(self, users: np.ndarray) -> None:
        """Refuse a chunk in which a student's rows are not one run, or that repeats a student.

        The writer keeps the id of every student written (8 bytes per student: 16 MB for the
        2M students of a 100M-row log); while ids ascend the check is one comparison.
        """
        starts = np.flatnonzero(np.r_[True, users[1:] != users[:-1]])  # (n_students,)
        firsts = users[starts]
        if users[0] == self._last_user:
            raise ValueError(
                f"LogDatasetWriter.write: student {users[0]!r} continues from the previous chunk; "
                "give each student's rows in one chunk"
            )
        ascending = bool(np.all(firsts[1:] > firsts[:-1])) and (
            self._last_user is None or firsts[0] > self._last_user
        )
        if not ascending:
            earlier = np.concatenate([*self._seen, firsts[:0]])
            _, counts = np.unique(firsts, return_counts=True)
            repeated = np.isin(firsts, earlier)
            if (counts > 1).any() or repeated.any():
                raise ValueError(
                    "LogDatasetWriter.write: a student's rows are not consecutive (in this chunk "
                    "or with an earlier one); give each student's rows together, in one chunk"
                )
        self._seen.append(firsts)
        self._last_user = users[-1]

    def close(self, settings: dict[str, Any] | None = None) -> dict[str, Any]:
        """Finish the last file and write ``manifest.json``; returns the manifest.

        Args:
            settings: what produced the log (plain JSON values), stored as ``settings``.
        """
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        manifest = {
            "format": "riley-gym log dataset 1",
            "columns": dict(STORED_TYPES),
            "n_rows": self.n_rows,
            "n_students": self.n_students,
            "mean_correct": self._correct / self.n_rows if self.n_rows else float("nan"),
            "skill_ids": sorted(int(skill) for skill in self._skills),
            "files": self._files,
            "settings": settings or {},
        }
        temporary = self.directory / (MANIFEST + ".tmp")
        temporary.write_text(json.dumps(manifest, indent=2) + "\n")
        os.replace(temporary, self.directory / MANIFEST)
        return manifest


def student_hash(user_ids: np.ndarray, seed: int = 0) -> np.ndarray:
    """(n,) float64 in [0, 1): a fixed pseudo-random number per student id.

    Integer ids go through splitmix64 (Steele et al. 2014) of ``id + seed * golden``; other
    ids (strings) through BLAKE2b of ``"<seed>:<id>"``. The value depends on the id and the
    seed only: not on the order, the shard or the process that reads the student.

    Args:
        user_ids: (n,) student ids.
        seed: changes every student's number (another split of the same log).
    """
    ids = np.asarray(user_ids)
    if ids.dtype.kind in "iu":
        with np.errstate(over="ignore"):
            value = ids.astype(np.uint64) + np.uint64((seed * 0x9E3779B97F4A7C15) & _MASK64)
            value = value + np.uint64(0x9E3779B97F4A7C15)
            value = (value ^ (value >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
            value = (value ^ (value >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
            value = value ^ (value >> np.uint64(31))
        return (value >> np.uint64(11)).astype(np.float64) / float(1 << 53)
    unique, inverse = np.unique(ids.astype(str), return_inverse=True)
    numbers = np.array(
        [
            int.from_bytes(
                hashlib.blake2b(f"{seed}:{user}".encode(), digest_size=8).digest(), "little"
            )
            >> 11
            for user in unique
        ],
        dtype=np.float64,
    )
    return numbers[inverse] / float(1 << 53)


def student_folds(
    user_ids: np.ndarray, test_fraction: float = 0.2, valid_fraction: float = 0.1, seed: int = 0
) -> np.ndarray:
    """(n,) int8 fold of each row's student: 0 train, 1 validation, 2 test (``FOLDS``).

    A student is in test when its ``student_hash`` is below ``test_fraction``, in validation
    when it is below ``test_fraction + valid_fraction``, else in train: each fold holds about
    its fraction of the students (exactly in expectation, not in count).

    Raises:
        ValueError: if a fraction is negative or they sum to 1 or more.
    """
    if test_fraction < 0 or valid_fraction < 0 or test_fraction + valid_fraction >= 1:
        raise ValueError(
            "student_folds: test_fraction and valid_fraction must be >= 0 and sum to < 1, got "
            f"{test_fraction} and {valid_fraction}"
        )
    value = student_hash(user_ids, seed)
    return np.where(
        value < test_fraction, 2, np.where(value < test_fraction + valid_fraction, 1, 0)
    ).astype(np.int8)


def _files(directory: Path, manifest: dict[str, Any]) -> list[str]:
    return [str(directory / entry["path"]) for entry in manifest["files"]]


def iter_student_shards(
    directory: str | Path,
    students_per_shard: int = 4096,
    fold: str | None = None,
    test_fraction: float = 0.2,
    valid_fraction: float = 0.1,
    split_seed: int = 0,
    scan_rows: int = 262_144,
    max_rows: int | None = None,
) -> Iterator[pd.DataFrame]:
    """Stream a log dataset as canonical tables of whole students.

    Record batches of about ``scan_rows`` rows are read in file order, one file at a time;
    rows are collected until ``students_per_shard`` students are complete, and the shard is
    cut at a student boundary, so a student is never split between shards (the student
    still open at the end of a batch waits for the next one).

    Args:
        directory: the log dataset.
        students_per_shard: the most students per yielded table (>= 1).
        fold: ``"train"``, ``"valid"`` or ``"test"`` keeps only that fold's students (by
            ``student_folds`` with the fractions and ``split_seed``); None keeps every student.
        test_fraction, valid_fraction, split_seed: the split (see ``student_folds``).
        scan_rows: rows per record batch read.
        max_rows: stop after the shard that reaches this many rows (None: the whole log).

    Yields:
        DataFrames with the canonical columns (int64 ids and order, int8 ``correct``), rows of
        each student consecutive and in stored order, index 0..n-1.

    Raises:
        FileNotFoundError: if ``directory`` is not a log dataset.
        ValueError: if ``fold`` is unknown, ``students_per_shard`` < 1, or a student's rows
            are not consecutive in the dataset.
    """
    if fold is not None and fold not in FOLDS:
        raise ValueError(f"iter_student_shards: fold must be one of {FOLDS} or None, got {fold!r}")
    if students_per_shard < 1 or scan_rows < 1:
        raise ValueError(
            f"iter_student_shards: students_per_shard and scan_rows must be >= 1, got "
            f"{students_per_shard}, {scan_rows}"
        )
    directory = Path(directory)
    manifest = read_manifest(directory)
    pa = _pyarrow()
    wanted = None if fold is None else FOLDS.index(fold)
    pending: list[dict[str, np.ndarray]] = []  # complete students not yet yielded
    pending_students = 0
    open_rows: dict[str, np.ndarray] | None = None  # the last, maybe unfinished, student
    finished_last: Any = None  # the last student known complete (contiguity check)
    rows_out = 0

    def emit() -> pd.DataFrame:
        columns = {name: np.concatenate([part[name] for part in pending]) for name in STORED_TYPES}
        table = pd.DataFrame(
            {
                name: values.astype(READ_TYPES.get(name, values.dtype), copy=False)
                for name, values in columns.items()
            }
        )
        return table

    # One file at a time with ParquetFile.iter_batches: a pyarrow.dataset scanner over the
    # same files (to_batches, read-ahead 0) grew peak RSS with the log (streaming the
    # training fold: 314 MB for 10M rows, 554 MB for 100M); file by file it stays flat.
    batches = (
        batch
        for path in _files(directory, manifest)
        for batch in pa.parquet.ParquetFile(path).iter_batches(
            batch_size=scan_rows, columns=list(STORED_TYPES)
        )
    )
    for record_batch in batches:
        arrays = {
            name: record_batch.column(name).to_numpy(zero_copy_only=False) for name in STORED_TYPES
        }
        if open_rows is not None:
            arrays = {name: np.concatenate([open_rows[name], arrays[name]]) for name in arrays}
            open_rows = None
        users = arrays["user_id"]
        if users.size == 0:
            continue
        starts = np.flatnonzero(np.r_[True, users[1:] != users[:-1]])  # (n_students_here,)
        if finished_last is not None and users[0] == finished_last:
            raise ValueError(
                f"{directory}: student {users[0]!r}'s rows are not consecutive (rows must be "
                "grouped by student; write logs with LogDatasetWriter)"
            )
        # The last student may go on in the next batch: hold it back.
        last_start = int(starts[-1])
        open_rows = {name: values[last_start:] for name, values in arrays.items()}
        complete = {name: values[:last_start] for name, values in arrays.items()}
        starts = starts[:-1]
        if starts.size:
            finished_last = complete["user_id"][-1]
        if wanted is not None and starts.size:
            keep = (
                student_folds(
                    complete["user_id"][starts], test_fraction, valid_fraction, split_seed
                )
                == wanted
            )  # (n_students_here,)
            lengths = np.diff(np.r_[starts, last_start])
            row_keep = np.repeat(keep, lengths)
            complete = {name: values[row_keep] for name, values in complete.items()}
            starts = (
                np.flatnonzero(np.r_[True, complete["user_id"][1:] != complete["user_id"][:-1]])
                if complete["user_id"].size
                else starts[:0]
            )
        # Cut the complete students into shards.
        position = 0
        while position < starts.size:
            room = students_per_shard - pending_students
            taken = starts[position : position + room]
            end = (
                int(starts[position + room])
                if position + room < starts.size
                else complete["user_id"].size
            )
            begin = int(taken[0])
            pending.append({name: values[begin:end] for name, values in complete.items()})
            pending_students += taken.size
            position += taken.size
            if pending_students == students_per_shard:
                shard = emit()
                rows_out += len(shard)
                pending, pending_students = [], 0
                yield shard
                if max_rows is not None and rows_out >= max_rows:
                    return
    if open_rows is not None and open_rows["user_id"].size:
        last = open_rows
        if (
            wanted is None
            or student_folds(last["user_id"][:1], test_fraction, valid_fraction, split_seed)[0]
            == wanted
        ):
            pending.append(last)
            pending_students += 1
    if pending_students:
        yield emit()
