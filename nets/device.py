"""Device selection, parameter counting and a free-core estimate for capping torch threads."""

from __future__ import annotations

import os

import torch
from torch import nn


def select_device(name: str = "auto") -> torch.device:
    """Return the torch device named by ``name``.

    Args:
        name: "auto" (cuda when available, else cpu), "cpu", "cuda" or "cuda:N".

    Raises:
        ValueError: for another name, or for cuda when torch sees no GPU.
    """
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cpu":
        return torch.device("cpu")
    if name == "cuda" or name.startswith("cuda:"):
        if not torch.cuda.is_available():
            raise ValueError(
                f"device {name!r} was asked for but torch sees no CUDA GPU (torch "
                f"{torch.__version__}); use 'cpu' or 'auto'"
            )
        return torch.device(name)
    raise ValueError(f"device must be 'auto', 'cpu', 'cuda' or 'cuda:N', got {name!r}")


def count_parameters(module: nn.Module, trainable_only: bool = True) -> int:
    """Number of scalar parameters in ``module`` (only those with requires_grad by default)."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad or not trainable_only)


def free_cores() -> int:
    """Cores this process may use that other processes are not already busy on (at least 1).

    Torch defaults to one thread per core; when another process shares the cores, that
    oversubscription was measured to slow training up to 8x, so scripts cap threads here.
    """
    cores = (
        len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    )
    try:
        busy = os.getloadavg()[0]
    except OSError:
        busy = 0.0
    return max(1, min(cores, int(cores - busy + 0.5)))
