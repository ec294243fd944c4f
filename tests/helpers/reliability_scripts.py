"""The script-level cases of issue 18 (items 7-9, 13, 14): each runs a script in a subprocess.

A case passes as an ``error`` when the script exits with code 2, prints no traceback, and says
what is wrong in one or two lines; the outcome shows its ``error:`` line. Anything else (exit 0,
a traceback, another code) is ``silent``: the bad input went through, or the user got a
traceback instead of a sentence.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.helpers.scripts import ROOT, TINY_DKT, write_tiny_log

TINY_AGENT = ["--env", "riley/GridWorld-v0", "--total-steps", "400", "--learning-starts", "100",
              "--eval-interval", "400", "--eval-episodes", "1", "--final-eval-episodes", "1",
              "--threads", "1", "--no-progress"]  # fmt: skip


def _run(script: str, *arguments: str) -> subprocess.CompletedProcess:
    command = [sys.executable, str(ROOT / "scripts" / script), *arguments]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)


def script_outcome(done: subprocess.CompletedProcess, folder: Path):
    """``Outcome`` of a run that must be refused (imported late: the module defines Outcome)."""
    from tests.helpers.reliability import Outcome

    lines = [line for line in done.stderr.splitlines() if "error:" in line]
    if done.returncode == 2 and "Traceback" not in done.stderr and lines:
        return Outcome("error", lines[-1].replace(f"{folder}/", "").replace(str(folder), "DIR"))
    return Outcome("silent", f"exit code {done.returncode}: {done.stderr.strip()[-300:]}")


def refused(script: str, *arguments: str, before=None):
    """A case function: optionally prepare the folder, run the script, expect a refusal."""

    def run(folder: Path):
        if before is not None:
            before(folder)
        filled = [argument.replace("DIR", str(folder)) for argument in arguments]
        return script_outcome(_run(script, *filled), folder)

    return run


def _agent_run(folder: Path) -> None:
    done = _run("train_agent.py", *TINY_AGENT, "--seed", "0", "--out", str(folder / "run"))
    assert done.returncode == 0, done.stderr


def _kt_run(folder: Path) -> None:
    log = write_tiny_log(folder / "log.csv")
    done = _run("train_kt.py", "--data", str(log), "--out", str(folder / "run"), *TINY_DKT)
    assert done.returncode == 0, done.stderr


def _not_a_checkpoint(folder: Path) -> None:
    _agent_run(folder)
    (folder / "fake.pt").write_bytes(b"PK\x03\x04 not a torch file")


def script_cases():
    from tests.helpers.reliability import Case, code

    log = "DIR/log.csv"
    return (
        Case("7", "resume with another seed", code("train_agent.py --resume --seed 7 ..."),
             refused("train_agent.py", *TINY_AGENT, "--seed", "7", "--out", "DIR/run", "--resume",
                     before=_agent_run)),
        Case("7", "resume shorter than done", code("train_agent.py --resume --total-steps 200"),
             refused("train_agent.py", *TINY_AGENT[:2], "--total-steps", "200", "--out",
                     "DIR/run", "--resume", before=_agent_run)),
        Case("8", "reused --out (agent)", code("train_agent.py --out RUN (RUN holds a run)"),
             refused("train_agent.py", *TINY_AGENT, "--out", "DIR/run", before=_agent_run)),
        Case("8", "reused --out (KT)", code("train_kt.py --out RUN (RUN holds a run)"),
             refused("train_kt.py", "--data", log, "--out", "DIR/run", *TINY_DKT, before=_kt_run)),
        Case("8", "--resume with nothing there", code("train_kt.py --resume --out EMPTY"),
             refused("train_kt.py", "--data", log, "--out", "DIR/empty", "--resume",
                     before=lambda folder: write_tiny_log(folder / "log.csv"))),
        Case("9", "a checkpoint that is not ours", code("evaluate_agent.py --checkpoint fake.pt"),
             refused("evaluate_agent.py", "--run", "DIR/run", "--checkpoint", "DIR/fake.pt",
                     "--episodes", "1", before=_not_a_checkpoint)),
        Case("13", "negative step count", code("train_agent.py --total-steps -5"),
             refused("train_agent.py", *TINY_AGENT[:2], "--total-steps", "-5", "--out", "DIR/x")),
        Case("13", "probability above 1", code("train_agent.py --gamma 1.5"),
             refused("train_agent.py", *TINY_AGENT[:2], "--gamma", "1.5", "--out", "DIR/x")),
        Case("13", "zero epochs", code("train_kt.py --max-epochs 0"),
             refused("train_kt.py", "--data", log, "--max-epochs", "0", "--out", "DIR/x",
                     before=lambda folder: write_tiny_log(folder / "log.csv"))),
        Case("13", "dropout of 1.5", code("train_kt.py --dropout 1.5"),
             refused("train_kt.py", "--data", log, "--dropout", "1.5", "--out", "DIR/x",
                     before=lambda folder: write_tiny_log(folder / "log.csv"))),
        Case("13", "no students to tutor", code("tutor.py --students 0"),
             refused("tutor.py", "--students", "0", "--out", "DIR/x")),
        Case("13", "zero evaluation episodes", code("evaluate_agent.py --episodes 0"),
             refused("evaluate_agent.py", "--run", "DIR/run", "--episodes", "0",
                     before=_agent_run)),
        Case("14", "unknown environment", code("train_agent.py --env riley/Gridworld-v0"),
             refused("train_agent.py", "--env", "riley/Gridworld-v0", "--out", "DIR/x")),
        Case("14", "a log that is no known format", code("train_kt.py --data notes.txt"),
             refused("train_kt.py", "--data", "DIR/notes.txt", "--out", "DIR/x",
                     before=lambda folder: (folder / "notes.txt").write_text("hello\nworld\n"))),
    )  # fmt: skip
