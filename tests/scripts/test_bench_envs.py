"""scripts/bench_envs.py on a tiny preset: the student table lands in --out/summary.json."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_bench_envs_student_tiny(tmp_path):
    out = tmp_path / "bench"
    command = [
        sys.executable,
        str(ROOT / "scripts" / "bench_envs.py"),
        "--only",
        "student",
        "--out",
        str(out),
        "--num-envs",
        "1",
        "8",
        "--dynamics",
        "bkt",
        "--min-seconds",
        "0.05",
        "--repeats",
        "1",
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    summary = json.loads((out / "summary.json").read_text())
    rows = summary["student"]["vector"]
    assert [(row["dynamics"], row["num_envs"]) for row in rows] == [("bkt", 1), ("bkt", 8)]
    assert all(row["steps_per_second"] > 0 and len(row["load_average"]) == 3 for row in rows)
    assert summary["student"]["single_env"][0]["steps_per_second"] > 0
    assert summary["settings"]["num_envs"] == [1, 8] and "atari" not in summary
    assert "student-steps/s" in result.stdout
