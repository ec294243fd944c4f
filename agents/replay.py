"""Replay buffers for DQN: a plain one for vector observations and one that stores
each Atari frame once.

Both keep one ring per environment stream of a vector env (``n_envs`` rings of
``ceil(capacity / n_envs)`` entries), in preallocated numpy arrays, so that n-step
returns can look ahead along a stream and no Python object is made per transition.
Randomness comes only from the numpy Generator the agent hands in.

The collector calls ``add(obs, actions, rewards, terminated, truncated, next_obs, mask)``
once per vector step, where ``next_obs`` is the true next observation (the final
observation on rows whose episode ended) and ``mask`` leaves out rows that are not
transitions (the reset step of Gymnasium's NEXT_STEP autoreset mode).

``sample`` returns a ``Batch`` whose ``returns`` are n-step returns cut at the first
termination or truncation in the window and at the newest stored transition, with
``discounts`` = gamma^k for the k rewards summed and ``terminated`` the termination flag
of the last one (the bootstrap mask: truncation bootstraps, termination does not).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np


class Batch(NamedTuple):
    """A sampled batch (numpy arrays; B = batch size).

    Attributes:
        obs: (B, *obs_shape) observations.
        actions: (B,) int64 actions taken.
        returns: (B,) float32 discounted sum of the k <= n rewards in the window.
        terminated: (B,) bool, True when the window ends in a termination (no bootstrap).
        discounts: (B,) float32 gamma^k, the discount of the bootstrap value.
        next_obs: (B, *obs_shape) observation after the last reward of the window.
    """

    obs: np.ndarray
    actions: np.ndarray
    returns: np.ndarray
    terminated: np.ndarray
    discounts: np.ndarray
    next_obs: np.ndarray


def n_step_window(
    rewards: np.ndarray,
    terminated: np.ndarray,
    ended: np.ndarray,
    available: np.ndarray,
    gamma: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Cut n-step windows at episode ends and at missing transitions, and sum their rewards.

    Step k of a window is used when every step before it is used, it is available, and no
    step before it ended its episode (terminated or truncated). Step 0 is always used.

        R = sum_{k used} gamma^k r_k,   discount = gamma^(last + 1),   terminated = terminated_last

    Args:
        rewards: (batch, n) rewards of the steps of each window.
        terminated: (batch, n) bool, step k's episode terminated.
        ended: (batch, n) bool, step k's episode terminated or was truncated.
        available: (batch, n) bool, step k is a stored transition of the same stream.
        gamma: discount factor.

    Returns:
        (returns (batch,) float32, terminated (batch,) bool, discounts (batch,) float32,
        last (batch,) int64 offset of the last step used).
    """
    batch, n = rewards.shape
    ended_before = np.cumsum(ended, axis=1) - ended  # (batch, n) episode ends strictly before k
    usable = available & (ended_before == 0)  # (batch, n)
    usable[:, 0] = True
    used = np.cumprod(usable, axis=1).astype(bool)  # (batch, n) a contiguous prefix
    powers = gamma ** np.arange(n, dtype=np.float64)  # (n,)
    returns = (rewards * powers * used).sum(axis=1).astype(np.float32)  # (batch,)
    last = used.sum(axis=1) - 1  # (batch,)
    last_terminated = terminated[np.arange(batch), last]  # (batch,)
    discounts = (gamma ** (last + 1.0)).astype(np.float32)  # (batch,)
    return returns, last_terminated, discounts, last.astype(np.int64)


def _check_common(capacity: int, n_envs: int, n_step: int, gamma: float) -> None:
    if capacity < 1:
        raise ValueError(f"replay capacity must be >= 1 transitions, got {capacity}")
    if n_envs < 1:
        raise ValueError(f"replay n_envs must be >= 1, got {n_envs}")
    if n_step < 1:
        raise ValueError(f"replay n_step must be >= 1, got {n_step}")
    if not 0.0 <= gamma <= 1.0:
        raise ValueError(f"replay gamma must be in [0, 1], got {gamma}")


