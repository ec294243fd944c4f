"""Replaying a logged student: a log, a trained knowledge tracer, what it believed at each attempt.

``load_log`` reads any format ``kt.data.read_log`` reads; ``load_kt_model`` reads a run folder
of ``scripts/train_kt.py`` (``kt.experiments.saved_runs.load_saved``) and refuses anything else
with an ``InputError``; ``replay_student`` gives, for one student, the model's prediction
before each attempt (and whether it was wrong: p >= 0.5 against a wrong answer, or p < 0.5
against a right one) and its knowledge of every practised skill before and after each
attempt, which the page scrubs through. Logs and models are cached by file identity, so
several sessions share one copy.
"""

from __future__ import annotations

import threading
import warnings
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd

from riley_gym.kt.data import FORMATS, read_log
from riley_gym.kt.data.attempts import sort_canonical
from riley_gym.kt.experiments.saved_runs import load_saved
from riley_gym.web.errors import InputError

__all__ = [
    "LoadedLog",
    "LoadedModel",
    "Cache",
    "MAX_REPLAY_ATTEMPTS",
    "load_log",
    "load_kt_model",
    "replay_student",
    "student_list",
]

MAX_REPLAY_ATTEMPTS = 500
LOG_FORMATS = ("auto",) + tuple(FORMATS)


@dataclass
class LoadedLog:
    """A log read into the canonical table (sorted by student, then order)."""

    path: str
    table: pd.DataFrame
    report: Any

    def summary(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "format": self.report.format,
            "n_rows": len(self.table),
            "n_students": int(self.table["user_id"].nunique()),
            "n_skills": int(self.table["skill_id"].nunique()),
            "report": str(self.report),
            "n_dropped": self.report.n_dropped,
            "students": student_list(self.table),
        }


@dataclass
class LoadedModel:
    """A knowledge tracer read from a ``train_kt.py`` run folder."""

    path: str
    name: str
    model: Any

    def summary(self) -> dict[str, Any]:
        return {"path": self.path, "model": self.name, "n_skills": int(len(self.model.skill_ids))}


