"""scripts/bench_scale.py --curve: one whole epoch on each log, the rows of each epoch as the
logs give them, and a growth figure that compares like with like."""

import json

from riley_gym.kt.experiments.synthetic_log import SyntheticLogConfig, write_synthetic_log
from tests.helpers.scripts import run_script

TINY = ["--hidden-size", "8", "--embedding-size", "8", "--batch-size", "32", "--dropout", "0",
        "--max-valid-students", "50", "--max-test-students", "50"]  # fmt: skip


def test_curve_trains_one_whole_epoch_per_log_and_reports_time_per_million_rows(tmp_path):
    logs = []
    for n in (10_000, 30_000):
        folder = tmp_path / f"l{n}"
        write_synthetic_log(SyntheticLogConfig(n_interactions=n, chunk_students=100), folder)
        logs.append(str(folder))
    out = tmp_path / "bench"
    done = run_script("bench_scale.py", "--curve", *logs, "--out", str(out), "--", *TINY)
    assert done.returncode == 0, done.stderr
    result = json.loads((out / "bench_scale_curve.json").read_text())
    small, large = result["runs"]
    for row, log in zip(result["runs"], logs):
        manifest = json.loads((tmp_path / log / "manifest.json").read_text())
        assert row["log_rows"] == manifest["n_rows"]
        # One whole epoch: every training row once (the split keeps about 70% of students).
        assert 0.5 * manifest["n_rows"] < row["train_interactions"] < 0.9 * manifest["n_rows"]
        assert row["cpu_seconds_per_million_rows"] == row["train_cpu_seconds"] / (
            row["train_interactions"] / 1e6
        )
    assert large["train_interactions"] > 2.5 * small["train_interactions"]
    spread = result["largest_over_smallest_cpu_seconds_per_million_rows"]
    per_million = [row["cpu_seconds_per_million_rows"] for row in result["runs"]]
    assert spread == max(per_million) / min(per_million)
    assert (out / "bench_scale_curve.png").stat().st_size > 0
    assert "| CPU s per 1M rows |" in done.stdout

    both = run_script("bench_scale.py", "--curve", *logs, "--data", logs[0])
    assert both.returncode == 2 and "not both" in both.stderr
