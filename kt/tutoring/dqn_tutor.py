"""A DQN tutor whose state is the DKT's knowledge estimate
(the DKT paper's idea, learned by Q-learning).

``KnowledgeVectorEnv`` wraps ``envs.student_vector.StudentVectorEnv``: after each answer it steps
a belief (normally ``kt.tutoring.recommend.DKTBelief``) with (exercise, correct), and the agent
observes the belief's predicted p(correct) on every exercise plus the fraction of the session done
(the horizon is finite, so the best action depends on the time left). Training happens in
simulation and its reward comes from the simulator: by default the EXPECTED change of the
student's true post-test from the chosen exercise (``StudentDynamics.expected_gains`` of the hidden
state; ``reward="expected"``), which has the same sum in expectation as the realised change
(``reward="realized"``) but a fraction of its variance: under bkt dynamics the realised change is 0
or a whole skill's worth, and with it the same budget taught 0.823 instead of 0.856 on Riley's
curriculum (see the README). The policy itself only ever reads the belief, never the hidden state,
and can run on a real student. ``agents.DQN`` learns E[R | A, S] over exercises on it.

``DQNTutor`` is the resulting recommender (same batched session interface as
``kt.tutoring.recommend``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.vector import AutoresetMode, VectorEnv

from riley_gym import nets
from riley_gym.agents import DQN, DQNConfig
from riley_gym.envs.student_vector import StudentVectorEnv
from riley_gym.kt.tutoring.recommend import Belief, Recommender, _BeliefSession


def knowledge_observation(
    p_correct: np.ndarray, steps_done: np.ndarray, session_length: int
) -> np.ndarray:
    """(n, n_exercises + 1) float32: the belief's p(correct) per exercise and the
    fraction of the session done."""
    fraction = (np.asarray(steps_done, dtype=np.float64) / session_length)[:, None]  # (n, 1)
    return np.concatenate([p_correct, fraction], axis=1).astype(np.float32)


REWARDS = ("expected", "realized")


class KnowledgeVectorEnv(VectorEnv):
    """Student sessions observed through a knowledge model
    (SAME_STEP autoreset, like the inner env).

    Args:
        inner: a ``StudentVectorEnv`` with Dict observations (``flatten_observation=False``).
        belief: the knowledge model over the inner env's exercises.

        reward: "expected" (the expected true post-test change of the chosen exercise, from the
            inner env's hidden state) or "realized" (the inner env's reward: the change that
            happened).

    Observation: ``Box(0, 1, (n_exercises + 1,))``: predicted p(correct) per exercise, then the
    fraction of the session done. Action: the next exercise. Episode end: the inner env's.
    """

    metadata = {"autoreset_mode": AutoresetMode.SAME_STEP, "render_modes": []}

    def __init__(self, inner: VectorEnv, belief: Belief, reward: str = "expected") -> None:
        if reward not in REWARDS:
            raise ValueError(f"KnowledgeVectorEnv: reward must be one of {REWARDS}, got {reward!r}")
        self.reward = reward
        if inner.metadata.get("autoreset_mode") != AutoresetMode.SAME_STEP:
            raise ValueError(
                "KnowledgeVectorEnv needs an inner vector env with SAME_STEP autoreset "
                "(StudentVectorEnv)"
            )
        self.inner, self.belief = inner, belief
        self.num_envs = inner.num_envs
        self.session_length = int(inner.episode_length)
        self.n_exercises = int(belief.n_exercises)
        self.single_action_space = inner.single_action_space
        self.action_space = inner.action_space
        self.single_observation_space = spaces.Box(
            0.0, 1.0, (self.n_exercises + 1,), dtype=np.float32
        )
        self.observation_space = gym.vector.utils.batch_space(
            self.single_observation_space, self.num_envs
        )
        self.state = None
        self.steps_done = np.zeros(self.num_envs, dtype=np.int64)

    def _observe(self) -> np.ndarray:
        return knowledge_observation(
            self.belief.p_correct(self.state), self.steps_done, self.session_length
        )

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        _, info = self.inner.reset(seed=seed, options=options)
        self.state = self.belief.init(self.num_envs)
        self.steps_done[:] = 0
        return self._observe(), info

    def step(self, actions):
        actions = np.asarray(actions, dtype=np.int64)
        if self.reward == "expected":  # read before the step changes the hidden state
            gains = self.inner.dynamics.expected_gains(self.inner.batch.state)  # (n, E)
            expected = gains[np.arange(self.num_envs), actions]
        _, reward, terminated, truncated, info = self.inner.step(actions)
        if self.reward == "expected":
            reward = expected
        self.state = self.belief.update(self.state, actions, info["correct"])
        self.steps_done += 1
        ended = terminated | truncated
        if ended.any():
            final = self._observe()
            info = dict(info)
            info["final_obs"] = np.array(
                [final[i] if ended[i] else None for i in range(self.num_envs)], dtype=object
            )
            info["_final_obs"] = ended.copy()
            self.state = self.belief.merge(self.state, self.belief.init(self.num_envs), ended)
            self.steps_done[ended] = 0
        return self._observe(), reward, terminated, truncated, info


@dataclass(frozen=True)
class DQNTutorConfig(nets.Settings):
    """Training budget and settings of the DQN tutor.

    The defaults were chosen on Riley's curriculum and the chain curriculum (both dynamics) with
    the expected-gain reward: one gradient step of 2 updates per vector step and a learning rate
    decaying linearly to 0 reached the mastery rule on bkt dynamics at 500k steps (0.865 vs 0.865;
    every second vector step without decay: 0.856), and 0.794 against the best heuristic's 0.758
    on irt dynamics (README, "Why model-based tutoring fails and what fixes it").
    """

    total_steps: int = field(
        default=500_000,
        metadata={"help": "student-steps of DQN training (summed over parallel students)"},
    )
    num_envs: int = field(
        default=16, metadata={"help": "students simulated in parallel during training"}
    )
    seed: int = field(default=0, metadata={"help": "seed of the agent and the training students"})
    hidden_sizes: tuple[int, ...] = field(
        default=(128, 128), metadata={"help": "Q-network MLP widths"}
    )
    learning_rate: float = field(
        default=5e-4, metadata={"help": "Adam learning rate at the start (decays linearly to 0)"}
    )
    train_freq: int = field(default=1, metadata={"help": "vector steps between gradient steps"})
    gradient_steps: int = field(default=2, metadata={"help": "updates per gradient step"})
    epsilon_decay_fraction: float = field(
        default=0.5,
        metadata={"help": "fraction of total_steps over which epsilon decays to its end value"},
    )
    n_step: int = field(default=3, metadata={"help": "rewards summed per target"})
    gamma: float = field(default=0.99, metadata={"help": "discount factor"})
    reward: str = field(
        default="expected",
        metadata={
            "help": "expected (post-test gain in expectation) or realized",
            "choices": ("expected", "realized"),
        },
    )

    def __post_init__(self) -> None:
        object.__setattr__(self, "hidden_sizes", tuple(self.hidden_sizes))
        self.check_at_least(
            ["total_steps", "num_envs", "train_freq", "gradient_steps", "n_step"], 1
        )
        self.check_at_least(["seed"], 0)
        self.check_interval(["epsilon_decay_fraction", "gamma"], 0.0, 1.0, low_open=True)
        self.check_above(["learning_rate"], 0.0)
        self.check_choice("reward", REWARDS)

    def dqn_config(self) -> DQNConfig:
        """The ``agents.DQNConfig`` (the student preset with this budget)."""
        return DQNConfig.student(
            seed=self.seed,
            num_envs=self.num_envs,
            learning_rate=self.learning_rate,
            learning_rate_end=0.0,
            learning_rate_decay_steps=self.total_steps,
            hidden_sizes=tuple(self.hidden_sizes),
            train_freq=self.train_freq,
            gradient_steps=self.gradient_steps,
            n_step=self.n_step,
            gamma=self.gamma,
            device="cpu",
            learning_starts=min(1000, self.total_steps // 4),
            buffer_size=max(self.total_steps, 1000),
            epsilon_decay_steps=max(1, int(self.total_steps * self.epsilon_decay_fraction)),
            target_update_interval=min(1000, max(self.total_steps // 20, 1)),
            batch_size=min(128, max(self.total_steps // 8, 8)),
        )


def train_dqn_tutor(
    dynamics: Any,
    belief: Belief,
    session_length: int,
    config: DQNTutorConfig,
    checkpoints: int = 0,
    on_checkpoint: Callable[[Any, int], None] | None = None,
) -> Any:
    """Train ``agents.DQN`` on ``KnowledgeVectorEnv`` over students from ``dynamics``.

    Args:
        dynamics: the simulator the tutor trains on.
        belief: the knowledge model whose estimate is the state.
        session_length: exercises per session.
        config: budget and settings.
        checkpoints: stop this many times at equal steps along the way (0: never) and call
            ``on_checkpoint(agent, env_steps)`` (e.g. to evaluate the tutor so far; the training
            is the same as without stops).
        on_checkpoint: the callback.

    Returns:
        The trained ``agents.DQN`` (``agent.q_values(obs)``: E[R | A, S] per exercise).
    """
    inner = StudentVectorEnv(
        config.num_envs, dynamics=dynamics, episode_length=session_length, flatten_observation=False
    )
    agent = DQN(KnowledgeVectorEnv(inner, belief, config.reward), config.dqn_config())
    for part in range(1, checkpoints + 1):
        agent.learn(config.total_steps * part // checkpoints)
        if on_checkpoint is not None:
            on_checkpoint(agent, agent.env_steps)
    agent.learn(config.total_steps)
    return agent


class _DQNSession(_BeliefSession):
    def _choose(self) -> np.ndarray:
        recommender = self.recommender
        steps = np.full(self.n_students, min(self.step, recommender.session_length))
        observation = knowledge_observation(self.p_correct(), steps, recommender.session_length)
        self.q = recommender.agent.q_values(observation)  # (n, n_exercises) E[R | A, S]
        return self.q.argmax(axis=1)

    def _explain(self, student: int, exercise: int) -> str:
        q = self.q[student]
        runner_up = np.sort(q)[-2] if q.size > 1 else q[0]
        return (
            f"{self.recommender.exercise_label(exercise)}: the DQN expects the largest remaining "
            f"post-test gain from it, E[R | A, S] = {q[exercise]:.3f} (next best "
            f"{runner_up:.3f}), given the DKT's knowledge estimate"
        )

    def _scores(self) -> np.ndarray:
        return self.q


class DQNTutor(Recommender):
    """The learned tutor: argmax over exercises of the DQN's E[R | A, S] at the belief's
    knowledge estimate.

    Args:
        agent: a trained ``agents.DQN`` (observations from ``knowledge_observation``).
        belief: the same knowledge model it was trained with.
        exercise_skill: (n_exercises,) skill of each exercise.
        session_length: the session length it was trained for (time feature scale).
    """

    name = "dqn"
    session_class = _DQNSession

    def __init__(
        self, agent: Any, belief: Belief, exercise_skill, session_length: int, **names
    ) -> None:
        super().__init__(exercise_skill, **names)
        if belief.n_exercises != self.n_exercises:
            raise ValueError(
                f"belief models {belief.n_exercises} exercises but the curriculum has "
                f"{self.n_exercises}"
            )
        if session_length < 1:
            raise ValueError(f"session_length must be >= 1, got {session_length}")
        self.agent, self.belief, self.session_length = agent, belief, session_length
