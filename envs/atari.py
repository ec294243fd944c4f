"""Atari 2600 games with the standard DQN preprocessing, on ale-py's bundled ROMs.

Preprocessing (Mnih et al. 2015, "Human-level control through deep reinforcement
learning"; Machado et al. 2018 for sticky actions), in this order:

1. no-op starts: after a real reset, a random number in ``[1, noop_max]`` of NOOP frames;
2. fire on reset: in games whose action 1 is FIRE (Breakout, ...), one frame of FIRE after a
   real reset so that play starts;
3. frame skip: each action is repeated ``frame_skip`` times, the rewards summed and the
   observation the pixel-wise max of the last two frames (Atari sprites flicker);
4. 84x84 grayscale: ALE's luminance screen, resized by pixel-area averaging;
5. training only: a lost life ends the episode (``terminated``) while the game goes on after
   ``reset()``, which then changes nothing (the Nature DQN and OpenAI Baselines semantics; a
   real reset happens only at game over), and rewards are clipped to their sign;
6. frame stack: the last ``frame_stack`` observations, channels first, zeros before the
   first frame of a game: ``(4, 84, 84)`` uint8, which :class:`nets.NatureCNN` takes as is.

The single env (:func:`make_atari`) and the vector env (:func:`make_atari_vector`, on
ale-py's C++ ``AtariVectorEnv``) give the same observations, rewards and episode ends for the
same game, actions and ``noop_max=0``, through life losses and game overs (tested, up to
one grey level of rounding): the single env was written to match ale-py's C++ preprocessing.

Why not gymnasium's ``AtariPreprocessing``: it needs OpenCV, which riley-gym does not
depend on, and on a life loss it makes the next ``reset()`` restart the whole game, so an
agent would never see play with fewer lives. The no-op draw and the max over the last two
frames follow that wrapper; the resize is the pixel-area average that OpenCV's
``INTER_AREA`` computes, up to rounding.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from typing import Any

import ale_py.roms
import gymnasium as gym
import numpy as np
from ale_py.env import AtariEnv
from ale_py.vector_env import AtariVectorEnv
from gymnasium.vector import AutoresetMode, VectorWrapper

from riley_gym.envs.actions import check_discrete_action, check_vector_actions

# Sticky-action probability recommended by Machado et al. (2018).
MACHADO_STICKY_ACTION_PROB = 0.25


def rom_id(game: str) -> str:
    """ale-py's ROM id (snake case) for a game name.

    Accepts ``"Breakout"``, ``"breakout"``, ``"ALE/Breakout-v5"``, ``"BreakoutNoFrameskip-v4"``,
    ``"MsPacman"`` or ``"ms_pacman"``.

    Raises:
        ValueError: if no bundled ROM has that name.
    """
    if not isinstance(game, str) or not game:
        raise ValueError(f"Atari: game must be a non-empty string such as 'Breakout', got {game!r}")
    name = game.split("/")[-1]
    name = re.sub(r"-v\d+$", "", name)
    name = re.sub(r"(NoFrameskip|Deterministic)$", "", name)
    if "_" not in name:
        name = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name)
    name = name.lower()
    known = ale_py.roms.get_all_rom_ids()
    if name not in known:
        raise ValueError(
            f"Atari: unknown game {game!r} (ROM id {name!r}); "
            f"bundled ROMs include {', '.join(known[:12])}, ..."
        )
    return name


def _positive_int(value: Any, name: str, minimum: int = 1) -> None:
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"AtariConfig.{name} must be an integer >= {minimum}, got {value!r}")


@dataclass(frozen=True)
class AtariConfig:
    """Settings of one Atari env, single or vectorized; travels into summaries and checkpoints."""

    game: str = field(
        default="Breakout",
        metadata={"help": "game name: 'Breakout', 'Pong', 'ALE/Breakout-v5', 'ms_pacman'"},
    )
    training: bool = field(
        default=True,
        metadata={"help": "training mode: episodic life and reward clipping default on"},
    )
    noop_max: int = field(
        default=30, metadata={"help": "at most this many NOOPs after a real reset (0 turns it off)"}
    )
    frame_skip: int = field(
        default=4, metadata={"help": "emulator frames per agent step, max-pooled over the last two"}
    )
    screen_size: int = field(
        default=84, metadata={"help": "height and width of the resized grayscale frame"}
    )
    frame_stack: int = field(
        default=4, metadata={"help": "frames stacked in an observation (channels first)"}
    )
    terminal_on_life_loss: bool | None = field(
        default=None,
        metadata={"help": "a lost life ends the episode (game continues); None: same as training"},
    )
    clip_reward: bool | None = field(
        default=None, metadata={"help": "rewards clipped to their sign; None: same as training"}
    )
    sticky_action_prob: float = field(
        default=0.0,
        metadata={
            "help": "probability the previous action repeats each frame (Machado et al.: 0.25)"
        },
    )
    fire_on_reset: bool = field(
        default=True, metadata={"help": "press FIRE after reset in games that have it"}
    )
    full_action_space: bool = field(
        default=False, metadata={"help": "all 18 actions instead of the game's minimal set"}
    )
    max_episode_frames: int = field(
        default=108_000,
        metadata={
            "help": "truncate after this many emulator frames "
            "(108,000 = 30 min = 27,000 steps at skip 4)"
        },
    )

    def __post_init__(self):
        object.__setattr__(self, "game", rom_id(self.game))
        if self.terminal_on_life_loss is None:
            object.__setattr__(self, "terminal_on_life_loss", bool(self.training))
        if self.clip_reward is None:
            object.__setattr__(self, "clip_reward", bool(self.training))
        _positive_int(self.noop_max, "noop_max", minimum=0)
        _positive_int(self.frame_skip, "frame_skip")
        _positive_int(self.screen_size, "screen_size")
        _positive_int(self.frame_stack, "frame_stack")
        _positive_int(self.max_episode_frames, "max_episode_frames")
        if not (
            isinstance(self.sticky_action_prob, (int, float))
            and 0.0 <= self.sticky_action_prob <= 1.0
        ):
            raise ValueError(
                "AtariConfig.sticky_action_prob must be a probability in [0, 1], "
                f"got {self.sticky_action_prob!r}"
            )
        for name in (
            "training",
            "terminal_on_life_loss",
            "clip_reward",
            "fire_on_reset",
            "full_action_space",
        ):
            if not isinstance(getattr(self, name), bool):
                raise TypeError(f"AtariConfig.{name} must be a bool, got {getattr(self, name)!r}")

    def to_dict(self) -> dict[str, Any]:
        """The settings as a JSON-able dict."""
        return dataclasses.asdict(self)


def area_resize_matrix(size_in: int, size_out: int) -> np.ndarray:
    """Weights that average input pixels into output pixels by overlapping area.

    Output pixel ``i`` covers ``[i * size_in / size_out, (i + 1) * size_in / size_out)`` of the
    input; each input pixel contributes the length of its overlap, normalised.

    Returns:
        ``(size_out, size_in)`` float32 matrix whose rows sum to 1.
    """
    scale = size_in / size_out
    lower = np.arange(size_out)[:, None] * scale  # (out, 1)
    pixel = np.arange(size_in)[None, :]  # (1, in)
    overlap = np.clip(
        np.minimum(lower + scale, pixel + 1) - np.maximum(lower, pixel), 0.0, None
    )  # (out, in)
    return (overlap / scale).astype(np.float32)


class AreaResize:
    """Resizes ``(height, width)`` uint8 images to ``(size, size)`` by pixel-area averaging.

    Equal to ``rows @ image @ cols.T`` with :func:`area_resize_matrix`, computed as a gather of
    the few (at most ``ceil(scale) + 1``) input pixels each output pixel overlaps: a dense
    matrix product ran at 60 ms a frame when BLAS threads competed for 2 busy cores.
    """

    def __init__(self, height: int, width: int, size: int):
        self.row_index, self.row_weight = self._sparse(
            area_resize_matrix(height, size)
        )  # (size, k_r) each
        self.col_index, self.col_weight = self._sparse(
            area_resize_matrix(width, size)
        )  # (size, k_c) each

    @staticmethod
    def _sparse(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        width = int((matrix > 0).sum(axis=1).max())
        index = np.argsort(matrix <= 0, axis=1, kind="stable")[
            :, :width
        ]  # (out, k): overlapping inputs first
        return index, np.take_along_axis(
            matrix, index, axis=1
        )  # weights 0 where a row needs fewer than k

    def __call__(self, image: np.ndarray) -> np.ndarray:
        rows = (image[self.row_index].astype(np.float32) * self.row_weight[:, :, None]).sum(
            axis=1
        )  # (size, width)
        resized = (rows[:, self.col_index] * self.col_weight[None, :, :]).sum(
            axis=2
        )  # (size, size)
        return np.clip(np.rint(resized), 0, 255).astype(np.uint8)


class AtariDQNPreprocessing(gym.Wrapper):
    """No-op starts, frame skip with max-pooling, grayscale resize, fire on reset, episodic life.

    Wraps an ``ale_py.env.AtariEnv`` made with ``frameskip=1`` (any ``obs_type``: the screen is
    read from the emulator).
    Observation: ``(screen_size, screen_size)`` uint8. ``info["lives"]`` is the lives left.
    With ``terminal_on_life_loss``, a lost life returns ``terminated=True`` and the next
    ``reset()`` continues the same game from the current frame, without emulator steps, as
    ale-py's vector env does; ``info["game_over"]`` tells the two apart, and the reset's
    ``info["continued"]`` is True when the game went on.
    """

    def __init__(
        self,
        env: gym.Env,
        noop_max: int = 30,
        frame_skip: int = 4,
        screen_size: int = 84,
        terminal_on_life_loss: bool = False,
        fire_on_reset: bool = True,
    ):
        super().__init__(env)
        if getattr(env.unwrapped, "_frameskip", None) != 1:
            raise ValueError(
                "AtariDQNPreprocessing: make the base env with frameskip=1 "
                "(this wrapper skips frames)"
            )
        meanings = env.unwrapped.get_action_meanings()
        if noop_max > 0 and meanings[0] != "NOOP":
            raise ValueError(
                "AtariDQNPreprocessing: noop_max > 0 needs action 0 to be NOOP, "
                f"got {meanings[0]!r}"
            )
        self.noop_max, self.frame_skip = noop_max, frame_skip
        self.terminal_on_life_loss, self.screen_size = terminal_on_life_loss, screen_size
        self.fire_action = (
            1 if fire_on_reset and len(meanings) >= 3 and meanings[1] == "FIRE" else None
        )
        height, width = env.unwrapped.ale.getScreenDims()
        self._resize = AreaResize(height, width, screen_size)
        self._frames = np.zeros((2, height, width), dtype=np.uint8)  # last two raw frames
        self.lives = 0
        self.game_over = True
        self._last_info: dict[str, Any] = {}
        self.observation_space = gym.spaces.Box(0, 255, (screen_size, screen_size), np.uint8)

    def _screen(self, slot: int) -> None:
        self.env.unwrapped.ale.getScreenGrayscale(self._frames[slot])

    def _observation(self) -> np.ndarray:
        pooled = np.maximum(self._frames[0], self._frames[1])  # (210, 160)
        return self._resize(pooled)  # (84, 84)

    def _repeat(self, action: int) -> tuple[float, bool, bool, dict[str, Any]]:
        """Repeats ``action`` for up to ``frame_skip`` frames, keeping the last two screens."""
        total, terminated, truncated, info = 0.0, False, False, {}
        previous_kept = False
        for t in range(self.frame_skip):
            _, reward, terminated, truncated, info = self.env.step(action)
            total += float(reward)
            if t == self.frame_skip - 2:
                self._screen(1)
                previous_kept = True
            if terminated or truncated:
                break
        self._screen(0)
        if not previous_kept:  # frame_skip 1, or the episode ended early: pool the last frame alone
            self._frames[1] = self._frames[0]
        return total, terminated, truncated, info

    def step(self, action):
        """One agent step of ``frame_skip`` frames; ``info`` adds ``lives`` and ``game_over``."""
        total, game_over, truncated, info = self._repeat(action)
        lives = self.env.unwrapped.ale.lives()
        life_lost = lives < self.lives
        self.lives, self.game_over = lives, game_over or truncated
        terminated = game_over or (self.terminal_on_life_loss and life_lost)
        self._last_info = info
        info = {**info, "lives": lives, "game_over": self.game_over}
        return self._observation(), total, terminated, truncated, info

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        """A real reset (no-ops, FIRE) after game over, else the game continues.

        See the class docstring.
        """
        continued = not (self.game_over or not self.terminal_on_life_loss or seed is not None)
        if not continued:
            _, info = self.env.reset(seed=seed, options=options)
            noops = (
                int(self.env.unwrapped.np_random.integers(1, self.noop_max + 1))
                if self.noop_max > 0
                else 0
            )
            for _ in range(noops):
                _, _, terminated, truncated, info = self.env.step(0)
                if terminated or truncated:
                    _, info = self.env.reset(seed=seed, options=options)
            if self.fire_action is not None:
                # One emulator frame of FIRE, as ale-py's AtariVectorEnv does on reset.
                _, _, terminated, truncated, info = self.env.step(self.fire_action)
                if terminated or truncated:
                    _, info = self.env.reset(seed=seed, options=options)
            self._frames[1].fill(0)
            self._screen(0)
        else:
            # A life was lost but the game goes on: continue it from the current frame, without
            # emulator steps (as make_atari_vector does), rather than restart it.
            info = self._last_info
        self.lives = self.env.unwrapped.ale.lives()
        self.game_over = False
        return self._observation(), {
            **info,
            "lives": self.lives,
            "game_over": False,
            "continued": continued,
        }


class ClipRewardSign(gym.RewardWrapper):
    """Rewards clipped to their sign, -1, 0 or +1 (Mnih et al. 2015).

    One learning rate fits all games.
    """

    def reward(self, reward):
        return float(np.sign(reward))


class StackFrames(gym.Wrapper):
    """The last ``stack_size`` frames, channels first, zeros before a game's first frame.

    Unlike gymnasium's ``FrameStackObservation``, a reset that continues the game after a
    lost life (``info["continued"]``) keeps the stack, as ale-py's vector env does.
    """

    def __init__(self, env: gym.Env, stack_size: int):
        super().__init__(env)
        frame_shape = env.observation_space.shape
        self._stack = np.zeros((stack_size, *frame_shape), dtype=np.uint8)  # (stack, H, W)
        self.observation_space = gym.spaces.Box(0, 255, self._stack.shape, np.uint8)

    def _push(self, frame: np.ndarray) -> np.ndarray:
        self._stack[:-1] = self._stack[1:]
        self._stack[-1] = frame
        return self._stack.copy()

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        frame, info = self.env.reset(seed=seed, options=options)
        if info.get("continued", False):
            return self._stack.copy(), info
        self._stack.fill(0)
        return self._push(frame), info

    def step(self, action):
        frame, reward, terminated, truncated, info = self.env.step(action)
        return self._push(frame), reward, terminated, truncated, info


class ValidateAction(gym.ActionWrapper):
    """Takes exactly the actions ``action_space.contains`` takes (``envs.actions``); any other
    raises a ValueError (an integer out of range) or TypeError (another type) naming it."""

    def action(self, action):
        return check_discrete_action(self.action_space, action, "Atari step")


def make_atari(
    game: str = "Breakout",
    *,
    training: bool = True,
    noop_max: int = 30,
    frame_skip: int = 4,
    screen_size: int = 84,
    frame_stack: int = 4,
    terminal_on_life_loss: bool | None = None,
    clip_reward: bool | None = None,
    sticky_action_prob: float = 0.0,
    fire_on_reset: bool = True,
    full_action_space: bool = False,
    max_episode_frames: int = 108_000,
    render_mode: str | None = None,
) -> gym.Env:
    """One Atari game with the standard DQN preprocessing; see the module docstring.

    Arguments are the fields of :class:`AtariConfig` (``terminal_on_life_loss`` and
    ``clip_reward`` default to ``training``), plus ``render_mode`` (``None`` or
    ``"rgb_array"``: the full-colour screen).

    Returns:
        A Gymnasium env with observations ``(frame_stack, screen_size, screen_size)`` uint8,
        ``Discrete`` actions, and ``info["lives"]``; ``env.unwrapped.ale`` is the emulator.

    Example:
        >>> env = make_atari("Pong", training=False)
        >>> obs, info = env.reset(seed=0)
        >>> obs.shape, obs.dtype
        ((4, 84, 84), dtype('uint8'))
    """
    config = AtariConfig(
        game=game,
        training=training,
        noop_max=noop_max,
        frame_skip=frame_skip,
        screen_size=screen_size,
        frame_stack=frame_stack,
        terminal_on_life_loss=terminal_on_life_loss,
        clip_reward=clip_reward,
        sticky_action_prob=sticky_action_prob,
        fire_on_reset=fire_on_reset,
        full_action_space=full_action_space,
        max_episode_frames=max_episode_frames,
    )
    return make_atari_from_config(config, render_mode=render_mode)


def make_atari_from_config(config: AtariConfig, render_mode: str | None = None) -> gym.Env:
    """:func:`make_atari` from an :class:`AtariConfig`."""
    if render_mode not in (None, "rgb_array"):
        raise ValueError(
            f"make_atari: render_mode must be None or 'rgb_array', got {render_mode!r}"
        )
    env: gym.Env = AtariEnv(
        game=config.game,
        obs_type="ram",  # the cheapest per-frame copy; the wrapper reads the screen itself
        frameskip=1,
        repeat_action_probability=config.sticky_action_prob,
        full_action_space=config.full_action_space,
        max_num_frames_per_episode=config.max_episode_frames,
        render_mode=render_mode,
    )
    env = AtariDQNPreprocessing(
        env,
        noop_max=config.noop_max,
        frame_skip=config.frame_skip,
        screen_size=config.screen_size,
        terminal_on_life_loss=config.terminal_on_life_loss,
        fire_on_reset=config.fire_on_reset,
    )
    if config.clip_reward:
        env = ClipRewardSign(env)
    env = StackFrames(env, stack_size=config.frame_stack)
    return ValidateAction(env)


class AtariVector(VectorWrapper):
    """ale-py's ``AtariVectorEnv`` with same-step autoreset, life-loss episodes, float32 rewards.

    **Autoreset mode: same-step** (``AutoresetMode.SAME_STEP``, in ``metadata``). When
    sub-env ``i`` ends (``terminated[i] or truncated[i]``), the observation that same ``step``
    returns for it is already the first of what follows, and the ended episode's last
    observation is ``info["final_obs"][i]``: a uint8 array shaped like the observations,
    valid in the rows where ``info["_final_obs"]`` is True. Bootstrap from ``terminated``
    only. After a life loss in training mode (``terminated`` with ``info["game_over"]``
    False) the game goes on: the next observation continues the same stack, and
    ``final_obs`` equals it. ``info["lives"]`` holds the lives left.

    How: ale-py 0.12.1's own same-step mode, with its ``life_loss_info``, returned a
    mis-ordered frame stack after a life loss (measured against the single env), so the C++
    env runs in next-step mode without ``life_loss_info``; this wrapper detects life losses
    from ``lives`` and at once resets the sub-envs whose game ended, with ale-py's partial
    ``reset_mask`` reset. Known difference from :func:`make_atari`: at game over ale-py's
    last stacked frame repeats the one before instead of the terminal screen (in either
    mode); a terminal step is never bootstrapped from, so only ``final_obs`` of a
    truncation (every 108,000 frames) is slightly stale.
    """

    def __init__(self, env, terminal_on_life_loss: bool, seed: int | None = None):
        super().__init__(env)
        self.terminal_on_life_loss = terminal_on_life_loss
        self._seed = seed
        self._seeded = False
        self._lives = np.zeros(self.num_envs, dtype=np.int64)
        self.metadata = {**env.metadata, "autoreset_mode": AutoresetMode.SAME_STEP}

    def reset(self, *, seed: int | np.ndarray | None = None, options: dict[str, Any] | None = None):
        """Resets every sub-env (sub-env ``i`` gets ``seed + i``).

        The first reset uses the factory's seed.
        """
        if seed is None and not self._seeded:
            seed = self._seed
        self._seeded = True
        obs, info = self.env.reset(seed=seed, options=options)
        self._lives = np.asarray(info["lives"], dtype=np.int64).copy()
        return obs, info

    def step(self, actions):
        """Steps every sub-env; see the class docstring for what ``info`` holds.

        Raises:
            TypeError: if ``actions`` is not an array of a dtype that casts safely to int64.
            ValueError: if it is not of shape ``(num_envs,)`` or an action is out of range.
        """
        actions = check_vector_actions(self.action_space, actions, "AtariVector.step")
        obs, rewards, game_over, truncated, info = self.env.step(actions)
        lives = np.asarray(info["lives"], dtype=np.int64)  # (num_envs,)
        life_lost = lives < self._lives
        terminated = game_over | (life_lost if self.terminal_on_life_loss else False)  # (num_envs,)
        ended = terminated | truncated
        info = {**info, "game_over": game_over | truncated}
        if ended.any():
            info["final_obs"] = obs.copy()  # (num_envs, stack, H, W)
            info["_final_obs"] = ended
            restart = game_over | truncated
            if restart.any():
                obs, reset_info = self.env.reset(options={"reset_mask": restart})
                lives = np.where(restart, np.asarray(reset_info["lives"], dtype=np.int64), lives)
                info["lives"] = lives.astype(np.int32)
        self._lives = lives.copy()
        return obs, rewards.astype(np.float32), terminated, truncated, info


def make_atari_vector(
    game: str = "Breakout",
    num_envs: int = 8,
    *,
    training: bool = True,
    seed: int | None = None,
    num_threads: int = 0,
    noop_max: int = 30,
    frame_skip: int = 4,
    screen_size: int = 84,
    frame_stack: int = 4,
    terminal_on_life_loss: bool | None = None,
    clip_reward: bool | None = None,
    sticky_action_prob: float = 0.0,
    fire_on_reset: bool = True,
    full_action_space: bool = False,
    max_episode_frames: int = 108_000,
) -> AtariVector:
    """``num_envs`` copies of a game stepped in ale-py's C++ ``AtariVectorEnv``.

    The same preprocessing as :func:`make_atari`, done natively in C++: no-op starts, frame
    skip with max-pooling, 84x84 grayscale, frame stack, fire on reset, and reward clipping
    in training mode; termination on life loss (training mode) is detected in
    :class:`AtariVector`. **The autoreset mode is same-step**; see :class:`AtariVector`.

    Args:
        game: as in :func:`make_atari`.
        num_envs: number of sub-environments.
        training: as in :func:`make_atari`.
        seed: seeds sub-env ``i`` with ``seed + i`` at the first ``reset()`` given no seed.
        num_threads: C++ worker threads (0: ale-py's choice).
        Others: the fields of :class:`AtariConfig`.

    Returns:
        A vector env with observations ``(num_envs, frame_stack, screen_size, screen_size)``
        uint8 and float32 rewards ``(num_envs,)``.
    """
    config = AtariConfig(
        game=game,
        training=training,
        noop_max=noop_max,
        frame_skip=frame_skip,
        screen_size=screen_size,
        frame_stack=frame_stack,
        terminal_on_life_loss=terminal_on_life_loss,
        clip_reward=clip_reward,
        sticky_action_prob=sticky_action_prob,
        fire_on_reset=fire_on_reset,
        full_action_space=full_action_space,
        max_episode_frames=max_episode_frames,
    )
    _positive_int(num_envs, "num_envs")
    _positive_int(num_threads, "num_threads", minimum=0)
    env = AtariVectorEnv(
        config.game,
        num_envs,
        num_threads=num_threads,
        max_num_frames_per_episode=config.max_episode_frames,
        repeat_action_probability=config.sticky_action_prob,
        full_action_space=config.full_action_space,
        img_height=config.screen_size,
        img_width=config.screen_size,
        grayscale=True,
        stack_num=config.frame_stack,
        frameskip=config.frame_skip,
        maxpool=True,
        noop_max=config.noop_max,
        autoreset_mode=AutoresetMode.NEXT_STEP,  # made same-step by AtariVector
        episodic_life=False,
        life_loss_info=False,
        reward_clipping=config.clip_reward,
        use_fire_reset=config.fire_on_reset,
    )
    return AtariVector(env, terminal_on_life_loss=config.terminal_on_life_loss, seed=seed)
