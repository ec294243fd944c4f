"""The shared training loop for knowledge tracers trained by gradient descent.

``train`` calls ``model.loss(batch)`` and never asks which model it holds: any object with
a ``network`` (an ``nn.Module``) and a ``loss(batch) -> scalar tensor`` can be trained here.
Adam, optional gradient-norm clipping, optional weight averaging (``ema_decay``) and
learning-rate decay on a validation plateau (``lr_decay``),
validation every epoch by AUC (any callable that returns a metrics dict with ``"auc"``),
early stopping with patience, and the best epoch's weights restored at the end.

With ``TrainingConfig.checkpoint_path`` set, the loop writes everything it needs to go on
after every epoch (weights, Adam state, the batch-order generator, the torch RNG that
drives dropout, the history, the best weights and the patience count), atomically and
loadable without unpickling objects (``nets.save_checkpoint``). ``resume=True`` continues
from that file: a run killed after epoch k and resumed ends bit-identical to an
uninterrupted run with the same seed (timings aside). The checkpoint settings live in
``TrainingConfig`` rather than in ``train``'s arguments because models call ``train``
with their config's ``training`` whole (``DKT.fit``), so they reach the loop unchanged.

For the same reason an experiment that must watch every epoch (a sweep's early stopping)
registers a listener with ``epoch_listener`` instead of passing a callback down through
``evaluate`` and each model's ``fit``: ``train`` calls the listeners of its context after
each finished epoch, once the checkpoint is written, so a listener that stops the run
(by raising) loses nothing a resume needs.
"""

from __future__ import annotations

import contextlib
import contextvars
import copy
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Protocol, Sequence

import numpy as np
import pandas as pd
import torch
from torch import nn
from tqdm.auto import tqdm

from riley_gym import nets

# Where and whether to checkpoint, not what is trained:
# they may differ between a run and its resumption.
CHECKPOINT_FIELDS = ("checkpoint_path", "resume")

# A context variable, not a module list: each thread (a Ray trial's, a test's) sees only the
# listeners it registered.
_EPOCH_LISTENERS: contextvars.ContextVar[tuple[Callable[[dict[str, float]], None], ...]] = (
    contextvars.ContextVar("epoch_listeners", default=())
)


@contextlib.contextmanager
def epoch_listener(listener: Callable[[dict[str, float]], None]) -> Iterator[None]:
    """Within the block, ``train`` calls ``listener(record)`` after every finished epoch.

    ``record`` is the epoch's row of ``TrainingHistory.epochs`` (``epoch``, ``train_loss``,
    ``valid_auc``, ...) plus ``best_valid_auc`` so far. Epochs restored from a checkpoint on
    resume are not reported again; a refit after early stopping reports its epochs from 1.
    """
    token = _EPOCH_LISTENERS.set((*_EPOCH_LISTENERS.get(), listener))
    try:
        yield
    finally:
        _EPOCH_LISTENERS.reset(token)


@dataclass(frozen=True)
class TrainingConfig(nets.Settings):
    """Settings of the shared gradient-descent loop."""

    learning_rate: float = field(default=1e-3, metadata={"help": "Adam learning rate"})
    weight_decay: float = field(default=0.0, metadata={"help": "Adam L2 weight decay"})
    max_epochs: int = field(default=30, metadata={"help": "most passes over the training batches"})
    patience: int = field(
        default=3, metadata={"help": "stop after this many epochs without a better validation AUC"}
    )
    grad_clip_norm: float = field(
        default=0.0, metadata={"help": "clip the gradient norm to this (0: no clipping)"}
    )
    seed: int = field(default=0, metadata={"help": "seed of the batch order"})
    lr_decay: float = field(
        default=1.0,
        metadata={
            "help": "multiply the learning rate by this after every lr_decay_patience epochs "
            "without a better validation AUC (1: constant rate); raise patience above "
            "lr_decay_patience to let it act"
        },
    )
    lr_decay_patience: int = field(
        default=1,
        metadata={"help": "epochs without a better validation AUC before each learning-rate decay"},
    )
    ema_decay: float = field(
        default=0.0,
        metadata={
            "help": "validate, early-stop on and keep a moving average of the weights: the mean "
            "of all updates until 1/(1-ema_decay) of them, then an exponential average with this "
            "decay per update (0: off)"
        },
    )
    checkpoint_path: str = field(
        default="",
        metadata={"help": "write the loop's state here after every epoch ('': no checkpoint)"},
    )
    resume: bool = field(
        default=False, metadata={"help": "continue from checkpoint_path's last finished epoch"}
    )

    def __post_init__(self) -> None:
        self.check_above(["learning_rate"], 0.0)
        self.check_at_least(["weight_decay", "grad_clip_norm"], 0.0, integer=False)  # clip 0: off
        self.check_at_least(["max_epochs", "patience", "lr_decay_patience"], 1)
        self.check_at_least(["seed"], 0)
        self.check_interval(["lr_decay"], 0.0, 1.0, low_open=True)  # 1: constant rate
        self.check_interval(["ema_decay"], 0.0, 1.0, high_open=True)  # 0: off
        self.check(
            "resume",
            not self.resume or bool(self.checkpoint_path),
            "False without a checkpoint_path",
        )


