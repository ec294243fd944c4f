"""kt.experiments.fitting: the hold-out, the refit and the teacher targets a run
prepares for fit."""

import warnings

import numpy as np
import pytest

from riley_gym.kt.data.splits import holdout_split
from riley_gym.kt.experiments.fitting import FitPlan, fit_prepared
from riley_gym.kt.models.dkt import DKT
from riley_gym.kt.models.marginal import Marginal
from riley_gym.kt.models.training import TrainingConfig
from tests.helpers.dkt import tiny_dkt_config
from tests.helpers.tables import pattern_table


def test_an_early_stopping_model_is_validated_on_held_out_students_others_use_every_student():
    table = pattern_table(40, seed=3)
    training = TrainingConfig(max_epochs=4, patience=2, learning_rate=0.02)
    fit = fit_prepared(DKT(tiny_dkt_config(training=training)), table, None, FitPlan(0.25))
    train, _ = holdout_split(table, test_fraction=0.25, seed=0)
    same = DKT(tiny_dkt_config(training=training)).fit(train, table.drop(train.index))
    np.testing.assert_array_equal(
        fit.model.predict(table)["p_correct"], same.predict(table)["p_correct"]
    )
    assert fit.n_valid_students == 10 and "valid_auc" in fit.history.epochs[0]
    baseline = fit_prepared(Marginal(), table, None, FitPlan(0.25))
    assert baseline.n_valid_students == 0 and baseline.history is None
    np.testing.assert_array_equal(
        baseline.model.predict(table)["p_correct"],
        Marginal().fit(table).predict(table)["p_correct"],
    )


def test_refit_trains_on_every_student_for_the_selected_epoch_count():
    table = pattern_table(40, seed=3)
    _, valid = holdout_split(table, test_fraction=0.25, seed=0)  # the students held out
    only_in_valid = table["user_id"] == valid["user_id"].iloc[0]
    table.loc[only_in_valid, ["item_id", "skill_id"]] = (
        9  # a skill only a held-out student practises
    )
    training = TrainingConfig(max_epochs=6, patience=2, learning_rate=0.02)
    plan = FitPlan(valid_fraction=0.25, refit=True)
    fit = fit_prepared(DKT(tiny_dkt_config(training=training)), table, None, plan)
    assert fit.model.n_skills == 5 and len(fit.refit_history.epochs) == fit.history.best_epoch
    # The refit is exactly a run on the whole table for the selected epoch count.
    epochs = TrainingConfig(max_epochs=fit.history.best_epoch, learning_rate=0.02)
    same = DKT(tiny_dkt_config(training=epochs)).fit(table)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # skill 9 is known: no unknown-skill warning
        np.testing.assert_array_equal(
            fit.model.predict(table)["p_correct"], same.predict(table)["p_correct"]
        )
    without = fit_prepared(DKT(tiny_dkt_config(training=training)), table, None, FitPlan(0.25))
    assert without.model.n_skills == 4 and without.refit_history is None
    with pytest.raises(ValueError, match="refit needs the run to hold out"):
        fit_prepared(DKT(tiny_dkt_config()), table, None, FitPlan(valid_fraction=0.0, refit=True))
    with pytest.raises(ValueError, match="refit needs the run to hold out"):
        fit_prepared(DKT(tiny_dkt_config()), table, valid, plan)
    with pytest.raises(ValueError, match="refit needs the run to hold out"):
        fit_prepared(Marginal(), table, None, plan)


def test_refit_checkpoints_beside_the_selection_run_and_resumes_from_there(tmp_path):
    table = pattern_table(30, seed=4)
    path = tmp_path / "checkpoint.pt"
    plan = FitPlan(valid_fraction=0.25, refit=True)

    def model(resume):
        training = TrainingConfig(
            max_epochs=3, patience=2, learning_rate=0.02, checkpoint_path=str(path), resume=resume
        )
        return DKT(tiny_dkt_config(training=training))

    first = fit_prepared(model(False), table, None, plan)
    assert path.is_file() and (tmp_path / "checkpoint_refit.pt").is_file()
    again = fit_prepared(model(True), table, None, plan)
    losses = [fit.refit_history.to_frame()["train_loss"].tolist() for fit in (first, again)]
    assert losses[0] == losses[1]
    np.testing.assert_array_equal(
        again.model.predict(table)["p_correct"], first.model.predict(table)["p_correct"]
    )


def test_teacher_targets_are_checked_and_only_for_models_that_fit_them():
    table = pattern_table(20, seed=5)
    plan = FitPlan(valid_fraction=0.0)
    with pytest.raises(ValueError, match=r"teacher returned shape \(3,\)"):
        fit_prepared(DKT(tiny_dkt_config()), table, None, plan, teacher=lambda rows: np.zeros(3))
    with pytest.raises(ValueError, match="training_target is nan at row 0"):
        fit_prepared(
            DKT(tiny_dkt_config()),
            table,
            None,
            plan,
            teacher=lambda rows: np.full(len(rows), np.nan),
        )
    with pytest.raises(ValueError, match="Marginal does not fit soft targets"):
        fit_prepared(Marginal(), table, None, plan, teacher=lambda rows: np.zeros(len(rows)))


def test_fit_plan_refuses_values_naming_the_field():
    with pytest.raises(
        ValueError, match=r"FitPlan.valid_fraction must be in \[0.0, 1.0\), got 1.0"
    ):
        FitPlan(valid_fraction=1.0)
    with pytest.raises(ValueError, match="FitPlan.concept_mixing must be >= 0.0, got -1"):
        FitPlan(concept_mixing=-1)
