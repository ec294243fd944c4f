"""The gain model and the lookahead on learned gains, on tiny curricula where the answer is
known."""

from __future__ import annotations

import numpy as np
import pytest

from riley_gym.envs.curriculum import Curriculum
from riley_gym.envs.student_dynamics import BKTDynamics, BKTParams
from riley_gym.kt.tutoring.gain_model import (
    GainEstimate,
    GainModel,
    GainModelConfig,
    belief_features,
    collect_gain_data,
    train_gain_model,
)
from riley_gym.kt.tutoring.recommend import (
    BKTBelief,
    GreedyRecommender,
    RandomRecommender,
    gain_lookahead_values,
)
from riley_gym.kt.tutoring.simulation import run_sessions

SKILLS = [0, 0, 1]  # A (exercises 0, 1) and B (exercise 2), independent


def dynamics(prior=(1.0, 0.0)) -> BKTDynamics:
    curriculum = Curriculum.from_dict(
        {
            "name": "tiny",
            "skills": [{"name": "A"}, {"name": "B"}],
            "exercises": [
                {"name": "A1", "skill": "A", "difficulty": 0.0, "guess": 0.2, "slip": 0.1},
                {"name": "A2", "skill": "A", "difficulty": 0.0, "guess": 0.2, "slip": 0.1},
                {"name": "B1", "skill": "B", "difficulty": 0.0, "guess": 0.2, "slip": 0.1},
            ],
        }
    )
    params = BKTParams(prior=prior, learn=0.5, learn_rate_sd=0.0, prior_sd=0.0)
    return BKTDynamics(curriculum, params)


def test_collected_targets_are_the_simulators_exact_gains_of_the_visited_states():
    # Everyone knows A and not B: practising B gains learn * weight(B), practising A nothing.
    simulator = dynamics()
    belief = BKTBelief(SKILLS, prior=[1.0, 0.0], learn=0.5, guess=0.2, slip=0.1)
    features, gains = collect_gain_data(
        simulator, belief, [RandomRecommender(SKILLS)], 30, 1, 0.0, 0
    )
    weight_b = (1 - 0.1 - 0.2) / 3
    np.testing.assert_allclose(gains, np.tile([0.0, 0.0, 0.5 * weight_b], (30, 1)))
    np.testing.assert_allclose(features[:, :3], np.tile([0.9, 0.9, 0.2], (30, 1)), rtol=1e-6)
    assert np.all(features[:, 3] == 0.0)  # nothing done yet


def test_a_gain_model_learns_to_send_a_student_to_the_unmastered_skill():
    # Half the students know A, half B (priors 0.5, 0.5, jittered state): the gain is where the
    # belief says the skill is unknown. The right exercise is known by hand for each belief.
    simulator = dynamics(prior=(0.5, 0.5))
    belief = BKTBelief(SKILLS, prior=[0.5, 0.5], learn=0.5, guess=0.2, slip=0.1)
    config = GainModelConfig(
        students=600, epochs=30, batch_size=64, hidden_sizes=(32,), exploration=1.0
    )
    model = train_gain_model(simulator, belief, [RandomRecommender(SKILLS)], 4, config)
    assert model.history[-1] < model.history[0]
    knows_a = belief.update(belief.init(1), np.array([0]), np.array([1]))  # right on A
    knows_a = belief.update(knows_a, np.array([1]), np.array([1]))  # and again
    knows_b = belief.update(belief.init(1), np.array([2]), np.array([1]))  # right on B
    greedy = GreedyRecommender(belief, SKILLS, gains=GainEstimate(model, belief, 4))
    session = greedy.start(2, np.random.default_rng(0))
    session.state = np.concatenate([knows_a, knows_b])
    session.step = 2
    choice = session.choose()
    assert choice[0] == 2 and choice[1] in (0, 1)
    assert "learned gain model" in session.explain(0)


def test_gain_model_refuses_mismatched_data():
    model = GainModel(4, 3, GainModelConfig(epochs=1))
    with pytest.raises(ValueError, match="do not match"):
        model.fit(np.zeros((5, 4), np.float32), np.zeros((4, 3)))
    with pytest.raises(ValueError, match="GainModelConfig.exploration must be in"):
        GainModelConfig(exploration=1.5)


def test_gain_lookahead_adds_the_expected_best_next_gain_by_hand():
    # gains(state, step): 1 point for B while B looks unknown, else 0; 0.1 for A always.
    belief = BKTBelief(SKILLS, prior=[1.0, 0.0], learn=0.0, guess=0.2, slip=0.1)

    def gains(state, step):
        unknown_b = 1.0 - state[:, 1]  # (n,)
        return np.stack([np.full_like(unknown_b, 0.1), np.full_like(unknown_b, 0.1), unknown_b], 1)

    state = belief.init(1)
    np.testing.assert_allclose(
        gain_lookahead_values(belief, gains, state, 1, 1, 3), [[0.1, 0.1, 1.0]]
    )
    two = gain_lookahead_values(belief, gains, state, 1, 2, 3)
    # A: 0.1 now, then B still unknown (A's answer says nothing about B): 1.0 next.
    assert two[0, 0] == pytest.approx(1.1)
    # B: 1.0 now; a right answer (p = 0.2, guess) raises p(B known) to 0 still (prior 0, no
    # learning): B stays the best next exercise worth 1.0 either way.
    assert two[0, 2] == pytest.approx(2.0)
    beam = gain_lookahead_values(belief, gains, state, 1, 2, 1)
    assert np.isneginf(beam[0, :2]).all() and beam[0, 2] == pytest.approx(2.0)


