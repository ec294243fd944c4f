"""scripts/train_kt.py on a tiny log written here: summary.json, saved model, metrics CSVs."""

import json

import numpy as np
import pandas as pd
import pytest

from riley_gym.kt.models.dkt import DKT
from tests.helpers.scripts import TINY_DKT, run_script, write_tiny_log
from tests.helpers.synthetic import CONCEPT, simulate


@pytest.fixture(scope="session")
def tiny_dkt_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("train_kt")
    log = write_tiny_log(folder / "log.csv")
    out = folder / "run"
    done = run_script(
        "train_kt.py",
        "--data",
        str(log),
        "--model",
        "dkt",
        "--protocol",
        "holdout",
        "--seed",
        "3",
        "--out",
        str(out),
        *TINY_DKT,
    )
    assert done.returncode == 0, done.stderr
    return log, out


def test_train_kt_writes_summary_model_and_metrics(tiny_dkt_run):
    log, out = tiny_dkt_run
    summary = json.loads((out / "summary.json").read_text())
    for key in (
        "model",
        "data",
        "protocol",
        "test_auc",
        "test_acc",
        "test_rmse",
        "n_train_students",
        "n_test_students",
        "train_seconds",
        "seconds_per_epoch",
        "settings",
    ):
        assert key in summary, key
    assert (
        summary["model"] == "dkt"
        and summary["protocol"] == "holdout"
        and summary["data"] == str(log)
    )
    assert (
        summary["n_train_students"] + summary["n_test_students"] == 30
        and summary["n_test_students"] == 6
    )
    assert (
        summary["settings"]["hidden_size"] == 8
        and summary["settings"]["training"]["max_epochs"] == 2
    )
    assert summary["settings"]["seed"] == 3 and 0.0 <= summary["test_auc"] <= 1.0
    history = pd.read_csv(out / "history.csv")
    assert history["epoch"].tolist()[:1] == [1] and len(history) <= 2 and "valid_auc" in history
    metrics = pd.read_csv(out / "metrics.csv")
    assert metrics["auc"].iloc[0] == pytest.approx(summary["test_auc"])
    assert set(pd.read_csv(out / "per_skill.csv")["skill_id"]) == {0, 1, 2}
    assert (out / "calibration.png").stat().st_size > 0
    model = DKT.load(out / "model")
    assert model.config.hidden_size == 8 and model.skill_ids.tolist() == [0, 1, 2]


def test_train_kt_rejects_a_pykt_run_without_test_log(tmp_path):
    log = write_tiny_log(tmp_path / "log.csv", n_students=4)
    done = run_script(
        "train_kt.py",
        "--data",
        str(log),
        "--protocol",
        "pykt",
        "--out",
        str(tmp_path / "run"),
        *TINY_DKT,
    )
    assert done.returncode != 0 and "test table" in done.stderr


def test_train_kt_concept_mixing_reports_the_concepts_and_refuses_ragged_logs(tmp_path):

    matrix = tmp_path / "matrix.csv"
    np.savetxt(matrix, simulate(60, 0.1, 3.0, 0.1, seed=7), fmt="%d", delimiter=",")
    done = run_script(
        "train_kt.py",
        "--data",
        str(matrix),
        "--model",
        "dkt",
        "--protocol",
        "dkt-synthetic",
        "--concept-mixing",
        "2",
        "--mixing-concepts",
        "3",
        "--input-encoding",
        "one-hot",
        "--out",
        str(tmp_path / "run"),
        *TINY_DKT,
    )
    assert done.returncode == 0, done.stderr
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    report = summary["concept_mixing"]
    assert (
        report["n_concepts"] == 3 and report["virtual_students"] == 2 * 27
    )  # 30 training students, 3 held out for validation
    assert len(report["concept"]) == len(CONCEPT) and summary["fit_plan"]["concept_mixing"] == 2.0
    ragged = run_script(
        "train_kt.py",
        "--data",
        str(write_tiny_log(tmp_path / "log.csv")),
        "--model",
        "dkt",
        "--concept-mixing",
        "2",
        "--out",
        str(tmp_path / "ragged"),
        *TINY_DKT,
    )
    assert ragged.returncode != 0 and "same exercises in the same order" in ragged.stderr
