"""Gymnasium environments of riley-gym, registered under the ``riley/`` namespace.

Importing this package registers the environments (Gymnasium's convention). Its modules
need only numpy and Gymnasium; the Atari factories import ale-py when an Atari game is made.
"""

from gymnasium.envs.registration import register, registry

from riley_gym.envs.atari import AtariConfig, make_atari, make_atari_vector
from riley_gym.envs.curriculum import Curriculum, load_curriculum
from riley_gym.envs.gridworld import GridWorldEnv, greedy_policy_is_optimal, q_star, v_star
from riley_gym.envs.simulate import simulate_logs
from riley_gym.envs.student import StudentEnv
from riley_gym.envs.student_vector import StudentVectorEnv

__all__ = [
    "AtariConfig",
    "make_atari",
    "make_atari_vector",
    "Curriculum",
    "load_curriculum",
    "GridWorldEnv",
    "greedy_policy_is_optimal",
    "q_star",
    "v_star",
    "simulate_logs",
    "StudentEnv",
    "StudentVectorEnv",
]


def _register(env_id: str, entry_point: str, **kwargs) -> None:
    if env_id not in registry:
        register(id=env_id, entry_point=entry_point, **kwargs)


GRIDWORLD = "riley_gym.envs.gridworld:GridWorldEnv"
_register("riley/GridWorld-v0", GRIDWORLD, max_episode_steps=100, kwargs={"map_name": "4x4"})
_register("riley/GridWorld4x4-v0", GRIDWORLD, max_episode_steps=100, kwargs={"map_name": "4x4"})
_register("riley/GridWorld8x8-v0", GRIDWORLD, max_episode_steps=200, kwargs={"map_name": "8x8"})
_register("riley/CliffWalk-v0", GRIDWORLD, max_episode_steps=200, kwargs={"map_name": "cliff"})

# The simulated student Riley (envs/student.py; native vector env in envs/student_vector.py).
for _env_id, _dynamics in (("riley/Student-v0", "bkt"), ("riley/StudentIRT-v0", "irt")):
    _register(
        _env_id,
        "riley_gym.envs.student:StudentEnv",
        vector_entry_point="riley_gym.envs.student_vector:StudentVectorEnv",
        kwargs={"curriculum": "riley", "dynamics": _dynamics},
    )
