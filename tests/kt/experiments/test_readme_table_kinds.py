"""The gain-rounds, knowledge tracing and web latency tables, rendered from hand-built
stored runs."""

from __future__ import annotations

import copy
import json

import pytest

from riley_gym.kt.experiments.gain_rounds_table import pair_runs, rounds_table
from riley_gym.kt.experiments.kt_tables import (
    PYKT_PUBLISHED,
    attention_table,
    kt_table,
    render_kt_blocks,
    settings_flags,
    stored_kt_run,
)
from riley_gym.kt.experiments.stored_results import read_folder, read_stored
from riley_gym.kt.experiments.web_bench_table import render_web_blocks, web_table


def _policy(mean):
    return {"post_test_mean": mean, "post_test_ci95": 0.01, "gap_closed": None}


def _rounds_run(rounds, greedy, expectimax, role="tuning", gain_seconds=9.0):
    means = {"random": 0.5, "mastery": 0.6, "oracle": 0.7, "greedy": greedy,
             "expectimax": expectimax}  # fmt: skip
    best = max(("greedy", "expectimax"), key=means.get)
    return {
        "command": f"tutor.py --gain-rounds {rounds}",
        "role": role,
        "date": "2026-12-04",
        "torch_threads": 1,
        "settings": {"curriculum": "tree", "dynamics": "irt", "gain_rounds": rounds},
        "policies": {name: _policy(mean) for name, mean in means.items()},
        "verdicts": {
            "best_heuristic": "mastery",
            "best_kt_policy": best,
            "kt_vs_heuristics": {"mastery": {"diff": means[best] - 0.6, "ci95": 0.002}},
            "below_random": [name for name in ("greedy", "expectimax") if means[name] < 0.5],
        },
        "seconds_total": 30.0,
        "seconds_gain_model": gain_seconds,
    }


def test_the_rounds_table_reads_each_planner_before_and_after():
    runs = {"a": _rounds_run(0, 0.45, 0.48), "b": _rounds_run(2, 0.58, 0.61, gain_seconds=30.0)}
    rows = rounds_table(runs).splitlines()
    assert rows[0].count("|") == rows[1].count("|") == rows[2].count("|")
    assert rows[2] == (
        "| tree, irt (chosen on) | 0.500 | mastery 0.600 | 0.450 → 0.580 | 0.480 → 0.610 | "
        "0.700 | expectimax +0.0100 ± 0.0020 | greedy, expectimax → none | 9 s → 30 s |"
    )


def test_a_changed_stored_figure_changes_the_rounds_table():
    runs = {"a": _rounds_run(0, 0.45, 0.48), "b": _rounds_run(2, 0.58, 0.61)}
    before = rounds_table(runs)
    runs["b"]["policies"]["greedy"]["post_test_mean"] = 0.59
    after = rounds_table(runs)
    assert before != after and "0.450 → 0.590" in after


def test_a_pair_whose_heuristics_differ_is_refused():
    before, after = _rounds_run(0, 0.45, 0.48), _rounds_run(2, 0.58, 0.61)
    after["policies"]["mastery"]["post_test_mean"] = 0.61
    with pytest.raises(ValueError, match=r"'a' and 'b': \['mastery'\] differ"):
        pair_runs({"a": before, "b": after})
    with pytest.raises(ValueError, match="needs a run with --gain-rounds 0"):
        pair_runs({"b": after})


def _kt_summary(model, auc, data="/x/assist2015_pykt/train_valid.csv", protocol="pykt", seed=0):
    return {"model": model, "protocol": protocol, "data": data, "test": None, "seed": seed,
            "threads": 1, "test_auc": auc, "test_auc_after_first_attempt": auc,
            "test_n": 10, "best_valid_auc": auc + 0.01, "epochs_run": 4, "best_epoch": 4,
            "stopped_early": False, "seconds_per_epoch": 85.2,
            "wall_seconds": 400.0}  # fmt: skip


def _windows(model, auc):
    return {"scoring": "pykt-windows", "model": model, "test_auc": auc, "test_n": 9,
            "test_n_students": 3, "data": "/x/assist2015_pykt/test.csv"}  # fmt: skip


def test_the_attention_table_compares_with_pykt_published():
    command = ("python scripts/train_kt.py --model akt --data d.csv --test t.csv --protocol pykt "
               "--threads 1 --no-progress --out runs/akt --n-blocks 1 --dropout 0.05")  # fmt: skip
    run = stored_kt_run(_kt_summary("akt", 0.7), command, "2026-12-04", _windows("akt", 0.72), "ev")
    assert settings_flags(command) == "--n-blocks 1 --dropout 0.05"
    rerun = command.replace("--out runs/akt", "--out runs/akt --overwrite")
    assert settings_flags(rerun) == "--n-blocks 1 --dropout 0.05"  # a switch, not a setting
    row = attention_table({"akt": run}).splitlines()[2]
    assert row == (
        "| AKT | `--n-blocks 1 --dropout 0.05` | 4 (4), still improving at the epoch cap, 85 s | "
        f"0.7100 | 0.7200 | {PYKT_PUBLISHED['akt']:.4f} | {0.72 - PYKT_PUBLISHED['akt']:+.4f} |"
    )


