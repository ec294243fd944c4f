"""Student dynamics: statistical checks against the closed forms, and a scalar reference loop.

Statistical tests use 20,000 students (seed stated in each test); a fraction estimated from
them has a standard error of at most 0.0035, and the tolerance is 0.015 (over 4 SE).
"""

import math

import numpy as np
import pytest

from riley_gym.envs.curriculum import Curriculum, Exercise, Skill, load_curriculum
from riley_gym.envs.student_dynamics import (
    BKTDynamics,
    BKTParams,
    IRTDynamics,
    IRTParams,
    make_dynamics,
)

N = 20_000
TOL = 0.015
RILEY = load_curriculum("riley")
SKILL = {name: i for i, name in enumerate(RILEY.skill_names)}


def _practise(dynamics, state, exercise, steps, rng):
    for _ in range(steps):
        dynamics.step(state, np.full(state.n_students, exercise), rng)


def _no_variation(**kwargs):
    return BKTParams(learn_rate_sd=0.0, prior_sd=0.0, **kwargs)


@pytest.mark.parametrize("steps", [1, 3, 6])
def test_bkt_practice_masters_a_skill_at_the_configured_rate(steps):
    rng = np.random.default_rng(0)
    dynamics = BKTDynamics(RILEY, _no_variation(prior=0.2, learn=0.3, forget=0.0))
    state = dynamics.init_state(N, rng)
    _practise(dynamics, state, RILEY.exercises_of("x-intercept")[1], steps, rng)
    expected = 1.0 - (1.0 - 0.2) * (1.0 - 0.3) ** steps
    assert abs(state.mastered[:, SKILL["x-intercept"]].mean() - expected) < TOL
    # Only the practised skill changes.
    others = np.delete(state.mastered, SKILL["x-intercept"], axis=1)
    assert abs(others.mean() - 0.2) < TOL


def test_bkt_forgetting_rate():
    rng = np.random.default_rng(1)
    dynamics = BKTDynamics(RILEY, _no_variation(prior=1.0, learn=0.0, forget=0.1))
    state = dynamics.init_state(N, rng)
    _practise(dynamics, state, RILEY.exercises_of("slope")[0], 4, rng)
    assert abs(state.mastered[:, SKILL["slope"]].mean() - 0.9**4) < TOL


@pytest.mark.parametrize(
    "mastered_prerequisites, rate",
    [(("slope", "y-intercept"), 0.3), (("slope",), 0.03), (("y-intercept",), 0.03), ((), 0.03)],
    ids=["both-mastered", "y-intercept-missing", "slope-missing", "none-mastered"],
)
def test_bkt_prerequisites_block_learning(mastered_prerequisites, rate):
    prior = [1.0 if name in mastered_prerequisites else 0.0 for name in RILEY.skill_names]
    rng = np.random.default_rng(2)
    dynamics = BKTDynamics(
        RILEY, _no_variation(prior=tuple(prior), learn=0.3, prerequisite_penalty=0.1)
    )
    state = dynamics.init_state(N, rng)
    steps = 5
    _practise(dynamics, state, RILEY.exercises_of("graphing linear equations")[0], steps, rng)
    expected = 1.0 - (1.0 - rate) ** steps  # 0.83 unblocked, 0.14 blocked
    assert abs(state.mastered[:, SKILL["graphing linear equations"]].mean() - expected) < TOL


def test_bkt_guess_and_slip_give_the_configured_correct_rates():
    rng = np.random.default_rng(3)
    for prior, expected in ((0.0, RILEY.guess), (1.0, 1.0 - RILEY.slip)):
        dynamics = BKTDynamics(RILEY, _no_variation(prior=prior, learn=0.0, forget=0.0))
        state = dynamics.init_state(N, rng)
        rates = [dynamics.step(state, np.full(N, e), rng).mean() for e in range(RILEY.n_exercises)]
        np.testing.assert_allclose(rates, expected, atol=TOL)
        np.testing.assert_allclose(
            dynamics.p_correct(state), np.broadcast_to(expected, (N, RILEY.n_exercises))
        )


