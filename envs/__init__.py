"""Gymnasium environments of riley-gym, registered under the ``riley/`` namespace.

Importing this package registers the environments (Gymnasium's convention); the modules
themselves are loaded only when an environment is made.
"""

from gymnasium.envs.registration import register, registry

from riley_gym.envs.atari import AtariConfig, make_atari, make_atari_vector
from riley_gym.envs.gridworld import GridWorldEnv, greedy_policy_is_optimal, q_star, v_star


def _register(env_id: str, entry_point: str, **kwargs) -> None:
    if env_id not in registry:
        register(id=env_id, entry_point=entry_point, **kwargs)


# GridWorld maps (envs/gridworld.py).
_register("riley/GridWorld-v0", "riley_gym.envs.gridworld:GridWorldEnv", max_episode_steps=100, kwargs={"map_name": "4x4"})
_register("riley/GridWorld4x4-v0", "riley_gym.envs.gridworld:GridWorldEnv", max_episode_steps=100, kwargs={"map_name": "4x4"})
_register("riley/GridWorld8x8-v0", "riley_gym.envs.gridworld:GridWorldEnv", max_episode_steps=200, kwargs={"map_name": "8x8"})
_register("riley/CliffWalk-v0", "riley_gym.envs.gridworld:GridWorldEnv", max_episode_steps=200, kwargs={"map_name": "cliff"})

# The simulated student Riley (envs/student.py; native vector env in envs/student_vector.py).
_register(
    "riley/Student-v0",
    "riley_gym.envs.student:StudentEnv",
    vector_entry_point="riley_gym.envs.student_vector:StudentVectorEnv",
    kwargs={"curriculum": "riley", "dynamics": "bkt"},
)
_register(
    "riley/StudentIRT-v0",
    "riley_gym.envs.student:StudentEnv",
    vector_entry_point="riley_gym.envs.student_vector:StudentVectorEnv",
    kwargs={"curriculum": "riley", "dynamics": "irt"},
)


def __getattr__(name: str):
    # Lazy exports of the student simulator, so importing envs stays cheap (PEP 562).
    lazy = {
        "Curriculum": "riley_gym.envs.curriculum",
        "load_curriculum": "riley_gym.envs.curriculum",
        "StudentEnv": "riley_gym.envs.student",
        "StudentVectorEnv": "riley_gym.envs.student_vector",
        "simulate_logs": "riley_gym.envs.simulate",
    }
    if name in lazy:
        import importlib

        return getattr(importlib.import_module(lazy[name]), name)
    raise AttributeError(f"module 'envs' has no attribute {name!r}")
