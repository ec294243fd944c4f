"""Reading the run folders that ``kt.experiments.runs.train_and_report`` writes.

A run folder holds ``run.json`` (the settings it started with, written first), and when it
finished ``summary.json`` and, for one model, ``model/`` (the saved model).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from riley_gym.kt.models.registry import MODELS

__all__ = ["SUMMARY_FILE", "RUN_FILE", "load_saved", "file_identity"]

SUMMARY_FILE = "summary.json"
RUN_FILE = "run.json"


def load_saved(run: str | os.PathLike, device: str | None = None) -> tuple[str, Any]:
    """(model name, fitted model) of a folder ``train_and_report`` wrote for one model.

    Args:
        run: the run folder.
        device: where a neural model's network goes (None: as saved; baselines live on the CPU).

    Raises:
        ValueError: if ``run`` holds no single saved model.
    """
    run = Path(run)
    summary_path = run / SUMMARY_FILE
    if not summary_path.is_file() or not (run / "model").is_dir():
        raise ValueError(
            f"{run} is not a single-model run folder of train_kt.py "
            f"(needs {SUMMARY_FILE} and model/)"
        )
    name = json.loads(summary_path.read_text())["model"]
    model_class = MODELS[name]
    neural = getattr(model_class, "early_stopping", False)
    on_device = {"device": device} if device is not None and neural else {}
    return name, model_class.load(run / "model", **on_device)


def file_identity(path: str | None, size: int | None = None) -> tuple[str, int | None] | None:
    """(file name, size in bytes) of a log, to recognise the same file under another folder.

    Args:
        path: the log's path (None: no file).
        size: its size as recorded when a run started (None: read it now).
    """
    if not path:
        return None
    if size is None and os.path.isfile(path):
        size = os.path.getsize(path)
    return Path(path).name, size
