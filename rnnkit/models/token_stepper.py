"""Batch-1, one-token-at-a-time inference through a stacked RNN, LSTM or GRU: sampling.

The full-sequence layers are built for many rows and many steps: every call checks its
input, arranges the weights for its kernels and allocates its buffers, which is most of
the cost of a single step of a single row. A stepper does that work once, from a snapshot
of the layer's weights, and then each step is one or two matrix-vector products per layer
and a few element-wise operations into buffers it owns. It keeps nothing for a backward
pass.

The equations are PyTorch's::

    LSTM  [i f g o] = W_ih x + b_ih + W_hh h + b_hh
          c' = sigmoid(f) c + sigmoid(i) tanh(g),  h' = sigmoid(o) tanh(c')
    GRU   r = sigmoid(W_ir x + b_ir + W_hr h + b_hr),  z likewise
          n = tanh(W_in x + b_in + r (W_hn h + b_hn)),  h' = (1 - z) n + z h = n + z (h - n)
    RNN   h' = tanh(W_ih x + b_ih + W_hh h + b_hh)   (or relu)

At batch 1 a step is a few small products whose cost is the count of NumPy calls and the
reading of the weights, so the weights are arranged to need as few of both as possible:

- The ``h`` of all layers lie side by side in one vector. Layer ``l >= 1`` reads its input
  ``h_{l-1}`` and its own ``h_l`` as the one slice ``[h_{l-1} ; h_l]`` and multiplies it by the
  stacked ``[W_ih ; W_hh]^T`` in one product (the LSTM and the RNN; the GRU keeps the two
  products apart because ``r`` multiplies only the recurrent part of ``n``).
- Given the embedding table ``E`` of the tokens (``input_table``), the first layer's input
  product for every token is precomputed, ``E W_ih^T + b``: a step looks up one row.
- Sigmoid gates are computed as ``sigmoid(a) = (1 + tanh(a / 2)) / 2`` with the rows of
  their weights and biases halved in advance (exact in binary floating point), so a single
  ``tanh`` covers every gate of a step. The LSTM's gates are reordered ``i, f, o, g`` so
  the three sigmoid gates are adjacent.

Where the C loops run (float32, hidden size a multiple of 16; see ``rnnkit.nn.dispatch``)
a step of any of the three cells is one C call instead (``rnnkit.nn.fused_stepper``), with
the weights arranged for its tiles. ``rnnkit.nn``'s kernels compute the same thing for
whole sequences; the tests hold the two to each other.
"""

from __future__ import annotations

import numpy as np

from rnnkit.nn import dispatch
from rnnkit.nn.fused_loops import split_biases
from rnnkit.nn.fused_stepper import FusedStepper
from rnnkit.nn.recurrent import GRU, LSTM, RecurrentLayer, parameter_names

# The precomputed first-layer table is used up to this many entries (vocabulary x gates):
# 16M float32 values are 64 MB. Larger vocabularies multiply the embedding row instead.
MAX_TABLE_ENTRIES = 1 << 24


