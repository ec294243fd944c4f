"""Atari factories: DQN preprocessing, single env against ale-py's C++ vector env, contracts."""

import warnings

import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env as gymnasium_check_env
from gymnasium.vector import AutoresetMode
from stable_baselines3.common.env_checker import check_env as sb3_check_env

from riley_gym.envs.atari import (
    AreaResize,
    AtariConfig,
    area_resize_matrix,
    make_atari,
    make_atari_vector,
    rom_id,
)
from tests.helpers.actions import single_actions, vector_actions


@pytest.mark.parametrize(
    "name, expected",
    [
        ("Breakout", "breakout"),
        ("ALE/Breakout-v5", "breakout"),
        ("BreakoutNoFrameskip-v4", "breakout"),
        ("pong", "pong"),
        ("MsPacman", "ms_pacman"),
        ("ms_pacman", "ms_pacman"),
        ("SpaceInvaders", "space_invaders"),
    ],
)
def test_game_names(name, expected):
    assert rom_id(name) == expected


def test_unknown_game_is_rejected():
    with pytest.raises(ValueError, match="unknown game 'Tetris2'"):
        make_atari("Tetris2")


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"frame_skip": 0}, ValueError, "frame_skip"),
        ({"noop_max": -1}, ValueError, "noop_max"),
        ({"sticky_action_prob": 1.5}, ValueError, "sticky_action_prob"),
        ({"clip_reward": "yes"}, TypeError, "clip_reward"),
    ],
)
def test_bad_config_is_rejected(kwargs, error, message):
    with pytest.raises(error, match=message):
        AtariConfig(**kwargs)


def test_training_sets_the_defaults_of_life_loss_and_clipping():
    assert AtariConfig(training=True).to_dict()["terminal_on_life_loss"] is True
    evaluation = AtariConfig(training=False)
    assert (evaluation.terminal_on_life_loss, evaluation.clip_reward) == (False, False)
    assert AtariConfig(training=False, clip_reward=True).clip_reward is True


def _area_resize_by_loops(image, size):
    """Independent oracle: each output pixel is the overlap-weighted mean of input pixels."""
    height, width = image.shape
    out = np.zeros((size, size))
    for i in range(size):
        for j in range(size):
            top, bottom = i * height / size, (i + 1) * height / size
            left, right = j * width / size, (j + 1) * width / size
            total = 0.0
            for r in range(int(np.floor(top)), int(np.ceil(bottom))):
                for c in range(int(np.floor(left)), int(np.ceil(right))):
                    area = (min(bottom, r + 1) - max(top, r)) * (min(right, c + 1) - max(left, c))
                    total += area * image[r, c]
            out[i, j] = total / ((bottom - top) * (right - left))
    return out


def test_area_resize_matches_loop_oracle():
    image = np.random.default_rng(0).integers(0, 256, size=(21, 16)).astype(np.uint8)
    expected = _area_resize_by_loops(image.astype(np.float64), 8)
    resized = AreaResize(21, 16, 8)(image)
    assert resized.dtype == np.uint8
    assert np.abs(resized - expected).max() <= 0.5 + 1e-4  # rounding only
    np.testing.assert_allclose(area_resize_matrix(210, 84).sum(axis=1), 1.0, atol=1e-6)


def test_area_resize_of_blocks_is_block_mean():
    image = np.array([[0, 2, 10, 10], [4, 6, 10, 10], [1, 1, 0, 0], [1, 1, 0, 200]], dtype=np.uint8)
    np.testing.assert_array_equal(AreaResize(4, 4, 2)(image), [[3, 10], [1, 50]])


def test_single_env_shapes_and_frame_stack_shift():
    env = make_atari("Breakout")
    obs, info = env.reset(seed=0)
    assert (
        obs.shape == (4, 84, 84) and obs.dtype == np.uint8 and env.observation_space.contains(obs)
    )
    assert env.action_space.n == 4 and info["lives"] == 5
    assert not obs[:3].any() and obs[3].any()  # zeros before the game's first frame
    for action in (1, 2, 3, 0, 2, 2):
        next_obs, reward, terminated, truncated, info = env.step(action)
        np.testing.assert_array_equal(next_obs[:-1], obs[1:])
        assert isinstance(reward, float) and not truncated
        obs = next_obs


def test_rewards_are_clipped_in_training_mode_only():
    # Space Invaders pays 5 to 30 points per invader: same seed and actions, two modes.
    raw_env = make_atari("SpaceInvaders", training=False)
    clipped_env = make_atari("SpaceInvaders", training=True)
    raw_env.reset(seed=1)
    clipped_env.reset(seed=1)
    rng = np.random.default_rng(1)
    raw_rewards, clipped_rewards = [], []
    while len(raw_rewards) < 400 and max(raw_rewards, default=0.0) <= 1.0:
        action = int(rng.integers(raw_env.action_space.n))
        raw_rewards.append(raw_env.step(action)[1])
        clipped_rewards.append(clipped_env.step(action)[1])
    assert max(raw_rewards) > 1.0
    np.testing.assert_array_equal(clipped_rewards, np.sign(raw_rewards))


def test_life_loss_ends_training_episodes_and_the_game_goes_on():
    env = make_atari("Breakout", training=True)
    obs, _ = env.reset(seed=2)
    rng = np.random.default_rng(2)
    terminated = False
    for _ in range(500):
        obs, _, terminated, _, info = env.step(int(rng.integers(4)))
        if terminated:
            break
    assert terminated and info["lives"] == 4 and not info["game_over"]
    continued_obs, reset_info = env.reset()
    assert reset_info["continued"] and reset_info["lives"] == 4
    np.testing.assert_array_equal(continued_obs, obs)


