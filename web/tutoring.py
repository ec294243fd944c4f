"""One tutoring session on the page: the policy's session, what the models believe, the answers.

A ``TutoringSession`` wraps one ``Recommender.start(1, rng)`` session and steps, beside it, the
DKT belief (the heatmap: predicted p(correct) per skill after each answer, the DKT paper's
figure) and the BKT posterior (mastery bars), whatever the policy. In ``"simulated"`` mode a
simulated student (``kt.tutoring.simulation.SimulatedClass``, drawn from the model's dynamics)
answers the recommended exercise, and its hidden truth (mean true p(correct) per skill) is
reported beside the estimates; in ``"person"`` mode the person's answers come in through
``answer``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from riley_gym.kt.tutoring.simulation import SimulatedClass
from riley_gym.web.errors import InputError
from riley_gym.web.model import TutoringModel, skill_average

__all__ = ["MODES", "MAX_ANSWERS", "TOP_CANDIDATES", "TutoringSession", "policy_description"]

MODES = ("person", "simulated")
# A bound on one session's memory and on the size of its state (the heatmap grows per answer).
MAX_ANSWERS = 500
TOP_CANDIDATES = 5


def policy_description(recommender: Any) -> str:
    """The first paragraph of the recommender class's docstring, for the policy menu."""
    doc = (type(recommender).__doc__ or recommender.name).strip().split("\n\n")[0]
    return " ".join(doc.split()).replace("``", "")


