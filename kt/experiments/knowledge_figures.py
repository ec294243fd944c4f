"""One student's predicted knowledge over their attempts, from a saved model (DKT paper, figure 1).

``write_knowledge_figure`` is what ``scripts/plot_knowledge.py`` calls: it takes one student's
first attempts from a log, asks the saved model after each attempt for p(correct) on a next
attempt at every skill (``KnowledgeTracer.knowledge_state`` on the history so far; every model
has it), and writes the heatmap, its numbers and a summary.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from riley_gym.kt.data import read_log
from riley_gym.kt.data.attempts import sort_canonical
from riley_gym.kt.experiments.plots import plot_knowledge_heatmap
from riley_gym.kt.experiments.saved_runs import load_saved

__all__ = ["pick_student", "knowledge_over_history", "write_knowledge_figure"]


def pick_student(table: pd.DataFrame, student: str | None, max_attempts: int, seed: int) -> Any:
    """The ``user_id`` whose text is ``student``, or (None) a random one of those who practise the
    most skills in their first ``max_attempts`` attempts.

    Raises:
        ValueError: if no student has that id.
    """
    if student is None:
        first = table.groupby("user_id", sort=False).head(max_attempts)
        variety = first.groupby("user_id", sort=False)["skill_id"].nunique()
        candidates = variety.index[variety == variety.max()]
        return candidates[np.random.default_rng(seed).integers(len(candidates))]
    ids = table["user_id"].astype(str)
    if not (ids == student).any():
        raise ValueError(f"--student {student!r} is not a user_id of the log")
    return table["user_id"][ids == student].iloc[0]


def knowledge_over_history(model: Any, history: pd.DataFrame) -> np.ndarray:
    """(n_rows, n_skills) the model's knowledge state after each row of one student's history."""
    states = [model.knowledge_state(history.iloc[: row + 1]) for row in range(len(history))]
    return np.stack(states)  # (T, n_skills)


def write_knowledge_figure(
    run: str | Path,
    data: str,
    out: str | Path | None = None,
    data_format: str = "auto",
    student: str | None = None,
    max_attempts: int = 40,
    seed: int = 0,
) -> dict[str, Any]:
    """Write ``knowledge.png``, ``knowledge.csv`` and ``summary.json`` of one student into ``out``
    (default ``run/knowledge-<student>``).

    Rows of the heatmap are the skills the student practised (that the model knows), columns
    the attempts.

    Returns:
        The summary written.
    """
    if max_attempts < 1:
        raise ValueError(f"--max-attempts must be >= 1, got {max_attempts}")
    name, model = load_saved(run)
    table = sort_canonical(read_log(data, format=data_format)[0])
    chosen = pick_student(table, student, max_attempts, seed)
    history = table[table["user_id"] == chosen].head(max_attempts)
    knowledge = knowledge_over_history(model, history)
    known = set(model.skill_ids.tolist())
    practised = [skill for skill in pd.unique(history["skill_id"]) if skill in known]
    columns = [int(np.flatnonzero(model.skill_ids == skill)[0]) for skill in practised]
    out = Path(out if out is not None else Path(run) / f"knowledge-{chosen}")
    out.mkdir(parents=True, exist_ok=True)
    skills = model.skill_ids[columns]
    answers = history[["skill_id", "correct"]].to_numpy()
    plot_knowledge_heatmap(
        skills, answers[:, 0], answers[:, 1], knowledge[:, columns], out / "knowledge.png"
    )
    frame = pd.DataFrame(knowledge[:, columns], columns=[f"p_skill_{skill}" for skill in skills])
    numbers = pd.concat([history[["skill_id", "correct"]].reset_index(drop=True), frame], axis=1)
    numbers.to_csv(out / "knowledge.csv", index=False)
    summary = {
        "model": name,
        "model_dir": str(run),
        "data": str(data),
        "student": str(chosen),
        "n_attempts": len(history),
        "skills_shown": [int(skill) for skill in skills],
        "out": str(out),
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    return summary