class TokenStepper:
    """Steps a one-direction recurrent LAYER for one row.

    ``step(x)`` feeds an input vector ``(input_size,)``; ``step_token(id)`` feeds row ``id``
    of ``input_table`` (an embedding table ``(vocab, input_size)`` given at construction).
    Both return the top layer's new ``h`` ``(hidden_size,)``.

    The state (``h`` per layer, and ``c`` for an LSTM) lives in the stepper, starting at
    zeros or at ``set_state``. The weights are copied: make a new stepper after training.
    """

    def __init__(self, layer: RecurrentLayer, input_table: np.ndarray | None = None) -> None:
        if layer.bidirectional:
            raise ValueError("a stepper reads left to right: the layer must not be bidirectional")
        self.kind = (
            "lstm" if isinstance(layer, LSTM) else "gru" if isinstance(layer, GRU) else "rnn"
        )
        self.relu = self.kind == "rnn" and layer.nonlinearity == "relu"
        self.hidden_size = H = layer.hidden_size
        self.num_layers = layer.num_layers
        self.dtype = layer.dtype
        gate_count = {"lstm": 4, "gru": 3, "rnn": 1}[self.kind]
        self.gate_size = gate_count * H
        # Buffers, allocated once, and the views of them each step works on (a view costs
        # as much to make as a small NumPy call).
        self.hidden = np.zeros(self.num_layers * H, dtype=self.dtype)
        self.cell = np.zeros((self.num_layers, H), dtype=self.dtype)
        self.layer_h = [self.hidden[k * H : (k + 1) * H] for k in range(self.num_layers)]
        self.fused = self.fused_table = self.table = None
        if dispatch.runs_in_c(self.dtype, H):
            self._arrange_for_c(layer, input_table)
        else:
            self._arrange_for_numpy(layer, input_table)

    def _arrange_for_numpy(self, layer: RecurrentLayer, input_table: np.ndarray | None) -> None:
        """Weights reordered and scaled for the NumPy steps (see the module docstring)."""
        H = self.hidden_size
        gate_count = self.gate_size // H
        # Row order and scale of the gate blocks.
        blocks = {"lstm": (0, 1, 3, 2), "gru": (0, 1, 2), "rnn": (0,)}[self.kind]
        halved = {"lstm": 3, "gru": 2, "rnn": 0}[self.kind]  # leading sigmoid blocks
        self.sigmoid_size = halved * H
        rows = np.concatenate([np.arange(b * H, (b + 1) * H) for b in blocks])
        scale = np.where(np.arange(self.gate_size) < self.sigmoid_size, 0.5, 1.0)
        scale = scale.astype(self.dtype)

        def arranged(value: np.ndarray) -> np.ndarray:
            """Gate rows reordered and halved where they feed a sigmoid."""
            return value[rows] * (scale if value.ndim == 1 else scale[:, None])

        # Per layer: the input weights (transposed), the recurrent weights (transposed, or
        # stacked under the input ones), the bias of the input side and, for the GRU, b_hh.
        self.input_weights: list[np.ndarray | None] = []
        self.recurrent_weights: list[np.ndarray] = []
        self.biases: list[np.ndarray] = []
        self.recurrent_biases: list[np.ndarray | None] = []
        zeros = np.zeros(self.gate_size, dtype=self.dtype)
        for index in range(self.num_layers):
            names = parameter_names(index, reverse=False, bias=layer.bias)
            w_ih, w_hh = (arranged(layer.params[name]) for name in names[:2])
            if layer.bias:
                b_ih, b_hh = (arranged(layer.params[name]) for name in names[2:])
            else:
                b_ih, b_hh = zeros, zeros
            if self.kind == "gru":
                # b_hn stays inside r * (W_hn h + b_hn); b_hr, b_hz join the input side.
                self.biases.append(b_ih + np.concatenate([b_hh[: 2 * H], zeros[2 * H :]]))
                self.recurrent_biases.append(np.concatenate([zeros[: 2 * H], b_hh[2 * H :]]))
            else:
                self.biases.append(b_ih + b_hh)
                self.recurrent_biases.append(None)
            if index > 0 and self.kind != "gru":
                stacked = np.concatenate([w_ih, w_hh], axis=1)  # acts on [h_{l-1} ; h_l]
                self.input_weights.append(None)
                self.recurrent_weights.append(np.ascontiguousarray(stacked.T))
            else:
                self.input_weights.append(np.ascontiguousarray(w_ih.T))
                self.recurrent_weights.append(np.ascontiguousarray(w_hh.T))

        self.table = None
        if input_table is not None and len(input_table) * self.gate_size <= MAX_TABLE_ENTRIES:
            table = np.asarray(input_table, dtype=self.dtype) @ self.input_weights[0]
            self.table = table + self.biases[0]
        # Without the precomputed table, steps read the embedding rows: a copy, as the
        # weights are.
        self.input_table = None
        if input_table is not None and self.table is None:
            self.input_table = np.array(input_table, dtype=self.dtype)

        self.gates = np.empty(self.gate_size, dtype=self.dtype)
        self.recurrent = np.empty(self.gate_size, dtype=self.dtype)
        self.scratch = np.empty(H, dtype=self.dtype)
        # What layer k >= 1 multiplies: h_{k-1} (GRU) or [h_{k-1} ; h_k] (LSTM, RNN).
        width = H if self.kind == "gru" else 2 * H
        self.layer_input = [
            self.hidden[(k - 1) * H : (k - 1) * H + width] for k in range(1, self.num_layers)
        ]
        self.sigmoid_gates = self.gates[: self.sigmoid_size]
        self.gate_blocks = [self.gates[k * H : (k + 1) * H] for k in range(gate_count)]
        self.recurrent_blocks = [self.recurrent[: 2 * H], self.recurrent[2 * H :]]

    def _arrange_for_c(self, layer: RecurrentLayer, input_table: np.ndarray | None) -> None:
        """A float32 stack steps in one C call per token where the C loops run (see
        ``fused_stepper``): the same equations, with the weights arranged for its tiles."""
        cell = f"rnn_{layer.nonlinearity}" if self.kind == "rnn" else self.kind
        weights_ih, weights_hh, input_biases, hidden_biases = [], [], [], []
        for index in range(self.num_layers):
            names = parameter_names(index, reverse=False, bias=layer.bias)
            weights_ih.append(layer.params[names[0]])
            weights_hh.append(layer.params[names[1]])
            bias_ih, bias_hh = (
                (layer.params[name] for name in names[2:]) if layer.bias else (None, None)
            )
            bias, hidden_bias = split_biases(cell, bias_ih, bias_hh, self.hidden_size)
            zeros = np.zeros(self.gate_size, self.dtype)
            input_biases.append(zeros if bias is None else bias)
            hidden_biases.append(zeros[: self.hidden_size] if hidden_bias is None else hidden_bias)
        self.fused = FusedStepper(
            cell, weights_ih, weights_hh, input_biases, hidden_biases if cell == "gru" else None
        )
        self.input_table = None
        if input_table is not None and len(input_table) * self.gate_size <= MAX_TABLE_ENTRIES:
            self.fused_table = self.fused.input_table(input_table)
        elif input_table is not None:
            self.input_table = np.array(input_table, dtype=self.dtype)
        self.fused.bind(self.hidden, self.cell, self.fused_table)

    # -- state -------------------------------------------------------------------------------

    @property
    def h(self) -> list[np.ndarray]:
        """Each layer's ``h`` ``(hidden_size,)`` (views of the stepper's buffer)."""
        H = self.hidden_size
        return [self.hidden[k * H : (k + 1) * H] for k in range(self.num_layers)]

    def reset(self) -> None:
        """Zero the state."""
        self.hidden.fill(0.0)
        self.cell.fill(0.0)

    def set_state(self, state: object) -> None:
        """Take the final state of the full-sequence layer for a batch of one row:
        ``h_n`` ``(num_layers, 1, H)``, or ``(h_n, c_n)`` for an LSTM."""
        if self.kind == "lstm":
            h_n, c_n = state
            self.cell[:] = np.asarray(c_n)[:, 0]
        else:
            h_n = state
        self.hidden[:] = np.asarray(h_n)[:, 0].reshape(-1)

    # -- steps -------------------------------------------------------------------------------

    def set_decoder(self, weight: np.ndarray, bias: np.ndarray) -> None:
        """Give ``step_token_logits`` the decoder ``logits = weight h + bias`` of the top
        layer's ``h`` (``weight`` ``(V, hidden_size)``); copied, as the layer's weights are."""
        self.decoder_weight = np.ascontiguousarray(weight, dtype=self.dtype)
        self.decoder_weight_t = (
            None if self.fused is not None else np.ascontiguousarray(self.decoder_weight.T)
        )
        self.decoder_bias = np.array(bias, dtype=self.dtype)
        self.logits = np.empty(len(self.decoder_bias), dtype=self.dtype)
        if self.fused is not None:
            head = (self.decoder_weight, self.decoder_bias, self.logits)
            self.fused.bind(self.hidden, self.cell, self.fused_table, head)

    def step_token_logits(self, token: int) -> np.ndarray:
        """``step_token``, then the decoder given to ``set_decoder``: returns the logits, a
        buffer the next step overwrites."""
        if self.fused is not None:
            self.step_token(token)  # the C step applies the decoder too (see set_decoder)
            return self.logits
        np.matmul(self.step_token(token), self.decoder_weight_t, out=self.logits)
        self.logits += self.decoder_bias
        return self.logits

    def step(self, x: np.ndarray) -> np.ndarray:
        """Feed one input vector ``(input_size,)``; return the top layer's new ``h``."""
        if self.fused is not None:
            self.fused.step_input(np.ascontiguousarray(x, dtype=self.dtype))
            return self.layer_h[-1].copy()
        input_side = np.asarray(x, dtype=self.dtype) @ self.input_weights[0]
        input_side += self.biases[0]
        return self._advance(input_side).copy()

    def step_token(self, token: int) -> np.ndarray:
        """Feed row ``token`` of the input table; return the top layer's new ``h``."""
        if self.fused_table is not None:
            self.fused.step_token(token)
            return self.layer_h[-1].copy()
        if self.table is None:
            if self.input_table is None:
                raise ValueError("step_token: the stepper was made without an input_table")
            return self.step(self.input_table[token])
        return self._advance(self.table[token]).copy()

    def _advance(self, input_side: np.ndarray) -> np.ndarray:
        """Run every layer, the first with its input side ``W_ih x + b`` given. Returns the
        top layer's ``h``, a view of the buffer the next step overwrites."""
        gates, recurrent = self.gates, self.recurrent
        for index, h in enumerate(self.layer_h):
            recurrent_weights = self.recurrent_weights[index]
            if self.kind == "gru":
                if index == 0:
                    gates[:] = input_side
                else:
                    np.matmul(self.layer_input[index - 1], self.input_weights[index], out=gates)
                    gates += self.biases[index]
                np.matmul(h, recurrent_weights, out=recurrent)
                recurrent += self.recurrent_biases[index]
                self._gru_update(h)
                continue
            if index == 0:
                np.matmul(h, recurrent_weights, out=recurrent)
                np.add(input_side, recurrent, out=gates)
            else:
                # [h_{l-1} ; h_l] [W_ih ; W_hh]^T: input and recurrent sides at once.
                np.matmul(self.layer_input[index - 1], recurrent_weights, out=gates)
                gates += self.biases[index]
            if self.kind == "lstm":
                self._lstm_update(self.cell[index], h)
            elif self.relu:
                np.maximum(gates, 0.0, out=h)
            else:
                np.tanh(gates, out=h)
        return self.layer_h[-1]

    def _lstm_update(self, c: np.ndarray, h: np.ndarray) -> None:
        scratch = self.scratch
        # gates = [a_i / 2, a_f / 2, a_o / 2, a_g]: one tanh, then the sigmoids,
        # sigmoid(a) = (1 + tanh(a / 2)) / 2.
        np.tanh(self.gates, out=self.gates)
        self.sigmoid_gates *= 0.5
        self.sigmoid_gates += 0.5
        i, f, o, g = self.gate_blocks
        c *= f  # c' = f c + i g
        np.multiply(i, g, out=scratch)
        c += scratch
        np.tanh(c, out=scratch)  # h' = o tanh(c')
        np.multiply(o, scratch, out=h)

    def _gru_update(self, h: np.ndarray) -> None:
        scratch, (recurrent_rz, recurrent_n) = self.scratch, self.recurrent_blocks
        # gates = [input sides of a_r / 2 and a_z / 2, W_in x + b_in]
        rz = self.sigmoid_gates
        rz += recurrent_rz
        np.tanh(rz, out=rz)
        rz *= 0.5  # sigmoid(a) = (1 + tanh(a / 2)) / 2
        rz += 0.5
        r, z, n = self.gate_blocks
        # n = tanh(W_in x + b_in + r (W_hn h + b_hn))
        np.multiply(r, recurrent_n, out=scratch)
        n += scratch
        np.tanh(n, out=n)
        # h' = n + z (h - n)
        np.subtract(h, n, out=scratch)
        scratch *= z
        np.add(n, scratch, out=h)
