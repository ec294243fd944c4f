"""Replay buffers: n-step windows against hand-computed returns,
frame-once replay against the naive buffer."""

import numpy as np
import pytest

from riley_gym.agents.replay import FrameReplayBuffer, ReplayBuffer, n_step_window

GAMMA = 0.5


def test_n_step_window_cuts_at_termination_and_truncation_by_hand():
    rewards = np.array(
        [[1.0, 2.0, 4.0, 8.0], [1.0, 2.0, 4.0, 8.0], [1.0, 2.0, 4.0, 8.0], [1.0, 2.0, 4.0, 8.0]]
    )
    terminated = np.array([[0, 1, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0], [1, 0, 0, 0]], dtype=bool)
    truncated = np.array([[0, 0, 0, 0], [0, 0, 1, 0], [0, 0, 0, 0], [0, 0, 0, 0]], dtype=bool)
    available = np.array([[1, 1, 1, 1], [1, 1, 1, 1], [1, 1, 0, 1], [1, 1, 1, 1]], dtype=bool)
    returns, last_terminated, discounts, last = n_step_window(
        rewards, terminated, terminated | truncated, available, GAMMA
    )
    # Row 0: termination at step 1 -> 1 + 0.5*2 = 2, no bootstrap. Row 1: truncation at step 2 ->
    # 1 + 1 + 1 = 3, bootstrap with 0.5^3. Row 2: step 2 not stored yet -> 1 + 1 = 2, 0.5^2.
    # Row 3: terminates at once -> 1.
    np.testing.assert_allclose(returns, [2.0, 3.0, 2.0, 1.0])
    np.testing.assert_array_equal(last_terminated, [True, False, False, True])
    np.testing.assert_allclose(discounts, [0.25, 0.125, 0.25, 0.5])
    np.testing.assert_array_equal(last, [1, 2, 1, 0])


def test_replay_buffer_n_step_through_add_with_termination_and_truncation_inside_the_window():
    buffer = ReplayBuffer(
        100, (1,), np.float32, n_envs=1, rng=np.random.default_rng(0), n_step=3, gamma=GAMMA
    )
    # Stream: s0 -r1-> s1 -r2-> s2 (truncated, final obs 20) | s3 -r4-> s4 -r8-> terminal(40)
    #         | s5 -r16-> s6
    steps = [
        (0, 1, 1.0, False, False, 1),
        (1, 0, 2.0, False, True, 20),
        (3, 1, 4.0, False, False, 4),
        (4, 0, 8.0, True, False, 40),
        (5, 1, 16.0, False, False, 6),
    ]
    for obs, action, reward, terminated, truncated, next_obs in steps:
        buffer.add(
            np.array([[obs]], np.float32),
            np.array([action]),
            np.array([reward]),
            np.array([terminated]),
            np.array([truncated]),
            np.array([[next_obs]], np.float32),
        )
    batch = buffer.gather(np.zeros(5, dtype=np.int64), np.arange(5))
    np.testing.assert_allclose(batch.returns, [1 + 0.5 * 2, 2, 4 + 0.5 * 8, 8, 16])
    np.testing.assert_allclose(batch.discounts, [0.25, 0.5, 0.25, 0.5, 0.5])
    np.testing.assert_array_equal(batch.terminated, [False, False, True, True, False])
    np.testing.assert_array_equal(batch.next_obs[:, 0], [20, 20, 40, 40, 6])
    np.testing.assert_array_equal(batch.obs[:, 0], [0, 1, 3, 4, 5])
    np.testing.assert_array_equal(batch.actions, [1, 0, 1, 0, 1])


