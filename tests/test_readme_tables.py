"""README's result tables come from stored runs, and a stored run can be made again."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from riley_gym.kt.experiments.readme_tables import (
    load_runs,
    render_blocks,
    replace_blocks,
    stored_run,
)
from riley_gym.kt.experiments.tutor_pipeline import TutorConfig

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "readme_tables.py"
# Policies that touch no torch model: their figures are numpy's and match exactly anywhere.
NUMPY_ONLY = ("random", "blocked", "interleaved", "mastery", "oracle")


def test_readme_tables_match_the_stored_runs():
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--check"], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr


def test_every_stored_run_is_in_the_readme_with_its_command():
    readme = (ROOT / "README.md").read_text()
    runs = load_runs(ROOT / "docs" / "results" / "tutoring")
    assert {"riley-bkt", "riley-irt"} <= set(runs)
    for run in runs.values():
        assert run["command"] in readme
        assert run["role"] in ("tuning", "held-out")


def test_a_hand_edit_of_a_table_is_caught(tmp_path):
    readme = tmp_path / "README.md"
    text = (ROOT / "README.md").read_text()
    edited = text.replace("| random | 0.754", "| random | 0.999", 1)
    assert edited != text
    readme.write_text(edited)
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--check", "--readme", str(readme)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 1 and "differs from the runs" in result.stderr
    assert "+| random | 0.754" in result.stdout  # the diff shows what the runs say
    fixed = subprocess.run([sys.executable, str(SCRIPT), "--readme", str(readme)],
                           capture_output=True, text=True, timeout=120)  # fmt: skip
    assert fixed.returncode == 0 and readme.read_text() == text


def test_missing_or_repeated_markers_are_refused():
    marker = "<!-- table:{0} (written by scripts/readme_tables.py; do not edit) -->\nold\n"
    block = marker.format("a") + "<!-- /table:a -->"
    assert replace_blocks(f"x\n{block}\ny", {"a": "new"}) == (
        "x\n" + marker.format("a").replace("old\n", "new\n") + "<!-- /table:a -->\ny"
    )
    with pytest.raises(ValueError, match=r"missing for \['b'\]"):
        replace_blocks(block, {"a": "new", "b": "new"})
    with pytest.raises(ValueError, match=r"repeated for \['a'\]"):
        replace_blocks(block + block, {"a": "new"})


def test_stored_run_refuses_an_unknown_role():
    with pytest.raises(ValueError, match="role must be one of"):
        stored_run({}, "cmd", "tuned", "2026-12-02")


def test_the_verdicts_table_says_which_runs_chose_the_settings():
    blocks = render_blocks(load_runs(ROOT / "docs" / "results" / "tutoring"))
    rows = blocks["tutoring-verdicts"].splitlines()[2:]
    assert any("| yes (tuning) |" in row for row in rows)
    assert any(row.split(" | ")[1] == "no" for row in rows)


def test_the_quick_preset_reproduces_its_stored_result(tmp_path):
    """Rerun the stored quick run: numpy-only policies exactly, torch ones within 0.03.

    Torch's float sums may differ between CPU instruction sets; on this project's machines the
    whole table is identical.
    """
    stored = json.loads((ROOT / "docs" / "results" / "quick" / "riley-bkt.json").read_text())
    command = stored["command"].split()[1:]  # drop the interpreter
    result = subprocess.run(
        [sys.executable, *command, "--out", str(tmp_path / "run")],
        capture_output=True, text=True, timeout=300, cwd=ROOT,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    now = json.loads((tmp_path / "run" / "summary.json").read_text())
    # A setting added after the run was stored must be at its quick-preset value today.
    added = set(now["settings"]) - set(stored["settings"])
    quick = json.loads(json.dumps(TutorConfig.quick().to_dict()))
    assert {name: now["settings"][name] for name in added} == {name: quick[name] for name in added}
    assert {name: now["settings"][name] for name in stored["settings"]} == stored["settings"]
    for name, row in stored["policies"].items():
        mean = now["policies"][name]["post_test_mean"]
        if name in NUMPY_ONLY:
            assert mean == row["post_test_mean"], name
        else:
            assert abs(mean - row["post_test_mean"]) <= 0.03, (name, mean, row["post_test_mean"])


def test_a_block_inside_a_list_item_keeps_its_indentation():
    marker = "<!-- table:a (written by scripts/readme_tables.py; do not edit) -->\n"
    text = f"- item\n\n  {marker}  old\n  <!-- /table:a -->\n- next"
    assert replace_blocks(text, {"a": "| x |\n\n| y |"}) == (
        f"- item\n\n  {marker}  | x |\n\n  | y |\n  <!-- /table:a -->\n- next"
    )
