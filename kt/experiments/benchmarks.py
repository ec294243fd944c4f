"""Shared by the KT benchmarks: pyKT's DKT settings, its files, logged subprocesses.

``scripts/bench_kt.py`` (ours against pyKT's implementation) and ``scripts/bench_gpu.py`` (the
same run on a GPU and a CPU) run each side in its own subprocess with these settings.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pandas as pd

__all__ = ["SHARED", "run", "pykt_files"]

# The repository root: both sides' commands run from there.
ROOT = Path(__file__).resolve().parents[2]
# pyKT's DKT settings as train_kt.py flags (embedding 200, dropout 0.2, lr 1e-3, batch 256).
SHARED = [
    "--embedding-size",
    "200",
    "--dropout",
    "0.2",
    "--learning-rate",
    "0.001",
    "--batch-size",
    "256",
    "--max-length",
    "200",
]


def run(command: list[str], log: Path) -> subprocess.CompletedProcess:
    """Run ``command`` from the repository root, output into ``log``; stop the bench if it fails."""
    with open(log, "w") as file:
        done = subprocess.run(command, cwd=ROOT, stdout=file, stderr=subprocess.STDOUT, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command[:2])} failed (exit {done.returncode}); see {log}")
    return done


def pykt_files(train_valid: str, test: str, out: Path, quick: bool) -> tuple[str, str]:
    """The two pyKT files to run on, checked to exist; with ``quick``, every 25th student of each
    (written into ``out``)."""
    for path in (train_valid, test):
        if not Path(path).is_file():
            raise SystemExit(
                f"no pyKT file at {path}; set RILEY_DATA_DIR or pass --train-valid/--test"
            )
    if not quick:
        return train_valid, test
    # Kept outside the repo; pyKT's files hold one student per row, sorted by fold.
    sliced = out / "quick_data"
    sliced.mkdir(parents=True, exist_ok=True)
    pd.read_csv(train_valid).iloc[::25].to_csv(sliced / "train_valid.csv", index=False)
    pd.read_csv(test).iloc[::25].to_csv(sliced / "test.csv", index=False)
    return str(sliced / "train_valid.csv"), str(sliced / "test.csv")
