"""Breakout through the whole pipeline: ale-py vector env, frame-once replay, training,
checkpoint, resume."""

import numpy as np
import pytest

from riley_gym.agents import (
    DQN,
    DQNConfig,
    FrameReplayBuffer,
    ReplayBuffer,
    evaluate_agent,
    make_eval_env,
    make_vector_env,
)
from riley_gym.envs.factories import env_factory

pytest.importorskip(
    "riley_gym.envs.atari", reason="envs.atari (the Atari factories) is not in this checkout"
)


class TeeBuffer:
    """Feeds a frame-once buffer and a naive one the same stream;
    samples from the frame-once one."""

    def __init__(self, frame, naive):
        self.frame, self.naive = frame, naive

    def add(self, *args):
        self.frame.add(*args)
        self.naive.add(*args)

    def sample(self, batch_size):
        return self.frame.sample(batch_size)

    def state_dict(self):
        return self.frame.state_dict()

    @property
    def bytes_per_transition(self):
        return self.frame.bytes_per_transition


def expected_updates(env_steps, n_envs=4, learning_starts=500, train_freq=4):
    """Vector steps v whose env-step count 4v is past learning_starts and a
    multiple of train_freq."""
    return sum(
        1
        for v in range(1, env_steps // n_envs + 1)
        if n_envs * v > learning_starts and v % train_freq == 0
    )


def test_breakout_trains_checkpoints_and_resumes(tmp_path):
    config = DQNConfig.atari(
        buffer_size=4000,
        learning_starts=500,
        num_envs=4,
        target_update_interval=400,
        device="cpu",
        seed=1,
    )
    envs = make_vector_env(env_factory("ALE/Breakout-v5", {"seed": 1}), 4)
    rng = np.random.default_rng(1)
    tee = TeeBuffer(
        FrameReplayBuffer(4000, (4, 84, 84), 4, rng),
        ReplayBuffer(4000, (4, 84, 84), np.uint8, 4, rng),
    )
    agent = DQN(envs, config, buffer=tee)
    metrics = agent.learn(
        800
    )  # train_freq counts vector steps (as SB3): one update per 4 * 4 env steps
    assert metrics["updates"] == expected_updates(800) and np.isfinite(metrics["loss"])
    # The stacks rebuilt from single frames equal the ones the env showed,
    # through life losses and game starts.
    envs_index, entries = tee.frame.valid_indices()
    naive_envs, naive_entries = tee.naive.valid_indices()
    assert agent.episodes >= 4 and len(entries) == len(naive_entries) == 800
    mine = tee.frame.gather(envs_index, entries)
    reference = tee.naive.gather(naive_envs, naive_entries)
    for name in mine._fields:
        np.testing.assert_array_equal(getattr(mine, name), getattr(reference, name), err_msg=name)
    agent.save(tmp_path / "breakout.pt")
    resumed, _ = DQN.load(
        tmp_path / "breakout.pt", make_vector_env(env_factory("ALE/Breakout-v5", {"seed": 1}), 4)
    )
    assert isinstance(resumed.buffer, FrameReplayBuffer) and len(resumed.buffer) == len(tee.frame)
    assert not resumed.exact_resume  # the C++ vector env cannot be replayed: episodes restart
    metrics = resumed.learn(1000)
    assert (
        metrics["env_steps"] == 1000
        and metrics["updates"] == expected_updates(1000)
        and np.isfinite(metrics["loss"])
    )
    returns = evaluate_agent(resumed, make_eval_env(env_factory("ALE/Breakout-v5")), episodes=1)
    assert returns.shape == (1,) and returns[0] >= 0
