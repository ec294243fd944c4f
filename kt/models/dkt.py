"""Deep Knowledge Tracing (Piech et al., 2015, "Deep Knowledge Tracing", NeurIPS).

A recurrent network reads a student's history of (skill, correct) pairs, one step per row,
and after each step outputs one logit per skill: the log-odds that the student answers an
exercise of that skill correctly next. The input of a step is the pair index
``skill + n_skills * correct``, one-hot (the paper's ``2 * n_skills`` vector) or embedded
(pyKT's DKT uses a 200-wide embedding). The encoder is ``nets.SequenceEncoder`` (LSTM by
default, GRU or plain RNN selectable) and the head ``nets.SigmoidHead``; the loss is
BCE-with-logits and the sigmoid is applied only at prediction.

Scoring protocol (leak-free by construction): row ``r`` is predicted from the output after
the *last row of the student's previous attempt* (its context, see ``kt.data.sequences``), or
from the initial output (zeros through the head, i.e. the head's bias) on the student's
first attempt. All rows of a multi-skill attempt share that context, so none of them sees
its own answer or another skill's answer of the same attempt. Every row is scored exactly
once, the first attempt included (pyKT scores from the second step on). Long sequences are
cut into windows of ``max_length`` rows for training (each window starts from a zero state,
as in pyKT); prediction carries the state across windows, so it equals scoring the uncut
sequence.

Skills are mapped to indices ``0..n_skills-1`` at ``fit`` (``skill_ids``). A row whose
skill was not seen in training is neither fed to the network nor scored by it: it gets the
training mean correctness, and ``n_unknown_skill_rows`` counts such rows of the last
``predict`` (with a warning).

``fit`` fits the network on the table it is given and nothing else: hold-outs, concept
mixtures, teacher targets and refits are prepared by ``kt.experiments.fitting``. When the
table has a ``training_target`` column (``kt.data.table.TARGET_COLUMN``), its values in [0, 1]
are the training targets instead of the 0/1 answers (distillation); early stopping, the
training mean and every metric still use the answers.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable

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
    drop_unknown_skills,
    encode_table,
    evaluation_rounds,
)
from riley_gym.kt.models.files import read_model, write_model
from riley_gym.kt.models.torch_tracer import TorchTracer
from riley_gym.kt.models.training import TrainingConfig

INPUT_ENCODINGS = ("embedding", "one-hot")


@dataclass(frozen=True)
class DKTConfig(nets.Settings):
    """Settings of a DKT model and its training."""

    input_encoding: str = field(
        default="embedding",
        metadata={
            "help": (
                "step input: an embedding of the (skill, correct) pair, or one-hot "
                "(2 * n_skills)"
            ),
            "choices": INPUT_ENCODINGS,
        },
    )
    embedding_size: int = field(
        default=200,
        metadata={"help": "width of the (skill, correct) embedding (input_encoding='embedding')"},
    )
    hidden_size: int = field(default=200, metadata={"help": "recurrent state width"})
    cell: str = field(
        default="lstm", metadata={"help": "recurrent cell", "choices": ("lstm", "gru", "rnn")}
    )
    num_layers: int = field(default=1, metadata={"help": "stacked recurrent layers"})
    dropout: float = field(default=0.2, metadata={"help": "dropout on the recurrent outputs"})
    input_dropout: float = field(
        default=0.0,
        metadata={
            "help": (
                "dropout on the step inputs while training "
                "(one-hot: hides whole (skill, correct) steps)"
            )
        },
    )
    max_length: int = field(
        default=200,
        metadata={"help": "rows per training window (prediction carries the state across windows)"},
    )
    batch_size: int = field(default=256, metadata={"help": "windows per training batch"})
    eval_batch_size: int = field(
        default=512, metadata={"help": "windows per batch when predicting"}
    )
    packed: bool = field(
        default=False,
        metadata={
            "help": (
                "pack training batches (off: length-sorted padded batches took 10 s per "
                "ASSISTments 2015 epoch on CPU, packed 53 s)"
            )
        },
    )
    device: str = field(default="cpu", metadata={"help": "torch device: cpu, cuda or auto"})
    seed: int = field(default=0, metadata={"help": "seed of initial weights and dropout"})
    training: TrainingConfig = field(
        default_factory=TrainingConfig, metadata={"help": "optimiser and early-stopping settings"}
    )

    def __post_init__(self) -> None:
        self.check_choice("input_encoding", INPUT_ENCODINGS)
        self.check_choice("cell", sorted(nets.recurrent.CELLS))
        names = ["embedding_size", "hidden_size", "num_layers", "max_length", "batch_size"]
        self.check_at_least([*names, "eval_batch_size"], 1)
        self.check_at_least(["seed"], 0)
        self.check_interval(["dropout", "input_dropout"], 0.0, 1.0, high_open=True)
        self.check("training", isinstance(self.training, TrainingConfig), "a TrainingConfig")

    @classmethod
    def pykt(cls) -> "DKTConfig":
        """pyKT's DKT settings for ASSISTments 2015: embedding 200, hidden 200, dropout 0.2,
        lr 1e-3, batch 256, windows of 200."""
        return cls(
            embedding_size=200,
            hidden_size=200,
            dropout=0.2,
            batch_size=256,
            max_length=200,
            training=replace(TrainingConfig(), learning_rate=1e-3),
        )


def next_attempt_logits(
    outputs: torch.Tensor,
    initial_outputs: torch.Tensor,
    context: torch.Tensor,
    skills: torch.Tensor,
    mask: torch.Tensor,
    head: nets.SigmoidHead,
) -> torch.Tensor:
    """Pick, for every real step, the logit of its own skill from the output of its context step.

    This is the only place the DKT shift happens: step ``t`` is predicted by the output at
    step ``context[b, t]`` (the last row of the previous attempt; ``t - 1`` for one row per
    attempt), or by the window's initial output when ``context`` is -1. It equals
    ``head(outputs)`` gathered at (context, skill), but applies the head only to the picked
    outputs and only for the one skill needed, not the full ``(batch, time, n_skills)``.

    Args:
        outputs: (batch, time, hidden) encoder output after reading each step.
        initial_outputs: (batch, hidden) output before the window's first step.
        context: (batch, time) long in [-1, time - 1]; -1 selects ``initial_outputs``.
        skills: (batch, time) long skill index of each step.
        mask: (batch, time) bool, True at real steps.
        head: the per-skill logit layer.

    Returns:
        (n_real,) the picked logits of the real steps, in row-major (batch, time) order.
    """
    batch, time, hidden = outputs.shape
    with_initial = torch.cat(
        [initial_outputs.unsqueeze(1), outputs], dim=1
    )  # (batch, time + 1, hidden)
    base = torch.arange(batch, device=outputs.device).unsqueeze(1) * (time + 1)  # (batch, 1)
    index = (base + context + 1)[mask]  # (n_real,)
    picked = with_initial.reshape(-1, hidden)[index]  # (n_real, hidden)
    skill = skills[mask]  # (n_real,)
    weight, bias = head.linear.weight, head.linear.bias  # (n_skills, hidden), (n_skills,)
    return (picked * weight[skill]).sum(dim=-1) + bias[skill]  # (n_real,)


class DKTNetwork(nn.Module):
    """(skill, correct) steps -> embedding or one-hot -> recurrent encoder -> per-skill logits."""

    def __init__(self, n_skills: int, config: DKTConfig) -> None:
        super().__init__()
        if n_skills < 1:
            raise ValueError(f"n_skills must be >= 1, got {n_skills}")
        self.n_skills = n_skills
        self.one_hot = config.input_encoding == "one-hot"
        input_size = 2 * n_skills if self.one_hot else config.embedding_size
        self.embedding = None if self.one_hot else nn.Embedding(2 * n_skills, config.embedding_size)
        self.input_dropout = (
            nn.Dropout(config.input_dropout) if config.input_dropout > 0 else nn.Identity()
        )
        self.encoder = nets.SequenceEncoder(
            input_size, config.hidden_size, config.cell, config.num_layers, config.dropout
        )
        self.head = nets.SigmoidHead(config.hidden_size, n_skills)

    def step_inputs(self, skills: torch.Tensor, correct: torch.Tensor) -> torch.Tensor:
        """(batch, time) skills and 0/1 answers -> (batch, time, input_size) step features."""
        pairs = skills + self.n_skills * correct.long()  # (batch, time)
        if self.one_hot:
            return F.one_hot(pairs, 2 * self.n_skills).float()  # (batch, time, 2 * n_skills)
        return self.embedding(pairs)  # (batch, time, embedding_size)

    def encode(
        self,
        skills: torch.Tensor,
        correct: torch.Tensor,
        lengths: torch.Tensor | None = None,
        state: Any = None,
    ) -> tuple[torch.Tensor, Any]:
        """Encoder output after reading each step.

        Args:
            skills: (batch, time) long skill indices.
            correct: (batch, time) 0/1 answers.
            lengths: (batch,) real steps per sequence (packs the batch); None runs every
                step, so outputs past a sequence's end and the returned state are then
                meaningless unless all sequences are full length.
            state: recurrent state to start from, or None for zeros.

        Returns:
            outputs (batch, time, hidden) and the recurrent state after the last step run.
        """
        features = self.input_dropout(
            self.step_inputs(skills, correct)
        )  # (batch, time, input_size)
        return self.encoder(features, lengths, state)  # (batch, time, hidden)

    def forward(
        self,
        skills: torch.Tensor,
        correct: torch.Tensor,
        lengths: torch.Tensor | None = None,
        state: Any = None,
    ) -> tuple[torch.Tensor, Any]:
        """Per-skill logits (batch, time, n_skills) after reading each step, and the state
        (see ``encode``)."""
        outputs, state = self.encode(skills, correct, lengths, state)  # (batch, time, hidden)
        return self.head(outputs), state  # (batch, time, n_skills)

    def initial_outputs(self, batch: int) -> torch.Tensor:
        """(batch, hidden) output before any step: zeros,
        so the first prediction is the head's bias."""
        return self.head.linear.bias.new_zeros(
            batch, self.head.linear.in_features
        )  # (batch, hidden)

    def summed_bce(
        self,
        skills: torch.Tensor,
        correct: torch.Tensor,
        context: torch.Tensor,
        mask: torch.Tensor,
        target: torch.Tensor | None = None,
        lengths: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """BCE-with-logits of each real step's next-attempt prediction, summed (a scalar).

        ``target`` (n_real,) replaces the 0/1 answers (soft targets); ``lengths`` packs the
        batch (see ``encode``).
        """
        outputs, _ = self.encode(skills, correct, lengths)  # (B, T, H)
        initial = self.initial_outputs(outputs.shape[0])  # (B, H)
        picked = next_attempt_logits(
            outputs, initial, context, skills, mask, self.head
        )  # (n_real,)
        target = correct[mask] if target is None else target  # (n_real,)
        return F.binary_cross_entropy_with_logits(picked, target, reduction="sum")  # scalar


def _last_layer_output(state: Any) -> torch.Tensor:
    """(batch, hidden) output of the last layer at the state's step (LSTM state is (h, c))."""
    hidden = state[0] if isinstance(state, tuple) else state  # (layers, batch, hidden)
    return hidden[-1]


def _select_state(state: Any, index: torch.Tensor) -> Any:
    if isinstance(state, tuple):
        return tuple(part[:, index].contiguous() for part in state)
    return state[:, index].contiguous()


def _store_state(store: Any, index: torch.Tensor, state: Any) -> None:
    if isinstance(store, tuple):
        for part, new in zip(store, state):
            part[:, index] = new
    else:
        store[:, index] = state


class DKT(TorchTracer):
    """Deep Knowledge Tracing behind the ``KnowledgeTracer`` protocol.

    Args:
        config: model and training settings.

    Attributes:
        network: the fitted ``DKTNetwork`` (None before ``fit``).
        history: the ``TrainingHistory`` of the last ``fit``.
        global_mean: training mean correctness, the prediction for unknown skills.
        n_unknown_skill_rows: rows of the last ``predict`` whose skill was unknown.
    """

    config_class = DKTConfig
    network: DKTNetwork | None

    def __init__(self, config: DKTConfig | None = None) -> None:
        super().__init__(config)

    def _build_network(self) -> DKTNetwork:
        return DKTNetwork(self.n_skills, self.config).to(self._device)

    def loss(self, batch: SequenceBatch) -> torch.Tensor:
        """BCE-with-logits summed over a training batch's real steps, over the mean steps per batch.

        Batches are sorted by length, so their step counts differ a lot (256 windows of 3
        steps or of 200). Dividing by the epoch's mean steps per batch, not by the batch's
        own count, weighs every step alike, as pyKT's unsorted batches do; with the
        per-batch mean, short-window batches were over-weighted and the ASSISTments 2015
        validation AUC rose more slowly per epoch (0.697 vs pyKT's 0.712 after one epoch).
        Over an epoch the mean of these losses is the mean BCE per step.
        """
        network = self._require_fitted("loss")
        soft = None if self._targets is None else self._targets[batch.rows[batch.mask]]
        total = network.summed_bce(
            batch.skills, batch.correct, batch.context, batch.mask, soft,
            batch.lengths if self.config.packed else None,
        )  # fmt: skip
        return total / self._steps_per_batch

    def _validator(self, valid: pd.DataFrame) -> Callable[[], dict[str, float]]:
        """Scores ``valid`` (its rows of known skills) by AUC and log-loss, for early stopping."""
        encoded = encode_table(valid, self._skill_ids, where="validation table")
        encoded, _ = drop_unknown_skills(encoded)
        rounds = evaluation_rounds(encoded, self.config.max_length, self.config.eval_batch_size)

        def validate() -> dict[str, float]:
            metrics = binary_metrics(encoded.correct, self._score(rounds, encoded))
            return {name: metrics[name] for name in ("auc", "log_loss")}

        return validate

    @torch.no_grad()
    def _score(self, rounds: list[list[SequenceBatch]], encoded: EncodedSequences) -> np.ndarray:
        """(n_rows,) p(correct) of every row of ``encoded`` (known skills only),
        state carried across windows.

        Batches run unpacked (packing measured about 5x slower on CPU). The state after a
        batch is exact only when all its windows have the same length, and
        ``evaluation_rounds`` batches every window that a later window continues that way.
        """
        network = self._require_fitted("predict")
        network.eval()
        probabilities = np.full(encoded.n_rows, np.nan)
        store, stored = None, np.zeros(encoded.n_students, dtype=bool)
        for number, batches in enumerate(rounds):
            for batch in batches:
                batch = batch.to(self._device)
                students = batch.students.cpu().numpy()
                if number == 0:
                    state, initial = None, network.initial_outputs(students.size)  # (B, H)
                else:
                    assert stored[students].all(), "a continued window's state was not kept"
                    state = _select_state(store, batch.students)
                    initial = _last_layer_output(state)  # (B, H)
                outputs, new_state = network.encode(
                    batch.skills, batch.correct, None, state
                )  # (B, T, H)
                picked = next_attempt_logits(
                    outputs, initial, batch.context, batch.skills, batch.mask, network.head
                )
                probabilities[batch.rows[batch.mask].cpu().numpy()] = (
                    torch.sigmoid(picked).double().cpu().numpy()
                )
                if number + 1 < len(rounds) and bool((batch.lengths == batch.lengths[0]).all()):
                    if store is None:
                        shape = lambda part: (part.shape[0], encoded.n_students, part.shape[2])  # noqa: E731
                        store = (
                            tuple(part.new_zeros(shape(part)) for part in new_state)
                            if isinstance(new_state, tuple)
                            else new_state.new_zeros(shape(new_state))
                        )
                    _store_state(store, batch.students, new_state)
                    stored[students] = True
        return probabilities

    def _score_known(self, table: pd.DataFrame, known: EncodedSequences) -> np.ndarray:
        rounds = evaluation_rounds(known, self.config.max_length, self.config.eval_batch_size)
        return self._score(rounds, known)

    @torch.no_grad()
    def knowledge_trajectory(self, history: pd.DataFrame) -> np.ndarray:
        """p(correct) on a next attempt at each skill, before and after each row of one student.

        Args:
            history: canonical rows of one student (any order; sorted by ``order``).

        Returns:
            (n_rows + 1, n_skills): row 0 before any attempt, row ``i + 1`` after the
            history's ``i``-th row in ``order``. Rows with unknown skills leave it unchanged.

        Raises:
            ValueError: if the history holds more than one student.
        """
        network = self._require_fitted("knowledge_state")
        if len(history) and history["user_id"].nunique() > 1:
            raise ValueError(
                "knowledge_state needs one student's history, got "
                f"{history['user_id'].nunique()} students"
            )
        encoded = encode_table(history, self._skill_ids, where="history")
        network.eval()
        initial = network.head.probabilities(network.initial_outputs(1))[0]  # (S,)
        trajectory = initial.expand(encoded.n_rows + 1, -1).clone()  # (n_rows + 1, S)
        known = np.flatnonzero(encoded.skill >= 0)
        if known.size:
            skills = (
                torch.from_numpy(encoded.skill[known]).to(self._device).unsqueeze(0)
            )  # (1, n_known)
            correct = (
                torch.from_numpy(encoded.correct[known]).to(self._device).unsqueeze(0)
            )  # (1, n_known)
            logits, _ = network(skills, correct)  # (1, n_known, S)
            after = torch.sigmoid(logits[0])  # (n_known, S)
            # Each row takes the output of the last known row at or before it.
            last_known = (
                np.searchsorted(known, np.arange(encoded.n_rows), side="right") - 1
            )  # (n_rows,)
            has = last_known >= 0
            trajectory[1:][torch.from_numpy(has)] = after[torch.from_numpy(last_known[has])]
        return trajectory.double().cpu().numpy()

    def knowledge_state(self, history: pd.DataFrame) -> np.ndarray:
        """(n_skills,) p(correct) on a next attempt at each skill after one student's history
        (may be empty)."""
        return self.knowledge_trajectory(history)[-1]

    def save(self, directory: str | Path) -> Path:
        """Write the weights, skill map and settings to ``directory`` (``model.pt`` and
        ``config.json``)."""
        return write_model(directory, "dkt", self._saved_state(), self.config.to_dict())

    @classmethod
    def from_network(
        cls, config: DKTConfig, network: DKTNetwork, skill_ids: np.ndarray, global_mean: float
    ) -> "DKT":
        """A fitted DKT around a network trained elsewhere (``kt.models.streaming``).

        Args:
            config: the settings the network was built with.
            network: the trained network (shared, not copied).
            skill_ids: (n_skills,) the skill id of each of the network's skill indices.
            global_mean: the prediction for rows of skills outside ``skill_ids``.
        """
        skill_ids = np.asarray(skill_ids, dtype=np.int64)
        if network.n_skills != skill_ids.size:
            raise ValueError(
                f"DKT.from_network: the network has {network.n_skills} skills, "
                f"skill_ids {skill_ids.size}"
            )
        model = cls(config)
        model.network = network
        model._skill_ids = skill_ids.copy()
        model.global_mean = float(global_mean)
        return model

    @classmethod
    def load(cls, directory: str | Path, device: str | None = None) -> "DKT":
        """Read a model written by ``save`` (weights-only loading: no pickled objects)."""
        payload, config = read_model(directory, "dkt")
        settings = DKTConfig.from_dict(config)
        if device is not None:
            settings = replace(settings, device=device)
        model = cls(settings)
        model._restore_state(payload)
        return model
