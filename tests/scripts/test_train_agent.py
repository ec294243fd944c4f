"""scripts/train_agent.py in a subprocess: its files, and a killed run resumed.

The resumed run must reach the uninterrupted run's result.
"""

import csv
import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch

from riley_gym import nets
from tests.helpers.scripts import ROOT

TINY = [
    "--env",
    "CartPole-v1",
    "--learning-starts",
    "200",
    "--train-freq",
    "4",
    "--gradient-steps",
    "1",
    "--hidden-sizes",
    "32",
    "--buffer-size",
    "5000",
    "--eval-interval",
    "500",
    "--eval-episodes",
    "2",
    "--final-eval-episodes",
    "3",
    "--checkpoint-interval",
    "500",
    "--threads",
    "1",
    "--no-progress",
    "--seed",
    "7",
]


def run(out, steps, *extra):
    command = [
        sys.executable,
        str(ROOT / "scripts" / "train_agent.py"),
        *TINY,
        "--total-steps",
        str(steps),
        "--out",
        str(out),
        *extra,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=ROOT)


def test_train_agent_writes_summary_metrics_curve_and_checkpoint(tmp_path):
    result = run(tmp_path, 1500)
    assert result.returncode == 0, result.stderr
    summary = json.loads((tmp_path / "summary.json").read_text())
    for key in [
        "env_id",
        "total_steps",
        "seed",
        "mean_eval_return",
        "std_eval_return",
        "eval_episodes",
        "steps_per_second",
        "wall_seconds",
        "peak_rss_mb",
    ]:
        assert key in summary, key
    assert summary["total_steps"] == 1500 and summary["eval_episodes"] == 3 and summary["seed"] == 7
    assert (
        0 < summary["train_seconds"] < summary["wall_seconds"]
    )  # wall time also covers evaluations and checkpoints
    assert summary["steps_per_second"] == pytest.approx(1500 / summary["train_seconds"])
    assert summary["settings"]["dqn"]["hidden_sizes"] == [32] and summary["mean_eval_return"] >= 8
    rows = list(csv.DictReader(open(tmp_path / "metrics.csv")))
    assert [int(row["env_steps"]) for row in rows] == [500, 1000, 1500]
    assert (tmp_path / "learning_curve.png").stat().st_size > 1000
    assert (
        summary["best_periodic_eval"] == max(float(row["eval_mean"]) for row in rows)
        and "best_mean_eval_return" in summary
    )
    payload, config = nets.load_checkpoint(tmp_path / "checkpoint.pt")
    assert payload["counters"]["env_steps"] == 1500 and config["dqn"]["seed"] == 7


def test_killed_run_resumes_to_the_uninterrupted_result(tmp_path):
    steps = 2000
    assert run(tmp_path / "straight", steps).returncode == 0
    killed = tmp_path / "killed"
    command = [
        sys.executable,
        str(ROOT / "scripts" / "train_agent.py"),
        *TINY,
        "--total-steps",
        str(steps),
        "--out",
        str(killed),
    ]
    process = subprocess.Popen(
        command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.time() + 120
    while (
        not (killed / "checkpoint.pt").exists()
        and time.time() < deadline
        and process.poll() is None
    ):
        time.sleep(0.02)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    payload, _ = nets.load_checkpoint(killed / "checkpoint.pt")
    assert payload["counters"]["env_steps"] < steps  # killed mid-way
    assert not (killed / "summary.json").exists()
    result = run(killed, steps, "--resume")
    assert result.returncode == 0, result.stderr
    straight_weights, _ = nets.load_checkpoint(tmp_path / "straight" / "checkpoint.pt")
    resumed_weights, _ = nets.load_checkpoint(killed / "checkpoint.pt")
    for name, value in straight_weights["online"].items():
        torch.testing.assert_close(resumed_weights["online"][name], value, rtol=0, atol=0, msg=name)

    def drop_times(rows):
        return [
            {k: v for k, v in row.items() if k not in ("train_seconds", "steps_per_second")}
            for row in rows
        ]

    straight_rows = list(csv.DictReader(open(tmp_path / "straight" / "metrics.csv")))
    resumed_rows = list(csv.DictReader(open(killed / "metrics.csv")))
    assert drop_times(resumed_rows) == drop_times(straight_rows)
    straight_summary = json.loads((tmp_path / "straight" / "summary.json").read_text())
    resumed_summary = json.loads((killed / "summary.json").read_text())
    assert resumed_summary["eval_returns"] == straight_summary["eval_returns"]


def test_resume_refuses_other_settings_and_records_a_longer_run(tmp_path):
    assert run(tmp_path, 1000).returncode == 0
    refused = run(tmp_path, 1500, "--resume", "--seed", "8", "--learning-rate", "0.01")
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    assert "dqn.seed: 7 in the run, 8 now" in refused.stderr
    assert "dqn.learning_rate: 0.0023 in the run, 0.01 now" in refused.stderr
    shorter = run(tmp_path, 500, "--resume")
    assert shorter.returncode == 2 and "the run has done 1000 steps" in shorter.stderr
    longer = run(tmp_path, 1500, "--resume")
    assert longer.returncode == 0, longer.stderr
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["seed"] == 7 and summary["total_steps"] == 1500
    assert summary["resumed_changes"] == {"run.total_steps": [1000, 1500]}


def test_a_reused_out_folder_is_refused_unless_resumed_or_overwritten(tmp_path):
    assert run(tmp_path, 500).returncode == 0
    again = run(tmp_path, 500)
    assert (
        again.returncode == 2
        and "holds another run" in again.stderr
        and "--overwrite" in again.stderr
    )
    stale = tmp_path / "tensorboard" / "events.out.tfevents.stale"
    stale.parent.mkdir(exist_ok=True)
    stale.write_text("old curves")
    overwritten = run(tmp_path, 500, "--overwrite")
    assert overwritten.returncode == 0, overwritten.stderr
    assert not stale.exists()  # the folder was cleared fully
    nothing = run(tmp_path / "empty", 500, "--resume")
    assert nothing.returncode == 2 and "nothing to resume" in nothing.stderr


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--total-steps", "-5"], "--total-steps must be an integer >= 1, got -5"),
        (["--gamma", "1.5"], "--gamma must be in [0.0, 1.0], got 1.5"),
        (["--env", "riley/Nope-v0"], "unknown environment 'riley/Nope-v0'"),
    ],
)
def test_bad_flags_are_usage_errors_naming_the_flag(tmp_path, flags, message):
    result = run(tmp_path, 100, *flags)
    assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "checkpoint.pt").exists()
