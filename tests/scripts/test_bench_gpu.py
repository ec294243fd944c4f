"""scripts/bench_gpu.py with the CPU standing in for the GPU: every run, the table and the ratios.

Also a clear refusal without a GPU.
"""

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import torch
from test_bench_kt import tiny_split

ROOT = Path(__file__).resolve().parents[2]


def test_bench_gpu_runs_dkt_and_dqn_on_both_sides_and_prints_the_ratios(tmp_path):
    train_valid, test = tiny_split(tmp_path)
    out = tmp_path / "bench"
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "scripts" / "bench_gpu.py"),
            "--train-valid",
            str(train_valid),
            "--test",
            str(test),
            "--device",
            "cpu",
            "--cpu-threads",
            "1",
            "--dkt-epochs",
            "1",
            "--dqn-steps",
            "300",
            "--dqn-learning-starts",
            "100",
            "--out",
            str(out),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    summary = json.loads((out / "summary.json").read_text())
    runs = summary["runs"]
    assert sorted(runs) == ["dkt-cpu", "dkt-gpu", "dqn-cpu", "dqn-gpu"] and summary["card"] == "cpu"
    for side in ("cpu", "gpu"):
        dkt, dqn = runs[f"dkt-{side}"], runs[f"dqn-{side}"]
        assert (
            dkt["settings"]["embedding_size"] == 200
            and dkt["epochs_run"] == 1
            and dkt["n_test_students"] == 8
        )
        assert (
            dqn["total_steps"] == 300
            and dqn["env_id"] == "ALE/Breakout-v5"
            and dqn["steps_per_second"] > 0
        )
    assert (
        runs["dkt-gpu"]["test_auc"] == runs["dkt-cpu"]["test_auc"]
    )  # the same device and seed: the same network
    ratios = summary["ratios"]
    assert ratios["dkt_speedup_per_epoch"] == pytest.approx(
        runs["dkt-cpu"]["seconds_per_epoch"] / runs["dkt-gpu"]["seconds_per_epoch"]
    )
    assert ratios["dqn_speedup_steps_per_second"] == pytest.approx(
        runs["dqn-gpu"]["steps_per_second"] / runs["dqn-cpu"]["steps_per_second"]
    )
    table = pd.read_csv(out / "bench.csv")
    assert table[["run", "side"]].values.tolist() == [
        ["dkt", "gpu"],
        ["dkt", "cpu"],
        ["dqn", "gpu"],
        ["dqn", "cpu"],
    ]
    assert (
        "dkt_speedup_per_epoch" in done.stdout
        and "against the CPU with 1 torch threads" in done.stdout
    )


@pytest.mark.skipif(
    torch.cuda.is_available(), reason="this machine has a GPU, so asking for cuda is valid"
)
def test_bench_gpu_without_a_gpu_says_so_before_running_anything(tmp_path):
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "bench_gpu.py"), "--out", str(tmp_path / "bench")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert (
        done.returncode != 0
        and "torch sees no CUDA GPU" in done.stderr
        and "Traceback" not in done.stderr
    )
    assert not (tmp_path / "bench").exists()