def test_belief_features_are_the_predictions_and_the_fraction_done():
    belief = BKTBelief(SKILLS, prior=[1.0, 0.0], learn=0.5, guess=0.2, slip=0.1)
    features = belief_features(belief, belief.init(2), 5, 20)
    np.testing.assert_allclose(features, [[0.9, 0.9, 0.2, 0.25]] * 2, rtol=1e-6)
    assert features.dtype == np.float32


def test_on_policy_rounds_add_the_planners_own_states_and_refit():
    simulator = dynamics(prior=(0.5, 0.5))
    belief = BKTBelief(SKILLS, prior=[0.5, 0.5], learn=0.5, guess=0.2, slip=0.1)
    planned_on = []

    def greedy_on(estimate):
        planned_on.append(estimate)
        return GreedyRecommender(belief, SKILLS, gains=estimate)

    settings = dict(students=50, epochs=2, batch_size=64, hidden_sizes=(8,), exploration=0.2)
    offline = train_gain_model(
        simulator, belief, [RandomRecommender(SKILLS)], 4, GainModelConfig(**settings)
    )
    assert planned_on == []  # no rounds: the planner is never asked
    config = GainModelConfig(**settings, on_policy_rounds=2)
    online = train_gain_model(simulator, belief, [RandomRecommender(SKILLS)], 4, config, greedy_on)
    assert len(planned_on) == 2 and all(isinstance(e, GainEstimate) for e in planned_on)
    assert planned_on[0].model is not online  # each round's model plans the next round's data
    features = belief_features(belief, belief.init(3), 0, 4)
    assert not np.allclose(offline.predict(features), online.predict(features))
    with pytest.raises(ValueError, match="needs a planner"):
        train_gain_model(simulator, belief, [RandomRecommender(SKILLS)], 4, config)


def test_greedy_on_an_on_policy_gain_model_is_not_below_random():
    # The guard of issue 14's "no model-based policy below random", on a curriculum small enough
    # to run in seconds: half the students know A, half B; random wastes half its steps.
    simulator = dynamics(prior=(0.5, 0.5))
    belief = BKTBelief(SKILLS, prior=[0.5, 0.5], learn=0.5, guess=0.2, slip=0.1)
    config = GainModelConfig(
        students=300, epochs=20, batch_size=64, hidden_sizes=(32,), on_policy_rounds=1
    )
    model = train_gain_model(
        simulator,
        belief,
        [RandomRecommender(SKILLS)],
        3,
        config,
        lambda estimate: GreedyRecommender(belief, SKILLS, gains=estimate),
    )
    greedy = GreedyRecommender(belief, SKILLS, gains=GainEstimate(model, belief, 3))
    scores = {
        name: run_sessions(policy, simulator, 400, 3, seed=5).post_test[-1]
        for name, policy in {"greedy": greedy, "random": RandomRecommender(SKILLS)}.items()
    }
    difference = scores["greedy"] - scores["random"]  # paired: the same students
    assert difference.mean() - 2 * difference.std() / np.sqrt(len(difference)) > 0


def test_a_gain_model_can_read_the_lstm_output_beside_the_predictions(one_torch_thread):
    from riley_gym.envs.simulate import simulate_logs
    from riley_gym.kt.models.dkt import DKT, DKTConfig
    from riley_gym.kt.models.training import TrainingConfig
    from riley_gym.kt.tutoring.recommend import DKTBelief

    simulator = dynamics(prior=(0.5, 0.5))
    logs = simulate_logs(60, dynamics=simulator, episode_length=6, seed=0)
    training = TrainingConfig(max_epochs=1, seed=0)
    config = DKTConfig(hidden_size=8, dropout=0.0, batch_size=32, seed=0, training=training)
    belief = DKTBelief(DKT(config).fit(logs.assign(skill_id=logs["item_id"])), SKILLS)
    state = belief.update(belief.init(2), np.array([0, 2]), np.array([1, 0]))
    features = belief_features(belief, state, 3, 6, "predictions+state")
    assert features.shape == (2, 3 + 1 + 8)
    np.testing.assert_allclose(features[:, :4], belief_features(belief, state, 3, 6), rtol=1e-6)
    np.testing.assert_allclose(features[:, 4:], belief.representation(state), rtol=1e-6)
    settings = dict(students=20, epochs=1, hidden_sizes=(8,), features="predictions+state")
    model = train_gain_model(simulator, belief, [RandomRecommender(SKILLS)], 6,
                             GainModelConfig(**settings))  # fmt: skip
    assert model.n_features == 12
    assert GainEstimate(model, belief, 6)(state, 3).shape == (2, 3)
    bkt = BKTBelief(SKILLS, prior=[0.5, 0.5], learn=0.5, guess=0.2, slip=0.1)
    with pytest.raises(TypeError, match="BKTBelief has no representation"):
        belief_features(bkt, bkt.init(1), 0, 6, "predictions+state")
    with pytest.raises(ValueError, match="features"):
        GainModelConfig(features="hidden")