class Trainable(Protocol):
    """What ``train`` needs: a module holding the parameters and a loss on one batch."""

    network: nn.Module

    def loss(self, batch: Any) -> torch.Tensor: ...


@dataclass
class TrainingHistory:
    """Per-epoch record of a training run.

    Attributes:
        epochs: one dict per epoch: ``epoch``, ``train_loss``, ``train_seconds`` (wall),
            ``train_cpu_seconds`` (process CPU time, all threads),
            ``valid_seconds`` and the validation metrics prefixed ``valid_``.
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
        return (
            float(np.mean([epoch["train_seconds"] for epoch in self.epochs]))
            if self.epochs
            else float("nan")
        )

    @property
    def cpu_seconds_per_epoch(self) -> float:
        """Mean CPU seconds (all threads) of the training pass of an epoch."""
        return (
            float(np.mean([epoch["train_cpu_seconds"] for epoch in self.epochs]))
            if self.epochs
            else float("nan")
        )

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


def settings_differences(
    saved: dict[str, Any], given: dict[str, Any], saved_as: str = "the checkpoint", prefix: str = ""
) -> list[str]:
    """Name every setting that differs between two nested dicts of plain values.

    Args:
        saved: the settings a run or checkpoint was started with.
        given: the settings given now.
        saved_as: how the messages name where ``saved`` came from.
        prefix: dotted path of the dicts (for nested calls).

    Returns:
        One line per difference, e.g. ``"max_epochs: 3 in the checkpoint, 5 now"``, sorted by name.
    """
    lines = []
    for key in sorted(set(saved) | set(given), key=str):
        name = f"{prefix}{key}"
        old, new = saved.get(key, "<absent>"), given.get(key, "<absent>")
        if isinstance(old, dict) and isinstance(new, dict):
            lines.extend(settings_differences(old, new, saved_as, prefix=f"{name}."))
        elif old != new and not (old != old and new != new):  # NaN equals NaN here
            lines.append(f"{name}: {old!r} in {saved_as}, {new!r} now")
    return lines


class WeightAverage:
    """A moving average of a network's parameters, updated after every optimiser step.

    Weights averaged over the last few hundred updates score better than the last update's:
    Adam's steps keep jittering around the minimum, and the average sits nearer its middle
    (on Synthetic-5 the validation AUC stopped zig-zagging by +-0.003 between epochs). The
    average starts as the plain mean of the updates so far (no pull towards the random
    initial weights, no bias correction needed) and becomes an exponential average with
    ``decay`` once ``1 / (1 - decay)`` updates are in.

    Args:
        network: the module whose parameters are averaged (buffers are not).
        decay: the exponential decay per update, in (0, 1).
    """

    def __init__(self, network: nn.Module, decay: float) -> None:
        if not 0.0 < decay < 1.0:
            raise ValueError(f"WeightAverage decay must be in (0, 1), got {decay}")
        self.decay = decay
        self.updates = 0
        self._parameters = list(network.parameters())
        self.average = [parameter.detach().clone() for parameter in self._parameters]

    @torch.no_grad()
    def update(self) -> None:
        """Fold the network's current parameters into the average."""
        self.updates += 1
        weight = max(1.0 - self.decay, 1.0 / self.updates)  # 1/n: running mean; then the EMA step
        for average, parameter in zip(self.average, self._parameters):
            average.lerp_(parameter, weight)

    @torch.no_grad()
    def swap(self) -> None:
        """Exchange the network's parameters with the average (call again to swap back)."""
        for average, parameter in zip(self.average, self._parameters):
            held = parameter.clone()
            parameter.copy_(average)
            average.copy_(held)


@dataclass
class _LoopState:
    """What the loop carries from one epoch to the next, besides the network and optimizer."""

    epochs_done: int
    generator: np.random.Generator  # batch order
    history: TrainingHistory
    best_state: dict[str, torch.Tensor] | None
    epochs_without_gain: int
    average: WeightAverage | None = None


