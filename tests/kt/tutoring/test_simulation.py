"""Tutoring simulation: statistics, common random numbers, censoring, the interactive loop."""

from __future__ import annotations

import io

import numpy as np
import pytest

from riley_gym.envs.curriculum import Curriculum
from riley_gym.envs.student_dynamics import BKTDynamics, BKTParams
from riley_gym.kt.experiments.plots import plot_learning_curves
from riley_gym.kt.tutoring.recommend import (
    BKTBelief,
    InterleavedRecommender,
    MasteryRecommender,
    RandomRecommender,
)
from riley_gym.kt.tutoring.simulation import (
    SimulatedClass,
    compare_policies,
    format_table,
    interactive_session,
    mean_ci95,
    run_sessions,
    t_quantile_975,
)

SKILLS = [0, 0, 1]


def curriculum() -> Curriculum:
    return Curriculum.from_dict(
        {
            "name": "tiny",
            "skills": [{"name": "A"}, {"name": "B"}],
            "exercises": [
                {"name": "A1", "skill": "A", "difficulty": 0.0, "guess": 0.2, "slip": 0.1},
                {"name": "A2", "skill": "A", "difficulty": 0.0, "guess": 0.2, "slip": 0.1},
                {"name": "B1", "skill": "B", "difficulty": 0.0, "guess": 0.25, "slip": 0.05},
            ],
        }
    )


def instant_learner() -> BKTDynamics:
    """Nobody knows anything at first; one practice masters a skill (learn = 1)."""
    return BKTDynamics(
        curriculum(), BKTParams(prior=0.0, learn=1.0, learn_rate_sd=0.0, prior_sd=0.0)
    )


@pytest.mark.parametrize(
    "df, expected, tolerance",
    [(4, 2.7764, 0.01), (10, 2.2281, 1e-3), (30, 2.0423, 1e-3), (1000, 1.9623, 1e-4)],
)
def test_t_quantile_matches_tables(df, expected, tolerance):
    assert t_quantile_975(df) == pytest.approx(expected, abs=tolerance)


def test_mean_ci95_by_hand():
    mean, half = mean_ci95([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 11.0])
    # sd = sqrt(11) = 3.3166, t(10) = 2.2281, half = 2.2281 * 3.3166 / sqrt(11) = 2.2281
    assert mean == pytest.approx(6.0)
    assert half == pytest.approx(2.2281, abs=2e-3)
    with pytest.raises(ValueError, match="non-empty"):
        mean_ci95([])


def test_interleaving_an_instant_learner_masters_both_skills_in_two_steps():
    dynamics = instant_learner()
    record = run_sessions(
        InterleavedRecommender(SKILLS), dynamics, n_students=20, session_length=4, seed=3
    )
    assert np.all(record.steps_to_mastery == 2)
    assert record.mastered.all()
    # Post-test by hand: before, every p is the guess: (0.2 + 0.2 + 0.25) / 3; after mastery,
    # 1 - slip.
    assert np.allclose(record.pre_test, (0.2 + 0.2 + 0.25) / 3)
    assert np.allclose(record.final, (0.9 + 0.9 + 0.95) / 3)
    assert np.array_equal(record.exercises[:, 0], [0, 2, 1, 2])


def test_students_who_never_master_are_censored_at_the_session_length():
    record = run_sessions(
        InterleavedRecommender(SKILLS), instant_learner(), n_students=5, session_length=1, seed=0
    )
    assert np.all(record.steps_to_mastery == 1)
    assert not record.mastered.any()


