"""The tutoring run as text for a terminal: the policy table, the verdicts, the diagnosis."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from riley_gym.kt.experiments.tutor_pipeline import HEURISTICS, KT_POLICIES

__all__ = ["format_table", "format_report"]


def _number(value: Any, spec: str) -> str:
    return (
        ""
        if value is None or (isinstance(value, float) and math.isnan(value))
        else format(value, spec)
    )


def format_table(table: pd.DataFrame, tracer: str = "dkt") -> str:
    """The comparison table (with its ``gap_closed`` column when present) as aligned text;
    the model-based policies' kind is their tracer (LSTM for DKT)."""
    model_kind = "LSTM" if tracer == "dkt" else tracer.upper()
    header = f"{'policy':<13}{'kind':<11}{'post-test (95% CI)':>20}{'gain':>8}"
    header += (
        f"{'steps to mastery':>18}{'mastered':>10}{'vs random (95% CI)':>21}{'gap closed':>12}"
    )
    lines = [header]
    for name, row in table.iterrows():
        kind = "bound" if name not in KT_POLICIES else model_kind
        kind = "heuristic" if name in HEURISTICS else kind
        gap = row.get("gap_closed")
        lines.append(
            f"{name:<13}{kind:<11}{row.post_test_mean:>11.3f} +- {row.post_test_ci95:<5.3f}"
            f"{row.gain_mean:>8.3f}{row.steps_to_mastery_mean:>13.1f} +- "
            f"{row.steps_to_mastery_ci95:<3.1f}{row.mastered_fraction:>9.0%}"
            f"{row.diff_vs_random:>+12.3f} +- {row.diff_ci95:<5.3f}{_number(gap, '>11.0%')}"
        )
    return "\n".join(lines)


def format_report(result: dict[str, Any], config: Any, calibrated: bool = False) -> str:
    """What ``scripts/tutor.py`` prints after a run (a ``run_tutor``/``run_on_logs`` result)."""
    lines, tracer, label = [], result["tracer"], result["tracer"].upper()
    if calibrated:
        lines += [
            "",
            "Fit of the calibrated simulator (correctness by attempt, real vs simulated):",
        ]
        lines.append(result["fit_table"].to_string(float_format=lambda v: f"{v:.3f}"))
        lines.append(
            f"KT models on held-out real students: {label} AUC {result['dkt_heldout_auc']:.3f}, "
            f"BKT AUC {result['bkt_heldout_auc']:.3f}"
        )
    dynamics = "calibrated bkt" if calibrated else result["settings"]["dynamics"]
    lines += ["", f"Policies on {config.students} simulated students ({dynamics} dynamics, "
              f"{config.session_length} exercises; gap closed: of the best heuristic's gap to the "
              "oracle):", format_table(result["table"], tracer)]  # fmt: skip
    verdicts = result["verdicts"]
    best, based = verdicts["best_kt_policy"], "LSTM" if tracer == "dkt" else label
    if best is not None:
        lines += [
            "",
            f"Best {based}-based policy, {best}, against every heuristic (paired, same students):",
        ]
        for name, row in verdicts["kt_vs_heuristics"].items():
            verdict = "better" if row["better"] else "NOT better"
            lines.append(f"  vs {name:<12} {row['diff']:+.4f} +- {row['ci95']:.4f} ({verdict})")
        every = (
            "beats every heuristic"
            if verdicts["beats_every_heuristic"]
            else "does NOT beat every heuristic"
        )
        lines.append(f"  -> {best} {every}")
        if verdicts["below_random"]:
            lines.append(f"  {based}-based policies below random: {verdicts['below_random']}")
    diagnosis = result.get("diagnosis")
    if diagnosis:
        lines += ["", "Inference is not learning (per state and exercise, predicted vs true gain):"]
        for measured in diagnosis["measurements"]:
            lines.append(
                f"  {measured['name']:<26} correlation {measured['correlation']:+.3f}, "
                f"mean |error| {100 * measured['mean_abs_error']:.3f} points"
            )
        lines.append(
            "  greedy on DKT's own objective (the DKT paper's) tutors to "
            f"{diagnosis['greedy_on_dkt_objective_post_test']:.3f}"
        )
    if calibrated:
        lines += ["", "Policies vs logged sequences for held-out students, judged by the DKT:"]
        lines.append(result["judge_table"].to_string(float_format=lambda v: f"{v:+.4f}"))
        lines.append("CAVEAT: this judge is a model (the DKT trained on the log), not a student.")
    seconds = result["seconds"]
    lines.append(
        f"\n{label} test AUC {result['tracer_test_auc']:.3f}, BKT {result['bkt_test_auc']:.3f}; "
        f"seconds: " + ", ".join(
            f"{key} {value:.0f}" for key, value in seconds.items() if isinstance(value, float | int)
        )
    )  # fmt: skip
    lines.append("(oracle: reads the hidden state, an upper bound only; steps to mastery censored "
                 f"at {config.session_length})")  # fmt: skip
    return "\n".join(lines)