def test_life_loss_does_not_end_evaluation_episodes():
    env = make_atari("Breakout", training=False)
    env.reset(seed=2)
    rng = np.random.default_rng(2)
    lives = [5]
    while lives[-1] == 5 and len(lives) < 500:
        _, _, terminated, _, info = env.step(int(rng.integers(4)))
        assert not terminated
        lives.append(info["lives"])
    assert lives[-1] == 4


def test_invalid_action_raises_value_error():
    env = make_atari("Pong")
    env.reset(seed=0)
    with pytest.raises(ValueError, match=r"invalid action 6.*\[0, 5\]"):
        env.step(6)


def test_accepts_exactly_what_action_space_contains_accepts():
    """Issue 18: the Atari envs answer every kind of action as the riley/ envs do."""
    env = make_atari("Pong")
    env.reset(seed=0)
    for label, action, expected in single_actions(env.action_space):
        assert env.action_space.contains(action) == (expected is None), label
        if expected is None:
            env.step(action)
            continue
        with pytest.raises(expected, match=r"Atari step: invalid action .*allowed"):
            env.step(action)
    vector = make_atari_vector("Pong", 2, seed=0, num_threads=1)
    vector.reset()
    for label, actions, expected in vector_actions(vector.action_space):
        assert vector.action_space.contains(actions) == (expected is None), label
        if expected is None:
            vector.step(actions)
            continue
        with pytest.raises(expected, match=r"AtariVector.step: .*actions"):
            vector.step(actions)
    vector.close()


def test_same_seed_same_trajectory_with_noop_starts():
    def trajectory():
        env = make_atari("Breakout", noop_max=30)
        frames = [env.reset(seed=5)[0]]
        for action in [1, 2, 2, 3, 0, 1] * 5:
            frames.append(env.step(action)[0])
        return np.stack(frames)

    np.testing.assert_array_equal(trajectory(), trajectory())


def test_sticky_actions_reach_the_emulator():
    env = make_atari("Pong", sticky_action_prob=0.25)
    assert env.unwrapped.ale.getFloat("repeat_action_probability") == pytest.approx(0.25)


def test_single_env_passes_gymnasium_env_checker():
    env = make_atari("Pong", training=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        # The preprocessing is the point here, so the checker must see the wrapped env.
        warnings.filterwarnings("ignore", message=".*is different from the unwrapped version")
        gymnasium_check_env(env, skip_render_check=True)


def test_single_env_passes_stable_baselines3_env_checker():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sb3_check_env(make_atari("Pong", training=False), warn=True, skip_render_check=True)


def test_vector_env_shapes_autoreset_and_a_few_hundred_steps():
    envs = make_atari_vector("Breakout", 4, seed=0, num_threads=1)
    assert envs.metadata["autoreset_mode"] == AutoresetMode.SAME_STEP
    obs, info = envs.reset()
    assert obs.shape == (4, 4, 84, 84) and obs.dtype == np.uint8
    rng = np.random.default_rng(0)
    n_ended = 0
    for _ in range(300):
        obs, rewards, terminated, truncated, info = envs.step(rng.integers(0, 4, size=4))
        assert (
            obs.shape == (4, 4, 84, 84) and rewards.dtype == np.float32 and terminated.shape == (4,)
        )
        if terminated.any():
            assert info["_final_obs"][terminated].all() and info["final_obs"].shape == obs.shape
            n_ended += int(terminated.sum())
    assert n_ended > 0  # random Breakout loses a life every few dozen steps
    with pytest.raises(ValueError, match=r"invalid actions \[4\]"):
        envs.step(np.array([0, 1, 4, 0]))
    envs.close()


def test_vector_env_matches_single_env_through_life_losses():
    # Independent oracle for the single env's preprocessing: ale-py's C++ pipeline.
    single = make_atari("Breakout", training=True, noop_max=0)
    vector = make_atari_vector("Breakout", 1, training=True, noop_max=0, num_threads=1)
    single_obs, _ = single.reset(seed=3)
    vector_obs, _ = vector.reset(seed=3)
    rng = np.random.default_rng(3)
    n_life_losses = 0
    for _ in range(250):
        action = int(rng.integers(4))
        single_obs, reward, terminated, truncated, info = single.step(action)
        vector_obs, rewards, terminations, truncations, _ = vector.step(np.array([action]))
        assert (reward, terminated, truncated) == (rewards[0], terminations[0], truncations[0])
        if terminated:
            n_life_losses += not info["game_over"]
            single_obs, _ = single.reset()
        assert np.abs(single_obs.astype(int) - vector_obs[0]).max() <= 1  # rounding of the resize
    assert n_life_losses >= 2
    vector.close()


def test_vector_env_same_seed_same_trajectory():
    def trajectory():
        envs = make_atari_vector("Breakout", 2, seed=9, num_threads=1)
        frames = [envs.reset()[0]]
        rng = np.random.default_rng(0)
        for _ in range(260):  # long enough for a game over and a partial reset
            frames.append(envs.step(rng.integers(0, 4, size=2))[0])
        envs.close()
        return np.stack(frames)

    np.testing.assert_array_equal(trajectory(), trajectory())


def test_rgb_array_render_is_the_colour_screen():
    env = make_atari("Pong", render_mode="rgb_array")
    env.reset(seed=0)
    frame = env.render()
    assert frame.shape == (210, 160, 3) and frame.dtype == np.uint8


def test_docstring_examples():
    import doctest

    import riley_gym.envs.atari

    results = doctest.testmod(riley_gym.envs.atari)
    assert results.attempted > 0 and results.failed == 0
