"""Riley, a simulated student: the tutor picks exercises, the reward is what Riley learns.

:class:`StudentBatch` holds a batch of tutoring sessions (the hidden dynamics state plus what
the tutor has seen) and is the one code path behind the single env :class:`StudentEnv`
(a batch of one), the native vector env :class:`envs.student_vector.StudentVectorEnv` and
:func:`envs.simulate.simulate_logs`.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from riley_gym.envs.actions import check_discrete_action, check_vector_actions
from riley_gym.envs.curriculum import Curriculum, load_curriculum
from riley_gym.envs.student_dynamics import BKTParams, IRTParams, StudentDynamics, make_dynamics

NO_EXERCISE_LABEL = "none yet"


def student_observation_space(n_exercises: int, episode_length: int, flatten: bool) -> spaces.Space:
    """Observation space of one tutoring session (see :class:`StudentEnv`)."""
    if flatten:
        size = 3 * n_exercises + 5
        return spaces.Box(0.0, 1.0, shape=(size,), dtype=np.float32)
    counts = spaces.Box(0.0, float(episode_length), shape=(n_exercises,), dtype=np.float32)
    return spaces.Dict(
        {
            "last_exercise": spaces.Discrete(n_exercises + 1),
            "last_correct": spaces.Discrete(3),
            "attempts": counts,
            "successes": counts,
            "time": spaces.Box(0.0, 1.0, shape=(1,), dtype=np.float32),
        }
    )


class StudentBatch:
    """``n_students`` tutoring sessions run in lockstep: hidden state, counters, observations.

    Args:
        n_students: batch size.
        curriculum: ``"riley"``, a path, or a :class:`Curriculum`.
        dynamics: ``"bkt"``, ``"irt"``, or a :class:`StudentDynamics` instance.
        episode_length: exercises per session.
        flatten_observation: observations as flat float32 vectors instead of dicts.
        params: :class:`BKTParams` / :class:`IRTParams` or None for the defaults.

    Attributes:
        dynamics, state: the learning dynamics and its hidden state.
        time: ``(n,)`` int64 exercises given so far in each session.
        last_exercise, last_correct: ``(n,)`` int64 (``n_exercises`` / 2 mean none yet).
        attempts, successes: ``(n, n_exercises)`` float32 counts.
        score: ``(n,)`` float64 expected post-test score now.
    """

    def __init__(
        self,
        n_students: int,
        curriculum: str | Curriculum = "riley",
        dynamics: str | StudentDynamics = "bkt",
        episode_length: int = 50,
        flatten_observation: bool = False,
        params: BKTParams | IRTParams | None = None,
    ) -> None:
        if (
            isinstance(n_students, bool)
            or not isinstance(n_students, (int, np.integer))
            or n_students < 1
        ):
            raise ValueError(f"StudentBatch: n_students must be a positive int, got {n_students!r}")
        if (
            isinstance(episode_length, bool)
            or not isinstance(episode_length, (int, np.integer))
            or episode_length < 1
        ):
            raise ValueError(
                f"StudentBatch: episode_length must be a positive int, got {episode_length!r}"
            )
        if isinstance(dynamics, StudentDynamics):
            if params is not None:
                raise ValueError("StudentBatch: pass params to the dynamics object, not both")
            self.dynamics = dynamics
        elif isinstance(dynamics, str):
            self.dynamics = make_dynamics(dynamics, load_curriculum(curriculum), params)
        else:
            raise TypeError(
                "StudentBatch: dynamics must be 'bkt', 'irt' or a StudentDynamics, "
                f"got {dynamics!r}"
            )
        self.curriculum = self.dynamics.curriculum
        self.n_students = int(n_students)
        self.n_exercises = self.curriculum.n_exercises
        self.episode_length = int(episode_length)
        self.flatten_observation = bool(flatten_observation)
        n, n_exercises = self.n_students, self.n_exercises
        self.state = self.dynamics.empty_state(n)
        self.time = np.zeros(n, dtype=np.int64)
        self.last_exercise = np.full(n, n_exercises, dtype=np.int64)
        self.last_correct = np.full(n, 2, dtype=np.int64)
        self.attempts = np.zeros((n, n_exercises), dtype=np.float32)
        self.successes = np.zeros((n, n_exercises), dtype=np.float32)
        self.score = np.zeros(n)
        self._rows = np.arange(n)
        # the exercise of each session, checked as StudentVectorEnv.action_space checks it
        self.action_space = spaces.MultiDiscrete(np.full(n, n_exercises))
        self._flat = np.zeros((n, 3 * n_exercises + 5), dtype=np.float32)

    def reset(self, rng: np.random.Generator, indices: np.ndarray | None = None) -> None:
        """Starts new sessions with fresh students at ``indices`` (all when None)."""
        index = slice(None) if indices is None else indices
        self.dynamics.reset_students(self.state, indices, rng)
        self.time[index] = 0
        self.last_exercise[index] = self.n_exercises
        self.last_correct[index] = 2
        self.attempts[index] = 0.0
        self.successes[index] = 0.0
        if indices is None:
            self.score[:] = self.dynamics.post_test(self.state)
        else:
            self.score[index] = self.dynamics.post_test(self.state)[index]

    def check_actions(self, actions: Any, where: str = "Student env") -> np.ndarray:
        """``(n,)`` int64 exercise ids from ``actions``: exactly what
        ``self.action_space.contains`` accepts (``envs.actions``); ``where`` names the
        caller in an error.

        Raises:
            TypeError: if the actions are not an array of a dtype that casts to int64.
            ValueError: if the shape is not ``(n,)`` or an id is outside ``[0, n_exercises)``.
        """
        return check_vector_actions(self.action_space, actions, where, "exercise id")

    def step(
        self, exercise_ids: np.ndarray, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every session gives one (checked) exercise.

        Returns:
            correct ``(n,)`` bool, reward ``(n,)`` float64 (post-test after minus before),
            terminated ``(n,)`` bool (the session reached ``episode_length``).
        """
        correct = self.dynamics.step(self.state, exercise_ids, rng)  # (n,)
        self.attempts[self._rows, exercise_ids] += 1.0
        self.successes[self._rows, exercise_ids] += correct
        self.last_exercise[:] = exercise_ids
        self.last_correct[:] = correct
        self.time += 1
        score = self.dynamics.post_test(self.state)  # (n,)
        reward = score - self.score  # (n,)
        self.score = score
        return correct, reward, self.time >= self.episode_length

    def observation(self) -> dict[str, np.ndarray] | np.ndarray:
        """Fresh batched observation.

        A dict of ``(n, ...)`` arrays or an ``(n, 3E + 5)`` float32 array.
        """
        if not self.flatten_observation:
            return {
                "last_exercise": self.last_exercise.copy(),
                "last_correct": self.last_correct.copy(),
                "attempts": self.attempts.copy(),
                "successes": self.successes.copy(),
                "time": (self.time / self.episode_length).astype(np.float32)[:, None],
            }
        n_exercises, flat = self.n_exercises, self._flat
        flat[:, : n_exercises + 4] = 0.0
        flat[self._rows, self.last_exercise] = 1.0
        flat[self._rows, n_exercises + 1 + self.last_correct] = 1.0
        scale = np.float32(1.0 / self.episode_length)
        np.multiply(self.attempts, scale, out=flat[:, n_exercises + 4 : 2 * n_exercises + 4])
        np.multiply(self.successes, scale, out=flat[:, 2 * n_exercises + 4 : 3 * n_exercises + 4])
        flat[:, -1] = self.time * scale
        return flat.copy()


