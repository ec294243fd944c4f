"""StudentVectorEnv: same-step autoreset, agreement with the single env, partial reset, docs."""

import doctest

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.vector import AutoresetMode

import riley_gym.envs.student
import riley_gym.envs.student_vector
from riley_gym import envs  # noqa: F401  (registers riley/)
from riley_gym.envs.student import StudentEnv
from riley_gym.envs.student_vector import StudentVectorEnv

E = 16


@pytest.mark.parametrize(
    "module",
    [riley_gym.envs.student, riley_gym.envs.student_vector],
    ids=["student", "student_vector"],
)
def test_docstring_examples_run(module):
    result = doctest.testmod(module)
    assert result.attempted > 0 and result.failed == 0


@pytest.mark.parametrize("env_id", ["riley/Student-v0", "riley/StudentIRT-v0"])
def test_make_vec_builds_the_native_env(env_id):
    vec = gym.make_vec(
        env_id, num_envs=5, vectorization_mode="vector_entry_point", episode_length=7
    )
    assert isinstance(vec.unwrapped, StudentVectorEnv)
    assert vec.metadata["autoreset_mode"] == AutoresetMode.SAME_STEP
    obs, info = vec.reset(seed=0)
    assert vec.observation_space.contains(obs)
    assert vec.single_action_space == gym.spaces.Discrete(E)
    obs, reward, terminated, truncated, info = vec.step(vec.action_space.sample())
    assert vec.observation_space.contains(obs)
    assert reward.shape == terminated.shape == truncated.shape == (5,)


@pytest.mark.parametrize("dynamics", ["bkt", "irt"])
def test_one_student_vector_env_replays_the_single_env(dynamics):
    single = StudentEnv(dynamics=dynamics, episode_length=25)
    vector = StudentVectorEnv(1, dynamics=dynamics, episode_length=25)
    obs_single, info_single = single.reset(seed=21)
    obs_vector, info_vector = vector.reset(seed=21)
    assert info_vector["pre_test"][0] == info_single["pre_test"]
    actions = np.random.default_rng(0).integers(0, E, 24)
    for action in actions:
        obs_single, reward_single, *_ = single.step(int(action))
        obs_vector, reward_vector, *_ = vector.step(np.array([action]))
        assert reward_vector[0] == reward_single
        for key in obs_single:
            np.testing.assert_array_equal(obs_vector[key][0], obs_single[key])


@pytest.mark.parametrize("dynamics", ["bkt", "irt"])
def test_vector_env_matches_single_env_in_distribution(dynamics):
    # Seeds 0 and 1; 400 single-env episodes: the mean post-test after 20 random exercises has a
    # standard error of about 0.007, so the tolerance 0.03 is over 4 standard errors.
    steps, n_single = 20, 400
    rng = np.random.default_rng(0)
    single = StudentEnv(dynamics=dynamics, episode_length=steps)
    single_scores = []
    for episode in range(n_single):
        single.reset(seed=1000 + episode)
        for _ in range(steps):
            _, _, _, _, info = single.step(int(rng.integers(E)))
        single_scores.append(info["post_test"])
    vector = StudentVectorEnv(20_000, dynamics=dynamics, episode_length=steps)
    vector.reset(seed=1)
    for _ in range(steps - 1):
        vector.step(rng.integers(0, E, 20_000))
    before_last = vector.post_test()
    _, reward, terminated, _, info = vector.step(rng.integers(0, E, 20_000))
    assert terminated.all()
    vector_scores = info["final_info"]["post_test"]
    np.testing.assert_allclose(vector_scores, before_last + reward)
    assert abs(np.mean(single_scores) - vector_scores.mean()) < 0.03
    assert abs(np.std(single_scores) - vector_scores.std()) < 0.03


def test_same_step_autoreset_returns_final_obs_and_info():
    vector = StudentVectorEnv(6, episode_length=3, flatten_observation=False)
    obs, info = vector.reset(seed=4)
    pre_test = info["pre_test"]
    total = np.zeros(6)
    for t in range(3):
        actions = np.full(6, t)
        obs, reward, terminated, truncated, info = vector.step(actions)
        total += reward
    assert terminated.all() and not truncated.any()
    assert info["_final_obs"].all() and info["_final_info"].all()
    for i in range(6):
        final = info["final_obs"][i]
        assert final["time"][0] == 1.0 and int(final["last_exercise"]) == 2
        assert final["attempts"][[0, 1, 2]].tolist() == [1.0, 1.0, 1.0]
    np.testing.assert_allclose(total, info["final_info"]["post_test"] - pre_test, atol=1e-12)
    # The returned observation already starts the next session.
    assert (
        (obs["time"] == 0).all()
        and (obs["last_exercise"] == E).all()
        and (obs["attempts"] == 0).all()
    )
    np.testing.assert_allclose(vector.post_test(), vector.hidden_p_correct().mean(axis=1))
    assert vector.hidden_mastery().shape == (6, 5)
    _, _, terminated, _, info = vector.step(np.zeros(6, dtype=np.int64))
    assert not terminated.any() and "final_obs" not in info


def test_flat_final_obs_and_reset_mask():
    vector = StudentVectorEnv(4, episode_length=2, flatten_observation=True)
    obs, _ = vector.reset(seed=0)
    assert obs.shape == (4, 3 * E + 5) and obs.dtype == np.float32
    vector.step(np.array([1, 2, 3, 4]))
    obs, _ = vector.reset(options={"reset_mask": np.array([True, False, True, False])})
    np.testing.assert_array_equal(obs[:, -1], [0.0, 0.5, 0.0, 0.5])
    with pytest.raises(ValueError, match="reset_mask must be a bool array"):
        vector.reset(options={"reset_mask": np.array([1, 0, 1, 0])})
    obs, _, terminated, _, info = vector.step(np.array([5, 5, 5, 5]))
    np.testing.assert_array_equal(terminated, [False, True, False, True])
    np.testing.assert_array_equal(info["_final_obs"], terminated)
    assert info["final_obs"][0] is None and info["final_obs"][1][-1] == 1.0
    np.testing.assert_array_equal(obs[:, -1], [0.5, 0.0, 0.5, 0.0])


def test_invalid_actions_raise():
    vector = StudentVectorEnv(3)
    vector.reset(seed=0)
    with pytest.raises(ValueError, match="invalid action 16"):
        vector.step(np.array([0, 16, 1]))
    with pytest.raises(ValueError, match=r"shape \(3,\)"):
        vector.step(np.array([0, 1]))
    with pytest.raises(TypeError, match="integer"):
        vector.step(np.array([0.0, 1.0, 2.0]))
