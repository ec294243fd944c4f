"""Calibration of the simulator to logs: likelihoods by hand,
parameter recovery on simulated logs, real-data fit."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from riley_gym.envs.curriculum import Curriculum
from riley_gym.envs.simulate import simulate_logs
from riley_gym.envs.student_dynamics import BKTDynamics, BKTParams
from riley_gym.kt.data import default_data_dir
from riley_gym.kt.experiments.calibrate import (
    LOG_M_GRID,
    calibrate_bkt,
    correctness_by_attempt,
    estimate_learn_rate_sd,
    fit_quality,
    judge_against_logs,
    restrict_to_top_skills,
    student_log_likelihoods,
)
from riley_gym.kt.tutoring.recommend import BKTBelief, InterleavedRecommender, RandomRecommender

DATA = default_data_dir()
BUILDER = DATA / "assist2009_builder" / "builder_train.csv"


def three_skill_curriculum() -> Curriculum:
    names = ["a", "b", "c"]
    return Curriculum.from_dict(
        {
            "name": "three",
            "skills": [{"name": n} for n in names],
            "exercises": [
                {"name": n, "skill": n, "difficulty": 0.0, "guess": g, "slip": s}
                for n, g, s in zip(names, [0.2, 0.15, 0.25], [0.1, 0.05, 0.08])
            ],
        }
    )


def test_student_log_likelihood_matches_a_forward_pass_by_hand():
    table = pd.DataFrame(
        {
            "user_id": [0, 0, 0],
            "item_id": [0, 0, 0],
            "skill_id": [0, 0, 0],
            "correct": [1, 0, 1],
            "order": [0, 1, 2],
        }
    )
    prior, learn, guess, slip = np.array([0.3]), np.array([0.2]), np.array([0.2]), np.array([0.1])
    expected = 0.0
    known = 0.3
    for answer in [1, 0, 1]:
        p = known * 0.9 + (1 - known) * 0.2
        evidence = p if answer else 1 - p
        expected += np.log(evidence)
        posterior = known * (0.9 if answer else 0.1) / evidence
        known = posterior + (1 - posterior) * 0.2
    result = student_log_likelihoods(table, prior, learn, guess, slip, np.array([0.0, 1.0]))
    assert result[0, 0] == pytest.approx(expected)
    assert result[0, 1] != pytest.approx(expected)  # m = e changes the learn rate


@pytest.mark.parametrize("true_sd, low, high", [(0.0, 0.0, 0.4), (1.2, 0.7, 1.7)])
def test_learn_rate_sd_is_recovered_from_simulated_logs(true_sd, low, high):
    # 1500 students x 60 random steps on 3 skills, seed 0;
    # the marginal-likelihood estimate lands near the truth.
    dynamics = BKTDynamics(
        three_skill_curriculum(),
        BKTParams(prior=0.1, learn=(0.1, 0.15, 0.08), learn_rate_sd=true_sd, prior_sd=0.0),
    )
    logs = simulate_logs(1500, dynamics=dynamics, episode_length=60, seed=0)
    c = dynamics.curriculum
    likelihoods = student_log_likelihoods(
        logs, np.full(3, 0.1), np.array([0.1, 0.15, 0.08]), c.guess, c.slip, LOG_M_GRID
    )
    estimate, scores = estimate_learn_rate_sd(likelihoods)
    assert low <= estimate <= high
    assert scores.shape == (21,)


def test_calibrate_recovers_per_skill_parameters_and_fits_its_own_log():
    truth = BKTDynamics(
        three_skill_curriculum(),
        BKTParams(prior=(0.2, 0.4, 0.1), learn=(0.15, 0.1, 0.2), learn_rate_sd=0.0, prior_sd=0.0),
    )
    logs = simulate_logs(1500, dynamics=truth, episode_length=40, seed=1)
    calibration = calibrate_bkt(logs, estimate_population=False)
    params = calibration.skill_parameters
    assert np.allclose(params["prior"], [0.2, 0.4, 0.1], atol=0.06)
    assert np.allclose(params["learn"], [0.15, 0.1, 0.2], atol=0.05)
    assert np.allclose(calibration.dynamics.guess, [0.2, 0.15, 0.25], atol=0.05)
    quality = fit_quality(logs, calibration.dynamics, max_attempt=8, seed=2)
    assert quality.shape[0] == 24
    assert np.average(np.abs(quality["difference"]), weights=quality["n"]) < 0.03


def test_correctness_by_attempt_by_hand():
    table = pd.DataFrame(
        {
            "user_id": [1, 1, 1, 2, 2],
            "item_id": 0,
            "skill_id": [0, 0, 1, 0, 0],
            "correct": [0, 1, 1, 1, 1],
            "order": [0, 1, 2, 0, 1],
        }
    )
    curve = correctness_by_attempt(table)
    assert (
        curve.loc[(0, 1), "mean"] == 0.5
        and curve.loc[(0, 2), "mean"] == 1.0
        and curve.loc[(1, 1), "size"] == 1
    )


def test_restrict_to_top_skills_keeps_the_most_practised_and_renumbers():
    table = pd.DataFrame(
        {
            "user_id": [0] * 6,
            "item_id": [9, 9, 9, 4, 4, 7],
            "skill_id": [9, 9, 9, 4, 4, 7],
            "correct": 1,
            "order": range(6),
        }
    )
    kept, original = restrict_to_top_skills(table, 2)
    assert original.tolist() == [9, 4]
    assert kept["skill_id"].tolist() == [0, 0, 0, 1, 1]
    assert kept["item_id"].tolist() == kept["skill_id"].tolist()


def test_judge_compares_policies_with_the_logged_sequences():
    belief = BKTBelief(
        [0, 1], prior=0.1, learn=(0.5, 0.0), guess=0.2, slip=0.1
    )  # only skill 0 can be learned
    logged = pd.DataFrame(
        {
            "user_id": np.repeat(np.arange(30), 4),
            "item_id": 1,
            "skill_id": 1,
            "correct": 0,
            "order": np.tile(np.arange(4), 30),
        }
    )
    table = judge_against_logs(
        {"random": RandomRecommender([0, 1]), "interleaved": InterleavedRecommender([0, 1])},
        belief,
        logged,
        length=4,
    )
    assert table.loc["logged", "n_students"] == 30
    # Logged students only practised the unlearnable skill;
    # any policy that practises skill 0 is judged better.
    assert table.loc["interleaved", "diff_vs_logged"] - table.loc["interleaved", "diff_ci95"] > 0


@pytest.mark.skipif(
    not BUILDER.exists(),
    reason=f"ASSISTments 2009 builder data not found at {BUILDER} (set RILEY_DATA_DIR)",
)
def test_calibration_to_assistments_builder_slice_reproduces_correctness_by_attempt():
    from riley_gym.kt.data import read_log

    table, _ = read_log(BUILDER, "three-line")
    first = table[table["user_id"].isin(table["user_id"].unique()[:800])]
    restricted, original = restrict_to_top_skills(first, 5)
    calibration = calibrate_bkt(restricted, original)
    assert 0.0 <= calibration.learn_rate_sd <= 2.0
    quality = fit_quality(restricted, calibration.dynamics, seed=0)
    # Measured 0.05-0.07 on this slice: BKT reproduces per-attempt correctness
    # within ~0.1 on average.
    assert np.average(np.abs(quality["difference"]), weights=quality["n"]) < 0.1