def _frame_stream(n_envs, steps, padding, seed):
    """Yield vector steps of (n_envs, 4, 6, 5) stacks with random episode ends,
    as a frame-stacking env shows them."""
    rng = np.random.default_rng(seed)
    stacks = np.zeros((n_envs, 4, 6, 5), dtype=np.uint8)

    def reset_stack():
        frame = rng.integers(1, 255, size=(6, 5), dtype=np.uint8)
        stack = (
            np.zeros((4, 6, 5), np.uint8)
            if padding == "zero"
            else np.repeat(frame[None], 4, axis=0)
        )
        stack[-1] = frame
        return stack

    for env in range(n_envs):
        stacks[env] = reset_stack()
    for _ in range(steps):
        actions = rng.integers(0, 4, size=n_envs)
        rewards = rng.normal(size=n_envs).astype(np.float32)
        terminated = rng.random(n_envs) < 0.08
        truncated = ~terminated & (rng.random(n_envs) < 0.05)
        next_stacks = np.concatenate(
            [stacks[:, 1:], rng.integers(0, 255, size=(n_envs, 1, 6, 5), dtype=np.uint8)], axis=1
        )
        yield stacks.copy(), actions, rewards, terminated, truncated, next_stacks.copy()
        stacks = next_stacks
        for env in np.flatnonzero(terminated | truncated):
            if not (
                padding == "zero" and terminated[env] and rng.random() < 0.5
            ):  # else a life loss: the stack goes on
                stacks[env] = reset_stack()


@pytest.mark.parametrize("padding", ["zero", "repeat"])
@pytest.mark.parametrize("n_step", [1, 3])
def test_frame_buffer_equals_naive_buffer_on_the_same_stream(padding, n_step):
    n_envs, steps, capacity = (
        3,
        400,
        3 * 90,
    )  # the frame buffer wraps around; the naive one keeps everything
    frame = FrameReplayBuffer(
        capacity, (4, 6, 5), n_envs, np.random.default_rng(0), n_step=n_step, gamma=0.9
    )
    naive = ReplayBuffer(
        n_envs * steps,
        (4, 6, 5),
        np.uint8,
        n_envs,
        np.random.default_rng(0),
        n_step=n_step,
        gamma=0.9,
    )
    for step in _frame_stream(n_envs, steps, padding, seed=1):
        frame.add(*step)
        naive.add(*step)
    envs, entries = frame.valid_indices()
    naive_envs, naive_entries = naive.valid_indices()
    for env in range(n_envs):  # the frame buffer's transitions are the newest ones of each stream
        kept = int((envs == env).sum())
        assert kept > 60
        mine = frame.gather(envs[envs == env], entries[envs == env])
        reference = naive.gather(
            naive_envs[naive_envs == env][-kept:], naive_entries[naive_envs == env][-kept:]
        )
        for name in mine._fields:
            np.testing.assert_array_equal(
                getattr(mine, name), getattr(reference, name), err_msg=f"{name}, env {env}"
            )
    sampled = frame.sample(64)
    assert sampled.obs.shape == (64, 4, 6, 5) and sampled.next_obs.dtype == np.uint8


def test_frame_buffer_uses_one_frame_per_entry():
    buffer = FrameReplayBuffer(1000, (4, 84, 84), 1, np.random.default_rng(0))
    assert 84 * 84 <= buffer.bytes_per_transition <= 84 * 84 + 32
    assert buffer.bytes_per_transition * 1_000_000 <= 8e9


def test_frame_buffer_rejects_an_unpadded_first_stack():
    buffer = FrameReplayBuffer(100, (4, 2, 2), 1, np.random.default_rng(0))
    stack = np.arange(16, dtype=np.uint8).reshape(1, 4, 2, 2)
    with pytest.raises(ValueError, match="zero- or repeat-padded"):
        buffer.add(
            stack, np.array([0]), np.array([0.0]), np.array([False]), np.array([False]), stack
        )


def test_state_dict_round_trip_gives_the_same_samples():
    buffer = ReplayBuffer(50, (2,), np.float32, 2, np.random.default_rng(3), n_step=2)
    for t in range(40):
        obs = np.full((2, 2), t, np.float32)
        buffer.add(
            obs,
            np.array([t % 2, 1]),
            np.array([1.0, 2.0]),
            np.array([t % 7 == 0, False]),
            np.array([False, t % 5 == 0]),
            obs + 1,
        )
    copy = ReplayBuffer(50, (2,), np.float32, 2, np.random.default_rng(3), n_step=2)
    copy.load_state_dict({key: value.copy() for key, value in buffer.state_dict().items()})
    first, second = buffer.sample(16), copy.sample(16)
    for name in first._fields:
        np.testing.assert_array_equal(getattr(first, name), getattr(second, name))


def test_sampling_an_empty_buffer_raises():
    with pytest.raises(ValueError, match="empty replay buffer"):
        ReplayBuffer(10, (1,), np.float32, 1, np.random.default_rng(0)).sample(4)
