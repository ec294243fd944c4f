"""Inference is not learning: how much of a knowledge model's predicted gain
is the student learning?

A lookahead tutor (DKT greedy, expectimax) picks the exercise after which the model predicts
the highest knowledge. For a calibrated Bayesian model the prediction is a martingale: averaged
over the answer the model itself expects, the prediction after an exercise equals the one before
it, except for what practice teaches. So the model's expected change after exercise e,

    predicted_e = E_{a ~ p(a | h, e)} [ mean_f p(f | h, e, a) ] - mean_f p(f | h),

should match the true expected learning gain that the simulator knows from the hidden state,

    true_e = E [ post-test after e ] - post-test now        (``StudentDynamics.expected_gains``).

``measure`` collects both over the states that simulated students pass through under a policy,
per exercise, for any belief (``kt.tutoring.recommend.Belief``) or any scorer of exercises. A
model that predicts gains where nothing is learned (or misses real gains) misleads its lookahead.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from riley_gym.kt.tutoring.recommend import Belief, Recommender
from riley_gym.kt.tutoring.simulation import SimulatedClass

__all__ = ["GainMeasurement", "predicted_gains", "measure"]


@dataclass
class GainMeasurement:
    """Predicted against true expected gains over the visited states.

    Attributes:
        name: what made the predictions.
        predicted: (n_exercises,) mean predicted gain per exercise.
        true: (n_exercises,) mean true expected gain per exercise.
        correlation: correlation of predicted and true over every (state, exercise).
        mean_abs_error: mean |predicted - true| over every (state, exercise).
        n_states: states measured.
    """

    name: str
    predicted: np.ndarray
    true: np.ndarray
    correlation: float
    mean_abs_error: float
    n_states: int

    def to_dict(self) -> dict[str, Any]:
        """JSON-able plain values."""
        return {
            "name": self.name,
            "predicted": self.predicted.round(6).tolist(),
            "true": self.true.round(6).tolist(),
            "correlation": self.correlation,
            "mean_abs_error": self.mean_abs_error,
            "n_states": self.n_states,
        }


def predicted_gains(belief: Belief, state: Any) -> np.ndarray:
    """(n, n_exercises) the belief's expected change of its mean p(correct) after each exercise.

    The expectation is over the answer the belief itself predicts (the martingale check).
    """
    n, n_exercises = belief.p_correct(state).shape
    now = belief.p_correct(state)  # (n, E)
    rows = np.repeat(np.arange(n), 2 * n_exercises)  # each student, each exercise, both answers
    exercises = np.tile(np.repeat(np.arange(n_exercises), 2), n)
    answers = np.tile(np.array([1, 0]), n * n_exercises)
    after = belief.p_correct(belief.update(belief.take(state, rows), exercises, answers))
    mean_after = after.mean(axis=1).reshape(n, n_exercises, 2)  # (n, E, [right, wrong])
    expected = now * mean_after[:, :, 0] + (1.0 - now) * mean_after[:, :, 1]  # (n, E)
    return expected - now.mean(axis=1, keepdims=True)


def measure(
    name: str,
    predict: Callable[[Any, int], np.ndarray],
    tracker: Belief,
    dynamics: Any,
    policy: Recommender,
    n_students: int = 500,
    session_length: int = 50,
    seed: int = 0,
) -> GainMeasurement:
    """Predicted and true expected gains along the sessions of simulated students.

    Args:
        name: a label for the measurement.
        predict: (tracker state, step) -> (n, n_exercises) predicted gains (for a belief:
            ``lambda state, step: predicted_gains(belief, state)``).
        tracker: the belief whose state ``predict`` reads, stepped with every answer.
        dynamics: the simulator (its hidden state gives the true gains).
        policy: the policy the students follow while being measured.
        n_students, session_length, seed: the simulated sessions.

    Returns:
        The ``GainMeasurement``.
    """
    simulated = SimulatedClass(dynamics, n_students, seed)
    session = policy.start(n_students, np.random.default_rng([seed, 2]), simulator=simulated)
    state = tracker.init(n_students)
    predicted, true = [], []
    for step in range(session_length):
        predicted.append(np.asarray(predict(state, step), dtype=np.float64))
        true.append(dynamics.expected_gains(simulated.state))
        exercises = session.choose()
        correct = simulated.step(exercises)
        session.observe(exercises, correct)
        state = tracker.update(state, exercises, correct)
    predicted, true = np.concatenate(predicted), np.concatenate(true)  # (states, E)
    return GainMeasurement(
        name=name,
        predicted=predicted.mean(axis=0),
        true=true.mean(axis=0),
        correlation=float(np.corrcoef(predicted.ravel(), true.ravel())[0, 1]),
        mean_abs_error=float(np.abs(predicted - true).mean()),
        n_states=int(predicted.shape[0]),
    )
