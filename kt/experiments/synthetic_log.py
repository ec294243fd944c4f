"""Synthetic interaction logs of any size from the vectorised student simulator, as Parquet.

``write_synthetic_log`` simulates students in chunks (``chunk_students`` at once, numpy over
students, a Python loop over the ``episode_length`` steps only) and appends each chunk to a
``kt.data.log_dataset`` folder, so memory stays at one chunk whatever ``n_interactions`` is.
Every student draws a tutoring policy from a mixture (``POLICIES``):

- ``random``: a uniformly random exercise each step;
- ``blocked``: the exercises in curriculum order, each practised for an equal block of steps;
- ``interleaved``: the exercises in curriculum order, cycling one step each from a random start.

Chunk ``k`` is simulated with ``numpy.random.default_rng([seed, k])``, so a log is the same
whatever machine writes it, and its full chunks do not depend on ``n_interactions``.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from riley_gym import nets
from riley_gym.envs.curriculum import load_curriculum
from riley_gym.envs.student_dynamics import DYNAMICS, StudentDynamics, make_dynamics
from riley_gym.kt.data.log_dataset import LogDatasetWriter

POLICIES = ("random", "blocked", "interleaved")


@dataclass(frozen=True)
class SyntheticLogConfig(nets.Settings):
    """What a synthetic log holds."""

    n_interactions: int = field(
        default=100_000_000, metadata={"help": "interactions to write (rounded up to whole chunks)"}
    )
    curriculum: str = field(
        default="riley", metadata={"help": "curriculum: riley, chain, tree, wide or a JSON path"}
    )
    dynamics: str = field(default="bkt", metadata={"help": "student dynamics", "choices": DYNAMICS})
    episode_length: int = field(default=50, metadata={"help": "exercises per student"})
    policy_mix: str = field(
        default="random:0.5,blocked:0.25,interleaved:0.25",
        metadata={"help": "tutoring policies and their shares, name:weight comma-separated"},
    )
    chunk_students: int = field(
        default=20_000, metadata={"help": "students simulated at once (memory per chunk)"}
    )
    rows_per_file: int = field(default=10_000_000, metadata={"help": "rows per Parquet file"})
    seed: int = field(default=0, metadata={"help": "seed of students, answers and policies"})

    def __post_init__(self) -> None:
        self.check_at_least(["n_interactions", "episode_length", "chunk_students"], 1)
        self.check_at_least(["rows_per_file"], 1)
        self.check_at_least(["seed"], 0)
        self.check_choice("dynamics", DYNAMICS)
        self.check("policy_mix", _valid_mix(self.policy_mix), f"name:weight pairs of {POLICIES}")

    def policy_weights(self) -> np.ndarray:
        """(len(POLICIES),) the mixture's probabilities in ``POLICIES`` order."""
        weights = np.zeros(len(POLICIES))
        for part in self.policy_mix.split(","):
            name, weight = part.split(":")
            weights[POLICIES.index(name.strip())] += float(weight)
        return weights / weights.sum()


def _valid_mix(text: str) -> bool:
    try:
        pairs = [part.split(":") for part in text.split(",")]
        ok = all(len(pair) == 2 and pair[0].strip() in POLICIES for pair in pairs)
        weights = [float(pair[1]) for pair in pairs] if ok else []
    except ValueError:
        return False
    return ok and all(weight >= 0 for weight in weights) and sum(weights) > 0


def simulate_chunk(
    config: SyntheticLogConfig,
    chunk: int,
    n_students: int,
    first_user: int,
    dynamics: StudentDynamics | None = None,
) -> dict[str, np.ndarray]:
    """One chunk of students: canonical columns, student-major, ``order`` 0..length-1.

    Args:
        config: the log's settings.
        chunk: the chunk number (seeds its generator with ``[config.seed, chunk]``).
        n_students: students in the chunk.
        first_user: ``user_id`` of its first student (ids are consecutive).
        dynamics: the simulator ``config`` names, built once by the caller of many chunks
            (None: built here).

    Returns:
        ``user_id``, ``item_id``, ``skill_id``, ``correct``, ``order`` and ``policy`` (the
        index in ``POLICIES`` of each row's student's policy), each (n_students * length,).
    """
    rng = np.random.default_rng([config.seed, chunk])
    dynamics = dynamics or make_dynamics(config.dynamics, load_curriculum(config.curriculum))
    n_exercises, length = dynamics.n_exercises, config.episode_length
    state = dynamics.init_state(n_students, rng)
    policy = rng.choice(len(POLICIES), size=n_students, p=config.policy_weights())  # (n,)
    offset = rng.integers(0, n_exercises, size=n_students)  # (n,) interleaving start
    block = -(-length // n_exercises)  # steps per exercise when blocked
    item = np.empty((length, n_students), dtype=np.int32)
    correct = np.empty((length, n_students), dtype=np.int8)
    for t in range(length):
        random_exercise = rng.integers(0, n_exercises, size=n_students)  # (n,)
        blocked = np.full(n_students, min(t // block, n_exercises - 1))  # (n,)
        interleaved = (offset + t) % n_exercises  # (n,)
        actions = np.choose(policy, (random_exercise, blocked, interleaved))  # (n,)
        correct[t] = dynamics.step(state, actions, rng)
        item[t] = actions
    item_ids = item.T.ravel()  # (n * length,) student-major
    return {
        "user_id": np.repeat(
            np.arange(first_user, first_user + n_students, dtype=np.int64), length
        ),
        "item_id": item_ids,
        "skill_id": dynamics.exercise_skill[item_ids].astype(np.int32),
        "correct": correct.T.ravel(),
        "order": np.tile(np.arange(length, dtype=np.int32), n_students),
        "policy": np.repeat(policy.astype(np.int8), length),
    }


def write_synthetic_log(
    config: SyntheticLogConfig,
    directory: str | Path,
    progress: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Simulate ``config.n_interactions`` interactions into a log dataset at ``directory``.

    Args:
        config: the log's settings (stored in the manifest).
        directory: a new folder (see ``kt.data.log_dataset.LogDatasetWriter``).
        progress: called with the rows of each chunk written.

    Returns:
        The manifest, with ``write_seconds`` and ``rows_per_second`` (wall clock, this
        process: simulation and writing together).
    """
    started = time.perf_counter()
    writer = LogDatasetWriter(directory, rows_per_file=config.rows_per_file)
    n_students = -(-config.n_interactions // config.episode_length)
    policy_rows = np.zeros(len(POLICIES), dtype=np.int64)
    dynamics = make_dynamics(config.dynamics, load_curriculum(config.curriculum))
    chunk, first_user = 0, 0
    while first_user < n_students:
        size = min(config.chunk_students, n_students - first_user)
        columns = simulate_chunk(config, chunk, size, first_user, dynamics)
        policy_rows += np.bincount(columns["policy"], minlength=len(POLICIES))
        writer.write(columns)
        if progress is not None:
            progress(columns["user_id"].size)
        chunk += 1
        first_user += size
    seconds = time.perf_counter() - started
    settings = {**asdict(config), "policies": list(POLICIES)}
    settings["policy_rows"] = dict(zip(POLICIES, policy_rows.tolist()))
    manifest = writer.close(settings)
    manifest["write_seconds"] = seconds
    manifest["rows_per_second"] = manifest["n_rows"] / seconds if seconds > 0 else float("nan")
    return manifest
