"""scripts/bench_dqn.py --quick in a subprocess: both sides of both tasks run; figures written."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_bench_dqn_quick_writes_both_sides(tmp_path):
    pytest.importorskip(
        "stable_baselines3",
        reason="the benchmark compares against Stable-Baselines3 (a dev dependency)",
    )
    command = [
        sys.executable,
        str(ROOT / "scripts" / "bench_dqn.py"),
        "--quick",
        "--threads",
        "1",
        "--out",
        str(tmp_path),
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=400, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads((tmp_path / "summary.json").read_text())["results"]
    for task in ("cartpole", "breakout"):
        (run,) = summary[task]["runs"]
        assert run["seed"] == 0
        for side in ("ours", "sb3"):
            figures = run[side]
            assert figures["steps_per_second"] > 0 and figures["peak_rss_mb"] > 50
            assert figures["replay_bytes_per_transition"] > 0
        assert summary[task]["median_steps_per_second_ratio"] == pytest.approx(
            run["ours"]["steps_per_second"] / run["sb3"]["steps_per_second"]
        )
    assert summary["cartpole"]["ours_seeds_reaching_475"] in (
        0,
        1,
    )  # 1000 quick steps rarely reach it; the count must still be there
    breakout = summary["breakout"]["runs"][0]
    assert (
        breakout["ours"]["replay_bytes_per_transition"]
        < 7100
        < 50_000
        < breakout["sb3"]["replay_bytes_per_transition"]
    )
    assert breakout["ours"]["learn_step_ms"] > 0 and breakout["sb3"]["learn_step_ms"] > 0
    assert "ratio" in result.stdout and "cartpole" in result.stdout


def test_bench_dqn_paired_cartpole_makes_sb3s_run(tmp_path):
    # --paired: ours on SB3's random numbers; the networks at both evaluations (500 and 1000 steps,
    # the second after two training phases) must be bit-identical on the two sides.
    pytest.importorskip(
        "stable_baselines3",
        reason="the benchmark compares against Stable-Baselines3 (a dev dependency)",
    )
    command = [
        sys.executable,
        str(ROOT / "scripts" / "bench_dqn.py"),
        "--quick",
        "--paired",
        "--tasks",
        "cartpole",
        "--threads",
        "1",
        "--out",
        str(tmp_path),
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=400, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads((tmp_path / "summary.json").read_text())
    (run,) = summary["results"]["cartpole"]["runs"]
    assert summary["paired"] and run["same_weights_at_every_evaluation"]
    assert (
        len(run["ours"]["evaluated_weights_sha256"]) == 2
        and len(set(run["ours"]["evaluated_weights_sha256"])) == 2
    )  # training changed them
