"""Teachers for distillation: the mean prediction of saved runs, checked to share this run's split.

A DKT can be fitted on a teacher's p(correct) instead of the 0/1 answers
(``kt.experiments.fitting`` writes it into the ``training_target`` column). The teacher here is
the mean prediction of models saved by earlier ``train_kt.py`` runs, which must not have seen
this run's test students.
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path
from typing import Any, Callable

import pandas as pd

from riley_gym.kt.data.protocols import ProtocolConfig, seed_dependent
from riley_gym.kt.data.table import PREDICTION_COLUMN
from riley_gym.kt.experiments.saved_runs import RUN_FILE, SUMMARY_FILE, file_identity, load_saved

__all__ = ["TeacherError", "load_teachers"]


class TeacherError(ValueError):
    """A run cannot teach this one: not a saved single-model run, or trained on another split."""


def load_teachers(
    runs: list[str | os.PathLike],
    data: str,
    test: str | None,
    protocol: ProtocolConfig,
    device: str | None = None,
) -> tuple[Callable[[pd.DataFrame], Any], list[dict[str, Any]]]:
    """The mean prediction of the models saved in ``runs``, to fit a DKT on.

    A teacher must have seen none of this run's test students, so each run must be a
    single-model run of ``train_and_report`` on the same split: the same protocol, data and
    test file (recognised by name and size, so a copy elsewhere is accepted) and, for
    ``pykt``, the same validation fold. Splits that depend on the seed (``kfold``,
    ``holdout`` without a test file) are refused: teachers trained with other seeds held
    out other students. Neural teachers predict on ``device`` (the student's; None: as saved).

    Returns:
        (teacher: table -> (len(table),) mean p(correct), one record per run: its folder,
        model and test AUC).

    Raises:
        TeacherError: naming the run and what differs.
    """
    if not runs:
        raise TeacherError("no teacher runs given")
    if seed_dependent(protocol, bool(test)):
        raise TeacherError(
            "teachers need a split that does not depend on the seed (dkt-synthetic, pykt, or "
            f"holdout with --test); protocol {protocol.protocol!r}"
            f"{'' if test else ' without a test file'} holds out other students for each seed, "
            "so a teacher may have trained on this run's test students"
        )
    expected = {
        "protocol": protocol.protocol,
        "data": file_identity(data),
        "test": file_identity(test),
    }
    if protocol.protocol == "pykt":
        expected["validation fold"] = protocol.valid_fold
    models, records = [], []
    for run in runs:
        try:
            name, model = load_saved(run, device)
        except (ValueError, OSError) as error:
            raise TeacherError(f"teacher {run}: {error}") from error
        summary = json.loads((Path(run) / SUMMARY_FILE).read_text())
        # The settings as the teacher started, with its files' sizes then.
        run_file = Path(run) / RUN_FILE
        recorded = json.loads(run_file.read_text())["settings"] if run_file.is_file() else {}
        found = {
            "protocol": summary.get("protocol"),
            "data": file_identity(summary.get("data"), recorded.get("data_bytes")),
            "test": file_identity(summary.get("test"), recorded.get("test_bytes")),
            "validation fold": recorded.get("protocol", {}).get("valid_fold", 0),
        }
        differing = [
            f"{key} {found[key]} (this run: {expected[key]})"
            for key in expected
            if found[key] != expected[key]
        ]
        if differing:
            raise TeacherError(
                f"teacher {run} was trained on another split, so it may have seen this run's test "
                "students: " + "; ".join(differing)
            )
        models.append(model)
        records.append({"run": str(run), "model": name, "test_auc": summary.get("test_auc")})

    def mean_prediction(table: pd.DataFrame) -> Any:
        with warnings.catch_warnings():  # a teacher's unknown-skill fallback is documented
            warnings.simplefilter("ignore", UserWarning)
            predictions = [model.predict(table)[PREDICTION_COLUMN].to_numpy() for model in models]
            return sum(predictions) / len(models)

    return mean_prediction, records
