"""Common random numbers with Stable-Baselines3: run our DQN on the random numbers SB3's DQN draws.

CartPole training runs are chaotic (a 1e-7 difference in one Adam step moves the first 475
evaluation by tens of thousands of steps), so comparing two implementations' time to a return
on independent seeds needs many seeds. Given the same random numbers, our DQN with
``double_dqn=False`` reproduces SB3's run (SB3 on fused Adam) action for action and weight for
weight: both sides then reach any return at the same step, and their times to it compare
directly. Used by ``tests/agents/test_dqn_vs_sb3.py`` (which checks the bit-for-bit claim) and
``scripts/bench_dqn.py --paired``.

SB3's draws for a seed: ``set_random_seed`` seeds numpy's legacy global generator and the
action space; during warm-up every action is ``action_space.sample()``; afterwards
``np.random.rand() < epsilon`` picks ``action_space.sample()``, else the greedy action; each
gradient step samples ``randint(0, pos, batch)`` entries, then ``randint(0, 1, batch)`` env
indices (one env). The env is reset with the seed once and then autoresets unseeded.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import torch
from gymnasium.vector import AutoresetMode, SyncVectorEnv

from riley_gym.agents.dqn import DQN

__all__ = ["sb3_paired_agent"]


def sb3_paired_agent(env_id: str, config, sb3_model):
    """A ``DQN`` that draws SB3's random numbers for ``config.seed`` and starts from
    ``sb3_model``'s weights.

    Args:
        env_id: a Gymnasium id with a Discrete action space (one env, as SB3's DummyVecEnv).
        config: a ``DQNConfig`` with ``double_dqn=False`` and ``num_envs=1``; its seed must be
            the seed ``sb3_model`` was built with.
        sb3_model: an untrained ``stable_baselines3.DQN`` (its initial q_net weights are copied).

    Returns:
        The agent; ``learn`` then follows SB3's run. Evaluation (``act`` with its own ``rng``)
        is left to the agent's own code.

    Raises:
        ValueError: for Double DQN, several envs, or once the replay buffer wraps (SB3 then
            samples differently; not reproduced here).
    """
    if config.double_dqn or config.num_envs != 1:
        raise ValueError(
            "SB3's DQN is vanilla DQN on one env: pair with double_dqn=False and num_envs=1"
        )
    env = SyncVectorEnv(
        [lambda: gym.make(env_id)], autoreset_mode=AutoresetMode.SAME_STEP
    )  # no per-episode seeds: SB3 autoresets unseeded
    agent = DQN(env, config)
    with torch.no_grad():
        for ours, theirs in zip(
            agent.online.parameters(), sb3_model.q_net.parameters(), strict=True
        ):
            ours.copy_(theirs)
    agent.sync_target()
    legacy, space = np.random.RandomState(config.seed), gym.spaces.Discrete(agent.n_actions)
    space.seed(config.seed)
    own_act = agent.act

    def act(
        obs: np.ndarray, epsilon: float = 0.0, rng: np.random.Generator | None = None
    ) -> np.ndarray:
        if rng is not None:  # an evaluation with its own generator: not SB3's training draws
            return own_act(obs, epsilon, rng)
        if agent.env_steps < config.learning_starts or legacy.rand() < epsilon:
            return np.array([space.sample()])
        return agent.q_values(obs).argmax(axis=1)

    def sample_indices(rows: int) -> tuple[np.ndarray, np.ndarray]:
        stored = int(agent.buffer.written[0])
        if stored > config.buffer_size:
            raise ValueError(
                f"the replay buffer wrapped ({stored} > {config.buffer_size} transitions): SB3's "
                "sampling is not reproduced past that"
            )
        entries = []
        for _ in range(rows // config.batch_size):
            entries.append(legacy.randint(0, stored, size=config.batch_size))
            legacy.randint(0, high=1, size=config.batch_size)
        entries = np.concatenate(entries)
        return np.zeros_like(entries), entries

    agent.act, agent.buffer.sample_indices = act, sample_indices
    return agent
