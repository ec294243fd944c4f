"""PFA: the batched Newton fit against torch's L-BFGS, counts from earlier attempts only."""

import numpy as np
import pytest
import torch

from riley_gym.kt.data import make_table
from riley_gym.kt.models.pfa import PFA, PFAConfig, fit_logistic_groups


def test_batched_newton_matches_lbfgs_on_each_group():
    rng = np.random.default_rng(0)
    n_rows, l2 = 400, 0.7
    features = np.column_stack(
        [np.ones(n_rows), rng.poisson(3, n_rows), rng.poisson(2, n_rows)]
    ).astype(float)
    group = rng.integers(0, 3, n_rows)
    true = np.array([[0.2, 0.3, -0.4], [-1.0, 0.5, 0.1], [0.5, -0.2, -0.3]])
    target = (
        rng.random(n_rows) < 1 / (1 + np.exp(-np.einsum("rf,rf->r", features, true[group])))
    ).astype(float)
    weights, _ = fit_logistic_groups(features, target, group, 3, l2)
    for g in range(3):
        x = torch.tensor(features[group == g])
        y = torch.tensor(target[group == g])
        w = torch.zeros(3, dtype=torch.float64, requires_grad=True)
        optimiser = torch.optim.LBFGS(
            [w],
            max_iter=500,
            tolerance_grad=1e-12,
            tolerance_change=1e-14,
            line_search_fn="strong_wolfe",
        )

        def closure():
            optimiser.zero_grad()
            loss = (
                torch.nn.functional.binary_cross_entropy_with_logits(x @ w, y, reduction="sum")
                + l2 / 2 * (w**2).sum()
            )
            loss.backward()
            return loss

        optimiser.step(closure)
        np.testing.assert_allclose(weights[g], w.detach().numpy(), atol=1e-6)


def test_prediction_uses_only_earlier_attempts_counts():
    rng = np.random.default_rng(1)
    n = 600
    users = np.repeat(np.arange(60), 10)
    skills = rng.integers(0, 2, n)
    table = make_table(users, skills, (rng.random(n) < 0.6).astype(int))
    model = PFA(PFAConfig(count_transform="raw")).fit(table)
    probe = make_table(["a", "a", "a", "a"], [1, 1, 0, 1], [1, 0, 1, 1], order=[0, 1, 2, 2])
    p = model.predict(probe)["p_correct"].to_numpy()
    beta, gamma, rho = model.weights.loc[1]
    # skill 1 rows: no history; one success; one success and one failure (the same-attempt
    # skill-0 row does not count).
    expected = 1 / (1 + np.exp(-np.array([beta, beta + gamma, beta + gamma + rho])))
    np.testing.assert_allclose(p[[0, 1, 3]], expected, rtol=1e-12)
    np.testing.assert_allclose(
        model.knowledge_state(probe)[1], 1 / (1 + np.exp(-(beta + 2 * gamma + rho))), rtol=1e-12
    )


def test_practice_that_helps_gets_a_positive_success_weight():
    # seed 2: p(correct) rises with each earlier success on the skill.
    rng = np.random.default_rng(2)
    users, skills, answers = [], [], []
    for student in range(300):
        successes = 0
        for _ in range(12):
            right = int(rng.random() < 1 / (1 + np.exp(-(-1.0 + 0.4 * successes))))
            users.append(student)
            skills.append(0)
            answers.append(right)
            successes += right
    model = PFA(PFAConfig(count_transform="raw", l2=1e-3)).fit(make_table(users, skills, answers))
    np.testing.assert_allclose(
        model.weights.loc[0, ["intercept", "success"]], [-1.0, 0.4], atol=0.15
    )


def test_bad_settings_are_rejected():
    with pytest.raises(ValueError, match="count_transform"):
        PFAConfig(count_transform="sqrt")
    with pytest.raises(ValueError, match="l2"):
        PFAConfig(l2=0.0)
