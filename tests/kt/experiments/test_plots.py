"""kt.experiments.plots: every plot writes a PNG and refuses inputs it cannot draw."""

import numpy as np
import pytest

from riley_gym.kt.experiments.plots import (
    plot_calibration,
    plot_knowledge_heatmap,
    plot_loss_gap_by_depth,
)
from tests.helpers.tables import prediction_table

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def test_plots_write_png(tmp_path):
    table = prediction_table()
    path = plot_calibration(
        {"model": table, "other": table.assign(p_correct=0.5)},
        tmp_path / "plots" / "calibration.png",
    )
    assert path.read_bytes()[:8] == PNG_SIGNATURE
    knowledge = np.linspace(0.1, 0.9, 12).reshape(4, 3)
    path = plot_knowledge_heatmap(
        ["x-intercept", "slope", "sqrt"],
        [0, 1, 1, 2],
        [1, 0, 1, 1],
        knowledge,
        tmp_path / "heatmap.png",
        truth=knowledge[::-1],
    )
    assert path.read_bytes()[:8] == PNG_SIGNATURE
    with pytest.raises(ValueError, match=r"shape \(T, n_skills\) = \(4, 2\), got \(4, 3\)"):
        plot_knowledge_heatmap([0, 1], [0, 1, 1, 0], [1, 0, 1, 1], knowledge, tmp_path / "x.png")
    with pytest.raises(ValueError, match="pred_tables is empty"):
        plot_calibration({}, tmp_path / "y.png")
    path = plot_loss_gap_by_depth(
        {"runs/dkt": {"train": [0.0, -0.01], "test": [0.0, 0.02]}}, tmp_path / "gap.png"
    )
    assert path.read_bytes()[:8] == PNG_SIGNATURE
    with pytest.raises(ValueError, match="gaps is empty"):
        plot_loss_gap_by_depth({}, tmp_path / "z.png")
