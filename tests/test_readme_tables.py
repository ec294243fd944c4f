"""README's result tables come from stored runs, and a stored run can be made again."""

from __future__ import annotations

import calendar
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from riley_gym.kt.experiments.readme_results import load_kind, render_all, store
from riley_gym.kt.experiments.readme_tables import (
    load_runs,
    render_blocks,
    replace_blocks,
    stored_run,
)
from riley_gym.kt.experiments.tutor_pipeline import TutorConfig

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "readme_tables.py"
RESULTS = ROOT / "docs" / "results"
# Every block the stored runs render; each is in README.md and compared by --check.
BLOCKS = {"tutoring-riley", "tutoring-verdicts", "tutoring-all", "tutoring-commands",
          "gain-rounds", "gain-rounds-commands", "kt", "kt-commands", "kt-attention",
          "kt-attention-commands", "web-latency", "web-latency-commands"}  # fmt: skip
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


def test_every_kind_renders_its_blocks_and_the_readme_marks_each_once():
    blocks, counts = render_all(RESULTS)
    assert set(blocks) == BLOCKS
    assert counts["rounds"] == 10 and counts["kt"] >= 12
    readme = (ROOT / "README.md").read_text()
    for name in BLOCKS:
        assert readme.count(f"<!-- table:{name} (written by") == 1, name
        assert readme.count(f"<!-- /table:{name} -->") == 1, name


def test_every_stored_rounds_kt_and_web_run_is_in_the_readme_with_its_commands():
    readme = (ROOT / "README.md").read_text()
    stored = [load_kind(RESULTS, kind).values() for kind in ("rounds", "kt", "web")]
    for run in [run for runs in stored for run in runs]:
        assert run["command"] in readme
        if run.get("pykt_windows"):
            assert run["pykt_windows"]["command"] in readme


def _check(results, readme=ROOT / "README.md"):
    return subprocess.run(
        [sys.executable, str(SCRIPT), "--check", "--results", str(results),
         "--readme", str(readme)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip


@pytest.mark.parametrize(
    "stored, path, new, shown",
    [
        ("tutoring-rounds/tree-irt-rounds2.json", ("policies", "greedy", "post_test_mean"), 0.123,
         "0.527 → 0.123"),
        ("kt/assist2015-sakt.json", ("pykt_windows", "test_auc"), 0.6543, "| 0.6543 |"),
        ("kt/assist2009-bkt.json", ("test_auc",), 0.7777, "| 0.778 |"),
        ("web-bench/riley-default.json", ("policies", "greedy", "http", "p95_ms"), 49.25,
         "| 49.2 |"),
    ],
    ids=["gain-rounds", "kt-attention", "kt", "web-latency"],
)  # fmt: skip
def test_a_changed_stored_figure_changes_the_readme_table(tmp_path, stored, path, new, shown):
    results = tmp_path / "results"
    shutil.copytree(RESULTS, results)
    record = json.loads((results / stored).read_text())
    leaf = record
    for key in path[:-1]:
        leaf = leaf[key]
    leaf[path[-1]] = new
    (results / stored).write_text(json.dumps(record))
    result = _check(results)
    assert result.returncode == 1 and "differs from the runs" in result.stderr
    assert any(line.startswith("+") and shown in line for line in result.stdout.splitlines())


def test_a_malformed_stored_file_is_refused_by_name(tmp_path):
    results = tmp_path / "results"
    shutil.copytree(RESULTS, results)
    (results / "kt" / "assist2009-bkt.json").write_text('{"command": "x"}')
    result = _check(results)
    assert result.returncode != 0
    assert "assist2009-bkt.json: stored result lacks" in result.stderr


def _as_run_folder(folder, summary, date):
    """A run folder holding ``summary`` as its summary.json, written on ``date``."""
    folder.mkdir(parents=True)
    (folder / "summary.json").write_text(json.dumps(summary))
    when = calendar.timegm(time.strptime(date, "%Y-%m-%d")) + 3600
    os.utime(folder / "summary.json", (when, when))
    return folder


def test_add_stores_a_rounds_run_and_a_kt_run_as_they_are_stored(tmp_path):
    """--add of a run folder rebuilt from a stored file writes that file again, byte for byte."""
    results = tmp_path / "results"
    shutil.copytree(RESULTS, results)
    readme = tmp_path / "README.md"
    shutil.copy(ROOT / "README.md", readme)
    rounds = json.loads((RESULTS / "tutoring-rounds" / "tree-irt-rounds2.json").read_text())
    summary = {key: rounds[key] for key in ("torch_threads", "settings", "policies", "verdicts")}
    summary |= {"data": rounds["calibrated_from"],
                "seconds": {"total": rounds["seconds_total"],
                            "gain_model": rounds["seconds_gain_model"]}}  # fmt: skip
    run = _as_run_folder(tmp_path / "rounds", summary, rounds["date"])
    add = [sys.executable, str(SCRIPT), "--results", str(results), "--readme", str(readme)]
    result = subprocess.run(
        [*add, "--add", str(run), "--kind", "rounds", "--name", "tree-irt-rounds2",
         "--role", rounds["role"], "--command", rounds["command"]],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    kt = json.loads((RESULTS / "kt" / "assist2015-dkt.json").read_text())
    summary = {key: value for key, value in kt.items() if key not in ("command", "date")}
    run = _as_run_folder(tmp_path / "dkt", summary, kt["date"])
    evaluation = {**kt["pykt_windows"], "scoring": "pykt-windows", "model": kt["model"],
                  "model_dir": str(run)}  # fmt: skip
    _as_run_folder(run / "evaluate-test", evaluation, kt["date"])
    result = subprocess.run(
        [*add, "--add", str(run), "--kind", "kt", "--name", "assist2015-dkt",
         "--command", kt["command"], "--evaluation", str(run / "evaluate-test"),
         "--evaluation-command", kt["pykt_windows"]["command"]],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    for stored in ("tutoring-rounds/tree-irt-rounds2.json", "kt/assist2015-dkt.json"):
        assert (results / stored).read_text() == (RESULTS / stored).read_text(), stored
    assert readme.read_text() == (ROOT / "README.md").read_text()


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


def test_add_refuses_an_evaluation_of_another_run(tmp_path):
    kt = json.loads((RESULTS / "kt" / "assist2015-dkt.json").read_text())
    run = _as_run_folder(tmp_path / "dkt", {**kt, "command": None}, kt["date"])
    other = _as_run_folder(tmp_path / "other-eval", {**kt["pykt_windows"], "model_dir": "elsewhere",
                           "scoring": "pykt-windows", "model": "dkt"}, kt["date"])  # fmt: skip
    with pytest.raises(ValueError, match="scores the model in elsewhere"):
        store(tmp_path / "results", "kt", run, "x", "cmd", evaluation=other, evaluation_command="e")
