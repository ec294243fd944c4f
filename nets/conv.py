"""The Nature-DQN convolutional torso (Mnih et al., 2015): shared weights over the frame."""

from __future__ import annotations

import torch
from torch import nn


class NatureCNN(nn.Module):
    """Three convolutions and a linear layer over stacked uint8 frames.

    Frames arrive as uint8 in [0, 255] and are scaled to [0, 1] inside the module, so
    replay buffers and environments keep the 4x smaller uint8 arrays.

    Args:
        in_channels: stacked frames (4 in Nature DQN).
        height: frame height (84).
        width: frame width (84).
        out_features: width of the final linear layer (512).
    """

    def __init__(
        self, in_channels: int = 4, height: int = 84, width: int = 84, out_features: int = 512
    ) -> None:
        super().__init__()
        if min(in_channels, height, width, out_features) < 1:
            raise ValueError(
                f"NatureCNN sizes must be >= 1, got in_channels={in_channels}, height={height}, "
                f"width={width}, out_features={out_features}"
            )
        self.convs = nn.Sequential(
            nn.Conv2d(in_channels, 32, kernel_size=8, stride=4),
            nn.ReLU(),
            nn.Conv2d(32, 64, kernel_size=4, stride=2),
            nn.ReLU(),
            nn.Conv2d(64, 64, kernel_size=3, stride=1),
            nn.ReLU(),
            nn.Flatten(),
        )
        with torch.no_grad():
            n_flat = self.convs(torch.zeros(1, in_channels, height, width)).shape[1]
        self.linear = nn.Sequential(nn.Linear(n_flat, out_features), nn.ReLU())
        self.in_shape = (in_channels, height, width)
        self.out_features = out_features

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        """(batch, channels, height, width) uint8 or float in [0, 255] -> (batch, out_features)."""
        if self.convs[0].weight.is_contiguous(memory_format=torch.channels_last):
            # Channels-last weights (see DQN): re-lay the uint8 frames out now, 4x fewer bytes than
            # after the float conversion; the first convolution would otherwise convert its float
            # input (7% of a Breakout update).
            frames = frames.contiguous(memory_format=torch.channels_last)
        x = frames.float() / 255.0  # (batch, C, H, W) in [0, 1], same memory format as frames
        return self.linear(self.convs(x))  # (batch, out_features)
