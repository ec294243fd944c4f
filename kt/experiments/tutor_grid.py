"""The policy x curriculum x seed grid of scripts/tutor.py, serially or as Ray tasks.

A grid cell is one curriculum and one seed: ``run_tutor`` trains that cell's models once and
tutors the same simulated students with every policy (the policy axis stays inside the cell,
so policies are compared on paired students, as in the single run). Cells go through
``fanout.run_tasks``: serially here, or as Ray tasks (``ray_address="local"`` or a cluster
address). Each cell seeds everything from its settings and sets its own torch threads, so the
Ray results equal the serial ones.

Example:
    >>> cells = grid_tasks({"students": 40}, ["riley"], [0, 1], "runs/grid", threads=1)
    >>> [cell["out_dir"] for cell in cells]
    ['runs/grid/riley-seed0', 'runs/grid/riley-seed1']
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import torch

from riley_gym.kt.experiments.fanout import grid, run_tasks
from riley_gym.kt.experiments.tutor_pipeline import TutorConfig, run_tutor

__all__ = ["grid_tasks", "run_cell", "run_grid", "grid_table"]

# What a cell returns: the figures that must agree between serial and Ray runs (not timings).
CELL_KEYS = ("policies", "paired_differences", "tracer", "tracer_test_auc", "bkt_test_auc",
             "tracer_epochs_run", "dkt_test_auc", "dkt_epochs_run")  # fmt: skip


def grid_tasks(
    settings: dict[str, Any],
    curricula: Sequence[str],
    seeds: Sequence[int],
    out_dir: str | Path,
    threads: int,
) -> list[dict[str, Any]]:
    """One task dict per (curriculum, seed), the seed varying fastest."""
    tasks = []
    for cell in grid(curriculum=list(curricula), seed=list(seeds)):
        name = f"{Path(cell['curriculum']).stem}-seed{cell['seed']}"
        tasks.append(
            {
                "settings": {**settings, **cell},
                "out_dir": str(Path(out_dir) / name),
                "threads": threads,
            }
        )
    return tasks


def run_cell(settings: dict[str, Any], out_dir: str, threads: int) -> dict[str, Any]:
    """One grid cell: ``run_tutor`` with these settings into ``out_dir``; its figures (JSON)."""
    torch.set_num_threads(threads)  # float sums, hence figures, depend on the thread count
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    summary = run_tutor(TutorConfig(**settings), out_dir)
    cell = {key: summary[key] for key in CELL_KEYS}
    return {
        "curriculum": settings["curriculum"],
        "seed": settings["seed"],
        "out_dir": out_dir,
        **cell,
    }


def run_grid(
    tasks: Sequence[dict[str, Any]], ray_address: str | None = None, num_cpus: int | None = None
) -> list[dict[str, Any]]:
    """``run_cell`` for every task, in task order (serially, or on Ray when an address is given)."""
    return run_tasks(run_cell, tasks, ray_address=ray_address, num_cpus=num_cpus)


def grid_table(cells: Sequence[dict[str, Any]]) -> str:
    """A markdown table: one row per cell and policy, mean post-test and difference to random."""
    lines = ["| curriculum | seed | policy | post-test | vs random |", "|---|---|---|---|---|"]
    for cell in cells:
        for policy, figures in cell["policies"].items():
            diff = figures.get("diff_vs_random")
            shown = "" if diff is None else f"{diff:+.3f}"
            lines.append(
                f"| {cell['curriculum']} | {cell['seed']} | {policy} | "
                f"{figures['post_test_mean']:.3f} | {shown} |"
            )
    return "\n".join(lines)
