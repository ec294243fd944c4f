"""Recurrent sequence encoder (RNN, LSTM or GRU) over padded, variable-length batches."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

CELLS = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}


class SequenceEncoder(nn.Module):
    """A batch-first recurrent network whose outputs are zero at padded steps.

    Args:
        input_size: features per time step.
        hidden_size: width of the recurrent state.
        cell: "lstm", "gru" or "rnn" (tanh).
        num_layers: stacked recurrent layers.
        dropout: dropout on the outputs (and between stacked layers).
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        cell: str = "lstm",
        num_layers: int = 1,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if cell not in CELLS:
            raise ValueError(f"cell must be one of {sorted(CELLS)}, got {cell!r}")
        if min(input_size, hidden_size, num_layers) < 1:
            raise ValueError(
                f"input_size, hidden_size and num_layers must be >= 1, got {input_size}, "
                f"{hidden_size}, {num_layers}"
            )
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        self.cell = cell
        self.hidden_size = hidden_size
        self.rnn = CELLS[cell](
            input_size,
            hidden_size,
            num_layers=num_layers,
            batch_first=True,
            dropout=dropout if num_layers > 1 else 0.0,
        )
        self.dropout = nn.Dropout(dropout)

    def forward(
        self,
        x: torch.Tensor,
        lengths: torch.Tensor | None = None,
        state: torch.Tensor | tuple[torch.Tensor, torch.Tensor] | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor | tuple[torch.Tensor, torch.Tensor]]:
        """Encode a batch of sequences.

        Args:
            x: (batch, time, input_size) inputs; steps at or past a sequence's length are padding.
            lengths: (batch,) number of real steps per sequence; None means all are full length.
            state: the recurrent state to start from (as returned by a previous call), or None.

        Returns:
            outputs: (batch, time, hidden_size), exactly zero at padded steps.
            state: the state after each sequence's last real step (LSTM: (h, c)).
        """
        if x.dim() != 3:
            raise ValueError(f"x must be (batch, time, features), got shape {tuple(x.shape)}")
        if lengths is None:
            outputs, state = self.rnn(x, state)
            return self.dropout(outputs), state
        lengths_cpu = torch.as_tensor(lengths).to("cpu", torch.int64)
        if lengths_cpu.shape != (x.shape[0],):
            raise ValueError(
                f"lengths must have shape ({x.shape[0]},), got {tuple(lengths_cpu.shape)}"
            )
        if int(lengths_cpu.min()) < 1 or int(lengths_cpu.max()) > x.shape[1]:
            raise ValueError(
                f"lengths must be in [1, {x.shape[1]}], got min {int(lengths_cpu.min())}, max "
                f"{int(lengths_cpu.max())}"
            )
        packed = pack_padded_sequence(x, lengths_cpu, batch_first=True, enforce_sorted=False)
        packed_out, state = self.rnn(packed, state)
        outputs, _ = pad_packed_sequence(
            packed_out, batch_first=True, total_length=x.shape[1]
        )  # (B, T, H), zero-padded
        return self.dropout(outputs), state
