"""Vector environments for DQN collection, and per-episode seeding that makes resuming exact.

``make_vector_env`` builds Gymnasium's ``SyncVectorEnv`` in SAME_STEP autoreset mode (the
final observation of an episode arrives in ``info["final_obs"]``, the returned observation is
already the reset one) with every sub-environment wrapped in ``SeededEpisodes``; Atari ids go
to ``envs.atari.make_atari_vector`` (ale-py's C++ vector env; its autoreset mode is read from
its metadata by the collector).

``SeededEpisodes`` seeds every episode from (base seed, episode index) and records the actions
of the current episode, so a checkpoint can restore an environment mid-episode by resetting
with the same seed and replaying the actions: environments are deterministic given seed and
actions, which the agent checks on restore.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode, SyncVectorEnv


def is_atari(env_id: str) -> bool:
    """True for ale-py ids (``ALE/Breakout-v5``) and the ``...NoFrameskip-v4`` names."""
    return env_id.startswith("ALE/") or env_id.endswith("NoFrameskip-v4")


def atari_game(env_id: str) -> str:
    """``ALE/Breakout-v5`` or ``BreakoutNoFrameskip-v4`` -> ``Breakout``."""
    name = env_id.split("/", 1)[-1]
    return name.split("NoFrameskip")[0].split("-v")[0]


def episode_seed(base_seed: int, episode: int) -> int:
    """The reset seed of episode ``episode`` of a stream seeded with ``base_seed`` (independent streams)."""
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
        """Reset into episode ``state["episode"]`` and replay its actions; returns the current observation."""
        self.base_seed, self.episode = int(state["base_seed"]), int(state["episode"]) - 1
        obs, _ = self.reset()
        for action in state["actions"]:
            obs, *_ = self.step(int(action))
        return obs


def make_vector_env(
    env_id: str, num_envs: int = 1, env_kwargs: dict | None = None
) -> gym.vector.VectorEnv:
    """A vector env for DQN collection (not yet reset).

    Args:
        env_id: a registered Gymnasium id (``riley/...`` ids need ``import envs``, done here).
        num_envs: parallel environments.
        env_kwargs: keyword arguments for ``gym.make`` (or ``make_atari_vector``).

    Returns:
        A ``SyncVectorEnv`` (SAME_STEP autoreset) of ``SeededEpisodes``, or ale-py's vector env for Atari.
    """
    if num_envs < 1:
        raise ValueError(f"num_envs must be >= 1, got {num_envs}")
    from riley_gym import envs  # noqa: F401  (registers the riley/ ids)

    kwargs = dict(env_kwargs or {})
    if is_atari(env_id):
        from riley_gym.envs.atari import make_atari_vector

        return make_atari_vector(atari_game(env_id), num_envs, **kwargs)
    return SyncVectorEnv(
        [lambda: SeededEpisodes(gym.make(env_id, **kwargs)) for _ in range(num_envs)],
        autoreset_mode=AutoresetMode.SAME_STEP,
    )


def make_eval_env(
    env_id: str, render_mode: str | None = None, env_kwargs: dict | None = None
) -> gym.Env:
    """One environment for evaluation: Atari without episodic life or reward clipping (true game scores)."""
    from riley_gym import envs  # noqa: F401

    kwargs = dict(env_kwargs or {})
    if render_mode is not None:
        kwargs["render_mode"] = render_mode
    if is_atari(env_id):
        from riley_gym.envs.atari import make_atari

        return make_atari(atari_game(env_id), training=False, **kwargs)
    return gym.make(env_id, **kwargs)
