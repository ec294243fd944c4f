"""The shared training loop for knowledge tracers trained by gradient descent.

``train`` calls ``model.loss(batch)`` and never asks which model it holds: any object with
a ``network`` (an ``nn.Module``) and a ``loss(batch) -> scalar tensor`` can be trained here.
Adam, optional gradient-norm clipping, validation every epoch by AUC (any callable that
returns a metrics dict with ``"auc"``), early stopping with patience, and the best
epoch's weights restored at the end.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field, fields
from typing import Any, Callable, Protocol, Sequence

import numpy as np
import pandas as pd
import torch
from torch import nn


@dataclass(frozen=True)
class TrainingConfig:
    """Settings of the shared gradient-descent loop."""

    learning_rate: float = field(default=1e-3, metadata={"help": "Adam learning rate"})
    weight_decay: float = field(default=0.0, metadata={"help": "Adam L2 weight decay"})
    max_epochs: int = field(default=30, metadata={"help": "most passes over the training batches"})
    patience: int = field(default=3, metadata={"help": "stop after this many epochs without a better validation AUC"})
    grad_clip_norm: float = field(default=0.0, metadata={"help": "clip the gradient norm to this (0: no clipping)"})
    seed: int = field(default=0, metadata={"help": "seed of the batch order"})

    def __post_init__(self) -> None:
        if not self.learning_rate > 0:
            raise ValueError(f"TrainingConfig.learning_rate must be > 0, got {self.learning_rate}")
        if self.weight_decay < 0:
            raise ValueError(f"TrainingConfig.weight_decay must be >= 0, got {self.weight_decay}")
        if self.max_epochs < 1:
            raise ValueError(f"TrainingConfig.max_epochs must be >= 1, got {self.max_epochs}")
        if self.patience < 1:
            raise ValueError(f"TrainingConfig.patience must be >= 1, got {self.patience}")
        if self.grad_clip_norm < 0:
            raise ValueError(f"TrainingConfig.grad_clip_norm must be >= 0 (0 disables it), got {self.grad_clip_norm}")

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "TrainingConfig":
        """Build from a dict such as ``dataclasses.asdict`` gives, rejecting unknown keys."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"TrainingConfig got unknown field(s) {unknown}; allowed: {sorted(known)}")
        return cls(**values)


class Trainable(Protocol):
    """What ``train`` needs: a module holding the parameters and a loss on one batch."""

    network: nn.Module

    def loss(self, batch: Any) -> torch.Tensor: ...


@dataclass
class TrainingHistory:
    """Per-epoch record of a training run.

    Attributes:
        epochs: one dict per epoch: ``epoch``, ``train_loss``, ``train_seconds`` (wall),
            ``train_cpu_seconds`` (process CPU time, all threads), ``valid_seconds`` and the validation metrics prefixed ``valid_``.
        best_epoch: the epoch (1-based) whose weights were kept (the last one without validation).
        best_valid_auc: its validation AUC (NaN without validation).
        stopped_early: whether patience ran out before ``max_epochs``.
    """

    epochs: list[dict[str, float]] = field(default_factory=list)
    best_epoch: int = 0
    best_valid_auc: float = float("nan")
    stopped_early: bool = False

    @property
    def seconds_per_epoch(self) -> float:
        """Mean seconds of the training pass of an epoch (validation excluded)."""
        return float(np.mean([epoch["train_seconds"] for epoch in self.epochs])) if self.epochs else float("nan")

    @property
    def cpu_seconds_per_epoch(self) -> float:
        """Mean CPU seconds (all threads) of the training pass of an epoch."""
        return float(np.mean([epoch["train_cpu_seconds"] for epoch in self.epochs])) if self.epochs else float("nan")

    @property
    def total_seconds(self) -> float:
        """Training plus validation seconds over all epochs."""
        return float(sum(epoch["train_seconds"] + epoch["valid_seconds"] for epoch in self.epochs))

    def to_frame(self) -> pd.DataFrame:
        """One row per epoch."""
        return pd.DataFrame(self.epochs)

    def summary(self) -> dict[str, float]:
        """Headline figures as plain values."""
        return {
            "epochs_run": len(self.epochs),
            "best_epoch": self.best_epoch,
            "best_valid_auc": self.best_valid_auc,
            "stopped_early": self.stopped_early,
            "seconds_per_epoch": self.seconds_per_epoch,
            "cpu_seconds_per_epoch": self.cpu_seconds_per_epoch,
            "train_seconds": self.total_seconds,
        }


