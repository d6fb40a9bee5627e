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

Rows that continue the same parent (a beam's hypotheses extended by different tokens) have
the same ``h``, so the same recurrent product. Where the pre-activation is the plain sum
``x W_ih^T + b + h W_hh^T`` (LSTM, RNN: not the GRU, whose ``W_hn h`` sits inside
``r * (.)``) and the input is as wide as the state (the layers above the first),
``step_shared`` makes it once per distinct parent and lets the loop make the input's::

    R = h[distinct parents] W_hh^T + b     (P', G H)    one GEMM over P' <= N rows
    a = R[the row's parent] + x W_ih^T                  the loop: table lookup + its product

so the layer costs ``2 (N + P') H G H`` flops instead of ``4 N H G H``.
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
        # step_shared: where the loop's product is the input's and the table the parents'
        self.shares_parents = self.cell != "gru" and self.weight_ih.shape[1] == H
        if self.shares_parents:
            self.input_slabs = forward_slabs(self.weight_ih, GATES[self.cell])
            self.weight_hh_t = np.ascontiguousarray(np.asarray(weight_hh, np.float32).T)

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
        hidden = aligned_empty((2, rows, H), np.float32)
        self._gather(hidden[0], state[0], parents)
        return self._run(np.ascontiguousarray(gates), hidden, state, parents, self.slabs)

    def step_shared(
        self, x: np.ndarray, state: tuple[np.ndarray, ...], parents: np.ndarray | None = None
    ) -> tuple[np.ndarray, ...]:
        """``step`` from the layer's input ``x`` ``(N, H)``, the recurrent product made once
        per distinct parent (module docstring; only where ``shares_parents``)."""
        if not self.shares_parents:
            raise ValueError("step_shared: needs an LSTM or RNN layer with input size H")
        rows, H = x.shape[0], self.hidden_size
        if parents is None:
            distinct, inverse = np.arange(rows), np.arange(rows)
        else:
            distinct, inverse = np.unique(parents, return_inverse=True)
        table = state[0][distinct] @ self.weight_hh_t
        table += self.bias
        hidden = aligned_empty((2, rows, H), np.float32)
        hidden[0] = x  # what the loop's product multiplies: here the input
        gates = aligned_empty((rows, self.gate_size), np.float32)
        return self._run(gates, hidden, state, parents, self.input_slabs, (inverse, table))

    @staticmethod
    def _gather(out: np.ndarray, previous: np.ndarray, parents: np.ndarray | None) -> None:
        if parents is None:
            out[...] = previous
        else:
            np.take(previous, parents, axis=0, out=out)

    def _run(self, gates, hidden, state, parents, slabs, lookup=None) -> tuple[np.ndarray, ...]:
        """One C call: ``gates`` (the input side, or from ``lookup = (ids, table)``'s rows)
        plus ``hidden[0] slabs``, then the cell update into ``hidden[1]`` (and ``c``)."""
        rows, H = gates.shape[0], self.hidden_size
        cells = None
        if self.states == 2:
            cells = aligned_empty((2, rows, H), np.float32)
            self._gather(cells[0], state[1], parents)
        aux = aligned_empty((rows, H), np.float32) if self.cell in ("lstm", "gru") else None
        ids, table = (None, None) if lookup is None else lookup
        if ids is not None:
            ids = np.ascontiguousarray(ids, dtype=np.int64)
            table = np.ascontiguousarray(table, dtype=np.float32)
        arguments = Sequence(
            cell=c_binding.CELLS[self.cell], steps=1, batch=rows, hidden=H, reverse=0,
            threads=workers(rows), batch_sizes=None, gates=pointer(gates),
            weight=pointer(slabs), hidden_bias=pointer(self.hidden_bias),
            hidden_states=pointer(hidden), cells=pointer(cells), aux=pointer(aux),
            ids=pointer(ids), table=pointer(table),
        )  # fmt: skip
        LIBRARY.rnnkit_forward(arguments)
        return (hidden[1],) if cells is None else (hidden[1], cells[1])
