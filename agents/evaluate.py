"""Evaluation of a DQN policy: returns over seeded episodes, and one episode as a video."""

from __future__ import annotations

import math
from pathlib import Path

import gymnasium as gym
import numpy as np
from PIL import Image

from riley_gym.agents.networks import batch_of_one


def _act_once(agent, env: gym.Env, obs, epsilon: float, rng: np.random.Generator) -> int:
    """The agent's epsilon-greedy action for one observation of ``env`` (exploring with ``rng``)."""
    return int(agent.act(agent.adapter(batch_of_one(env.observation_space, obs)), epsilon, rng)[0])


def evaluate_agent(
    agent, env: gym.Env, episodes: int = 10, seed: int = 0, epsilon: float | None = None
) -> np.ndarray:
    """Run ``episodes`` episodes of the agent's epsilon-greedy policy on ``env``.

    Episode i is reset with seed ``seed + i``, so two agents evaluated with the same seed face
    the same starts (paired comparisons). The agent's own generator draws the exploration.

    Args:
        agent: a ``DQN`` (uses ``agent.adapter`` and ``agent.act``).
        env: one environment (not a vector env) with the agent's observation space.
        episodes: number of episodes (>= 1).
        seed: seed of the first episode.
        epsilon: exploration rate; None uses ``agent.config.eval_epsilon``.

    Returns:
        (episodes,) float64 undiscounted returns.
    """
    if episodes < 1:
        raise ValueError(f"evaluate_agent needs episodes >= 1, got {episodes}")
    epsilon = agent.config.eval_epsilon if epsilon is None else epsilon
    returns, rng = np.zeros(episodes), np.random.default_rng(seed)
    for episode in range(episodes):
        obs, _ = env.reset(seed=seed + episode)
        done = False
        while not done:
            obs, reward, terminated, truncated, _ = env.step(
                _act_once(agent, env, obs, epsilon, rng)
            )
            returns[episode] += float(reward)
            done = terminated or truncated
    return returns


def record_episode(
    agent, env: gym.Env, seed: int = 0, epsilon: float | None = None, max_frames: int = 10_000
) -> tuple[list[np.ndarray], float]:
    """Frames of one episode (env made with ``render_mode="rgb_array"``) and its return (exploration
    drawn from a generator seeded with ``seed``, as in ``evaluate_agent``)."""
    epsilon = agent.config.eval_epsilon if epsilon is None else epsilon
    obs, _ = env.reset(seed=seed)
    rng = np.random.default_rng(seed)
    frames, total, done = [env.render()], 0.0, False
    while not done and len(frames) < max_frames:
        obs, reward, terminated, truncated, _ = env.step(_act_once(agent, env, obs, epsilon, rng))
        total += float(reward)
        frames.append(env.render())
        done = terminated or truncated
    return frames, total


def paired_difference(first: np.ndarray, second: np.ndarray, confidence: float = 0.95) -> dict:
    """Mean of ``first - second`` over paired episodes (same seeds), with a normal-approximation CI.

        d_i = first_i - second_i,   mean(d) +- z * std(d, ddof=1) / sqrt(n)

    Args:
        first: (n,) returns of one policy, n >= 30 (the normal approximation of the mean).
        second: (n,) returns of the other on the same episode seeds.
        confidence: 0.95 (z = 1.959964) or 0.99 (z = 2.575829).

    Returns:
        {"mean", "low", "high", "n", "std"}.
    """
    first, second = np.asarray(first, dtype=np.float64), np.asarray(second, dtype=np.float64)
    if first.shape != second.shape or first.ndim != 1 or first.size < 30:
        raise ValueError(
            "paired_difference needs two (n,) arrays with n >= 30, got shapes "
            f"{first.shape} and {second.shape}"
        )
    quantiles = {0.95: 1.959964, 0.99: 2.575829}
    if confidence not in quantiles:
        raise ValueError(f"confidence must be one of {sorted(quantiles)}, got {confidence}")
    difference = first - second  # (n,)
    std = float(difference.std(ddof=1))
    half = quantiles[confidence] * std / math.sqrt(difference.size)
    mean = float(difference.mean())
    return {
        "mean": mean,
        "low": mean - half,
        "high": mean + half,
        "n": int(difference.size),
        "std": std,
    }


def write_video(frames: list[np.ndarray], path: str | Path, fps: int = 30) -> Path:
    """Write ``frames`` ((H, W, 3) uint8 each) as a GIF (PIL), or an MP4 (needs imageio-ffmpeg).

    Raises:
        ValueError: for another suffix, or an MP4 without imageio-ffmpeg (naming the fix).
    """
    path = Path(path)
    if fps < 1:
        raise ValueError(f"fps must be >= 1, got {fps}")
    if path.suffix.lower() == ".mp4":
        try:  # optional: only MP4s need imageio and its ffmpeg
            import imageio.v2 as imageio
            import imageio_ffmpeg  # noqa: F401
        except ImportError as error:
            raise ValueError(
                f"--video {path}: MP4 needs imageio and imageio-ffmpeg ({error}); use a .gif path"
            ) from error
        imageio.mimwrite(path, frames, fps=fps)
        return path
    if path.suffix.lower() != ".gif":
        raise ValueError(f"--video must end in .gif or .mp4, got {path}")
    images = [Image.fromarray(np.asarray(frame)) for frame in frames]
    images[0].save(path, save_all=True, append_images=images[1:], duration=int(1000 / fps), loop=0)
    return path
