"""A ``scripts/tutor.py`` run folder as chart data: post-tests, learning curves, gaps.

``read_comparison`` reads ``summary.json`` (each policy's post-test mean and 95% CI, the
paired differences on the same students) and, when the folder has it, ``learning_curves.csv``
(mean expected post-test after each step, with its CI). The gap to the oracle is the paired
difference oracle minus policy, with its paired CI: the students are the same under every
policy, so it is tighter than the difference of two independent CIs.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pandas as pd

from riley_gym.web.errors import InputError

__all__ = ["read_comparison"]


def _number(value: Any) -> float | None:
    if isinstance(value, (int, float)) and math.isfinite(value):
        return float(value)
    return None


def read_comparison(path: str) -> dict[str, Any]:
    """Chart data of the run folder ``path`` (or of its ``summary.json`` given directly).

    Returns:
        ``policies``: name, post_test_mean, post_test_ci95, gain_mean, mastered_fraction, and
        ``oracle_gap``/``oracle_gap_ci95`` when the run has the oracle; ``curves``: policy ->
        {step, mean, ci95} lists (empty without learning_curves.csv); ``best``; ``settings``.

    Raises:
        InputError: missing folder (404), or a folder whose summary.json is not a tutoring
            comparison (400).
    """
    if not isinstance(path, str) or not path.strip():
        raise InputError("run folder path is empty")
    folder = Path(path.strip()).expanduser()
    if folder.is_file() and folder.name == "summary.json":
        folder = folder.parent
    if not folder.exists():
        raise InputError(f"no such folder: {path}", status=404)
    summary_path = folder / "summary.json"
    if not summary_path.is_file():
        raise InputError(f"{path} holds no summary.json: give a run folder of scripts/tutor.py")
    try:
        summary = json.loads(summary_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise InputError(f"{summary_path} is not valid JSON: {error}") from error
    policies = summary.get("policies") if isinstance(summary, dict) else None
    if not isinstance(policies, dict) or not all(
        isinstance(row, dict) and "post_test_mean" in row for row in policies.values()
    ):
        kind = summary.get("mode") if isinstance(summary, dict) else None
        raise InputError(
            f"{summary_path} is not a policy comparison of scripts/tutor.py"
            + (f" (it is from a {kind!r} run)" if kind else "")
            + ": it needs 'policies' with each policy's post_test_mean"
        )
    paired = summary.get("paired_differences") or {}
    rows = []
    for name, figures in policies.items():
        row = {
            "name": name,
            "post_test_mean": _number(figures.get("post_test_mean")),
            "post_test_ci95": _number(figures.get("post_test_ci95")),
            "gain_mean": _number(figures.get("gain_mean")),
            "mastered_fraction": _number(figures.get("mastered_fraction")),
            "oracle_gap": None,
            "oracle_gap_ci95": None,
        }
        versus_oracle = paired.get(name, {}).get("oracle") if isinstance(paired, dict) else None
        if name != "oracle" and isinstance(versus_oracle, dict):
            difference = _number(versus_oracle.get("diff"))  # policy minus oracle
            row["oracle_gap"] = -difference if difference is not None else None
            row["oracle_gap_ci95"] = _number(versus_oracle.get("ci95"))
        rows.append(row)
    curves: dict[str, dict[str, list[float]]] = {}
    curves_path = folder / "learning_curves.csv"
    if curves_path.is_file():
        try:
            frame = pd.read_csv(curves_path)
        except (ValueError, pd.errors.ParserError) as error:
            raise InputError(f"{curves_path} is not a readable CSV: {error}") from error
        needed = {"policy", "step", "post_test_mean", "ci95"}
        if not needed <= set(frame.columns):
            raise InputError(
                f"{curves_path} needs the columns {sorted(needed)}, has {list(frame.columns)}"
            )
        for name, part in frame.groupby("policy", sort=False):
            curves[str(name)] = {
                "step": part["step"].astype(int).tolist(),
                "mean": part["post_test_mean"].astype(float).tolist(),
                "ci95": part["ci95"].fillna(0.0).astype(float).tolist(),
            }
    settings = summary.get("settings", {})
    return {
        "path": str(path),
        "policies": rows,
        "curves": curves,
        "has_oracle": "oracle" in policies,
        "verdicts": summary.get("verdicts", {}),
        "settings": settings if isinstance(settings, dict) else {},
        "dkt_test_auc": _number(summary.get("dkt_test_auc")),
        "bkt_test_auc": _number(summary.get("bkt_test_auc")),
    }
