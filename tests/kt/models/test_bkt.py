"""BKT: a forward pass done on paper, the vectorised filter against a plain loop, EM recovery."""

import numpy as np
import pandas as pd
import pytest

from riley_gym.kt.data import make_table
from riley_gym.kt.models.bkt import BKT, BKTConfig


def _one_skill_model(prior=0.3, learn=0.2, guess=0.1, slip=0.2, forget=None):
    return BKT.from_params(
        [7], [prior], [learn], [guess], [slip], None if forget is None else [forget]
    )


def test_forward_pass_on_paper():
    # prior 0.3, learn 0.2, guess 0.1, slip 0.2; answers right, wrong, right.
    # p1 = 0.3 * 0.8 + 0.7 * 0.1 = 0.31. After right: known 0.24 / 0.31, then
    # L2 = (24 + 7 * 0.2) / 31 = 25.4 / 31, p2 = (25.4 * 0.8 + 5.6 * 0.1) / 31 = 20.88 / 31.
    # After wrong: known 25.4 * 0.2 / (25.4 * 0.2 + 5.6 * 0.9) = 5.08 / 10.12, then
    # L3 = (5.08 + 5.04 * 0.2) / 10.12 = 6.088 / 10.12,
    # p3 = (6.088 * 0.8 + 4.032 * 0.1) / 10.12 = 5.2736 / 10.12.
    # After right: known 4.8704 / 5.2736, L4 = (4.8704 + 0.4032 * 0.2) / 5.2736 = 4.95104 / 5.2736.
    model = _one_skill_model()
    table = make_table([0, 0, 0], [7, 7, 7], [1, 0, 1])
    p = model.predict(table)["p_correct"].to_numpy()
    np.testing.assert_allclose(p, [0.31, 20.88 / 31, 5.2736 / 10.12], rtol=1e-12)
    np.testing.assert_allclose(model.mastery(table), [4.95104 / 5.2736], rtol=1e-12)
    np.testing.assert_allclose(
        model.knowledge_state(table), [(4.95104 * 0.8 + 0.32256 * 0.1) / 5.2736], rtol=1e-12
    )
    np.testing.assert_allclose(model.knowledge_state(table.iloc[:0]), [0.31], rtol=1e-12)


def _plain_filter(params, skills, answers):
    """p(correct) per attempt of one student, one skill at a time, with the pair
    (unknown, known)."""
    predictions = np.empty(len(skills))
    state = {}
    for index, (skill, answer) in enumerate(zip(skills, answers)):
        prior, learn, forget, guess, slip = params[skill]
        unknown, known = state.get(skill, (1.0 - prior, prior))
        predictions[index] = known * (1.0 - slip) + unknown * guess
        unknown *= guess if answer else 1.0 - guess
        known *= 1.0 - slip if answer else slip
        unknown, known = unknown / (unknown + known), known / (unknown + known)
        state[skill] = (
            unknown * (1.0 - learn) + known * forget,
            unknown * learn + known * (1.0 - forget),
        )
    return predictions


@pytest.mark.parametrize("with_forget", [False, True], ids=["no-forget", "forget"])
def test_vectorised_filter_equals_plain_loop(with_forget):
    rng = np.random.default_rng(3)
    n_skills = 4
    params = {
        skill: (
            rng.uniform(0.1, 0.9),
            rng.uniform(0.05, 0.4),
            rng.uniform(0.0, 0.1) if with_forget else 0.0,
            rng.uniform(0.05, 0.3),
            rng.uniform(0.05, 0.3),
        )
        for skill in range(n_skills)
    }
    # Skill 3 with a tiny slip and a long run of right answers then wrong ones: p(known)
    # gets within 1e-16 of 1; the filter must still come down after the wrong answers.
    params[3] = (0.6, 0.3, 0.0, 0.2, 1e-6)
    model = BKT.from_params(
        np.arange(n_skills),
        *(np.array([params[s][i] for s in range(n_skills)]) for i in (0, 1, 3, 4)),
        forget=np.array([params[s][2] for s in range(n_skills)]),
    )
    users, skills, answers = [], [], []
    for student in range(25):
        length = int(rng.integers(1, 40))
        users += [student] * length
        skills += rng.integers(0, n_skills - 1, length).tolist()
        answers += (rng.random(length) < 0.6).astype(int).tolist()
    users += [99] * 80
    skills += [3] * 80
    answers += [1] * 60 + [0] * 20
    table = make_table(users, skills, answers)
    expected = np.concatenate(
        [
            _plain_filter(params, rows["skill_id"].to_numpy(), rows["correct"].to_numpy())
            for _, rows in table.groupby("user_id", sort=False)
        ]
    )
    np.testing.assert_allclose(
        model.predict(table)["p_correct"].to_numpy(), expected, rtol=1e-9, atol=1e-12
    )
    # twenty wrong answers bring it down from 1 - 1e-6 to its floor
    # learn + (1 - learn) * guess = 0.44
    assert expected[-21] > 0.999 and expected[-1] < 0.4401


