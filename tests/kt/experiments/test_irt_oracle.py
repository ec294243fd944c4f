"""The synthetic-data yardstick (kt/experiments/irt_oracle.py): leak-free predictions,
parameter recovery, info-file errors."""

import numpy as np
import pytest

from riley_gym.kt.experiments.irt_oracle import (
    ABILITY_GRID,
    cluster_exercises,
    concept_depth,
    fit_oracle,
    fit_structure,
    learn_structure,
    log_loss_by_concept_depth,
    oracle_predictions,
    read_exercise_info,
)
from tests.helpers.synthetic import CONCEPT, DIFFICULTY, PRACTICE, simulate


def test_predictions_use_only_earlier_answers_of_the_same_concept():
    responses = simulate(5, 0.1, 2.0, 0.1)
    base, _ = oracle_predictions(responses, CONCEPT, DIFFICULTY, 0.1, 2.0, 0.1)
    prior = np.exp(-0.5 * (ABILITY_GRID / 2.0) ** 2)
    expected_first = (prior / prior.sum()) @ (
        0.1 + 0.9 / (1 + np.exp(-(ABILITY_GRID - DIFFICULTY[0])))
    )
    np.testing.assert_allclose(
        base[:, 0], expected_first
    )  # nothing seen yet: the prior predictive, for everyone
    flipped = responses.copy()
    flipped[0, 4] = 1 - flipped[0, 4]  # exercise 4 is concept 1
    moved, _ = oracle_predictions(flipped, CONCEPT, DIFFICULTY, 0.1, 2.0, 0.1)
    np.testing.assert_array_equal(
        moved[:, :5], base[:, :5]
    )  # its own and earlier predictions cannot see it
    np.testing.assert_array_equal(moved[1:], base[1:])  # nor other students'
    later_same = [j for j in range(5, 12) if CONCEPT[j] == 1]
    later_other = [j for j in range(5, 12) if CONCEPT[j] != 1]
    assert np.all(moved[0, later_same] != base[0, later_same])
    np.testing.assert_array_equal(moved[0, later_other], base[0, later_other])


def test_fit_recovers_the_generating_parameters_on_a_grid():
    responses = simulate(1500, 0.25, 3.0, 0.0, seed=1)
    fitted = fit_oracle(
        responses,
        CONCEPT,
        DIFFICULTY,
        guesses=(0.0, 0.25),
        ability_sds=(0.7, 3.0),
        gains=(0.0, 0.4),
    )
    assert (fitted["guess"], fitted["ability_sd"], fitted["gain"]) == (0.25, 3.0, 0.0)


def test_info_file_errors_name_the_file_and_line(tmp_path):
    good = tmp_path / "good_info.txt"
    good.write_text("0.4\t0.49\t3\t1.6\n0.5\t0.5\t1\t-0.2\n")
    concept, difficulty = read_exercise_info(good, 2)
    assert concept.tolist() == [3, 1] and difficulty.tolist() == [1.6, -0.2]
    with pytest.raises(ValueError, match="2 exercise lines for a response matrix of 3"):
        read_exercise_info(good, 3)
    bad = tmp_path / "bad_info.txt"
    bad.write_text("0.4\t0.49\t3\t1.6\n0.5\tx\t1\t-0.2\n")
    with pytest.raises(ValueError, match="bad_info.txt, line 2"):
        read_exercise_info(bad, 2)
    short = tmp_path / "short_info.txt"
    short.write_text("0.4\t0.49\t3\n")
    with pytest.raises(ValueError, match="line 1: expected 4 numbers"):
        read_exercise_info(short, 1)


def test_clustering_recovers_the_concepts_from_answers_alone():
    responses = simulate(1500, 0.1, 3.0, 0.1, seed=3)
    np.testing.assert_array_equal(
        cluster_exercises(responses, 3), CONCEPT
    )  # numbered by first exercise, as CONCEPT is
    assert cluster_exercises(responses, 1).tolist() == [0] * len(CONCEPT)
    assert sorted(cluster_exercises(responses, len(CONCEPT))) == list(range(len(CONCEPT)))


def test_clustering_errors_say_what_is_wrong():
    responses = simulate(50, 0.1, 3.0, 0.1)
    with pytest.raises(ValueError, match=r"n_concepts must be in \[1, 12\], got 0"):
        cluster_exercises(responses, 0)
    responses[:, 5] = 1
    with pytest.raises(ValueError, match=r"exercise\(s\) \[5\] were answered alike"):
        cluster_exercises(responses, 3)


def test_structure_fit_recovers_effective_difficulties_and_population_parameters():
    responses = simulate(3000, 0.2, 2.0, 0.3, seed=5)
    fitted = fit_structure(responses, CONCEPT)
    effective = (
        DIFFICULTY - 0.3 * PRACTICE
    )  # one answer order: the gain folds into the difficulties
    assert np.abs(fitted["difficulty"] - effective).max() < 0.2 and fitted["gain"] == 0.0
    assert abs(fitted["guess"] - 0.2) < 0.05 and abs(fitted["ability_sd"] - 2.0) < 0.2
    # the maximum: at least as likely as the generating parameters (it started far from them)
    _, at_truth = oracle_predictions(responses, CONCEPT, DIFFICULTY, 0.2, 2.0, 0.3)
    assert fitted["log_likelihood"] >= at_truth
    _, at_effective = oracle_predictions(responses, CONCEPT, effective, 0.2, 2.0, 0.0)
    np.testing.assert_allclose(
        at_effective, at_truth
    )  # the two parameterisations are the same model


def test_learned_structure_chooses_the_number_of_concepts_on_held_out_students():
    responses = simulate(2000, 0.1, 3.0, 0.1, seed=5)
    learned = learn_structure(responses, max_concepts=6)
    assert learned["n_concepts"] == 3 and sorted(learned["held_out_log_likelihood"]) == [
        1,
        2,
        3,
        4,
        5,
        6,
    ]
    np.testing.assert_array_equal(learned["concept"], CONCEPT)
    given = learn_structure(responses, n_concepts=2)
    assert given["n_concepts"] == 2 and given["held_out_log_likelihood"] == {}
    with pytest.raises(ValueError, match="too few"):
        learn_structure(responses[:2])


def test_concept_depth_counts_earlier_answers_on_the_same_concept():
    assert concept_depth(np.array([0, 1, 0, 2, 1, 0])).tolist() == [0, 0, 1, 0, 1, 2]
    assert concept_depth(CONCEPT).tolist() == PRACTICE.tolist()


def test_log_loss_by_concept_depth_averages_each_depths_positions():
    concept = np.array([0, 1, 0, 1])  # depths 0, 0, 1, 1
    answers = np.array([[1, 0, 1, 1], [0, 0, 1, 0]])
    p = np.array([[0.8, 0.3, 0.6, 0.9], [0.4, 0.1, 0.5, 0.2]])
    loss = -np.log(np.where(answers == 1, p, 1 - p))  # (2, 4)
    expected = [loss[:, [0, 1]].mean(), loss[:, [2, 3]].mean()]
    assert log_loss_by_concept_depth(answers, p, concept) == pytest.approx(expected)
    with pytest.raises(ValueError, match=r"\(2, 4\), probabilities \(2, 3\) and 4 concepts"):
        log_loss_by_concept_depth(answers, p[:, :3], concept)
    p[1, 2] = np.nan
    with pytest.raises(ValueError, match="student row 1, answer 2 is not in"):
        log_loss_by_concept_depth(answers, p, concept)
