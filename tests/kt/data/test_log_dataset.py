"""kt.data.log_dataset: writer and manifest, student-hash folds, the streaming shard reader."""

import doctest
import json

import numpy as np
import pandas as pd
import pytest

from riley_gym.kt.data import log_dataset
from riley_gym.kt.data.log_dataset import (
    LogDatasetWriter,
    iter_student_shards,
    read_manifest,
    student_folds,
    student_hash,
)


def random_log(n_students: int, seed: int = 0) -> pd.DataFrame:
    """Students with ids out of order (not sorted) and 1..40 rows each, rows in order."""
    rng = np.random.default_rng(seed)
    users = rng.permutation(10 * n_students)[:n_students] + 7
    lengths = rng.integers(1, 41, size=n_students)
    n = int(lengths.sum())
    return pd.DataFrame(
        {
            "user_id": np.repeat(users, lengths).astype(np.int64),
            "item_id": rng.integers(0, 30, n),
            "skill_id": rng.integers(0, 6, n),
            "correct": rng.integers(0, 2, n).astype(np.int8),
            "order": np.concatenate([np.arange(length) for length in lengths]),
        }
    )


def write(table: pd.DataFrame, folder, students_per_chunk: int, rows_per_file: int = 10**9):
    writer = LogDatasetWriter(folder, rows_per_file=rows_per_file, row_group_rows=97)
    starts = np.flatnonzero(np.r_[True, np.diff(table.user_id.to_numpy()) != 0])
    for first in range(0, starts.size, students_per_chunk):
        begin = starts[first]
        end = (
            starts[first + students_per_chunk] if first + students_per_chunk < starts.size else None
        )
        writer.write(table.iloc[begin:end])
    return writer.close({"seed": 3})


def test_docstring_example_runs():
    result = doctest.testmod(log_dataset)
    assert result.attempted > 0 and result.failed == 0


@pytest.mark.parametrize("students_per_shard", [1, 7, 1000])
@pytest.mark.parametrize("scan_rows", [1, 13, 100_000])
def test_shards_hold_whole_students_and_give_back_the_log(tmp_path, students_per_shard, scan_rows):
    table = random_log(120)
    manifest = write(table, tmp_path / "log", students_per_chunk=11, rows_per_file=300)
    assert manifest["n_rows"] == len(table) and manifest["n_students"] == 120
    assert len(manifest["files"]) > 1  # several files, students never across two
    assert sum(entry["n_students"] for entry in manifest["files"]) == 120
    shards = list(iter_student_shards(tmp_path / "log", students_per_shard, scan_rows=scan_rows))
    counts = [shard.user_id.nunique() for shard in shards]
    assert all(count == students_per_shard for count in counts[:-1])
    assert 1 <= counts[-1] <= students_per_shard
    seen = [set(shard.user_id) for shard in shards]
    assert sum(len(users) for users in seen) == 120  # no student in two shards
    back = pd.concat(shards, ignore_index=True)
    expected = table.astype({"item_id": np.int64, "skill_id": np.int64, "order": np.int64})
    pd.testing.assert_frame_equal(back, expected.reset_index(drop=True))


def test_folds_by_hash_agree_with_the_shard_reader_and_partition_the_students(tmp_path):
    table = random_log(300, seed=1)
    write(table, tmp_path / "log", students_per_chunk=50)
    users = table.user_id.to_numpy()
    folds = student_folds(users, test_fraction=0.2, valid_fraction=0.1, seed=5)
    parts = {}
    for code, name in enumerate(log_dataset.FOLDS):
        shards = iter_student_shards(
            tmp_path / "log", 16, fold=name, test_fraction=0.2, valid_fraction=0.1,
            split_seed=5, scan_rows=37,
        )  # fmt: skip
        parts[name] = pd.concat(shards, ignore_index=True)
        expected = table[folds == code].reset_index(drop=True)
        assert parts[name].user_id.tolist() == expected.user_id.tolist()
    assert sum(len(part) for part in parts.values()) == len(table)
    per_student = pd.Series(folds).groupby(users).nunique()
    assert (per_student == 1).all()  # a student's rows share one fold


def test_student_hash_is_a_function_of_id_and_seed_and_near_uniform():
    ids = np.arange(200_000, dtype=np.int64)
    value = student_hash(ids)
    assert value.min() >= 0 and value.max() < 1
    # Order and batch do not matter: the same ids in another order give the same numbers.
    shuffled = np.random.default_rng(0).permutation(ids)
    np.testing.assert_array_equal(student_hash(shuffled), value[shuffled])
    assert not np.array_equal(student_hash(ids, seed=1), value)
    # 10 bins of 20,000 expected: a 5-sigma band of sqrt(20000 * 0.9) = 134.
    counts = np.histogram(value, bins=10, range=(0, 1))[0]
    assert np.abs(counts - 20_000).max() < 5 * 134
    names = np.array(["ann", "bob", "ann"])
    text = student_hash(names)
    assert text[0] == text[2] != text[1]
    folds = student_folds(ids, 0.2, 0.1)
    np.testing.assert_allclose(np.bincount(folds) / ids.size, [0.7, 0.1, 0.2], atol=0.005)


def test_reader_refuses_a_student_split_across_chunks_and_bad_arguments(tmp_path):
    table = random_log(5)
    writer = LogDatasetWriter(tmp_path / "log")
    first_user = table.user_id.iloc[0]
    rows = table[table.user_id == first_user]
    writer.write(rows.iloc[:1])
    with pytest.raises(ValueError, match="continues from the previous chunk"):
        writer.write(rows.iloc[1:])
    writer.close()
    with pytest.raises(FileExistsError):
        LogDatasetWriter(tmp_path / "log")
    with pytest.raises(ValueError, match="fold must be one of"):
        next(iter_student_shards(tmp_path / "log", fold="validation"))
    with pytest.raises(FileNotFoundError, match="not a log dataset"):
        next(iter_student_shards(tmp_path / "nothing"))
    with pytest.raises(ValueError, match="sum to < 1"):
        student_folds(np.arange(3), 0.6, 0.4)


def test_writer_refuses_rows_of_a_student_that_are_not_consecutive(tmp_path):
    table = random_log(4)
    users = table.user_id.unique()
    writer = LogDatasetWriter(tmp_path / "log")
    writer.write(table[table.user_id == users[0]])
    writer.write(table[table.user_id == users[1]])
    with pytest.raises(ValueError, match="not consecutive"):
        writer.write(table[table.user_id == users[0]])  # a student again, after another
    mixed = pd.concat([table[table.user_id == users[2]], table[table.user_id == users[3]]])
    with pytest.raises(ValueError, match="not consecutive"):
        writer.write(pd.concat([mixed, table[table.user_id == users[2]]]))
    writer.write(table[table.user_id == users[3]])  # descending ids are fine


def test_manifest_records_settings_counts_and_skills(tmp_path):
    table = random_log(20)
    manifest = write(table, tmp_path / "log", students_per_chunk=6)
    assert read_manifest(tmp_path / "log") == json.loads(
        (tmp_path / "log/manifest.json").read_text()
    )
    assert manifest["settings"] == {"seed": 3}
    assert manifest["skill_ids"] == sorted(table.skill_id.unique().tolist())
    assert manifest["mean_correct"] == pytest.approx(table.correct.mean())
