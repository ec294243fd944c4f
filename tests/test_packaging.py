"""riley-gym installs under one name: a built wheel sits beside another package called ``envs``.

The wheel is built from this checkout and installed (without dependencies) into a fresh virtual
environment that sees this environment's packages (torch, gymnasium...) through a ``.pth``
file, next to a dummy ``envs`` package made here: both import, the Gymnasium ids register, and
uninstalling riley-gym leaves the other package alone.
"""

import shutil
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

CHECK = """
import gymnasium as gym
import envs, riley_gym
from riley_gym.envs.student import StudentEnv
assert envs.WHO == "the other package", envs.__file__
env = gym.make("riley/Student-v0")
assert isinstance(env.unwrapped, StudentEnv)
env = gym.make("riley_gym:riley/GridWorld-v0")
from riley_gym import nets, agents, kt
from riley_gym.kt.models.dkt import DKT
from riley_gym.envs.curriculum import load_curriculum
assert load_curriculum("riley").n_skills == 5  # the bundled curriculum file came with the wheel
print(riley_gym.__file__)
"""


def run(command, **kwargs):
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, **kwargs)
    assert done.returncode == 0, f"{command}\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.mark.slow
def test_the_wheel_installs_as_riley_gym_beside_a_package_named_envs(tmp_path):
    # Built from a copy: setuptools writes build/ and *.egg-info beside the sources.
    source = tmp_path / "source"
    skip = shutil.ignore_patterns(
        ".git", ".venv*", ".bench", "runs", "build", "*.egg-info", "__pycache__"
    )
    shutil.copytree(ROOT, source, ignore=skip)
    wheels = tmp_path / "wheels"
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(wheels), str(source)])  # fmt: skip
    (wheel,) = wheels.glob("riley_gym-*.whl")
    fresh = tmp_path / "fresh"
    venv.create(fresh, with_pip=True)
    python = fresh / "bin" / "python"
    site = Path(
        run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]
        ).strip()
    )
    # The dependencies of this environment, visible in the fresh one (nothing of ours is there).
    (site / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    other = tmp_path / "other" / "envs"
    other.mkdir(parents=True)
    (other / "__init__.py").write_text('WHO = "the other package"\n')
    (other.parent / "pyproject.toml").write_text(
        '[project]\nname = "envs"\nversion = "1.0"\n[tool.setuptools]\npackages = ["envs"]\n'
    )
    build = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q"]
    run([*build, "-w", str(wheels), str(other.parent)])
    (other_wheel,) = wheels.glob("envs-*.whl")
    run([str(python), "-m", "pip", "install", "-q", "--no-deps", str(other_wheel)])
    run([str(python), "-m", "pip", "install", "-q", "--no-deps", str(wheel)])
    installed = sorted(
        path.name for path in site.iterdir() if not path.name.endswith((".pth", "-info"))
    )
    assert "riley_gym" in installed and not {"kt", "nets", "agents"} & set(installed)
    assert {"nets", "envs", "agents", "kt"} <= {
        path.name for path in (site / "riley_gym").iterdir()
    }
    where = run([str(python), "-c", CHECK], cwd=tmp_path).strip()
    assert where.startswith(str(site))  # the wheel's copy, not this checkout
    run([str(python), "-m", "pip", "uninstall", "-y", "-q", "riley-gym"])
    assert (
        run([str(python), "-c", "import envs; print(envs.WHO)"], cwd=tmp_path).strip()
        == "the other package"
    )
