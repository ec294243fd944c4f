"""Observation adapters and the torso choice."""

import gymnasium as gym
import numpy as np
import pytest
import torch

from riley_gym import nets
from riley_gym.agents.networks import ObservationAdapter, QNetwork


def test_discrete_becomes_one_hot():
    adapter = ObservationAdapter(gym.spaces.Discrete(4, start=1))
    np.testing.assert_array_equal(adapter(np.array([1, 4])), [[1, 0, 0, 0], [0, 0, 0, 1]])


def test_dict_is_flattened_like_gymnasium():
    space = gym.spaces.Dict(
        {
            "answers": gym.spaces.MultiBinary(3),
            "last": gym.spaces.Discrete(2),
            "x": gym.spaces.Box(-1, 1, (2, 2)),
        }
    )
    samples = [space.sample() for _ in range(3)]
    batch = {key: np.stack([s[key] for s in samples]) for key in space.spaces}
    expected = np.stack([gym.spaces.flatten(space, s) for s in samples]).astype(np.float32)
    adapter = ObservationAdapter(space)
    assert adapter.shape == (3 + 2 + 4,)
    np.testing.assert_array_equal(adapter(batch), expected)


def test_images_keep_uint8_and_get_the_nature_cnn():
    adapter = ObservationAdapter(gym.spaces.Box(0, 255, (4, 84, 84), np.uint8))
    assert adapter.is_image and adapter.dtype == np.uint8
    net = QNetwork(adapter.shape, 6, adapter.is_image)
    assert isinstance(net.torso, nets.NatureCNN)
    assert net(torch.zeros(2, 4, 84, 84, dtype=torch.uint8)).shape == (2, 6)


def test_unsupported_space_is_a_type_error():
    with pytest.raises(TypeError, match="observation_space is a Text"):
        ObservationAdapter(gym.spaces.Text(5))
