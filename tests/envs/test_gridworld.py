"""GridWorld: map parsing, dynamics against P, and Q* against values worked out by hand."""

from collections import deque

import gymnasium as gym
import numpy as np
import pytest

from riley_gym import envs  # noqa: F401  (registers riley/ envs)
from riley_gym.envs.gridworld import (
    DOWN,
    LEFT,
    RIGHT,
    UP,
    GridWorldEnv,
    greedy_policy_is_optimal,
    parse_map,
    q_star,
    v_star,
)


def test_corridor_q_star_by_hand():
    # 'S.G', gamma 0.9, no slip, no step cost. Up/down bump the grid edge and stay.
    # V(1) = 1 (step right into G), V(0) = 0.9 * V(1) = 0.9.
    env = GridWorldEnv(desc=["S.G"])
    q = q_star(env, gamma=0.9)
    expected = np.array(
        [
            # left         down          right        up
            [
                0.9 * 0.9,
                0.9 * 0.9,
                0.9 * 1.0,
                0.9 * 0.9,
            ],  # state 0: every move but right stays at 0
            [0.9 * 0.9, 0.9 * 1.0, 1.0, 0.9 * 1.0],  # state 1: left goes to 0, up/down stay at 1
            [0.0, 0.0, 0.0, 0.0],  # state 2: the goal is terminal
        ]
    )
    np.testing.assert_allclose(q, expected, atol=1e-9)
    np.testing.assert_allclose(v_star(env, gamma=0.9), [0.9, 1.0, 0.0], atol=1e-9)


def test_corridor_q_star_with_step_cost_by_hand():
    # 'S.G' with step_cost -0.1: V(1) = -0.1 + 1 = 0.9; V(0) = -0.1 + 0.9 * 0.9 = 0.71.
    env = GridWorldEnv(desc=["S.G"], step_cost=-0.1)
    q = q_star(env, gamma=0.9)
    np.testing.assert_allclose(q[1, RIGHT], 0.9, atol=1e-9)
    np.testing.assert_allclose(q[0, RIGHT], 0.71, atol=1e-9)
    np.testing.assert_allclose(q[1, LEFT], -0.1 + 0.9 * 0.71, atol=1e-9)
    np.testing.assert_allclose(q[0, UP], -0.1 + 0.9 * 0.71, atol=1e-9)


def test_slippery_two_cell_q_star_by_hand():
    # 'SG', slip 0.2, gamma 0.9. From S:
    #   right: 0.8 -> G (+1); 0.1 up, 0.1 down bump and stay      => Q = 0.8 + 0.18 V
    #   left:  all three outcomes stay                              => Q = 0.9 V
    #   up/down: 0.8 bump, 0.1 left bump, 0.1 right -> G            => Q = 0.1 + 0.81 V
    # V = max = 0.8 + 0.18 V  =>  V = 0.8 / 0.82.
    env = GridWorldEnv(desc=["SG"], slip=0.2)
    value = 0.8 / 0.82
    q = q_star(env, gamma=0.9)
    np.testing.assert_allclose(
        q[0], [0.9 * value, 0.1 + 0.81 * value, 0.8 + 0.18 * value, 0.1 + 0.81 * value], atol=1e-9
    )
    # The table merges the three ways of staying put into one entry of probability 0.2.
    outcomes = {
        (next_state, reward, terminated): prob
        for prob, next_state, reward, terminated in env.P[0][RIGHT]
    }
    assert outcomes == {(1, 1.0, True): pytest.approx(0.8), (0, 0.0, False): pytest.approx(0.2)}


def test_trap_that_returns_to_start_by_hand():
    # 'ST.G' style cliff in one row is impassable; use a 2x2: start bottom-left, trap
    # bottom-right returns to start, goal top-right. step_cost -1, trap -10, goal 0, gamma 1.
    env = GridWorldEnv(
        desc=[".G", "ST"], step_cost=-1.0, trap_reward=-10.0, goal_reward=0.0, trap_terminates=False
    )
    q = q_star(env, gamma=1.0)
    # From S (state 2): up to (0,0) then right to G costs 2; right into the trap costs 11
    # and returns to S, then 2 more: 13.
    np.testing.assert_allclose(q[2, UP], -2.0, atol=1e-8)
    np.testing.assert_allclose(q[2, RIGHT], -13.0, atol=1e-8)
    np.testing.assert_allclose(q[0, RIGHT], -1.0, atol=1e-8)
    np.testing.assert_allclose(q[0, DOWN], -3.0, atol=1e-8)  # down to S, then 2
    env.reset(seed=0)
    _, reward, terminated, _, info = env.step(RIGHT)
    assert (reward, terminated, info["state"]) == (-11.0, False, 2)


