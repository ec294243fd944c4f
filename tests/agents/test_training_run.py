"""agents.training_run: command-line flags from DQNConfig,
and TensorBoard scalars beside metrics.csv."""

import argparse
import csv

import pytest

from riley_gym.agents import DQNConfig
from riley_gym.agents.training_run import (
    RunConfig,
    add_config_arguments,
    config_from_arguments,
    train_run,
)


def parser():
    parser = argparse.ArgumentParser(exit_on_error=False)
    parser.add_argument("--env", default="CartPole-v1")
    parser.add_argument("--preset", default=None)
    add_config_arguments(parser)
    return parser


@pytest.mark.parametrize("text,value", [("true", True), ("No", False), ("1", True), ("0", False)])
def test_bool_flags_parse_both_ways(text, value):
    assert (
        config_from_arguments(parser().parse_args(["--double-dqn", text]), "cartpole").double_dqn
        is value
    )


def test_a_misspelt_bool_is_an_error_not_false():
    with pytest.raises(argparse.ArgumentError, match="expected true/false.*'flase'"):
        parser().parse_args(["--double-dqn", "flase"])


def test_flags_override_the_preset_and_the_rest_stays():
    flags = parser().parse_args(["--learning-rate", "0.01", "--hidden-sizes", "8", "8"])
    config = config_from_arguments(flags, "cartpole")
    assert config.learning_rate == 0.01 and config.hidden_sizes == (8, 8)
    assert config.batch_size == DQNConfig.cartpole().batch_size


def test_tensorboard_scalars_match_metrics_csv(tmp_path):
    event_accumulator = pytest.importorskip(
        "tensorboard.backend.event_processing.event_accumulator",
        reason="tensorboard is a dev dependency",
    )
    config = DQNConfig.cartpole(
        hidden_sizes=(16,),
        learning_starts=100,
        buffer_size=1000,
        train_freq=16,
        gradient_steps=2,
        device="cpu",
    )
    run = RunConfig(
        total_steps=600, eval_interval=200, eval_episodes=2, final_eval_episodes=2, keep_best=False
    )
    summary = train_run("CartPole-v1", config, run, tmp_path)
    assert summary["tensorboard"] is True
    events = event_accumulator.EventAccumulator(str(tmp_path / "tensorboard"))
    events.Reload()
    rows = list(csv.DictReader(open(tmp_path / "metrics.csv")))
    logged = events.Scalars("eval_mean")
    assert [e.step for e in logged] == [int(r["env_steps"]) for r in rows] == [200, 400, 600]
    assert [e.value for e in logged] == pytest.approx([float(r["eval_mean"]) for r in rows])
