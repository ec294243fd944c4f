"""What the web tests share, made once per run: a tutoring model, a train_kt.py run, a tutor.py run.

``RILEY_WEB_MODEL`` (a saved web model folder) and ``RILEY_TUTOR_RUN`` (a tutor.py run folder)
replace the tiny ones, e.g. to take the README's screenshots on the default model.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from tests.helpers.scripts import TINY_DKT, run_script, write_tiny_log

pytest.importorskip("fastapi", reason="the web extra is not installed (pip install -e '.[web]')")

from riley_gym.web.model import load_model, quick_config, save_model, train_model  # noqa: E402


@pytest.fixture(scope="session")
def trained_web_model():
    """The tiny model as trained in this process (None when RILEY_WEB_MODEL names one)."""
    if os.environ.get("RILEY_WEB_MODEL"):
        return None
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return train_model(quick_config(seed=0), say=lambda line: None)
    finally:
        torch.set_num_threads(previous)


@pytest.fixture(scope="session")
def web_model_folder(trained_web_model, tmp_path_factory) -> Path:
    if trained_web_model is None:
        return Path(os.environ["RILEY_WEB_MODEL"])
    return save_model(trained_web_model, tmp_path_factory.mktemp("web-model"))


@pytest.fixture(scope="session")
def web_model(web_model_folder):
    """The model the tests serve: read back from its folder, as scripts/serve.py reads it."""
    return load_model(web_model_folder)


@pytest.fixture(scope="session")
def kt_run(tmp_path_factory) -> tuple[Path, Path]:
    """(a small interactions log, a train_kt.py DKT run folder trained on it)."""
    folder = tmp_path_factory.mktemp("kt-run")
    log = write_tiny_log(folder / "log.csv", n_students=30, seed=0)
    done = run_script(
        "train_kt.py", "--data", str(log), "--model", "dkt", "--out", str(folder / "dkt"), *TINY_DKT
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return log, folder / "dkt"


@pytest.fixture(scope="session")
def tutor_run(tmp_path_factory) -> Path:
    """A scripts/tutor.py --quick run folder (summary.json, learning_curves.csv)."""
    given = os.environ.get("RILEY_TUTOR_RUN")
    if given:
        return Path(given)
    out = tmp_path_factory.mktemp("tutor-run")
    done = run_script("tutor.py", "--quick", "--threads", "1", "--out", str(out))
    assert done.returncode == 0, done.stderr[-2000:]
    return out
