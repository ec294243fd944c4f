"""scripts/sweep_kt.py on a local 2-CPU Ray: ASHA prunes, the best trial is the best by
validation AUC and its command reruns it exactly, and a killed sweep resumes its trials from
their last epoch."""

import json
import os
import shlex
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest

from tests.helpers.scripts import ROOT, run_script, write_tiny_log

pytest.importorskip("ray.tune", reason="the distributed extra (ray[tune]) is not installed")

SPACE = {
    "model": "dkt",
    "fixed": {"protocol": "holdout", "embedding_size": 8, "max_epochs": 4, "patience": 4},
    "search": {
        "hidden_size": {"choice": [4, 8, 16]},
        "learning_rate": {"loguniform": [0.001, 0.05]},
    },
    "start_from": [{"hidden_size": 8, "learning_rate": 0.01}],
}


def _space(tmp_path, **changes):
    path = tmp_path / "space.json"
    path.write_text(json.dumps({**SPACE, **changes}))
    return path


def _rerun(command, out):
    """Run a summary's train_kt.py command (as a user would paste it) into ``out``."""
    words = shlex.split(command)
    assert words[:2] == ["python", "scripts/train_kt.py"]
    done = run_script("train_kt.py", *words[2:], "--out", str(out), "--no-progress")
    assert done.returncode == 0, done.stderr
    return json.loads((out / "summary.json").read_text())


def test_sweep_prunes_picks_the_best_by_validation_and_its_command_reruns_it(tmp_path):
    log = write_tiny_log(tmp_path / "log.csv", n_students=60)
    out = tmp_path / "sweep"
    flags = ["--space", str(_space(tmp_path)), "--data", str(log), "--out", str(out)]
    flags += ["--trials", "5", "--grace-period", "1", "--reduction-factor", "2", "--ray-cpus", "2"]
    done = run_script("sweep_kt.py", *flags)
    assert done.returncode == 0, done.stderr
    summary = json.loads((out / "summary.json").read_text())
    trials = summary["trials"]
    assert len(trials) == 5 and summary["n_errors"] == 0
    assert {row["status"] for row in trials} <= {"finished", "stopped by ASHA"}
    assert summary["n_stopped"] >= 1  # rungs at epochs 1 and 2, keeping half: ASHA must prune
    assert sum(row["start_point"] for row in trials) == 1
    start = next(row for row in trials if row["start_point"])
    assert (start["hidden_size"], start["learning_rate"]) == (8, 0.01)
    finished = [row for row in trials if row["status"] == "finished"]
    best = summary["best"]
    assert best["best_valid_auc"] == max(row["best_valid_auc"] for row in finished)
    for row in trials:  # each curve is what the trial's own run recorded, epoch by epoch
        history = (
            pd.read_csv(out / "trials" / row["trial"] / "history.csv")
            if row["status"] == "finished"
            else None
        )
        epochs = [epoch for epoch, _ in row["curve"]]
        assert epochs == list(range(1, row["epochs"] + 1))
        if history is not None:
            assert [auc for _, auc in row["curve"]] == history["valid_auc"].tolist()
    rerun = _rerun(best["command"], tmp_path / "rerun")
    assert (rerun["test_auc"], rerun["best_valid_auc"]) == (
        best["test_auc"],
        best["best_valid_auc"],
    )
    table = (out / "sweep.md").read_text()
    assert table.count("\n") == 2 + 5 and "(start point)" in table and best["trial"] in done.stdout
    assert (out / "sweep.png").stat().st_size > 0 and len(pd.read_csv(out / "trials.csv")) == 5

    again = run_script("sweep_kt.py", *flags)
    assert again.returncode == 2 and "holds another run" in again.stderr


def test_a_killed_sweep_resumes_each_trial_from_its_last_epoch(tmp_path):
    log = write_tiny_log(tmp_path / "log.csv", n_students=150)
    out = tmp_path / "sweep"
    # Long trials (25 epochs of many small batches), one at a time, and no pruning: the kill
    # lands inside a trial.
    fixed = {"protocol": "holdout", "embedding_size": 8, "batch_size": 2, "max_epochs": 25,
             "patience": 25}  # fmt: skip
    flags = ["--space", str(_space(tmp_path, fixed=fixed, start_from=[])), "--data", str(log)]
    flags += ["--out", str(out), "--trials", "2", "--concurrent", "1", "--grace-period", "25"]
    flags += ["--ray-cpus", "2"]
    command = [sys.executable, str(ROOT / "scripts" / "sweep_kt.py"), *flags]
    environment = {**os.environ, "TUNE_GLOBAL_CHECKPOINT_S": "0.5"}  # save Tune's state often
    sweep = subprocess.Popen(
        command, cwd=ROOT, env=environment, start_new_session=True,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 120
    killed_trial = None
    while killed_trial is None and time.monotonic() < deadline and sweep.poll() is None:
        state_saved = any((out / "tune").glob("experiment_state*.json"))
        for checkpoint in (out / "trials").glob("*/checkpoint.pt"):
            if state_saved and not (checkpoint.parent / "summary.json").exists():
                killed_trial = checkpoint.parent.name
        time.sleep(0.05)
    os.killpg(sweep.pid, signal.SIGKILL)
    sweep.wait()
    assert killed_trial is not None, "the sweep ended before a trial could be killed mid-run"
    assert not (out / "summary.json").exists()

    resumed = run_script("sweep_kt.py", *flags, "--resume", timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert [row["status"] for row in summary["trials"]] == ["finished", "finished"]
    run = json.loads((out / "trials" / killed_trial / "summary.json").read_text())
    assert run["resumed"] is True
    row = next(row for row in summary["trials"] if row["trial"] == killed_trial)
    history = pd.read_csv(out / "trials" / killed_trial / "history.csv")
    assert history["epoch"].tolist() == list(range(1, 26))  # no epoch trained twice or lost
    values = {name: row[name] for name in SPACE["search"]}
    command = (
        f"python scripts/train_kt.py --model dkt --data {log} --seed 0 --threads 1 "
        + " ".join(f"--{k.replace('_', '-')} {v}" for k, v in {**fixed, **values}.items())
    )
    straight = _rerun(command, tmp_path / "straight")
    assert straight["test_auc"] == run["test_auc"] == row["test_auc"]
    assert straight["best_valid_auc"] == run["best_valid_auc"]
