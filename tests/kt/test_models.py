"""kt.models: the registry names every knowledge tracer and imports lazily."""

import pytest

from kt.dkt import DKT
from kt.models import MODEL_NAMES, MODELS


def test_registry_names_and_lookup():
    assert list(MODELS) == ["dkt", "bkt", "pfa", "irt", "marginal"] == list(MODEL_NAMES)
    assert MODELS["dkt"] is DKT and len(MODELS) == 5
    with pytest.raises(KeyError, match="known models"):
        MODELS["lstm"]
