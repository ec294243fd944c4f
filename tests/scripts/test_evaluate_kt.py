"""scripts/evaluate_kt.py and scripts/plot_knowledge.py on a model saved by train_kt.py."""

import json

import pandas as pd
import pytest

from riley_gym.kt.data import read_log
from riley_gym.kt.data.metrics import evaluate_predictions
from riley_gym.kt.data.splits import pykt_test_windows
from riley_gym.kt.models.dkt import DKT, DKTConfig
from riley_gym.kt.models.training import TrainingConfig
from tests.helpers.scripts import run_script, write_tiny_log


@pytest.fixture(scope="module")
def tiny_dkt_run(tmp_path_factory):
    """A run folder as train_kt.py writes it (summary.json naming the model, and model/).

    It is made in-process.
    """
    folder = tmp_path_factory.mktemp("saved")
    log = write_tiny_log(folder / "log.csv")
    config = DKTConfig(
        hidden_size=8,
        embedding_size=8,
        batch_size=8,
        training=TrainingConfig(max_epochs=2),
    )
    DKT(config).fit(read_log(log)[0]).save(folder / "run" / "model")
    (folder / "run" / "summary.json").write_text(json.dumps({"model": "dkt"}))
    return log, folder / "run"


def test_evaluate_kt_scores_another_log_like_the_loaded_model(tiny_dkt_run, tmp_path):
    _, run = tiny_dkt_run
    other = write_tiny_log(tmp_path / "other.csv", n_students=10, seed=9)
    done = run_script(
        "evaluate_kt.py",
        "--model",
        str(run),
        "--data",
        str(other),
        "--out",
        str(tmp_path / "eval"),
        "--threads",
        "1",
    )
    assert done.returncode == 0, done.stderr
    summary = json.loads((tmp_path / "eval" / "summary.json").read_text())
    expected = evaluate_predictions(DKT.load(run / "model").predict(read_log(other)[0]))
    assert summary["model"] == "dkt" and summary["test_n"] == expected["n"]
    assert summary["test_auc"] == pytest.approx(expected["auc"]) and summary[
        "test_rmse"
    ] == pytest.approx(expected["rmse"])
    assert pd.read_csv(tmp_path / "eval" / "metrics.csv")["n"].iloc[0] == expected["n"]


def test_plot_knowledge_writes_the_heatmap_of_one_student(tiny_dkt_run, tmp_path):
    log, run = tiny_dkt_run
    done = run_script(
        "plot_knowledge.py",
        "--model",
        str(run),
        "--data",
        str(log),
        "--student",
        "104",
        "--max-attempts",
        "6",
        "--out",
        str(tmp_path / "plot"),
        "--threads",
        "1",
    )
    assert done.returncode == 0, done.stderr
    knowledge = pd.read_csv(tmp_path / "plot" / "knowledge.csv")
    assert len(knowledge) == 6 and (tmp_path / "plot" / "knowledge.png").stat().st_size > 0
    values = knowledge.filter(like="p_skill_").to_numpy()
    assert values.shape == (6, 3)
    assert ((values > 0) & (values < 1)).all()
    assert json.loads((tmp_path / "plot" / "summary.json").read_text())["student"] == "104"


def test_evaluate_kt_pykt_windows_scores_as_pykt_does(tiny_dkt_run, tmp_path):
    _, run = tiny_dkt_run
    other = write_tiny_log(tmp_path / "other.csv", n_students=10, seed=9)
    done = run_script(
        "evaluate_kt.py",
        "--model",
        str(run),
        "--data",
        str(other),
        "--pykt-windows",
        "--out",
        str(tmp_path / "eval"),
        "--threads",
        "1",
    )
    assert done.returncode == 0, done.stderr
    summary = json.loads((tmp_path / "eval" / "summary.json").read_text())
    windows = pykt_test_windows(read_log(other)[0])
    expected = evaluate_predictions(
        DKT.load(run / "model").predict(windows), skip_first_attempt=True
    )
    assert (
        summary["scoring"] == "pykt-windows"
        and summary["test_n"] == expected["n"] == len(windows) - windows.user_id.nunique()
    )
    assert summary["test_auc"] == pytest.approx(expected["auc"])