def _finite_or_none(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


class TutoringSession:
    """A session of one student under one policy of ``model``.

    Args:
        model: the tutoring model.
        policy: one of ``model.policies``.
        mode: ``"person"`` (answers come from ``answer``) or ``"simulated"`` (``simulate``).
        seed: seed of the policy's tie-breaking and of the simulated student.

    Raises:
        InputError: for an unknown policy or mode.
    """

    def __init__(self, model: TutoringModel, policy: str, mode: str, seed: int) -> None:
        if policy not in model.recommenders:
            raise InputError(f"unknown policy {policy!r}; allowed: {model.policies}")
        if mode not in MODES:
            raise InputError(f"unknown mode {mode!r}; allowed: {list(MODES)}")
        self.model, self.policy, self.mode, self.seed = model, policy, mode, seed
        self.recommender = model.recommenders[policy]
        self.session = self.recommender.start(1, np.random.default_rng([seed, 0]))
        self.student = SimulatedClass(model.dynamics, 1, seed) if mode == "simulated" else None
        self._average = skill_average(model.curriculum)  # (n_exercises, n_skills)
        self._exercise_skill = model.curriculum.exercise_skill
        self.dkt_state = model.dkt_belief.init(1)
        self.bkt_state = model.bkt_belief.init(1)
        self.answers: list[dict[str, Any]] = []
        # Per-skill estimates before any answer (index 0) and after each answer.
        self.dkt_knowledge = [self._dkt_skills()]
        self.bkt_mastery = [model.bkt_belief.skill_knowledge(self.bkt_state)[0]]
        self.truth = [self._truth()] if self.student is not None else None
        self._recommend()

    def _dkt_skills(self) -> np.ndarray:
        return self.model.dkt_belief.p_correct(self.dkt_state)[0] @ self._average  # (n_skills,)

    def _truth(self) -> np.ndarray:
        """(n_skills,) the simulated student's mean TRUE p(correct) over each skill's exercises."""
        return self.model.dynamics.p_correct(self.student.state)[0] @ self._average

    def _recommend(self) -> None:
        self.recommended = int(self.session.choose()[0])
        self.explanation = self.session.explain(0)
        self.scores = self.session.scores()[0]  # (n_exercises,)
        self.p_correct = self.model.dkt_belief.p_correct(self.dkt_state)[0]  # (n_exercises,)

    @property
    def n_answers(self) -> int:
        return len(self.answers)

    def answer(self, correct: bool, exercise: int | None = None) -> None:
        """A person's answer to ``exercise`` (default: the recommended one).

        Raises:
            InputError: in simulated mode (409), for an unknown exercise (400), or when the
                session holds ``MAX_ANSWERS`` answers (409).
        """
        if self.mode != "person":
            raise InputError(
                "this session's answers come from the simulated student (POST /api/tutor/simulate);"
                " start a session in 'person' mode to answer yourself",
                status=409,
            )
        n_exercises = self.model.curriculum.n_exercises
        if exercise is None:
            exercise = self.recommended
        elif not 0 <= exercise < n_exercises:
            raise InputError(
                f"unknown exercise {exercise}: exercises are 0..{n_exercises - 1} "
                "(GET /api/model lists them)"
            )
        self._record(int(exercise), bool(correct))

    def simulate(self, steps: int | None) -> int:
        """The simulated student answers ``steps`` recommended exercises (None: to the end).

        Returns:
            The number of answers given.

        Raises:
            InputError: in person mode (409), for ``steps`` < 1 (400), or when the session is
                already at its end (409).
        """
        if self.student is None:
            raise InputError(
                "this is a 'person' session: answer with POST /api/tutor/answer, or start a "
                "'simulated' one",
                status=409,
            )
        if steps is not None and steps < 1:
            raise InputError(f"steps must be >= 1 (or null: to the end), got {steps}")
        end = self.model.config.session_length if steps is None else MAX_ANSWERS
        count = end - self.n_answers if steps is None else min(steps, end - self.n_answers)
        if count <= 0:
            raise InputError(
                f"the session is at its end ({self.n_answers} answers); start a new one",
                status=409,
            )
        for _ in range(count):
            exercise = self.recommended
            correct = bool(self.student.step(np.array([exercise]))[0])
            self._record(exercise, correct)
        return count

    def _record(self, exercise: int, correct: bool) -> None:
        if self.n_answers >= MAX_ANSWERS:
            raise InputError(
                f"the session holds the most answers allowed ({MAX_ANSWERS}); start a new one",
                status=409,
            )
        exercises, answers = np.array([exercise]), np.array([correct])
        self.session.observe(exercises, answers)
        self.dkt_state = self.model.dkt_belief.update(self.dkt_state, exercises, answers)
        self.bkt_state = self.model.bkt_belief.update(self.bkt_state, exercises, answers)
        self.answers.append(
            {
                "exercise": exercise,
                "skill": int(self._exercise_skill[exercise]),
                "correct": correct,
                "recommended": exercise == self.recommended,
            }
        )
        self.dkt_knowledge.append(self._dkt_skills())
        self.bkt_mastery.append(self.model.bkt_belief.skill_knowledge(self.bkt_state)[0])
        if self.truth is not None:
            self.truth.append(self._truth())
        self._recommend()

    def candidates(self) -> list[dict[str, Any]]:
        """The ``TOP_CANDIDATES`` best-scored exercises, each with its score and a one-line reason.

        The recommended exercise's reason is the policy's own explanation; the others' say
        how their score compares and what the models predict on them.
        """
        curriculum = self.model.curriculum
        skills = self._exercise_skill
        scores = self.scores
        # Highest first; ties keep the recommended one first, and -inf (ruled out) sorts last.
        key = np.where(np.isfinite(scores), scores, -np.inf)
        order = sorted(
            range(curriculum.n_exercises),
            key=lambda e: (-key[e], e != self.recommended, e),
        )
        best = scores[self.recommended]
        dkt_skills, mastery = self.dkt_knowledge[-1], self.bkt_mastery[-1]
        rows = []
        for exercise in order[:TOP_CANDIDATES]:
            skill = int(skills[exercise])
            score = scores[exercise]
            if exercise == self.recommended:
                reason = self.explanation
            elif not math.isfinite(score):
                reason = "ruled out by the policy (score -inf: not searched)"
            else:
                gap = best - score
                compared = (
                    "ties with the recommended one (the policy broke the tie at random)"
                    if abs(gap) <= 1e-12
                    else f"{gap:.3g} below the recommended one"
                )
                reason = (
                    f"score {compared}; DKT p(correct) {self.p_correct[exercise]:.2f}, "
                    f"{curriculum.skill_names[skill]} estimate {dkt_skills[skill]:.2f} "
                    f"(BKT mastery {mastery[skill]:.2f})"
                )
            rows.append(
                {
                    "exercise": exercise,
                    "name": curriculum.exercise_names[exercise],
                    "skill": skill,
                    "skill_name": curriculum.skill_names[skill],
                    "score": _finite_or_none(score),
                    "p_correct": float(self.p_correct[exercise]),
                    "recommended": exercise == self.recommended,
                    "reason": reason,
                }
            )
        return rows

    def state(self) -> dict[str, Any]:
        """Everything the page shows, as plain JSON-able values."""
        curriculum = self.model.curriculum
        exercise = self.recommended
        skill = int(self._exercise_skill[exercise])

        def columns(history: list[np.ndarray]) -> list[list[float]]:
            """(n_skills, n_answers): after each answer, one column per answer."""
            return np.asarray(history[1:]).reshape(-1, curriculum.n_skills).T.tolist()

        return {
            "policy": self.policy,
            "policy_description": policy_description(self.recommender),
            "mode": self.mode,
            "seed": self.seed,
            "n_answers": self.n_answers,
            "session_length": self.model.config.session_length,
            "max_answers": MAX_ANSWERS,
            "skills": curriculum.skill_names,
            "recommendation": {
                "exercise": exercise,
                "name": curriculum.exercise_names[exercise],
                "skill": skill,
                "skill_name": curriculum.skill_names[skill],
                "explanation": self.explanation,
            },
            "candidates": self.candidates(),
            "answers": [
                {
                    **answer,
                    "name": curriculum.exercise_names[answer["exercise"]],
                    "skill_name": curriculum.skill_names[answer["skill"]],
                }
                for answer in self.answers
            ],
            "knowledge": {
                "dkt": self.dkt_knowledge[-1].tolist(),
                "bkt_mastery": self.bkt_mastery[-1].tolist(),
                "truth": self.truth[-1].tolist() if self.truth is not None else None,
            },
            "heatmap": {
                "dkt": columns(self.dkt_knowledge),
                "truth": columns(self.truth) if self.truth is not None else None,
            },
        }