def test_the_kt_table_puts_each_run_in_its_data_set_and_model():
    synthetic = "/x/synthetic5/naive_c5_q50_s4000_v0.csv"
    runs = {
        "dkt": stored_kt_run(_kt_summary("dkt", 0.72861), "c", "d", _windows("dkt", 0.73075), "e"),
        "bkt": stored_kt_run(_kt_summary("bkt", 0.6324, synthetic, "dkt-synthetic"), "c", "d"),
        "mix0": stored_kt_run(_kt_summary("dkt", 0.8298, synthetic, "dkt-synthetic"), "c", "d",
                              variant="with concept mixing"),  # fmt: skip
        "mix1": stored_kt_run(_kt_summary("dkt", 0.8299, synthetic, "dkt-synthetic", seed=1),
                              "c", "d", variant="with concept mixing"),  # fmt: skip
    }
    rows = kt_table(runs).splitlines()
    titles = "DKT | SAKT | AKT | simpleKT | BKT | PFA | IRT | marginal"
    assert rows[0] == f"| data, protocol | {titles} |"
    assert rows[2:] == [
        "| Synthetic-5 v0, DKT paper split | 0.8298-0.8299 (seeds 0, 1) with concept mixing "
        "|  |  |  | 0.632 |  |  |  |",
        "| ASSISTments 2015, pyKT protocol | 0.7286; 0.7308 in pyKT's scoring |  |  |  |  |  |  |"
        "  |",
    ]
    level = copy.deepcopy(runs)
    level["mix1"]["test_auc"] = 0.82981
    assert "| 0.8298 (seeds 0, 1) with concept mixing |" in kt_table(level)
    changed = copy.deepcopy(runs)
    changed["bkt"]["test_auc"] = 0.7
    assert "| 0.700 |" in kt_table(changed) and kt_table(changed) != kt_table(runs)
    runs["mix2"] = copy.deepcopy(runs["mix1"])
    with pytest.raises(ValueError, match="'mix1' and 'mix2' are both"):
        kt_table(runs)


def test_attention_runs_join_the_kt_table_and_list_their_command_once():
    v1 = "/x/synthetic5/naive_c5_q50_s4000_v1.csv"
    on_v1, on_a15 = "train_kt.py --model sakt --out v1", "train_kt.py --model sakt --out a15"
    runs = {
        "sakt-v1": stored_kt_run(_kt_summary("sakt", 0.81234, v1, "dkt-synthetic"), on_v1, "d"),
        "sakt-a15": stored_kt_run(_kt_summary("sakt", 0.70881), on_a15, "d",
                                  _windows("sakt", 0.70842), "e-a15"),  # fmt: skip
    }
    rows = kt_table(runs).splitlines()
    assert rows[2:] == [
        "| Synthetic-5 v1, DKT paper split |  | 0.8123 |  |  |  |  |  |  |",
        "| ASSISTments 2015, pyKT protocol |  | 0.7088; 0.7084 in pyKT's scoring |  |  |  |  |  |"
        "  |",
    ]
    blocks = render_kt_blocks(runs)
    assert on_v1 in blocks["kt-commands"] and on_a15 not in blocks["kt-commands"]
    assert on_a15 in blocks["kt-attention-commands"] and "e-a15" in blocks["kt-attention-commands"]
    assert on_v1 not in blocks["kt-attention-commands"]


def test_stored_kt_run_refuses_an_evaluation_not_scored_as_pykt():
    evaluation = {**_windows("dkt", 0.7), "scoring": "full-history"}
    with pytest.raises(ValueError, match="must be evaluate_kt.py --pykt-windows"):
        stored_kt_run(_kt_summary("dkt", 0.7), "c", "d", evaluation, "e")
    with pytest.raises(ValueError, match="one model per run"):
        stored_kt_run({**_kt_summary("dkt", 0.7), "model": "all"}, "c", "d")


def test_a_malformed_stored_file_is_named(tmp_path):
    (tmp_path / "good.json").write_text(json.dumps({"command": "c"}))
    (tmp_path / "broken.json").write_text('{"command": ')
    with pytest.raises(ValueError, match=r"broken\.json: not valid JSON"):
        read_folder(tmp_path)
    with pytest.raises(ValueError, match=r"good\.json: stored result lacks \['date'\]"):
        read_stored(tmp_path / "good.json", ("command", "date"))
    (tmp_path / "broken.json").write_text("[1, 2]")
    with pytest.raises(ValueError, match=r"broken\.json: a stored result must be a JSON object"):
        read_folder(tmp_path)


def _web_run(greedy_p95, date="2026-12-04"):
    def row(p95):
        return {"http": {"p50_ms": 5.0, "p95_ms": p95, "max_ms": p95 + 3},
                "in_process": {"p50_ms": 0.6, "p95_ms": 5.4}}  # fmt: skip

    return {"command": "bench_web.py", "date": date, "goal_p95_ms": 50.0,
            "worst_p95_ms": max(greedy_p95, 12.0), "load_average": [1.5, 2.5],
            "requests": 200, "clients": 2,
            "policies": {"random": row(12.0), "greedy": row(greedy_p95),
                         "expectimax": row(11.0)}}  # fmt: skip


def test_the_web_table_shows_each_policy_and_says_whether_the_goal_is_met():
    table = web_table({"a": _web_run(34.3)})
    assert "| greedy | 5.0 | 34.3 | 37.3 | 0.6 / 5.4 |" in table
    assert "| expectimax (horizon 2, beam 2) | 5.0 | 11.0 |" in table
    assert "Goal p95 under 50 ms: met (worst: greedy, 34.3 ms)" in table
    missed = web_table({"a": _web_run(61.0)})
    assert "missed (worst: greedy, 61.0 ms)" in missed and "| 61.0 |" in missed
    # The latest run is the one shown.
    both = web_table({"old": _web_run(61.0, "2026-11-25"), "new": _web_run(20.0)})
    assert "| 20.0 |" in both and "61.0" not in both
    assert render_web_blocks({}) == {}
