"""The Atari throughput measurement that scripts/bench_envs.py reports."""

import pytest

from riley_gym.envs.benchmarks_atari import atari_throughput


def test_atari_throughput_reports_both_rates():
    result = atari_throughput("Pong", steps=40, num_envs=2, num_threads=1)
    assert result["num_envs"] == 2 and result["steps"] == 40
    assert result["single_steps_per_second"] > 0 and result["vector_steps_per_second"] > 0
    assert result["speedup"] == pytest.approx(
        result["vector_steps_per_second"] / result["single_steps_per_second"]
    )


@pytest.mark.parametrize("kwargs", [{"steps": 0}, {"num_envs": 0}])
def test_atari_throughput_rejects_bad_sizes(kwargs):
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        atari_throughput("Pong", **kwargs)
