"""Rollout values of a base policy and the policy greedy on them, on a curriculum where the
right first exercise is known by hand: B needs A, and a one-step gain sees nothing in A."""

from __future__ import annotations

import numpy as np
import pytest

from riley_gym.envs.curriculum import Curriculum
from riley_gym.envs.student_dynamics import BKTDynamics, BKTParams
from riley_gym.kt.tutoring.gain_model import GainEstimate
from riley_gym.kt.tutoring.policy_improvement import (
    RolloutEnsemble,
    RolloutModelConfig,
    RolloutRecommender,
    SharedDraws,
    collect_rollout_data,
    rollout_values,
    train_rollout_model,
)
from riley_gym.kt.tutoring.recommend import BKTBelief, BlockedRecommender, RandomRecommender
from riley_gym.kt.tutoring.simulation import SimulatedClass, run_sessions

SKILLS = [0, 1]  # exercise 0 practises A, exercise 1 practises B; B needs A
GUESS, SLIP = 0.2, 0.1


def dynamics(learn: float = 1.0) -> BKTDynamics:
    curriculum = Curriculum.from_dict(
        {
            "name": "gate",
            "skills": [{"name": "A"}, {"name": "B", "prerequisites": ["A"]}],
            "exercises": [
                {"name": "A1", "skill": "A", "difficulty": 0.0, "guess": GUESS, "slip": SLIP},
                {"name": "B1", "skill": "B", "difficulty": 0.0, "guess": GUESS, "slip": SLIP},
            ],
        }
    )
    params = BKTParams(
        prior=0.0, learn=learn, forget=0.0, prerequisite_penalty=0.0, learn_rate_sd=0.0,
        prior_sd=0.0,
    )  # fmt: skip
    return BKTDynamics(curriculum, params)


def belief() -> BKTBelief:
    return BKTBelief(SKILLS, prior=0.0, learn=1.0, guess=GUESS, slip=SLIP)


def b_first() -> BlockedRecommender:
    """The base policy: B for two steps, then A (blocks of 2 in the order B, A)."""
    return BlockedRecommender(SKILLS, run_length=2, skill_order=[1, 0])


def test_rollout_values_by_hand_doing_the_prerequisite_first_opens_the_second_skill():
    # Two steps left, base policy "B": A then B learns both (post-test 1 - slip everywhere);
    # B then B learns nothing (B is gated by A): post-test stays at the guess rate.
    simulator = dynamics()
    students = SimulatedClass(simulator, 3, seed=0)
    base = b_first().start(3, np.random.default_rng(0))
    values = rollout_values(simulator, students.state, base, 2, np.random.default_rng(1))
    np.testing.assert_allclose(values, np.tile([1 - SLIP, GUESS], (3, 1)))
    assert not students.state.mastered.any()  # the hidden state was copied, not stepped
    assert base.step == 0 and base.attempts.sum() == 0


def test_rollout_values_average_their_rollouts_to_the_exact_expectation():
    # learn 0.5: a rollout is luck. "A now" is never below "B now" (B now learns nothing), and
    # many rollouts approach the exact expectation.
    simulator = dynamics(learn=0.5)
    students = SimulatedClass(simulator, 400, seed=0)
    base = b_first().start(400, np.random.default_rng(0))
    one = rollout_values(simulator, students.state, base, 2, np.random.default_rng(2))
    assert np.all(one[:, 0] >= one[:, 1])
    many = rollout_values(simulator, students.state, base, 2, np.random.default_rng(2), 20)
    # A then B: A learned w.p. 1/2, then B learned w.p. 1/2 -> E[post] = guess + gain terms.
    weight = (1 - SLIP - GUESS) / 2
    expected_a_first = GUESS + 0.5 * weight + 0.25 * weight
    assert many[:, 0].mean() == pytest.approx(expected_a_first, abs=0.01)
    np.testing.assert_allclose(many[:, 1], GUESS)


