"""Atari throughput: agent steps per second, single env against ale-py's C++ vector env.

Called by ``scripts/bench_envs.py --only atari``; library code returns the figures and
the script prints and writes them.
"""

from __future__ import annotations

import time

import numpy as np
from tqdm.auto import tqdm

from riley_gym.envs.atari import make_atari, make_atari_vector


def atari_throughput(
    game: str = "Breakout",
    steps: int = 2000,
    num_envs: int = 8,
    *,
    num_threads: int = 0,
    training: bool = True,
    seed: int = 0,
    progress: bool = False,
) -> dict[str, float | int | str | bool]:
    """Agent steps per second under uniformly random actions, with the DQN preprocessing.

    Each agent step is ``frame_skip`` (4) emulator frames. The single env (:func:`make_atari`)
    runs ``steps`` steps, resetting when an episode ends; the vector env
    (:func:`make_atari_vector`) runs ``ceil(steps / num_envs)`` batched steps, so both take
    about ``steps`` agent steps. Timings exclude construction and the first reset.

    Args:
        game: Atari game name.
        steps: agent steps per measurement.
        num_envs: sub-environments of the vector env.
        num_threads: C++ threads of the vector env (0: ale-py's choice).
        training: training-mode preprocessing (life-loss episodes, clipped rewards).
        seed: seeds the envs and the random actions.
        progress: show progress bars.

    Returns:
        ``single_steps_per_second``, ``vector_steps_per_second``, ``speedup`` (vector over
        single), ``num_envs``, and the settings.

    Raises:
        ValueError: if ``steps`` or ``num_envs`` is not a positive integer.
    """
    if not (isinstance(steps, int) and steps > 0):
        raise ValueError(f"atari_throughput: steps must be a positive integer, got {steps!r}")
    if not (isinstance(num_envs, int) and num_envs > 0):
        raise ValueError(f"atari_throughput: num_envs must be a positive integer, got {num_envs!r}")
    rng = np.random.default_rng(seed)

    env = make_atari(game, training=training)
    env.reset(seed=seed)
    actions = rng.integers(0, env.action_space.n, size=steps)  # (steps,)
    start = time.perf_counter()
    for action in tqdm(actions, desc=f"{game} single", disable=not progress):
        _, _, terminated, truncated, _ = env.step(int(action))
        if terminated or truncated:
            env.reset()
    single_seconds = time.perf_counter() - start
    env.close()

    vector = make_atari_vector(
        game, num_envs, training=training, seed=seed, num_threads=num_threads
    )
    vector.reset()
    n_batches = -(-steps // num_envs)
    batch_actions = rng.integers(
        0, vector.single_action_space.n, size=(n_batches, num_envs)
    )  # (batches, num_envs)
    start = time.perf_counter()
    for batch in tqdm(batch_actions, desc=f"{game} vector x{num_envs}", disable=not progress):
        vector.step(batch)
    vector_seconds = time.perf_counter() - start
    vector.close()

    single_rate = steps / single_seconds
    vector_rate = n_batches * num_envs / vector_seconds
    return {
        "game": game,
        "steps": steps,
        "num_envs": num_envs,
        "num_threads": num_threads,
        "training": training,
        "single_steps_per_second": single_rate,
        "vector_steps_per_second": vector_rate,
        "speedup": vector_rate / single_rate,
    }