def _bfs_length(desc):
    """Shortest number of moves from S to a G avoiding walls and traps (an independent oracle)."""
    rows = len(desc)
    cols = len(desc[0])
    start = next((r, c) for r in range(rows) for c in range(cols) if desc[r][c] == "S")
    distance = {start: 0}
    queue = deque([start])
    while queue:
        r, c = queue.popleft()
        if desc[r][c] == "G":
            return distance[(r, c)]
        for dr, dc in ((0, -1), (1, 0), (0, 1), (-1, 0)):
            nr, nc = r + dr, c + dc
            if (
                0 <= nr < rows
                and 0 <= nc < cols
                and desc[nr][nc] not in "#T"
                and (nr, nc) not in distance
            ):
                distance[(nr, nc)] = distance[(r, c)] + 1
                queue.append((nr, nc))
    raise AssertionError("no path")


@pytest.mark.parametrize("map_name", ["4x4", "8x8", "cliff"])
def test_greedy_q_star_walks_the_shortest_path(map_name):
    env = GridWorldEnv(map_name=map_name)
    gamma = 0.99
    q = q_star(env, gamma=gamma)
    length = _bfs_length(env.desc)
    env.reset(seed=0)
    state, rewards, terminated = env.start_state, [], False
    for _ in range(length):
        _, reward, terminated, _, info = env.step(int(q[state].argmax()))
        state = info["state"]
        rewards.append(reward)
    assert terminated and env.cell(state) == "G"
    discounted = sum(gamma**t * r for t, r in enumerate(rewards))
    np.testing.assert_allclose(q[env.start_state].max(), discounted, atol=1e-8)


def test_8x8_optimal_path_is_not_the_manhattan_distance():
    env = GridWorldEnv(map_name="8x8")
    assert _bfs_length(env.desc) > (env.n_rows - 1) + (env.n_cols - 1)


def test_slippery_greedy_policy_success_rate_matches_exact_absorption():
    # Seeded Monte Carlo against an exact oracle: the probability that the greedy Q* policy
    # reaches G before a trap solves p = P_pi p (p = 1 at G, 0 at traps), a linear system
    # built here from the map by hand-written moves, not from env.P.
    env = GridWorldEnv(map_name="4x4", slip=0.2)
    q = q_star(env, gamma=0.95)
    policy = q.argmax(axis=1)
    n, cols = env.n_states, env.n_cols
    moves = {LEFT: (0, -1), DOWN: (1, 0), RIGHT: (0, 1), UP: (-1, 0)}
    system, target = np.eye(n), np.zeros(n)
    for state in range(n):
        char = env.desc[state // cols][state % cols]
        if char == "G":
            target[state] = 1.0
        if char in "GT#":
            continue
        action = policy[state]
        for move, prob in ((action, 0.8), ((action + 1) % 4, 0.1), ((action + 3) % 4, 0.1)):
            r, c = state // cols + moves[move][0], state % cols + moves[move][1]
            inside = 0 <= r < env.n_rows and 0 <= c < cols and env.desc[r][c] != "#"
            system[state, r * cols + c if inside else state] -= prob
    p_success = np.linalg.solve(system, target)[env.start_state]
    env.reset(seed=123)
    successes, n_episodes = 0, 1000
    for _ in range(n_episodes):
        env.reset()
        state, terminated = env.start_state, False
        while not terminated:
            _, reward, terminated, _, info = env.step(int(policy[state]))
            state = info["state"]
        successes += reward == 1.0
    standard_error = np.sqrt(p_success * (1 - p_success) / n_episodes)
    assert 0.5 < p_success < 1.0
    assert abs(successes / n_episodes - p_success) < 4 * standard_error


def test_step_frequencies_match_P():
    env = GridWorldEnv(map_name="4x4", slip=0.3)
    env.reset(seed=7)
    counts: dict[int, int] = {}
    n = 4000
    for _ in range(n):
        env.state = 4  # (row 1, col 0), next to the wall at (1, 1)
        _, _, _, _, info = env.step(RIGHT)
        counts[info["state"]] = counts.get(info["state"], 0) + 1
    expected = {next_state: prob for prob, next_state, _, _ in env.P[4][RIGHT]}
    # right bumps the wall (stays at 4) w.p. 0.7; up to 0 and down to 8 w.p. 0.15 each.
    assert expected == {4: pytest.approx(0.7), 0: pytest.approx(0.15), 8: pytest.approx(0.15)}
    for state, prob in expected.items():
        assert abs(counts.get(state, 0) / n - prob) < 4 * np.sqrt(prob * (1 - prob) / n)


@pytest.mark.parametrize(
    "desc, message",
    [
        (["S.", ".G."], "row 1"),
        (["S.x", "..G"], "'x' at row 0, col 2"),
        (["...", "..G"], "exactly one start"),
        (["S.S", "..G"], "found 2"),
        (["S..", "..."], "at least one goal"),
        ([], "empty"),
    ],
)
def test_bad_maps_are_rejected_with_location(desc, message):
    with pytest.raises(ValueError, match=message):
        GridWorldEnv(desc=desc)


def test_map_text_equals_desc():
    text = """
        S.#
        .TG
    """
    assert parse_map(text) == ("S.#", ".TG")
    assert GridWorldEnv(map_text=text).P == GridWorldEnv(desc=["S.#", ".TG"]).P


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"slip": 1.5}, "slip"),
        ({"obs_type": "pixels"}, "obs_type"),
        ({"render_mode": "human"}, "render_mode"),
        ({"map_name": "9x9"}, "map_name"),
        ({"map_name": "4x4", "desc": ["SG"]}, "at most one"),
        ({"cell_size": 0}, "cell_size"),
    ],
)
def test_bad_arguments_are_rejected(kwargs, message):
    with pytest.raises(ValueError, match=message):
        GridWorldEnv(**kwargs)


