"""DQN agents that estimate E[R | A, S] on Gymnasium environments with discrete actions.

``DQN`` and ``DQNConfig`` (dqn.py), replay buffers (replay.py), schedules, evaluation and the
vector envs DQN collects from. Uses ``nets`` for its networks; knows nothing of students.
"""

from riley_gym.agents.dqn import DQN, DQNConfig, td_target
from riley_gym.agents.evaluate import evaluate_agent, paired_difference, record_episode
from riley_gym.agents.networks import ObservationAdapter, QNetwork
from riley_gym.agents.replay import Batch, FrameReplayBuffer, ReplayBuffer, n_step_window
from riley_gym.agents.schedules import LinearSchedule
from riley_gym.agents.vector import SeededEpisodes, make_eval_env, make_vector_env

__all__ = [
    "DQN",
    "DQNConfig",
    "td_target",
    "evaluate_agent",
    "paired_difference",
    "record_episode",
    "ObservationAdapter",
    "QNetwork",
    "Batch",
    "FrameReplayBuffer",
    "ReplayBuffer",
    "n_step_window",
    "LinearSchedule",
    "SeededEpisodes",
    "make_eval_env",
    "make_vector_env",
]
