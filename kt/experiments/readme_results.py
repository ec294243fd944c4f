"""Every kind of stored result behind the README's tables: where it lives, how it is stored.

``docs/results/KIND/`` holds one JSON file per run; ``render_all`` renders every kind's
blocks for ``readme_tables.replace_blocks``, and ``store`` turns a finished run's folder
into its stored file:

- ``tutoring``: a ``scripts/tutor.py`` run (``readme_tables``), blocks ``tutoring-*``;
- ``rounds``: a ``tutor.py --gain-rounds N`` run or its ``--gain-rounds 0`` pair
  (``gain_rounds_table``), blocks ``gain-rounds*``;
- ``kt``: a single-model ``scripts/train_kt.py`` run, with its ``evaluate_kt.py
  --pykt-windows`` score where it has one (``kt_tables``), blocks ``kt*``;
- ``web``: a ``scripts/bench_web.py`` run (``web_bench_table``), blocks ``web-latency*``.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from riley_gym.kt.experiments import gain_rounds_table, kt_tables, readme_tables, web_bench_table
from riley_gym.kt.experiments.stored_results import read_folder, read_stored, write_stored

__all__ = ["KINDS", "load_kind", "render_all", "store"]

KINDS = {"tutoring": "tutoring", "rounds": "tutoring-rounds", "kt": "kt", "web": "web-bench"}
_REQUIRED = {
    "rounds": gain_rounds_table.REQUIRED,
    "kt": kt_tables.REQUIRED,
    "web": web_bench_table.REQUIRED,
}


def load_kind(results: str | Path, kind: str) -> dict[str, dict[str, Any]]:
    """The stored runs of ``kind`` under the ``results`` folder (``docs/results``)."""
    folder = Path(results) / KINDS[kind]
    if kind == "tutoring":
        return readme_tables.load_runs(folder)
    return read_folder(folder, _REQUIRED[kind])


def render_all(results: str | Path) -> tuple[dict[str, str], dict[str, int]]:
    """(block name -> markdown, kind -> number of stored runs) over every kind.

    Raises:
        ValueError: no stored tutoring runs (the README's first tables), or a malformed file.
    """
    runs = {kind: load_kind(results, kind) for kind in KINDS}
    if not runs["tutoring"]:
        raise ValueError(f"no stored runs in {Path(results) / KINDS['tutoring']}")
    blocks = readme_tables.render_blocks(runs["tutoring"])
    if runs["rounds"]:
        blocks["gain-rounds"] = gain_rounds_table.rounds_table(runs["rounds"])
        blocks["gain-rounds-commands"] = gain_rounds_table.rounds_commands(runs["rounds"])
    blocks.update(kt_tables.render_kt_blocks(runs["kt"]))
    blocks.update(web_bench_table.render_web_blocks(runs["web"]))
    return blocks, {kind: len(stored) for kind, stored in runs.items()}


def store(
    results: str | Path,
    kind: str,
    run: str | Path,
    name: str,
    command: str,
    role: str | None = None,
    evaluation: str | Path | None = None,
    evaluation_command: str | None = None,
    variant: str | None = None,
) -> Path:
    """Store the finished run in folder ``run`` as ``results/KIND/name.json``.

    The date stored is the day (UTC) the run wrote its ``summary.json``.

    Raises:
        ValueError: the run has no ``summary.json``, a tutoring kind without ``role``, a KT
            evaluation folder without ``summary.json`` or of another run's model, or what the
            kind's store refuses.
    """
    summary_path = Path(run) / "summary.json"
    if not summary_path.is_file():
        raise ValueError(f"{run}: no summary.json there (is it a finished run?)")
    summary = read_stored(summary_path)
    date = time.strftime("%Y-%m-%d", time.gmtime(summary_path.stat().st_mtime))
    if kind == "kt":
        scored = None
        if evaluation is not None:
            evaluation_path = Path(evaluation) / "summary.json"
            if not evaluation_path.is_file():
                raise ValueError(f"{evaluation}: no summary.json there (an evaluate_kt.py run?)")
            scored = read_stored(evaluation_path, ("model_dir",))
            if Path(scored["model_dir"]).resolve() != Path(run).resolve():
                raise ValueError(f"{evaluation_path}: scores the model in {scored['model_dir']}, "
                                 f"not {run}")  # fmt: skip
        record = kt_tables.stored_kt_run(
            summary, command, date, scored, evaluation_command, variant
        )
    elif kind == "web":
        record = web_bench_table.stored_web_bench(summary, command, date)
    elif role is None:
        raise ValueError(f"storing a {kind} run needs its role, one of {readme_tables.ROLES}")
    elif kind == "rounds":
        record = gain_rounds_table.stored_rounds_run(summary, command, role, date)
    else:
        record = readme_tables.stored_run(summary, command, role, date)
    return write_stored(Path(results) / KINDS[kind], name, record)
