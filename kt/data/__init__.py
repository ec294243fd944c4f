"""The data room: the canonical interaction table, its readers, and what is computed on it alone.

``table`` (columns, ``make_table``, ``validate_table``), ``readers`` (``read_log`` and one
reader per format, each with a ``ReadReport``), ``attempts`` (leak-free grouping of rows
into attempts), ``sequences`` (per-student tensors and batches), ``splits`` and
``protocols`` (student-level splits, the evaluation protocols), ``metrics``.
"""

from riley_gym.kt.data.attempts import (
    attempt_codes,
    attempt_index,
    canonical_order,
    history_length,
    prior_counts,
    sort_canonical,
    student_codes,
)
from riley_gym.kt.data.metrics import (
    auc_score,
    binary_metrics,
    calibration_curve,
    evaluate_predictions,
    per_skill_metrics,
)
from riley_gym.kt.data.readers import (
    DUPLICATE_POLICIES,
    FORMATS,
    ReadReport,
    default_data_dir,
    detect_format,
    read_interactions,
    read_log,
    read_matrix,
    read_pykt,
    read_three_line,
)
from riley_gym.kt.data.splits import dkt_synthetic_split, holdout_split, kfold_splits, pykt_split
from riley_gym.kt.data.table import (
    PREDICTION_COLUMN,
    PROVENANCE_COLUMNS,
    REQUIRED_COLUMNS,
    SOURCE_ENTRY,
    SOURCE_LINE,
    make_table,
    validate_table,
)

__all__ = [
    "REQUIRED_COLUMNS",
    "PREDICTION_COLUMN",
    "SOURCE_LINE",
    "SOURCE_ENTRY",
    "PROVENANCE_COLUMNS",
    "FORMATS",
    "DUPLICATE_POLICIES",
    "ReadReport",
    "make_table",
    "validate_table",
    "default_data_dir",
    "detect_format",
    "read_log",
    "read_interactions",
    "read_three_line",
    "read_pykt",
    "read_matrix",
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
]
