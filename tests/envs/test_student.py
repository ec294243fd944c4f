"""StudentEnv: spaces, rewards, episode end, seeding, errors, flat observation layout."""

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from stable_baselines3.common.env_checker import check_env as sb3_check_env

from riley_gym import envs  # noqa: F401  (registers riley/)
from riley_gym.envs.curriculum import load_curriculum
from riley_gym.envs.student import StudentEnv
from riley_gym.envs.student_dynamics import BKTParams

RILEY = load_curriculum("riley")
E = RILEY.n_exercises


@pytest.mark.parametrize("dynamics", ["bkt", "irt"])
@pytest.mark.parametrize("flatten", [False, True], ids=["dict", "flat"])
def test_passes_both_env_checkers(dynamics, flatten):
    env = StudentEnv(dynamics=dynamics, flatten_observation=flatten, episode_length=10)
    check_env(env, skip_render_check=True)
    sb3_check_env(env, warn=False)


@pytest.mark.parametrize("env_id", ["riley/Student-v0", "riley/StudentIRT-v0"])
def test_rewards_sum_to_post_minus_pre_test(env_id):
    env = gym.make(env_id, episode_length=30)
    obs, info = env.reset(seed=3)
    pre_test, total, steps = info["pre_test"], 0.0, 0
    terminated = False
    while not terminated:
        obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
        total += reward
        steps += 1
        assert not truncated
        assert info["post_test"] == pytest.approx(np.mean(info["p_correct"]))
    assert steps == 30
    assert total == pytest.approx(info["post_test"] - pre_test, abs=1e-12)
    assert info["post_test"] > pre_test, "30 exercises teach something"
    assert float(obs["time"][0]) == 1.0
    assert obs["attempts"].sum() == 30


def test_observation_counts_what_the_tutor_saw():
    env = StudentEnv(episode_length=6)
    obs, _ = env.reset(seed=0)
    assert int(obs["last_exercise"]) == E and int(obs["last_correct"]) == 2
    answers = []
    for exercise in (3, 3, 7):
        obs, _, _, _, info = env.step(exercise)
        answers.append(info["correct"])
        assert info["exercise"] == exercise
        assert int(obs["last_exercise"]) == exercise and int(obs["last_correct"]) == int(
            info["correct"]
        )
    expected_attempts = np.zeros(E)
    expected_attempts[[3, 7]] = [2, 1]
    np.testing.assert_array_equal(obs["attempts"], expected_attempts)
    assert obs["successes"][3] == answers[0] + answers[1] and obs["successes"][7] == answers[2]
    assert obs["time"][0] == pytest.approx(0.5)


def test_flat_observation_layout_matches_the_dict():
    dict_env = StudentEnv(episode_length=8)
    flat_env = StudentEnv(episode_length=8, flatten_observation=True)
    dict_obs, _ = dict_env.reset(seed=5)
    flat_obs, _ = flat_env.reset(seed=5)
    for exercise in (0, 15, 15, 9):
        dict_obs, *_ = dict_env.step(exercise)
        flat_obs, *_ = flat_env.step(exercise)
    expected = np.concatenate(
        [
            np.eye(E + 1)[int(dict_obs["last_exercise"])],
            np.eye(3)[int(dict_obs["last_correct"])],
            dict_obs["attempts"] / 8,
            dict_obs["successes"] / 8,
            dict_obs["time"],
        ]
    )
    assert flat_obs.dtype == np.float32 and flat_obs.shape == (3 * E + 5,)
    np.testing.assert_allclose(flat_obs, expected, rtol=1e-6)


def test_same_seed_same_trajectory_and_different_seed_differs():
    def run(seed):
        env = StudentEnv(dynamics="bkt", episode_length=40)
        _, info = env.reset(seed=seed)
        rewards, corrects = [], []
        for t in range(40):
            _, reward, _, _, info = env.step(t % E)
            rewards.append(reward)
            corrects.append(info["correct"])
        return np.array(rewards), np.array(corrects)

    first, second, other = run(7), run(7), run(8)
    np.testing.assert_array_equal(first[0], second[0])
    np.testing.assert_array_equal(first[1], second[1])
    assert not np.array_equal(first[1], other[1])


@pytest.mark.parametrize("action", [-1, E, 100], ids=["negative", "n_exercises", "far"])
def test_invalid_action_raises_value_error(action):
    env = StudentEnv()
    env.reset(seed=0)
    with pytest.raises(
        ValueError, match=rf"invalid action {action}; allowed exercise ids are 0..{E - 1}"
    ):
        env.step(action)


def test_misuse_errors():
    env = StudentEnv(episode_length=1)
    with pytest.raises(RuntimeError, match="call reset"):
        env.step(0)
    env.reset(seed=0)
    with pytest.raises(TypeError, match="integer exercise ids"):
        env.step(1.5)
    env.step(0)
    with pytest.raises(RuntimeError, match="call reset"):
        env.step(0)
    with pytest.raises(ValueError, match="render_mode"):
        StudentEnv(render_mode="human")
    with pytest.raises(ValueError, match="episode_length"):
        StudentEnv(episode_length=0)


def test_params_reach_the_dynamics_and_render_shows_skills():
    env = StudentEnv(params=BKTParams(prior=1.0, learn=0.0, prior_sd=0.0), render_mode="ansi")
    _, info = env.reset(seed=0)
    np.testing.assert_array_equal(info["mastery"], np.ones(RILEY.n_skills))
    np.testing.assert_allclose(info["p_correct"], 1.0 - RILEY.slip)
    env.step(2)
    text = env.render()
    assert "step 1/50" in text and "x-intercept 3" in text
    assert all(name in text for name in RILEY.skill_names)


def test_a_ready_dynamics_object_drives_the_envs():
    from riley_gym.envs.student_dynamics import BKTDynamics
    from riley_gym.envs.student_vector import StudentVectorEnv

    calibrated = RILEY.replace_exercise_parameters(slip=np.full(E, 0.3))
    dynamics = BKTDynamics(calibrated, BKTParams(prior=1.0, learn=0.0, prior_sd=0.0))
    env = gym.make("riley/Student-v0", dynamics=dynamics)
    _, info = env.reset(seed=0)
    np.testing.assert_allclose(info["p_correct"], 0.7)
    vector = StudentVectorEnv(3, dynamics=dynamics)
    vector.reset(seed=0)
    np.testing.assert_allclose(vector.hidden_p_correct(), 0.7)
    with pytest.raises(ValueError, match="not both"):
        StudentEnv(dynamics=dynamics, params=BKTParams())
