"""One time step of one recurrent layer for many rows, from its input side, in one C call.

A search steps the decoder one token at a time over every live hypothesis, and the
hypotheses' rows are picked anew at each step (beam reordering). ``fused_loops`` runs a
whole sequence and so copies the state in and out around its loop; here a step reads the
previous state from rows of the caller's arrays as it gathers them (``parents``), and takes
the input side ready made::

    a      = input_side (+ h W_hh^T in C)                (N, G H), rows gathered by the caller
    h', c' = cell(a, h, c)                               the C loops' cell update

so a caller that knows the input side cheaply (a table row per token, see
``rnnkit.models.search_steps``) skips ``x W_ih^T`` altogether. ``gates`` returns the
activations in place, as ``fused_loops`` does.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rnnkit.nn import c_binding
from rnnkit.nn.c_binding import LIBRARY, Sequence, pointer
from rnnkit.nn.fused_loops import GATES, forward_slabs, split_biases, workers
from rnnkit.nn.sequence_ops import aligned_empty


class RowStepper:
    """One layer's weights arranged for ``step`` (made once; the weights must not change).

    Args:
        layer: a one-direction float32 ``RNN``/``LSTM``/``GRU`` whose hidden size the C loops
            take (``dispatch.runs_in_c``).
        index: which of its stacked layers.
    """

    def __init__(self, layer: Any, index: int) -> None:
        cell = layer.kernel.cell
        self.cell = f"rnn_{layer.nonlinearity}" if cell == "rnn" else cell
        self.hidden_size = H = layer.hidden_size
        self.gate_size = GATES[self.cell] * H
        weight_ih, weight_hh, bias_ih, bias_hh = layer._weights(index, 0, layer.params)
        self.weight_ih = np.ascontiguousarray(weight_ih, dtype=np.float32)
        bias, hidden_bias = split_biases(self.cell, bias_ih, bias_hh, H)
        # the input-side bias: b_ih + b_hh (GRU: without b_hn, which stays inside r (.))
        self.bias = np.zeros(self.gate_size, np.float32) if bias is None else bias
        self.hidden_bias = hidden_bias
        self.slabs = forward_slabs(np.asarray(weight_hh, dtype=np.float32), GATES[self.cell])
        self.states = 2 if self.cell == "lstm" else 1

    def step(
        self,
        gates: np.ndarray,
        state: tuple[np.ndarray, ...],
        parents: np.ndarray | None = None,
    ) -> tuple[np.ndarray, ...]:
        """The new state ``(h', c')`` (or ``(h',)``), each ``(N, H)``.

        Inputs:
            gates: ``(N, G H)`` float32, C-contiguous: the input side ``x W_ih^T + b`` of each
                row (overwritten with the gate activations).
            state: ``(P, H)`` arrays, the previous step's rows.
            parents: ``(N,)`` row of ``state`` each new row continues (None: row ``n``).
        """
        rows, H = gates.shape[0], self.hidden_size
        if gates.shape != (rows, self.gate_size) or gates.dtype != np.float32:
            raise ValueError(
                f"gates: expected float32 ({rows}, {self.gate_size}), got {gates.dtype} "
                f"{gates.shape}"
            )
        gates = np.ascontiguousarray(gates)
        hidden = aligned_empty((2, rows, H), np.float32)
        cells = aligned_empty((2, rows, H), np.float32) if self.states == 2 else None
        for buffer, previous in zip((hidden, cells), state, strict=False):
            if parents is None:
                buffer[0] = previous
            else:
                np.take(previous, parents, axis=0, out=buffer[0])
        aux = aligned_empty((rows, H), np.float32) if self.cell in ("lstm", "gru") else None
        arguments = Sequence(
            cell=c_binding.CELLS[self.cell], steps=1, batch=rows, hidden=H, reverse=0,
            threads=workers(rows), batch_sizes=None, gates=pointer(gates),
            weight=pointer(self.slabs), hidden_bias=pointer(self.hidden_bias),
            hidden_states=pointer(hidden), cells=pointer(cells), aux=pointer(aux),
            ids=None, table=None,
        )  # fmt: skip
        LIBRARY.rnnkit_forward(arguments)
        return (hidden[1],) if cells is None else (hidden[1], cells[1])
