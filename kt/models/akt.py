"""AKT (Ghosh, Heffernan and Lan, 2020, "Context-Aware Attentive Knowledge Tracing", KDD).

Rasch-embedded questions and interactions (``RaschEmbedding``: item difficulty times a
skill's variation vector, where the log has item ids; skills only otherwise), then three
stacks of monotonic attention (``AttentionBlock(monotonic=True, shared_key_query=True)``,
post-norm, as pyKT's AKT): the question encoder (questions over earlier questions and
themselves), the knowledge encoder (interactions over earlier interactions and themselves)
and the knowledge retriever (each question over the encoded questions of earlier attempts,
reading their encoded interactions; ``history_mask``). Each of the ``n_blocks`` retriever
steps is one question self-attention without feed-forward and one retrieval with it, as
pyKT's ``blocks_2``. The output layers read [retrieved knowledge, question]. The loss adds
``l2`` times the summed squared difficulties of the batch's rows. The decay's distance counts
attempts (``attempt_layout``). Fitting, prediction, windows and files:
``kt.models.attention_tracer``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from riley_gym import nets
from riley_gym.kt.models.attention_tracer import (
    AttentionKTConfig,
    AttentionTracer,
    OutputLayers,
    RaschEmbedding,
    attempt_layout,
)

__all__ = ["AKT", "AKTConfig", "AKTNetwork"]


@dataclass(frozen=True)
class AKTConfig(AttentionKTConfig):
    """Settings of an AKT model and its training (pyKT's defaults: width 256, 8 heads)."""

    dropout: float = field(default=0.05, metadata={"help": "dropout in attention and output"})
    hidden_size: int = field(
        default=512, metadata={"help": "width of the output layers (AKT, simpleKT)"}
    )


def _block(config: AttentionKTConfig, feed_forward: bool) -> nets.attention.AttentionBlock:
    return nets.attention.AttentionBlock(
        config.embedding_size,
        config.n_heads,
        config.dropout,
        d_ff=config.d_ff if feed_forward else 0,
        norm="post",
        monotonic=True,
        shared_key_query=True,
    )


class AKTNetwork(nn.Module):
    """Rasch embeddings -> question and knowledge encoders -> retriever -> one logit per row."""

    def __init__(self, n_skills: int, n_items: int, config: AttentionKTConfig) -> None:
        super().__init__()
        self.l2 = config.l2
        self.embedding = RaschEmbedding(n_skills, n_items, config.embedding_size)
        self.knowledge_encoder = nn.ModuleList(
            _block(config, True) for _ in range(config.n_blocks)
        )
        self.question_encoder = nn.ModuleList(
            _block(config, False) for _ in range(config.n_blocks)
        )
        self.retriever = nn.ModuleList(_block(config, True) for _ in range(config.n_blocks))
        self.output = OutputLayers(config.embedding_size, config.hidden_size, config.dropout)

    def forward(
        self,
        skills: torch.Tensor,
        items: torch.Tensor,
        correct: torch.Tensor,
        context: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(B, T) inputs -> (B, T) logits from earlier attempts only, and (B, T) mu (or None)."""
        positions, history, own = attempt_layout(context)
        question, interaction, mu = self.embedding(skills, items, correct)  # (B, T, d) x2
        values = interaction
        for block in self.knowledge_encoder:
            values = block(values, values, values, own, positions, positions)  # (B, T, d)
        state = question
        for asking, retrieving in zip(self.question_encoder, self.retriever):
            state = asking(state, state, state, own, positions, positions)  # (B, T, d)
            state = retrieving(state, state, values, history, positions, positions)
        return self.output(state, question), mu  # (B, T)

    def penalty(self, mu: torch.Tensor | None) -> torch.Tensor | float:
        """l2 * the summed squared item difficulties of the rows (0 without items)."""
        return 0.0 if mu is None else self.l2 * (mu**2).sum()


class AKT(AttentionTracer):
    """AKT behind the ``KnowledgeTracer`` protocol (see ``AttentionTracer``)."""

    model_name = "akt"
    config_class = AKTConfig
    network_class = AKTNetwork
