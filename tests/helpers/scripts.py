"""Running the command-line scripts in a subprocess, and a tiny log to run them on."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[2]
# train_kt.py flags of a DKT that trains in a second.
TINY_DKT = [
    "--hidden-size",
    "8",
    "--embedding-size",
    "8",
    "--batch-size",
    "8",
    "--max-epochs",
    "2",
    "--threads",
    "1",
    "--no-progress",
]


def write_tiny_log(path: Path, n_students: int = 30, seed: int = 0) -> Path:
    """An interactions CSV: correct when the attempt repeats the previous attempt's skill."""
    rng = np.random.default_rng(seed)
    rows = []
    for user in range(n_students):
        previous = -1
        for order in range(int(rng.integers(5, 25))):
            skill = int(rng.integers(0, 3))
            rows.append(
                {
                    "user_id": 100 + user,
                    "item_id": skill,
                    "skill_id": skill,
                    "correct": int(skill == previous),
                    "order": order,
                }
            )
            previous = skill
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def run_script(name: str, *arguments: str, timeout: float = 240) -> subprocess.CompletedProcess:
    """``python scripts/<name> ARGUMENTS`` from the repository root, output captured."""
    return subprocess.run(
        [sys.executable, str(ROOT / "scripts" / name), *arguments],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
