"""Learning dynamics of simulated students, vectorised over a population.

Two models share one interface (:class:`StudentDynamics`); every array has a leading axis
``n_students`` and no method loops over students in Python.

``bkt`` (Bayesian knowledge tracing, Corbett & Anderson 1995, with forgetting): each skill is
mastered or not. Answering exercise e of skill s is correct with probability ``1 - slip[e]``
if s is mastered and ``guess[e]`` if not. After the answer, an unmastered s becomes mastered
with the student's ``learn[s]``, multiplied by ``prerequisite_penalty`` while any
prerequisite of s is unmastered; a mastered s is forgotten with ``forget[s]``. Only the
practised skill changes. Exercise difficulty is not used (the curriculum's harder
exercises have lower guess and higher slip rates instead).

``irt`` (item response with growth): each skill has a continuous ability ``a``. The answer
to exercise e of skill s is correct with probability ``g + (1 - g) * q``, ``q =
sigmoid(a[s] - difficulty[e])`` and ``g = guess[e]`` (slip is not used). After the answer,
``a[s] += growth[s] * 4 q (1 - q)``, times ``prerequisite_damping`` while any prerequisite
is unmastered: practice at moderate difficulty (q near 1/2) teaches most, far too easy or
far too hard exercises teach little.

Population: each student draws a learning-rate multiplier ``m ~ exp(N(0, sd) - sd**2 / 2)``
(lognormal with mean 1): fast and slow learners. ``bkt``: ``learn_i[s] = 1 - (1 -
learn[s]) ** m_i`` (equal to ``learn[s]`` when ``m_i = 1``, always a probability) and the
prior is jittered on the logit scale, ``prior_i[s] = sigmoid(logit(prior[s]) + N(0,
prior_sd))``. ``irt``: ``growth_i[s] = growth_rate[s] * m_i`` and ``a_i[s] ~ N(ability_mean[s],
ability_sd[s])``. Setting ``learn_rate_sd = prior_sd = 0`` (``growth_rate_sd = 0``,
``ability_sd = 0``) turns the variation off.

Fitting to logged data: per-skill parameters are plain arrays in the curriculum's skill
order (a scalar broadcasts to every skill); per-exercise guess/slip/difficulty live in the
curriculum. A calibrated simulator from per-skill BKT fits (EM per skill gives prior, learn,
forget, guess, slip; the skill's guess/slip go to each of its exercises):

    >>> import numpy as np
    >>> from riley_gym.envs.curriculum import load_curriculum
    >>> from riley_gym.envs.student_dynamics import BKTDynamics, BKTParams
    >>> fitted_guess = np.array([0.2, 0.15, 0.1, 0.1, 0.25])  # per skill, curriculum order
    >>> fitted_slip = np.array([0.1, 0.1, 0.05, 0.1, 0.08])
    >>> riley = load_curriculum("riley")
    >>> curriculum = riley.replace_exercise_parameters(
    ...     guess=fitted_guess[riley.exercise_skill], slip=fitted_slip[riley.exercise_skill])
    >>> params = BKTParams(prior=(0.3, 0.4, 0.2, 0.05, 0.5), learn=(0.2, 0.2, 0.15, 0.1, 0.3),
    ...                    forget=0.0, learn_rate_sd=0.0, prior_sd=0.0)
    >>> dynamics = BKTDynamics(curriculum, params)
    >>> state = dynamics.init_state(1000, np.random.default_rng(0))
    >>> dynamics.p_correct(state).shape
    (1000, 16)

The same dynamics object can drive an env: ``StudentEnv(dynamics=dynamics)`` or
``StudentVectorEnv(4096, dynamics=dynamics)``.

Random stream (fixed, so a scalar reference can replay it): ``init_state``/``reset_students``
for k students draw ``standard_normal(k)`` (learning-rate multipliers), then
``standard_normal((k, n_skills))`` (prior or ability jitter), then, for ``bkt`` only,
``random((k, n_skills))`` (initial mastery: mastered when below the student's prior).
``step`` draws ``random(n)`` for the answers (correct when below p(correct)), then, for
``bkt`` only, ``random(n)`` for the transition (learned when below the effective learn
rate; forgotten when below ``forget``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from typing import Sequence, Union

import numpy as np

from riley_gym.envs.curriculum import Curriculum, load_curriculum

PerSkill = Union[float, Sequence[float]]
DYNAMICS = ("bkt", "irt")


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _check_per_skill(
    value: PerSkill, name: str, owner: str, low: float, high: float, high_open: bool = False
) -> None:
    values = (value,) if np.ndim(value) == 0 else tuple(value)
    if not values:
        raise ValueError(
            f"{owner}.{name}: expected a number or a non-empty per-skill sequence, got {value!r}"
        )
    for v in values:
        if (
            isinstance(v, bool)
            or not isinstance(v, (int, float, np.integer, np.floating))
            or not math.isfinite(v)
        ):
            raise ValueError(f"{owner}.{name}: values must be finite numbers, got {value!r}")
        if v < low or v > high or (high_open and v == high):
            bracket = ")" if high_open else "]"
            raise ValueError(
                f"{owner}.{name}: value {v} is outside the allowed range [{low}, {high}{bracket}"
            )


def _per_skill_array(value: PerSkill, name: str, owner: str, curriculum: Curriculum) -> np.ndarray:
    """``(n_skills,)`` float64 from a scalar or a per-skill sequence in curriculum order."""
    if np.ndim(value) == 0:
        return np.full(curriculum.n_skills, float(value))
    array = np.asarray(value, dtype=np.float64)
    if array.shape != (curriculum.n_skills,):
        raise ValueError(
            f"{owner}.{name}: expected a scalar or {curriculum.n_skills} values "
            f"(one per skill, in the order {curriculum.skill_names}), got shape {array.shape}"
        )
    return array


def _lognormal_multiplier(z: np.ndarray, sd: float) -> np.ndarray:
    """Mean-one lognormal multipliers from standard normals ``z``."""
    return np.exp(sd * z - 0.5 * sd * sd)


@dataclass(frozen=True)
class BKTParams:
    """Parameters of the ``bkt`` dynamics (guess and slip come from the curriculum's exercises).

    Per-skill fields take a scalar (every skill) or one value per skill in curriculum order.
    """

    prior: PerSkill = field(
        default=0.15, metadata={"help": "P(skill mastered at the start), per skill"}
    )
    learn: PerSkill = field(
        default=0.2, metadata={"help": "P(unmastered -> mastered) per practice, per skill"}
    )
    forget: PerSkill = field(
        default=0.0, metadata={"help": "P(mastered -> unmastered) per practice, per skill"}
    )
    prerequisite_penalty: float = field(
        default=0.1, metadata={"help": "multiplier on learn while any prerequisite is unmastered"}
    )
    learn_rate_sd: float = field(
        default=0.5,
        metadata={"help": "sd of the per-student log learning-rate multiplier (0: no variation)"},
    )
    prior_sd: float = field(
        default=0.5, metadata={"help": "sd of the per-student prior jitter on the logit scale"}
    )

    def __post_init__(self) -> None:
        for name in ("prior", "learn", "forget"):
            _check_per_skill(getattr(self, name), name, "BKTParams", 0.0, 1.0)
        _check_per_skill(self.prerequisite_penalty, "prerequisite_penalty", "BKTParams", 0.0, 1.0)
        _check_per_skill(self.learn_rate_sd, "learn_rate_sd", "BKTParams", 0.0, 5.0)
        _check_per_skill(self.prior_sd, "prior_sd", "BKTParams", 0.0, 10.0)

    def to_dict(self) -> dict:
        """JSON-able plain data (tuples become lists)."""
        return {f.name: _plain(getattr(self, f.name)) for f in fields(self)}


@dataclass(frozen=True)
class IRTParams:
    """Parameters of the ``irt`` dynamics (difficulty and guess come from the
    curriculum's exercises).

    Per-skill fields take a scalar (every skill) or one value per skill in curriculum order.
    """

    ability_mean: PerSkill = field(
        default=-1.0, metadata={"help": "population mean of the initial ability, per skill"}
    )
    ability_sd: PerSkill = field(
        default=0.5, metadata={"help": "population sd of the initial ability, per skill"}
    )
    growth_rate: PerSkill = field(
        default=0.3,
        metadata={"help": "ability gained by one practice at q = 1/2 (logits), per skill"},
    )
    growth_rate_sd: float = field(
        default=0.3,
        metadata={"help": "sd of the per-student log growth-rate multiplier (0: no variation)"},
    )
    prerequisite_damping: float = field(
        default=0.2, metadata={"help": "multiplier on growth while any prerequisite is unmastered"}
    )
    mastery_threshold: float = field(
        default=0.5,
        metadata={
            "help": "a skill is mastered when sigmoid(ability) >= this (gates prerequisites)"
        },
    )

    def __post_init__(self) -> None:
        _check_per_skill(self.ability_mean, "ability_mean", "IRTParams", -20.0, 20.0)
        _check_per_skill(self.ability_sd, "ability_sd", "IRTParams", 0.0, 10.0)
        _check_per_skill(self.growth_rate, "growth_rate", "IRTParams", 0.0, 10.0)
        _check_per_skill(self.growth_rate_sd, "growth_rate_sd", "IRTParams", 0.0, 5.0)
        _check_per_skill(self.prerequisite_damping, "prerequisite_damping", "IRTParams", 0.0, 1.0)
        if not 0.0 < self.mastery_threshold < 1.0:
            raise ValueError(
                f"IRTParams.mastery_threshold: {self.mastery_threshold} is outside the "
                "allowed range (0, 1)"
            )

    def to_dict(self) -> dict:
        """JSON-able plain data (tuples become lists)."""
        return {f.name: _plain(getattr(self, f.name)) for f in fields(self)}


def _plain(value):
    return float(value) if np.ndim(value) == 0 else [float(v) for v in value]


@dataclass
class BKTState:
    """Hidden state of ``n`` BKT students (arrays are modified in place by ``step``).

    Attributes:
        mastered: ``(n, n_skills)`` bool, the true mastery.
        prior: ``(n, n_skills)`` float64, each student's prior (after jitter).
        learn: ``(n, n_skills)`` float64, each student's learn rate (after the multiplier).
        learn_multiplier: ``(n,)`` float64, the student's learning-rate multiplier.
    """

    mastered: np.ndarray
    prior: np.ndarray
    learn: np.ndarray
    learn_multiplier: np.ndarray

    @property
    def n_students(self) -> int:
        return self.mastered.shape[0]


@dataclass
class IRTState:
    """Hidden state of ``n`` IRT students (arrays are modified in place by ``step``).

    Attributes:
        ability: ``(n, n_skills)`` float64, the true ability per skill (logits).
        growth: ``(n, n_skills)`` float64, each student's growth rate (after the multiplier).
        growth_multiplier: ``(n,)`` float64, the student's growth-rate multiplier.
    """

    ability: np.ndarray
    growth: np.ndarray
    growth_multiplier: np.ndarray

    @property
    def n_students(self) -> int:
        return self.ability.shape[0]


class StudentDynamics:
    """Shared interface and curriculum arrays of the learning dynamics.

    Attributes:
        name: ``"bkt"`` or ``"irt"``.
        curriculum: the curriculum.
        params: the parameter dataclass.
        exercise_skill: ``(n_exercises,)`` int64; difficulty, guess, slip: ``(n_exercises,)``;
            prerequisites: ``(n_skills, n_skills)`` bool (``[i, j]``: j is a prerequisite of i).
    """

    name = ""

    def __init__(self, curriculum: Curriculum | str, params) -> None:
        self.curriculum = load_curriculum(curriculum)
        self.params = params
        self.n_skills = self.curriculum.n_skills
        self.n_exercises = self.curriculum.n_exercises
        self.exercise_skill = self.curriculum.exercise_skill
        self.difficulty = self.curriculum.difficulty
        self.guess = self.curriculum.guess
        self.slip = self.curriculum.slip
        self.prerequisites = self.curriculum.prerequisites
        self._has_prerequisites = self.prerequisites.any(axis=1)  # (n_skills,)

    def init_state(self, n_students: int, rng: np.random.Generator):
        """Draws ``n_students`` fresh students from the population.

        Args:
            n_students: number of students, >= 1.
            rng: the only source of randomness.

        Returns:
            A state dataclass of ``(n_students, ...)`` arrays.
        """
        if (
            isinstance(n_students, bool)
            or not isinstance(n_students, (int, np.integer))
            or n_students < 1
        ):
            raise ValueError(
                f"{type(self).__name__}.init_state: n_students must be a positive "
                f"int, got {n_students!r}"
            )
        state = self.empty_state(int(n_students))
        self.reset_students(state, None, rng)
        return state

    def reset_students(self, state, indices: np.ndarray | None, rng: np.random.Generator) -> None:
        """Replaces the students at ``indices`` (all when None) by fresh draws, in place."""
        raise NotImplementedError

    def p_correct(self, state) -> np.ndarray:
        """True probability of a correct answer to every exercise now,
        ``(n_students, n_exercises)``."""
        raise NotImplementedError

    def p_correct_of(self, state, exercise_ids: np.ndarray) -> np.ndarray:
        """True p(correct) of one exercise per student, ``(n,)`` for ``exercise_ids`` ``(n,)``."""
        raise NotImplementedError

    def mastery(self, state) -> np.ndarray:
        """Mastery per skill, ``(n_students, n_skills)`` float64 in [0, 1]."""
        raise NotImplementedError

    def step(self, state, exercise_ids: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Each student answers one exercise, then learns from it (state modified in place).

        Args:
            state: the students' state.
            exercise_ids: ``(n_students,)`` int exercise indices (assumed valid; the envs check).
            rng: the only source of randomness.

        Returns:
            ``(n_students,)`` bool, whether each answer was correct.
        """
        raise NotImplementedError

    def post_test(self, state) -> np.ndarray:
        """Expected post-test score, the mean over exercises of p(correct), ``(n_students,)``."""
        return self.p_correct(state).mean(axis=1)

    def expected_gains(self, state) -> np.ndarray:
        """Exact expected change of the post-test if each student does each exercise next.

        The expectation is over the simulator's own randomness (the answer and, for ``bkt``,
        the transition), given the hidden state: what one-step lookahead on the true model
        maximises. The state is not changed.

        Returns:
            ``(n_students, n_exercises)`` float64.
        """
        raise NotImplementedError

    def _blocked(self, below: np.ndarray, skill: np.ndarray) -> np.ndarray:
        """``(n,)`` bool: some prerequisite of ``skill[i]`` is unmastered (``below[i, j]``)."""
        blocked = np.zeros(skill.shape[0], dtype=bool)
        needs = self._has_prerequisites[skill]  # (n,)
        if needs.any():
            rows = np.flatnonzero(needs)
            blocked[rows] = (self.prerequisites[skill[rows]] & below[rows]).any(
                axis=1
            )  # (k, n_skills) -> (k,)
        return blocked

    def empty_state(self, n: int):
        """Zero-filled state arrays for ``n`` students (``reset_students`` fills them)."""
        raise NotImplementedError


class BKTDynamics(StudentDynamics):
    """Binary mastery per skill with learn, forget, guess and slip (see the module docstring)."""

    name = "bkt"

    def __init__(
        self, curriculum: Curriculum | str = "riley", params: BKTParams | None = None
    ) -> None:
        params = BKTParams() if params is None else params
        if not isinstance(params, BKTParams):
            raise TypeError(f"BKTDynamics: params must be BKTParams, got {type(params).__name__}")
        super().__init__(curriculum, params)
        self.prior_mean = _per_skill_array(params.prior, "prior", "BKTParams", self.curriculum)
        self.learn_mean = _per_skill_array(params.learn, "learn", "BKTParams", self.curriculum)
        self.forget = _per_skill_array(params.forget, "forget", "BKTParams", self.curriculum)
        with np.errstate(divide="ignore"):
            self._prior_logit = np.log(self.prior_mean) - np.log1p(
                -self.prior_mean
            )  # (n_skills,), +-inf at 0 and 1
        # post_test = mean_e [guess_e + mastered[skill_e] (1 - slip_e - guess_e)]
        #           = offset + mastered @ weight
        gain = 1.0 - self.slip - self.guess  # (n_exercises,)
        self._post_offset = float(self.guess.mean())
        self._post_weight = (
            np.bincount(self.exercise_skill, weights=gain, minlength=self.n_skills)
            / self.n_exercises
        )

    def empty_state(self, n: int) -> BKTState:
        return BKTState(
            mastered=np.zeros((n, self.n_skills), dtype=bool),
            prior=np.zeros((n, self.n_skills)),
            learn=np.zeros((n, self.n_skills)),
            learn_multiplier=np.ones(n),
        )

    def reset_students(
        self, state: BKTState, indices: np.ndarray | None, rng: np.random.Generator
    ) -> None:
        index = slice(None) if indices is None else np.asarray(indices)
        k = state.n_students if indices is None else index.shape[0]
        p = self.params
        multiplier = _lognormal_multiplier(rng.standard_normal(k), p.learn_rate_sd)  # (k,)
        jitter = p.prior_sd * rng.standard_normal((k, self.n_skills))  # (k, n_skills)
        prior = _sigmoid(
            self._prior_logit + jitter
        )  # (k, n_skills); exact 0 and 1 priors stay 0 and 1
        state.learn_multiplier[index] = multiplier
        state.prior[index] = prior
        state.learn[index] = 1.0 - (1.0 - self.learn_mean) ** multiplier[:, None]  # (k, n_skills)
        state.mastered[index] = rng.random((k, self.n_skills)) < prior

    def p_correct(self, state: BKTState) -> np.ndarray:
        mastered = state.mastered[:, self.exercise_skill]  # (n, n_exercises)
        return np.where(mastered, 1.0 - self.slip, self.guess)

    def p_correct_of(self, state: BKTState, exercise_ids: np.ndarray) -> np.ndarray:
        rows = np.arange(state.n_students)
        mastered = state.mastered[rows, self.exercise_skill[exercise_ids]]  # (n,)
        return np.where(mastered, 1.0 - self.slip[exercise_ids], self.guess[exercise_ids])

    def mastery(self, state: BKTState) -> np.ndarray:
        """True mastery as 0/1, ``(n_students, n_skills)`` float64."""
        return state.mastered.astype(np.float64)

    def post_test(self, state: BKTState) -> np.ndarray:
        return self._post_offset + state.mastered @ self._post_weight  # (n,)

    def expected_gains(self, state: BKTState) -> np.ndarray:
        # The answer does not change the transition: an unmastered skill is learned with the
        # (prerequisite-gated) learn rate, a mastered one forgotten with forget.
        unmastered = ~state.mastered  # (n, n_skills)
        blocked = (unmastered[:, None, :] & self.prerequisites[None]).any(axis=2)  # (n, n_skills)
        learn = np.where(blocked, state.learn * self.params.prerequisite_penalty, state.learn)
        change = np.where(unmastered, learn, -self.forget)  # (n, n_skills) expected mastery change
        return (change * self._post_weight)[:, self.exercise_skill]  # (n, n_exercises)

    def step(
        self, state: BKTState, exercise_ids: np.ndarray, rng: np.random.Generator
    ) -> np.ndarray:
        n = state.n_students
        rows = np.arange(n)
        skill = self.exercise_skill[exercise_ids]  # (n,)
        mastered = state.mastered[rows, skill]  # (n,)
        p = np.where(mastered, 1.0 - self.slip[exercise_ids], self.guess[exercise_ids])  # (n,)
        correct = rng.random(n) < p  # (n,)
        learn = state.learn[rows, skill]  # (n,)
        blocked = self._blocked(~state.mastered, skill)  # (n,)
        learn = np.where(blocked, learn * self.params.prerequisite_penalty, learn)  # (n,)
        u = rng.random(n)  # (n,)
        state.mastered[rows, skill] = np.where(mastered, u >= self.forget[skill], u < learn)
        return correct


class IRTDynamics(StudentDynamics):
    """Continuous ability per skill that grows with practice (see the module docstring)."""

    name = "irt"

    def __init__(
        self, curriculum: Curriculum | str = "riley", params: IRTParams | None = None
    ) -> None:
        params = IRTParams() if params is None else params
        if not isinstance(params, IRTParams):
            raise TypeError(f"IRTDynamics: params must be IRTParams, got {type(params).__name__}")
        super().__init__(curriculum, params)
        self.ability_mean = _per_skill_array(
            params.ability_mean, "ability_mean", "IRTParams", self.curriculum
        )
        self.ability_sd = _per_skill_array(
            params.ability_sd, "ability_sd", "IRTParams", self.curriculum
        )
        self.growth_rate = _per_skill_array(
            params.growth_rate, "growth_rate", "IRTParams", self.curriculum
        )
        self._one_minus_guess = 1.0 - self.guess
        threshold = params.mastery_threshold
        self._mastery_logit = math.log(threshold / (1.0 - threshold))

    def empty_state(self, n: int) -> IRTState:
        return IRTState(
            ability=np.zeros((n, self.n_skills)),
            growth=np.zeros((n, self.n_skills)),
            growth_multiplier=np.ones(n),
        )

    def reset_students(
        self, state: IRTState, indices: np.ndarray | None, rng: np.random.Generator
    ) -> None:
        index = slice(None) if indices is None else np.asarray(indices)
        k = state.n_students if indices is None else index.shape[0]
        multiplier = _lognormal_multiplier(
            rng.standard_normal(k), self.params.growth_rate_sd
        )  # (k,)
        ability = self.ability_mean + self.ability_sd * rng.standard_normal(
            (k, self.n_skills)
        )  # (k, n_skills)
        state.growth_multiplier[index] = multiplier
        state.growth[index] = self.growth_rate * multiplier[:, None]  # (k, n_skills)
        state.ability[index] = ability

    def p_correct(self, state: IRTState) -> np.ndarray:
        # g + (1 - g) / (1 + exp(d - a)), computed in place: this runs every env step for the
        # reward, and the temporaries dominated its cost (profile at 4096 students).
        p = np.take(state.ability, self.exercise_skill, axis=1)  # (n, n_exercises)
        np.subtract(self.difficulty, p, out=p)
        np.exp(p, out=p)
        p += 1.0
        np.divide(self._one_minus_guess, p, out=p)
        p += self.guess
        return p

    def p_correct_of(self, state: IRTState, exercise_ids: np.ndarray) -> np.ndarray:
        rows = np.arange(state.n_students)
        q = _sigmoid(
            state.ability[rows, self.exercise_skill[exercise_ids]] - self.difficulty[exercise_ids]
        )  # (n,)
        guess = self.guess[exercise_ids]
        return guess + (1.0 - guess) * q

    def mastery(self, state: IRTState) -> np.ndarray:
        """sigmoid(ability): p(correct) at difficulty 0 without guessing,
        ``(n_students, n_skills)``."""
        return _sigmoid(state.ability)

    def expected_gains(self, state: IRTState) -> np.ndarray:
        # Growth depends on q alone, not on the answer, so one step is deterministic.
        skill = self.exercise_skill  # (E,)
        ability = state.ability[:, skill]  # (n, E): the practised skill's ability per exercise
        q = _sigmoid(ability - self.difficulty)  # (n, E)
        growth = state.growth[:, skill] * 4.0 * q * (1.0 - q)  # (n, E)
        blocked = (
            (state.ability < self._mastery_logit)[:, None, :] & self.prerequisites[None]
        ).any(axis=2)  # (n, n_skills)
        growth = np.where(blocked[:, skill], growth * self.params.prerequisite_damping, growth)
        # The post-test change: every exercise f of the practised skill moves.
        same = skill[:, None] == skill[None, :]  # (E, E): [e, f] f shares e's skill
        before = self._one_minus_guess * _sigmoid(ability - self.difficulty)  # (n, E) per f
        after = self._one_minus_guess[None, None, :] * _sigmoid(
            state.ability[:, skill][:, None, :]
            + growth[:, :, None]
            - self.difficulty[None, None, :]
        )  # (n, e, f)
        change = ((after - before[:, None, :]) * same[None]).sum(axis=2)  # (n, E)
        return change / self.n_exercises

    def step(
        self, state: IRTState, exercise_ids: np.ndarray, rng: np.random.Generator
    ) -> np.ndarray:
        n = state.n_students
        rows = np.arange(n)
        skill = self.exercise_skill[exercise_ids]  # (n,)
        ability = state.ability[rows, skill]  # (n,)
        q = _sigmoid(ability - self.difficulty[exercise_ids])  # (n,)
        guess = self.guess[exercise_ids]  # (n,)
        correct = rng.random(n) < guess + (1.0 - guess) * q  # (n,)
        gain = state.growth[rows, skill] * 4.0 * q * (1.0 - q)  # (n,)
        blocked = self._blocked(state.ability < self._mastery_logit, skill)  # (n,)
        gain = np.where(blocked, gain * self.params.prerequisite_damping, gain)  # (n,)
        state.ability[rows, skill] = ability + gain
        return correct


def make_dynamics(
    name: str, curriculum: Curriculum | str = "riley", params: BKTParams | IRTParams | None = None
) -> StudentDynamics:
    """Builds the dynamics called ``name`` (``"bkt"`` or ``"irt"``) over ``curriculum``.

    Raises:
        ValueError: for an unknown name.
        TypeError: if ``params`` does not match the dynamics.
    """
    if name == "bkt":
        return BKTDynamics(curriculum, params)
    if name == "irt":
        return IRTDynamics(curriculum, params)
    raise ValueError(f"unknown student dynamics {name!r}; allowed: {list(DYNAMICS)}")