def train(
    model: Trainable,
    batches: Sequence[Any],
    config: TrainingConfig,
    validate: Callable[[], dict[str, float]] | None = None,
    progress: bool = False,
) -> TrainingHistory:
    """Fit ``model.network`` by Adam on ``model.loss`` over ``batches``, with early stopping.

    Each epoch visits every batch once in a fresh random order (seeded by ``config.seed``).
    After each epoch ``validate()`` is called (with the network in eval mode); its ``"auc"``
    decides early stopping, and the weights of the best epoch are restored at the end.

    Args:
        model: has ``network`` and ``loss(batch)``; the loss is a scalar mean.
        batches: the training batches, built once by the caller.
        config: optimiser and stopping settings.
        validate: returns validation metrics including ``"auc"``; None trains all epochs.
        progress: show a tqdm bar over batches.

    Returns:
        The per-epoch history.

    Raises:
        ValueError: if there are no batches, the loss is not finite, or ``validate`` gives no AUC.
    """
    if len(batches) == 0:
        raise ValueError("train got no batches: the training table has no usable rows")
    network = model.network
    optimizer = torch.optim.Adam(network.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay)
    generator = np.random.default_rng(config.seed)
    history = TrainingHistory()
    best_state = None
    epochs_without_gain = 0
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=config.max_epochs * len(batches), desc="train", unit="batch")
    for epoch in range(1, config.max_epochs + 1):
        network.train()
        started, cpu_started = time.perf_counter(), time.process_time()
        total_loss, n_batches = 0.0, 0
        for index in generator.permutation(len(batches)):
            optimizer.zero_grad(set_to_none=True)
            loss = model.loss(batches[index])
            loss.backward()
            if config.grad_clip_norm > 0:
                nn.utils.clip_grad_norm_(network.parameters(), config.grad_clip_norm)
            optimizer.step()
            total_loss += loss.item()
            n_batches += 1
            if bar is not None:
                bar.update(1)
        if not np.isfinite(total_loss):
            raise ValueError(f"training loss became {total_loss} in epoch {epoch}; lower learning_rate or set grad_clip_norm")
        record = {
            "epoch": epoch,
            "train_loss": total_loss / n_batches,
            "train_seconds": time.perf_counter() - started,
            # CPU seconds of this process (all threads): less swayed than wall time by other processes.
            "train_cpu_seconds": time.process_time() - cpu_started,
        }
        started = time.perf_counter()
        if validate is not None:
            network.eval()
            metrics = validate()
            if "auc" not in metrics:
                raise ValueError(f"validate() must return a dict with 'auc', got keys {sorted(metrics)}")
            record.update({f"valid_{name}": float(value) for name, value in metrics.items()})
        record["valid_seconds"] = time.perf_counter() - started
        history.epochs.append(record)
        if bar is not None:
            bar.set_postfix(loss=f"{record['train_loss']:.4f}", valid_auc=f"{record.get('valid_auc', float('nan')):.4f}")
        if validate is None:
            history.best_epoch = epoch
            continue
        if not history.best_valid_auc >= record["valid_auc"]:  # also true while best is NaN
            history.best_valid_auc = record["valid_auc"]
            history.best_epoch = epoch
            best_state = copy.deepcopy(network.state_dict())
            epochs_without_gain = 0
        else:
            epochs_without_gain += 1
            if epochs_without_gain >= config.patience:
                history.stopped_early = epoch < config.max_epochs
                break
    if bar is not None:
        bar.close()
    if best_state is not None:
        network.load_state_dict(best_state)
    network.eval()
    return history

