"""Train-and-report for log datasets: DKT streamed from Parquet, on one process or under torchrun.

``train_on_log_dataset`` is what ``scripts/train_kt.py --data DIR`` runs when ``DIR`` is a
``kt.data.log_dataset`` folder: the split is by student-id hash (``StreamConfig``), DKT
trains from the training fold shard by shard (``kt.models.streaming``), early-stops on the
validation fold and is scored on the test fold. Rank 0 writes ``out/summary.json`` (test
metrics, interactions per second, peak RSS of every rank, the settings), ``history.csv``,
``checkpoint.pt`` and the saved model in ``out/model``; every rank returns the summary.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any, Callable

import pandas as pd

from riley_gym import nets
from riley_gym.kt.data.log_dataset import read_manifest
from riley_gym.kt.models.dkt import DKTConfig
from riley_gym.kt.models.streaming import (
    StreamConfig,
    fit_dkt_streaming,
    peak_rss_mb,
    score_streaming,
)

SUMMARY_FILE = "summary.json"
CHECKPOINT_FILE = "checkpoint.pt"
RUN_FILE = "run.json"


def train_on_log_dataset(
    data: str | Path,
    out: str | Path,
    config: DKTConfig,
    stream: StreamConfig,
    context: nets.DistributedContext | None = None,
    resume: bool = False,
    overwrite: bool = False,
    progress: Callable[[int], None] | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Fit DKT on a log dataset's training fold and score its test fold; rank 0 writes ``out``.

    Args:
        data: the log dataset folder.
        out: the run folder (claimed as ``nets.claim_run_folder`` does, by rank 0).
        config: DKT settings (``batch_size``: the global batch over all ranks).
        stream: split and streaming settings.
        context: the process group; None: one process.
        resume: continue the run in ``out`` from its checkpoint.
        overwrite: delete what ``out`` holds first.
        progress: called with the interactions of each training shard read.
        extra: more plain values for the summary.

    Returns:
        The summary (the same on every rank).
    """
    context = context or nets.DistributedContext()
    started = time.perf_counter()
    manifest = read_manifest(data)  # fails early, before a folder is claimed
    out = Path(out)
    if context.is_main:
        nets.claim_run_folder(out, resume, overwrite, (RUN_FILE, SUMMARY_FILE, CHECKPOINT_FILE))
        (out / RUN_FILE).write_text(
            json.dumps({"data": str(data), "dkt": config.to_dict(), "stream": asdict(stream)})
            + "\n"
        )
    context.barrier()
    result = fit_dkt_streaming(
        data,
        config,
        stream,
        context,
        checkpoint_path=out / CHECKPOINT_FILE,
        resume=resume,
        progress=progress,
    )
    test = score_streaming(result.model, data, stream, "test", context)
    rss = context.gather_objects(peak_rss_mb())
    epochs = result.history.epochs
    train_rows = sum(epoch["interactions"] for epoch in epochs)
    train_seconds = sum(epoch["train_seconds"] for epoch in epochs)
    summary = {
        "model": "dkt",
        "data": str(data),
        "log_rows": manifest["n_rows"],
        "log_students": manifest["n_students"],
        **{f"test_{name}": value for name, value in test.items()},
        "best_epoch": result.history.best_epoch,
        "best_valid_auc": result.history.best_valid_auc,
        "epochs_run": len(epochs),
        "steps": result.steps,
        "world_size": context.world_size,
        "backend": context.backend,
        "train_interactions": train_rows,
        "train_seconds": train_seconds,
        "interactions_per_second": train_rows / train_seconds if train_seconds else float("nan"),
        "peak_rss_mb_per_rank": rss,
        "resumed_from": list(result.resumed_from) if result.resumed_from else None,
        "wall_seconds": time.perf_counter() - started,
        "settings": {"dkt": config.to_dict(), "stream": asdict(stream)},
        **(extra or {}),
    }
    if context.is_main:
        pd.DataFrame(epochs).to_csv(out / "history.csv", index=False)
        result.model.save(out / "model")
        (out / SUMMARY_FILE).write_text(json.dumps(summary, indent=2, default=str) + "\n")
    context.barrier()
    return summary
