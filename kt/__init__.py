"""Knowledge tracing on logged student data: readers, splits, metrics, models.

Data layer: the canonical interaction table and its readers (``kt.data``), leak-free
attempt grouping (``kt.attempts``), student-level splits (``kt.splits``), metrics and
plots (``kt.metrics``), and the ``KnowledgeTracer`` protocol every model implements
(``kt.protocol``).
"""

from kt.attempts import (
    attempt_codes,
    attempt_index,
    canonical_order,
    history_length,
    prior_counts,
    sort_canonical,
    student_codes,
)
from kt.data import (
    REQUIRED_COLUMNS,
    ReadReport,
    make_table,
    read_interactions,
    read_log,
    read_matrix,
    read_pykt,
    read_three_line,
    validate_table,
)
from kt.metrics import (
    auc_score,
    binary_metrics,
    calibration_curve,
    evaluate_predictions,
    per_skill_metrics,
    plot_calibration,
    plot_knowledge_heatmap,
)
from kt.protocol import PREDICTION_COLUMN, KnowledgeTracer
from kt.splits import dkt_synthetic_split, holdout_split, kfold_splits, pykt_split

__all__ = [
    "REQUIRED_COLUMNS",
    "ReadReport",
    "make_table",
    "validate_table",
    "read_log",
    "read_interactions",
    "read_three_line",
    "read_pykt",
    "read_matrix",
    "KnowledgeTracer",
    "PREDICTION_COLUMN",
    "student_codes",
    "canonical_order",
    "sort_canonical",
    "attempt_index",
    "attempt_codes",
    "history_length",
    "prior_counts",
    "holdout_split",
    "kfold_splits",
    "dkt_synthetic_split",
    "pykt_split",
    "auc_score",
    "binary_metrics",
    "evaluate_predictions",
    "per_skill_metrics",
    "calibration_curve",
    "plot_calibration",
    "plot_knowledge_heatmap",
]