def simulate_bkt(params, n_students, n_attempts, seed):
    """Answers of students on every skill of ``params`` (skill -> prior, learn, guess, slip)."""
    rng = np.random.default_rng(seed)
    users, skills, answers = [], [], []
    for skill, (prior, learn, guess, slip) in params.items():
        known = rng.random(n_students) < prior  # (n_students,)
        for _ in range(n_attempts):
            right = np.where(known, rng.random(n_students) >= slip, rng.random(n_students) < guess)
            users.append(np.arange(n_students))
            skills.append(np.full(n_students, skill))
            answers.append(right.astype(int))
            known |= rng.random(n_students) < learn
    users, skills, answers = (np.concatenate(x) for x in (users, skills, answers))
    order = np.arange(len(users))  # attempts of one skill follow each other
    return make_table(users, skills, answers, order=order)


def test_em_recovers_parameters_of_simulated_students():
    # seed 0, 1500 students x 15 attempts per skill; tolerance 0.04 on each parameter.
    truth = {0: (0.3, 0.15, 0.2, 0.1), 1: (0.6, 0.3, 0.25, 0.15)}
    table = simulate_bkt(truth, n_students=1500, n_attempts=15, seed=0)
    model = BKT(BKTConfig(tolerance=1e-7, max_iterations=300)).fit(table)
    for skill, (prior, learn, guess, slip) in truth.items():
        fitted = model.params.loc[skill]
        np.testing.assert_allclose(
            [fitted.prior, fitted.learn, fitted.guess, fitted.slip],
            [prior, learn, guess, slip],
            atol=0.04,
            err_msg=f"skill {skill}",
        )
    assert set(model.params.columns) >= {
        "prior",
        "learn",
        "forget",
        "guess",
        "slip",
        "n_rows",
        "log_likelihood",
    }
    assert (model.params["forget"] == 0).all()


def test_em_never_lowers_the_likelihood_and_restarts_never_hurt():
    table = simulate_bkt(
        {0: (0.4, 0.2, 0.2, 0.1), 1: (0.5, 0.1, 0.3, 0.2)}, n_students=200, n_attempts=10, seed=1
    )
    likelihoods = [
        BKT(BKTConfig(max_iterations=k, tolerance=0.0))
        .fit(table)
        .params["log_likelihood"]
        .to_numpy()
        for k in (2, 5, 20)
    ]
    assert np.all(np.diff(np.stack(likelihoods), axis=0) >= -1e-9)
    # Restart 0 starts where the single fit starts and runs side by side at least as long,
    # so the start each skill keeps is at least as likely; EM only climbs from there.
    single = BKT(BKTConfig(tolerance=1e-7)).fit(table).params["log_likelihood"].to_numpy()
    restarts = (
        BKT(BKTConfig(n_restarts=4, tolerance=1e-7)).fit(table).params["log_likelihood"].to_numpy()
    )
    assert np.all(restarts >= single - 1e-9)


def test_forget_is_fitted_when_asked():
    rng = np.random.default_rng(2)
    # Students who alternate long runs of right and wrong answers are best explained by forgetting.
    users, answers = [], []
    for student in range(300):
        known = rng.random() < 0.5
        for _ in range(20):
            answers.append(int(rng.random() < (0.9 if known else 0.15)))
            users.append(student)
            if rng.random() < 0.2:
                known = not known
    table = make_table(users, [0] * len(users), answers)
    forgetting = BKT(BKTConfig(forget=True)).fit(table)
    classic = BKT(BKTConfig()).fit(table)
    assert forgetting.params.loc[0, "forget"] > 0.1
    assert forgetting.params["log_likelihood"].sum() > classic.params["log_likelihood"].sum()