class _StreamRings:
    """Shared bookkeeping: per-stream rings of ``slots`` entries with absolute write counters."""

    stack = 1  # entries an observation reaches back (frames of a stack)

    def __init__(
        self, capacity: int, n_envs: int, n_step: int, gamma: float, rng: np.random.Generator
    ) -> None:
        _check_common(capacity, n_envs, n_step, gamma)
        self.capacity, self.n_envs, self.n_step, self.gamma, self.rng = (
            capacity,
            n_envs,
            n_step,
            gamma,
            rng,
        )
        self.slots = math.ceil(capacity / n_envs)
        self.written = np.zeros(n_envs, dtype=np.int64)  # entries ever written per stream
        self.all_streams = np.arange(
            n_envs
        )  # (n_envs,) row indices of a step that stores every stream
        self.actions = np.zeros((n_envs, self.slots), dtype=np.int64)
        self.rewards = np.zeros((n_envs, self.slots), dtype=np.float32)
        self.terminated = np.zeros((n_envs, self.slots), dtype=bool)
        self.ended = np.zeros((n_envs, self.slots), dtype=bool)
        self.is_transition = np.zeros((n_envs, self.slots), dtype=bool)

    def _oldest(self) -> np.ndarray:
        """(n_envs,) oldest absolute entry whose observation is still whole in the ring."""
        return np.maximum(self.written - self.slots + self.stack - 1, 0)

    def __len__(self) -> int:
        return int(self.is_transition.sum())

    def sample_indices(self, batch_size: int) -> tuple[np.ndarray, np.ndarray]:
        """Uniform (env, absolute entry) indices of stored transitions, each (batch_size,) int64."""
        low, high = self._oldest(), self.written
        counts = np.maximum(high - low, 0).astype(np.float64)  # (n_envs,)
        if len(self) == 0:
            raise ValueError("cannot sample from an empty replay buffer; add transitions first")
        envs = np.empty(batch_size, dtype=np.int64)
        entries = np.empty(batch_size, dtype=np.int64)
        todo = np.arange(batch_size)
        while (
            todo.size
        ):  # rejection of entries that are not transitions (pending or final-frame entries)
            env = (
                self.rng.choice(self.n_envs, size=todo.size, p=counts / counts.sum())
                if self.n_envs > 1
                else np.zeros(todo.size, dtype=np.int64)
            )
            entry = low[env] + (self.rng.random(todo.size) * counts[env]).astype(np.int64)
            keep = self.is_transition[env, entry % self.slots]
            envs[todo[keep]], entries[todo[keep]] = env[keep], entry[keep]
            todo = todo[~keep]
        return envs, entries

    def valid_indices(self) -> tuple[np.ndarray, np.ndarray]:
        """All sampleable (env, absolute entry) pairs, stream by stream in insertion order."""
        envs, entries = [], []
        for env in range(self.n_envs):
            entry = np.arange(self._oldest()[env], self.written[env])
            entry = entry[self.is_transition[env, entry % self.slots]]
            envs.append(np.full(entry.size, env, dtype=np.int64))
            entries.append(entry)
        return np.concatenate(envs), np.concatenate(entries)

    def _window(self, envs: np.ndarray, entries: np.ndarray):
        """n-step windows starting at the given entries: see ``n_step_window``."""
        ahead = entries[:, None] + np.arange(self.n_step)  # (B, n) absolute entries
        slots = ahead % self.slots  # (B, n)
        rows = envs[:, None]  # (B, 1)
        available = (ahead < self.written[rows]) & self.is_transition[rows, slots]  # (B, n)
        return n_step_window(
            self.rewards[rows, slots],
            self.terminated[rows, slots],
            self.ended[rows, slots],
            available,
            self.gamma,
        )

    def sample(self, batch_size: int) -> Batch:
        """A uniform batch of n-step transitions."""
        return self.gather(*self.sample_indices(batch_size))

    def _ring_state(self) -> dict:
        return {
            "written": self.written,
            "actions": self.actions,
            "rewards": self.rewards,
            "terminated": self.terminated,
            "ended": self.ended,
            "is_transition": self.is_transition,
        }

    def load_state_dict(self, state: dict) -> None:
        """Restore arrays saved by ``state_dict`` (numpy arrays or CPU tensors)."""
        for name, current in self.state_dict().items():
            value = np.asarray(state[name])
            if value.shape != np.shape(current):
                raise ValueError(
                    f"replay state {name!r} has shape {value.shape}, this buffer "
                    f"needs {np.shape(current)}"
                )
            if isinstance(current, np.ndarray):
                current[...] = value
            else:
                setattr(self, name, value.copy())

    @property
    def nbytes(self) -> int:
        """Bytes held by the buffer's arrays."""
        return int(sum(np.asarray(value).nbytes for value in self.state_dict().values()))

    @property
    def bytes_per_transition(self) -> float:
        """Bytes per stored entry at full capacity (the frame buffer also spends one entry
        per episode end)."""
        return self.nbytes / (self.slots * self.n_envs)


