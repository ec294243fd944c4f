"""The one interface every knowledge tracer in ``kt`` implements.

A knowledge tracer is fitted on a canonical interaction table (see ``kt.data``:
columns ``user_id``, ``item_id``, ``skill_id``, ``correct``, ``order``) and then
predicts, for every row of a table, the probability that the student answers it
correctly given only that student's earlier attempts.

Leak-free by construction (issue 4, "Evaluation"): the prediction for a row may use
only the rows of the same student whose ``order`` is strictly smaller. Rows of one
student that share an ``order`` are one attempt carrying several skills; none of them
may see the answer of another (pyKT users found that this leak inflated AUC from about
0.75 to about 0.9). ``kt.data.attempts`` has the helpers that group rows into attempts, and
``tests/kt/models/test_protocol.py`` checks every registered model against this contract.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
import pandas as pd

__all__ = ["KnowledgeTracer"]


@runtime_checkable
class KnowledgeTracer(Protocol):
    """Structural type of a knowledge-tracing model (DKT, BKT, PFA, IRT, marginal).

    Attributes:
        config: The model's frozen configuration dataclass; it travels whole into
            checkpoints and ``summary.json``.
    """

    config: Any

    def fit(self, table: pd.DataFrame, valid: pd.DataFrame | None = None) -> KnowledgeTracer:
        """Fit the model on a canonical interaction table.

        Args:
            table: Training interactions in the canonical format (not modified).
            valid: Optional validation interactions (e.g. for early stopping).

        Returns:
            The fitted model itself.
        """
        ...

    def predict(self, table: pd.DataFrame) -> pd.DataFrame:
        """Predict p(correct) for every row, given only the student's earlier attempts.

        Args:
            table: Interactions in the canonical format (not modified). Its
                ``correct`` values are used only as history for later attempts.

        Returns:
            A copy of ``table`` in the same row order with a float column
            ``p_correct`` in (0, 1). The value for a row depends only on the same
            student's rows with strictly smaller ``order``. Skills unknown to the
            model get the model's documented fallback, counted, never silently.
        """
        ...

    def knowledge_state(self, history: pd.DataFrame) -> np.ndarray:
        """p(correct) on a next attempt at each known skill after a history.

        Args:
            history: One student's rows in the canonical format; may be empty.

        Returns:
            Array of shape ``(n_skills,)``; entry ``i`` is for skill ``skill_ids[i]``.
        """
        ...

    @property
    def skill_ids(self) -> np.ndarray:
        """Skill ids in the model's index order, shape ``(n_skills,)``."""
        ...

    def save(self, directory: str | Path) -> None:
        """Write the fitted model to ``directory`` (nets checkpoint and JSON, no pickle)."""
        ...

    @classmethod
    def load(cls, directory: str | Path) -> KnowledgeTracer:
        """Read a model written by ``save``."""
        ...
