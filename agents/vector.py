"""Vector environments for DQN collection, and per-episode seeding that makes resuming exact.

``make_vector_env`` builds Gymnasium's ``SyncVectorEnv`` in SAME_STEP autoreset mode (the
final observation of an episode arrives in ``info["final_obs"]``, the returned observation is
already the reset one) with every sub-environment wrapped in ``SeededEpisodes``, or takes an
``EnvFactory``'s native vector env (ale-py's C++ vector env for Atari; its autoreset mode is
read from its metadata by the collector). The caller hands over the factory
(``riley_gym.envs.factories``), so nothing here knows which environment it is.

``SeededEpisodes`` seeds every episode from (base seed, episode index) and records the actions
of the current episode, so a checkpoint can restore an environment mid-episode by resetting
with the same seed and replaying the actions: environments are deterministic given seed and
actions, which the agent checks on restore.
"""

from __future__ import annotations

from typing import Any, Protocol

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode, SyncVectorEnv


def episode_seed(base_seed: int, episode: int) -> int:
    """The reset seed of episode ``episode`` of a stream seeded with ``base_seed``
    (independent streams)."""
    return int(
        np.random.SeedSequence([int(base_seed), int(episode)]).generate_state(1)[0] % 2**31
    )  # ALE takes int32 seeds


class SeededEpisodes(gym.Wrapper):
    """Resets every episode with ``episode_seed(base_seed, episode)`` and records its actions.

    A ``reset(seed=s)`` rebases the stream at ``s`` (episode 0); a ``reset()`` without a seed,
    as a vector env's autoreset does, starts the next episode of the stream.

    Args:
        env: the environment (wrap outermost, outside the time limit, so replay restores it).
        base_seed: seed of the stream.
    """

    def __init__(self, env: gym.Env, base_seed: int = 0) -> None:
        super().__init__(env)
        self.base_seed, self.episode, self.actions = int(base_seed), -1, []

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        if seed is not None:
            self.base_seed, self.episode = int(seed), -1
        self.episode += 1
        self.actions = []
        return self.env.reset(seed=episode_seed(self.base_seed, self.episode), options=options)

    def step(self, action):
        self.actions.append(int(action))
        return self.env.step(action)

    def episode_state(self) -> dict:
        """{"base_seed", "episode", "actions"}: enough to rebuild the current state."""
        return {"base_seed": self.base_seed, "episode": self.episode, "actions": list(self.actions)}

    def restore(self, state: dict):
        """Reset into episode ``state["episode"]`` and replay its actions;
        returns the current observation."""
        self.base_seed, self.episode = int(state["base_seed"]), int(state["episode"]) - 1
        obs, _ = self.reset()
        for action in state["actions"]:
            obs, *_ = self.step(int(action))
        return obs


class EnvFactory(Protocol):
    """What the agent is given to make its environments (``riley_gym.envs.factories`` has them).

    Attributes:
        env_id: the environment's name, for summaries.
    """

    env_id: str

    def make(self, training: bool = True, render_mode: str | None = None) -> gym.Env:
        """One environment (``training=False``: as evaluated, e.g. true game scores)."""

    def make_vector(self, num_envs: int) -> gym.vector.VectorEnv | None:
        """A native vector env of ``num_envs``, or None to vectorise ``make`` here."""


def _factory_make(env: EnvFactory | str, env_kwargs: dict | None, training: bool, render_mode=None):
    if isinstance(env, str):
        render = {} if render_mode is None else {"render_mode": render_mode}
        return gym.make(env, **dict(env_kwargs or {}), **render)
    return env.make(training=training, render_mode=render_mode)


def make_vector_env(
    env: EnvFactory | str, num_envs: int = 1, env_kwargs: dict | None = None
) -> gym.vector.VectorEnv:
    """A vector env for DQN collection (not yet reset).

    Args:
        env: an ``EnvFactory``, or a registered Gymnasium id made with ``gym.make``.
        num_envs: parallel environments.
        env_kwargs: keyword arguments for ``gym.make`` (an id only; a factory holds its own).

    Returns:
        The factory's native vector env, or a ``SyncVectorEnv`` (SAME_STEP autoreset) of
        ``SeededEpisodes``.
    """
    if num_envs < 1:
        raise ValueError(f"num_envs must be >= 1, got {num_envs}")
    native = None if isinstance(env, str) else env.make_vector(num_envs)
    if native is not None:
        return native
    return SyncVectorEnv(
        [lambda: SeededEpisodes(_factory_make(env, env_kwargs, True)) for _ in range(num_envs)],
        autoreset_mode=AutoresetMode.SAME_STEP,
    )


def make_eval_env(
    env: EnvFactory | str, render_mode: str | None = None, env_kwargs: dict | None = None
) -> gym.Env:
    """One environment for evaluation (a factory's ``make(training=False)``, or ``gym.make``)."""
    return _factory_make(env, env_kwargs, False, render_mode)
