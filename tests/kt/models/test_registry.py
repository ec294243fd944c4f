"""kt.models.registry: the registry names every knowledge tracer and imports lazily."""

import pytest

from riley_gym.kt.models.dkt import DKT
from riley_gym.kt.models.registry import MODEL_NAMES, MODELS


def test_registry_names_and_lookup():
    names = ["dkt", "bkt", "pfa", "irt", "marginal", "sakt", "akt", "simplekt"]
    assert list(MODELS) == names == list(MODEL_NAMES)
    assert MODELS["dkt"] is DKT and len(MODELS) == 8
    with pytest.raises(KeyError, match="known models"):
        MODELS["lstm"]
