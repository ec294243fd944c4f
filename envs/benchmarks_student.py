"""Throughput of the simulated student envs (student-steps per second),
for scripts/bench_envs.py."""

from __future__ import annotations

import time
from typing import Callable

import numpy as np

from riley_gym.envs.student import StudentEnv
from riley_gym.envs.student_vector import StudentVectorEnv


def _best_rate(
    run_block: Callable[[], int], min_seconds: float, repeats: int
) -> tuple[float, list[float]]:
    """Runs ``run_block`` (returns student-steps done) for ``min_seconds`` per repeat;
    best and all rates."""
    rates = []
    for _ in range(repeats):
        done, start = 0, time.perf_counter()
        while True:
            done += run_block()
            elapsed = time.perf_counter() - start
            if elapsed >= min_seconds:
                break
        rates.append(done / elapsed)
    return max(rates), rates


def vector_throughput(
    num_envs: int,
    dynamics: str = "bkt",
    flatten_observation: bool = False,
    min_seconds: float = 1.0,
    repeats: int = 3,
    seed: int = 0,
) -> dict:
    """Student-steps per second of :class:`StudentVectorEnv` under uniformly random actions.

    Actions are drawn ahead in blocks of 100 steps, so the figure is the env's cost (step,
    observation copy, info, same-step autoresets every ``episode_length`` = 50 steps).

    Args:
        num_envs: students simulated at once.
        dynamics: ``"bkt"`` or ``"irt"``.
        flatten_observation: flat float32 observations instead of the dict.
        min_seconds: minimum duration of each timed repeat.
        repeats: timed repeats; the best is reported (least disturbed by other load).
        seed: seeds the env and the actions.

    Returns:
        ``{"num_envs", "dynamics", "flatten_observation", "steps_per_second" (best),
        "all_steps_per_second"}``; steps are student-steps (env steps x num_envs).
    """
    env = StudentVectorEnv(num_envs, dynamics=dynamics, flatten_observation=flatten_observation)
    env.reset(seed=seed)
    actions = np.random.default_rng(seed).integers(
        0, env.curriculum.n_exercises, size=(100, num_envs)
    )

    def block() -> int:
        for row in actions:
            env.step(row)
        return actions.size

    block()  # warm-up
    best, rates = _best_rate(block, min_seconds, repeats)
    return {
        "num_envs": num_envs,
        "dynamics": dynamics,
        "flatten_observation": flatten_observation,
        "steps_per_second": best,
        "all_steps_per_second": rates,
    }


def single_throughput(
    dynamics: str = "bkt", min_seconds: float = 1.0, repeats: int = 3, seed: int = 0
) -> dict:
    """Steps per second of one :class:`StudentEnv` (random actions, reset at each episode end)."""
    env = StudentEnv(dynamics=dynamics)
    env.reset(seed=seed)
    actions = np.random.default_rng(seed).integers(0, env.curriculum.n_exercises, size=100).tolist()

    def block() -> int:
        for action in actions:
            _, _, terminated, _, _ = env.step(action)
            if terminated:
                env.reset()
        return len(actions)

    block()
    best, rates = _best_rate(block, min_seconds, repeats)
    return {"dynamics": dynamics, "steps_per_second": best, "all_steps_per_second": rates}
