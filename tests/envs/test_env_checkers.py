"""The contract every env registered under ``riley/`` keeps (issue 2).

Parametrized over Gymnasium's registry, so an env registered later is checked without
editing this file: both env checkers pass, a seed fixes the trajectory, an
out-of-range action raises a ValueError that names the action, and every env accepts
exactly the actions its ``action_space.contains`` accepts (issue 18).
"""

import warnings

import gymnasium as gym
import pytest
from gymnasium.utils.env_checker import check_env as gymnasium_check_env
from stable_baselines3.common.env_checker import check_env as sb3_check_env

from riley_gym import envs  # noqa: F401  (registers the riley/ envs)
from tests.helpers.actions import single_actions, vector_actions

RILEY_IDS = sorted(env_id for env_id in gym.registry if env_id.startswith("riley/"))
# Every registered env, plus the GridWorld observation types and render modes the registrations
# leave at their defaults.
CASES = (
    [(env_id, {}) for env_id in RILEY_IDS]
    + [("riley/GridWorld-v0", {"obs_type": obs_type}) for obs_type in ("coords", "rgb", "index")]
    + [("riley/GridWorld-v0", {"render_mode": mode}) for mode in ("ansi", "rgb_array")]
)
CASE_IDS = [
    env_id + "".join(f"[{key}={value}]" for key, value in kwargs.items())
    for env_id, kwargs in CASES
]


def _make(env_id, kwargs=None):
    """``gym.make(env_id, **kwargs)``, skipping an env whose module is not written yet."""
    module = str(gym.spec(env_id).entry_point).split(":")[0]
    try:
        return gym.make(env_id, **(kwargs or {}))
    except ModuleNotFoundError as error:
        if error.name != module:
            raise
        pytest.skip(f"{env_id} is registered but its module {module} does not exist yet (issue 2)")


def test_registry_has_riley_envs():
    assert {
        "riley/GridWorld-v0",
        "riley/GridWorld4x4-v0",
        "riley/GridWorld8x8-v0",
        "riley/CliffWalk-v0",
    } <= set(RILEY_IDS)


@pytest.mark.parametrize("env_id, kwargs", CASES, ids=CASE_IDS)
def test_gymnasium_env_checker(env_id, kwargs):
    env = _make(env_id, kwargs)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a checker warning is a failure here
        gymnasium_check_env(env.unwrapped, skip_render_check=False)


@pytest.mark.parametrize("env_id, kwargs", CASES, ids=CASE_IDS)
def test_stable_baselines3_env_checker(env_id, kwargs):
    env = _make(env_id, kwargs)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sb3_check_env(env, warn=True, skip_render_check=True)


def _trajectory(env_id, seed, n_steps=60):
    env = _make(env_id, {})
    env.action_space.seed(seed)
    obs, _ = env.reset(seed=seed)
    steps = [obs]
    for _ in range(n_steps):
        obs, reward, terminated, truncated, _ = env.step(env.action_space.sample())
        steps.append((obs, reward, terminated, truncated))
        if terminated or truncated:
            obs, _ = env.reset()
            steps.append(obs)
    return steps


@pytest.mark.parametrize("env_id", RILEY_IDS, ids=RILEY_IDS)
def test_same_seed_same_trajectory(env_id):
    first, second = _trajectory(env_id, seed=11), _trajectory(env_id, seed=11)
    assert gym.utils.env_checker.data_equivalence(first, second)


@pytest.mark.parametrize("env_id", RILEY_IDS, ids=RILEY_IDS)
def test_out_of_range_action_raises_value_error(env_id):
    env = _make(env_id).unwrapped
    env.reset(seed=0)
    space = env.action_space
    assert isinstance(space, gym.spaces.Discrete), (
        f"{env_id}: the contract test covers Discrete actions only"
    )
    bad = int(space.start + space.n)
    with pytest.raises(ValueError, match=str(bad)):
        env.step(bad)
    with pytest.raises(ValueError, match=str(int(space.start) - 1)):
        env.step(int(space.start) - 1)


@pytest.mark.parametrize("env_id", RILEY_IDS, ids=RILEY_IDS)
@pytest.mark.parametrize("wrapped", [False, True], ids=["unwrapped", "gym.make"])
def test_accepts_exactly_what_action_space_contains_accepts(env_id, wrapped):
    """Issue 18: the same action gets the same answer from every env, Gymnasium's."""
    made = _make(env_id)
    env = made if wrapped else made.unwrapped
    for label, action, expected in single_actions(env.action_space):
        assert env.action_space.contains(action) == (expected is None), label
        env.reset(seed=0)
        if expected is None:
            env.step(action)
            continue
        with pytest.raises(expected, match=r"invalid action .*allowed .* are \d+\.\.\d+"):
            env.step(action)


@pytest.mark.parametrize("env_id", RILEY_IDS, ids=RILEY_IDS)
def test_true_is_action_one(env_id):
    """``True`` is accepted because it is the int 1 (Discrete.contains); it acts as 1."""

    def trajectory(action):
        env = _make(env_id)
        env.reset(seed=3)
        return [env.step(action)[:4] for _ in range(5)]

    assert gym.utils.env_checker.data_equivalence(trajectory(True), trajectory(1))


VECTOR_IDS = [e for e in RILEY_IDS if gym.spec(e).vector_entry_point is not None]


@pytest.mark.parametrize("env_id", VECTOR_IDS, ids=VECTOR_IDS)
def test_vector_env_accepts_exactly_what_action_space_contains_accepts(env_id):
    vector = gym.make_vec(env_id, num_envs=3, vectorization_mode="vector_entry_point")
    vector.reset(seed=0)
    for label, actions, expected in vector_actions(vector.action_space):
        assert vector.action_space.contains(actions) == (expected is None), label
        if expected is None:
            vector.step(actions)
            continue
        with pytest.raises(expected, match=r"actions"):
            vector.step(actions)
