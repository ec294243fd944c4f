"""Output heads: per-item sigmoid, softmax over classes,
and Q-values with an optional dueling split."""

from __future__ import annotations

import torch
from torch import nn


class SigmoidHead(nn.Module):
    """One independent logit per item (e.g. per skill in knowledge tracing).

    ``forward`` returns logits, so losses use BCE-with-logits;
    ``probabilities`` applies the sigmoid.
    """

    def __init__(self, in_features: int, n_items: int) -> None:
        super().__init__()
        if in_features < 1 or n_items < 1:
            raise ValueError(f"in_features and n_items must be >= 1, got {in_features}, {n_items}")
        self.linear = nn.Linear(in_features, n_items)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """(..., in_features) -> (..., n_items) logits."""
        return self.linear(features)

    def probabilities(self, features: torch.Tensor) -> torch.Tensor:
        """(..., in_features) -> (..., n_items) probabilities in (0, 1)."""
        return torch.sigmoid(self.forward(features))


class SoftmaxHead(nn.Module):
    """Logits over mutually exclusive classes; ``probabilities`` applies the softmax."""

    def __init__(self, in_features: int, n_classes: int) -> None:
        super().__init__()
        if in_features < 1 or n_classes < 2:
            raise ValueError(
                f"in_features must be >= 1 and n_classes >= 2, got {in_features}, {n_classes}"
            )
        self.linear = nn.Linear(in_features, n_classes)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """(..., in_features) -> (..., n_classes) logits."""
        return self.linear(features)

    def probabilities(self, features: torch.Tensor) -> torch.Tensor:
        """(..., in_features) -> (..., n_classes), summing to 1 over the last axis."""
        return torch.softmax(self.forward(features), dim=-1)


class QHead(nn.Module):
    """Q-values: one expected return E[R | A_i, S] per action, not probabilities.

    With ``dueling=True`` (Wang et al., 2016): Q(s, a) = V(s) + A(s, a) - mean_a A(s, a),
    each stream with its own hidden layer of ``hidden_size`` units (0: linear streams).
    """

    def __init__(
        self, in_features: int, n_actions: int, dueling: bool = False, hidden_size: int = 0
    ) -> None:
        super().__init__()
        if in_features < 1 or n_actions < 1 or hidden_size < 0:
            raise ValueError(
                f"in_features and n_actions must be >= 1 and hidden_size >= 0, got {in_features}, "
                f"{n_actions}, {hidden_size}"
            )
        self.dueling = dueling
        self.n_actions = n_actions

        def stream(n_out: int) -> nn.Module:
            if hidden_size == 0:
                return nn.Linear(in_features, n_out)
            return nn.Sequential(
                nn.Linear(in_features, hidden_size), nn.ReLU(), nn.Linear(hidden_size, n_out)
            )

        if dueling:
            self.value = stream(1)
            self.advantage = stream(n_actions)
        else:
            self.q = stream(n_actions)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """(batch, in_features) -> (batch, n_actions) Q-values."""
        if not self.dueling:
            return self.q(features)
        value = self.value(features)  # (batch, 1)
        advantage = self.advantage(features)  # (batch, n_actions)
        return value + advantage - advantage.mean(dim=-1, keepdim=True)  # (batch, n_actions)
