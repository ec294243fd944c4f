"""Recommenders: which exercise should a student do next?

Every policy speaks one batched interface so that a tutoring simulation can run it on
thousands of students at once, and the one-student question of the issue
(``next_exercise(history)``) is built on top of it:

    session = recommender.start(n_students, rng)      # one session of n students
    exercises = session.choose()                      # (n,) exercise ids
    session.observe(exercises, correct)               # (n,), (n,) the answers
    session.explain(i)                                # why student i got exercises[i]
    session.scores()                                  # (n, n_exercises) how much each was preferred

Model-based policies read a *belief*: a batched, stepwise knowledge model over exercises
(``init(n) -> state``, ``p_correct(state) -> (n, n_exercises)``, ``update(state, exercises,
correct) -> state``, ``take(state, rows) -> state``). ``BKTBelief`` (below) is the BKT
posterior (Corbett and Anderson, 1995); ``DKTBelief`` steps a trained DKT one attempt at a time
and ``kt.tutoring.attention_belief.AttentionBelief`` reads SAKT, AKT or simpleKT. Beliefs only
ever see the answers, never the simulator's hidden state; the one exception is
``OracleRecommender``, which reads the hidden state by design and is an upper bound for reports,
never a real policy.

Policies: random, blocked (a run of ``run_length`` exercises per skill, in prerequisite
order), interleaved (round-robin over skills), mastery-threshold (practise the first skill in
prerequisite order whose BKT mastery is below 0.95: the cognitive-tutor rule), ZPD (predicted
p(correct) closest to a target, 0.7 by default), greedy (one-step expectimax: the exercise
maximising the expected mean predicted p(correct) after answering it; Piech et al., 2015),
expectimax with a horizon and a beam, and the oracle. The DQN tutor lives in
``kt/tutoring/dqn_tutor.py`` (it needs ``agents``).
"""

from __future__ import annotations

from typing import Any, Protocol, Sequence, runtime_checkable

import numpy as np
import pandas as pd
import torch


@runtime_checkable
class Belief(Protocol):
    """A batched knowledge model over exercises, stepped one attempt at a time."""

    n_exercises: int

    def init(self, n: int) -> Any:
        """State of ``n`` students who have done nothing yet."""

    def p_correct(self, state: Any) -> np.ndarray:
        """(n, n_exercises) predicted p(correct) on each exercise next."""

    def update(self, state: Any, exercises: np.ndarray, correct: np.ndarray) -> Any:
        """New state after each student answered ``exercises[i]`` with ``correct[i]``;
        ``state`` is not changed."""

    def take(self, state: Any, rows: np.ndarray) -> Any:
        """The state of students ``rows`` (repeats allowed): used to expand lookahead trees."""

    def skill_knowledge(self, state: Any) -> np.ndarray:
        """(n, n_skills) the model's per-skill estimate shown to people
        (mean p(correct) or mastery)."""

    def merge(self, state: Any, other: Any, rows_from_other: np.ndarray) -> Any:
        """``state`` with the students where ``rows_from_other`` (n,) bool is True taken from
        ``other`` (used on session resets)."""


def _as_int_array(values: Any, name: str, n: int, upper: int) -> np.ndarray:
    array = np.asarray(values)
    if array.shape != (n,):
        raise ValueError(f"{name} must have shape ({n},), got {array.shape}")
    if not np.issubdtype(array.dtype, np.integer) and not np.issubdtype(array.dtype, np.bool_):
        raise TypeError(f"{name} must hold integers, got dtype {array.dtype}")
    array = array.astype(np.int64)
    if n and (array.min() < 0 or array.max() >= upper):
        raise ValueError(
            f"{name} must be in [0, {upper}), got values from {array.min()} to {array.max()}"
        )
    return array


def _probability_array(
    values: Any, name: str, shape: tuple[int, ...], low_open: bool = False
) -> np.ndarray:
    array = np.broadcast_to(np.asarray(values, dtype=np.float64), shape).copy()
    if np.isnan(array).any() or array.min() < 0.0 or array.max() > 1.0:
        raise ValueError(
            f"{name} must hold probabilities in [0, 1], got values from {np.nanmin(array)} to "
            f"{np.nanmax(array)}"
        )
    return array


def skill_means(p_correct: np.ndarray, exercise_skill: np.ndarray) -> np.ndarray:
    """(n, n_skills) mean of (n, n_exercises) ``p_correct`` over each skill's exercises."""
    n_skills = int(exercise_skill.max()) + 1
    average = np.eye(n_skills)[exercise_skill]  # (n_exercises, n_skills) one-hot
    average /= average.sum(axis=0, keepdims=True)
    return p_correct @ average


