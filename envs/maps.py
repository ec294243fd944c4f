"""Named GridWorld maps and the reward presets that go with them.

Characters: ``S`` start (exactly one), ``G`` goal (at least one, terminal), ``T`` trap,
``#`` wall (impassable), ``.`` free cell. Rows are listed top to bottom; row 0 is the top.
"""

from __future__ import annotations

from types import MappingProxyType

# A 4x4 map in the spirit of FrozenLake's, with one wall and traps.
MAP_4X4 = (
    "S...",
    ".#.T",
    "...#",
    "T..G",
)

# An 8x8 maze: walls funnel the agent away from the straight diagonal and traps line the
# short cuts, so the optimal path (18 moves, against a Manhattan distance of 14) is not
# obvious; tests/envs/test_gridworld.py checks it against a breadth-first search.
MAP_8X8 = (
    "S..#....",
    ".#.#.##.",
    ".#...#..",
    ".####.#.",
    "...T..#.",
    "##T##.#.",
    "....T.#.",
    ".##....G",
)

# Sutton and Barto (2018), Example 6.6: the cliff walk, 4 rows by 12 columns.
MAP_CLIFF = (
    "............",
    "............",
    "............",
    "STTTTTTTTTTG",
)

MAPS = MappingProxyType({"4x4": MAP_4X4, "8x8": MAP_8X8, "cliff": MAP_CLIFF})

# Reward presets per named map; any argument given explicitly to GridWorldEnv wins.
# The cliff walk pays -1 per step and -100 for stepping into the cliff (which sends the
# agent back to the start without ending the episode): step_cost -1 plus trap_reward -99.
MAP_PRESETS = MappingProxyType(
    {
        "4x4": MappingProxyType({}),
        "8x8": MappingProxyType({}),
        "cliff": MappingProxyType(
            {"step_cost": -1.0, "goal_reward": 0.0, "trap_reward": -99.0, "trap_terminates": False}
        ),
    }
)