def training_settings(config: TrainingConfig) -> dict[str, Any]:
    """The settings a resumed run must share with the checkpoint (where to checkpoint excluded)."""
    return {name: value for name, value in asdict(config).items() if name not in CHECKPOINT_FIELDS}


def _save_loop(
    config: TrainingConfig,
    network: nn.Module,
    optimizer: torch.optim.Optimizer,
    state: _LoopState,
    n_batches: int,
) -> None:
    """Write the loop's state to ``config.checkpoint_path`` (atomic;
    tensors and plain values only)."""
    device = next(network.parameters()).device
    payload = {
        "network": network.state_dict(),
        "optimizer": optimizer.state_dict(),
        "epochs_done": state.epochs_done,
        # PCG64 state: a dict of (128-bit) ints, which the weights-only loader
        # reads back as they are.
        "batch_order_rng": state.generator.bit_generator.state,
        "torch_rng": torch.get_rng_state(),  # dropout masks on the CPU
        "cuda_rng": torch.cuda.get_rng_state(device) if device.type == "cuda" else None,
        "history": state.history.epochs,
        "best_epoch": state.history.best_epoch,
        "best_valid_auc": state.history.best_valid_auc,
        "stopped_early": state.history.stopped_early,
        "best_state": state.best_state,
        "epochs_without_gain": state.epochs_without_gain,
        "n_batches": n_batches,
        "average": state.average.average if state.average is not None else None,
        "average_updates": state.average.updates if state.average is not None else 0,
    }
    nets.save_checkpoint(config.checkpoint_path, payload, training_settings(config))


