"""The models room: knowledge tracers behind one protocol, fitted on a prepared table.

``protocol`` (``KnowledgeTracer``), ``registry`` (``MODELS``: name -> class, imported on
lookup), one module per model (``dkt``, ``bkt``, ``pfa``, ``irt``, ``marginal``), the shared
gradient-descent loop (``training``) and model files (``files``). A model's ``fit`` fits the
model on the table it is given; splits, mixtures, teachers and refits are prepared by
``riley_gym.kt.experiments``.
"""

from riley_gym.kt.models.protocol import KnowledgeTracer
from riley_gym.kt.models.registry import MODEL_NAMES, MODELS

__all__ = ["KnowledgeTracer", "MODELS", "MODEL_NAMES"]
