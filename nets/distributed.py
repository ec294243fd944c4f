"""torch.distributed for the scripts: one process group from torchrun's environment, or none.

``torchrun --nproc-per-node N script.py ...`` starts N processes with ``RANK``, ``WORLD_SIZE``,
``LOCAL_RANK`` and the rendezvous address in the environment; ``start_process_group`` reads
them and joins the group (gloo on the CPU, NCCL when the device is a CUDA GPU). Without
``distributed`` the returned context is the single process (rank 0 of 1) and nothing of
torch.distributed is touched, so the single-process path stays as it was.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist

__all__ = ["DistributedContext", "start_process_group"]


@dataclass(frozen=True)
class DistributedContext:
    """Where this process stands: ``rank`` of ``world_size``, and the backend (None alone)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    backend: str | None = None

    @property
    def active(self) -> bool:
        """Whether a process group is joined (even of one process)."""
        return self.backend is not None

    @property
    def is_main(self) -> bool:
        """Rank 0: the process that writes files and prints."""
        return self.rank == 0

    def barrier(self) -> None:
        """Wait for every rank (no-op alone)."""
        if self.active:
            dist.barrier()

    def gather_objects(self, value: Any) -> list[Any]:
        """Every rank's ``value`` (picklable), in rank order, on every rank."""
        if not self.active:
            return [value]
        gathered: list[Any] = [None] * self.world_size
        dist.all_gather_object(gathered, value)
        return gathered

    def broadcast_object(self, value: Any) -> Any:
        """Rank 0's ``value`` on every rank."""
        if not self.active:
            return value
        box = [value]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def close(self) -> None:
        """Leave the process group."""
        if self.active and dist.is_initialized():
            dist.destroy_process_group()


def start_process_group(distributed: bool, device: str = "cpu") -> DistributedContext:
    """Join torchrun's process group when ``distributed``; else the single-process context.

    Args:
        distributed: whether the script was asked to run distributed (``--distributed``).
        device: the torch device the ranks train on: ``cuda`` selects NCCL (and this rank's
            GPU, ``LOCAL_RANK``), anything else gloo.

    Raises:
        ValueError: if ``distributed`` but the process was not started by torchrun (no
            ``RANK``/``WORLD_SIZE``/``MASTER_ADDR`` in the environment).
    """
    if not distributed:
        return DistributedContext()
    missing = [name for name in ("RANK", "WORLD_SIZE", "MASTER_ADDR") if name not in os.environ]
    if missing:
        raise ValueError(
            f"--distributed needs torchrun's environment ({', '.join(missing)} not set): start "
            "with torchrun --nproc-per-node N script.py ... --distributed"
        )
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    backend = "nccl" if str(device).startswith("cuda") else "gloo"
    if backend == "nccl":
        torch.cuda.set_device(local_rank)
    dist.init_process_group(backend=backend)
    return DistributedContext(dist.get_rank(), dist.get_world_size(), local_rank, backend)