class ReplayBuffer(_StreamRings):
    """Stores obs and next_obs of every transition: for vector observations
    (and as the naive reference).

    Args:
        capacity: transitions held (split evenly over the streams).
        obs_shape: shape of one observation.
        obs_dtype: numpy dtype of observations.
        n_envs: streams (environments of the vector env).
        rng: the agent's numpy Generator; all sampling draws from it.
        n_step: rewards summed per target (1: one-step DQN).
        gamma: discount of the n-step sum.
    """

    def __init__(
        self,
        capacity: int,
        obs_shape: tuple[int, ...],
        obs_dtype,
        n_envs: int,
        rng: np.random.Generator,
        n_step: int = 1,
        gamma: float = 0.99,
    ) -> None:
        super().__init__(capacity, n_envs, n_step, gamma, rng)
        self.obs = np.zeros((n_envs, self.slots, *obs_shape), dtype=obs_dtype)
        self.next_obs = np.zeros((n_envs, self.slots, *obs_shape), dtype=obs_dtype)

    def add(self, obs, actions, rewards, terminated, truncated, next_obs, mask=None) -> None:
        """Store one vector step: each argument is (n_envs, ...); ``mask``
        (n_envs,) bool picks the rows stored."""
        if mask is None or mask.all():  # every row (the usual case): no row gathers
            rows = self.all_streams
        else:
            rows = np.flatnonzero(mask)
            obs, next_obs, actions, rewards, terminated, truncated = (
                x[rows] for x in (obs, next_obs, actions, rewards, terminated, truncated)
            )
        slots = self.written[rows] % self.slots
        self.obs[rows, slots] = obs
        self.next_obs[rows, slots] = next_obs
        self.actions[rows, slots] = actions
        self.rewards[rows, slots] = rewards
        self.terminated[rows, slots] = terminated
        self.ended[rows, slots] = np.logical_or(terminated, truncated)
        self.is_transition[rows, slots] = True
        self.written[rows] += 1

    def gather(self, envs: np.ndarray, entries: np.ndarray) -> Batch:
        """The n-step transitions starting at (env, absolute entry) pairs."""
        returns, terminated, discounts, last = self._window(envs, entries)
        slots = entries % self.slots
        return Batch(
            self.obs[envs, slots],
            self.actions[envs, slots],
            returns,
            terminated,
            discounts,
            self.next_obs[envs, (entries + last) % self.slots],
        )

    def state_dict(self) -> dict:
        """The buffer's arrays (for checkpoints); restore with ``load_state_dict``."""
        return {**self._ring_state(), "obs": self.obs, "next_obs": self.next_obs}


