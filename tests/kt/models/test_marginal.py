"""Marginal: per-skill means against hand counts, the global-mean fallback, settings."""

import numpy as np
import pytest

from riley_gym.kt.data import make_table
from riley_gym.kt.models.marginal import Marginal, MarginalConfig


def test_skill_means_by_hand_and_unknown_skill_fallback():
    # skill 2: right, wrong, right -> 2/3; skill 5: wrong -> 0 (clipped to 1e-6); global 2/4.
    train = make_table([0, 0, 1, 1], [2, 5, 2, 2], [1, 0, 0, 1])
    model = Marginal(MarginalConfig(smoothing=0.0)).fit(train)
    assert model.skill_ids.tolist() == [2, 5]
    test = make_table([3, 3, 3], [5, 2, 8], [1, 1, 0])
    with pytest.warns(UserWarning, match="1 row"):
        p = model.predict(test)["p_correct"].to_numpy()
    np.testing.assert_allclose(p, [1e-6, 2 / 3, 0.5])
    assert model.n_unknown_skill_rows == 1
    np.testing.assert_allclose(model.knowledge_state(test.iloc[:0]), [2 / 3, 1e-6])


def test_smoothing_pulls_towards_the_global_mean():
    train = make_table([0, 0, 1, 1], [2, 5, 2, 2], [1, 0, 0, 1])
    model = Marginal(MarginalConfig(smoothing=2.0)).fit(train)
    # skill 5: (0 + 2 * 0.5) / (1 + 2) = 1/3; skill 2: (2 + 1) / (3 + 2) = 0.6
    np.testing.assert_allclose(model.skill_means, [0.6, 1 / 3])


def test_bad_settings_are_rejected():
    with pytest.raises(ValueError, match="smoothing"):
        MarginalConfig(smoothing=-1.0)
    with pytest.raises(RuntimeError, match="not fitted"):
        Marginal().knowledge_state(make_table([0], [0], [1]))
