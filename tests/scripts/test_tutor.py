"""scripts/tutor.py in a subprocess: quick default run, reproducibility, --logs, --interactive."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "tutor.py"
DATA = Path(os.environ.get("RILEY_DATA_DIR", ROOT / ".." / "shared" / "data"))
BUILDER = DATA / "assist2009_builder" / "builder_train.csv"
FAST = "random,blocked,interleaved,mastery,zpd,greedy,expectimax,dqn,oracle"


def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args, "--threads", "1"],
        cwd=ROOT,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_quick_default_run_writes_summary_and_plots_and_is_reproducible(tmp_path):
    first = run("--quick", "--policies", FAST, "--out", str(tmp_path / "a"), "--seed", "3")
    assert first.returncode == 0, first.stderr
    summary = json.loads((tmp_path / "a" / "summary.json").read_text())
    assert set(summary["policies"]) == set(FAST.split(","))
    for figures in summary["policies"].values():
        assert 0.0 <= figures["post_test_mean"] <= 1.0
        assert {
            "post_test_ci95",
            "gain_mean",
            "steps_to_mastery_mean",
            "diff_vs_random",
            "diff_ci95",
        } <= set(figures)
    assert summary["settings"]["seed"] == 3 and summary["settings"]["dynamics"] == "bkt"
    assert summary["torch_threads"] == 1  # --threads 1: recorded, since results depend on it
    for name in ("learning_curves.png", "knowledge_heatmap.png"):
        assert (tmp_path / "a" / name).stat().st_size > 1000
    assert "vs random (95% CI)" in first.stdout and "gap closed" in first.stdout
    second = run("--quick", "--policies", FAST, "--out", str(tmp_path / "b"), "--seed", "3")
    assert second.returncode == 0, second.stderr
    again = json.loads((tmp_path / "b" / "summary.json").read_text())
    assert again["policies"] == summary["policies"]
    assert again["dkt_test_auc"] == summary["dkt_test_auc"]


@pytest.mark.parametrize("tracer", ["sakt", "akt", "simplekt"])
def test_an_attention_tracer_drives_every_model_based_policy_reproducibly(tmp_path, tracer):
    args = ["--quick", "--tracer", tracer, "--policies", FAST, "--seed", "1"]
    first = run(*args, "--out", str(tmp_path / "a"))
    assert first.returncode == 0, first.stderr
    summary = json.loads((tmp_path / "a" / "summary.json").read_text())
    assert summary["tracer"] == tracer and summary["settings"]["tracer"] == tracer
    assert 0.0 <= summary["tracer_test_auc"] <= 1.0 and summary["dkt_test_auc"] is None
    assert set(summary["policies"]) == set(FAST.split(","))
    labels = [m["name"] for m in summary["diagnosis"]["measurements"]]
    assert f"{tracer.upper()} (its own lookahead)" in labels
    assert f"Best {tracer.upper()}-based policy" in first.stdout
    second = run(*args, "--out", str(tmp_path / "b"))
    assert second.returncode == 0, second.stderr
    again = json.loads((tmp_path / "b" / "summary.json").read_text())
    assert again["policies"] == summary["policies"]


def test_quick_irt_run(tmp_path):
    result = run(
        "--quick", "--dynamics", "irt", "--policies", "random,mastery", "--out", str(tmp_path)
    )
    assert result.returncode == 0, result.stderr
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["settings"]["dynamics"] == "irt" and set(summary["policies"]) == {
        "random",
        "mastery",
    }


def test_interactive_mode_with_piped_answers_ends_cleanly_on_eof(tmp_path):
    result = run("--interactive", "--quick", "--out", str(tmp_path), stdin="y\nn\nwhat\ny\n")
    assert result.returncode == 0, result.stderr
    assert (
        result.stdout.count("Next:") == 4
    )  # three answers, then a fourth recommendation met by EOF
    assert "knowledge estimate per skill" in result.stdout and "why:" in result.stdout
    assert "(end of input)" in result.stdout
    assert json.loads((tmp_path / "summary.json").read_text())["answers"] == 3


def test_a_person_can_be_tutored_by_the_rollout_policy(tmp_path):
    result = run(
        "--interactive", "--interactive-policy", "rollout", "--quick", "--out", str(tmp_path),
        stdin="y\n",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("Next:") == 2 and "then following" in result.stdout


@pytest.mark.skipif(
    not BUILDER.exists(),
    reason=f"ASSISTments 2009 builder data not found at {BUILDER} (set RILEY_DATA_DIR)",
)
def test_logs_mode_on_assistments_builder(tmp_path):
    result = run(
        "--quick",
        "--logs",
        str(BUILDER),
        "--format",
        "three-line",
        "--top-skills",
        "4",
        "--policies",
        "random,mastery,greedy",
        "--out",
        str(tmp_path),
    )
    assert result.returncode == 0, result.stderr
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert len(summary["top_skills"]) == 4 and 0.5 < summary["dkt_heldout_auc"] <= 1.0
    assert set(summary["judge"]) == {"logged", "random", "mastery", "greedy"}
    assert (tmp_path / "fit_quality.png").stat().st_size > 1000
    assert "judge is a model" in result.stdout


def test_grid_on_local_ray_equals_the_serial_grid(tmp_path):
    pytest.importorskip("ray")  # the distributed extra (installed by dev)
    grid = ["--quick", "--policies", "random,mastery", "--curricula", "riley,chain"]
    grid += ["--seeds", "0,1"]
    serial = run(*grid, "--out", str(tmp_path / "serial"))
    assert serial.returncode == 0, serial.stderr
    on_ray = run(*grid, "--ray", "--ray-cpus", "2", "--out", str(tmp_path / "ray"))
    assert on_ray.returncode == 0, on_ray.stderr
    first = json.loads((tmp_path / "serial" / "summary.json").read_text())
    second = json.loads((tmp_path / "ray" / "summary.json").read_text())
    assert [(c["curriculum"], c["seed"]) for c in first["cells"]] == [
        ("riley", 0), ("riley", 1), ("chain", 0), ("chain", 1)
    ]  # fmt: skip
    for a, b in zip(first["cells"], second["cells"]):
        assert a["policies"] == b["policies"]  # exactly: each cell seeds itself
        assert a["dkt_test_auc"] == b["dkt_test_auc"]
    assert first["cells"][0]["policies"] != first["cells"][1]["policies"]  # seeds differ
    assert second["ray"] == "local" and "| riley | 0 | mastery |" in on_ray.stdout
