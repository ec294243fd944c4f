"""Schedules of a value over environment steps (the exploration rate of DQN)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class LinearSchedule:
    """A value moving linearly from ``start`` to ``end`` over ``duration`` steps,
    then held at ``end``.

    Nature DQN anneals epsilon from 1.0 to 0.1 over the first million frames this way.

    Args:
        start: value at step 0.
        end: value from step ``duration`` on.
        duration: number of steps of the ramp; 0 gives ``end`` from step 0.

    Example:
        >>> schedule = LinearSchedule(1.0, 0.1, 100)
        >>> schedule(0), schedule(50), schedule(1000)
        (1.0, 0.55, 0.1)
    """

    start: float
    end: float
    duration: int

    def __post_init__(self) -> None:
        if self.duration < 0:
            raise ValueError(f"LinearSchedule duration must be >= 0 steps, got {self.duration}")

    def __call__(self, step: int) -> float:
        """The value at ``step`` (steps before 0 give ``start``)."""
        if self.duration == 0 or step >= self.duration:
            return float(self.end)
        fraction = max(step, 0) / self.duration
        return float(round(self.start + fraction * (self.end - self.start), 12))
