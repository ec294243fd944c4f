"""Logged data with known ground truth: simulated students in the canonical interaction format."""

from __future__ import annotations

from typing import Callable, Union

import numpy as np
import pandas as pd

from riley_gym.envs.curriculum import Curriculum
from riley_gym.envs.student import StudentBatch
from riley_gym.envs.student_dynamics import BKTParams, IRTParams, StudentDynamics

# policy(observation, rng) -> (n_students,) exercise ids; observation as StudentVectorEnv's dict.
Policy = Callable[[dict, np.random.Generator], np.ndarray]
POLICIES = ("random",)


def simulate_logs(
    n_students: int = 1000,
    curriculum: str | Curriculum = "riley",
    dynamics: str | StudentDynamics = "bkt",
    episode_length: int = 50,
    policy: Union[str, Policy] = "random",
    params: BKTParams | IRTParams | None = None,
    seed: int = 0,
) -> pd.DataFrame:
    """Runs a tutoring policy over a population of simulated students and logs every answer.

    All students are simulated at once (one :class:`envs.student.StudentBatch`), each for
    ``episode_length`` exercises.

    Args:
        n_students: number of students (``user_id`` 0..n_students-1).
        curriculum: ``"riley"``, a JSON/YAML path, or a :class:`Curriculum`.
        dynamics: ``"bkt"`` or ``"irt"`` (``params``: matching parameters or None), or a
            :class:`envs.student_dynamics.StudentDynamics` (e.g. a calibrated one; then its
            curriculum is used and ``params`` must be None).
        episode_length: exercises per student.
        policy: ``"random"`` (uniform over exercises) or a callable
            ``policy(observation, rng) -> (n_students,) int`` where ``observation`` is the
            dict of batched arrays that :class:`envs.student_vector.StudentVectorEnv` returns
            (``last_exercise``, ``last_correct``, ``attempts``, ``successes``, ``time``) and
            ``rng`` a ``numpy.random.Generator``.
        seed: seeds the one generator used for students, answers and the policy.

    Returns:
        One row per student-step, sorted by ``user_id`` then ``order``, with columns
        ``user_id``, ``item_id`` (exercise index), ``skill_id`` (skill index), ``correct``
        (0/1), ``order`` (0..episode_length-1), all int64, and the hidden truth before the
        answer: ``p_correct_true`` (float64, the true p(correct) of the exercise) and
        ``mastery_true`` (float64, the mastery of its skill: 0/1 for ``bkt``,
        sigmoid(ability) for ``irt``).

    Raises:
        ValueError: for an unknown policy name, or a policy returning invalid exercise ids.
    """
    if isinstance(policy, str) and policy not in POLICIES:
        raise ValueError(
            f"simulate_logs: unknown policy {policy!r}; allowed: {list(POLICIES)} or a callable"
        )
    if not isinstance(policy, str) and not callable(policy):
        raise TypeError(
            f"simulate_logs: policy must be a name or a callable, got {type(policy).__name__}"
        )
    rng = np.random.default_rng(seed)
    batch = StudentBatch(n_students, curriculum, dynamics, episode_length, False, params)
    batch.reset(rng)
    n, length, model = batch.n_students, batch.episode_length, batch.dynamics
    item = np.empty((length, n), dtype=np.int64)
    correct = np.empty((length, n), dtype=np.int64)
    p_true = np.empty((length, n))
    mastery_true = np.empty((length, n))
    rows = np.arange(n)
    for t in range(length):
        if isinstance(policy, str):
            actions = rng.integers(0, batch.n_exercises, size=n)
        else:
            actions = batch.check_actions(policy(batch.observation(), rng), "simulate_logs: policy")
        p_true[t] = model.p_correct_of(batch.state, actions)
        mastery_true[t] = model.mastery(batch.state)[rows, model.exercise_skill[actions]]
        answers, _, _ = batch.step(actions, rng)
        item[t] = actions
        correct[t] = answers
    item = item.T.ravel()  # (n * length,), student-major
    return pd.DataFrame(
        {
            "user_id": np.repeat(np.arange(n, dtype=np.int64), length),
            "item_id": item,
            "skill_id": model.exercise_skill[item],
            "correct": correct.T.ravel(),
            "order": np.tile(np.arange(length, dtype=np.int64), n),
            "p_correct_true": p_true.T.ravel(),
            "mastery_true": mastery_true.T.ravel(),
        }
    )