def test_bkt_population_variation_follows_the_documented_draws():
    rng = np.random.default_rng(4)
    params = BKTParams(prior=0.3, learn=0.2, learn_rate_sd=0.6, prior_sd=0.8)
    state = BKTDynamics(RILEY, params).init_state(N, rng)
    log_multiplier = np.log(state.learn_multiplier)
    assert abs(state.learn_multiplier.mean() - 1.0) < 0.03  # mean-one lognormal
    assert abs(log_multiplier.std() - 0.6) < 0.02
    np.testing.assert_allclose(
        state.learn, 1.0 - 0.8 ** state.learn_multiplier[:, None] * np.ones((1, 5))
    )
    prior_logit = np.log(state.prior / (1.0 - state.prior))
    assert abs(prior_logit.mean() - math.log(0.3 / 0.7)) < 0.03
    assert abs(prior_logit.std() - 0.8) < 0.02
    assert abs(state.mastered.mean() - state.prior.mean()) < TOL


def test_post_test_is_the_mean_p_correct():
    rng = np.random.default_rng(5)
    for dynamics in (make_dynamics("bkt", RILEY), make_dynamics("irt", RILEY)):
        state = dynamics.init_state(64, rng)
        _practise(dynamics, state, 4, 3, rng)
        np.testing.assert_allclose(
            dynamics.post_test(state), dynamics.p_correct(state).mean(axis=1)
        )
        exercises = rng.integers(0, RILEY.n_exercises, 64)
        np.testing.assert_allclose(
            dynamics.p_correct_of(state, exercises),
            dynamics.p_correct(state)[np.arange(64), exercises],
        )


def _one_skill_curriculum(difficulties):
    exercises = tuple(Exercise(f"e{i}", "s", d, 0.2, 0.05) for i, d in enumerate(difficulties))
    return Curriculum("one-skill", (Skill("s"),), exercises)


def test_irt_p_correct_formula_by_hand():
    curriculum = _one_skill_curriculum([-1.0, 0.0, 2.0])
    dynamics = IRTDynamics(curriculum, IRTParams(ability_mean=0.5, ability_sd=0.0))
    state = dynamics.init_state(2, np.random.default_rng(6))
    expected = [0.2 + 0.8 / (1.0 + math.exp(-(0.5 - d))) for d in (-1.0, 0.0, 2.0)]
    np.testing.assert_allclose(dynamics.p_correct(state), [expected, expected])
    np.testing.assert_allclose(dynamics.mastery(state), [[1.0 / (1.0 + math.exp(-0.5))]] * 2)


def test_irt_growth_is_largest_at_moderate_difficulty():
    curriculum = _one_skill_curriculum([-4.0, 0.0, 4.0])
    params = IRTParams(ability_mean=0.0, ability_sd=0.0, growth_rate=0.3, growth_rate_sd=0.0)
    dynamics = IRTDynamics(curriculum, params)
    rng = np.random.default_rng(7)
    gains = []
    for exercise in range(3):
        state = dynamics.init_state(100, rng)
        dynamics.step(state, np.full(100, exercise), rng)
        gains.append(state.ability[0, 0])
        _practise(dynamics, state, exercise, 4, rng)
        assert (state.ability[:, 0] > gains[-1]).all(), "ability keeps growing with practice"
    q_easy = 1.0 / (1.0 + math.exp(-4.0))
    np.testing.assert_allclose(
        gains, [0.3 * 4 * q_easy * (1 - q_easy), 0.3, 0.3 * 4 * q_easy * (1 - q_easy)]
    )
    assert gains[1] > 5 * max(gains[0], gains[2])