def test_walls_block_and_are_never_entered():
    env = GridWorldEnv(desc=["S#G"], obs_type="index")
    env.reset(seed=0)
    obs, reward, terminated, _, _ = env.step(RIGHT)
    assert (obs, reward, terminated) == (0, 0.0, False)
    assert 1 not in env.reachable_states()


@pytest.mark.parametrize(
    "obs_type, expected_first",
    [
        ("index", 1),
        ("coords", np.array([0.0, 1 / 3], np.float32)),
        ("onehot", np.eye(16, dtype=np.float32)[1]),
    ],
)
def test_observation_types(obs_type, expected_first):
    env = GridWorldEnv(map_name="4x4", obs_type=obs_type)
    env.reset(seed=0)
    obs, *_ = env.step(RIGHT)
    assert env.observation_space.contains(obs)
    np.testing.assert_array_equal(obs, expected_first)


def test_rgb_observation_marks_the_agent_cell():
    env = GridWorldEnv(map_name="4x4", obs_type="rgb", cell_size=8)
    first, _ = env.reset(seed=0)
    second, *_ = env.step(RIGHT)
    assert first.shape == (32, 32, 3) and first.dtype == np.uint8
    changed = np.argwhere(np.any(first != second, axis=2))  # (n, 2) pixel positions
    # Only the start cell (col 0) and the next cell (col 1) of row 0 change.
    assert changed[:, 0].max() < 8 and set(np.unique(changed[:, 1] // 8)) == {0, 1}


def test_ansi_render_shows_the_agent():
    env = gym.make("riley/GridWorld-v0", render_mode="ansi")
    env.reset(seed=0)
    env.step(DOWN)
    assert env.render() == "(down)\nS...\n@#.T\n...#\nT..G\n"


def test_rgb_array_render_matches_rgb_observation():
    env = GridWorldEnv(map_name="cliff", obs_type="rgb", render_mode="rgb_array")
    obs, _ = env.reset(seed=0)
    np.testing.assert_array_equal(env.render(), obs)


def test_invalid_action_names_action_and_range():
    env = GridWorldEnv()
    env.reset(seed=0)
    with pytest.raises(ValueError, match=r"invalid action 4.*\[0, 3\]"):
        env.step(4)


def test_greedy_policy_is_optimal_helper():
    env = GridWorldEnv(desc=["S.G"])
    exact = q_star(env, gamma=0.9)
    states = env.reachable_states()
    np.testing.assert_array_equal(states, [0, 1])
    assert greedy_policy_is_optimal(exact + 0.01, exact, states)
    wrong = exact.copy()
    wrong[1, LEFT] = 5.0
    assert not greedy_policy_is_optimal(wrong, exact, states)


def test_q_star_rejects_a_table_that_does_not_sum_to_one():
    table = {0: {0: [(0.5, 0, 0.0, True)]}}
    with pytest.raises(ValueError, match=r"P\[0\]\[0\] sum to 0.5"):
        q_star(table)


def test_registered_cliff_uses_the_book_rewards():
    env = gym.make("riley/CliffWalk-v0", obs_type="index")
    env.reset(seed=0)
    _, reward, terminated, _, info = env.step(RIGHT)  # straight into the cliff
    assert (reward, terminated, info["state"]) == (-100.0, False, 36)
    # The optimal return from the start is -13 with gamma 1 (13 steps along the cliff edge).
    np.testing.assert_allclose(v_star(env, gamma=1.0)[36], -13.0, atol=1e-8)


def test_docstring_examples():
    import doctest

    import riley_gym.envs.gridworld

    results = doctest.testmod(riley_gym.envs.gridworld)
    assert results.attempted > 0 and results.failed == 0
