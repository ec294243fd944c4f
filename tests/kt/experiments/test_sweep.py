"""kt.experiments.sweep without Ray: its settings refuse bad values, and the table and plot
show every trial, best validation AUC first."""

import pytest

from riley_gym import nets
from riley_gym.kt.experiments.plots import plot_sweep
from riley_gym.kt.experiments.search_space import SearchSpace
from riley_gym.kt.experiments.sweep import SweepSettings, run_sweep, sweep_table

NAN = float("nan")


def _trials():
    return [
        {"trial": "a_00000", "hidden_size": 8, "start_point": True, "status": "finished",
         "epochs": 4, "best_valid_auc": 0.71, "test_auc": 0.70, "curve": [[1, 0.6], [4, 0.71]]},
        {"trial": "a_00001", "hidden_size": 16, "start_point": False, "status": "finished",
         "epochs": 4, "best_valid_auc": 0.73, "test_auc": 0.72, "test_auc_pykt_windows": 0.725,
         "curve": [[1, 0.65], [4, 0.73]]},
        {"trial": "a_00002", "hidden_size": 4, "start_point": False, "status": "stopped by ASHA",
         "epochs": 1, "best_valid_auc": 0.55, "test_auc": NAN, "curve": [[1, 0.55]]},
        {"trial": "a_00003", "hidden_size": 4, "start_point": False, "status": "error",
         "epochs": 0, "best_valid_auc": NAN, "test_auc": NAN, "curve": []},
    ]  # fmt: skip


def test_table_puts_the_best_first_marks_the_start_point_and_leaves_missing_figures_blank():
    lines = sweep_table(_trials(), ["hidden_size"]).splitlines()
    assert lines[0] == (
        "| trial | hidden_size | status | epochs | best valid AUC | test AUC "
        "| test AUC (pyKT windows) |"
    )
    assert [line.split(" | ")[0] for line in lines[2:]] == [
        "| a_00001", "| a_00000 (start point)", "| a_00002", "| a_00003"
    ]  # fmt: skip
    assert lines[2].endswith("| 0.7300 | 0.7200 | 0.7250 |")
    assert lines[4].endswith("| stopped by ASHA | 1 | 0.5500 |  |  |")
    assert lines[5].endswith("| error | 0 |  |  |  |")
    without = sweep_table(_trials()[:1], ["hidden_size"])
    assert "pyKT windows" not in without


def test_plot_draws_every_trial_that_reported(tmp_path):
    path = plot_sweep(_trials(), "a_00001", tmp_path / "sweep.png")
    assert path.stat().st_size > 10_000


@pytest.mark.parametrize(
    "field, value", [("trials", 0), ("grace_period", 0), ("reduction_factor", 1), ("seed", -1)]
)
def test_sweep_settings_refuse_values_that_cannot_run(field, value):
    with pytest.raises(nets.SettingsError) as caught:
        SweepSettings(**{field: value})
    assert caught.value.field == field
    flag = "--" + field.replace("_", "-")  # what a sweep_kt.py user typed
    assert caught.value.flag_message().startswith(f"{flag} must be ")
    assert caught.value.flag_message().endswith(f", got {value!r}")


def test_a_sweep_with_fewer_trials_than_start_points_is_refused_before_it_starts(tmp_path):
    pytest.importorskip("ray.tune", reason="the distributed extra (ray[tune]) is not installed")
    space = SearchSpace("dkt", {}, {"hidden_size": {"choice": [8, 16]}},
                        [{"hidden_size": 8}, {"hidden_size": 16}], "space.json")  # fmt: skip
    with pytest.raises(ValueError, match="--trials 1 is fewer than the 2 start_from points"):
        run_sweep(space, "log.csv", tmp_path / "out", SweepSettings(trials=1))
    assert not (tmp_path / "out").exists()  # nothing claimed, nothing started