def test_bad_settings_and_inputs_are_rejected():
    with pytest.raises(ValueError, match="max_guess"):
        BKTConfig(max_guess=0.6)
    with pytest.raises(ValueError, match="n_restarts"):
        BKTConfig(n_restarts=0)
    with pytest.raises(ValueError, match="slip"):
        BKT.from_params([0], [0.5], [0.1], [0.2], [1.5])
    with pytest.raises(RuntimeError, match="not fitted"):
        BKT().predict(make_table([0], [0], [1]))
    with pytest.raises(ValueError, match="one student"):
        _one_skill_model().mastery(make_table([0, 1], [7, 7], [1, 0]))
    with pytest.raises(ValueError, match="empty"):
        BKT().fit(make_table([0], [0], [1]).iloc[:0])


def test_empty_and_all_unknown_tables():
    model = _one_skill_model()
    table = make_table([0, 0], [7, 7], [1, 0])
    assert len(model.predict(table.iloc[:0])) == 0
    with pytest.warns(UserWarning, match="2 row"):
        p = model.predict(table.assign(skill_id=3))["p_correct"].to_numpy()
    np.testing.assert_allclose(p, [0.5, 0.5])
    assert model.n_unknown_skill_rows == 2
    np.testing.assert_allclose(model.mastery(table.assign(skill_id=3)), [0.3])


def test_params_are_readable_by_skill_id():
    table = make_table([0, 0, 1, 1], [5, 9, 5, 9], [1, 0, 0, 1])
    model = BKT().fit(table)
    assert model.params.index.name == "skill_id"
    assert model.params.index.tolist() == [5, 9] == model.skill_ids.tolist()
    assert isinstance(model.params, pd.DataFrame)


@pytest.mark.parametrize("with_forget", [False, True], ids=["no-forget", "forget"])
def test_each_skill_stops_on_its_own_as_if_fitted_alone(with_forget):
    # seed 4: skill 0 (many students, clear signal) stops iterations before skill 1, and holds
    # most rows, so skill 1 finishes on a rebuilt layout of its sequences only; the joint fit
    # must equal the two separate fits exactly.
    fast = simulate_bkt({0: (0.3, 0.2, 0.2, 0.1)}, n_students=600, n_attempts=12, seed=4)
    slow = simulate_bkt({1: (0.5, 0.05, 0.35, 0.3)}, n_students=150, n_attempts=8, seed=5)
    slow = slow.assign(user_id=slow["user_id"] + 1000, order=slow["order"] + len(fast))
    table = pd.concat([fast, slow], ignore_index=True)
    config = BKTConfig(tolerance=1e-6, max_iterations=200, forget=with_forget)
    joint = BKT(config).fit(table)
    alone = [BKT(config).fit(part) for part in (fast, slow)]
    assert alone[0].n_iterations < alone[1].n_iterations
    assert joint.n_iterations == max(model.n_iterations for model in alone)
    expected = pd.concat([model.params for model in alone])
    pd.testing.assert_frame_equal(joint.params, expected, check_exact=False, rtol=1e-10, atol=1e-12)


def test_row_order_of_the_table_does_not_matter():
    # Tables sorted by student and order take a shortcut in the layout; a shuffled copy
    # takes the general sort. Both must give the same fit and the same prediction per row.
    table = simulate_bkt(
        {3: (0.4, 0.2, 0.2, 0.1), 8: (0.5, 0.1, 0.3, 0.2)}, n_students=120, n_attempts=9, seed=6
    )
    table = table.sort_values(["user_id", "order"], kind="stable").reset_index(drop=True)
    shuffled = table.sample(frac=1.0, random_state=0)
    in_order, mixed = BKT().fit(table), BKT().fit(shuffled)
    pd.testing.assert_frame_equal(in_order.params, mixed.params, check_exact=False, rtol=1e-12)
    expected = in_order.predict(table)["p_correct"]
    np.testing.assert_allclose(
        in_order.predict(shuffled)["p_correct"].to_numpy(),
        expected[shuffled.index].to_numpy(),
        rtol=1e-12,
    )