class FrameReplayBuffer(_StreamRings):
    """Stores each frame of stacked-frame observations once, rebuilding stacks when sampled.

    One entry per step of a stream holds the newest frame of the observation, the action
    taken from it and what followed. An episode end writes one more entry, the newest frame
    of the final observation (not itself a transition), so truncated episodes bootstrap from
    the true final stack. A new episode whose first stack continues the final one (Atari
    after a life loss, ``envs.atari``) starts at that final entry instead. Otherwise stacks
    reaching back past their episode's first entry are padded as the environment padded them
    at reset: zeros, or repeats of the first frame (detected per episode from the reset
    stack). Bytes per entry: one frame (H*W) + 21.

    Args:
        capacity: entries held (transitions plus one per episode end), split over the streams.
        frame_shape: (stack, height, width) of one observation, e.g. (4, 84, 84).
        n_envs: streams (environments of the vector env).
        rng: the agent's numpy Generator.
        n_step: rewards summed per target.
        gamma: discount of the n-step sum.

    Raises:
        ValueError: from ``add`` if an episode's first stack is neither zero- nor repeat-padded.
    """

    def __init__(
        self,
        capacity: int,
        frame_shape: tuple[int, int, int],
        n_envs: int,
        rng: np.random.Generator,
        n_step: int = 1,
        gamma: float = 0.99,
    ) -> None:
        if len(frame_shape) != 3:
            raise ValueError(f"frame_shape must be (stack, height, width), got {frame_shape}")
        super().__init__(capacity, n_envs, n_step, gamma, rng)
        self.stack = int(frame_shape[0])
        self.frames = np.zeros((n_envs, self.slots, *frame_shape[1:]), dtype=np.uint8)
        self.first = np.zeros((n_envs, self.slots), dtype=bool)  # entry starts an episode
        self.zero_pad = np.zeros(
            (n_envs, self.slots), dtype=bool
        )  # its episode pads stacks with zeros
        self.pending = np.zeros(n_envs, dtype=bool)  # the newest entry is the current observation

    def _write_first(self, env: int, obs: np.ndarray) -> None:
        last = self.written[env] - 1  # the previous episode's final-frame entry, if any
        if last >= 0 and not self.is_transition[env, last % self.slots]:
            if np.array_equal(self._stacks(np.array([env]), np.array([last]))[0], obs):
                # The stack goes on (an Atari life loss): the final entry starts this episode.
                self.pending[env] = True
                return
        older, newest = obs[:-1], obs[-1]
        if np.array_equal(older, np.broadcast_to(newest, older.shape)):
            zero_pad = False
        elif not older.any():
            zero_pad = True
        else:
            raise ValueError(
                f"stream {env}: the first observation of an episode must be a zero- or "
                "repeat-padded frame stack for FrameReplayBuffer; use ReplayBuffer "
                "for this environment"
            )
        slot = self.written[env] % self.slots
        self.frames[env, slot], self.first[env, slot], self.zero_pad[env, slot] = (
            newest,
            True,
            zero_pad,
        )
        self.is_transition[env, slot] = False
        self.written[env] += 1
        self.pending[env] = True

    def add(self, obs, actions, rewards, terminated, truncated, next_obs, mask=None) -> None:
        """Store one vector step of (n_envs, stack, H, W) uint8 observations;
        see ``ReplayBuffer.add``."""
        rows = np.arange(self.n_envs) if mask is None else np.flatnonzero(mask)
        for env in rows[~self.pending[rows]]:  # episode starts: store the reset frame first
            self._write_first(int(env), obs[env])
        slots = (self.written[rows] - 1) % self.slots  # the pending entry of each row
        ended = np.logical_or(terminated[rows], truncated[rows])
        self.actions[rows, slots] = actions[rows]
        self.rewards[rows, slots] = rewards[rows]
        self.terminated[rows, slots] = terminated[rows]
        self.ended[rows, slots] = ended
        self.is_transition[rows, slots] = True
        slots = self.written[rows] % self.slots  # the next observation's entry
        self.frames[rows, slots] = next_obs[rows, -1]
        self.first[rows, slots] = False
        self.is_transition[rows, slots] = False
        self.written[rows] += 1
        self.pending[rows] = ~ended  # after an end, the next add starts a new episode

    def _stacks(self, envs: np.ndarray, newest: np.ndarray) -> np.ndarray:
        """(B,) env and absolute newest entry -> (B, stack, H, W) uint8 stacks,
        padded at episode starts."""
        back = np.arange(self.stack - 1, -1, -1)  # (stack,) frames back from the newest
        rows = envs[:, None]  # (B, 1)
        firsts = self.first[
            rows, (newest[:, None] - np.arange(self.stack - 1)) % self.slots
        ]  # (B, stack-1) entry newest-m is first
        seen_first = np.cumsum(firsts, axis=1) > 0  # (B, stack-1) a first entry within 0..m back
        outside = np.zeros(
            (newest.size, self.stack), dtype=bool
        )  # (B, stack) frame is before the episode
        outside[:, :-1] = seen_first[
            :, ::-1
        ]  # frame k back (k >= 1) is outside iff seen_first[k - 1]
        start = newest - np.argmax(
            firsts, axis=1
        )  # (B,) the episode's first entry when one is in reach
        entries = np.where(outside, start[:, None], newest[:, None] - back)  # (B, stack)
        stacks = self.frames[rows, entries % self.slots]  # (B, stack, H, W)
        zeroed = outside & self.zero_pad[envs, start % self.slots][:, None]  # (B, stack)
        stacks[zeroed] = 0
        return stacks

    def gather(self, envs: np.ndarray, entries: np.ndarray) -> Batch:
        """The n-step transitions starting at (env, absolute entry) pairs, stacks rebuilt."""
        returns, terminated, discounts, last = self._window(envs, entries)
        slots = entries % self.slots
        return Batch(
            self._stacks(envs, entries),
            self.actions[envs, slots],
            returns,
            terminated,
            discounts,
            self._stacks(envs, entries + last + 1),
        )

    def state_dict(self) -> dict:
        """The buffer's arrays (for checkpoints); restore with ``load_state_dict``."""
        return {
            **self._ring_state(),
            "frames": self.frames,
            "first": self.first,
            "zero_pad": self.zero_pad,
            "pending": self.pending,
        }