def test_irt_prerequisites_damp_growth():
    rng = np.random.default_rng(8)
    graphing = RILEY.exercises_of("graphing linear equations")[1]  # difficulty 0
    gains = {}
    for label, slope_ability in (("mastered", 1.0), ("unmastered", -1.0)):
        mean = [0.0] * 5
        mean[SKILL["slope"]] = slope_ability
        mean[SKILL["y-intercept"]] = 1.0
        params = IRTParams(
            ability_mean=tuple(mean), ability_sd=0.0, growth_rate_sd=0.0, prerequisite_damping=0.2
        )
        dynamics = IRTDynamics(RILEY, params)
        state = dynamics.init_state(10, rng)
        dynamics.step(state, np.full(10, graphing), rng)
        gains[label] = state.ability[:, SKILL["graphing linear equations"]]
    np.testing.assert_allclose(gains["mastered"], 0.3)  # q = 1/2, growth_rate 0.3
    np.testing.assert_allclose(gains["unmastered"], 0.3 * 0.2)


def _scalar_bkt_reference(params, actions, seed):
    """Plain per-student BKT loop replaying the documented random stream."""
    rng = np.random.default_rng(seed)
    n, steps = actions.shape[1], actions.shape[0]
    skills = RILEY.exercise_skill
    prerequisites = [[j for j in range(5) if RILEY.prerequisites[i, j]] for i in range(5)]
    z = rng.standard_normal(n)
    jitter = rng.standard_normal((n, 5))
    u0 = rng.random((n, 5))
    sd = params.learn_rate_sd
    mastered, learn = [], []
    for i in range(n):
        multiplier = math.exp(sd * z[i] - sd * sd / 2)
        prior = [
            1
            / (
                1
                + math.exp(
                    -(math.log(params.prior / (1 - params.prior)) + params.prior_sd * jitter[i, s])
                )
            )
            for s in range(5)
        ]
        mastered.append([u0[i, s] < prior[s] for s in range(5)])
        learn.append([1 - (1 - params.learn) ** multiplier for _ in range(5)])
    corrects = np.zeros((steps, n), dtype=bool)
    for t in range(steps):
        u_answer, u_learn = rng.random(n), rng.random(n)
        for i in range(n):
            e = actions[t, i]
            s = skills[e]
            p = 1 - RILEY.slip[e] if mastered[i][s] else RILEY.guess[e]
            corrects[t, i] = u_answer[i] < p
            rate = learn[i][s]
            if any(not mastered[i][j] for j in prerequisites[s]):
                rate *= params.prerequisite_penalty
            if mastered[i][s]:
                mastered[i][s] = not u_learn[i] < params.forget
            else:
                mastered[i][s] = u_learn[i] < rate
    return np.array(mastered), corrects


def _scalar_irt_reference(params, actions, seed):
    """Plain per-student IRT loop replaying the documented random stream."""
    rng = np.random.default_rng(seed)
    n, steps = actions.shape[1], actions.shape[0]
    skills, difficulty, guess = RILEY.exercise_skill, RILEY.difficulty, RILEY.guess
    prerequisites = [[j for j in range(5) if RILEY.prerequisites[i, j]] for i in range(5)]
    z = rng.standard_normal(n)
    noise = rng.standard_normal((n, 5))
    sd = params.growth_rate_sd
    growth = [params.growth_rate * math.exp(sd * z[i] - sd * sd / 2) for i in range(n)]
    ability = [
        [params.ability_mean + params.ability_sd * noise[i, s] for s in range(5)] for i in range(n)
    ]
    corrects = np.zeros((steps, n), dtype=bool)
    for t in range(steps):
        u_answer = rng.random(n)
        for i in range(n):
            e = actions[t, i]
            s = skills[e]
            q = 1 / (1 + math.exp(-(ability[i][s] - difficulty[e])))
            corrects[t, i] = u_answer[i] < guess[e] + (1 - guess[e]) * q
            gain = growth[i] * 4 * q * (1 - q)
            if any(
                ability[i][j] < 0.0 for j in prerequisites[s]
            ):  # mastery threshold 0.5 <=> ability 0
                gain *= params.prerequisite_damping
            ability[i][s] += gain
    return np.array(ability), corrects


