"""scripts/bench_bkt.py on tiny three-line logs written here: summary.json with both sides.

Either side may instead give a skip reason.
"""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
PYBKT_PYTHON = ROOT / ".bench" / "pybkt-venv" / "bin" / "python"


def write_three_line(path: Path, n_students: int, seed: int) -> Path:
    """Students on 3 skills whose answers get better with practice (BKT-like)."""
    rng = np.random.default_rng(seed)
    lines = []
    for _ in range(n_students):
        n = int(rng.integers(5, 20))
        skills = rng.integers(0, 3, n)
        known = np.zeros(3, dtype=bool)
        answers = []
        for skill in skills:
            answers.append(int(rng.random() < (0.9 if known[skill] else 0.2)))
            known[skill] |= rng.random() < 0.3
        lines += [str(n), ",".join(map(str, skills)), ",".join(map(str, answers))]
    path.write_text("\n".join(lines) + "\n")
    return path


def run_bench(tmp_path: Path, pybkt_python: Path) -> dict:
    train = write_three_line(tmp_path / "train.csv", 60, seed=0)
    test = write_three_line(tmp_path / "test.csv", 30, seed=1)
    out = tmp_path / "out"
    subprocess.run(
        [
            sys.executable,
            str(ROOT / "scripts" / "bench_bkt.py"),
            "--train",
            str(train),
            "--test",
            str(test),
            "--pybkt-python",
            str(pybkt_python),
            "--num-fits",
            "1",
            "--out",
            str(out),
        ],
        check=True,
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    return json.loads((out / "summary.json").read_text())


def test_without_pybkt_records_the_reason(tmp_path):
    summary = run_bench(tmp_path, tmp_path / "no-such-python")
    ours = summary["sides"]["ours"]
    assert 0.5 < ours["test_auc"] < 1.0 and ours["fit_seconds"] > 0 and ours["n_iterations"] >= 1
    assert "no pyBKT interpreter" in summary["skipped"]["pybkt"]
    assert "ratios" not in summary and summary["n_test_rows"] > 0


def test_against_pybkt(tmp_path):
    if not PYBKT_PYTHON.is_file():
        pytest.skip(
            f"pyBKT's C++ build is not installed at {PYBKT_PYTHON} (how to build it: "
            "scripts/bench_bkt.py --help, and README.md, 'Everyday commands', benchmarks)"
        )
    summary = run_bench(tmp_path, PYBKT_PYTHON)
    assert summary["skipped"] == {}
    theirs = summary["sides"]["pybkt"]
    assert theirs["c_extension"].endswith(".so") and 0.5 < theirs["test_auc"] < 1.0
    ratios = summary["ratios"]
    assert ratios["fit_speedup"] == pytest.approx(
        theirs["fit_seconds"] / summary["sides"]["ours"]["fit_seconds"]
    )
