"""Native vector env: thousands of simulated students stepped at once with numpy arrays."""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces
from gymnasium.utils import seeding
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from riley_gym.envs.curriculum import Curriculum
from riley_gym.envs.student import StudentBatch, student_observation_space
from riley_gym.envs.student_dynamics import BKTParams, IRTParams, StudentDynamics


class StudentVectorEnv(VectorEnv):
    """``num_envs`` independent :class:`envs.student.StudentEnv` sessions, one per student.

    Same spaces, rewards and episode end as the single env, on the same
    :class:`envs.student.StudentBatch` code path; no Python loop over students.

    Autoreset: SAME-STEP (``metadata["autoreset_mode"] == AutoresetMode.SAME_STEP``). When a
    session ends, that env's returned observation is already the first observation of a new
    student's session, and ``info`` carries Gymnasium's SAME_STEP keys:
    ``info["final_obs"]`` (object array of length ``num_envs``, the last observation of each
    ended session, None elsewhere), ``info["final_info"]`` (a dict of batched arrays:
    ``"post_test"``, ``"mastery"``, ``"p_correct"``, ``"correct"``, ``"exercise"``, each with
    its ``"_key"`` mask) and the masks ``info["_final_obs"]``, ``info["_final_info"]``. The
    reward and ``terminated`` returned with it belong to the ended session.

    Step ``info`` (cheap, every step): ``"correct"`` ``(n,)`` bool, ``"exercise"`` ``(n,)``
    int64, ``"post_test"`` ``(n,)`` float64, with their ``"_key"`` masks. The full hidden
    state is available for evaluation through :meth:`hidden_p_correct`,
    :meth:`hidden_mastery` and :meth:`post_test`.

    ``reset(options={"reset_mask": mask})`` starts new sessions only where ``mask`` is True.

    Args:
        num_envs: number of students simulated at once.
        curriculum, dynamics, episode_length, flatten_observation, params: as
            :class:`envs.student.StudentEnv`.
        max_episode_steps: accepted for ``gymnasium.make_vec`` compatibility; must be None or
            equal to ``episode_length``.

    Example:
        >>> import gymnasium as gym, numpy as np, envs
        >>> vec = gym.make_vec(
        ...     "riley/Student-v0", num_envs=3, vectorization_mode="vector_entry_point"
        ... )
        >>> obs, info = vec.reset(seed=0)
        >>> obs["attempts"].shape
        (3, 16)
        >>> obs, reward, terminated, truncated, info = vec.step(np.array([0, 5, 15]))
        >>> obs["last_exercise"].tolist()
        [0, 5, 15]
    """

    metadata = {"autoreset_mode": AutoresetMode.SAME_STEP, "render_modes": []}

    def __init__(
        self,
        num_envs: int,
        curriculum: str | Curriculum = "riley",
        dynamics: str | StudentDynamics = "bkt",
        episode_length: int = 50,
        flatten_observation: bool = False,
        params: BKTParams | IRTParams | None = None,
        max_episode_steps: int | None = None,
    ) -> None:
        if max_episode_steps is not None and max_episode_steps != episode_length:
            raise ValueError(
                f"StudentVectorEnv: max_episode_steps={max_episode_steps} differs from "
                f"episode_length={episode_length}; set episode_length instead"
            )
        self.batch = StudentBatch(
            num_envs, curriculum, dynamics, episode_length, flatten_observation, params
        )
        self.num_envs = self.batch.n_students
        self.curriculum = self.batch.curriculum
        self.dynamics = self.batch.dynamics
        self.episode_length = self.batch.episode_length
        self.single_observation_space = student_observation_space(
            self.curriculum.n_exercises, self.episode_length, self.batch.flatten_observation
        )
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self.single_action_space = spaces.Discrete(self.curriculum.n_exercises)
        self.action_space = spaces.MultiDiscrete(
            np.full(self.num_envs, self.curriculum.n_exercises)
        )
        self._all = np.ones(self.num_envs, dtype=bool)
        self._needs_reset = True

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        """Starts new sessions (all, or ``options["reset_mask"]``); returns ``(obs, info)``.

        ``info``: ``"pre_test"`` ``(n,)``, the starting expected post-test score.
        """
        if seed is not None:
            self._np_random, self._np_random_seed = seeding.np_random(seed)
        mask = None if options is None else options.get("reset_mask")
        if mask is None:
            self.batch.reset(self.np_random)
        else:
            mask = np.asarray(mask)
            if mask.shape != (self.num_envs,) or mask.dtype != bool:
                raise ValueError(
                    "StudentVectorEnv.reset: reset_mask must be a bool array "
                    f"of shape ({self.num_envs},), got {mask.dtype} {mask.shape}"
                )
            if self._needs_reset and not mask.all():
                raise ValueError("StudentVectorEnv.reset: the first reset must reset every env")
            self.batch.reset(self.np_random, np.flatnonzero(mask))
        self._needs_reset = False
        return self.batch.observation(), {
            "pre_test": self.batch.score.copy(),
            "_pre_test": self._all.copy(),
        }

    def step(self, actions):
        if self._needs_reset:
            raise RuntimeError("StudentVectorEnv: call reset() before step()")
        exercise_ids = self.batch.check_actions(actions, "StudentVectorEnv.step")
        correct, reward, terminated = self.batch.step(exercise_ids, self.np_random)
        info = {
            "correct": correct,
            "_correct": self._all.copy(),
            "exercise": exercise_ids.copy(),
            "_exercise": self._all.copy(),
            "post_test": self.batch.score.copy(),
            "_post_test": self._all.copy(),
        }
        if terminated.any():
            ended = np.flatnonzero(terminated)
            info["final_obs"], info["final_info"] = self._final(ended, correct, exercise_ids)
            info["_final_obs"] = terminated.copy()
            info["_final_info"] = terminated.copy()
            self.batch.reset(self.np_random, ended)
        truncated = np.zeros(self.num_envs, dtype=bool)
        return self.batch.observation(), reward, terminated, truncated, info

    def hidden_p_correct(self) -> np.ndarray:
        """True p(correct) of every exercise now, ``(num_envs, n_exercises)`` (evaluation only)."""
        return self.dynamics.p_correct(self.batch.state)

    def hidden_mastery(self) -> np.ndarray:
        """True mastery per skill, ``(num_envs, n_skills)`` (evaluation only; see the dynamics)."""
        return self.dynamics.mastery(self.batch.state)

    def post_test(self) -> np.ndarray:
        """Expected post-test score now, ``(num_envs,)`` (evaluation only)."""
        return self.batch.score.copy()

    def _final(
        self, ended: np.ndarray, correct: np.ndarray, exercise_ids: np.ndarray
    ) -> tuple[np.ndarray, dict]:
        """SAME_STEP ``final_obs`` and ``final_info`` of the sessions at ``ended``.

        Both are taken before those sessions' reset.
        """
        n = self.num_envs
        obs = self.batch.observation()
        final_obs = np.full(n, None, dtype=object)
        for i in ended:
            final_obs[i] = (
                obs[i]
                if self.batch.flatten_observation
                else {key: value[i] for key, value in obs.items()}
            )
        mask = np.zeros(n, dtype=bool)
        mask[ended] = True
        values = {
            "mastery": self.hidden_mastery(),
            "p_correct": self.hidden_p_correct(),
            "post_test": self.batch.score.copy(),
            "correct": correct.copy(),
            "exercise": exercise_ids.copy(),
        }
        final_info: dict[str, np.ndarray] = {}
        for key, value in values.items():
            value[~mask] = 0
            final_info[key] = value
            final_info[f"_{key}"] = mask.copy()
        return final_obs, final_info
