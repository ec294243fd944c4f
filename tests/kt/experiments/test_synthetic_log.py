"""kt.experiments.synthetic_log: chunked simulation into a log dataset, and make_log.py."""

import json

import numpy as np
import pandas as pd
import pytest

from riley_gym.envs.curriculum import load_curriculum
from riley_gym.kt.data.log_dataset import iter_student_shards
from riley_gym.kt.experiments.synthetic_log import (
    POLICIES,
    SyntheticLogConfig,
    simulate_chunk,
    write_synthetic_log,
)
from tests.helpers.scripts import run_script


def test_log_has_the_asked_rows_whole_students_and_the_policies_it_says(tmp_path):
    config = SyntheticLogConfig(
        n_interactions=2_000, episode_length=20, chunk_students=30, rows_per_file=500,
        policy_mix="random:1,blocked:1,interleaved:2", seed=4,
    )  # fmt: skip
    manifest = write_synthetic_log(config, tmp_path / "log")
    assert manifest["n_rows"] == 2_000 and manifest["n_students"] == 100
    table = pd.concat(iter_student_shards(tmp_path / "log", 9), ignore_index=True)
    assert table.groupby("user_id").size().eq(20).all()
    assert table.user_id.is_monotonic_increasing
    curriculum = load_curriculum("riley")
    np.testing.assert_array_equal(
        table.skill_id.to_numpy(), curriculum.exercise_skill[table.item_id.to_numpy()]
    )
    shares = np.array([manifest["settings"]["policy_rows"][name] for name in POLICIES]) / 2_000
    np.testing.assert_allclose(shares, [0.25, 0.25, 0.5], atol=0.12)
    # Blocked students practise exercises in curriculum order: item ids never decrease.
    chunk = simulate_chunk(config, 0, 30, 0)
    items = chunk["item_id"].reshape(30, 20)
    blocked = chunk["policy"].reshape(30, 20)[:, 0] == POLICIES.index("blocked")
    assert blocked.any() and (np.diff(items[blocked], axis=1) >= 0).all()
    interleaved = chunk["policy"].reshape(30, 20)[:, 0] == POLICIES.index("interleaved")
    n_exercises = curriculum.n_exercises
    assert ((np.diff(items[interleaved], axis=1) % n_exercises) == 1).all()


def test_chunks_do_not_depend_on_the_log_size(tmp_path):
    small = SyntheticLogConfig(n_interactions=400, episode_length=10, chunk_students=20)
    large = SyntheticLogConfig(n_interactions=1_000, episode_length=10, chunk_students=20)
    write_synthetic_log(small, tmp_path / "small")
    write_synthetic_log(large, tmp_path / "large")
    first = pd.concat(iter_student_shards(tmp_path / "small", 1000), ignore_index=True)
    second = pd.concat(iter_student_shards(tmp_path / "large", 1000), ignore_index=True)
    pd.testing.assert_frame_equal(first, second.iloc[: len(first)])
    assert not first.equals(second.iloc[len(first) :].reset_index(drop=True))


def test_config_refuses_a_bad_policy_mix():
    with pytest.raises(ValueError, match="policy_mix"):
        SyntheticLogConfig(policy_mix="greedy:1")
    with pytest.raises(ValueError, match="policy_mix"):
        SyntheticLogConfig(policy_mix="random:0")


def test_make_log_script_writes_the_dataset_and_manifest(tmp_path):
    out = tmp_path / "log"
    result = run_script(
        "make_log.py", "--out", str(out), "--n-interactions", "3000", "--curriculum", "chain",
        "--dynamics", "irt", "--no-progress",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["n_rows"] == 3000
    assert manifest["settings"]["curriculum"] == "chain"
    assert manifest["settings"]["dynamics"] == "irt"
    again = run_script("make_log.py", "--out", str(out), "--n-interactions", "10")
    assert again.returncode == 2 and "already holds a log dataset" in again.stderr
