"""scripts/synthetic_oracle.py on a small simulated response matrix.

Checked: the DKT split, the fitted parameters, a clear error without the info file.
"""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.helpers.synthetic import CONCEPT, DIFFICULTY, PRACTICE, simulate

ROOT = Path(__file__).resolve().parents[2]


def test_scores_the_second_half_with_parameters_fitted_on_the_first(tmp_path):
    responses = simulate(200, 0.1, 3.0, 0.1, seed=2)
    data = tmp_path / "sim.csv"
    np.savetxt(data, responses, fmt="%d", delimiter=",")
    (tmp_path / "sim_info.txt").write_text(
        "".join(f"0.5\t0.5\t{c}\t{d}\n" for c, d in zip(CONCEPT, DIFFICULTY))
    )
    command = [
        sys.executable,
        str(ROOT / "scripts" / "synthetic_oracle.py"),
        "--data",
        str(data),
        "--out",
        str(tmp_path / "out"),
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-2000:]
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["n_train_students"] == summary["n_test_students"] == 100 and summary[
        "test_n"
    ] == 100 * len(CONCEPT)
    assert (
        0.7 < summary["test_auc"] <= 1.0
    )  # abilities spread 3 logits apart: the answers are quite predictable
    assert set(summary["fitted"]) == {"guess", "ability_sd", "gain", "log_likelihood"}
    (tmp_path / "sim_info.txt").unlink()
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert result.returncode != 0 and "sim_info.txt" in result.stderr


def test_learned_structure_needs_no_info_file_and_reports_its_recovery(tmp_path):
    responses = simulate(1200, 0.1, 3.0, 0.1, seed=6)
    data = tmp_path / "sim.csv"
    np.savetxt(data, responses, fmt="%d", delimiter=",")
    command = [
        sys.executable,
        str(ROOT / "scripts" / "synthetic_oracle.py"),
        "--data",
        str(data),
        "--structure",
        "learned",
        "--max-concepts",
        "5",
        "--out",
        str(tmp_path / "learned"),
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-2000:]
    summary = json.loads((tmp_path / "learned" / "summary.json").read_text())
    assert (
        summary["model"] == "irt-oracle-learned"
        and summary["n_concepts"] == 3
        and "recovery" not in summary
    )
    assert summary["concept"] == CONCEPT.tolist() and summary["test_n"] == 600 * len(CONCEPT)
    (tmp_path / "sim_info.txt").write_text(
        "".join(f"0.5\t0.5\t{c}\t{d}\n" for c, d in zip(CONCEPT, DIFFICULTY))
    )
    result = subprocess.run(
        command[:-1] + [str(tmp_path / "with_info")],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    recovery = json.loads((tmp_path / "with_info" / "summary.json").read_text())["recovery"]
    assert recovery["same_partition_fraction"] == 1.0 and recovery["difficulty_correlation"] > 0.95


def test_compare_breaks_a_saved_models_loss_down_by_concept_depth(tmp_path):
    responses = simulate(200, 0.1, 3.0, 0.1, seed=4)
    data = tmp_path / "sim.csv"
    np.savetxt(data, responses, fmt="%d", delimiter=",")
    (tmp_path / "sim_info.txt").write_text(
        "".join(f"0.5\t0.5\t{c}\t{d}\n" for c, d in zip(CONCEPT, DIFFICULTY))
    )
    train = [
        sys.executable,
        str(ROOT / "scripts" / "train_kt.py"),
        "--data",
        str(data),
        "--model",
        "marginal",
        "--protocol",
        "dkt-synthetic",
        "--no-progress",
        "--out",
        str(tmp_path / "marginal"),
    ]
    result = subprocess.run(train, capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-2000:]
    marginal_auc = json.loads((tmp_path / "marginal" / "summary.json").read_text())["test_auc"]
    command = [
        sys.executable,
        str(ROOT / "scripts" / "synthetic_oracle.py"),
        "--data",
        str(data),
        "--compare",
        str(tmp_path / "marginal"),
        "--out",
        str(tmp_path / "out"),
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-2000:]
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    entry = summary["compare"][str(tmp_path / "marginal")]
    assert entry["test_auc"] == pytest.approx(marginal_auc)  # the same predictions train_kt scored
    assert entry["test_reference_log_loss"] == pytest.approx(summary["test_log_loss"])
    assert len(entry["train_gap_by_depth"]) == len(entry["test_gap_by_depth"]) == PRACTICE.max() + 1
    # Knowing nothing of the student, the marginal model is as good as the predictor only before a
    # concept's first answer.
    assert abs(entry["test_gap_by_depth"][0]) < 0.05 and min(entry["test_gap_by_depth"][1:]) > 0.05
    assert (tmp_path / "out" / "loss_by_depth.png").is_file()
    result = subprocess.run(
        command[:-3] + [str(tmp_path), "--out", str(tmp_path / "bad")],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )
    assert result.returncode != 0 and "is not a single-model run folder" in result.stderr
