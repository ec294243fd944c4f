"""scripts/bench_kt.py on a tiny pyKT-format split: our side runs; pyKT's may be skipped.

pyKT's side is skipped, with a reason, when its venv is absent.
"""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[2]


def _write_pykt(path: Path, folds: list[int], seed: int) -> Path:
    rng = np.random.default_rng(seed)
    rows = []
    for number, fold in enumerate(folds):
        length = int(rng.integers(4, 15))
        concepts = rng.integers(0, 4, length)
        responses = (rng.random(length) < 0.3 + 0.15 * concepts).astype(int)
        rows.append(
            {
                "fold": fold,
                "uid": 1000 * seed + number,
                "concepts": ",".join(map(str, concepts)),
                "responses": ",".join(map(str, responses)),
            }
        )
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def tiny_split(folder: Path) -> tuple[Path, Path]:
    """A pyKT train_valid.csv (5 folds of 6 students) and test.csv (8 students) in ``folder``."""
    return (
        _write_pykt(
            folder / "train_valid.csv", [fold for fold in range(5) for _ in range(6)], seed=1
        ),
        _write_pykt(folder / "test.csv", [-1] * 8, seed=2),
    )


@pytest.mark.parametrize(
    ("model", "embedding_size", "batch_size"), [("dkt", 200, 256), ("sakt", 128, 64)]
)
def test_bench_kt_runs_our_side_and_names_why_the_reference_is_skipped(
    tmp_path, model, embedding_size, batch_size
):
    train_valid, test = tiny_split(tmp_path)
    out = tmp_path / "bench"
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "scripts" / "bench_kt.py"),
            "--model",
            model,
            "--train-valid",
            str(train_valid),
            "--test",
            str(test),
            "--max-epochs",
            "1",
            "--threads",
            "1",
            "--reference-python",
            str(tmp_path / "absent" / "python"),
            "--out",
            str(out),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stderr
    summary = json.loads((out / "summary.json").read_text())
    skipped = summary["skipped"]["pykt"]
    assert "no reference python" in skipped and "skipped pykt" in done.stdout
    assert ("pykt-head-venv" in skipped) == (model != "dkt")
    ours = summary["sides"]["ours"]
    assert summary["model"] == ours["model"] == model
    assert (
        ours["settings"]["embedding_size"] == embedding_size
        and ours["settings"]["batch_size"] == batch_size
    )
    # pyKT's scoring of our model drops each window's first row: the tiny split's 8 test
    # students are one window each.
    scored = json.loads((out / "ours" / "evaluate-pykt-windows" / "summary.json").read_text())
    assert ours["test_auc_pykt_scoring"] == scored["test_auc"]
    assert scored["test_n"] == ours["test_n"] - 8
    assert (
        ours["protocol"] == "pykt"
        and ours["n_train_students"] == 24
        and ours["n_test_students"] == 8
    )
    assert (
        ours["seconds_per_epoch"] > 0
        and ours["cpu_seconds_per_epoch"] > 0
        and summary["ratios"] == {}
    )
    table = pd.read_csv(out / "bench.csv")
    assert table["side"].tolist() == ["ours"] and table["test_auc"].iloc[0] == ours["test_auc"]
