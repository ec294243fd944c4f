"""IRT: recovery of difficulties on simulated Rasch data, the online Laplace update by hand."""

import numpy as np
import pytest

from riley_gym.kt.data import make_table
from riley_gym.kt.models.irt import IRT, IRTConfig


def test_recovers_difficulty_order_of_simulated_rasch_data():
    # seed 0: 400 students answer 8 items with difficulties -2 .. 2 (0.57 apart).
    rng = np.random.default_rng(0)
    difficulty = np.linspace(-2, 2, 8)
    ability = rng.normal(0, 1, 400)
    users = np.repeat(np.arange(400), 8)
    items = np.tile(np.arange(8), 400)
    correct = (
        rng.random(len(users)) < 1 / (1 + np.exp(-(ability[users] - difficulty[items])))
    ).astype(int)
    model = IRT().fit(make_table(users, items, correct))
    fitted = model.difficulties.loc[np.arange(8)].to_numpy()
    assert np.all(np.diff(fitted) > 0)
    np.testing.assert_allclose(fitted, difficulty, atol=0.3)


def _map_by_bisection(prior_mean, prior_var, difficulty, right):
    """MAP of N(prior_mean, prior_var) times one Rasch answer, by bisection on the gradient."""
    low, high = -20.0, 20.0
    for _ in range(200):
        theta = (low + high) / 2
        p = 1 / (1 + np.exp(-(theta - difficulty)))
        gradient = (right - p) - (theta - prior_mean) / prior_var  # d log posterior / d theta
        low, high = (theta, high) if gradient > 0 else (low, theta)
    return theta


def test_online_ability_update_is_the_laplace_step():
    train = make_table([0, 0, 1, 1, 2, 2], [3, 4, 3, 4, 3, 4], [1, 0, 1, 1, 0, 0])
    model = IRT(IRTConfig(newton_steps=30)).fit(train)
    b3, b4 = model.difficulties.loc[3], model.difficulties.loc[4]
    history = make_table(["x", "x"], [3, 4], [1, 0])
    p = model.predict(history)["p_correct"].to_numpy()
    theta1 = _map_by_bisection(0.0, 1.0, b3, 1)
    p1 = 1 / (1 + np.exp(-(theta1 - b3)))
    var1 = 1 / (1 + p1 * (1 - p1))
    np.testing.assert_allclose(
        p, [1 / (1 + np.exp(b3)), 1 / (1 + np.exp(-(theta1 - b4)))], rtol=1e-9
    )
    theta2 = _map_by_bisection(theta1, var1, b4, 0)
    mean, _ = model.ability(history)
    np.testing.assert_allclose(mean, theta2, atol=1e-9)


def test_bad_settings_are_rejected():
    with pytest.raises(ValueError, match="ability_prior_var"):
        IRTConfig(ability_prior_var=0.0)
    with pytest.raises(ValueError, match="newton_steps"):
        IRTConfig(newton_steps=0)
