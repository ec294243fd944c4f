"""A 5-cell corridor for agent tests, with exactly known Q* (shared by the agent tests)."""

from __future__ import annotations

import gymnasium as gym
import numpy as np

N_CELLS = 5
GOAL = N_CELLS - 1


class Corridor(gym.Env):
    """Cells 0..4, start at 0; action 0 = left, 1 = right; reaching cell 4 gives +1 and terminates.

    Observation: the cell index (Discrete(5), one-hot in the agent). Q*(s, right) = gamma^(3 - s),
    Q*(s, left) = gamma * V*(max(s - 1, 0)).
    """

    metadata = {"render_modes": []}

    def __init__(self, time_limit: int = 20) -> None:
        self.observation_space = gym.spaces.Discrete(N_CELLS)
        self.action_space = gym.spaces.Discrete(2)
        self.time_limit = time_limit

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.cell, self.steps = 0, 0
        return self.cell, {}

    def step(self, action):
        self.cell = min(self.cell + 1, GOAL) if action == 1 else max(self.cell - 1, 0)
        self.steps += 1
        terminated = self.cell == GOAL
        return (
            self.cell,
            float(terminated),
            terminated,
            self.steps >= self.time_limit and not terminated,
            {},
        )


def corridor_q_star(gamma: float) -> np.ndarray:
    """(4, 2) Q* of the non-terminal cells, by hand from the Bellman equation."""
    value = np.array([gamma ** (GOAL - 1 - s) for s in range(GOAL)])  # V*(s) = gamma^(3 - s)
    q = np.zeros((GOAL, 2))
    q[:, 1] = value
    q[:, 0] = gamma * value[np.maximum(np.arange(GOAL) - 1, 0)]
    return q
