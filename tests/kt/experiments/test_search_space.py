"""kt.experiments.search_space: a space file is checked whole before any trial runs, and a
trial's settings are exactly those its train_kt.py command gives."""

import json

import pytest

from riley_gym.kt.experiments.search_space import SearchSpaceError, load_search_space
from tests.helpers.scripts import ROOT

SPACE = {
    "model": "dkt",
    "fixed": {"protocol": "holdout", "max_epochs": 5, "cell": "gru"},
    "search": {
        "hidden_size": {"choice": [8, 16]},
        "learning_rate": {"loguniform": [0.001, 0.01]},
        "dropout": {"uniform": [0.0, 0.5]},
        "batch_size": {"randint": [8, 32]},
    },
    "start_from": [{"hidden_size": 8, "learning_rate": 0.002}],
}


def _write(tmp_path, space):
    path = tmp_path / "space.json"
    path.write_text(json.dumps(space) if isinstance(space, dict) else space)
    return path


def test_a_trial_is_the_train_kt_command_of_its_values(tmp_path):
    space = load_search_space(_write(tmp_path, SPACE))
    values = {"hidden_size": 16, "learning_rate": 0.0031622776601683794, "dropout": 0.25,
              "batch_size": 9}  # fmt: skip
    protocol, plan, configs = space.settings(values, seed=4)
    config = configs["dkt"]
    assert (config.hidden_size, config.dropout, config.batch_size) == (16, 0.25, 9)
    assert config.cell == "gru" and protocol.protocol == "holdout"
    assert config.training.learning_rate == 0.0031622776601683794  # repr keeps every bit
    assert (config.training.max_epochs, config.training.seed) == (5, 4)
    command = space.command(values, "log.csv", None, seed=4)
    assert "--learning-rate 0.0031622776601683794" in command and "--seed 4 --threads 1" in command
    assert space.max_epochs() == 5
    searched = {**SPACE, "fixed": {"protocol": "holdout"},
                "search": {"max_epochs": {"choice": [3, 7, 4]}}, "start_from": []}  # fmt: skip
    assert load_search_space(_write(tmp_path, searched)).max_epochs() == 7  # ASHA's last rung
    assert len(space.start_from) == 1


@pytest.mark.parametrize("name, model", [("dkt-assist2015", "dkt"), ("sakt-assist2015", "sakt")])
def test_the_shipped_assistments_spaces_are_valid(name, model):
    space = load_search_space(ROOT / "docs" / "sweeps" / f"{name}.json")
    assert space.model == model and space.fixed["protocol"] == "pykt"
    assert set(space.start_from[0]) == set(space.search)  # the README's settings, whole


@pytest.mark.parametrize(
    "change, message",
    [
        ({"searchh": {}}, "unknown keys ['searchh']"),
        ({"model": "bkt"}, "model must be one trained by epochs"),
        ({"search": {}}, "search must be a non-empty object"),
        ({"search": {"hiden_size": {"choice": [8]}}}, "search.hiden_size is not a setting of dkt"),
        ({"fixed": {"refit": True}}, "fixed.refit: not in a sweep"),
        ({"search": {"dropout": {"normal": [0, 1]}}}, "search.dropout must be one of"),
        ({"search": {"dropout": {"uniform": [0.5, 0.1]}}}, "low < high, got [0.5, 0.1]"),
        ({"search": {"learning_rate": {"loguniform": [0, 0.1]}}}, "needs low > 0"),
        ({"search": {"batch_size": {"randint": [8, 32.5]}}}, "randint bounds must be integers"),
        ({"search": {"dropout": {"choice": [0.1, 1.5]}}}, "search.dropout = 1.5: --dropout must"),
        ({"fixed": {}, "search": {"cell": {"choice": ["gru", "tcn"]}}}, "search.cell = 'tcn'"),
        ({"fixed": {"max_epochs": 0}}, "fixed: --max-epochs must be"),
        (
            {
                "fixed": {"cell": "gru", "hidden_size": 8},
                "search": {"hidden_size": {"choice": [8]}},
            },
            "['hidden_size'] both fixed and searched",
        ),
        ({"start_from": [{"cell": "lstm"}]}, "start_from[0] sets ['cell'], which are not searched"),
        ({"start_from": [{"hidden_size": -3}]}, "start_from[0]: --hidden-size must be"),
    ],
)
def test_a_bad_space_names_the_file_and_the_key(tmp_path, change, message):
    path = _write(tmp_path, {**SPACE, **change})
    with pytest.raises(SearchSpaceError) as caught:
        load_search_space(path)
    assert str(caught.value).startswith(str(path)) and message in str(caught.value)


def test_unreadable_files_are_named(tmp_path):
    with pytest.raises(SearchSpaceError, match="no such search space file"):
        load_search_space(tmp_path / "missing.json")
    with pytest.raises(SearchSpaceError, match="not JSON"):
        load_search_space(_write(tmp_path, "{'model': 'dkt'"))
    with pytest.raises(SearchSpaceError, match="must hold a JSON object, got list"):
        load_search_space(_write(tmp_path, "[1, 2]"))
