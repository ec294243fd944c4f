"""Soak: many short tutoring sessions and KT predictions with random valid and invalid inputs.

Every invalid input must get its clear error (a ValueError or TypeError naming what is wrong) and
memory must stay flat: the resident set after the loop may exceed the one after a warm-up round
by at most a few MiB.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from riley_gym.envs.simulate import simulate_logs
from riley_gym.envs.student_dynamics import make_dynamics
from riley_gym.kt.experiments.tutor_pipeline import TutorConfig, build_recommenders, train_models
from riley_gym.kt.tutoring.recommend import BKTBelief, DKTBelief

SESSION = 12


def resident_mib() -> float:
    with open("/proc/self/statm") as file:
        pages = int(file.read().split()[1])
    return pages * 4096 / 2**20


def invalid_history(rng, n_exercises):
    """A one-student history with one thing wrong, and the words its error must contain."""
    good = pd.DataFrame({"user_id": [1] * 3, "item_id": [0, 1, 2], "skill_id": [0, 0, 1],
                         "correct": [1, 0, 1], "order": [0, 1, 2]})  # fmt: skip
    case = int(rng.integers(4))
    if case == 0:
        return good.assign(item_id=[0, n_exercises + 3, 1]), "exercises must be in"
    if case == 1:
        return good.assign(item_id=[0, -1, 1]), "exercises must be in"
    if case == 2:
        return good.assign(correct=[1, 7, 0]), "correct must hold 0/1"
    return good.assign(item_id=[0.5, 1.0, 2.0]), "must hold integers"


@pytest.mark.slow
def test_sessions_and_predictions_stay_flat_and_refuse_bad_input():
    dynamics = make_dynamics("bkt")
    curriculum = dynamics.curriculum
    logs = simulate_logs(300, dynamics=dynamics, episode_length=SESSION, seed=0)
    models = train_models(logs, curriculum.exercise_skill, 16, 2, 0)
    dkt_belief = DKTBelief(models["tracer"], curriculum.exercise_skill)
    bkt_belief = BKTBelief.from_model(models["bkt"], curriculum.exercise_skill)
    policies = ("random", "blocked", "interleaved", "mastery", "zpd", "greedy", "expectimax")
    config = TutorConfig.quick(session_length=SESSION, policies=policies)
    recommenders = build_recommenders(config, curriculum, dkt_belief, bkt_belief)
    rng = np.random.default_rng(0)
    refused = {"session": 0, "predict": 0}

    def round_of(iterations: int) -> None:
        for _ in range(iterations):
            recommender = recommenders[policies[int(rng.integers(len(policies)))]]
            if rng.random() < 0.5:  # a valid session of a few students
                n = int(rng.integers(1, 6))
                session = recommender.start(n, rng)
                for _ in range(int(rng.integers(1, SESSION))):
                    exercises = session.choose()
                    session.observe(exercises, rng.random(n) < 0.6)
                    session.explain(0)
                    assert session.scores().shape == (n, curriculum.n_exercises)
            else:
                history, words = invalid_history(rng, curriculum.n_exercises)
                with pytest.raises((ValueError, TypeError), match=words):
                    recommender.next_exercise(history)
                refused["session"] += 1
            table = logs[logs["user_id"] < int(rng.integers(2, 20))]
            if rng.random() < 0.7:
                predicted = models["tracer"].predict(table.assign(skill_id=table["item_id"]))
                assert predicted["p_correct"].between(0, 1).all()
                models["bkt"].predict(table)
            else:  # a table with a missing column or a bad answer
                broken = (
                    table.drop(columns="order") if rng.random() < 0.5 else table.assign(correct=2)
                )
                with pytest.raises(ValueError, match="order|correct"):
                    models["bkt"].predict(broken)
                refused["predict"] += 1

    round_of(40)  # warm-up: caches, allocator pools
    before = resident_mib()
    round_of(400)
    after = resident_mib()
    assert refused["session"] > 50 and refused["predict"] > 30
    assert after - before < 8.0, f"resident memory grew from {before:.1f} to {after:.1f} MiB"