@pytest.mark.parametrize("name", ["bkt", "irt"])
def test_vectorised_dynamics_match_a_scalar_loop_on_the_same_stream(name):
    seed, n, steps = 11, 40, 30
    actions = np.random.default_rng(99).integers(0, RILEY.n_exercises, size=(steps, n))
    if name == "bkt":
        params = BKTParams(
            prior=0.3,
            learn=0.25,
            forget=0.05,
            prerequisite_penalty=0.1,
            learn_rate_sd=0.7,
            prior_sd=0.9,
        )
        expected_state, expected_correct = _scalar_bkt_reference(params, actions, seed)
    else:
        params = IRTParams(ability_mean=-0.5, ability_sd=0.8, growth_rate=0.4, growth_rate_sd=0.5)
        expected_state, expected_correct = _scalar_irt_reference(params, actions, seed)
    dynamics = make_dynamics(name, RILEY, params)
    rng = np.random.default_rng(seed)
    state = dynamics.init_state(n, rng)
    correct = np.array([dynamics.step(state, actions[t], rng) for t in range(steps)])
    np.testing.assert_array_equal(correct, expected_correct)
    if name == "bkt":
        np.testing.assert_array_equal(state.mastered, expected_state)
    else:
        np.testing.assert_allclose(state.ability, expected_state, rtol=1e-12, atol=1e-12)
    assert correct.mean() > 0.1 and correct.mean() < 0.9, "the stream exercised both outcomes"


@pytest.mark.parametrize(
    "build, message",
    [
        (
            lambda: BKTParams(learn=1.5),
            "BKTParams.learn: value 1.5 is outside the allowed range [0.0, 1.0]",
        ),
        (lambda: BKTDynamics(RILEY, BKTParams(prior=(0.1, 0.2))), "expected a scalar or 5 values"),
        (lambda: IRTParams(mastery_threshold=1.0), "mastery_threshold"),
        (lambda: make_dynamics("pfa", RILEY), "unknown student dynamics 'pfa'"),
    ],
    ids=["learn-range", "per-skill-length", "threshold", "unknown-dynamics"],
)
def test_parameter_validation(build, message):
    with pytest.raises(ValueError) as error:
        build()
    assert message in str(error.value)


def test_params_must_match_the_dynamics():
    with pytest.raises(TypeError, match="params must be IRTParams"):
        IRTDynamics(RILEY, BKTParams())


def test_module_docstring_example_runs():
    import doctest

    import riley_gym.envs.student_dynamics

    result = doctest.testmod(riley_gym.envs.student_dynamics)
    assert result.attempted > 0 and result.failed == 0


@pytest.mark.parametrize("name", ["bkt", "irt"])
def test_expected_gains_match_a_monte_carlo_of_the_step(name):
    # Oracle: copy each student 4000 times per exercise, step the copies, average the
    # post-test change.
    dynamics = make_dynamics(name)
    state = dynamics.init_state(40, np.random.default_rng(0))
    rng = np.random.default_rng(1)
    for _ in range(8):  # a mix of mastered and blocked skills
        dynamics.step(state, rng.integers(0, dynamics.n_exercises, 40), rng)
    exact = dynamics.expected_gains(state)
    copies = 4000
    rows = np.repeat(np.arange(40), copies)
    for exercise in range(dynamics.n_exercises):
        copy = type(state)(
            **{f: getattr(state, f)[rows].copy() for f in state.__dataclass_fields__}
        )
        before = dynamics.post_test(copy)
        dynamics.step(copy, np.full(rows.size, exercise), np.random.default_rng(exercise))
        monte_carlo = (dynamics.post_test(copy) - before).reshape(40, copies).mean(axis=1)
        # bkt: a Bernoulli mean of 4000 draws (sd <= 0.1 * 0.5 / sqrt(4000) < 0.001); irt: exact
        np.testing.assert_allclose(
            exact[:, exercise], monte_carlo, atol=4e-3 if name == "bkt" else 1e-12
        )
    assert exact.shape == (40, dynamics.n_exercises) and (exact != 0).any()
