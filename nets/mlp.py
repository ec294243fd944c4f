"""Multilayer perceptron: logistic regression with stacked hidden layers in between."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

ACTIVATIONS = {
    "relu": nn.ReLU,
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
    "gelu": nn.GELU,
    "elu": nn.ELU,
}


def make_activation(name: str) -> nn.Module:
    """Return a fresh activation module by name; raises ValueError for unknown names."""
    if name not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {name!r}")
    return ACTIVATIONS[name]()


class MLP(nn.Module):
    """Linear layers with an activation (and optional dropout) between them.

    With ``hidden_sizes=()`` this is a single linear layer: logistic regression when its
    output goes through a sigmoid.

    Args:
        in_features: size of each input vector.
        hidden_sizes: widths of the hidden layers, in order.
        out_features: size of each output vector; None ends the network after the last
            hidden layer (its activation included), for use as a torso.
        activation: name of the hidden activation (relu, tanh, sigmoid, gelu, elu).
        dropout: dropout probability after each hidden activation.
    """

    def __init__(
        self,
        in_features: int,
        hidden_sizes: Sequence[int] = (64, 64),
        out_features: int | None = None,
        activation: str = "relu",
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if in_features < 1:
            raise ValueError(f"in_features must be >= 1, got {in_features}")
        if any(h < 1 for h in hidden_sizes):
            raise ValueError(f"hidden_sizes must all be >= 1, got {list(hidden_sizes)}")
        if out_features is not None and out_features < 1:
            raise ValueError(f"out_features must be >= 1 or None, got {out_features}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        if out_features is None and not hidden_sizes:
            raise ValueError("an MLP needs hidden_sizes or out_features")
        layers: list[nn.Module] = []
        width = in_features
        for hidden in hidden_sizes:
            layers += [nn.Linear(width, hidden), make_activation(activation)]
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            width = hidden
        if out_features is not None:
            layers.append(nn.Linear(width, out_features))
            width = out_features
        self.layers = nn.Sequential(*layers)
        self.in_features = in_features
        self.out_features = width

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(..., in_features) -> (..., out_features)."""
        return self.layers(x)
