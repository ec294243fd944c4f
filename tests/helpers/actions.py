"""Actions of every kind a caller might pass to ``step``, with what the contract says of each.

The contract (issue 18, ``envs.actions``): an env accepts an action exactly when its
``action_space.contains`` does, and otherwise raises ``ValueError`` for an integer out of
range (or an array of the wrong shape) and ``TypeError`` for any other type. ``expected``
below is written by hand from that rule, independently of the envs' code; the tests also
compare acceptance with ``contains`` itself.
"""

import numpy as np


def single_actions(space):
    """``[(label, action, expected)]`` for a ``Discrete`` space; ``expected`` is None
    (accepted) or the exception class."""
    low, high = int(space.start), int(space.start + space.n - 1)
    return [
        ("lowest int", low, None),
        ("highest int", high, None),
        ("numpy int64", np.int64(high), None),
        ("numpy int8", np.int8(low), None),
        ("numpy uint8", np.uint8(low + 1), None),
        ("0-d int array", np.array(low + 1), None),
        ("True (a Python int, 1)", True, None),
        ("False (0)", False, None),
        ("int below the range", low - 1, ValueError),
        ("int above the range", high + 1, ValueError),
        ("int beyond int64", 2**70, ValueError),
        ("numpy int64 above", np.int64(high + 1), ValueError),
        ("1-element array", np.array([low]), ValueError),
        ("numpy bool", np.True_, TypeError),
        ("float 1.0", 1.0, TypeError),
        ("numpy float32", np.float32(low), TypeError),
        ("numpy uint64 (no safe cast)", np.uint64(low), TypeError),
        ("string '1'", "1", TypeError),
        ("None", None, TypeError),
    ]


def vector_actions(space):
    """``[(label, actions, expected)]`` for a ``MultiDiscrete`` space of ``(num_envs,)``."""
    n = space.shape[0]
    high = int(space.nvec[0] - 1)
    ones = np.ones(n, dtype=np.int64)
    return [
        ("int64 array", ones * high, None),
        ("list of ints", [0] * n, None),
        ("uint8 array", ones.astype(np.uint8), None),
        ("bool array (casts safely to int64)", ones.astype(bool), None),
        ("value above the range", np.concatenate([[high + 1], ones[1:]]), ValueError),
        ("negative value", -ones, ValueError),
        ("wrong shape", ones[:-1], ValueError),
        ("float array", ones.astype(np.float64), TypeError),
        ("uint64 array (no safe cast)", ones.astype(np.uint64), TypeError),
        ("a single int", 1, TypeError),
    ]
