"""DKT trained from a log dataset streamed in student shards, on one process or under DDP.

``fit_dkt_streaming`` reads the training fold of a ``kt.data.log_dataset`` folder shard by
shard (``iter_student_shards``: at most ``students_per_shard`` whole students at a time), so
peak memory depends on the shard size and the network, not on the size of the log.

The training schedule is defined independently of the number of processes: in each shard
the windows (``cut_windows``) are sorted by length and cut into *global* batches of
``batch_size`` windows, whose order is shuffled with ``numpy.random.default_rng([seed,
epoch, shard])``. With ``world_size`` ranks (``torchrun``, ``nets.start_process_group``),
rank ``r`` computes windows ``r, r + world_size, ...`` of every global batch, and DDP
all-reduces (averages) the gradients; each rank's loss is ``world_size`` times its share of
the global batch's summed BCE over the shard's mean steps per global batch (DKT's
normalisation, ``DKT.loss``), so the averaged gradient is the single-process gradient of the
same global batch. Only the order of floating-point sums differs: with dropout 0 a 2-rank
run follows the single-process run to float32 rounding (measured in the tests). Dropout
masks are drawn per rank (``torch.manual_seed`` of ``[seed, epoch, shard, rank]``).

Every rank reads and encodes every training shard (cheap next to the LSTM: numpy over the
shard) and computes only its windows; validation and test shards are dealt round-robin to
the ranks and their predictions gathered, so each is scored once. Rank 0 writes the
checkpoint (after every ``checkpoint_every`` shards and every epoch); a run resumed from it
after all ranks were killed continues at the next shard and ends as the uninterrupted run,
because every random draw is seeded by its position (epoch, shard, rank), not by a stream.
"""

from __future__ import annotations

import copy
import resource
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd
import torch
from torch import nn

from riley_gym import nets
from riley_gym.kt.data.log_dataset import iter_student_shards, read_manifest
from riley_gym.kt.data.metrics import binary_metrics
from riley_gym.kt.data.sequences import (
    batch_windows,
    cut_windows,
    drop_unknown_skills,
    encode_table,
    make_batches,
)
from riley_gym.kt.models.dkt import DKT, DKTConfig, DKTNetwork
from riley_gym.kt.models.training import TrainingHistory, settings_differences

__all__ = [
    "StreamConfig",
    "StreamResult",
    "DKTStepLoss",
    "fit_dkt_streaming",
    "score_streaming",
    "peak_rss_mb",
]


@dataclass(frozen=True)
class StreamConfig(nets.Settings):
    """How a log dataset is split and streamed."""

    students_per_shard: int = field(
        default=4096, metadata={"help": "students read and encoded at a time (memory per shard)"}
    )
    test_fraction: float = field(
        default=0.2, metadata={"help": "share of students (by id hash) held out for test"}
    )
    valid_fraction: float = field(
        default=0.1, metadata={"help": "share of students (by id hash) for validation"}
    )
    split_seed: int = field(default=0, metadata={"help": "seed of the student-id hash split"})
    max_valid_students: int = field(
        default=20_000,
        metadata={"help": "validate on the first this many validation students (flat memory)"},
    )
    max_test_students: int = field(
        default=50_000, metadata={"help": "test on the first this many test students"}
    )
    max_steps: int = field(
        default=0, metadata={"help": "stop after this many global batches (0: whole epochs)"}
    )
    checkpoint_every: int = field(
        default=8, metadata={"help": "checkpoint after every this many training shards"}
    )

    def __post_init__(self) -> None:
        self.check_at_least(["students_per_shard", "checkpoint_every"], 1)
        self.check_at_least(["max_valid_students", "max_test_students", "max_steps"], 0)
        self.check_at_least(["split_seed"], 0)
        self.check_interval(["test_fraction", "valid_fraction"], 0.0, 1.0, high_open=True)
        self.check(
            "valid_fraction",
            self.test_fraction + self.valid_fraction < 1,
            f"below {1 - self.test_fraction} (test and validation fractions sum to < 1)",
        )


