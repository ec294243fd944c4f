"""kt.experiments.evaluation: every protocol scores each test attempt exactly once,
split by student."""

from riley_gym.kt.data.metrics import evaluate_predictions
from riley_gym.kt.data.protocols import ProtocolConfig
from riley_gym.kt.experiments.evaluation import evaluate
from riley_gym.kt.models.dkt import DKT, DKTConfig
from riley_gym.kt.models.marginal import Marginal
from riley_gym.kt.models.training import TrainingConfig
from tests.helpers.tables import fold_table


def test_kfold_evaluation_pools_one_prediction_per_row():
    table = fold_table(seed=2)
    result = evaluate(Marginal, table, ProtocolConfig("kfold", k=4, seed=0))
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
    table, test = fold_table(with_folds=True, seed=3), fold_table(n_students=8, seed=4)
    config = DKTConfig(
        hidden_size=8,
        embedding_size=8,
        batch_size=4,
        training=TrainingConfig(max_epochs=3, patience=1),
    )
    result = evaluate(lambda: DKT(config), table, ProtocolConfig("pykt", valid_fold=0), test)
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
