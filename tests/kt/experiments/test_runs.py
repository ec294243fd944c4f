"""kt.experiments.runs resume: a killed train_kt.py run, resumed, ends as the uninterrupted run;
clear refusals otherwise."""

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import torch

from riley_gym import nets
from riley_gym.envs.simulate import simulate_logs
from riley_gym.kt.experiments.runs import (
    ResumeError,
    add_run_arguments,
    run_settings_from_arguments,
    train_and_report,
)
from riley_gym.kt.models.dkt import DKT
from tests.helpers.scripts import ROOT

SEED = 1
# About 0.1 s per epoch on 240 training students,
# so a run is still training when its first checkpoint appears.
DKT_FLAGS = [
    "--hidden-size",
    "8",
    "--embedding-size",
    "8",
    "--batch-size",
    "8",
    "--max-epochs",
    "8",
    "--patience",
    "8",
]
TIMES = ["train_seconds", "train_cpu_seconds", "valid_seconds"]


@pytest.fixture(scope="module")
def log(tmp_path_factory):
    path = tmp_path_factory.mktemp("resume") / "log.csv"
    simulate_logs(300, episode_length=40, seed=0).to_csv(path, index=False)
    return path


def run_settings(models, *flags):
    """(protocol, fit plan, configs) as train_kt.py builds them from these flags and --seed SEED."""
    parser = argparse.ArgumentParser()
    add_run_arguments(parser, list(models))
    return run_settings_from_arguments(parser.parse_args([*DKT_FLAGS, *flags]), list(models), SEED)


def run(log, out, protocol="holdout", models=("dkt",), resume=False, k=5, **config_flags):
    """train_and_report as train_kt.py calls it (its --k defaults to 5)."""
    flags = ["--protocol", protocol, "--k", str(k)]
    for name, value in config_flags.items():
        flags += [f"--{name.replace('_', '-')}", str(value)]
    protocol, plan, configs = run_settings(models, *flags)
    return train_and_report(
        list(models), str(log), out, protocol, configs=configs, plan=plan, resume=resume
    )


def assert_same_dkt_run(straight: Path, resumed: Path, log: Path) -> None:
    """Same weights, same history but for timings,
    same test metrics and same predictions on the whole log."""
    first, second = DKT.load(straight / "model"), DKT.load(resumed / "model")
    for name, value in first.network.state_dict().items():
        torch.testing.assert_close(
            second.network.state_dict()[name], value, rtol=0, atol=0, msg=name
        )
    pd.testing.assert_frame_equal(
        pd.read_csv(resumed / "history.csv").drop(columns=TIMES),
        pd.read_csv(straight / "history.csv").drop(columns=TIMES),
    )
    pd.testing.assert_frame_equal(
        pd.read_csv(resumed / "metrics.csv"), pd.read_csv(straight / "metrics.csv")
    )
    table = pd.read_csv(log)
    pd.testing.assert_series_equal(
        second.predict(table)["p_correct"], first.predict(table)["p_correct"]
    )