def test_common_random_numbers_make_identical_policies_identical_and_runs_reproducible():
    dynamics = BKTDynamics(curriculum(), BKTParams(prior=0.2, learn=0.3))
    recommenders = {
        "random": RandomRecommender(SKILLS),
        "random again": RandomRecommender(SKILLS),
        "interleaved": InterleavedRecommender(SKILLS),
    }
    first = compare_policies(recommenders, dynamics, n_students=200, session_length=10, seed=11)
    second = compare_policies(recommenders, dynamics, n_students=200, session_length=10, seed=11)
    assert first.table.equals(second.table)
    assert np.array_equal(
        first.records["random"].post_test, first.records["random again"].post_test
    )
    assert first.table.loc["random again", "diff_vs_random"] == 0.0
    # Same students under every policy: identical pre-tests.
    assert np.array_equal(first.records["random"].pre_test, first.records["interleaved"].pre_test)
    # The paired difference and its CI, recomputed independently.
    diff = first.records["interleaved"].final - first.records["random"].final
    assert first.table.loc["interleaved", "diff_vs_random"] == pytest.approx(diff.mean())
    assert first.table.loc["interleaved", "diff_ci95"] == pytest.approx(
        t_quantile_975(199) * diff.std(ddof=1) / np.sqrt(200)
    )
    assert "interleaved" in format_table(first.table)


def test_a_better_policy_wins_with_a_ci_that_excludes_zero():
    # Mastery learning with the true BKT parameters vs random on a 2-skill curriculum (seed 0,
    # 400 students).
    dynamics = BKTDynamics(
        curriculum(), BKTParams(prior=0.1, learn=0.3, learn_rate_sd=0.0, prior_sd=0.0)
    )
    belief = BKTBelief(SKILLS, prior=0.1, learn=0.3, guess=dynamics.guess, slip=dynamics.slip)
    recommenders = {
        "random": RandomRecommender(SKILLS),
        "mastery": MasteryRecommender(belief, SKILLS),
    }
    table = compare_policies(recommenders, dynamics, n_students=400, session_length=6, seed=0).table
    assert table.loc["mastery", "diff_vs_random"] - table.loc["mastery", "diff_ci95"] > 0


def test_oracle_lookahead_estimate_is_exact_for_an_instant_learner():
    simulated = SimulatedClass(instant_learner(), 3, seed=0)
    values = simulated.expected_post_test_after()
    before = (0.2 + 0.2 + 0.25) / 3
    assert np.allclose(
        values[:, 0], before + 2 * (0.9 - 0.2) / 3
    )  # masters A: both A exercises improve
    assert np.allclose(values[:, 2], before + (0.95 - 0.25) / 3)
    assert simulated.dynamics.post_test(simulated.state) == pytest.approx(
        np.full(3, before)
    )  # the real state is untouched


def test_learning_curves_plot_is_written(tmp_path):
    comparison = compare_policies(
        {"random": RandomRecommender(SKILLS)}, instant_learner(), 10, 3, seed=0
    )
    path = plot_learning_curves(comparison, tmp_path / "curves.png")
    assert path.stat().st_size > 1000
    assert len(comparison.learning_curves()) == 4


def test_interactive_session_reads_answers_reasks_on_bad_input_and_ends_on_eof():
    belief = BKTBelief(SKILLS, prior=0.3, learn=0.3, guess=0.2, slip=0.1)
    recommender = MasteryRecommender(
        belief, SKILLS, skill_names=["A", "B"], exercise_names=["A1", "A2", "B1"]
    )
    output = io.StringIO()
    answers = interactive_session(recommender, io.StringIO("y\nmaybe\ny\nn\n"), output)
    text = output.getvalue()
    assert answers == 3
    assert "please type y, n or q" in text
    assert "(end of input)" in text
    assert (
        text.count("knowledge estimate per skill") == 4
    )  # before the first answer and after each of 3
    assert "why:" in text
    assert interactive_session(recommender, io.StringIO("q\n"), io.StringIO()) == 0


def test_tutor_config_rejects_unknown_policies_and_requires_random():
    from riley_gym.kt.experiments.tutor_pipeline import TutorConfig

    with pytest.raises(ValueError, match="telepathy"):
        TutorConfig(policies=("random", "telepathy"))
    with pytest.raises(ValueError, match="random"):
        TutorConfig(policies=("mastery",))
    with pytest.raises(ValueError, match="dynamics"):
        TutorConfig(dynamics="magic")
    with pytest.raises(ValueError, match="only with --tracer dkt"):
        TutorConfig(tracer="sakt", gain_features="predictions+state")
    assert TutorConfig(gain_features="predictions+state").gain_features == "predictions+state"