def test_two_exercises_that_teach_alike_get_the_same_rollout_value_in_every_row():
    # Two identical exercises of one skill, learn 0.5: each row's value is luck (learned or
    # not), but the two exercises of a row share their draws, so they always agree. Without
    # shared draws they would disagree in about half of the rows.
    twins = Curriculum.from_dict(
        {
            "name": "twins",
            "skills": [{"name": "A"}],
            "exercises": [
                {"name": f"A{k}", "skill": "A", "difficulty": 0.0, "guess": GUESS, "slip": SLIP}
                for k in (1, 2)
            ],
        }
    )
    params = BKTParams(prior=0.0, learn=0.5, forget=0.0, learn_rate_sd=0.0, prior_sd=0.0)
    simulator = BKTDynamics(twins, params)
    students = SimulatedClass(simulator, 200, seed=0)
    base = RandomRecommender([0, 0]).start(200, np.random.default_rng(0))
    values = rollout_values(simulator, students.state, base, 1, np.random.default_rng(3))
    np.testing.assert_array_equal(values[:, 0], values[:, 1])
    assert 0.2 < np.mean(values[:, 0] > GUESS) < 0.8  # and the luck is there


def test_shared_draws_repeat_each_uniform_for_the_copies_of_a_student():
    draws = SharedDraws(np.random.default_rng(0), 3)
    values = draws.random(6)
    assert values[0] == values[1] == values[2] and values[3] == values[4] == values[5]
    assert values[0] != values[3]
    with pytest.raises(ValueError, match="runs of 3"):
        draws.random(4)


def test_collected_targets_are_centred_per_state():
    simulator, tracer = dynamics(), belief()
    config = RolloutModelConfig(students=20, exploration=0.0, state_fraction=1.0)
    features, targets = collect_rollout_data(
        simulator, tracer, [RandomRecommender(SKILLS)], b_first(), 2, config
    )
    assert features.shape == (40, 3) and targets.shape == (40, 2)
    np.testing.assert_allclose(targets.sum(axis=1), 0.0, atol=1e-12)
    # The first state of every student: A now is worth (1 - slip - guess) more than B now.
    first = features[:, 2] == 0.0
    np.testing.assert_allclose(targets[first, 0] - targets[first, 1], 1 - SLIP - GUESS)


def test_the_rollout_policy_does_the_prerequisite_first_and_beats_its_base_policy():
    # The base policy starts with B; greedy on its rollout values starts with A, by hand the
    # only first exercise that learns anything within three steps under that base.
    simulator, tracer = dynamics(), belief()
    config = RolloutModelConfig(students=200, epochs=300, hidden_sizes=(16,), state_fraction=1.0)
    base = b_first()
    model = train_rollout_model(simulator, tracer, [RandomRecommender(SKILLS)], base, 3, config)
    policy = RolloutRecommender(tracer, SKILLS, GainEstimate(model, tracer, 3), base)
    session = policy.start(4, np.random.default_rng(0))
    assert np.all(session.choose() == 0)
    assert "following blocked" in session.explain(0)
    improved = run_sessions(policy, simulator, 200, 3, seed=3).final
    plain = run_sessions(base, simulator, 200, 3, seed=3).final
    assert improved.mean() > plain.mean() + 0.3
    # Issue 14's guard: not below random either (paired, the same students).
    difference = improved - run_sessions(RandomRecommender(SKILLS), simulator, 200, 3, seed=3).final
    assert difference.mean() - 2 * difference.std() / np.sqrt(len(difference)) > 0


def test_with_a_margin_the_rollout_policy_leaves_its_base_only_for_a_large_enough_advantage():
    # Values by hand: A now is worth 0.7 more than B now. A margin above that keeps the base's
    # choice (B); a margin below it takes A.
    tracer = belief()
    values = RolloutEnsemble([_Constant([0.35, -0.35])])
    estimate = GainEstimate(values, tracer, 3)
    keeps = RolloutRecommender(tracer, SKILLS, estimate, b_first(), margin=0.8).start(
        2, np.random.default_rng(0)
    )
    assert np.all(keeps.choose() == 1)
    assert "blocked's choice" in keeps.explain(0)
    leaves = RolloutRecommender(tracer, SKILLS, estimate, b_first(), margin=0.5).start(
        2, np.random.default_rng(0)
    )
    assert np.all(leaves.choose() == 0)
    # Both sessions keep the base policy's session in step with the answers.
    for session in (keeps, leaves):
        session.observe(np.array([1, 1]), np.array([True, False]))
        assert session.base_session.step == 1
    with pytest.raises(ValueError, match="margin"):
        RolloutRecommender(tracer, SKILLS, estimate, b_first(), margin=-0.1)
    with pytest.raises(ValueError, match="needs the rollout values"):
        RolloutRecommender(tracer, SKILLS, None, b_first())


