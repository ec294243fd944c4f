"""GridWorld: a small tabular world whose exact Q* is computable by value iteration.

The environment exposes its full dynamics as ``env.P`` (FrozenLake's convention), and
:func:`q_star` turns any such table into the optimal action values, so an agent's estimate
of E[R | A, S] can be checked against the truth.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from riley_gym.envs.actions import check_discrete_action
from riley_gym.envs.maps import MAP_PRESETS, MAPS

# Transition table: P[state][action] -> [(prob, next_state, reward, terminated), ...].
TransitionTable = Mapping[int, Mapping[int, Sequence[tuple[float, int, float, bool]]]]

LEFT, DOWN, RIGHT, UP = 0, 1, 2, 3
ACTION_NAMES = ("left", "down", "right", "up")
# (d_row, d_col) per action, in FrozenLake's order.
_MOVES = ((0, -1), (1, 0), (0, 1), (-1, 0))
MAP_CHARS = "SGT#."
OBS_TYPES = ("onehot", "coords", "rgb", "index")

_COLOURS = {
    ".": (235, 235, 235),
    "S": (190, 215, 240),
    "G": (80, 190, 90),
    "T": (210, 60, 50),
    "#": (60, 60, 60),
}
_AGENT_COLOUR = (30, 60, 200)


def parse_map(desc: str | Sequence[str]) -> tuple[str, ...]:
    """Parses and validates a map given as a multi-line string or a list of rows.

    Leading and trailing blank lines and the whitespace around each row are ignored, so an
    indented triple-quoted string works.

    Args:
        desc: the map, e.g. ``"S.#\\n..G"`` or ``["S.#", "..G"]``.

    Returns:
        The rows as a tuple of equal-length strings.

    Raises:
        TypeError: if ``desc`` is neither a string nor a sequence of strings.
        ValueError: if the map is empty, not rectangular, uses an unknown character, or
            does not have exactly one ``S`` and at least one ``G``.
    """
    if isinstance(desc, str):
        rows = [line.strip() for line in desc.strip().splitlines()]
    elif isinstance(desc, Sequence) and all(isinstance(row, str) for row in desc):
        rows = [row.strip() for row in desc]
    else:
        raise TypeError(
            f"GridWorld map: expected a string or a list of row strings, got {type(desc).__name__}"
        )
    if not rows or not rows[0]:
        raise ValueError("GridWorld map: the map is empty")
    n_cols = len(rows[0])
    starts = []
    n_goals = 0
    for r, row in enumerate(rows):
        if len(row) != n_cols:
            raise ValueError(
                f"GridWorld map: row {r} ({row!r}) has {len(row)} columns, expected {n_cols} "
                "(the map must be rectangular)"
            )
        for c, char in enumerate(row):
            if char not in MAP_CHARS:
                raise ValueError(
                    f"GridWorld map: unknown character {char!r} at row {r}, col {c}; "
                    f"allowed: 'S' start, 'G' goal, 'T' trap, '#' wall, '.' free"
                )
            starts += [(r, c)] if char == "S" else []
            n_goals += char == "G"
    if len(starts) != 1:
        where = ", ".join(f"(row {r}, col {c})" for r, c in starts) or "none"
        raise ValueError(
            f"GridWorld map: expected exactly one start 'S', found {len(starts)}: {where}"
        )
    if n_goals == 0:
        raise ValueError("GridWorld map: expected at least one goal 'G', found none")
    return tuple(rows)


class GridWorldEnv(gym.Env):
    """A grid of free cells, walls, traps and goals; the agent walks from ``S`` to a ``G``.

    ## Description
    The map is text: ``S`` start, ``G`` goal, ``T`` trap, ``#`` wall, ``.`` free. Named maps:
    ``"4x4"``, ``"8x8"`` (a maze whose optimal path is not the diagonal) and ``"cliff"``
    (Sutton and Barto's cliff walk, Example 6.6). With ``slip > 0`` the floor is slippery:
    the intended move happens with probability ``1 - slip``, otherwise one of the two
    perpendicular moves, each with probability ``slip / 2``. The exact dynamics are in
    ``env.P`` and :func:`q_star` gives the optimal action values.

    ## Action space
    ``Discrete(4)``: 0 left, 1 down, 2 right, 3 up (FrozenLake's order). Moving into a wall
    or off the grid leaves the agent where it is. The env takes exactly what
    ``action_space.contains`` takes (``envs.actions``; ``True`` is 1); any other action raises
    ``ValueError`` (an integer out of range) or ``TypeError`` (another type).

    ## Observation space
    The state is the cell index ``s = row * n_cols + col`` (wall cells are never occupied).
    ``obs_type`` selects how it is shown:

    - ``"onehot"`` (default): ``Box(0, 1, (n_states,), float32)``, one-hot of ``s``;
    - ``"coords"``: ``Box(0, 1, (2,), float32)``, ``(row, col)`` scaled to ``[0, 1]``;
    - ``"rgb"``: ``Box(0, 255, (n_rows * cell_size, n_cols * cell_size, 3), uint8)``, the
      rendered grid;
    - ``"index"``: ``Discrete(n_states)``, ``s`` itself.

    ``info["state"]`` always holds ``s``, and ``info["prob"]`` the probability of the
    transition just taken.

    ## Rewards
    Every step earns ``step_cost``, plus ``goal_reward`` on entering a goal or
    ``trap_reward`` on entering a trap. Defaults: 0, +1, -1. The ``"cliff"`` map presets
    ``step_cost=-1, goal_reward=0, trap_reward=-99, trap_terminates=False`` (so -1 per step,
    -100 for a fall, as in the book); arguments given explicitly override a preset.

    ## Starting state
    The ``S`` cell.

    ## Episode end
    Terminated on entering a goal, or a trap when ``trap_terminates`` (otherwise the agent
    is sent back to the start). Truncation comes from the registered time limit
    (``max_episode_steps``: 100 for the 4x4 maps, 200 for the 8x8 and the cliff).

    ## Arguments
    - ``map_name``: ``"4x4"``, ``"8x8"`` or ``"cliff"``; the default is ``"4x4"`` when
      neither ``desc`` nor ``map_text`` is given. Give at most one of the three.
    - ``desc``: the map as a list of row strings; ``map_text``: as one multi-line string.
    - ``slip``: probability in ``[0, 1]`` of a perpendicular move instead of the intended one.
    - ``step_cost``, ``goal_reward``, ``trap_reward``, ``trap_terminates``: see Rewards.
    - ``obs_type``: ``"onehot"``, ``"coords"``, ``"rgb"`` or ``"index"``.
    - ``render_mode``: ``None``, ``"ansi"`` or ``"rgb_array"``.
    - ``cell_size``: pixels per cell for ``"rgb"`` observations and ``rgb_array`` frames.

    Example:
        >>> import gymnasium as gym, envs
        >>> env = gym.make("riley/GridWorld-v0", obs_type="index")
        >>> obs, info = env.reset(seed=0)
        >>> int(obs), info["state"]
        (0, 0)
        >>> obs, reward, terminated, truncated, info = env.step(2)
        >>> int(obs), reward, terminated
        (1, 0.0, False)

    ## Version history
    - v0: initial version.
    """

    metadata = {"render_modes": ["ansi", "rgb_array"], "render_fps": 4}

    def __init__(
        self,
        map_name: str | None = None,
        desc: Sequence[str] | None = None,
        map_text: str | None = None,
        slip: float = 0.0,
        step_cost: float | None = None,
        goal_reward: float | None = None,
        trap_reward: float | None = None,
        trap_terminates: bool | None = None,
        obs_type: str = "onehot",
        render_mode: str | None = None,
        cell_size: int = 16,
    ):
        given = [
            name
            for name, value in (("map_name", map_name), ("desc", desc), ("map_text", map_text))
            if value is not None
        ]
        if len(given) > 1:
            raise ValueError(
                "GridWorldEnv: give at most one of map_name, desc, map_text; "
                f"got {', '.join(given)}"
            )
        preset: Mapping[str, Any] = {}
        if desc is None and map_text is None:
            map_name = "4x4" if map_name is None else map_name
            if map_name not in MAPS:
                raise ValueError(
                    f"GridWorldEnv: unknown map_name {map_name!r}; "
                    f"allowed: {', '.join(map(repr, MAPS))}"
                )
            self.desc = parse_map(MAPS[map_name])
            preset = MAP_PRESETS[map_name]
        else:
            self.desc = parse_map(desc if desc is not None else map_text)
        self.map_name = map_name

        if not (isinstance(slip, (int, float)) and 0.0 <= slip <= 1.0):
            raise ValueError(f"GridWorldEnv: slip must be a probability in [0, 1], got {slip!r}")
        self.slip = float(slip)
        self.step_cost = float(preset.get("step_cost", 0.0) if step_cost is None else step_cost)
        self.goal_reward = float(
            preset.get("goal_reward", 1.0) if goal_reward is None else goal_reward
        )
        self.trap_reward = float(
            preset.get("trap_reward", -1.0) if trap_reward is None else trap_reward
        )
        self.trap_terminates = bool(
            preset.get("trap_terminates", True) if trap_terminates is None else trap_terminates
        )
        for name in ("step_cost", "goal_reward", "trap_reward"):
            if not np.isfinite(getattr(self, name)):
                raise ValueError(
                    f"GridWorldEnv: {name} must be finite, got {getattr(self, name)!r}"
                )
        if obs_type not in OBS_TYPES:
            raise ValueError(
                f"GridWorldEnv: unknown obs_type {obs_type!r}; "
                f"allowed: {', '.join(map(repr, OBS_TYPES))}"
            )
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(
                f"GridWorldEnv: unknown render_mode {render_mode!r}; "
                f"allowed: None, {', '.join(map(repr, self.metadata['render_modes']))}"
            )
        if not (isinstance(cell_size, (int, np.integer)) and cell_size >= 1):
            raise ValueError(
                f"GridWorldEnv: cell_size must be a positive integer, got {cell_size!r}"
            )
        self.obs_type = obs_type
        self.render_mode = render_mode
        self.cell_size = int(cell_size)

        self.n_rows, self.n_cols = len(self.desc), len(self.desc[0])
        self.n_states = self.n_rows * self.n_cols
        self.n_actions = 4
        self.start_state = next(
            r * self.n_cols + c
            for r, row in enumerate(self.desc)
            for c, char in enumerate(row)
            if char == "S"
        )
        self.P = self._build_transitions()
        # Cumulative probabilities per (state, action) for sampling in step().
        self._cumulative = {
            s: {a: np.cumsum([t[0] for t in self.P[s][a]]) for a in range(self.n_actions)}
            for s in range(self.n_states)
        }

        self.action_space = spaces.Discrete(self.n_actions)
        if obs_type == "onehot":
            self.observation_space = spaces.Box(0.0, 1.0, (self.n_states,), np.float32)
        elif obs_type == "coords":
            self.observation_space = spaces.Box(0.0, 1.0, (2,), np.float32)
        elif obs_type == "rgb":
            shape = (self.n_rows * self.cell_size, self.n_cols * self.cell_size, 3)
            self.observation_space = spaces.Box(0, 255, shape, np.uint8)
        else:
            self.observation_space = spaces.Discrete(self.n_states)
        self._background = self._draw_background()
        self.state: int | None = None
        self.last_action: int | None = None

    def cell(self, state: int) -> str:
        """The map character of a state index."""
        return self.desc[state // self.n_cols][state % self.n_cols]

    def is_terminal(self, state: int) -> bool:
        """Whether an episode ends on entering ``state``."""
        char = self.cell(state)
        return char == "G" or (char == "T" and self.trap_terminates)

    def _move(self, state: int, action: int) -> int:
        row, col = divmod(state, self.n_cols)
        d_row, d_col = _MOVES[action]
        new_row, new_col = row + d_row, col + d_col
        inside = 0 <= new_row < self.n_rows and 0 <= new_col < self.n_cols
        if not inside or self.desc[new_row][new_col] == "#":
            return state
        return new_row * self.n_cols + new_col

    def _outcome(self, state: int, action: int) -> tuple[int, float, bool]:
        landed = self._move(state, action)
        char = self.cell(landed)
        reward = (
            self.step_cost
            + (self.goal_reward if char == "G" else 0.0)
            + (self.trap_reward if char == "T" else 0.0)
        )
        terminated = self.is_terminal(landed)
        next_state = self.start_state if char == "T" and not terminated else landed
        return next_state, reward, terminated

    def _build_transitions(self) -> dict[int, dict[int, list[tuple[float, int, float, bool]]]]:
        table: dict[int, dict[int, list[tuple[float, int, float, bool]]]] = {}
        for state in range(self.n_states):
            table[state] = {}
            for action in range(self.n_actions):
                if self.cell(state) == "#" or self.is_terminal(state):
                    # Absorbing: never left during an episode (walls are never entered).
                    table[state][action] = [(1.0, state, 0.0, True)]
                    continue
                perpendicular = ((action + 1) % 4, (action + 3) % 4)
                moves = [
                    (1.0 - self.slip, action),
                    (self.slip / 2, perpendicular[0]),
                    (self.slip / 2, perpendicular[1]),
                ]
                merged: dict[tuple[int, float, bool], float] = {}
                for prob, move in moves:
                    if prob > 0.0:
                        key = self._outcome(state, move)
                        merged[key] = merged.get(key, 0.0) + prob
                table[state][action] = [(prob, *key) for key, prob in merged.items()]
        return table

    def reachable_states(self) -> np.ndarray:
        """Non-terminal states reachable from the start by some policy, sorted: shape ``(n,)``."""
        seen, frontier = {self.start_state}, [self.start_state]
        while frontier:
            state = frontier.pop()
            for action in range(self.n_actions):
                for _, next_state, _, terminated in self.P[state][action]:
                    if not terminated and next_state not in seen:
                        seen.add(next_state)
                        frontier.append(next_state)
        return np.array(sorted(seen), dtype=np.int64)

    def observe(self, state: int) -> np.ndarray | int:
        """The observation of a state index under this env's ``obs_type``."""
        if self.obs_type == "onehot":
            obs = np.zeros(self.n_states, dtype=np.float32)
            obs[state] = 1.0
            return obs
        if self.obs_type == "coords":
            row, col = divmod(state, self.n_cols)
            return np.array(
                [row / max(self.n_rows - 1, 1), col / max(self.n_cols - 1, 1)], dtype=np.float32
            )
        if self.obs_type == "rgb":
            return self._draw(state)
        return int(state)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        """Puts the agent on the start cell; returns ``(observation, info)``."""
        super().reset(seed=seed)
        self.state = self.start_state
        self.last_action = None
        return self.observe(self.state), {"state": self.state, "prob": 1.0}

    def step(self, action):
        """Moves the agent; returns ``(observation, reward, terminated, truncated, info)``.

        Raises:
            TypeError: if ``action`` is not of a type ``action_space.contains`` accepts
                (see ``envs.actions``: a float, a numpy bool).
            ValueError: if ``action`` is an integer outside ``[0, 3]``.
            RuntimeError: if called before :meth:`reset`.
        """
        action = check_discrete_action(
            self.action_space,
            action,
            "GridWorldEnv.step",
            labels=", 0 left, 1 down, 2 right, 3 up",
        )
        if self.state is None:
            raise RuntimeError("GridWorldEnv.step called before reset()")
        transitions = self.P[self.state][action]
        cumulative = self._cumulative[self.state][action]
        index = min(
            int(np.searchsorted(cumulative, self.np_random.random(), side="right")),
            len(transitions) - 1,
        )
        prob, next_state, reward, terminated = transitions[index]
        self.state, self.last_action = next_state, action
        return (
            self.observe(next_state),
            float(reward),
            bool(terminated),
            False,
            {"state": next_state, "prob": prob},
        )

    def render(self):
        """An ``ansi`` text grid, agent ``@``, or an ``rgb_array`` frame ``(H, W, 3)`` uint8."""
        if self.render_mode is None:
            gym.logger.warn(
                "GridWorldEnv.render called without a render_mode; "
                "pass render_mode='ansi' or 'rgb_array'."
            )
            return None
        state = self.start_state if self.state is None else self.state
        if self.render_mode == "rgb_array":
            return self._draw(state)
        rows = [list(row) for row in self.desc]
        row, col = divmod(state, self.n_cols)
        rows[row][col] = "@"
        header = f"({ACTION_NAMES[self.last_action]})\n" if self.last_action is not None else ""
        return header + "\n".join("".join(r) for r in rows) + "\n"

    def _draw_background(self) -> np.ndarray:
        k = self.cell_size
        grid = np.array(
            [[_COLOURS[char] for char in row] for row in self.desc], dtype=np.uint8
        )  # (n_rows, n_cols, 3)
        image = np.repeat(np.repeat(grid, k, axis=0), k, axis=1)  # (n_rows * k, n_cols * k, 3)
        if k >= 4:
            image[::k, :, :] = 255  # thin grid lines
            image[:, ::k, :] = 255
        return image

    def _draw(self, state: int) -> np.ndarray:
        k = self.cell_size
        image = self._background.copy()  # (n_rows * k, n_cols * k, 3)
        row, col = divmod(state, self.n_cols)
        margin = k // 4
        image[
            row * k + margin : (row + 1) * k - margin, col * k + margin : (col + 1) * k - margin
        ] = _AGENT_COLOUR
        if k < 4:  # too small for a margin: the whole cell shows the agent
            image[row * k : (row + 1) * k, col * k : (col + 1) * k] = _AGENT_COLOUR
        return image


def _table(env_or_P: gym.Env | TransitionTable) -> TransitionTable:
    if isinstance(env_or_P, gym.Env):
        table = getattr(env_or_P.unwrapped, "P", None)
        if table is None:
            raise TypeError(
                f"q_star: environment {env_or_P.unwrapped!r} exposes no transition table P"
            )
        return table
    if isinstance(env_or_P, Mapping):
        return env_or_P
    raise TypeError(
        f"q_star: expected an env with a P attribute or a P table, got {type(env_or_P).__name__}"
    )


def q_star(
    env_or_P: gym.Env | TransitionTable,
    gamma: float = 0.99,
    tol: float = 1e-10,
    max_iterations: int = 1_000_000,
) -> np.ndarray:
    """Optimal action values by value iteration over an exact transition table.

    ``Q*(s, a) = sum_j p_j * (r_j + gamma * (1 - terminated_j) * max_a' Q*(s'_j, a'))``: a
    transition that terminates does not bootstrap.

    Args:
        env_or_P: an env exposing ``P`` (possibly wrapped) or the table itself,
            ``P[s][a] = [(prob, next_state, reward, terminated), ...]`` with states ``0..n-1``.
        gamma: discount in ``[0, 1]``; with ``gamma = 1`` every policy that value iteration
            prefers must reach a terminal state, or it will not converge.
        tol: stop when no value changes by more than ``tol`` in a sweep.
        max_iterations: sweeps before giving up.

    Returns:
        ``(n_states, n_actions)`` float64 array of Q*.

    Raises:
        ValueError: on a bad ``gamma`` or ``tol``, a malformed table, or no convergence.
    """
    if not 0.0 <= gamma <= 1.0:
        raise ValueError(f"q_star: gamma must be in [0, 1], got {gamma!r}")
    if not tol > 0.0:
        raise ValueError(f"q_star: tol must be positive, got {tol!r}")
    table = _table(env_or_P)
    n_states = len(table)
    n_actions = len(table[0])
    expected_reward = np.zeros((n_states, n_actions))  # (S, A)
    continuation = np.zeros((n_states, n_actions, n_states))  # (S, A, S): prob of going on to s'
    for state in range(n_states):
        if len(table[state]) != n_actions:
            raise ValueError(
                f"q_star: state {state} has {len(table[state])} actions, state 0 has {n_actions}"
            )
        for action in range(n_actions):
            total = 0.0
            for prob, next_state, reward, terminated in table[state][action]:
                if not 0 <= next_state < n_states:
                    raise ValueError(
                        f"q_star: P[{state}][{action}] leads to state {next_state}, "
                        f"outside [0, {n_states})"
                    )
                expected_reward[state, action] += prob * reward
                if not terminated:
                    continuation[state, action, next_state] += prob
                total += prob
            if abs(total - 1.0) > 1e-9:
                raise ValueError(
                    f"q_star: probabilities of P[{state}][{action}] sum to {total}, not 1"
                )
    q = np.zeros((n_states, n_actions))  # (S, A)
    for _ in range(max_iterations):
        new_q = expected_reward + gamma * continuation @ q.max(axis=1)  # (S, A)
        delta = np.max(np.abs(new_q - q))
        q = new_q
        if delta < tol:
            return q
    raise ValueError(
        f"q_star: value iteration did not converge to tol={tol} in {max_iterations} sweeps "
        f"(gamma={gamma})"
    )


def v_star(
    env_or_P: gym.Env | TransitionTable, gamma: float = 0.99, tol: float = 1e-10
) -> np.ndarray:
    """Optimal state values ``max_a Q*(s, a)``: shape ``(n_states,)``.

    Arguments as :func:`q_star`.
    """
    return q_star(env_or_P, gamma=gamma, tol=tol).max(axis=1)


def greedy_policy_is_optimal(
    q: np.ndarray, q_star_table: np.ndarray, states: Sequence[int], atol: float = 1e-6
) -> bool:
    """Whether acting greedily on ``q`` picks an optimal action in every one of ``states``.

    Ties in Q* are allowed: a greedy action counts as optimal when its Q* is within ``atol``
    of the best.

    Args:
        q: estimated action values, ``(n_states, n_actions)``.
        q_star_table: exact Q*, ``(n_states, n_actions)``.
        states: the states to check (e.g. ``env.unwrapped.reachable_states()``).
        atol: tolerance on Q*.

    Raises:
        ValueError: if the two tables differ in shape.
    """
    q, q_star_table = np.asarray(q), np.asarray(q_star_table)
    if q.shape != q_star_table.shape:
        raise ValueError(
            f"greedy_policy_is_optimal: q has shape {q.shape}, q_star_table {q_star_table.shape}"
        )
    states = np.asarray(states, dtype=np.int64)
    greedy = q[states].argmax(axis=1)  # (n,)
    chosen = q_star_table[states, greedy]  # (n,)
    return bool(np.all(chosen >= q_star_table[states].max(axis=1) - atol))
