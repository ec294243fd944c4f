"""Plots for knowledge tracing: calibration and the DKT paper's knowledge heatmap.

Figures are drawn on a ``matplotlib.figure.Figure`` with the Agg canvas, so nothing
touches pyplot's global state or the backend.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator, NullFormatter

from riley_gym.kt.data.metrics import calibration_curve
from riley_gym.kt.data.table import PREDICTION_COLUMN

__all__ = [
    "plot_calibration",
    "plot_knowledge_heatmap",
    "plot_loss_gap_by_depth",
    "plot_model_comparison",
    "plot_learning_curves",
    "plot_fit_quality",
    "plot_inference_vs_learning",
    "plot_tutor_learning_curve",
    "plot_sweep",
    "plot_epoch_scaling",
]


# Tick marks of wrong (0) and right (1) answers; DejaVu Sans, matplotlib's default font, has both.
MARKS = ("\u2717", "\u2713")


def _figure(width: float, height: float) -> Figure:
    figure = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def _save(figure, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120, bbox_inches="tight")
    return path


def plot_calibration(
    pred_tables: dict[str, pd.DataFrame], path: str | Path, n_bins: int = 10
) -> Path:
    """Reliability diagram: fraction correct against mean predicted p, one line per model.

    Args:
        pred_tables: Model name -> prediction table (``correct`` and ``p_correct``).
        path: PNG file to write (folders are created).
        n_bins: Number of equal-width bins.

    Returns:
        The path written.

    Raises:
        ValueError: If ``pred_tables`` is empty or a table lacks the columns.
    """
    if not pred_tables:
        raise ValueError("plot_calibration: pred_tables is empty; give name -> prediction table")
    figure = _figure(5.0, 5.0)
    axes = figure.add_subplot(1, 1, 1)
    axes.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=1, label="perfect")
    for name, table in pred_tables.items():
        missing = [c for c in ("correct", PREDICTION_COLUMN) if c not in table.columns]
        if missing:
            raise ValueError(f"plot_calibration: table {name!r} lacks column(s) {missing}")
        curve = calibration_curve(
            table["correct"].to_numpy(), table[PREDICTION_COLUMN].to_numpy(), n_bins=n_bins
        )
        curve = curve[curve["n"] > 0]
        axes.plot(curve["mean_p"], curve["frac_correct"], marker="o", label=str(name))
    axes.set_xlim(0, 1)
    axes.set_ylim(0, 1)
    axes.set_xlabel("mean predicted p(correct)")
    axes.set_ylabel("fraction correct")
    axes.set_title("Calibration")
    axes.legend(loc="upper left")
    return _save(figure, path)


def plot_knowledge_heatmap(
    skills: Sequence,
    exercise_sequence: Sequence,
    correct_sequence: Sequence[int],
    knowledge: np.ndarray,
    path: str | Path,
    truth: np.ndarray | None = None,
    labels: Sequence[str] | None = None,
) -> Path:
    """The DKT paper's figure: predicted p(correct) per skill along one student's attempts.

    Rows are skills, columns the student's attempts, labelled with what was practised and a
    check mark (right) or a cross (wrong); colour is the predicted p(correct) on a next attempt
    at that row's skill after the column's attempt (Piech et al. 2015, figure 1).

    Args:
        skills: Skill names or ids labelling the rows, length ``n_skills``.
        exercise_sequence: Skill (or exercise) of each attempt, length ``T``.
        correct_sequence: 0/1 answer of each attempt, length ``T``.
        knowledge: Predicted p(correct), shape ``(T, n_skills)``; row ``t`` is after
            attempt ``t``.
        path: PNG file to write (folders are created).
        truth: Optional true p(correct) of the same shape (a simulated student),
            drawn as a second panel.
        labels: Names of what each attempt practised (e.g. exercise names), length ``T``;
            default: the entries of ``exercise_sequence``.

    Returns:
        The path written.

    Raises:
        ValueError: If the shapes disagree or values are outside [0, 1].
    """
    knowledge = np.asarray(knowledge, dtype=np.float64)
    n_steps = len(exercise_sequence)
    if knowledge.ndim != 2 or knowledge.shape != (n_steps, len(skills)):
        raise ValueError(
            f"plot_knowledge_heatmap: knowledge must have shape (T, n_skills) = "
            f"({n_steps}, {len(skills)}), got {knowledge.shape}"
        )
    if len(correct_sequence) != n_steps:
        raise ValueError(
            f"plot_knowledge_heatmap: {len(correct_sequence)} answers for {n_steps} attempts"
        )
    panels = [("predicted p(correct)", knowledge)]
    if truth is not None:
        truth = np.asarray(truth, dtype=np.float64)
        if truth.shape != knowledge.shape:
            raise ValueError(
                f"plot_knowledge_heatmap: truth has shape {truth.shape}, "
                f"knowledge {knowledge.shape}"
            )
        panels.append(("true p(correct)", truth))
    for title, values in panels:
        if not np.all(np.isfinite(values)) or values.min() < 0 or values.max() > 1:
            raise ValueError(f"plot_knowledge_heatmap: {title} values must be in [0, 1]")
    width = min(4.0 + 0.3 * n_steps, 40.0)
    height = (1.5 + 0.3 * len(skills)) * len(panels)
    figure = _figure(width, height)
    names = [str(item) for item in (exercise_sequence if labels is None else labels)]
    if len(names) != n_steps:
        raise ValueError(f"plot_knowledge_heatmap: {len(names)} labels for {n_steps} attempts")
    ticks = [f"{name} {MARKS[int(c)]}" for name, c in zip(names, correct_sequence)]
    for index, (title, values) in enumerate(panels):
        axes = figure.add_subplot(len(panels), 1, index + 1)
        image = axes.imshow(
            values.T, aspect="auto", cmap="viridis", vmin=0.0, vmax=1.0, interpolation="nearest"
        )  # (n_skills, T)
        axes.set_yticks(range(len(skills)))
        axes.set_yticklabels([str(s) for s in skills])
        axes.set_xticks(range(n_steps))
        axes.set_xticklabels(ticks, rotation=90, fontsize=7)
        axes.set_xlabel(f"attempt ({MARKS[1]} right, {MARKS[0]} wrong)")
        axes.set_ylabel("skill")
        axes.set_title(title)
        figure.colorbar(image, ax=axes, label="p(correct)")
    return _save(figure, path)


def plot_loss_gap_by_depth(
    gaps: dict[str, dict[str, Sequence[float]]], path: str | Path, reference: str = "reference"
) -> Path:
    """Each model's log-loss minus a reference predictor's, against the concept depth of the answer.

    Below 0 on the training students and above on the test students is overfitting; above on both,
    underfitting.

    Args:
        gaps: model name -> {"train": gaps by depth, "test": gaps by depth} (nats per answer).
        path: PNG file to write (folders are created).
        reference: what the gaps are measured against, for the axis label.

    Returns:
        The path written.

    Raises:
        ValueError: If ``gaps`` is empty.
    """
    if not gaps:
        raise ValueError(
            "plot_loss_gap_by_depth: gaps is empty; give name -> {'train': [...], 'test': [...]}"
        )
    figure = _figure(6.0, 4.0)
    axes = figure.add_subplot(1, 1, 1)
    axes.axhline(0.0, color="grey", linewidth=1)
    for number, (name, by_half) in enumerate(gaps.items()):
        colour = f"C{number}"
        for half, style in (("train", "--"), ("test", "-")):
            values = np.asarray(by_half[half])
            axes.plot(
                np.arange(len(values)),
                values,
                linestyle=style,
                marker="o",
                color=colour,
                label=f"{Path(str(name)).name} ({half})",
            )
    axes.set_xlabel("earlier answers on the same concept")
    axes.set_ylabel(f"log-loss minus {reference}'s (nats per answer)")
    axes.set_title("Log-loss against the reference by concept depth")
    axes.legend(fontsize="small")
    return _save(figure, path)


def plot_model_comparison(table: pd.DataFrame, path: str | Path) -> Path:
    """Bars of each model's test AUC on the same split (``table``:
    columns ``model``, ``test_auc``)."""
    figure = _figure(6.0, 3.5)
    axes = figure.add_subplot()
    axes.bar(table["model"], table["test_auc"], color="tab:blue")
    for x, value in enumerate(table["test_auc"]):
        axes.text(x, value, f"{value:.3f}", ha="center", va="bottom")
    axes.set_ylim(0.5, 1.0)
    axes.set_ylabel("test AUC")
    axes.set_title("Knowledge tracers on the same split")
    return _save(figure, path)


def plot_learning_curves(comparison: Any, path: str | Path, title: str = "") -> Path:
    """PNG of the mean true expected post-test after each step, per policy, with 95% CI bands."""
    curves = comparison.learning_curves()
    figure = _figure(7.0, 4.5)
    axis = figure.add_subplot()
    for name, curve in curves.groupby("policy", sort=False):
        line = axis.plot(
            curve["step"],
            curve["post_test_mean"],
            label=name,
            linestyle="--" if name == "oracle" else "-",
        )
        axis.fill_between(
            curve["step"],
            curve["post_test_mean"] - curve["ci95"],
            curve["post_test_mean"] + curve["ci95"],
            alpha=0.2,
            color=line[0].get_color(),
        )
    axis.set_xlabel("exercises done")
    axis.set_ylabel("expected post-test score (hidden truth)")
    axis.set_title(title or "Learning curves (mean, 95% CI)")
    axis.legend(fontsize=8)
    axis.grid(alpha=0.3)
    return _save(figure, path)


def plot_fit_quality(
    quality: pd.DataFrame, path: str | Path, skill_labels: dict | None = None
) -> Path:
    """PNG: per skill, correctness by attempt number, real (solid) vs simulated (dashed)."""
    skills = quality.index.get_level_values("skill_id").unique()
    columns = min(4, len(skills))
    rows = int(np.ceil(len(skills) / columns))
    figure = _figure(3.2 * columns, 2.6 * rows)
    axes = figure.subplots(rows, columns, squeeze=False, sharey=True)
    for axis, skill in zip(axes.flat, skills):
        group = quality.loc[skill]
        axis.plot(group.index, group["real"], "o-", label="real")
        axis.plot(group.index, group["simulated"], "s--", label="simulated")
        axis.set_title(
            str(skill_labels.get(skill, skill)) if skill_labels else f"skill {skill}", fontsize=9
        )
        axis.set_ylim(0, 1)
        axis.grid(alpha=0.3)
    for axis in axes.flat[len(skills) :]:
        axis.axis("off")
    axes.flat[0].legend(fontsize=8)
    figure.supxlabel("attempt number at the skill")
    figure.supylabel("fraction correct")
    return _save(figure, path)


def plot_inference_vs_learning(
    measurements: Sequence[Any], exercise_names: Sequence[str], path: str | Path
) -> Path:
    """Per exercise, each model's mean predicted learning gain beside the true expected gain.

    Args:
        measurements: ``kt.experiments.inference_vs_learning.GainMeasurement``s (same states).
        exercise_names: names of the exercises (the bars' labels).
        path: PNG file to write.
    """
    if not measurements:
        raise ValueError("plot_inference_vs_learning: no measurements")
    n_exercises = len(exercise_names)
    figure = _figure(max(6.0, 0.5 * n_exercises + 2.0), 4.5)
    axes = figure.add_subplot()
    width = 0.8 / (len(measurements) + 1)
    positions = np.arange(n_exercises)
    axes.bar(positions, 100 * measurements[0].true, width, label="true (simulator)", color="black")
    for number, measured in enumerate(measurements, start=1):
        label = f"{measured.name} (r = {measured.correlation:.2f})"
        axes.bar(positions + number * width, 100 * measured.predicted, width, label=label)
    axes.axhline(0.0, color="grey", linewidth=0.8)
    axes.set_xticks(positions + 0.4 - width / 2)
    axes.set_xticklabels(list(exercise_names), rotation=60, ha="right", fontsize=7)
    axes.set_ylabel("expected post-test change (points)")
    axes.set_title("Predicted learning gain of each exercise against the truth (r: per state)")
    axes.legend(fontsize=7)
    return _save(figure, path)


def plot_tutor_learning_curve(curve: dict[str, Any], path: str | Path, title: str = "") -> Path:
    """The learned tutor's validation post-test against training steps, heuristics as lines.

    Args:
        curve: {"steps": [...], "post_test": [...], "heuristics": {name: post-test}}.
        path: PNG file to write.
        title: the figure's title.
    """
    if not curve.get("steps"):
        raise ValueError("plot_tutor_learning_curve: the curve has no points")
    figure = _figure(6.5, 4.0)
    axes = figure.add_subplot()
    axes.plot(curve["steps"], curve["post_test"], marker="o", color="black", label="DQN tutor")
    for number, (name, value) in enumerate(curve.get("heuristics", {}).items()):
        axes.axhline(value, linestyle="--", color=f"C{number}", label=name)
    axes.set_xlabel("training student-steps")
    axes.set_ylabel("mean post-test (validation students)")
    axes.set_title(title or "The DQN tutor's learning curve")
    axes.legend(fontsize=7)
    axes.grid(alpha=0.3)
    return _save(figure, path)


def plot_sweep(trials: list[dict[str, Any]], best: str | None, path: str | Path) -> Path:
    """Validation AUC by epoch of each sweep trial: the best bold, start points dashed,
    trials ASHA stopped thin and grey.

    Args:
        trials: rows with ``trial``, ``status``, ``start_point`` and ``curve`` (pairs of
            epoch and validation AUC), as ``kt.experiments.sweep`` writes them.
        best: the chosen trial's name (None: none finished).
        path: PNG file to write.
    """
    figure = _figure(7, 4.2)
    axes = figure.add_subplot()
    for row in trials:
        curve = np.asarray(row["curve"], dtype=float).reshape(-1, 2)
        if not len(curve):
            continue
        style: dict[str, Any] = {"color": "0.65", "linewidth": 0.9, "zorder": 1}
        if row["status"] == "finished":
            style = {"linewidth": 1.3, "zorder": 2}
        if row["start_point"]:
            style.update(linestyle="--", label=f"{row['trial']} (start point)")
        if row["trial"] == best:
            style.update(color="black", linewidth=2.4, zorder=3, label=f"{row['trial']} (best)")
        axes.plot(curve[:, 0], curve[:, 1], marker=".", **style)
    axes.set_xlabel("epoch")
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_ylabel("validation AUC")
    n_stopped = sum(row["status"] == "stopped by ASHA" for row in trials)
    axes.set_title(f"{len(trials)} trials; grey: {n_stopped} stopped by ASHA")
    if axes.get_legend_handles_labels()[0]:
        axes.legend(loc="lower right", fontsize=8)
    axes.grid(alpha=0.3)
    return _save(figure, path)


def plot_epoch_scaling(rows: list[dict[str, Any]], path: str | Path) -> Path:
    """CPU and wall seconds of one epoch against its training rows (log-log), with the line
    that linear growth through the largest log would follow.

    Args:
        rows: ``train_interactions``, ``train_seconds`` and ``train_cpu_seconds`` per run
            (``scripts/bench_scale.py --curve``).
        path: PNG file to write.
    """
    figure = _figure(5.5, 4)
    axes = figure.add_subplot()
    rows = sorted(rows, key=lambda row: row["train_interactions"])
    n = np.array([row["train_interactions"] for row in rows], dtype=float)
    cpu = np.array([row["train_cpu_seconds"] for row in rows], dtype=float)
    wall = np.array([row["train_seconds"] for row in rows], dtype=float)
    axes.loglog(n, cpu, "o-", label="CPU seconds")
    axes.loglog(n, wall, "s--", label="wall seconds", alpha=0.7)
    # Through the largest log, where fixed per-run costs weigh least.
    axes.loglog(n, cpu[-1] * n / n[-1], ":", color="0.4", label="linear through the largest")
    # Plain numbers, not mathtext powers of ten (whose fonts this machine lacks).
    for axis in (axes.xaxis, axes.yaxis):
        axis.set_major_formatter(
            FuncFormatter(lambda value, _: f"{value:,.0f}" if value >= 10 else f"{value:g}")
        )
        axis.set_minor_formatter(NullFormatter())
    axes.set_xlabel("training rows in one epoch")
    axes.set_ylabel("seconds per epoch")
    axes.legend(fontsize=8)
    axes.grid(alpha=0.3, which="both")
    return _save(figure, path)
