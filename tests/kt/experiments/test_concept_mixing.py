"""Concept mixing (kt/experiments/concept_mixing.py):
virtual students recombine real students' concept blocks; DKT trains on them."""

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from riley_gym.kt.experiments.concept_mixing import (
    concept_mixtures,
    mix_students,
    mixing_report,
    response_matrix,
)
from riley_gym.kt.experiments.fitting import FitPlan, fit_prepared
from riley_gym.kt.models.dkt import DKT, DKTConfig
from riley_gym.kt.models.training import TrainingConfig
from tests.helpers.synthetic import CONCEPT, matrix_table, simulate


def test_response_matrix_reads_back_the_answers_and_names_the_student_that_breaks_it():
    answers = simulate(6, 0.1, 3.0, 0.1)
    table = matrix_table(answers).sample(frac=1.0, random_state=0)  # row order does not matter
    matrix = response_matrix(table)
    assert matrix.user_ids.tolist() == list(
        dict.fromkeys(table["user_id"])
    )  # students as first seen
    np.testing.assert_array_equal(matrix.answers, answers[matrix.user_ids])
    assert matrix.skill_ids.tolist() == list(range(100, 112)) and matrix.item_ids.tolist() == list(
        range(500, 512)
    )
    shorter = matrix_table(answers).iloc[:-1]
    with pytest.raises(ValueError, match="student 5 has 11 rows, student 0 has 12"):
        response_matrix(shorter)
    swapped = matrix_table(answers)
    swapped.loc[(swapped.user_id == 3) & (swapped.order == 4), "item_id"] = 999
    with pytest.raises(ValueError, match="student 3's attempt 4 is exercise 999"):
        response_matrix(swapped)
    with pytest.raises(ValueError, match="empty"):
        response_matrix(swapped.iloc[:0])


def test_every_concept_block_of_a_virtual_student_comes_whole_from_one_random_real_student():
    donor_of = np.repeat(
        np.arange(30)[:, None], len(CONCEPT), axis=1
    )  # each "answer" names its student
    virtual = mix_students(donor_of, CONCEPT, 300, np.random.default_rng(0))
    assert virtual.shape == (300, len(CONCEPT))
    donors = np.stack(
        [virtual[:, CONCEPT == c][:, 0] for c in range(3)], axis=1
    )  # (virtual, concepts)
    for c in range(3):
        assert (
            virtual[:, CONCEPT == c] == donors[:, c : c + 1]
        ).all()  # one donor per concept block
    assert (donors[:, 0] != donors[:, 1]).mean() > 0.9 and len(
        np.unique(donors)
    ) == 30  # drawn independently, from all
    np.testing.assert_array_equal(
        virtual, mix_students(donor_of, CONCEPT, 300, np.random.default_rng(0))
    )


def test_report_sees_correlation_within_concepts_and_none_across():
    report = mixing_report(simulate(3000, 0.1, 3.0, 0.1, seed=2), CONCEPT)
    assert report["n_concepts"] == 3 and report["concept"] == CONCEPT.tolist()
    assert (
        report["mean_abs_correlation_within"] > 0.3 and report["mean_abs_correlation_across"] < 0.05
    )


def test_mixtures_keep_the_real_students_and_add_virtual_ones_after_them():
    answers = simulate(400, 0.1, 3.0, 0.1, seed=3)
    table = matrix_table(answers, first_id=10)
    mixed, report = concept_mixtures(table, 2.5, n_concepts=3, seed=1)
    assert report["virtual_students"] == 1000 and report["concept"] == CONCEPT.tolist()
    assert len(mixed) == (400 + 1000) * len(CONCEPT)
    pd.testing.assert_frame_equal(
        mixed.iloc[: len(table)].reset_index(drop=True), table.reset_index(drop=True)
    )
    virtual = mixed.iloc[len(table) :]
    assert virtual["user_id"].min() == 410 and virtual["user_id"].nunique() == 1000
    assert set(virtual["skill_id"]) == set(table["skill_id"]) and set(virtual["item_id"]) == set(
        table["item_id"]
    )
    chosen, chosen_report = concept_mixtures(
        table, 1.0
    )  # number of concepts chosen by held-out likelihood
    assert chosen_report["n_concepts"] == 3 and chosen_report["virtual_students"] == 400
    named = table.assign(user_id="s" + table["user_id"].astype(str))
    assert concept_mixtures(named, 0.01, concept=CONCEPT)[0]["user_id"].iloc[-1] == "mixed-3"
    with pytest.raises(ValueError, match="per_student must be > 0"):
        concept_mixtures(table, 0.0)
    with pytest.raises(ValueError, match="11 concept labels for 12 exercises"):
        concept_mixtures(table, 1.0, concept=CONCEPT[:-1])