@dataclass
class StreamResult:
    """What a streaming fit returns (on every rank).

    Attributes:
        model: the fitted ``DKT`` (best validation epoch's weights).
        history: one record per epoch (``train_loss``, ``valid_auc``, ``interactions``,
            ``interactions_per_second``, ``train_seconds``, ...).
        steps: global batches trained.
        peak_rss_mb: this rank's peak resident memory.
        resumed_from: (epoch, shard) the run resumed at, or None.
    """

    model: DKT
    history: TrainingHistory
    steps: int
    peak_rss_mb: float
    resumed_from: tuple[int, int] | None = None


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class DKTStepLoss(nn.Module):
    """A DKT network with the loss as ``forward``, so that DDP sees (and all-reduces) it.

    ``forward(skills, correct, context, mask)`` returns the BCE-with-logits summed over the
    real steps of the batch (``DKTNetwork.summed_bce``, ``DKT.loss`` before its division).
    """

    def __init__(self, network: DKTNetwork) -> None:
        super().__init__()
        self.network = network

    def forward(
        self,
        skills: torch.Tensor,
        correct: torch.Tensor,
        context: torch.Tensor,
        mask: torch.Tensor,
    ) -> torch.Tensor:
        return self.network.summed_bce(skills, correct, context, mask)


def _shard_batches(
    shard: pd.DataFrame, skill_ids: np.ndarray, config: DKTConfig, seed: list[int]
) -> tuple[Any, np.ndarray, list[np.ndarray], float]:
    """Encoded rows, windows, global batches (window indices, visiting order), steps per batch."""
    encoded = encode_table(shard, skill_ids, where="training shard")
    encoded, _ = drop_unknown_skills(encoded)
    windows = cut_windows(encoded, config.max_length)
    batches = batch_windows(windows[2] - windows[1], config.batch_size)  # longest first
    visit = np.random.default_rng(seed).permutation(len(batches))
    steps_per_batch = encoded.n_rows / max(len(batches), 1)
    return encoded, windows, [batches[index] for index in visit], steps_per_batch


def _rank_batch(encoded: Any, windows: tuple, chosen: np.ndarray, rank: int, world: int):
    """This rank's windows of one global batch as a ``SequenceBatch``, or None if it has none."""
    mine = chosen[rank::world]
    if mine.size == 0:
        return None
    students, starts, ends = windows
    return make_batches(
        encoded, (students[mine], starts[mine], ends[mine]), mine.size, sort_by_length=False
    )[0]


def _score_fold(
    model: DKT,
    directory: Path,
    fold: str,
    stream: StreamConfig,
    max_students: int,
    context: nets.DistributedContext,
) -> dict[str, float]:
    """Metrics on the first ``max_students`` students of ``fold``; shards dealt to the ranks."""
    correct_parts, probability_parts = [], []
    seen = 0
    shards = iter_student_shards(
        directory,
        stream.students_per_shard,
        fold=fold,
        test_fraction=stream.test_fraction,
        valid_fraction=stream.valid_fraction,
        split_seed=stream.split_seed,
    )
    for index, shard in enumerate(shards):
        if seen >= max_students:
            break
        users = shard["user_id"].to_numpy()
        starts = np.flatnonzero(np.r_[True, users[1:] != users[:-1]])
        if seen + starts.size > max_students:
            keep = max_students - seen
            shard = shard.iloc[: (starts[keep] if keep < starts.size else len(shard))]
            starts = starts[:keep]
        seen += starts.size
        if index % context.world_size != context.rank:
            continue
        predicted = model.predict(shard)
        correct_parts.append(shard["correct"].to_numpy().astype(np.int8))
        probability_parts.append(predicted["p_correct"].to_numpy())
    mine = (
        np.concatenate(correct_parts) if correct_parts else np.zeros(0, np.int8),
        np.concatenate(probability_parts) if probability_parts else np.zeros(0),
    )
    gathered = context.gather_objects(mine)
    correct = np.concatenate([part[0] for part in gathered])
    probability = np.concatenate([part[1] for part in gathered])
    if correct.size == 0:
        raise ValueError(
            f"the {fold} fold of {directory} has no students (raise its fraction or the log size)"
        )
    metrics = binary_metrics(correct, probability)
    metrics = {name: float(value) for name, value in metrics.items()}
    metrics["n_rows"] = float(correct.size)
    return metrics


def _settings(config: DKTConfig, stream: StreamConfig, world_size: int, data: str) -> dict:
    return {
        "dkt": {k: v for k, v in config.to_dict().items() if k != "device"},
        "training": {
            k: v
            for k, v in asdict(config.training).items()
            if k not in ("checkpoint_path", "resume")
        },
        "stream": {k: v for k, v in asdict(stream).items() if k != "checkpoint_every"},
        "world_size": world_size,
        "data": data,
    }


