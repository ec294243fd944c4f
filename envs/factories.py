"""Environment factories by id: what an agent trains and is evaluated on,
without parsing ids itself.

``env_factory(env_id, env_kwargs)`` gives an object with ``env_id``, ``make(training,
render_mode)`` (one environment) and ``make_vector(num_envs)`` (a native vector env, or None
when the caller should vectorise ``make``). Atari ids (``ALE/Breakout-v5`` or
``BreakoutNoFrameskip-v4``) get the DQN preprocessing of ``riley_gym.envs.atari`` (training:
episodic life and clipped rewards, ale-py's C++ vector env; evaluation: true game scores);
every other id is ``gym.make``. ``agents`` takes such a factory and never parses an id.
"""

from __future__ import annotations

import argparse
import difflib
from dataclasses import dataclass, field

import gymnasium as gym

from riley_gym.envs.atari import make_atari, make_atari_vector

__all__ = [
    "is_atari",
    "atari_game",
    "GymEnvFactory",
    "AtariEnvFactory",
    "env_factory",
    "known_env_id",
    "suggested_dqn_preset",
]


def is_atari(env_id: str) -> bool:
    """True for ale-py ids (``ALE/Breakout-v5``) and the ``...NoFrameskip-v4`` names."""
    return env_id.startswith("ALE/") or env_id.endswith("NoFrameskip-v4")


def atari_game(env_id: str) -> str:
    """``ALE/Breakout-v5`` or ``BreakoutNoFrameskip-v4`` -> ``Breakout``."""
    name = env_id.split("/", 1)[-1]
    return name.split("NoFrameskip")[0].split("-v")[0]


@dataclass(frozen=True)
class GymEnvFactory:
    """A registered Gymnasium id made with ``gym.make``
    (the same env for training and evaluation)."""

    env_id: str
    env_kwargs: dict = field(default_factory=dict)

    def make(self, training: bool = True, render_mode: str | None = None) -> gym.Env:
        render = {} if render_mode is None else {"render_mode": render_mode}
        return gym.make(self.env_id, **self.env_kwargs, **render)

    def make_vector(self, num_envs: int) -> None:
        return None  # the agent vectorises make()


@dataclass(frozen=True)
class AtariEnvFactory:
    """An Atari game with the DQN preprocessing; ``env_kwargs`` go to ``make_atari(_vector)``."""

    env_id: str
    env_kwargs: dict = field(default_factory=dict)

    def make(self, training: bool = True, render_mode: str | None = None) -> gym.Env:
        render = {} if render_mode is None else {"render_mode": render_mode}
        return make_atari(atari_game(self.env_id), training=training, **self.env_kwargs, **render)

    def make_vector(self, num_envs: int) -> gym.vector.VectorEnv:
        return make_atari_vector(atari_game(self.env_id), num_envs, **self.env_kwargs)


def env_factory(env_id: str, env_kwargs: dict | None = None) -> GymEnvFactory | AtariEnvFactory:
    """The factory of ``env_id`` (Atari ids get ``AtariEnvFactory``, others ``GymEnvFactory``)."""
    kind = AtariEnvFactory if is_atari(env_id) else GymEnvFactory
    return kind(env_id, dict(env_kwargs or {}))


def suggested_dqn_preset(env_id: str) -> str:
    """The ``DQNConfig`` preset for an env family: atari, gridworld, student, else cartpole."""
    if is_atari(env_id):
        return "atari"
    if "GridWorld" in env_id or "CliffWalk" in env_id:
        return "gridworld"
    if "Student" in env_id:
        return "student"
    return "cartpole"


def known_env_id(env_id: str) -> str:
    """``env_id`` if Gymnasium knows it; else an error listing riley-gym's ids.

    An ``argparse`` type.

    Raises:
        argparse.ArgumentTypeError: naming the id, the closest known ids and every ``riley/`` id.
    """
    if env_id in gym.registry:
        return env_id
    close = difflib.get_close_matches(env_id, list(gym.registry), n=3)
    ours = sorted(name for name in gym.registry if name.startswith("riley/"))
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    raise argparse.ArgumentTypeError(
        f"unknown environment {env_id!r}{hint} riley-gym's: {', '.join(ours)}; Atari games as "
        "ALE/<Game>-v5 (e.g. ALE/Breakout-v5); any other registered Gymnasium id works too"
    )
