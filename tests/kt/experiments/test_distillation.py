"""Distillation: DKT fitted on soft targets (the training_target column), teachers labelling the
rows (kt.experiments.fitting), and the runs that may teach
(kt.experiments.distillation.load_teachers)."""

import argparse
import shutil
import subprocess
import sys
from dataclasses import replace

import numpy as np
import pytest
import torch

from riley_gym.kt.data.protocols import ProtocolConfig
from riley_gym.kt.experiments.distillation import TeacherError, load_teachers
from riley_gym.kt.experiments.fitting import FitPlan, fit_prepared
from riley_gym.kt.experiments.runs import run_settings_from_arguments, train_and_report
from riley_gym.kt.models.dkt import DKT, DKTConfig
from riley_gym.kt.models.training import TrainingConfig
from tests.helpers.dkt import tiny_dkt_config
from tests.helpers.scripts import ROOT
from tests.helpers.synthetic import matrix_table
from tests.helpers.tables import pattern_table

TINY_FLAGS = dict(hidden_size=8, embedding_size=8, batch_size=16, max_epochs=3, patience=3)


def test_a_student_of_a_constant_teacher_predicts_that_constant_not_the_answers():
    student = DKT(tiny_dkt_config(training=TrainingConfig(max_epochs=30, learning_rate=0.02)))
    student.fit(pattern_table(150, seed=0).assign(training_target=0.7))
    predicted = student.predict(pattern_table(40, seed=1))["p_correct"].to_numpy()
    assert (
        np.abs(predicted - 0.7).max() < 0.03
    )  # the answers follow a rule the student never saw as a target


@pytest.mark.parametrize("mixtures", [0, 2])
def test_a_teacher_that_gives_back_the_answers_trains_the_same_network_as_no_teacher(mixtures):
    # The teacher is asked for every training row, concept mixtures and
    # the refit's included, and its probabilities must reach the loss
    # in the right rows: given the 0/1 answers it changes nothing.
    rng = np.random.default_rng(0)
    table = matrix_table((rng.random((80, 6)) < 0.6).astype(np.int64)).sample(
        frac=1.0, random_state=1
    )  # any row order
    config = DKTConfig(
        input_encoding="one-hot",
        hidden_size=8,
        cell="gru",
        dropout=0.1,
        batch_size=16,
        training=replace(TrainingConfig(), max_epochs=3, patience=3),
    )
    plan = FitPlan(
        valid_fraction=0.25, refit=True, concept_mixing=float(mixtures), mixing_concepts=2
    )
    asked = []

    def teacher(rows):
        asked.append(rows["user_id"].nunique())
        return rows["correct"].to_numpy().astype(float)

    taught = fit_prepared(DKT(config), table, None, plan, teacher).model
    plain = fit_prepared(DKT(config), table, None, plan).model
    assert asked == [
        (1 + mixtures) * 60,
        (1 + mixtures) * 80,
    ]  # the 60 students left after the hold-out, then all 80
    for name, value in plain.network.state_dict().items():
        torch.testing.assert_close(
            taught.network.state_dict()[name], value, rtol=0, atol=0, msg=name
        )


def test_a_target_that_is_no_probability_is_named_with_the_row():
    table = pattern_table(20, seed=0)
    config = tiny_dkt_config(training=TrainingConfig(max_epochs=1))
    targets = np.full(len(table), 0.5)
    targets[5] = np.nan
    with pytest.raises(ValueError, match=r"training_target is nan at row 5 \(student"):
        DKT(config).fit(table.assign(training_target=targets))
    targets[5] = 1.5
    with pytest.raises(ValueError, match=r"training_target is 1.5 at row 5"):
        DKT(config).fit(table.assign(training_target=targets))


@pytest.fixture(scope="module")
def split(tmp_path_factory):
    """A tiny response-matrix log and a DKT run on it under the DKT paper's split (the teacher)."""
    folder = tmp_path_factory.mktemp("distill")
    rng = np.random.default_rng(2)
    ability = rng.normal(0, 1.5, size=(120, 1))
    answers = (rng.random((120, 8)) < 1 / (1 + np.exp(-ability))).astype(np.int64)
    matrix_table(answers).to_csv(folder / "log.csv", index=False)
    teacher = train_and_report(
        ["dkt"], str(folder / "log.csv"), folder / "teacher", SPLIT, configs=configs(seed=3)
    )
    return folder, teacher


SPLIT = ProtocolConfig("dkt-synthetic")


def configs(seed=0, device="cpu"):
    """The tiny DKT of train_kt.py with TINY_FLAGS and --seed ``seed``."""
    flags = argparse.Namespace(**TINY_FLAGS, device=device)
    return run_settings_from_arguments(flags, ["dkt"], seed)[2]


def test_a_taught_run_records_its_teachers_and_their_score_on_its_own_test_students(split, device):
    folder, teacher = split
    log = folder / "copy" / "log.csv"  # the same file elsewhere (name and size) is the same split
    log.parent.mkdir(exist_ok=True)
    shutil.copy(folder / "log.csv", log)
    summary = train_and_report(
        ["dkt"],
        str(log),
        folder / f"student-{device}",
        SPLIT,
        configs=configs(device=device),
        teachers=[str(folder / "teacher")],
    )
    assert summary["teachers"] == [
        {"run": str(folder / "teacher"), "model": "dkt", "test_auc": teacher["test_auc"]}
    ]
    # One teacher: its own prediction, computed on the student's device (the same function:
    # equal to rounding).
    assert summary["teachers_test_auc"] == pytest.approx(
        teacher["test_auc"], abs=1e-12 if device == "cpu" else 1e-6
    )
    assert summary["n_test_students"] == teacher["n_test_students"] == 60


def test_runs_that_may_have_seen_the_test_students_cannot_teach(split, tmp_path):
    folder, _ = split
    log, teacher = str(folder / "log.csv"), [str(folder / "teacher")]
    with pytest.raises(TeacherError, match="does not depend on the seed"):
        load_teachers(teacher, log, None, ProtocolConfig("kfold"))
    with pytest.raises(TeacherError, match="does not depend on the seed"):
        load_teachers(teacher, log, None, ProtocolConfig("holdout"))
    with pytest.raises(
        TeacherError, match=r"another split.*protocol dkt-synthetic \(this run: holdout\)"
    ):
        load_teachers(teacher, log, log, ProtocolConfig("holdout"))
    other = tmp_path / "log.csv"
    shutil.copy(folder / "log.csv", other)
    with open(other, "a") as file:
        file.write("999,100,1,0,0\n")  # one more row: another file under the same name
    with pytest.raises(
        TeacherError,
        match=r"another split.*data \('log.csv', \d+\) \(this run: \('log.csv', \d+\)\)",
    ):
        load_teachers(teacher, str(other), None, SPLIT)
    with pytest.raises(TeacherError, match="is not a single-model run folder"):
        load_teachers([str(tmp_path)], log, None, SPLIT)
    with pytest.raises(ValueError, match=r"\['marginal'\] cannot learn from them"):
        train_and_report(["dkt", "marginal"], log, tmp_path / "both", SPLIT, teachers=teacher)


def test_script_reports_a_teacher_refusal_without_a_traceback(split, tmp_path):
    folder, _ = split
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "scripts" / "train_kt.py"),
            "--data",
            str(folder / "log.csv"),
            "--protocol",
            "kfold",
            "--teachers",
            str(folder / "teacher"),
            "--out",
            str(tmp_path / "run"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert (
        done.returncode == 2
        and "does not depend on the seed" in done.stderr
        and "Traceback" not in done.stderr
    )
