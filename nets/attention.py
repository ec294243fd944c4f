"""Causal multi-head attention for sequence models: the block, its masks and positions.

``AttentionBlock`` is one transformer layer (Vaswani et al., 2017): multi-head attention of a
query sequence over key and value sequences, dropout, a residual connection and layer norm
(post-norm as in the paper and in the knowledge-tracing models of pyKT, or pre-norm), then an
optional position-wise feed-forward layer with its own residual and norm.

What a query may see is given by a boolean mask ``allowed`` of shape ``(batch, queries, keys)``
(or ``(queries, keys)`` for every sequence alike): True where query ``t`` may read key ``j``.
The block never looks past it, so causality is a property of the mask: ``causal_mask`` lets
each step see itself and earlier steps (or only earlier ones), ``history_mask`` lets each
step see the keys up to a per-step limit (a knowledge tracer's previous attempt, so that the
rows of one multi-skill attempt never see each other's answers). A query that may see no key
(a student's first attempt) gets a zero attention output, as AKT's ``zero_pad`` does, rather
than the NaN a softmax over nothing would give.

``monotonic=True`` is AKT's monotonic attention (Ghosh, Heffernan and Lan, 2020, "Context-Aware
Attentive Knowledge Tracing", eq. 5-6): each head's scores are multiplied by
``exp(-softplus(gamma) * d(t, j))``, where the distance ``d`` grows with how far back key ``j``
lies and with how much attention the keys between ``j`` and ``t`` take, so older interactions
fade. That factor multiplies the scores, which an additive mask cannot express, so the
monotonic path computes the softmax explicitly; every other path calls
``torch.nn.functional.scaled_dot_product_attention`` (fused kernels on CUDA, one fused op on
CPU).

Positions: ``LearnedPositions`` (a table of ``max_length`` vectors, as in SAKT) and
``SinusoidalPositions`` (the fixed sines and cosines of Vaswani et al., as in simpleKT's
``CosinePositionalEmbedding``); both add a position vector to each step.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

__all__ = [
    "AttentionBlock",
    "LearnedPositions",
    "SinusoidalPositions",
    "causal_mask",
    "history_mask",
    "NORMS",
]

NORMS = ("post", "pre")


def causal_mask(time: int, include_current: bool = True, device=None) -> torch.Tensor:
    """(time, time) bool: query ``t`` may see key ``j`` iff ``j <= t`` (strict: ``j < t``)."""
    steps = torch.arange(time, device=device)
    if include_current:
        return steps[None, :] <= steps[:, None]
    return steps[None, :] < steps[:, None]


def history_mask(limit: torch.Tensor, n_keys: int | None = None) -> torch.Tensor:
    """(batch, time, keys) bool: query ``t`` may see key ``j`` iff ``j <= limit[b, t]``.

    Args:
        limit: (batch, time) long, the last key each query may read (-1: none).
        n_keys: number of keys (default: ``time``).
    """
    n_keys = limit.shape[1] if n_keys is None else n_keys
    keys = torch.arange(n_keys, device=limit.device)  # (keys,)
    return keys[None, None, :] <= limit[:, :, None]  # (batch, time, keys)


class LearnedPositions(nn.Module):
    """Adds a learned vector per position; positions past ``max_length - 1`` share the last one."""

    def __init__(self, max_length: int, d_model: int) -> None:
        super().__init__()
        if max_length < 1 or d_model < 1:
            raise ValueError(f"max_length and d_model must be >= 1, got {max_length}, {d_model}")
        self.table = nn.Embedding(max_length, d_model)

    def forward(self, x: torch.Tensor, positions: torch.Tensor | None = None) -> torch.Tensor:
        """(batch, time, d_model) -> the same plus the vector of each step's position.

        ``positions``: (batch, time) long; default 0, 1, ... along time.
        """
        if positions is None:
            positions = torch.arange(x.shape[1], device=x.device)[None]  # (1, T)
        positions = positions.clamp(min=0, max=self.table.num_embeddings - 1)
        return x + self.table(positions)  # (batch, time, d_model)


class SinusoidalPositions(nn.Module):
    """Adds the fixed sinusoidal position vector of Vaswani et al. (any length)."""

    def __init__(self, d_model: int) -> None:
        super().__init__()
        if d_model < 1:
            raise ValueError(f"d_model must be >= 1, got {d_model}")
        self.d_model = d_model

    def forward(self, x: torch.Tensor, positions: torch.Tensor | None = None) -> torch.Tensor:
        """(batch, time, d_model) -> the same plus the vector of each step's position.

        ``positions``: (batch, time) long; default 0, 1, ... along time.
        """
        if positions is None:
            positions = torch.arange(x.shape[1], device=x.device)[None]  # (1, T)
        steps = positions.to(torch.float32)[..., None]  # (batch or 1, T, 1)
        frequencies = torch.exp(
            torch.arange(0, self.d_model, 2, device=x.device, dtype=torch.float32)
            * (-math.log(10000.0) / self.d_model)
        )  # (ceil(d / 2),)
        table = x.new_zeros(*steps.shape[:2], self.d_model)  # (batch or 1, T, d)
        table[..., 0::2] = torch.sin(steps * frequencies)
        table[..., 1::2] = torch.cos(steps * frequencies)[..., : self.d_model // 2]
        return x + table  # (batch, time, d_model)


class AttentionBlock(nn.Module):
    """Multi-head attention + dropout + residual + layer norm, then an optional feed-forward layer.

    Args:
        d_model: width of queries, keys, values and output.
        n_heads: attention heads (must divide ``d_model``).
        dropout: dropout on attention weights, the attention output and the feed-forward output.
        d_ff: hidden width of the feed-forward layer (0: no feed-forward layer).
        norm: "post" (norm after each residual sum) or "pre" (norm of each sublayer's input).
        monotonic: AKT's distance-decayed attention (explicit softmax; see the module docstring).
        shared_key_query: one projection for keys and queries (AKT's ``kq_same``).
    """

    def __init__(
        self,
        d_model: int,
        n_heads: int,
        dropout: float = 0.0,
        d_ff: int = 0,
        norm: str = "post",
        monotonic: bool = False,
        shared_key_query: bool = False,
    ) -> None:
        super().__init__()
        if d_model < 1 or n_heads < 1 or d_model % n_heads:
            raise ValueError(
                f"d_model must be a positive multiple of n_heads, got {d_model} and {n_heads}"
            )
        if d_ff < 0:
            raise ValueError(f"d_ff must be >= 0 (0: no feed-forward layer), got {d_ff}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        if norm not in NORMS:
            raise ValueError(f"norm must be one of {NORMS}, got {norm!r}")
        self.n_heads, self.d_head = n_heads, d_model // n_heads
        self.norm, self.monotonic, self.dropout = norm, monotonic, dropout
        self.query_projection = nn.Linear(d_model, d_model)
        self.key_projection = None if shared_key_query else nn.Linear(d_model, d_model)
        self.value_projection = nn.Linear(d_model, d_model)
        self.output_projection = nn.Linear(d_model, d_model)
        # AKT's gamma: one decay rate per head, softplus keeps it positive (AKT eq. 6).
        self.gamma = nn.Parameter(torch.zeros(n_heads)) if monotonic else None
        if monotonic:
            nn.init.xavier_uniform_(self.gamma.view(n_heads, 1))
        self.attention_norm = nn.LayerNorm(d_model)
        self.attention_dropout = nn.Dropout(dropout)
        self.feed_forward = None
        if d_ff:
            self.feed_forward = nn.Sequential(
                nn.Linear(d_model, d_ff), nn.ReLU(), nn.Dropout(dropout), nn.Linear(d_ff, d_model)
            )
            self.feed_forward_norm = nn.LayerNorm(d_model)
            self.feed_forward_dropout = nn.Dropout(dropout)

    def _heads(self, x: torch.Tensor) -> torch.Tensor:
        batch, time, _ = x.shape
        return x.view(batch, time, self.n_heads, self.d_head).transpose(1, 2)  # (B, H, T, d_head)

    def _monotonic_weights(
        self,
        scores: torch.Tensor,
        allowed: torch.Tensor,
        query_positions: torch.Tensor | None,
        key_positions: torch.Tensor | None,
    ) -> torch.Tensor:
        """AKT's distance-decayed softmax: (B, H, Tq, Tk) scores -> attention weights."""
        n_queries, n_keys = scores.shape[-2:]
        if query_positions is None:
            query_positions = torch.arange(n_queries, device=scores.device)[None]  # (1, Tq)
        if key_positions is None:
            key_positions = torch.arange(n_keys, device=scores.device)[None]  # (1, Tk)
        position = (query_positions[:, :, None] - key_positions[:, None, :]).abs()
        position = position.to(scores.dtype)[:, None]  # (B or 1, 1, Tq, Tk)
        with torch.no_grad():  # AKT detaches the distance: it shapes, it is not trained through
            plain = torch.softmax(scores.masked_fill(~allowed, -1e32), dim=-1) * allowed
            remaining = plain.sum(-1, keepdim=True) - plain.cumsum(-1)  # attention on keys > j
            distance = (remaining * position).clamp(min=0.0).sqrt()  # (B, H, Tq, Tk)
        decay = -F.softplus(self.gamma)[None, :, None, None]  # (1, H, 1, 1), negative
        effect = (distance * decay).exp().clamp(min=1e-5, max=1e5)  # (B, H, Tq, Tk)
        weights = torch.softmax((scores * effect).masked_fill(~allowed, -1e32), dim=-1)
        return F.dropout(weights, self.dropout, self.training)

    def attend(
        self,
        query: torch.Tensor,
        key: torch.Tensor,
        value: torch.Tensor,
        allowed: torch.Tensor,
        query_positions: torch.Tensor | None = None,
        key_positions: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """The attention sublayer alone: (batch, Tq, d) output, zero where a query sees no key."""
        batch, n_queries, _ = query.shape
        n_keys = key.shape[1]
        if allowed.dim() == 2:
            allowed = allowed.expand(batch, n_queries, n_keys)
        if allowed.shape != (batch, n_queries, n_keys):
            raise ValueError(
                f"allowed must be ({batch}, {n_queries}, {n_keys}) or ({n_queries}, {n_keys}), "
                f"got {tuple(allowed.shape)}"
            )
        sees_any = allowed.any(dim=-1, keepdim=True)  # (B, Tq, 1)
        # A query that sees nothing may read key 0 (no NaN); its output is zeroed below.
        safe = (allowed | ~sees_any)[:, None]  # (B, 1, Tq, Tk)
        key_projection = self.key_projection or self.query_projection
        q = self._heads(self.query_projection(query))  # (B, H, Tq, d_head)
        k = self._heads(key_projection(key))  # (B, H, Tk, d_head)
        v = self._heads(self.value_projection(value))  # (B, H, Tk, d_head)
        if self.monotonic:
            scores = q @ k.transpose(-2, -1) / math.sqrt(self.d_head)  # (B, H, Tq, Tk)
            mixed = (
                self._monotonic_weights(scores, safe, query_positions, key_positions) @ v
            )  # (B, H, Tq, d_head)
        else:
            mixed = F.scaled_dot_product_attention(
                q, k, v, attn_mask=safe, dropout_p=self.dropout if self.training else 0.0
            )  # (B, H, Tq, d_head)
        mixed = mixed.transpose(1, 2).reshape(batch, n_queries, -1)  # (B, Tq, d)
        return self.output_projection(mixed * sees_any)  # (B, Tq, d)

    def forward(
        self,
        query: torch.Tensor,
        key: torch.Tensor,
        value: torch.Tensor,
        allowed: torch.Tensor,
        query_positions: torch.Tensor | None = None,
        key_positions: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """One layer.

        Args:
            query: (batch, Tq, d_model).
            key: (batch, Tk, d_model).
            value: (batch, Tk, d_model).
            allowed: (batch, Tq, Tk) or (Tq, Tk) bool, True where a query may read a key.
            query_positions: (batch, Tq) long positions for the monotonic decay's distance
                (default 0, 1, ...); ignored without ``monotonic``.
            key_positions: (batch, Tk) likewise for the keys.

        Returns:
            (batch, Tq, d_model); row ``t`` depends on ``query[:, t]`` and on the keys and
            values that ``allowed[:, t]`` marks, nothing else.
        """
        positions = (query_positions, key_positions)
        if self.norm == "pre":
            normed = self.attention_norm
            x = query + self.attention_dropout(
                self.attend(normed(query), normed(key), normed(value), allowed, *positions)
            )
            if self.feed_forward is not None:
                x = x + self.feed_forward_dropout(self.feed_forward(self.feed_forward_norm(x)))
            return x
        x = self.attention_norm(
            query + self.attention_dropout(self.attend(query, key, value, allowed, *positions))
        )
        if self.feed_forward is not None:
            x = self.feed_forward_norm(x + self.feed_forward_dropout(self.feed_forward(x)))
        return x