class Cache:
    """A small thread-safe LRU of loaded files, keyed by what identifies the file's content."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[Any, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Any, load: Callable[[], Any]) -> Any:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        value = load()  # outside the lock: one slow read does not block other sessions
        with self._lock:
            self._items[key] = value
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return value


def _existing(path: str, what: str) -> Path:
    if not isinstance(path, str) or not path.strip():
        raise InputError(f"{what} path is empty")
    resolved = Path(path.strip()).expanduser().resolve()
    if not resolved.exists():
        raise InputError(f"no such {what}: {path}", status=404)
    return resolved


def load_log(path: str, format: str, cache: Cache, shown_as: str | None = None) -> LoadedLog:
    """Read the log at ``path`` (a file on the server) in ``format`` (``auto`` detects it).

    Args:
        path: the file.
        format: ``auto`` or one of ``kt.data.FORMATS``.
        cache: where loaded logs are kept.
        shown_as: the name the page shows (an uploaded file's own name).

    Raises:
        InputError: unknown format (400), missing file (404), or a file no reader accepts (400).
    """
    if format not in LOG_FORMATS:
        raise InputError(f"unknown log format {format!r}; allowed: {list(LOG_FORMATS)}")
    resolved = _existing(path, "log file")
    if not resolved.is_file():
        raise InputError(f"{path} is a folder, not a log file")
    stat = resolved.stat()

    def read() -> LoadedLog:
        try:
            table, report = read_log(resolved, format=format)
        except (ValueError, TypeError, KeyError, UnicodeDecodeError) as error:
            raise InputError(f"cannot read {shown_as or path} as a student log: {error}") from error
        if not len(table):
            raise InputError(f"{shown_as or path} holds no usable rows:\n{report}")
        return LoadedLog(shown_as or str(path), sort_canonical(table), report)

    return cache.get(("log", str(resolved), stat.st_size, stat.st_mtime_ns, format), read)


def load_kt_model(path: str, cache: Cache) -> LoadedModel:
    """Read the model of a ``scripts/train_kt.py`` run folder.

    Raises:
        InputError: missing folder (404), or a folder or checkpoint that is not a riley-gym
            knowledge-tracing run (400).
    """
    resolved = _existing(path, "model folder")
    summary = resolved / "summary.json"
    stamp = summary.stat().st_mtime_ns if summary.is_file() else None

    def read() -> LoadedModel:
        try:
            name, model = load_saved(resolved, device="cpu")
        # load_saved raises ValueError (CheckpointError included) for a folder or file that is
        # not a run; KeyError for a summary without a known model; the weights-only loader
        # and load_state_dict RuntimeError/EOFError for damaged or foreign checkpoints.
        except (ValueError, KeyError, OSError, RuntimeError, EOFError) as error:
            raise InputError(
                f"not a riley-gym knowledge-tracing model: {error}. Give a run folder of "
                "scripts/train_kt.py (summary.json and model/, one model)"
            ) from error
        return LoadedModel(str(path), name, model)

    return cache.get(("model", str(resolved), stamp), read)


def student_list(table: pd.DataFrame) -> list[dict[str, Any]]:
    """Each student's id (as text) and number of rows, in the log's order."""
    counts = table.groupby("user_id", sort=False).size()
    return [{"user_id": str(user), "attempts": int(n)} for user, n in counts.items()]


def _trajectory(model: Any, history: pd.DataFrame) -> np.ndarray:
    """(n_rows + 1, n_skills) knowledge before any attempt and after each row."""
    # DKT computes every prefix in one pass; the others are asked once per prefix.
    whole = getattr(model, "knowledge_trajectory", None)
    if whole is not None:
        return whole(history)
    return np.stack([model.knowledge_state(history.iloc[:t]) for t in range(len(history) + 1)])


def replay_student(
    loaded_log: LoadedLog, loaded_model: LoadedModel, user_id: str, max_attempts: int
) -> dict[str, Any]:
    """One student's first ``max_attempts`` rows as the model saw them.

    Returns:
        ``attempts``: per row skill, item, answer, the model's p(correct) before it and
        ``model_wrong``; ``skills``: the practised skills the model knows, in order of first
        practice; ``knowledge``: (n_shown_skills, n_rows + 1) p(correct) on a next attempt at
        each of them, before any attempt (column 0) and after each row.

    Raises:
        InputError: unknown student (404), or ``max_attempts`` outside 1..MAX_REPLAY_ATTEMPTS.
    """
    if not 1 <= max_attempts <= MAX_REPLAY_ATTEMPTS:
        raise InputError(f"max_attempts must be in 1..{MAX_REPLAY_ATTEMPTS}, got {max_attempts}")
    table = loaded_log.table
    rows = table["user_id"].astype(str) == str(user_id)
    if not rows.any():
        raise InputError(f"no student {user_id!r} in {loaded_log.path}", status=404)
    history = table[rows].head(max_attempts).reset_index(drop=True)
    model = loaded_model.model
    with warnings.catch_warnings():
        # Unknown skills get the model's documented fallback; counted below for the page.
        warnings.simplefilter("ignore")
        predicted = model.predict(history)["p_correct"].to_numpy()  # (n_rows,)
        knowledge = _trajectory(model, history)  # (n_rows + 1, n_skills)
    skill_ids = np.asarray(model.skill_ids)
    index = {int(skill): i for i, skill in enumerate(skill_ids)}
    practised = [int(s) for s in pd.unique(history["skill_id"])]
    shown = [skill for skill in practised if skill in index]
    names = list(loaded_log.report.skill_names)
    correct = history["correct"].to_numpy().astype(int)
    wrong = (predicted >= 0.5) != (correct == 1)
    return {
        "user_id": str(user_id),
        "n_attempts": len(history),
        "n_attempts_in_log": int(rows.sum()),
        "model": loaded_model.name,
        "attempts": [
            {
                "skill_id": int(skill),
                "item_id": int(item),
                "correct": int(answer),
                "p_correct": float(p),
                "model_wrong": bool(miss),
                "known_skill": int(skill) in index,
            }
            for skill, item, answer, p, miss in zip(
                history["skill_id"], history["item_id"], correct, predicted, wrong
            )
        ],
        "n_model_wrong": int(wrong.sum()),
        "skills": [
            {"skill_id": skill, "name": names[skill] if skill < len(names) else str(skill)}
            for skill in shown
        ],
        "n_unknown_skills": len(practised) - len(shown),
        "knowledge": knowledge[:, [index[skill] for skill in shown]].T.tolist(),
    }
