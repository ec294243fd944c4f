"""Registry of the knowledge tracers: ``MODELS[name]`` is the model class.

``"dkt"`` (``kt.models.dkt.DKT``), ``"bkt"`` (``kt.models.bkt.BKT``),
``"pfa"`` (``kt.models.pfa.PFA``), ``"irt"`` (``kt.models.irt.IRT``), ``"marginal"``
(``kt.models.marginal.Marginal``) and the attention tracers ``"sakt"``, ``"akt"``,
``"simplekt"`` (``kt.models.sakt.SAKT``, ``kt.models.akt.AKT``,
``kt.models.simplekt.SimpleKT``). Each class implements
``kt.models.protocol.KnowledgeTracer``, takes its config dataclass as the one constructor
argument and has ``load(directory)``. The modules are imported on first
lookup, so importing this registry costs nothing and a model's module is loaded only
when asked for.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping

__all__ = ["MODELS", "MODEL_NAMES"]

_LOCATIONS = {
    "dkt": ("riley_gym.kt.models.dkt", "DKT"),
    "bkt": ("riley_gym.kt.models.bkt", "BKT"),
    "pfa": ("riley_gym.kt.models.pfa", "PFA"),
    "irt": ("riley_gym.kt.models.irt", "IRT"),
    "marginal": ("riley_gym.kt.models.marginal", "Marginal"),
    "sakt": ("riley_gym.kt.models.sakt", "SAKT"),
    "akt": ("riley_gym.kt.models.akt", "AKT"),
    "simplekt": ("riley_gym.kt.models.simplekt", "SimpleKT"),
}
MODEL_NAMES = tuple(_LOCATIONS)


class _Registry(Mapping):
    """A read-only name -> class mapping that imports each model's module on lookup."""

    def __getitem__(self, name: str) -> type:
        if name not in _LOCATIONS:
            raise KeyError(f"unknown model {name!r}; known models: {list(_LOCATIONS)}")
        module, attribute = _LOCATIONS[name]
        return getattr(importlib.import_module(module), attribute)

    def __iter__(self) -> Iterator[str]:
        return iter(_LOCATIONS)

    def __len__(self) -> int:
        return len(_LOCATIONS)

    def __repr__(self) -> str:
        return f"MODELS({list(_LOCATIONS)})"


MODELS: Mapping[str, type] = _Registry()