def _load_loop(
    config: TrainingConfig,
    network: nn.Module,
    optimizer: torch.optim.Optimizer,
    n_batches: int,
    average: WeightAverage | None,
) -> _LoopState:
    """Restore network, optimizer and RNGs from ``config.checkpoint_path`` and
    return the loop state.

    Raises:
        FileNotFoundError: if there is no checkpoint to resume.
        ValueError: if it was written with other training settings,
            other batches or another network.
    """
    path = Path(config.checkpoint_path)
    if not path.is_file():
        raise FileNotFoundError(
            f"nothing to resume: no checkpoint at {path} (train once without resume to write it)"
        )
    payload, saved = nets.load_checkpoint(path)
    differences = settings_differences(saved, training_settings(config))
    if differences:
        raise ValueError(
            f"cannot resume from {path}: its training settings differ: " + "; ".join(differences)
        )
    if payload["n_batches"] != n_batches:
        raise ValueError(
            f"cannot resume from {path}: it was trained on {payload['n_batches']} batches per "
            f"epoch, now there are {n_batches} (the training data or batch size changed)"
        )
    expected = {name: tuple(value.shape) for name, value in network.state_dict().items()}
    stored = {name: tuple(value.shape) for name, value in payload["network"].items()}
    if expected != stored:
        changed = sorted(
            name for name in set(expected) | set(stored) if expected.get(name) != stored.get(name)
        )
        raise ValueError(
            f"cannot resume from {path}: its network differs in {changed} (checkpoint "
            f"{[stored.get(n) for n in changed]}, now {[expected.get(n) for n in changed]})"
        )
    network.load_state_dict(payload["network"])
    optimizer.load_state_dict(payload["optimizer"])
    generator = np.random.default_rng()
    generator.bit_generator.state = payload["batch_order_rng"]
    torch.set_rng_state(payload["torch_rng"])
    device = next(network.parameters()).device
    if device.type == "cuda" and payload["cuda_rng"] is not None:
        torch.cuda.set_rng_state(payload["cuda_rng"], device)
    history = TrainingHistory(
        epochs=list(payload["history"]),
        best_epoch=int(payload["best_epoch"]),
        best_valid_auc=float(payload["best_valid_auc"]),
        stopped_early=bool(payload["stopped_early"]),
    )
    if average is not None:
        for kept, saved_average in zip(average.average, payload["average"]):
            kept.copy_(saved_average)
        average.updates = int(payload["average_updates"])
    return _LoopState(
        int(payload["epochs_done"]),
        generator,
        history,
        payload["best_state"],
        int(payload["epochs_without_gain"]),
        average,
    )


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
    With ``config.ema_decay`` the network is validated, kept and returned with its averaged
    weights (``WeightAverage``), while training steps go on from the raw ones.
    With ``config.checkpoint_path`` the loop's state is written after every epoch; with
    ``config.resume`` it first continues from there (the network must be built as for the
    first run; its weights, the optimizer and the RNGs are then restored), so the result
    equals that of an uninterrupted run. Resuming a finished run trains no more epochs.

    Args:
        model: has ``network`` and ``loss(batch)``; the loss is a scalar mean.
        batches: the training batches, built once by the caller.
        config: optimiser, stopping and checkpoint settings.
        validate: returns validation metrics including ``"auc"``; None trains all epochs.
        progress: show a tqdm bar over batches.

    Returns:
        The per-epoch history (on resume: all epochs, the ones before the checkpoint included).

    Raises:
        ValueError: if there are no batches, the loss is not finite, ``validate`` gives no AUC,
            or a resumed checkpoint was written with other settings, batches or network.
        FileNotFoundError: if ``config.resume`` finds no checkpoint.
    """
    if len(batches) == 0:
        raise ValueError("train got no batches: the training table has no usable rows")
    network = model.network
    optimizer = torch.optim.Adam(
        network.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay
    )
    average = WeightAverage(network, config.ema_decay) if config.ema_decay > 0 else None
    if config.resume:
        state = _load_loop(config, network, optimizer, len(batches), average)
    else:
        state = _LoopState(
            0, np.random.default_rng(config.seed), TrainingHistory(), None, 0, average
        )
    history = state.history
    finished = validate is not None and state.epochs_without_gain >= config.patience
    bar = None
    if progress:
        bar = tqdm(
            total=config.max_epochs * len(batches),
            initial=state.epochs_done * len(batches),
            desc="train",
            unit="batch",
        )
    for epoch in range(state.epochs_done + 1, config.max_epochs + 1):
        if finished:
            break
        network.train()
        started, cpu_started = time.perf_counter(), time.process_time()
        total_loss, n_batches = 0.0, 0
        for index in state.generator.permutation(len(batches)):
            optimizer.zero_grad(set_to_none=True)
            loss = model.loss(batches[index])
            loss.backward()
            if config.grad_clip_norm > 0:
                nn.utils.clip_grad_norm_(network.parameters(), config.grad_clip_norm)
            optimizer.step()
            if average is not None:
                average.update()
            total_loss += loss.item()
            n_batches += 1
            if bar is not None:
                bar.update(1)
        if not np.isfinite(total_loss):
            raise ValueError(
                f"training loss became {total_loss} in epoch {epoch}; lower learning_rate or set "
                "grad_clip_norm"
            )
        record = {
            "epoch": epoch,
            "train_loss": total_loss / n_batches,
            "learning_rate": optimizer.param_groups[0]["lr"],
            "train_seconds": time.perf_counter() - started,
            # CPU seconds of this process (all threads): less swayed than wall time
            # by other processes.
            "train_cpu_seconds": time.process_time() - cpu_started,
        }
        started = time.perf_counter()
        if average is not None:
            # Validate and keep the averaged weights; swapped back before the next epoch.
            average.swap()
        if validate is not None:
            network.eval()
            metrics = validate()
            if "auc" not in metrics:
                raise ValueError(
                    f"validate() must return a dict with 'auc', got keys {sorted(metrics)}"
                )
            record.update({f"valid_{name}": float(value) for name, value in metrics.items()})
        record["valid_seconds"] = time.perf_counter() - started
        history.epochs.append(record)
        if bar is not None:
            bar.set_postfix(
                loss=f"{record['train_loss']:.4f}",
                valid_auc=f"{record.get('valid_auc', float('nan')):.4f}",
            )
        if validate is None:
            history.best_epoch = epoch
        elif not history.best_valid_auc >= record["valid_auc"]:  # also true while best is NaN
            history.best_valid_auc = record["valid_auc"]
            history.best_epoch = epoch
            state.best_state = copy.deepcopy(network.state_dict())
            state.epochs_without_gain = 0
        else:
            state.epochs_without_gain += 1
            finished = state.epochs_without_gain >= config.patience
            history.stopped_early = finished and epoch < config.max_epochs
            if config.lr_decay < 1 and state.epochs_without_gain % config.lr_decay_patience == 0:
                # The rate lives in the optimizer's state, so a checkpoint carries it.
                for group in optimizer.param_groups:
                    group["lr"] *= config.lr_decay
        if average is not None:
            average.swap()
        state.epochs_done = epoch
        if config.checkpoint_path:
            _save_loop(config, network, optimizer, state, len(batches))
        for listener in _EPOCH_LISTENERS.get():
            listener({**record, "best_valid_auc": history.best_valid_auc})
    if bar is not None:
        bar.close()
    if state.best_state is not None:
        network.load_state_dict(state.best_state)
    elif average is not None:
        average.swap()  # no validation: the last epoch's average is the result
    network.eval()
    return history