class StudentEnv(gym.Env):
    """Tutor a simulated student, Riley, for one session of exercises.

    ## Description
    A curriculum (default: Riley's, x-intercept, y-intercept, slope, graphing linear
    equations, square roots) lists skills with prerequisites and exercises of each skill.
    Riley's knowledge is hidden and follows the ``bkt`` or ``irt`` dynamics of
    :mod:`envs.student_dynamics`; each episode draws a new student from the population.

    ## Action space
    ``Discrete(n_exercises)``: the index of the next exercise (16 for Riley's curriculum).
    The env takes exactly what ``action_space.contains`` takes (``envs.actions``: a Python or
    numpy integer; ``True`` is exercise 1); anything else raises ``ValueError`` (an integer
    out of range) or ``TypeError`` (another type: a float, a numpy bool).

    ## Observation space
    What a real tutor sees. A ``Dict``:
    - ``"last_exercise"``: ``Discrete(n_exercises + 1)``, the last exercise; ``n_exercises``
      means none yet.
    - ``"last_correct"``: ``Discrete(3)``, 1 if it was answered correctly, 0 if not, 2 none yet.
    - ``"attempts"``, ``"successes"``: ``Box(0, episode_length, (n_exercises,), float32)``,
      attempts and correct answers per exercise.
    - ``"time"``: ``Box(0, 1, (1,), float32)``, exercises given / episode_length.

    With ``flatten_observation=True``, a ``Box(0, 1, (3 * n_exercises + 5,), float32)``:
    one-hot last exercise (``n_exercises + 1``), one-hot last correct (3), attempts /
    episode_length, successes / episode_length, time.

    ## Rewards
    The change in the expected post-test score (mean over all exercises of the true
    p(correct)) caused by the step, so an episode's rewards sum to post-test minus pre-test.

    ## Starting state
    A fresh student from the population; nothing given yet. ``info["pre_test"]`` is the
    starting expected post-test score.

    ## Episode end
    ``terminated=True`` after ``episode_length`` exercises (the session is the whole task;
    the time left is in the observation). Never truncated by the env itself.

    ``info`` (evaluation only, hidden from a real tutor): ``"mastery"`` ``(n_skills,)``,
    ``"p_correct"`` ``(n_exercises,)``, ``"post_test"``, ``"correct"`` (the answer, bool),
    ``"exercise"`` (the action); reset's info has ``"pre_test"``, ``"mastery"``,
    ``"p_correct"`` and ``"post_test"``.

    ## Arguments
    - ``curriculum``: ``"riley"``, a JSON/YAML path, or a :class:`Curriculum`.
    - ``dynamics``: ``"bkt"`` or ``"irt"`` (with ``params``: matching parameters or None for
      the defaults), or a ready :class:`envs.student_dynamics.StudentDynamics` such as a
      calibrated ``BKTDynamics`` (its own curriculum is used; ``curriculum`` is ignored and
      ``params`` must be None).
    - ``episode_length``: exercises per session (default 50).
    - ``flatten_observation``: flat ``Box`` observations instead of the ``Dict``.
    - ``render_mode``: None or ``"ansi"`` (text with the hidden mastery).

    ## Version history
    - v0: first version (``riley/Student-v0`` bkt, ``riley/StudentIRT-v0`` irt).

    Example:
        >>> import gymnasium as gym, envs
        >>> env = gym.make("riley/Student-v0", episode_length=5)
        >>> obs, info = env.reset(seed=0)
        >>> int(obs["last_exercise"]), int(obs["last_correct"])
        (16, 2)
        >>> obs, reward, terminated, truncated, info = env.step(0)
        >>> int(obs["last_exercise"]), terminated
        (0, False)
    """

    metadata = {"render_modes": ["ansi"], "render_fps": 4}

    def __init__(
        self,
        curriculum: str | Curriculum = "riley",
        dynamics: str | StudentDynamics = "bkt",
        episode_length: int = 50,
        flatten_observation: bool = False,
        params: BKTParams | IRTParams | None = None,
        render_mode: str | None = None,
    ) -> None:
        if render_mode not in (None, *self.metadata["render_modes"]):
            raise ValueError(f"StudentEnv: render_mode must be None or 'ansi', got {render_mode!r}")
        self.render_mode = render_mode
        self.batch = StudentBatch(
            1, curriculum, dynamics, episode_length, flatten_observation, params
        )
        self.curriculum = self.batch.curriculum
        self.dynamics = self.batch.dynamics
        self.episode_length = self.batch.episode_length
        self.action_space = spaces.Discrete(self.curriculum.n_exercises)
        self.observation_space = student_observation_space(
            self.curriculum.n_exercises, self.episode_length, self.batch.flatten_observation
        )
        self._needs_reset = True

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        self.batch.reset(self.np_random)
        self._needs_reset = False
        info = self._info()
        info["pre_test"] = info["post_test"]
        return self._observation(), info

    def step(self, action):
        if self._needs_reset:
            raise RuntimeError(
                "StudentEnv: call reset() before step() (and after the episode terminated)"
            )
        exercise = np.array(
            [check_discrete_action(self.action_space, action, "StudentEnv.step", "exercise id")]
        )
        correct, reward, terminated = self.batch.step(exercise, self.np_random)
        self._needs_reset = bool(terminated[0])
        info = self._info()
        info["correct"] = bool(correct[0])
        info["exercise"] = int(exercise[0])
        return self._observation(), float(reward[0]), bool(terminated[0]), False, info

    def render(self) -> str | None:
        if self.render_mode != "ansi":
            return None
        batch, curriculum = self.batch, self.curriculum
        last = int(batch.last_exercise[0])
        last_name = (
            NO_EXERCISE_LABEL if last == curriculum.n_exercises else curriculum.exercise_names[last]
        )
        answer = {0: "wrong", 1: "right", 2: "-"}[int(batch.last_correct[0])]
        mastery = self.dynamics.mastery(batch.state)[0]
        lines = [f"step {int(batch.time[0])}/{self.episode_length}  last: {last_name} ({answer})"]
        lines += [f"  post-test (hidden): {batch.score[0]:.3f}"]
        for skill_id, skill in enumerate(curriculum.skill_names):
            exercises = curriculum.exercises_of(skill_id)
            tries = int(batch.attempts[0, exercises].sum())
            right = int(batch.successes[0, exercises].sum())
            lines.append(
                f"  {skill:<28} {right:>3}/{tries:<3} right   "
                f"mastery (hidden) {mastery[skill_id]:.2f}"
            )
        return "\n".join(lines) + "\n"

    def _observation(self):
        obs = self.batch.observation()
        if self.batch.flatten_observation:
            return obs[0]
        return {
            "last_exercise": obs["last_exercise"][0],
            "last_correct": obs["last_correct"][0],
            "attempts": obs["attempts"][0],
            "successes": obs["successes"][0],
            "time": obs["time"][0],
        }

    def _info(self) -> dict[str, Any]:
        state = self.batch.state
        return {
            "mastery": self.dynamics.mastery(state)[0],
            "p_correct": self.dynamics.p_correct(state)[0],
            "post_test": float(self.batch.score[0]),
        }
