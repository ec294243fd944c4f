"""What the attention knowledge tracers (SAKT, AKT, simpleKT) share: settings, masks, the tracer.

Each model is a network in its own module (``kt.models.sakt``, ``kt.models.akt``,
``kt.models.simplekt``) built from ``nets.attention``; this module holds the rest: the settings
fields they share, the per-attempt masks and positions of a batch, AKT's Rasch embedding (also
simpleKT's), the output layers, and ``AttentionTracer``, the ``KnowledgeTracer`` that fits,
predicts, saves and loads any of them on DKT's base (``kt.models.torch_tracer.TorchTracer``:
the same encoding, windows, batches and training loop; only the network and its scoring differ).

Per attempt, not per row: rows sharing ``(user_id, order)`` are one attempt. A row's query may
read the interactions (skill and answer) of the rows up to its *context*, the last row of the
student's previous attempt (``history_mask(context)``), so no row sees its own answer or
another skill's answer of the same attempt. Positions count attempts within the window (the
rows of an attempt share one), and AKT's monotonic decay measures distance in attempts.

Windows: training cuts each student into windows of ``max_length`` rows at attempt
boundaries (``cut_windows``), each read from an empty history, as pyKT trains and scores.
Prediction cuts every ``max_length`` attempts (``cut_attempt_windows``; the same windows when
every attempt has one row), so a row's window depends on its attempt number alone, never on
its own attempt's size; a row of a student with more than ``max_length`` attempts sees the
history since its window's start only (there is no state to carry, unlike DKT).

Question-level inputs: with ``questions="auto"`` a model that can use item ids (AKT, simpleKT:
the Rasch embedding of AKT, ``x = c_skill + mu_item * d_skill``) uses them when the training
table's items are more than its skills; otherwise (and with ``questions="skills"``, and always
for SAKT) it reads skills only. ``inputs`` says which, and the run's summary records it. An item
unseen in training gets ``mu = 0``, the skill's typical question; so does ``knowledge_state``,
which answers for a next attempt at each skill with an unknown item.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
import torch
from torch import nn
from torch.nn import functional as F

from riley_gym import nets
from riley_gym.kt.data.metrics import binary_metrics
from riley_gym.kt.data.sequences import (
    EncodedSequences,
    SequenceBatch,
    cut_attempt_windows,
    drop_unknown_skills,
    encode_table,
    make_batches,
)
from riley_gym.kt.models.files import read_model, write_model
from riley_gym.kt.models.torch_tracer import TorchTracer
from riley_gym.kt.models.training import TrainingConfig

__all__ = [
    "AttentionKTConfig",
    "AttentionTracer",
    "OutputLayers",
    "RaschEmbedding",
    "attempt_layout",
    "QUESTION_CHOICES",
]

QUESTION_CHOICES = ("auto", "skills")
UNKNOWN_ITEM = 0  # item index of an item unseen in training (and of every row, skill-only)


@dataclass(frozen=True)
class AttentionKTConfig(nets.Settings):
    """Settings every attention tracer shares (each model's config subclasses this)."""

    embedding_size: int = field(
        default=256, metadata={"help": "width of the embeddings and attention layers (d_model)"}
    )
    n_heads: int = field(default=8, metadata={"help": "attention heads (divide embedding_size)"})
    n_blocks: int = field(default=1, metadata={"help": "attention layers (AKT: per stack)"})
    d_ff: int = field(default=256, metadata={"help": "hidden width of each feed-forward layer"})
    dropout: float = field(default=0.1, metadata={"help": "dropout in attention and output"})
    hidden_size: int = field(
        default=256, metadata={"help": "width of the output layers (AKT, simpleKT)"}
    )
    questions: str = field(
        default="auto",
        metadata={
            "help": "auto: item ids (Rasch) where the log has more items than skills "
            "(AKT, simpleKT); skills: skill ids only",
            "choices": QUESTION_CHOICES,
        },
    )
    l2: float = field(
        default=1e-5, metadata={"help": "L2 penalty on the Rasch item difficulties (AKT's l2)"}
    )
    max_length: int = field(
        default=200, metadata={"help": "rows per window (training and prediction)"}
    )
    batch_size: int = field(default=64, metadata={"help": "windows per training batch"})
    eval_batch_size: int = field(
        default=256, metadata={"help": "windows per batch when predicting"}
    )
    device: str = field(default="cpu", metadata={"help": "torch device: cpu, cuda or auto"})
    seed: int = field(default=0, metadata={"help": "seed of initial weights and dropout"})
    training: TrainingConfig = field(
        default_factory=TrainingConfig, metadata={"help": "optimiser and early-stopping settings"}
    )

    def __post_init__(self) -> None:
        self.check_choice("questions", QUESTION_CHOICES)
        names = ["embedding_size", "n_heads", "n_blocks", "d_ff", "hidden_size", "max_length"]
        self.check_at_least([*names, "batch_size", "eval_batch_size"], 1)
        self.check_at_least(["seed"], 0)
        self.check_at_least(["l2"], 0.0, integer=False)
        self.check_interval(["dropout"], 0.0, 1.0, high_open=True)
        self.check(
            "n_heads",
            self.embedding_size % self.n_heads == 0,
            f"a divisor of embedding_size ({self.embedding_size})",
        )
        self.check("training", isinstance(self.training, TrainingConfig), "a TrainingConfig")


def attempt_layout(context: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per-attempt positions and masks of a batch, from each row's context.

    Args:
        context: (batch, time) long, the last row of the previous attempt within the window
            (-1: none), as in ``SequenceBatch.context``.

    Returns:
        positions (batch, time) long: the attempt number of each row within its window;
        history (batch, time, time) bool: row ``t`` may read row ``j`` iff ``j <= context[t]``
        (earlier attempts only); own (batch, time, time) bool: the history and row ``t`` itself.
    """
    time = context.shape[1]
    history = nets.attention.history_mask(context)  # (B, T, T)
    own = history | torch.eye(time, dtype=torch.bool, device=context.device)[None]  # (B, T, T)
    new_attempt = torch.ones_like(context, dtype=torch.bool)  # (B, T)
    # Contexts rise strictly from one attempt to the next and are equal within one.
    new_attempt[:, 1:] = context[:, 1:] != context[:, :-1]
    positions = new_attempt.long().cumsum(dim=1) - 1  # (B, T)
    return positions, history, own


class RaschEmbedding(nn.Module):
    """AKT's question and interaction embeddings (Ghosh et al. 2020, eq. 7-8; pyKT's AKT).

    question = c_skill + mu_item * d_skill; interaction = c_skill + a_answer
    + mu_item * (f_answer + d_skill). Without items (``n_items == 0``) mu is absent: the plain
    skill and skill + answer embeddings. Item index 0 (unknown) has mu = 0, fixed.
    """

    def __init__(self, n_skills: int, n_items: int, d_model: int) -> None:
        super().__init__()
        self.skill = nn.Embedding(n_skills, d_model)
        self.answer = nn.Embedding(2, d_model)
        self.difficulty = None
        if n_items:
            self.difficulty = nn.Embedding(n_items + 1, 1, padding_idx=UNKNOWN_ITEM)
            nn.init.zeros_(self.difficulty.weight)  # pyKT starts every item at mu = 0
            self.skill_variation = nn.Embedding(n_skills, d_model)
            self.answer_variation = nn.Embedding(2, d_model)

    def forward(
        self, skills: torch.Tensor, items: torch.Tensor, correct: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """(B, T) skills, items, answers -> question (B, T, d), interaction (B, T, d), mu (B, T)."""
        answers = correct.long()  # (B, T)
        question = self.skill(skills)  # (B, T, d)
        interaction = question + self.answer(answers)  # (B, T, d)
        if self.difficulty is None:
            return question, interaction, None
        mu = self.difficulty(items)  # (B, T, 1)
        variation = self.skill_variation(skills)  # (B, T, d)
        question = question + mu * variation
        interaction = interaction + mu * (self.answer_variation(answers) + variation)
        return question, interaction, mu.squeeze(-1)


class OutputLayers(nn.Module):
    """AKT's and simpleKT's output: [knowledge, question] -> two ReLU layers -> one logit."""

    def __init__(self, d_model: int, hidden_size: int, dropout: float) -> None:
        super().__init__()
        second = max(hidden_size // 2, 1)
        self.layers = nn.Sequential(
            nn.Linear(2 * d_model, hidden_size), nn.ReLU(), nn.Dropout(dropout),
            nn.Linear(hidden_size, second), nn.ReLU(), nn.Dropout(dropout),
            nn.Linear(second, 1),
        )  # fmt: skip

    def forward(self, knowledge: torch.Tensor, question: torch.Tensor) -> torch.Tensor:
        """(B, T, d) twice -> (B, T) logits."""
        return self.layers(torch.cat([knowledge, question], dim=-1)).squeeze(-1)


def _item_index(item_ids: np.ndarray, table: pd.DataFrame, positions: np.ndarray) -> np.ndarray:
    """(n,) item index (1.. for known items, 0 unknown) of the table rows at ``positions``."""
    if item_ids.size == 0 or "item_id" not in table.columns:
        return np.zeros(positions.size, np.int64)
    raw = table["item_id"].to_numpy()[positions]
    found = np.clip(np.searchsorted(item_ids, raw), 0, item_ids.size - 1)
    return np.where(item_ids[found] == raw, found + 1, UNKNOWN_ITEM).astype(np.int64)


class AttentionTracer(TorchTracer):
    """An attention knowledge tracer behind the ``KnowledgeTracer`` protocol.

    Subclasses name the model (``model_name``), its settings (``config_class``), its network
    (``network_class``: built as ``network_class(n_skills, n_items, config)``; its
    ``forward(skills, items, correct, context)`` gives (B, T) logits of each row's own answer
    and ``penalty(mu_rows)`` its regularisation) and whether it can read items
    (``reads_items``).

    Attributes:
        network: the fitted network (None before ``fit``).
        history: the ``TrainingHistory`` of the last ``fit``.
        global_mean: training mean correctness, the prediction for unknown skills.
        n_unknown_skill_rows: rows of the last ``predict`` whose skill was unknown.
    """

    model_name = "attention"
    config_class: type = AttentionKTConfig
    network_class: type = nn.Module
    reads_items = True

    def __init__(self, config: AttentionKTConfig | None = None) -> None:
        super().__init__(config)
        self._item_ids = np.zeros(0, dtype=np.int64)
        self._items: torch.Tensor | None = None  # (n_rows,) item index per training row

    @property
    def inputs(self) -> str:
        """What the network reads: item ids and skills, or skills only."""
        if self._item_ids.size:
            return f"questions ({self._item_ids.size} item ids, Rasch) and skills"
        return "skills only"

    def _build_network(self) -> nn.Module:
        return self.network_class(self.n_skills, int(self._item_ids.size), self.config).to(
            self._device
        )

    def _batch_items(self, batch: SequenceBatch, items: torch.Tensor) -> torch.Tensor:
        return torch.where(batch.mask, items[batch.rows.clamp(min=0)], UNKNOWN_ITEM)  # (B, T)

    def loss(self, batch: SequenceBatch) -> torch.Tensor:
        """Summed BCE of the batch's real rows over the mean rows per batch (as DKT), plus
        the network's penalty (AKT's l2 on the batch's item difficulties)."""
        network = self._require_fitted("loss")
        items = self._batch_items(batch, self._items)
        logits, mu = network(batch.skills, items, batch.correct, batch.context)  # (B, T)
        picked = logits[batch.mask]  # (n_real,)
        target = (
            batch.correct[batch.mask]
            if self._targets is None
            else self._targets[batch.rows[batch.mask]]
        )
        total = F.binary_cross_entropy_with_logits(picked, target, reduction="sum")
        penalty = network.penalty(None if mu is None else mu[batch.mask])
        return total / self._steps_per_batch + penalty

    def _read_training_items(self, table: pd.DataFrame, encoded: EncodedSequences) -> None:
        """Item ids (for the Rasch embedding) when the model reads them and they are more
        than the skills; the item index of every training row."""
        self._item_ids = np.zeros(0, dtype=np.int64)
        if self.reads_items and self.config.questions == "auto" and "item_id" in table.columns:
            items = np.unique(table["item_id"].to_numpy())
            if items.size > self._skill_ids.size:
                self._item_ids = items
        items = _item_index(self._item_ids, table, encoded.positions)
        self._items = torch.from_numpy(items).to(self._device)

    def fit(
        self, table: pd.DataFrame, valid: pd.DataFrame | None = None, progress: bool = False
    ) -> "AttentionTracer":
        """``TorchTracer.fit``; the training rows' item indices are dropped after it."""
        try:
            return super().fit(table, valid, progress)
        finally:
            self._items = None  # they belong to the training rows only

    def _prepared(self, table: pd.DataFrame, where: str) -> tuple[EncodedSequences, np.ndarray]:
        """The table's rows of known skills, encoded, and their item indices."""
        encoded = encode_table(table, self._skill_ids, where=where)
        known, _ = drop_unknown_skills(encoded)
        return known, _item_index(self._item_ids, table, known.positions)

    def _validator(self, valid: pd.DataFrame) -> Callable[[], dict[str, float]]:
        """Scores ``valid`` (its rows of known skills) by AUC and log-loss, for early stopping."""
        encoded, items = self._prepared(valid, "validation table")
        batches = self._scoring_batches(encoded)

        def validate() -> dict[str, float]:
            probabilities = self._score(batches, items, encoded.n_rows)
            metrics = binary_metrics(encoded.correct, probabilities)
            return {name: metrics[name] for name in ("auc", "log_loss")}

        return validate

    def _scoring_batches(self, encoded: EncodedSequences) -> list[SequenceBatch]:
        windows = cut_attempt_windows(encoded, self.config.max_length)
        return make_batches(encoded, windows, self.config.eval_batch_size)

    @torch.no_grad()
    def _score(
        self, batches: list[SequenceBatch], items: np.ndarray, n_rows: int
    ) -> np.ndarray:
        """(n_rows,) p(correct) of every encoded row, each window read from an empty history."""
        network = self._require_fitted("predict")
        network.eval()
        item_tensor = torch.from_numpy(items).to(self._device)
        probabilities = np.full(n_rows, np.nan)
        for batch in batches:
            batch = batch.to(self._device)
            logits, _ = network(
                batch.skills, self._batch_items(batch, item_tensor), batch.correct, batch.context
            )  # (B, T)
            probabilities[batch.rows[batch.mask].cpu().numpy()] = (
                torch.sigmoid(logits[batch.mask]).double().cpu().numpy()
            )
        return probabilities

    def _score_known(self, table: pd.DataFrame, known: EncodedSequences) -> np.ndarray:
        items = _item_index(self._item_ids, table, known.positions)
        return self._score(self._scoring_batches(known), items, known.n_rows)

    def knowledge_state(self, history: pd.DataFrame) -> np.ndarray:
        """(n_skills,) p(correct) on a next one-row attempt at each skill (an unknown item)
        after one student's history (may be empty; rows of unknown skills are ignored).

        It is ``predict``'s value for that next row: one copy of the history per skill, each
        followed by the query row, scored in the same windows.
        """
        self._require_fitted("knowledge_state")
        if len(history) and history["user_id"].nunique() > 1:
            raise ValueError(
                "knowledge_state needs one student's history, "
                f"got {history['user_id'].nunique()} students"
            )
        known, items = self._prepared(history, "history")
        n, copies = known.n_rows, self.n_skills
        width = n + 1
        offsets = np.arange(copies)[:, None] * width  # (S, 1)
        tile = lambda values, last: np.concatenate(  # noqa: E731
            [np.tile(values, (copies, 1)), last.reshape(copies, 1)], axis=1
        ).ravel()
        context = np.where(known.context >= 0, known.context, -1)[None, :] + np.where(
            known.context >= 0, offsets, 0
        )  # (S, n)
        last_context = offsets[:, 0] + n - 1 if n else np.full(copies, -1)
        tiled = EncodedSequences(
            positions=np.arange(copies * width, dtype=np.int64),
            student=np.repeat(np.arange(copies, dtype=np.int64), width),
            skill=tile(known.skill, np.arange(copies)),
            correct=tile(known.correct, np.zeros(copies, np.int64)),
            context=np.concatenate([context, last_context[:, None]], axis=1).ravel(),
            attempt_start=tile(known.attempt_start, np.ones(copies, bool)),
            student_start=np.arange(copies + 1, dtype=np.int64) * width,
        )
        tiled_items = tile(items, np.full(copies, UNKNOWN_ITEM))
        scored = self._score(self._scoring_batches(tiled), tiled_items, tiled.n_rows)
        return scored[offsets[:, 0] + n]

    def save(self, directory: str | Path) -> Path:
        """Write the weights, skill and item maps and settings (``model.pt``, ``config.json``)."""
        payload = {**self._saved_state(), "item_ids": self._item_ids}
        return write_model(directory, self.model_name, payload, self.config.to_dict())

    @classmethod
    def load(cls, directory: str | Path, device: str | None = None) -> "AttentionTracer":
        """Read a model written by ``save`` (weights-only loading: no pickled objects)."""
        payload, config = read_model(directory, cls.model_name)
        settings = cls.config_class.from_dict(config)
        if device is not None:
            settings = replace(settings, device=device)
        model = cls(settings)
        model._item_ids = np.asarray(payload["item_ids"].numpy())
        model._restore_state(payload)
        return model
