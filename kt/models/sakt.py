"""SAKT (Pandey and Karypis, 2019, "A Self-Attentive model for Knowledge Tracing", EDM).

The query of a row is the embedding of its exercise (here: its skill, as in the paper's
ASSISTments runs and in pyKT); the keys and values are the embeddings of the student's
earlier interactions (skill, answer) plus a learned position (the attempt number within the
window). ``n_blocks`` post-norm attention layers, each with a feed-forward layer
(``nets.attention.AttentionBlock``), read the history through ``history_mask`` (earlier
attempts only); a linear layer gives the logit. Skills only, whatever the log holds.
Fitting, prediction, windows and files: ``kt.models.attention_tracer``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from riley_gym import nets
from riley_gym.kt.models.attention_tracer import AttentionKTConfig, AttentionTracer, attempt_layout

__all__ = ["SAKT", "SAKTConfig", "SAKTNetwork"]


@dataclass(frozen=True)
class SAKTConfig(AttentionKTConfig):
    """Settings of a SAKT model and its training (pyKT's defaults: width 256, 8 heads)."""

    dropout: float = field(default=0.2, metadata={"help": "dropout in attention and output"})


class SAKTNetwork(nn.Module):
    """Exercise queries over position-tagged interaction keys -> one logit per row."""

    def __init__(self, n_skills: int, n_items: int, config: AttentionKTConfig) -> None:
        super().__init__()
        d_model = config.embedding_size
        self.n_skills = n_skills
        self.interactions = nn.Embedding(2 * n_skills, d_model)
        self.exercises = nn.Embedding(n_skills, d_model)
        self.positions = nets.attention.LearnedPositions(config.max_length, d_model)
        self.blocks = nn.ModuleList(
            nets.attention.AttentionBlock(
                d_model, config.n_heads, config.dropout, d_ff=config.d_ff, norm="post"
            )
            for _ in range(config.n_blocks)
        )
        self.output_dropout = nn.Dropout(config.dropout)
        self.output = nn.Linear(d_model, 1)

    def forward(
        self,
        skills: torch.Tensor,
        items: torch.Tensor,
        correct: torch.Tensor,
        context: torch.Tensor,
    ) -> tuple[torch.Tensor, None]:
        """(B, T) inputs -> (B, T) logits of each row's answer from earlier attempts only."""
        positions, history, _ = attempt_layout(context)
        keys = self.positions(
            self.interactions(skills + self.n_skills * correct.long()), positions
        )  # (B, T, d)
        state = self.exercises(skills)  # (B, T, d)
        for block in self.blocks:
            state = block(state, keys, keys, history)  # (B, T, d)
        return self.output(self.output_dropout(state)).squeeze(-1), None  # (B, T)

    def penalty(self, mu: torch.Tensor | None) -> torch.Tensor | float:
        return 0.0


class SAKT(AttentionTracer):
    """SAKT behind the ``KnowledgeTracer`` protocol (see ``AttentionTracer``)."""

    model_name = "sakt"
    config_class = SAKTConfig
    network_class = SAKTNetwork
    reads_items = False