def test_dkt_trained_on_mixtures_learns_less_across_concepts():
    # Two concepts answered alternately by few students: a DKT fitted on the real students alone
    # picks up chance cross-concept dependences; with mixtures it barely can.
    rng = np.random.default_rng(4)
    concept = np.array([0, 1] * 5)
    ability = rng.normal(0, 2.5, size=(300, 2))
    answers = (rng.random((300, 10)) < 1 / (1 + np.exp(-ability[:, concept]))).astype(np.int64)
    table = matrix_table(answers)
    config = DKTConfig(
        input_encoding="one-hot",
        hidden_size=16,
        cell="gru",
        dropout=0.0,
        batch_size=32,
        training=replace(TrainingConfig(), max_epochs=40),
    )

    def cross_concept_change(model):
        # flip a student's first answer (concept 0): how far do later concept-1 predictions move?
        probe = matrix_table(answers[:50])
        flipped = probe.copy()
        first = flipped["order"] == 0
        flipped.loc[first, "correct"] = 1 - flipped.loc[first, "correct"]
        moved = np.abs(
            model.predict(probe)["p_correct"].to_numpy()
            - model.predict(flipped)["p_correct"].to_numpy()
        )
        return moved[(probe["order"] % 2 == 1).to_numpy()].mean(), moved[
            ((probe["order"] % 2 == 0) & ~first).to_numpy()
        ].mean()

    plain_across, plain_within = cross_concept_change(DKT(config).fit(table))
    plan = FitPlan(valid_fraction=0.0, concept_mixing=20.0, mixing_concepts=2)
    mixing = fit_prepared(DKT(config), table, None, plan)
    assert (
        mixing.mixing["concept"] == concept.tolist() and mixing.mixing["virtual_students"] == 6000
    )
    mixed_across, mixed_within = cross_concept_change(mixing.model)
    assert (
        mixed_across < 0.6 * plain_across
    )  # mixtures break the chance dependences across concepts (0.019 vs 0.047)
    assert mixed_within > 5 * mixed_across  # and keep the real ones within a concept


def test_dkt_refit_reuses_the_concepts_found_before_the_hold_out(monkeypatch):
    import riley_gym.kt.experiments.concept_mixing

    clusterings = []
    cluster = riley_gym.kt.experiments.concept_mixing.cluster_exercises
    monkeypatch.setattr(
        riley_gym.kt.experiments.concept_mixing,
        "cluster_exercises",
        lambda answers, k: clusterings.append(len(answers)) or cluster(answers, k),
    )
    answers = simulate(200, 0.1, 3.0, 0.1, seed=5)
    config = DKTConfig(
        input_encoding="one-hot",
        hidden_size=8,
        cell="gru",
        batch_size=64,
        training=replace(TrainingConfig(), max_epochs=2),
    )
    plan = FitPlan(refit=True, concept_mixing=1.0, mixing_concepts=3)
    model = fit_prepared(DKT(config), matrix_table(answers), None, plan)
    assert clusterings == [
        180
    ]  # once, on the students left after the 10% hold-out; the refit reuses it
    assert (
        model.mixing["virtual_students"] == 200 and model.mixing["concept"] == CONCEPT.tolist()
    )  # the refit's: all students
    with pytest.raises(ValueError, match="FitPlan.mixing_concepts must be an integer >= 0"):
        FitPlan(mixing_concepts=-1)