def fit_dkt_streaming(
    directory: str | Path,
    config: DKTConfig,
    stream: StreamConfig,
    context: nets.DistributedContext | None = None,
    checkpoint_path: str | Path | None = None,
    resume: bool = False,
    progress: Callable[[int], None] | None = None,
) -> StreamResult:
    """Train DKT on the training fold of a log dataset, early-stopping on its validation fold.

    Args:
        directory: the log dataset (``kt.data.log_dataset``).
        config: DKT settings; ``batch_size`` is the *global* batch (windows over all ranks),
            ``training`` gives the rate, epochs, patience, clipping and seed. ``ema_decay``,
            ``lr_decay``, ``packed`` and soft targets are not supported here.
        stream: split and streaming settings.
        context: the process group (``nets.start_process_group``); None: one process.
        checkpoint_path: where rank 0 writes the loop's state (None: no checkpoints).
        resume: continue from ``checkpoint_path`` (written with the same settings and ranks).
        progress: called with the interactions of each training shard this process read.

    Returns:
        The fitted model, its history, the steps run and this rank's peak RSS.

    Raises:
        ValueError: for unsupported settings, a checkpoint written with other settings, or a
            fold without students.
        FileNotFoundError: for a missing log dataset or, with ``resume``, checkpoint.
    """
    context = context or nets.DistributedContext()
    directory = Path(directory)
    manifest = read_manifest(directory)
    training = config.training
    unsupported = [
        name
        for name, bad in (
            ("ema_decay", training.ema_decay > 0),
            ("lr_decay", training.lr_decay < 1),
            ("packed", config.packed),
        )
        if bad
    ]
    if unsupported:
        raise ValueError(f"streaming DKT training does not support {unsupported}; leave them off")
    if config.batch_size < context.world_size:
        raise ValueError(
            f"batch_size {config.batch_size} is below the {context.world_size} ranks: every rank "
            "needs windows of each global batch"
        )
    skill_ids = np.asarray(manifest["skill_ids"], dtype=np.int64)
    device = nets.select_device(config.device)
    world, rank = context.world_size, context.rank
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        network = DKTNetwork(skill_ids.size, config).to(device)
    module: nn.Module = DKTStepLoss(network)
    if context.active:
        module = nn.parallel.DistributedDataParallel(
            module, device_ids=[context.local_rank] if device.type == "cuda" else None
        )
    optimizer = torch.optim.Adam(
        network.parameters(), lr=training.learning_rate, weight_decay=training.weight_decay
    )
    settings = _settings(config, stream, world, str(directory))
    history = TrainingHistory()
    best_state: dict[str, torch.Tensor] | None = None
    epoch, next_shard, steps, without_gain = 1, 0, 0, 0
    # The epoch's running figures, checkpointed with its position mid-epoch.
    partial = {"loss": 0.0, "steps": 0, "rows": 0, "seconds": 0.0}
    resumed_from = None
    if resume:
        if checkpoint_path is None or not Path(checkpoint_path).is_file():
            raise FileNotFoundError(f"nothing to resume: no checkpoint at {checkpoint_path}")
        payload, saved = nets.load_checkpoint(checkpoint_path)
        differences = settings_differences(saved, settings)
        if differences:
            raise ValueError(
                f"cannot resume from {checkpoint_path}: its settings differ: "
                + "; ".join(differences)
            )
        network.load_state_dict(payload["network"])
        optimizer.load_state_dict(payload["optimizer"])
        epoch, next_shard = int(payload["epoch"]), int(payload["next_shard"])
        steps, without_gain = int(payload["steps"]), int(payload["without_gain"])
        history = TrainingHistory(
            epochs=list(payload["history"]),
            best_epoch=int(payload["best_epoch"]),
            best_valid_auc=float(payload["best_valid_auc"]),
            stopped_early=bool(payload["stopped_early"]),
        )
        best_state = payload["best_state"]
        partial = dict(payload["partial"])
        resumed_from = (epoch, next_shard)

    def current_model() -> DKT:
        return DKT.from_network(config, network, skill_ids, float(manifest["mean_correct"]))

    def save() -> None:
        if checkpoint_path is None:
            return
        if context.is_main:
            payload = {
                "network": network.state_dict(),
                "optimizer": optimizer.state_dict(),
                "epoch": epoch,
                "next_shard": next_shard,
                "steps": steps,
                "without_gain": without_gain,
                "history": history.epochs,
                "best_epoch": history.best_epoch,
                "best_valid_auc": history.best_valid_auc,
                "stopped_early": history.stopped_early,
                "best_state": best_state,
                "partial": partial,
            }
            nets.save_checkpoint(checkpoint_path, payload, settings)
        context.barrier()

    out_of_steps = stream.max_steps > 0 and steps >= stream.max_steps
    finished = without_gain >= training.patience or out_of_steps
    while epoch <= training.max_epochs and not finished:
        network.train()
        started, cpu_started = time.perf_counter(), time.process_time()
        # The loss summed over ranks before the resume is carried by rank 0 alone.
        total_loss = partial["loss"] if context.is_main else 0.0
        n_steps, n_rows = partial["steps"], partial["rows"]
        earlier_seconds = partial["seconds"]  # of this epoch, before the run resumed
        shards = iter_student_shards(
            directory,
            stream.students_per_shard,
            fold="train",
            test_fraction=stream.test_fraction,
            valid_fraction=stream.valid_fraction,
            split_seed=stream.split_seed,
        )
        for shard_index, shard in enumerate(shards):
            if shard_index < next_shard:
                continue  # done before the checkpoint this run resumed from
            encoded, windows, batches, steps_per_batch = _shard_batches(
                shard, skill_ids, config, [training.seed, epoch, shard_index]
            )
            torch.manual_seed(
                int(np.random.default_rng([config.seed, epoch, shard_index, rank]).integers(2**62))
            )
            for chosen in batches:
                batch = _rank_batch(encoded, windows, chosen, rank, world)
                optimizer.zero_grad(set_to_none=True)
                if batch is None:  # fewer windows than ranks: take part with a zero loss
                    batch = _rank_batch(encoded, windows, chosen[:1], 0, 1)
                    weight = 0.0
                else:
                    weight = world / steps_per_batch
                batch = batch.to(device)
                loss = module(batch.skills, batch.correct, batch.context, batch.mask) * weight
                loss.backward()
                if training.grad_clip_norm > 0:
                    nn.utils.clip_grad_norm_(network.parameters(), training.grad_clip_norm)
                optimizer.step()
                total_loss += loss.item() / world
                n_steps += 1
                steps += 1
                if stream.max_steps > 0 and steps >= stream.max_steps:
                    out_of_steps = True
                    break
            n_rows += encoded.n_rows
            if progress is not None:
                progress(encoded.n_rows)
            next_shard = shard_index + 1
            if out_of_steps:
                break
            if next_shard % stream.checkpoint_every == 0:
                partial = {
                    "loss": float(sum(context.gather_objects(total_loss))),
                    "steps": n_steps,
                    "rows": n_rows,
                    "seconds": earlier_seconds + time.perf_counter() - started,
                }
                save()
        # Training-loss means over ranks: every rank logged its share of each global batch.
        losses = context.gather_objects(total_loss)
        seconds = earlier_seconds + time.perf_counter() - started
        record = {
            "epoch": epoch,
            "train_loss": float(sum(losses)) / max(n_steps, 1),
            "steps": steps,
            "interactions": n_rows,
            "train_seconds": seconds,
            "train_cpu_seconds": time.process_time() - cpu_started,
            "interactions_per_second": n_rows / seconds if seconds > 0 else float("nan"),
        }
        started = time.perf_counter()
        network.eval()
        metrics = _score_fold(
            current_model(), directory, "valid", stream, stream.max_valid_students, context
        )
        record.update({f"valid_{name}": value for name, value in metrics.items()})
        record["valid_seconds"] = time.perf_counter() - started
        history.epochs.append(record)
        if not history.best_valid_auc >= record["valid_auc"]:  # also true while best is NaN
            history.best_valid_auc, history.best_epoch = record["valid_auc"], epoch
            best_state = copy.deepcopy(network.state_dict())
            without_gain = 0
        else:
            without_gain += 1
        finished = without_gain >= training.patience or out_of_steps
        history.stopped_early = finished and epoch < training.max_epochs and not out_of_steps
        epoch, next_shard = epoch + 1, 0
        partial = {"loss": 0.0, "steps": 0, "rows": 0, "seconds": 0.0}
        save()
    if best_state is not None:
        network.load_state_dict(best_state)
    network.eval()
    model = current_model()
    model.history = history
    return StreamResult(model, history, steps, peak_rss_mb(), resumed_from)


def score_streaming(
    model: DKT,
    directory: str | Path,
    stream: StreamConfig,
    fold: str = "test",
    context: nets.DistributedContext | None = None,
) -> dict[str, float]:
    """Metrics of ``model`` on the first ``stream.max_test_students`` students of ``fold``.

    Shards are dealt round-robin to the ranks and the predictions gathered (every rank gets
    the metrics).
    """
    context = context or nets.DistributedContext()
    limit = stream.max_test_students if fold == "test" else stream.max_valid_students
    return _score_fold(model, Path(directory), fold, stream, limit, context)
