"""Logs without variety? The tutoring comparison with the DKT trained on a mixture of policies.

The default pipeline (``tutor_pipeline.run_tutor``) trains its DKT on random-policy logs. A
model that has only seen random orders may not know what an order of exercises does, so this
experiment trains it instead on a mixture: ``random_students`` random-policy students and
``heuristic_students`` each of blocked, interleaved and the mastery rule (on a BKT fitted to
the random students), every heuristic choice replaced by a random exercise with probability
``epsilon``. Each later round tutors ``dagger_students`` students with that round's DQN tutor
(with the same exploration), adds their logs and retrains everything (DAgger-style).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from riley_gym.envs.simulate import simulate_logs
from riley_gym.kt.experiments.tutor_pipeline import TutorConfig, build_recommenders, run_comparison
from riley_gym.kt.models.bkt import BKT
from riley_gym.kt.tutoring.recommend import BKTBelief, Recommender
from riley_gym.kt.tutoring.simulation import SessionRecord, run_sessions

__all__ = ["Exploring", "session_log", "mixture_logs", "run_log_variety"]

LOG_COLUMNS = ["user_id", "item_id", "skill_id", "correct", "order"]
MIXED_HEURISTICS = ("blocked", "interleaved", "mastery")


class Exploring:
    """A policy that follows ``inner`` but picks a uniformly random exercise with ``epsilon``."""

    def __init__(self, inner: Recommender, epsilon: float) -> None:
        if not 0.0 <= epsilon <= 1.0:
            raise ValueError(f"Exploring: epsilon must be in [0, 1], got {epsilon}")
        self.inner, self.epsilon, self.n_exercises = inner, epsilon, inner.n_exercises

    def start(self, n_students: int, rng: np.random.Generator, simulator: Any = None):
        return _ExploringSession(self, self.inner.start(n_students, rng, simulator), rng)


class _ExploringSession:
    def __init__(self, policy: Exploring, session: Any, rng: np.random.Generator) -> None:
        self.policy, self.session, self.rng = policy, session, rng

    def choose(self) -> np.ndarray:
        chosen = np.array(self.session.choose())  # (n,)
        explore = self.rng.random(chosen.size) < self.policy.epsilon  # (n,)
        chosen[explore] = self.rng.integers(0, self.policy.n_exercises, explore.sum())
        return chosen

    def observe(self, exercises: np.ndarray, correct: np.ndarray) -> None:
        self.session.observe(exercises, correct)


def session_log(record: SessionRecord, exercise_skill: np.ndarray, first_user: int) -> pd.DataFrame:
    """The sessions of ``record`` as a log (one row per student-step, student-major)."""
    steps, n = record.exercises.shape
    items = record.exercises.T.ravel()  # (n * steps,)
    return pd.DataFrame({
        "user_id": np.repeat(np.arange(n) + first_user, steps),
        "item_id": items,
        "skill_id": exercise_skill[items],
        "correct": record.correct.T.ravel().astype(int),
        "order": np.tile(np.arange(steps), n),
    })  # fmt: skip


def mixture_logs(
    config: TutorConfig,
    dynamics: Any,
    random_students: int = 2000,
    heuristic_students: int = 1000,
    epsilon: float = 0.2,
) -> pd.DataFrame:
    """Random-policy logs plus exploring blocked, interleaved and mastery-rule sessions."""
    skills = dynamics.curriculum.exercise_skill
    random_logs = simulate_logs(
        random_students, dynamics=dynamics, episode_length=config.session_length,
        seed=config.seed,
    )  # fmt: skip
    bkt = BKTBelief.from_model(BKT().fit(random_logs), skills)
    heuristics = build_recommenders(
        TutorConfig(**{**config.to_dict(), "policies": ("random", *MIXED_HEURISTICS)}),
        dynamics.curriculum, None, bkt,
    )  # fmt: skip
    parts, first_user = [random_logs[LOG_COLUMNS]], random_students
    for index, name in enumerate(MIXED_HEURISTICS):
        record = run_sessions(
            Exploring(heuristics[name], epsilon), dynamics, heuristic_students,
            config.session_length, seed=config.seed + 100 + index,
        )  # fmt: skip
        parts.append(session_log(record, skills, first_user))
        first_user += heuristic_students
    return pd.concat(parts, ignore_index=True)


def run_log_variety(
    config: TutorConfig,
    dynamics: Any,
    out_dir: str | Path,
    rounds: int = 1,
    dagger_students: int = 2000,
    epsilon: float = 0.2,
    random_students: int = 2000,
    heuristic_students: int = 1000,
) -> list[dict[str, Any]]:
    """The comparison on mixture logs (round 0), then ``rounds`` DAgger rounds; one result each.

    Each result is ``run_comparison``'s (written to ``out_dir/round<k>``) plus ``log_rows``.
    """
    if rounds < 0 or dagger_students < 1:
        raise ValueError(
            f"run_log_variety: rounds must be >= 0 and dagger_students >= 1, got {rounds}, "
            f"{dagger_students}"
        )
    skills = dynamics.curriculum.exercise_skill
    logs = mixture_logs(config, dynamics, random_students, heuristic_students, epsilon)
    first_user = int(logs["user_id"].max()) + 1
    results = []
    for round_index in range(rounds + 1):
        result = run_comparison(config, dynamics, logs, Path(out_dir) / f"round{round_index}")
        results.append({**result, "log_rows": len(logs)})
        if round_index < rounds:
            record = run_sessions(
                Exploring(result["recommenders"]["dqn"], epsilon), dynamics, dagger_students,
                config.session_length, seed=config.seed + 200 + round_index,
            )  # fmt: skip
            logs = pd.concat([logs, session_log(record, skills, first_user)], ignore_index=True)
            first_user += dagger_students
    return results
