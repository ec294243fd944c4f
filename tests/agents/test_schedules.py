"""Linear schedule."""

import doctest

import pytest

import riley_gym.agents.schedules
from riley_gym.agents.schedules import LinearSchedule


def test_docstring_examples():
    assert doctest.testmod(riley_gym.agents.schedules).failed == 0


def test_linear_schedule_values():
    schedule = LinearSchedule(1.0, 0.0, 4)
    assert [schedule(step) for step in range(6)] == [1.0, 0.75, 0.5, 0.25, 0.0, 0.0]
    assert LinearSchedule(1.0, 0.2, 0)(0) == 0.2


def test_negative_duration_rejected():
    with pytest.raises(ValueError, match="duration"):
        LinearSchedule(1.0, 0.0, -1)
