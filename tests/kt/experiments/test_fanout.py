"""kt.experiments.fanout: a simulation grid on a local 2-CPU Ray equals the serial run."""

import doctest

import pytest

from riley_gym.envs.simulate import simulate_logs
from riley_gym.kt.experiments import fanout
from riley_gym.kt.experiments.fanout import grid, run_tasks


def test_docstring_examples_run():
    result = doctest.testmod(fanout)
    assert result.attempted > 0 and result.failed == 0


def test_grid_on_a_local_two_cpu_ray_equals_serial():
    ray = pytest.importorskip("ray", reason="the distributed extra (ray) is not installed")
    # A library function: Ray workers import it by name (a test module's would not import).
    tasks = grid(
        n_students=[40], curriculum=["riley", "chain"], episode_length=[10, 20], seed=[0, 1]
    )
    serial = run_tasks(simulate_logs, tasks)
    on_ray = run_tasks(simulate_logs, tasks, ray_address="local", num_cpus=2)
    assert len(on_ray) == len(serial) == 8
    for ours, theirs in zip(on_ray, serial):
        assert ours.equals(theirs)
    assert len({float(log.correct.mean()) for log in serial}) > 1  # the tasks differ
    assert not ray.is_initialized()  # the Ray started for the call is shut down
