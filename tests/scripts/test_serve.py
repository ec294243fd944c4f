"""scripts/serve.py and scripts/bench_web.py in subprocesses: train once, serve, load, time."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from tests.helpers.scripts import ROOT, run_script

httpx = pytest.importorskip("httpx", reason="the web extra is not installed")
from riley_gym.web.server import free_port  # noqa: E402


def serve_until_answering(*arguments: str) -> tuple[dict, str]:
    """Start serve.py, wait for GET /api/model, stop it; (that answer, what it printed)."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "scripts" / "serve.py"), "--port", str(port), *arguments],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            assert process.poll() is None, process.stdout.read()
            try:
                reply = httpx.get(f"http://127.0.0.1:{port}/api/model", timeout=2)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "serve.py did not answer in 120 s"
                time.sleep(0.2)
    finally:
        process.terminate()
        output = process.communicate(timeout=20)[0]
    assert reply.status_code == 200
    return reply.json(), output


@pytest.fixture(scope="module")
def served_model(tmp_path_factory):
    """serve.py --quick trains a model into --out on its first start; (folder, model info, log)."""
    folder = tmp_path_factory.mktemp("serve") / "model"
    described, output = serve_until_answering("--quick", "--out", str(folder), "--threads", "1")
    return folder, described, output


def test_the_first_start_trains_says_how_long_and_keeps_the_model(served_model):
    folder, described, output = served_model
    assert "training the tutoring model: 3000 simulated students" in output
    assert "DKT (32 units" in output and "DQN tutor (5000 student-steps) in" in output
    assert f"saved to {folder}" in output
    assert "/api/tutor/answer" in output  # the API routes are listed
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["settings"]["log_students"] == described["settings"]["log_students"] == 3000
    assert (folder / "dkt" / "model.pt").is_file() and (folder / "dqn.pt").is_file()
    assert "WARNING" not in output  # bound to 127.0.0.1


def test_a_later_start_loads_the_kept_model(served_model):
    folder, described, _ = served_model
    again, output = serve_until_answering("--model", str(folder))
    assert "loaded the tutoring model" in output and "training" not in output
    assert again["training"]["dkt_test_auc"] == described["training"]["dkt_test_auc"]


def test_serve_refuses_a_folder_without_a_model(tmp_path):
    done = run_script("serve.py", "--model", str(tmp_path), timeout=120)
    assert done.returncode == 2
    assert "holds no web tutoring model" in done.stderr


def test_bench_web_times_tutoring_steps_under_two_clients(served_model, tmp_path):
    folder, _, _ = served_model
    done = run_script(
        "bench_web.py",
        *("--model", str(folder), "--policies", "mastery,dqn", "--requests", "24", "--warmup", "2"),
        *("--out", str(tmp_path)),
        timeout=240,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert set(summary["policies"]) == {"mastery", "dqn"}
    for row in summary["policies"].values():
        for side in ("http", "in_process"):
            figures = row[side]
            assert figures["n"] == 24
            assert 0 < figures["p50_ms"] <= figures["p95_ms"] <= figures["max_ms"]
    assert summary["worst_p95_ms"] == max(r["http"]["p95_ms"] for r in summary["policies"].values())
    assert summary["goal_met"] == (summary["worst_p95_ms"] < 50.0)
    assert "one tutoring step, 24 requests, 2 clients at once" in done.stdout
