"""kt.experiments.evaluation: every protocol scores each test attempt exactly once, split by student."""

import numpy as np
import pandas as pd
import pytest

from riley_gym.kt.data.metrics import evaluate_predictions
from riley_gym.kt.experiments.evaluation import PROTOCOLS, evaluate, protocol_splits
from riley_gym.kt.models.dkt import DKT, DKTConfig
from riley_gym.kt.models.marginal import Marginal
from riley_gym.kt.models.training import TrainingConfig


def _table(n_students=20, seed=0, with_folds=False):
    rng = np.random.default_rng(seed)
    rows = []
    for user in range(n_students):
        for order in range(int(rng.integers(3, 12))):
            skill = int(rng.integers(0, 3))
            rows.append(
                (f"s{user}", skill, skill, int(rng.random() < 0.3 + 0.2 * skill), order, user % 5)
            )
    table = pd.DataFrame(
        rows, columns=["user_id", "item_id", "skill_id", "correct", "order", "fold"]
    )
    return table if with_folds else table.drop(columns="fold")


@pytest.mark.parametrize("protocol", ["holdout", "kfold", "dkt-synthetic"])
def test_protocol_splits_keep_students_apart_and_test_everyone_once_in_kfold(protocol):
    table = _table()
    parts = protocol_splits(table, protocol, k=4, seed=1)
    assert len(parts) == (4 if protocol == "kfold" else 1)
    tested = []
    for train, valid, test in parts:
        assert valid is None
        assert not set(train["user_id"]) & set(test["user_id"])
        assert len(train) + len(test) == len(table)
        tested += test["user_id"].unique().tolist()
    if protocol == "kfold":
        assert sorted(tested) == sorted(table["user_id"].unique())
    if protocol == "dkt-synthetic":
        assert tested == [f"s{user}" for user in range(10, 20)]


def test_pykt_protocol_uses_the_folds_and_the_separate_test_table():
    table, test = _table(with_folds=True), _table(n_students=6, seed=1)
    ((train, valid, held_out),) = protocol_splits(table, "pykt", test, valid_fold=2)
    assert set(valid["fold"]) == {2} and 2 not in set(train["fold"]) and held_out is test
    with pytest.raises(ValueError, match="test table"):
        protocol_splits(table, "pykt")
    with pytest.raises(ValueError, match="makes its own test set"):
        protocol_splits(table, "kfold", test)
    with pytest.raises(ValueError, match="protocol must be one of"):
        protocol_splits(table, "leave-one-out")
    assert PROTOCOLS == ("holdout", "kfold", "dkt-synthetic", "pykt")


def test_kfold_evaluation_pools_one_prediction_per_row():
    table = _table(seed=2)
    result = evaluate(Marginal, table, "kfold", k=4, seed=0)
    assert len(result.predictions) == len(table) and len(result.models) == 4
    assert sorted(result.predictions["fold"].unique()) == [0, 1, 2, 3]
    keys = ["user_id", "order", "skill_id"]
    merged = table.merge(result.predictions[keys + ["correct"]], on=keys, suffixes=("", "_scored"))
    assert len(merged) == len(table) and (merged["correct"] == merged["correct_scored"]).all()
    assert result.metrics == evaluate_predictions(result.predictions)
    later = result.predictions[result.predictions["order"] > 0]  # each student's first order is 0
    assert result.metrics_after_first["n"] == len(later) < len(table)
    assert result.summary()["test_auc_after_first_attempt"] == evaluate_predictions(later)["auc"]
    assert result.n_test_students == 20 and len(result.folds) == 4
    assert set(result.per_skill["skill_id"]) == {0, 1, 2}


def test_pykt_evaluation_early_stops_dkt_on_the_validation_fold():
    table, test = _table(with_folds=True, seed=3), _table(n_students=8, seed=4)
    config = DKTConfig(
        hidden_size=8,
        embedding_size=8,
        batch_size=4,
        training=TrainingConfig(max_epochs=3, patience=1),
    )
    result = evaluate(lambda: DKT(config), table, "pykt", test, valid_fold=0)
    model = result.models[0]
    assert "valid_auc" in model.history.to_frame() and 1 <= model.history.best_epoch <= 3
    assert len(result.predictions) == len(test) and result.n_test_students == 8
    assert result.n_train_students == 16  # folds 1-4 of 20 students
    assert set(result.summary()) >= {
        "test_auc",
        "test_acc",
        "test_rmse",
        "train_seconds",
        "n_train_students",
    }