def test_rollout_model_is_deterministic_per_seed():
    simulator, tracer = dynamics(learn=0.5), belief()
    config = RolloutModelConfig(students=30, epochs=2, hidden_sizes=(8,))
    features = np.array([[0.2, 0.2, 0.0], [0.9, 0.2, 0.5]], dtype=np.float32)
    runs = [
        train_rollout_model(simulator, tracer, [RandomRecommender(SKILLS)], b_first(), 3, config)
        for _ in range(2)
    ]
    np.testing.assert_array_equal(runs[0].predict(features), runs[1].predict(features))


class _Constant:
    """A stand-in network that predicts fixed values."""

    def __init__(self, values):
        self.values, self.config = np.asarray(values, dtype=np.float64), RolloutModelConfig()

    def predict(self, features):
        return np.tile(self.values, (len(features), 1))


def test_an_ensemble_reads_its_members_mean_minus_the_penalty_times_their_spread():
    members = [_Constant([0.0, 1.0]), _Constant([0.0, 3.0])]  # agree on 0, disagree around 2
    features = np.zeros((2, 3), dtype=np.float32)
    np.testing.assert_allclose(RolloutEnsemble(members).predict(features), [[0.0, 2.0]] * 2)
    np.testing.assert_allclose(RolloutEnsemble(members, 1.5).predict(features), [[0.0, 0.5]] * 2)
    with pytest.raises(ValueError, match="at least one"):
        RolloutEnsemble([])


def test_an_ensemble_round_trips_through_a_checkpoint(tmp_path):
    simulator, tracer = dynamics(learn=0.5), belief()
    config = RolloutModelConfig(students=30, epochs=2, hidden_sizes=(8,), members=2, rounds=0)
    ensemble = train_rollout_model(
        simulator, tracer, [RandomRecommender(SKILLS)], b_first(), 3, config
    )
    ensemble.penalty = 0.5
    loaded = RolloutEnsemble.load(ensemble.save(tmp_path / "rollout.pt"))
    features = np.array([[0.2, 0.2, 0.0], [0.9, 0.2, 0.5]], dtype=np.float32)
    np.testing.assert_array_equal(loaded.predict(features), ensemble.predict(features))
    assert loaded.penalty == 0.5 and loaded.config == ensemble.config


def test_rollout_settings_are_checked():
    with pytest.raises(ValueError, match="state_fraction"):
        RolloutModelConfig(state_fraction=0.0)
    with pytest.raises(ValueError, match="rollouts"):
        RolloutModelConfig(rollouts=0)
    with pytest.raises(ValueError, match="disagreement_penalty"):
        RolloutModelConfig(disagreement_penalty=-1.0)


def test_the_pipeline_refuses_a_rollout_policy_without_its_values():
    # No silent fallback (greedy without gains falls back to the DKT paper's objective; the
    # rollout policy has no such meaning without its values).
    from riley_gym.envs.curriculum import load_curriculum
    from riley_gym.kt.experiments.tutor_pipeline import TutorConfig, build_recommenders

    riley = load_curriculum("riley")
    bkt = BKTBelief(riley.exercise_skill, prior=0.2, learn=0.2, guess=GUESS, slip=SLIP)
    config = TutorConfig.quick(policies=("random", "rollout"))
    with pytest.raises(ValueError, match="'rollout' needs rollout_values"):
        build_recommenders(config, riley, bkt, bkt)
