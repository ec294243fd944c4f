"""README.md stays true: every script it shows exists and accepts every flag it is shown with."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
# Each shown invocation: "scripts/NAME.py" followed by its arguments up to the end of the line.
INVOCATIONS = re.findall(r"python scripts/(\w+)\.py([^\n]*)", README)


def test_readme_starts_with_the_two_set_up_commands():
    commands = [line for line in README.splitlines() if line.startswith("python3 -m venv")]
    assert len(commands) >= 2
    assert commands[0].endswith("scripts/tutor.py")
    assert commands[1].endswith("-m pytest")
    assert all("-c constraints.txt" in command for command in commands)
    assert "torch==2.13.0" in (ROOT / "constraints.txt").read_text()


# train_kt.py lists a model's own flags (e.g. SAKT's --n-heads) only after --model NAME.
def _model(name, args):
    found = re.search(r"--model (\w+)", args)
    return found[1] if name == "train_kt" and found else ""


SHOWN = sorted({(name, _model(name, args)) for name, args in INVOCATIONS})


@pytest.mark.parametrize(
    "script, model", SHOWN, ids=[f"{name}-{model}" if model else name for name, model in SHOWN]
)
def test_readme_flags_exist_in_each_scripts_help(script, model):
    chosen = ["--model", model] if model else []
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / f"{script}.py"), *chosen, "--help"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    shown_flags = {
        flag
        for name, args in INVOCATIONS
        if name == script and _model(name, args) == model
        for flag in re.findall(r"(--[\w-]+)", args)
    }
    missing = sorted(flag for flag in shown_flags if flag not in result.stdout)
    assert not missing, f"README shows {script}.py with {missing}, which its --help does not list"