class BKTBelief:
    """Bayesian knowledge tracing posterior, vectorised over students,
    with exercises tagged by skill.

    After an answer to an exercise of skill k, the mastery probability of skill k is updated by
    Bayes' rule with the exercise's guess and slip, then passed through the learn/forget
    transition: m' = m_post * (1 - forget) + (1 - m_post) * learn. Other skills do not change.
    p(correct on exercise e) = m[skill(e)] * (1 - slip[e]) + (1 - m[skill(e)]) * guess[e].

    Args:
        exercise_skill: (n_exercises,) skill index of each exercise.
        prior: (n_skills,) p(mastered) before any practice (a scalar broadcasts).
        learn: (n_skills,) p(unmastered -> mastered) per practice opportunity.
        guess: (n_exercises,) p(correct | unmastered).
        slip: (n_exercises,) p(wrong | mastered).
        forget: (n_skills,) p(mastered -> unmastered); 0 is standard BKT.
    """

    def __init__(
        self,
        exercise_skill: Sequence[int],
        prior: Any,
        learn: Any,
        guess: Any,
        slip: Any,
        forget: Any = 0.0,
    ) -> None:
        self.exercise_skill = np.asarray(exercise_skill, dtype=np.int64)
        if (
            self.exercise_skill.ndim != 1
            or self.exercise_skill.size == 0
            or self.exercise_skill.min() < 0
        ):
            raise ValueError(
                "exercise_skill must be a non-empty 1-D array of skill indices >= 0, got "
                f"{self.exercise_skill!r}"
            )
        self.n_exercises = int(self.exercise_skill.size)
        self.n_skills = int(self.exercise_skill.max()) + 1
        self.prior = _probability_array(prior, "prior", (self.n_skills,))
        self.learn = _probability_array(learn, "learn", (self.n_skills,))
        self.forget = _probability_array(forget, "forget", (self.n_skills,))
        self.guess = _probability_array(guess, "guess", (self.n_exercises,))
        self.slip = _probability_array(slip, "slip", (self.n_exercises,))

    def init(self, n: int) -> np.ndarray:
        """(n, n_skills) mastery probabilities before practice."""
        return np.tile(self.prior, (n, 1))

    def mastery(self, state: np.ndarray) -> np.ndarray:
        """(n, n_skills) p(mastered) per skill."""
        return state

    skill_knowledge = mastery

    def p_correct(self, state: np.ndarray) -> np.ndarray:
        """(n, n_exercises) predicted p(correct) on each exercise next."""
        mastered = state[:, self.exercise_skill]  # (n, n_exercises)
        return mastered * (1.0 - self.slip) + (1.0 - mastered) * self.guess

    def update(self, state: np.ndarray, exercises: np.ndarray, correct: np.ndarray) -> np.ndarray:
        """Posterior then transition for the practised skill of each student;
        returns a new (n, n_skills) array."""
        n = state.shape[0]
        exercises = _as_int_array(exercises, "exercises", n, self.n_exercises)
        correct = np.asarray(correct).astype(bool)
        rows = np.arange(n)
        skills = self.exercise_skill[exercises]  # (n,)
        mastered = state[rows, skills]  # (n,)
        slip, guess = self.slip[exercises], self.guess[exercises]
        likelihood_mastered = np.where(correct, 1.0 - slip, slip)  # (n,)
        likelihood_unmastered = np.where(correct, guess, 1.0 - guess)  # (n,)
        evidence = mastered * likelihood_mastered + (1.0 - mastered) * likelihood_unmastered
        posterior = mastered * likelihood_mastered / np.maximum(evidence, 1e-12)
        after = posterior * (1.0 - self.forget[skills]) + (1.0 - posterior) * self.learn[skills]
        new_state = state.copy()
        new_state[rows, skills] = after
        return new_state

    def take(self, state: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """(len(rows), n_skills) the selected students' states."""
        return state[rows]

    def merge(
        self, state: np.ndarray, other: np.ndarray, rows_from_other: np.ndarray
    ) -> np.ndarray:
        """``state`` with the students where ``rows_from_other`` (n,) bool is True taken from
        ``other``."""
        return np.where(rows_from_other[:, None], other, state)

    @classmethod
    def from_model(cls, model: Any, exercise_skill: Sequence[int]) -> "BKTBelief":
        """Build from a fitted ``kt.models.bkt.BKT`` whose skill ids are the
        curriculum's skill indices.

        Reads ``model.params`` (a DataFrame indexed by skill id with prior, learn, forget, guess,
        slip). A curriculum skill the model never saw gets the mean of the fitted skills'
        parameters; ``n_unfitted_skills`` counts them.
        """
        params = model.params
        exercise_skill = np.asarray(exercise_skill, dtype=np.int64)
        n_skills = int(exercise_skill.max()) + 1
        table = params.reindex(range(n_skills))
        unfitted = int(table["prior"].isna().sum())
        table = table.fillna(params.mean(numeric_only=True))
        belief = cls(
            exercise_skill,
            prior=table["prior"].to_numpy(),
            learn=table["learn"].to_numpy(),
            guess=table["guess"].to_numpy()[exercise_skill],
            slip=table["slip"].to_numpy()[exercise_skill],
            forget=table["forget"].to_numpy(),
        )
        belief.n_unfitted_skills = unfitted
        return belief


class DKTBelief:
    """A trained DKT stepped one attempt at a time for a batch of students.

    The DKT must model EXERCISES as its items (fitted on a table whose ``skill_id`` is the
    exercise index): its per-item output is then p(correct) on each exercise, which is what
    ZPD, greedy and expectimax compare. State: ``(outputs (n, hidden), recurrent state)``.

    Args:
        model: a fitted ``kt.models.dkt.DKT`` whose ``skill_ids`` are exercise indices.
        exercise_skill: (n_exercises,) skill of each exercise (for per-skill summaries).

    Raises:
        ValueError: if the model does not know every exercise (it was trained on too few logs).
    """

    def __init__(self, model: Any, exercise_skill: Sequence[int]) -> None:
        self.model = model
        self.network = model.network
        if self.network is None:
            raise ValueError("DKTBelief needs a fitted DKT (model.network is None)")
        self.exercise_skill = np.asarray(exercise_skill, dtype=np.int64)
        self.n_exercises = int(self.exercise_skill.size)
        self.n_skills = int(self.exercise_skill.max()) + 1
        known = np.asarray(model.skill_ids, dtype=np.int64)
        missing = sorted(set(range(self.n_exercises)) - set(known.tolist()))
        if missing:
            raise ValueError(
                f"DKTBelief: the DKT never saw exercises {missing} (its item ids are "
                f"{known.tolist()}); train it on logs covering every exercise"
            )
        self.model_index = np.searchsorted(
            known, np.arange(self.n_exercises)
        )  # (n_exercises,) exercise -> model item
        self._model_index = torch.from_numpy(self.model_index)
        self.network.eval()
        device = next(self.network.parameters()).device
        self._device = device

    def init(self, n: int) -> tuple:
        outputs = self.network.initial_outputs(n)  # (n, hidden)
        return outputs, None

    def p_correct(self, state: tuple) -> np.ndarray:
        """(n, n_exercises) predicted p(correct) on each exercise next."""
        with torch.no_grad():
            probabilities = self.network.head.probabilities(state[0])  # (n, n_items)
            return probabilities[:, self._model_index].double().cpu().numpy()

    def representation(self, state: tuple) -> np.ndarray:
        """(n, hidden) the LSTM's output after each student's last attempt: everything its
        predictions are read from, and more (a gain model may read it beside them)."""
        return state[0].cpu().numpy()

    def update(self, state: tuple, exercises: np.ndarray, correct: np.ndarray) -> tuple:
        n = state[0].shape[0]
        exercises = _as_int_array(exercises, "exercises", n, self.n_exercises)
        items = (
            torch.from_numpy(self.model_index[exercises]).to(self._device).unsqueeze(1)
        )  # (n, 1)
        answers = (
            torch.from_numpy(np.asarray(correct).astype(np.int64)).to(self._device).unsqueeze(1)
        )  # (n, 1)
        with torch.no_grad():
            outputs, recurrent = self.network.encode(
                items, answers, None, state[1]
            )  # (n, 1, hidden)
        return outputs[:, 0], recurrent

    def take(self, state: tuple, rows: np.ndarray) -> tuple:
        index = torch.from_numpy(np.asarray(rows, dtype=np.int64)).to(self._device)
        outputs, recurrent = state
        if recurrent is None:
            return outputs[index], None
        if isinstance(recurrent, tuple):
            return outputs[index], tuple(part[:, index] for part in recurrent)
        return outputs[index], recurrent[:, index]

    def merge(self, state: tuple, other: tuple, rows_from_other: np.ndarray) -> tuple:
        """``state`` with the students where ``rows_from_other`` (n,) bool is True taken from
        ``other``."""
        mask = torch.from_numpy(np.asarray(rows_from_other, dtype=bool)).to(self._device)
        outputs = torch.where(mask[:, None], other[0], state[0])  # (n, hidden)
        recurrent, other_recurrent = state[1], other[1]
        if recurrent is None and other_recurrent is None:
            return outputs, None
        if recurrent is None or other_recurrent is None:
            zeros = self._zeros_like(other_recurrent if recurrent is None else recurrent)
            recurrent = zeros if recurrent is None else recurrent
            other_recurrent = zeros if other_recurrent is None else other_recurrent
        if isinstance(recurrent, tuple):
            merged = tuple(
                torch.where(mask[None, :, None], b, a) for a, b in zip(recurrent, other_recurrent)
            )
        else:
            merged = torch.where(mask[None, :, None], other_recurrent, recurrent)
        return outputs, merged

    def _zeros_like(self, recurrent: Any) -> Any:
        if isinstance(recurrent, tuple):
            return tuple(torch.zeros_like(part) for part in recurrent)
        return torch.zeros_like(recurrent)

    def skill_knowledge(self, state: tuple) -> np.ndarray:
        """(n, n_skills) mean predicted p(correct) over each skill's exercises."""
        return skill_means(self.p_correct(state), self.exercise_skill)


class Session:
    """One tutoring session of ``n`` students under a policy; subclasses fill in ``_choose``."""

    def __init__(
        self, recommender: "Recommender", n_students: int, rng: np.random.Generator
    ) -> None:
        if n_students < 1:
            raise ValueError(f"n_students must be >= 1, got {n_students}")
        self.recommender = recommender
        self.n_students = n_students
        self.rng = rng
        self.step = 0
        self.attempts = np.zeros((n_students, recommender.n_exercises), dtype=np.int64)
        self.last_choice: np.ndarray | None = None

    def choose(self) -> np.ndarray:
        """(n,) the next exercise of each student."""
        self.last_choice = np.asarray(self._choose(), dtype=np.int64)
        return self.last_choice

    def observe(self, exercises: Any, correct: Any) -> None:
        """Record each student's answer to the exercise they did
        (need not be the recommended one)."""
        exercises = _as_int_array(
            exercises, "exercises", self.n_students, self.recommender.n_exercises
        )
        correct = np.asarray(correct)
        if correct.shape != (self.n_students,):
            raise ValueError(f"correct must have shape ({self.n_students},), got {correct.shape}")
        if correct.dtype != bool and not np.isin(correct, (0, 1)).all():
            bad = correct[~np.isin(correct, (0, 1))][0]
            raise ValueError(f"correct must hold 0/1 or booleans, got {bad!r}")
        self.attempts[np.arange(self.n_students), exercises] += 1
        self._observe(exercises, correct.astype(bool))
        self.step += 1

    def explain(self, student: int = 0) -> str:
        """Why the last choice was made for ``student`` (a short sentence for people)."""
        if self.last_choice is None:
            raise ValueError("explain() needs a choose() first")
        return self._explain(student, int(self.last_choice[student]))

    def scores(self) -> np.ndarray:
        """How much the policy preferred each exercise at the last ``choose()`` (higher: preferred).

        Each policy's own quantity: the lookahead value (greedy, expectimax; ``-inf`` outside
        expectimax's beam), minus the distance of the predicted p(correct) to the target (ZPD),
        the rank of the exercise's skill in the mastery rule's order (mastery), E[R | A, S]
        (DQN tutor), the oracle's expected post-test; 1 for the scheduled exercise and 0 for
        the others (blocked, interleaved); 0 everywhere (random: all equally likely). Every
        exercise the policy chose is among the highest-scored ones of its row.

        Returns:
            (n, n_exercises) float64.

        Raises:
            ValueError: before the first ``choose()``.
        """
        if self.last_choice is None:
            raise ValueError("scores() needs a choose() first")
        return np.asarray(self._scores(), dtype=np.float64)

    def fork(self, rows: np.ndarray, rng: np.random.Generator) -> "Session":
        """A new session of ``len(rows)`` students, each where student ``rows[i]`` of this one
        is now (a rollout continues each copy on its own; this session does not change).

        Policies that keep more than the step, the attempt counts and a belief state override it.
        """
        rows = np.asarray(rows, dtype=np.int64)
        forked = self.recommender.start(len(rows), rng)
        forked.step = self.step
        forked.attempts = self.attempts[rows].copy()
        return forked

    def _choose(self) -> np.ndarray:
        raise NotImplementedError

    def _observe(self, exercises: np.ndarray, correct: np.ndarray) -> None:
        """Policies without a model need nothing beyond the attempt counts."""

    def _explain(self, student: int, exercise: int) -> str:
        return f"{self.recommender.exercise_label(exercise)}: {self.recommender.name} policy"

    def _scores(self) -> np.ndarray:
        """Policies without a finer preference: 1 for the chosen exercise, 0 for the others."""
        chosen = np.zeros((self.n_students, self.recommender.n_exercises))
        chosen[np.arange(self.n_students), self.last_choice] = 1.0
        return chosen


class Recommender:
    """Base class: a named policy over ``n_exercises`` exercises tagged with skills.

    Args:
        exercise_skill: (n_exercises,) skill index of each exercise.
        exercise_names: optional names for explanations.
        skill_names: optional names for explanations.
    """

    name = "base"
    session_class: type[Session] = Session

    def __init__(
        self,
        exercise_skill: Sequence[int],
        exercise_names: Sequence[str] | None = None,
        skill_names: Sequence[str] | None = None,
    ) -> None:
        self.exercise_skill = np.asarray(exercise_skill, dtype=np.int64)
        if (
            self.exercise_skill.ndim != 1
            or self.exercise_skill.size == 0
            or self.exercise_skill.min() < 0
        ):
            raise ValueError(
                "exercise_skill must be a non-empty 1-D array of skill indices >= 0, got "
                f"{exercise_skill!r}"
            )
        self.n_exercises = int(self.exercise_skill.size)
        self.n_skills = int(self.exercise_skill.max()) + 1
        self.exercise_names = (
            list(exercise_names)
            if exercise_names is not None
            else [f"exercise {e}" for e in range(self.n_exercises)]
        )
        self.skill_names = (
            list(skill_names)
            if skill_names is not None
            else [f"skill {k}" for k in range(self.n_skills)]
        )
        if len(self.exercise_names) != self.n_exercises or len(self.skill_names) != self.n_skills:
            raise ValueError(
                f"need {self.n_exercises} exercise names and {self.n_skills} skill names, "
                f"got {len(self.exercise_names)} and {len(self.skill_names)}"
            )

    def exercise_label(self, exercise: int) -> str:
        return (
            f"{self.exercise_names[exercise]} ({self.skill_names[self.exercise_skill[exercise]]})"
        )

    def start(self, n_students: int, rng: np.random.Generator, simulator: Any = None) -> Session:
        """Open a session for ``n_students`` students; ``simulator`` is only read by the oracle."""
        return self.session_class(self, n_students, rng)

    def next_exercise(self, history: pd.DataFrame, seed: int = 0) -> int:
        """The exercise for one student after ``history``
        (canonical rows; ``item_id`` is the exercise).

        Rows are replayed in ``order``; rows sharing an ``order`` are one attempt, of which the
        first row's exercise and answer are used
        (the simulated curricula tag one skill per exercise).
        """
        session = self.start(1, np.random.default_rng(seed))
        if len(history):
            attempts = history.sort_values("order", kind="stable").drop_duplicates("order")
            for exercise, correct in zip(
                attempts["item_id"].to_numpy(), attempts["correct"].to_numpy()
            ):
                session.observe(np.array([exercise]), np.array([correct]))
        return int(session.choose()[0])


def _random_tie_break(
    scores: np.ndarray, rng: np.random.Generator, maximize: bool = True
) -> np.ndarray:
    """(n,) argmax (or argmin) of each row of ``scores`` (n, k), ties broken uniformly at random."""
    signed = scores if maximize else -scores
    best = signed.max(axis=1, keepdims=True)
    ties = signed >= best - 1e-12  # (n, k)
    noise = rng.random(scores.shape) * ties
    return np.argmax(noise + ties, axis=1)


class _RandomSession(Session):
    def _choose(self) -> np.ndarray:
        return self.rng.integers(0, self.recommender.n_exercises, size=self.n_students)

    def _scores(self) -> np.ndarray:
        return np.zeros((self.n_students, self.recommender.n_exercises))  # all equally likely


class RandomRecommender(Recommender):
    """Uniformly random exercise each step: the baseline every policy is compared with."""

    name = "random"
    session_class = _RandomSession


def _skill_order(recommender: Recommender, skill_order: Sequence[int] | None) -> np.ndarray:
    order = (
        np.arange(recommender.n_skills)
        if skill_order is None
        else np.asarray(skill_order, dtype=np.int64)
    )
    if sorted(order.tolist()) != list(range(recommender.n_skills)):
        raise ValueError(
            f"skill_order must be a permutation of 0..{recommender.n_skills - 1}, got {list(order)}"
        )
    return order


def _exercises_by_skill(
    recommender: Recommender, difficulty: Sequence[float] | None
) -> list[np.ndarray]:
    """Each skill's exercises, easiest first when difficulties are given."""
    keys = (
        np.zeros(recommender.n_exercises)
        if difficulty is None
        else np.asarray(difficulty, dtype=np.float64)
    )
    groups = []
    for skill in range(recommender.n_skills):
        members = np.flatnonzero(recommender.exercise_skill == skill)
        groups.append(members[np.argsort(keys[members], kind="stable")])
    return groups


class _ScheduleSession(Session):
    def _choose(self) -> np.ndarray:
        exercise = self.recommender.schedule(self.step)
        return np.full(self.n_students, exercise, dtype=np.int64)

    def _explain(self, student: int, exercise: int) -> str:
        return (
            f"{self.recommender.exercise_label(exercise)}: step {self.step} of the fixed "
            f"{self.recommender.name} schedule"
        )


class BlockedRecommender(Recommender):
    """Fixed order: ``run_length`` exercises of one skill (cycling its exercises, easiest first),
    then the next skill in ``skill_order`` (prerequisite order);
    after the last skill it starts over.

    Args:
        run_length: exercises per skill block (the default run uses session_length // n_skills,
            so a 50-step session on 5 skills gives blocks of 10).
        skill_order: skills in teaching order (e.g. ``Curriculum.topological_order()``).
        difficulty: (n_exercises,) to order exercises within a skill.
    """

    name = "blocked"
    session_class = _ScheduleSession

    def __init__(
        self, exercise_skill, run_length: int, skill_order=None, difficulty=None, **names
    ) -> None:
        super().__init__(exercise_skill, **names)
        if run_length < 1:
            raise ValueError(f"run_length must be >= 1, got {run_length}")
        self.run_length = run_length
        self.skill_order = _skill_order(self, skill_order)
        self.groups = _exercises_by_skill(self, difficulty)

    def schedule(self, step: int) -> int:
        block, within = divmod(step, self.run_length)
        skill = self.skill_order[block % self.n_skills]
        members = self.groups[skill]
        return int(members[within % members.size])


class InterleavedRecommender(Recommender):
    """Round-robin over skills in ``skill_order`` (one exercise each),
    cycling each skill's exercises easiest first."""

    name = "interleaved"
    session_class = _ScheduleSession

    def __init__(self, exercise_skill, skill_order=None, difficulty=None, **names) -> None:
        super().__init__(exercise_skill, **names)
        self.skill_order = _skill_order(self, skill_order)
        self.groups = _exercises_by_skill(self, difficulty)

    def schedule(self, step: int) -> int:
        rounds, position = divmod(step, self.n_skills)
        members = self.groups[self.skill_order[position]]
        return int(members[rounds % members.size])


class _BeliefSession(Session):
    def __init__(self, recommender, n_students, rng) -> None:
        super().__init__(recommender, n_students, rng)
        self.state = recommender.belief.init(n_students)

    def _observe(self, exercises: np.ndarray, correct: np.ndarray) -> None:
        self.state = self.recommender.belief.update(self.state, exercises, correct)

    def fork(self, rows: np.ndarray, rng: np.random.Generator) -> Session:
        forked = super().fork(rows, rng)
        forked.state = self.recommender.belief.take(self.state, np.asarray(rows, dtype=np.int64))
        return forked

    def p_correct(self) -> np.ndarray:
        """(n, n_exercises) the belief's current prediction."""
        return self.recommender.belief.p_correct(self.state)

    def skill_knowledge(self) -> np.ndarray:
        """(n, n_skills) the belief's per-skill estimate."""
        return self.recommender.belief.skill_knowledge(self.state)


class _BeliefRecommender(Recommender):
    def __init__(self, belief: Belief, exercise_skill, **names) -> None:
        super().__init__(exercise_skill, **names)
        if belief.n_exercises != self.n_exercises:
            raise ValueError(
                f"belief models {belief.n_exercises} exercises but the curriculum has "
                f"{self.n_exercises}"
            )
        self.belief = belief


class _MasterySession(_BeliefSession):
    def _choose(self) -> np.ndarray:
        recommender = self.recommender
        mastery = recommender.belief.mastery(self.state)[
            :, recommender.skill_order
        ]  # (n, n_skills) in teaching order
        below = mastery < recommender.threshold  # (n, n_skills)
        # First unmastered skill in prerequisite order;
        # when all are mastered, the least mastered one.
        position = np.where(below.any(axis=1), np.argmax(below, axis=1), np.argmin(mastery, axis=1))
        self.current_skill = recommender.skill_order[position]  # (n,)
        # The rule's whole order of preference: unmastered skills in prerequisite order (keys
        # below 0), then mastered ones, least mastered first (keys = mastery >= threshold > 0).
        n_skills = recommender.n_skills
        key = np.where(below, np.arange(n_skills) - n_skills, mastery)  # (n, n_skills)
        rank = np.argsort(np.argsort(key, axis=1, kind="stable"), axis=1)  # (n, n_skills)
        self.skill_rank = np.empty_like(rank)
        self.skill_rank[:, recommender.skill_order] = rank  # (n, n_skills) by skill index
        choice = np.empty(self.n_students, dtype=np.int64)
        for skill in np.unique(self.current_skill):
            rows = np.flatnonzero(self.current_skill == skill)
            members = recommender.groups[skill]
            done = self.attempts[np.ix_(rows, members)].sum(
                axis=1
            )  # (rows,) practice so far on this skill
            choice[rows] = members[done % members.size]
        return choice

    def _explain(self, student: int, exercise: int) -> str:
        recommender = self.recommender
        skill = int(self.current_skill[student])
        mastery = recommender.belief.mastery(self.state)[student]
        return (
            f"{recommender.exercise_label(exercise)}: {recommender.skill_names[skill]} is the "
            "first skill in prerequisite order below the mastery threshold "
            f"{recommender.threshold:.2f} (BKT mastery {mastery[skill]:.2f})"
        )

    def _scores(self) -> np.ndarray:
        """n_skills for the current skill's exercises, one less per later skill in the rule."""
        recommender = self.recommender
        return (recommender.n_skills - self.skill_rank)[:, recommender.exercise_skill]


class MasteryRecommender(_BeliefRecommender):
    """Cognitive-tutor mastery learning: practise the first skill in prerequisite order whose BKT
    mastery estimate is below ``threshold`` (0.95), cycling its exercises easiest first.

    Args:
        belief: a ``BKTBelief`` (needs ``mastery(state)``).
        exercise_skill: (n_exercises,) skill of each exercise.
        skill_order: prerequisite (topological) order of skills.
        threshold: mastery probability at which a skill counts as learned.
        difficulty: (n_exercises,) to order exercises within a skill.
    """

    name = "mastery"
    session_class = _MasterySession

    def __init__(
        self,
        belief: BKTBelief,
        exercise_skill,
        skill_order=None,
        threshold: float = 0.95,
        difficulty=None,
        **names,
    ) -> None:
        super().__init__(belief, exercise_skill, **names)
        if not 0.0 < threshold < 1.0:
            raise ValueError(f"threshold must be in (0, 1), got {threshold}")
        if not hasattr(belief, "mastery"):
            raise TypeError(
                "MasteryRecommender needs a belief with mastery(state) (e.g. BKTBelief), got "
                f"{type(belief).__name__}"
            )
        self.threshold = threshold
        self.skill_order = _skill_order(self, skill_order)
        self.groups = _exercises_by_skill(self, difficulty)


class _ZPDSession(_BeliefSession):
    def _choose(self) -> np.ndarray:
        self.distance = np.abs(self.p_correct() - self.recommender.target)  # (n, n_exercises)
        return _random_tie_break(self.distance, self.rng, maximize=False)

    def _scores(self) -> np.ndarray:
        return -self.distance

    def _explain(self, student: int, exercise: int) -> str:
        p = self.p_correct()[student, exercise]
        return (
            f"{self.recommender.exercise_label(exercise)}: predicted p(correct) {p:.2f} is the "
            "closest to the zone-of-proximal-development target "
            f"{self.recommender.target:.2f}"
        )


class ZPDRecommender(_BeliefRecommender):
    """Zone of proximal development: the exercise whose predicted p(correct) is closest to
    ``target`` (0.7)."""

    name = "zpd"
    session_class = _ZPDSession

    def __init__(self, belief: Belief, exercise_skill, target: float = 0.7, **names) -> None:
        super().__init__(belief, exercise_skill, **names)
        if not 0.0 < target < 1.0:
            raise ValueError(f"target must be in (0, 1), got {target}")
        self.target = target


def expectimax_values(belief: Belief, state: Any, n: int, horizon: int, beam: int) -> np.ndarray:
    """Depth-limited expectimax over answers: the value of doing each exercise next.

    value(s, e) = sum_a p(a | s, e) * V(s'(e, a), horizon - 1), with V(s, 0) = mean over exercises
    of the predicted p(correct) in s, and V(s, d) = max over exercises of value(s, e) where,
    at every node (the root included), only the ``beam`` exercises with the best one-step value
    are expanded further; the others get -inf at the root (they are never chosen when horizon > 1).

    Cost: each level expands every exercise with both answers for every node (2 * n_exercises belief
    steps per node), and keeps ``2 * beam`` children per node, so a decision costs about
    2 * n_exercises * ((2 * beam) ** horizon - 1) / (2 * beam - 1) belief steps per student.

    Args:
        belief: the knowledge model.
        state: the belief state of ``n`` students.
        n: number of students in ``state``.
        horizon: lookahead depth >= 1 (1 is greedy).
        beam: exercises expanded further per node (>= 1).

    Returns:
        (n, n_exercises) expected value of each first exercise (-inf outside the root's beam when
        horizon > 1).
    """
    if horizon < 1 or beam < 1:
        raise ValueError(f"horizon and beam must be >= 1, got horizon={horizon}, beam={beam}")
    n_exercises = belief.n_exercises
    p_now = belief.p_correct(state)  # (n, E)
    rows = np.repeat(np.arange(n), 2 * n_exercises)  # (n*E*2,)
    exercises = np.tile(np.repeat(np.arange(n_exercises), 2), n)  # (n*E*2,)
    answers = np.tile(np.array([1, 0]), n * n_exercises)  # (n*E*2,)
    children = belief.update(belief.take(state, rows), exercises, answers)
    p_child = belief.p_correct(children)  # (n*E*2, E)
    leaf = p_child.mean(axis=1).reshape(n, n_exercises, 2)  # (n, E, 2): V(child, 0)
    if horizon > 1:
        # Beam: expand the children of the `beam` exercises with the best one-step value.
        one_step = p_now * leaf[:, :, 0] + (1.0 - p_now) * leaf[:, :, 1]  # (n, E)
        keep = np.argsort(-one_step, axis=1, kind="stable")[:, :beam]  # (n, beam)
        child_index = (np.arange(n)[:, None, None] * n_exercises + keep[:, :, None]) * 2 + np.array(
            [0, 1]
        )  # (n, beam, 2)
        deeper_state = belief.take(children, child_index.reshape(-1))
        deeper = expectimax_values(belief, deeper_state, n * beam * 2, horizon - 1, beam).max(
            axis=1
        )  # (n*beam*2,)
        leaf_kept = deeper.reshape(n, beam, 2)
        leaf = np.full((n, n_exercises, 2), -np.inf)
        np.put_along_axis(leaf, keep[:, :, None].repeat(2, axis=2), leaf_kept, axis=1)
    value = p_now * leaf[:, :, 0] + (1.0 - p_now) * leaf[:, :, 1]  # (n, E); -inf outside the beam
    return value


def gain_lookahead_values(
    belief: Belief, gains: Any, state: Any, n: int, horizon: int, beam: int, step: int = 0
) -> np.ndarray:
    """Expectimax over answers on estimated learning gains: the value of doing each exercise next.

    value(s, e) = g(s, e) + sum_a p(a | s, e) * V(s'(e, a), horizon - 1), with V(s, 0) = 0 and
    V(s, d) = the best value among the ``beam`` exercises of largest g(s, .). ``g`` is an estimate
    of what practice TEACHES (``gains(state, step) -> (n, n_exercises)``, e.g. a
    ``kt.tutoring.gain_model.GainModel`` over the belief), not of what an answer reveals; the belief
    only supplies the answer probabilities and the states after them.

    Args:
        belief: the knowledge model.
        gains: the gain estimate, called with a belief state and the step it is at.
        state: the belief state of ``n`` students.
        n: number of students in ``state``.
        horizon: lookahead depth >= 1 (1 is greedy on the gains).
        beam: exercises expanded further per node (>= 1).
        step: session steps done (the gain estimate may depend on the time left).

    Returns:
        (n, n_exercises) value of each first exercise (-inf outside the beam when horizon > 1).
    """
    if horizon < 1 or beam < 1:
        raise ValueError(f"horizon and beam must be >= 1, got horizon={horizon}, beam={beam}")
    immediate = np.asarray(gains(state, step), dtype=np.float64)  # (n, E)
    if horizon == 1:
        return immediate
    n_exercises = belief.n_exercises
    keep = np.argsort(-immediate, axis=1, kind="stable")[:, :beam]  # (n, beam)
    p_now = belief.p_correct(state)  # (n, E)
    rows = np.repeat(np.arange(n), 2 * beam)  # (n*beam*2,)
    exercises = np.repeat(keep.reshape(-1), 2)  # (n*beam*2,)
    answers = np.tile(np.array([1, 0]), n * beam)  # (n*beam*2,)
    children = belief.update(belief.take(state, rows), exercises, answers)
    later = gain_lookahead_values(
        belief, gains, children, n * beam * 2, horizon - 1, beam, step + 1
    )
    later = later.max(axis=1).reshape(n, beam, 2)  # (n, beam, [right, wrong])
    p_kept = np.take_along_axis(p_now, keep, axis=1)  # (n, beam)
    value = np.full((n, n_exercises), -np.inf)
    kept_value = (
        np.take_along_axis(immediate, keep, axis=1)
        + p_kept * later[:, :, 0]
        + (1.0 - p_kept) * later[:, :, 1]
    )
    np.put_along_axis(value, keep, kept_value, axis=1)
    return value


class _LookaheadSession(_BeliefSession):
    def _choose(self) -> np.ndarray:
        recommender = self.recommender
        if recommender.gains is not None:
            self.values = gain_lookahead_values(
                recommender.belief, recommender.gains, self.state, self.n_students,
                recommender.horizon, recommender.beam, self.step,
            )  # fmt: skip
        else:
            self.values = expectimax_values(
                recommender.belief,
                self.state,
                self.n_students,
                recommender.horizon,
                recommender.beam,
            )
        return _random_tie_break(self.values, self.rng)

    def _explain(self, student: int, exercise: int) -> str:
        recommender = self.recommender
        if recommender.gains is not None:
            return (
                f"{recommender.exercise_label(exercise)}: {recommender.horizon}-step lookahead on "
                f"the learned gain model expects it to raise the post-test by "
                f"{100 * self.values[student, exercise]:.2f} points, the most"
            )
        now = self.p_correct()[student].mean()
        return (
            f"{recommender.exercise_label(exercise)}: {recommender.horizon}-step expectimax "
            "expects the mean predicted p(correct) over all exercises to reach "
            f"{self.values[student, exercise]:.3f} (now {now:.3f}), the best option"
        )

    def _scores(self) -> np.ndarray:
        return self.values


class GreedyRecommender(_BeliefRecommender):
    """Greedy: the exercise with the best one-step value.

    Without ``gains``, DKT greedy as in Piech et al. (2015): the value is the expected (over the
    predicted answer) mean predicted p(correct) after answering. With ``gains`` (an estimate of
    what practice teaches, see ``gain_lookahead_values``), the exercise with the largest
    estimated learning gain.
    """

    name = "greedy"
    session_class = _LookaheadSession
    horizon = 1
    beam = 1

    def __init__(self, belief: Belief, exercise_skill, gains: Any = None, **names) -> None:
        super().__init__(belief, exercise_skill, **names)
        self.gains = gains


class ExpectimaxRecommender(_BeliefRecommender):
    """DKT expectimax with a ``horizon`` and a ``beam`` (see ``expectimax_values`` for the cost).

    Piech et al. (2015) searched 8 steps ahead by sampling; here every answer is expanded exactly
    and the breadth is cut by the beam instead, which makes the search deterministic and its cost
    known.
    """

    name = "expectimax"
    session_class = _LookaheadSession

    def __init__(
        self,
        belief: Belief,
        exercise_skill,
        horizon: int = 2,
        beam: int = 2,
        gains: Any = None,
        **names,
    ) -> None:
        super().__init__(belief, exercise_skill, **names)
        if horizon < 1 or beam < 1:
            raise ValueError(f"horizon and beam must be >= 1, got horizon={horizon}, beam={beam}")
        self.horizon = horizon
        self.beam = beam
        self.gains = gains
        self.name = f"expectimax{horizon}"


class _OracleSession(Session):
    def __init__(self, recommender, n_students, rng, simulator) -> None:
        super().__init__(recommender, n_students, rng)
        self.simulator = simulator

    def _choose(self) -> np.ndarray:
        self.values = self.simulator.expected_post_test_after()  # (n, E)
        return _random_tie_break(self.values, self.rng)

    def _explain(self, student: int, exercise: int) -> str:
        return (
            f"{self.recommender.exercise_label(exercise)}: the ORACLE read the hidden student "
            f"state; expected post-test after it {self.values[student, exercise]:.3f}"
        )

    def _scores(self) -> np.ndarray:
        return self.values


class OracleRecommender(Recommender):
    """Upper bound for reports only, never a real policy: reads the simulator's HIDDEN state.

    It picks the exercise with the best true expected post-test after one more step (one-step
    lookahead, exact: the simulator's ``expected_gains``). ``start`` needs the ``simulator``
    argument: an object with ``expected_post_test_after() -> (n, n_exercises)``
    (``kt.tutoring.simulation.SimulatedClass``).
    """

    name = "oracle"

    def start(self, n_students: int, rng: np.random.Generator, simulator: Any = None) -> Session:
        if simulator is None:
            raise ValueError(
                "OracleRecommender.start needs the simulator (it reads the hidden state); "
                "it is for reports only"
            )
        return _OracleSession(self, n_students, rng, simulator)
