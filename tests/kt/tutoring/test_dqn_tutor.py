"""The DQN tutor: the knowledge-observation wrapper, and learning on a tiny curriculum."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from riley_gym.envs.curriculum import Curriculum
from riley_gym.envs.student_dynamics import BKTDynamics, BKTParams
from riley_gym.envs.student_vector import StudentVectorEnv
from riley_gym.kt.tutoring.dqn_tutor import (
    DQNTutor,
    DQNTutorConfig,
    KnowledgeVectorEnv,
    knowledge_observation,
    train_dqn_tutor,
)
from riley_gym.kt.tutoring.recommend import BKTBelief, RandomRecommender
from riley_gym.kt.tutoring.simulation import compare_policies

SKILLS = [0, 0, 1]


def tiny() -> BKTDynamics:
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
    return BKTDynamics(curriculum, BKTParams(prior=0.0, learn=1.0, learn_rate_sd=0.0, prior_sd=0.0))


def belief() -> BKTBelief:
    return BKTBelief(SKILLS, prior=0.0, learn=1.0, guess=0.2, slip=0.1)


def test_observation_is_the_beliefs_prediction_and_the_session_fraction():
    observation = knowledge_observation(np.array([[0.2, 0.5, 0.9]]), np.array([3]), 4)
    assert observation.dtype == np.float32
    assert np.allclose(observation, [[0.2, 0.5, 0.9, 0.75]])


def test_wrapper_steps_the_belief_and_resets_it_when_a_session_ends():
    env = KnowledgeVectorEnv(StudentVectorEnv(2, dynamics=tiny(), episode_length=2), belief())
    obs, _ = env.reset(seed=0)
    assert obs.shape == (2, 4) and np.allclose(obs[:, :3], 0.2) and np.allclose(obs[:, 3], 0.0)
    obs, reward, terminated, truncated, info = env.step(np.array([0, 2]))
    # learn = 1: the practised skill is certainly mastered afterwards, p = 1 - slip = 0.9.
    assert np.allclose(obs[0, :3], [0.9, 0.9, 0.2]) and np.allclose(obs[1, :3], [0.2, 0.2, 0.9])
    assert np.allclose(obs[:, 3], 0.5) and not terminated.any()
    assert np.allclose(reward, [2 * 0.7 / 3, 0.7 / 3])  # the simulator's true post-test gain
    obs, reward, terminated, truncated, info = env.step(np.array([2, 2]))
    assert terminated.all()
    assert np.allclose(info["final_obs"][0], [0.9, 0.9, 0.9, 1.0])
    assert np.allclose(obs[:, :3], 0.2) and np.allclose(
        obs[:, 3], 0.0
    )  # new students, fresh belief


def test_config_rejects_bad_budgets():
    with pytest.raises(ValueError, match="total_steps"):
        DQNTutorConfig(total_steps=0)


def test_dqn_tutor_learns_to_teach_both_skills(one_torch_thread):
    # Two steps, instant learning: the best plan practises A and B once each (post-test 0.9); random
    # does both skills with probability 4/9. Seed 0, 2400 student-steps.
    torch.manual_seed(0)
    dynamics = tiny()
    config = DQNTutorConfig(
        total_steps=2400,
        num_envs=8,
        train_freq=1,
        hidden_sizes=(32,),
        learning_rate=2e-3,
        n_step=2,
        seed=0,
    )
    agent = train_dqn_tutor(dynamics, belief(), session_length=2, config=config)
    tutor = DQNTutor(agent, belief(), SKILLS, session_length=2)
    table = compare_policies(
        {"random": RandomRecommender(SKILLS), "dqn": tutor},
        dynamics,
        n_students=300,
        session_length=2,
        seed=1,
    ).table
    assert table.loc["dqn", "post_test_mean"] == pytest.approx(0.9, abs=0.01)
    assert table.loc["dqn", "diff_vs_random"] - table.loc["dqn", "diff_ci95"] > 0
    session = tutor.start(1, np.random.default_rng(0))
    session.choose()
    assert "E[R | A, S]" in session.explain(0)


class LinearAgent:
    """A stand-in for a trained DQN: E[R | A, S] = weight[a] * (1 - p(correct on a))."""

    weight = np.array([1.0, 2.0, 3.0])

    def q_values(self, observation):
        return self.weight * (1.0 - observation[:, :3])


def test_dqn_tutor_scores_are_its_q_values():
    tutor = DQNTutor(LinearAgent(), belief(), SKILLS, session_length=4)
    session = tutor.start(1, np.random.default_rng(0))
    assert session.choose()[0] == 2
    # Before any answer every exercise has p = guess = 0.2 (prior 0): Q = weight * 0.8.
    assert np.allclose(session.scores(), [[0.8, 1.6, 2.4]])
    session.observe(np.array([2]), np.array([1]))
    assert session.choose()[0] == 1
    # B learned (learn 1): p = 0.9 on exercise 2, so Q = [0.8, 1.6, 0.3].
    assert np.allclose(session.scores(), [[0.8, 1.6, 3.0 * 0.1]])


def test_expected_reward_is_the_mean_of_the_realised_one_and_zero_once_mastered():
    """learn = 0.5: the expected reward is half the realised gain of a learned step, every time."""
    dynamics = BKTDynamics(
        tiny().curriculum, BKTParams(prior=0.0, learn=0.5, learn_rate_sd=0.0, prior_sd=0.0)
    )
    n = 4000
    expected_env = KnowledgeVectorEnv(StudentVectorEnv(n, dynamics=dynamics, episode_length=3),
                                      belief(), reward="expected")  # fmt: skip
    realised_env = KnowledgeVectorEnv(StudentVectorEnv(n, dynamics=dynamics, episode_length=3),
                                      belief(), reward="realized")  # fmt: skip
    expected_env.reset(seed=1)
    realised_env.reset(seed=1)
    actions = np.zeros(n, dtype=np.int64)  # skill A (two of the three exercises) every time
    _, expected, *_ = expected_env.step(actions)
    _, realised, *_ = realised_env.step(actions)
    learned_gain = 2 * 0.7 / 3  # A's two exercises go from guess 0.2 to 1 - slip = 0.9
    assert np.allclose(expected, 0.5 * learned_gain)  # the same for every student, no noise
    assert set(np.round(realised, 6)) <= {0.0, round(learned_gain, 6)}  # all or nothing
    assert abs(realised.mean() - expected.mean()) < 4 * learned_gain * 0.5 / np.sqrt(n)
    mastered = expected_env.inner.batch.state.mastered[:, 0].copy()  # who learned A on step one
    _, expected, *_ = expected_env.step(actions)
    assert np.allclose(expected[mastered], 0.0)  # nothing left to learn (forget is 0)
    assert np.allclose(expected[~mastered], 0.5 * learned_gain)


def test_wrapper_refuses_an_unknown_reward():
    with pytest.raises(ValueError, match="reward must be one of"):
        KnowledgeVectorEnv(StudentVectorEnv(1, dynamics=tiny(), episode_length=2), belief(), "x")
