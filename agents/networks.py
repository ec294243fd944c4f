"""From a Gymnasium observation space to a Q-network built of ``nets`` parts.

The only place that knows spaces: ``ObservationAdapter`` turns a batch of observations
from a vector env into one numpy array (images stay uint8, Discrete becomes one-hot,
MultiBinary and Dict/Tuple are flattened to float32), and ``QNetwork`` picks the torso:
the Nature CNN for (channels, height, width) uint8 images, else an MLP.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from gymnasium import spaces
from torch import nn

from riley_gym import nets


class ObservationAdapter:
    """Converts batches of observations of ``space`` to one array per batch.

    Args:
        space: the observation space of one environment (a vector env's
            ``single_observation_space``).

    Attributes:
        shape: shape of one converted observation.
        dtype: numpy dtype of the converted array (uint8 for images, else float32).
        is_image: True for (channels, height, width) uint8 Box spaces (stacked frames).

    Raises:
        TypeError: for a space other than Box, Discrete, MultiBinary, Dict or Tuple of them.
    """

    def __init__(self, space: spaces.Space) -> None:
        self.space = space
        self.is_image = (
            isinstance(space, spaces.Box) and space.dtype == np.uint8 and len(space.shape) == 3
        )
        if self.is_image:
            self.shape: tuple[int, ...] = tuple(space.shape)
            self.dtype = np.dtype(np.uint8)
        else:
            self.shape = (_flat_size(space, "observation_space"),)
            self.dtype = np.dtype(np.float32)

    def __call__(self, batch) -> np.ndarray:
        """A vector env's observation batch -> (n_envs, *shape) array of ``dtype``."""
        if self.is_image:
            return np.asarray(batch, dtype=np.uint8)
        return _flatten_batch(self.space, batch).astype(np.float32, copy=False)


def _flat_size(space: spaces.Space, where: str) -> int:
    if isinstance(space, spaces.Box):
        return int(np.prod(space.shape))
    if isinstance(space, spaces.Discrete):
        return int(space.n)
    if isinstance(space, spaces.MultiBinary):
        return int(np.prod(space.shape))
    if isinstance(space, spaces.Dict):
        return sum(_flat_size(sub, f"{where}[{key!r}]") for key, sub in space.spaces.items())
    if isinstance(space, spaces.Tuple):
        return sum(_flat_size(sub, f"{where}[{i}]") for i, sub in enumerate(space.spaces))
    raise TypeError(
        f"{where} is a {type(space).__name__}; DQN accepts Box, Discrete, MultiBinary, and "
        "Dict/Tuple of them"
    )


def _flatten_batch(space: spaces.Space, batch) -> np.ndarray:
    """(n_envs, ...) batch of one space -> (n_envs, flat_size) float32, in the space's key order."""
    if isinstance(space, spaces.Discrete):
        index = np.asarray(batch, dtype=np.int64).reshape(-1) - int(space.start)  # (n_envs,)
        onehot = np.zeros((index.shape[0], int(space.n)), dtype=np.float32)  # (n_envs, n)
        onehot[np.arange(index.shape[0]), index] = 1.0
        return onehot
    if isinstance(space, (spaces.Box, spaces.MultiBinary)):
        array = np.asarray(batch, dtype=np.float32)
        return array.reshape(array.shape[0], -1)  # (n_envs, flat_size)
    if isinstance(space, spaces.Dict):
        return np.concatenate(
            [_flatten_batch(sub, batch[key]) for key, sub in space.spaces.items()], axis=1
        )
    if isinstance(space, spaces.Tuple):
        return np.concatenate(
            [_flatten_batch(sub, batch[i]) for i, sub in enumerate(space.spaces)], axis=1
        )
    raise TypeError(f"cannot flatten observations of a {type(space).__name__} space")


class QNetwork(nn.Module):
    """Torso (Nature CNN or MLP) followed by a ``nets.QHead``: obs -> E[R | A, S] per action.

    Args:
        obs_shape: shape of one adapted observation: (channels, height, width) for images,
            (features,) else.
        n_actions: number of discrete actions.
        is_image: use the Nature CNN torso (uint8 frames, scaled inside).
        hidden_sizes: MLP widths (ignored for images).
        dueling: dueling value/advantage head (Wang et al., 2016).
        head_hidden_size: hidden units of each head stream (0: linear).
    """

    def __init__(
        self,
        obs_shape: Sequence[int],
        n_actions: int,
        is_image: bool,
        hidden_sizes: Sequence[int] = (256, 256),
        dueling: bool = False,
        head_hidden_size: int = 0,
    ) -> None:
        super().__init__()
        if is_image:
            channels, height, width = obs_shape
            self.torso: nn.Module = nets.NatureCNN(channels, height, width, out_features=512)
            width_out = 512
        else:
            self.torso = nets.MLP(int(obs_shape[0]), tuple(hidden_sizes), out_features=None)
            width_out = self.torso.out_features
        self.head = nets.QHead(width_out, n_actions, dueling=dueling, hidden_size=head_hidden_size)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        """(batch, *obs_shape) -> (batch, n_actions) Q-values."""
        return self.head(self.torso(obs))  # (batch, n_actions)


def batch_of_one(space: spaces.Space, obs):
    """One observation of ``space`` -> a batch of one, as a vector env would give it."""
    if isinstance(space, spaces.Dict):
        return {key: batch_of_one(sub, obs[key]) for key, sub in space.spaces.items()}
    if isinstance(space, spaces.Tuple):
        return tuple(batch_of_one(sub, item) for sub, item in zip(space.spaces, obs))
    return np.asarray(obs)[None]