def test_killed_script_run_resumes_to_the_uninterrupted_result(log, tmp_path, device):
    run(log, tmp_path / "straight", device=device)
    killed = tmp_path / "killed"
    command = [
        sys.executable,
        str(ROOT / "scripts" / "train_kt.py"),
        "--data",
        str(log),
        "--model",
        "dkt",
        "--seed",
        str(SEED),
        "--out",
        str(killed),
        "--threads",
        "1",
        "--no-progress",
        "--device",
        device,
        *DKT_FLAGS,
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
        time.sleep(0.005)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    payload, _ = nets.load_checkpoint(killed / "checkpoint.pt")
    assert (
        1 <= payload["epochs_done"] < 8 and not (killed / "summary.json").exists()
    )  # killed while training

    summary = run(log, killed, resume=True, device=device)
    assert summary["resumed"] and summary["epochs_run"] == 8
    assert_same_dkt_run(tmp_path / "straight", killed, log)
    # Continued, not retrained: the epochs before the kill keep the killed process's timings.
    before_kill = pd.DataFrame(payload["history"])[TIMES]
    pd.testing.assert_frame_equal(
        pd.read_csv(killed / "history.csv")[TIMES].head(len(before_kill)), before_kill, rtol=1e-12
    )


def test_kfold_run_with_a_baseline_resumes_each_fold_from_its_own_checkpoint(log, tmp_path):
    straight, killed = tmp_path / "straight", tmp_path / "killed"
    run(log, straight, protocol="kfold", models=("dkt", "marginal"), k=2, max_epochs=3)
    run(log, killed, protocol="kfold", models=("dkt", "marginal"), k=2, max_epochs=3)
    assert sorted(path.name for path in (killed / "dkt").glob("checkpoint*")) == [
        "checkpoint_fold0.pt",
        "checkpoint_fold1.pt",
    ]
    # As if killed in fold 1 before its first epoch ended: fold 0 resumes finished,
    # fold 1 starts afresh.
    (killed / "summary.json").unlink()
    (killed / "dkt" / "checkpoint_fold1.pt").unlink()
    fold0_history = DKT.load(killed / "dkt" / "model_fold0").history.to_frame()
    summary = run(
        log, killed, protocol="kfold", models=("dkt", "marginal"), k=2, max_epochs=3, resume=True
    )
    assert summary["resumed"]
    for model in ("dkt", "marginal"):
        pd.testing.assert_frame_equal(
            pd.read_csv(killed / model / "folds.csv"), pd.read_csv(straight / model / "folds.csv")
        )
    # Fold 0 was finished in its checkpoint, so it trained no epoch again and kept its timings.
    pd.testing.assert_frame_equal(
        DKT.load(killed / "dkt" / "model_fold0").history.to_frame(), fold0_history
    )
    for fold in (0, 1):
        first, second = (
            DKT.load(straight / "dkt" / f"model_fold{fold}"),
            DKT.load(killed / "dkt" / f"model_fold{fold}"),
        )
        for name, value in first.network.state_dict().items():
            torch.testing.assert_close(
                second.network.state_dict()[name], value, rtol=0, atol=0, msg=name
            )


def test_resume_refuses_an_empty_folder_a_finished_run_and_other_settings(log, tmp_path):
    with pytest.raises(nets.RunFolderError, match="nothing to resume .*run.json"):
        run(log, tmp_path / "empty", resume=True)
    out = tmp_path / "run"
    run(log, out, max_epochs=1)
    with pytest.raises(ResumeError, match="the run there finished"):
        run(log, out, max_epochs=1, resume=True)
    (out / "summary.json").unlink()
    with pytest.raises(ResumeError) as error:
        run(log, out, max_epochs=2, hidden_size=16, resume=True)
    message = str(error.value)
    assert "configs.dkt.hidden_size: 8 in the run, 16 now" in message
    assert "configs.dkt.training.max_epochs: 1 in the run, 2 now" in message
    with pytest.raises(ResumeError, match="protocol.protocol: 'holdout' in the run, 'kfold' now"):
        run(log, out, protocol="kfold", max_epochs=1, resume=True)
    json.loads((out / "run.json").read_text())  # a refused resume leaves the run's record alone
    assert run(log, out, max_epochs=1, resume=True)["epochs_run"] == 1


def test_a_reused_folder_is_refused_unless_overwritten_which_clears_it(log, tmp_path):
    run(log, tmp_path, max_epochs=2)
    payload, _ = nets.load_checkpoint(tmp_path / "checkpoint.pt")
    assert payload["epochs_done"] == 2
    protocol, plan, configs = run_settings(["dkt"])
    with pytest.raises(nets.RunFolderError, match="holds another run .*run.json, summary.json"):
        train_and_report(["dkt"], str(log), tmp_path, protocol, configs=configs)
    with pytest.raises(FileNotFoundError, match="no such file"):  # after clearing, before training
        missing = str(tmp_path / "missing.csv")
        train_and_report(["dkt"], missing, tmp_path, protocol, configs=configs, overwrite=True)
    assert [path.name for path in tmp_path.iterdir()] == ["run.json"]  # the rest was cleared


def test_script_resume_flag_reports_a_refusal_without_a_traceback(tmp_path):
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "scripts" / "train_kt.py"),
            "--data",
            "unused.csv",
            "--out",
            str(tmp_path),
            "--resume",
            "--threads",
            "1",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert (
        done.returncode == 2
        and "nothing to resume" in done.stderr
        and "Traceback" not in done.stderr
    )
