"""The one action check every env makes: exactly what its ``action_space.contains`` accepts.

Issue 18: GridWorld took ``True`` as action 1 while the Student env refused it. Every env
now asks its own action space, so what an env accepts is by construction what Gymnasium's
``contains`` accepts (gymnasium 1.x), and the error says why anything else was refused.

- A single env (``Discrete(n, start)``): a Python ``int`` in ``[start, start + n)``, or a
  numpy integer scalar or 0-d integer array of a dtype that casts safely to the space's
  (int64). A Python ``bool`` is an ``int`` (``True`` is action 1), so it is accepted, as
  ``Discrete.contains`` does; a numpy ``bool_``, a float (even ``1.0``), a string and a
  ``uint64`` (no safe cast to int64) are refused.
- A vector env (``MultiDiscrete``): an array (or list) of shape ``(num_envs,)`` whose dtype
  casts safely to int64 and whose values are in range. Here Gymnasium's rule differs from
  the single env's: ``np.can_cast(bool, int64)`` holds, so a bool array is accepted (as
  0/1), while a float array is refused.

Errors: ``TypeError`` when the action's type or dtype is not one of those, ``ValueError``
when it is an integer out of range or an array of the wrong shape; both name the env, the
action and what is allowed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from gymnasium import spaces

__all__ = ["check_discrete_action", "check_vector_actions"]

_SINGLE_TYPES = (
    "a Python int (a bool counts as 0/1) or a numpy integer scalar of a dtype that casts "
    "safely to {dtype}, as gymnasium's Discrete.contains accepts"
)


def _allowed(noun: str, low: int, high: int, labels: str) -> str:
    return f"allowed {noun}s are {low}..{high} (integer {noun}s in [{low}, {high}]{labels})"


def check_discrete_action(
    space: spaces.Discrete, action: Any, where: str, noun: str = "action", labels: str = ""
) -> int:
    """``action`` as a Python int if ``space.contains(action)``, else a clear error.

    Args:
        space: The env's ``Discrete`` action space.
        action: What the caller passed to ``step``.
        where: Who checks, for the message (``"GridWorldEnv.step"``).
        noun: What an action is, for the message ("action", "exercise id").
        labels: Extra text after the range (", 0 left, 1 down": what each action means).

    Returns:
        The action as a Python int.

    Raises:
        TypeError: if the action's type is not one ``Discrete.contains`` accepts.
        ValueError: if it is an integer outside the space, or an array that is not 0-d.
    """
    if space.contains(action):
        return int(action)
    low, high = int(space.start), int(space.start + space.n - 1)
    allowed = _allowed(noun, low, high, labels)
    is_array = isinstance(action, (np.ndarray, np.generic))
    integer = isinstance(action, int) or (is_array and np.issubdtype(action.dtype, np.integer))
    if integer and is_array and action.shape != ():
        raise ValueError(
            f"{where}: invalid action {action!r}: expected one {noun}, got an array of shape "
            f"{action.shape}; {allowed}"
        )
    if integer and (not is_array or np.can_cast(action.dtype, space.dtype)):
        raise ValueError(f"{where}: invalid action {int(action)}; {allowed}")
    kind = f"dtype {action.dtype}" if is_array else f"type {type(action).__name__}"
    types = _SINGLE_TYPES.format(dtype=space.dtype)
    raise TypeError(f"{where}: invalid action {action!r} of {kind}; {allowed}: {types}")


def check_vector_actions(
    space: spaces.MultiDiscrete, actions: Any, where: str, noun: str = "action"
) -> np.ndarray:
    """``actions`` as an int64 array if ``space.contains(actions)``, else a clear error.

    Args:
        space: The vector env's ``MultiDiscrete`` action space, shape ``(num_envs,)``,
            one range for all envs.
        actions: What the caller passed to ``step``, shape ``(num_envs,)``.
        where: Who checks, for the message.
        noun: What an action is, for the message.

    Returns:
        ``(num_envs,)`` int64 actions.

    Raises:
        TypeError: if ``actions`` is not an array or sequence, or its dtype does not cast
            safely to int64 (floats, uint64, strings).
        ValueError: if its shape is not ``(num_envs,)`` or a value is out of range.
    """
    if space.contains(actions):
        return np.asarray(actions).astype(np.int64, copy=False)
    low, high = int(np.min(space.start)), int(np.max(space.start + space.nvec - 1))
    allowed = _allowed(noun, low, high, "")
    if not isinstance(actions, (Sequence, np.ndarray)) or isinstance(actions, str):
        raise TypeError(
            f"{where}: actions must be an array of shape {space.shape}, got "
            f"{type(actions).__name__}; {allowed}"
        )
    array = np.asarray(actions)
    if array.shape != space.shape:
        raise ValueError(
            f"{where}: expected actions of shape {space.shape}, got shape {array.shape}"
        )
    if not np.can_cast(array.dtype, space.dtype):
        raise TypeError(
            f"{where}: actions must be integers of a dtype that casts safely to {space.dtype}, "
            f"got dtype {array.dtype}; {allowed}"
        )
    bad = np.flatnonzero((array < space.start) | (array > space.start + space.nvec - 1))
    first = int(bad[0])
    raise ValueError(
        f"{where}: invalid action {int(array[first])} at index {first} (invalid actions "
        f"{array[bad].tolist()} at indices {bad.tolist()}); {allowed}"
    )
