"""simpleKT (Liu et al., 2023, "simpleKT: A Simple But Tough-to-Beat Baseline for Knowledge
Tracing", ICLR).

The Rasch embeddings of AKT (``RaschEmbedding``; skills only where the log has no item
ids) plus sinusoidal positions (the attempt number within the window), then ``n_blocks``
plain scaled-dot-product attention layers (post-norm, feed-forward, shared key and query
projection, as pyKT's simpleKT): each question attends over the questions of earlier
attempts (``history_mask``) and reads their interactions; from the second layer on, the
queries and keys are the previous layer's output, as in pyKT's code (the simpleKT authors'),
where ``x = block(query=x, key=x, values=y)``. The output layers read [retrieved knowledge,
question]. Fitting, prediction, windows and files: ``kt.models.attention_tracer``.
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

__all__ = ["SimpleKT", "SimpleKTConfig", "SimpleKTNetwork"]


@dataclass(frozen=True)
class SimpleKTConfig(AttentionKTConfig):
    """Settings of a simpleKT model and its training (pyKT's defaults: 2 blocks, 4 heads)."""

    n_heads: int = field(default=4, metadata={"help": "attention heads (divide embedding_size)"})
    n_blocks: int = field(default=2, metadata={"help": "attention layers (AKT: per stack)"})


class SimpleKTNetwork(nn.Module):
    """Rasch embeddings + sinusoidal positions -> attention over earlier attempts -> logits."""

    def __init__(self, n_skills: int, n_items: int, config: AttentionKTConfig) -> None:
        super().__init__()
        self.l2 = config.l2
        self.embedding = RaschEmbedding(n_skills, n_items, config.embedding_size)
        self.positions = nets.attention.SinusoidalPositions(config.embedding_size)
        self.blocks = nn.ModuleList(
            nets.attention.AttentionBlock(
                config.embedding_size, config.n_heads, config.dropout, d_ff=config.d_ff,
                norm="post", shared_key_query=True,
            )  # fmt: skip
            for _ in range(config.n_blocks)
        )
        self.output = OutputLayers(config.embedding_size, config.hidden_size, config.dropout)

    def forward(
        self,
        skills: torch.Tensor,
        items: torch.Tensor,
        correct: torch.Tensor,
        context: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(B, T) inputs -> (B, T) logits from earlier attempts only, and (B, T) mu (or None)."""
        positions, history, _ = attempt_layout(context)
        question, interaction, mu = self.embedding(skills, items, correct)  # (B, T, d) x2
        state = self.positions(question, positions)  # (B, T, d): queries and keys
        values = self.positions(interaction, positions)  # (B, T, d)
        for block in self.blocks:
            state = block(state, state, values, history)  # (B, T, d)
        return self.output(state, question), mu  # (B, T)

    def penalty(self, mu: torch.Tensor | None) -> torch.Tensor | float:
        """l2 * the summed squared item difficulties of the rows (0 without items)."""
        return 0.0 if mu is None else self.l2 * (mu**2).sum()


class SimpleKT(AttentionTracer):
    """simpleKT behind the ``KnowledgeTracer`` protocol (see ``AttentionTracer``)."""

    model_name = "simplekt"
    config_class = SimpleKTConfig
    network_class = SimpleKTNetwork
