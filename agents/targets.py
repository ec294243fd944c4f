"""The (Double) DQN regression target, shared by ``DQN.update`` and the
hand-written ``MLPUpdate``."""

from __future__ import annotations

import torch


def td_target(
    rewards: torch.Tensor,
    terminated: torch.Tensor,
    discounts: torch.Tensor,
    next_q_target: torch.Tensor,
    next_q_online: torch.Tensor | None = None,
) -> torch.Tensor:
    """The (Double) DQN regression target.

        a* = argmax_a Q_online(s', a)          (Double DQN; argmax_a Q_target(s', a)
                                                without next_q_online)
        y  = R + gamma^k * (1 - terminated) * Q_target(s', a*)

    Args:
        rewards: (batch,) n-step discounted reward sums R.
        terminated: (batch,) bool or 0/1: the window ended in a termination (truncation bootstraps).
        discounts: (batch,) gamma^k for the k rewards in R.
        next_q_target: (batch, n_actions) target-network Q-values of s'.
        next_q_online: (batch, n_actions) online-network Q-values of s', or None for vanilla DQN.

    Returns:
        (batch,) targets, without gradient.
    """
    chooser = next_q_target if next_q_online is None else next_q_online  # (batch, n_actions)
    next_actions = chooser.argmax(dim=1, keepdim=True)  # (batch, 1)
    next_values = next_q_target.gather(1, next_actions).squeeze(1)  # (batch,)
    alive = 1.0 - terminated.to(next_values.dtype)  # (batch,)
    return (rewards + discounts * alive * next_values).detach()  # (batch,)
