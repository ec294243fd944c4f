"""AttentionBelief: an attention tracer read as a tutoring belief gives what predict gives."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from riley_gym.envs.curriculum import Curriculum
from riley_gym.envs.simulate import simulate_logs
from riley_gym.envs.student_dynamics import BKTDynamics, BKTParams
from riley_gym.kt.models.registry import MODELS
from riley_gym.kt.models.training import TrainingConfig
from riley_gym.kt.tutoring.attention_belief import AttentionBelief
from riley_gym.kt.tutoring.recommend import GreedyRecommender

N_EXERCISES = 5
EXERCISE_SKILL = np.array([0, 0, 1, 1, 2])
ATTENTION = ("sakt", "akt", "simplekt")


def fitted(name: str, table: pd.DataFrame, max_length: int = 50, epochs: int = 1):
    model_class = MODELS[name]
    config = model_class.config_class(
        embedding_size=16, n_heads=2, d_ff=16, hidden_size=16, dropout=0.0, max_length=max_length,
        training=TrainingConfig(max_epochs=epochs, learning_rate=1e-2),
    )  # fmt: skip
    return model_class(config).fit(table)


@pytest.fixture(scope="module")
def log() -> pd.DataFrame:
    """60 students x 12 attempts at 5 exercises (skills are the exercises, as in tutoring)."""
    rng = np.random.default_rng(0)
    rows = []
    for student in range(60):
        for order in range(12):
            exercise = int(rng.integers(N_EXERCISES))
            rows.append(
                (student, order, exercise, exercise, int(rng.random() < 0.3 + 0.1 * exercise))
            )
    return pd.DataFrame(rows, columns=["user_id", "order", "skill_id", "item_id", "correct"])


def stepped(belief: AttentionBelief, histories: list[tuple[list[int], list[int]]]):
    """The state of students whose histories differ in length (stepped together, then merged)."""
    state = belief.init(len(histories))
    for step in range(max(len(exercises) for exercises, _ in histories)):
        active = np.array([step < len(exercises) for exercises, _ in histories])
        exercises = np.array([h[0][step] if a else 0 for h, a in zip(histories, active)])
        correct = np.array([h[1][step] if a else 0 for h, a in zip(histories, active)])
        state = belief.merge(state, belief.update(state, exercises, correct), active)
    return state


def predicted_next(model, exercises: list[int], correct: list[int], exercise: int) -> float:
    """``predict``'s p(correct) on ``exercise`` as a one-row attempt after the history."""
    table = pd.DataFrame(
        {
            "user_id": 7,
            "order": range(len(exercises) + 1),
            "skill_id": [*exercises, exercise],
            "item_id": [*exercises, exercise],
            "correct": [*correct, 0],
        }
    )
    return float(model.predict(table)["p_correct"].to_numpy()[-1])


@pytest.mark.parametrize("name", ATTENTION)
def test_p_correct_is_predict_on_the_next_attempt_for_histories_of_any_length(name, log):
    model = fitted(name, log)
    belief = AttentionBelief(model, EXERCISE_SKILL)
    histories = [([1, 2, 3, 0, 4], [1, 0, 1, 1, 0]), ([4], [0]), ([], [])]
    p = belief.p_correct(stepped(belief, histories))
    assert p.shape == (3, N_EXERCISES)
    expected = np.array(
        [[predicted_next(model, e, c, x) for x in range(N_EXERCISES)] for e, c in histories]
    )
    np.testing.assert_allclose(p, expected, atol=1e-6)
    # Different histories give different beliefs: the history is read at all.
    assert np.abs(p[0] - p[2]).max() > 1e-4


def test_past_its_window_the_belief_keeps_the_last_attempts(log):
    model = fitted("sakt", log, max_length=4)
    belief = AttentionBelief(model, EXERCISE_SKILL)
    exercises, correct = [0, 1, 2, 3, 4, 0], [1, 1, 0, 0, 1, 0]
    state = stepped(belief, [(exercises, correct)])
    assert int(state.lengths[0]) == 3  # max_length - 1 attempts, then the query
    kept = belief.p_correct(state)[0]
    recent = [predicted_next(model, exercises[-3:], correct[-3:], x) for x in range(N_EXERCISES)]
    np.testing.assert_allclose(kept, recent, atol=1e-6)


def test_take_and_merge_select_students(log):
    belief = AttentionBelief(fitted("simplekt", log), EXERCISE_SKILL)
    state = stepped(belief, [([0, 1], [1, 1]), ([2, 3], [0, 0])])
    p = belief.p_correct(state)
    np.testing.assert_allclose(
        belief.p_correct(belief.take(state, np.array([1, 1, 0]))), p[[1, 1, 0]]
    )
    fresh = belief.init(2)
    merged = belief.merge(state, fresh, np.array([False, True]))
    np.testing.assert_allclose(belief.p_correct(merged)[0], p[0])
    np.testing.assert_allclose(belief.p_correct(merged)[1], belief.p_correct(fresh)[1])
    assert belief.skill_knowledge(state).shape == (2, 3)


def test_bad_models_and_exercises_are_refused_with_the_reason(log):
    from riley_gym.kt.models.dkt import DKT

    with pytest.raises(TypeError, match="use DKTBelief for DKT"):
        AttentionBelief(DKT(), EXERCISE_SKILL)
    with pytest.raises(ValueError, match="needs a fitted sakt"):
        AttentionBelief(MODELS["sakt"](), EXERCISE_SKILL)
    model = fitted("sakt", log)
    with pytest.raises(ValueError, match=r"never saw exercises \[5\]"):
        AttentionBelief(model, [*EXERCISE_SKILL, 2])
    belief = AttentionBelief(model, EXERCISE_SKILL)
    with pytest.raises(ValueError, match=r"exercises must be in \[0, 5\)"):
        belief.update(belief.init(1), np.array([5]), np.array([1]))
    rasch = fitted("akt", log.assign(item_id=log["item_id"] * 10 + log["user_id"] % 3))
    with pytest.raises(ValueError, match="reads item ids"):
        AttentionBelief(rasch, EXERCISE_SKILL)


def test_sakt_greedy_trained_on_logs_gives_the_unmastered_skill():
    # As DKT's test in test_recommend: every student knows A and learns B by practice; a SAKT
    # trained on the logs must rate A above B and greedy (the DKT paper's objective) must give B.
    curriculum = Curriculum.from_dict(
        {
            "name": "ab",
            "skills": [{"name": "A"}, {"name": "B"}],
            "exercises": [
                {"name": "A1", "skill": "A", "difficulty": 0.0, "guess": 0.2, "slip": 0.1},
                {"name": "B1", "skill": "B", "difficulty": 0.0, "guess": 0.2, "slip": 0.1},
            ],
        }
    )
    dynamics = BKTDynamics(
        curriculum, BKTParams(prior=(1.0, 0.0), learn=(0.0, 0.3), learn_rate_sd=0.0, prior_sd=0.0)
    )
    logs = simulate_logs(200, dynamics=dynamics, episode_length=10, seed=0)
    model = fitted("sakt", logs.assign(skill_id=logs["item_id"]), epochs=10)
    belief = AttentionBelief(model, curriculum.exercise_skill)
    p = belief.p_correct(belief.init(1))[0]
    assert p[0] > p[1]
    session = GreedyRecommender(belief, curriculum.exercise_skill).start(
        1, np.random.default_rng(0)
    )
    assert session.choose()[0] == 1
