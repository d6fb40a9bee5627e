"""Batch-1, one-token-at-a-time inference through a stacked RNN, LSTM or GRU: sampling.

The full-sequence layers are built for many rows and many steps: every call checks its
input, arranges the weights for its kernels and allocates its buffers, which is most of
the cost of a single step of a single row. A stepper does that work once, from a snapshot
of the layer's weights, and then each step is one matrix-vector product per weight matrix
and a few element-wise operations. It keeps nothing for a backward pass.

The equations are PyTorch's (gate order i, f, g, o for the LSTM and r, z, n for the GRU),
in the weights' stored layout; ``rnnkit.nn``'s kernels compute the same thing for whole
sequences, and the tests hold the two to each other.

    LSTM  [i f g o] = W_ih x + b_ih + W_hh h + b_hh
          c' = sigmoid(f) c + sigmoid(i) tanh(g),  h' = sigmoid(o) tanh(c')
    GRU   r = sigmoid(W_ir x + b_ir + W_hr h + b_hr),  z likewise
          n = tanh(W_in x + b_in + r (W_hn h + b_hn)),  h' = (1 - z) n + z h
    RNN   h' = tanh(W_ih x + b_ih + W_hh h + b_hh)   (or relu)
"""

from __future__ import annotations

import numpy as np

from rnnkit.nn.recurrent import GRU, LSTM, RecurrentLayer, parameter_names


def _sigmoid(x: np.ndarray) -> np.ndarray:
    # tanh form: no overflow warning for large negative x, unlike 1 / (1 + exp(-x)).
    return 0.5 * (1.0 + np.tanh(0.5 * x))


class TokenStepper:
    """Steps a one-direction recurrent LAYER for one row; ``step(x)`` -> top-layer output.

    The state (``h`` per layer, and ``c`` for an LSTM) lives in the stepper, starting at
    zeros or at ``set_state``. The weights are copied: make a new stepper after training.
    """

    def __init__(self, layer: RecurrentLayer) -> None:
        if layer.bidirectional:
            raise ValueError("a stepper reads left to right: the layer must not be bidirectional")
        self.kind = (
            "lstm" if isinstance(layer, LSTM) else "gru" if isinstance(layer, GRU) else "rnn"
        )
        self.activation = np.tanh
        if self.kind == "rnn" and layer.nonlinearity == "relu":
            self.activation = lambda x: np.maximum(x, 0.0)
        self.hidden_size = layer.hidden_size
        self.num_layers = layer.num_layers
        self.weights = []  # per layer: (W_ih^T, W_hh^T, b_ih, b_hh), transposed for x @ W^T
        for index in range(layer.num_layers):
            names = parameter_names(index, reverse=False, bias=layer.bias)
            w_ih, w_hh = (np.ascontiguousarray(layer.params[n].T) for n in names[:2])
            gates = w_hh.shape[1]
            b_ih, b_hh = (
                (layer.params[names[2]].copy(), layer.params[names[3]].copy())
                if layer.bias
                else (np.zeros(gates, layer.dtype), np.zeros(gates, layer.dtype))
            )
            if self.kind != "gru":
                b_ih, b_hh = b_ih + b_hh, None  # they enter side by side: add them once
            self.weights.append((w_ih, w_hh, b_ih, b_hh))
        self.dtype = layer.dtype
        self.reset()

    def reset(self) -> None:
        """Zero the state."""
        zeros = [np.zeros(self.hidden_size, self.dtype) for _ in range(self.num_layers)]
        self.h = zeros
        self.c = [z.copy() for z in zeros] if self.kind == "lstm" else None

    def set_state(self, state: object) -> None:
        """Take the final state of the full-sequence layer for a batch of one row:
        ``h_n`` ``(num_layers, 1, H)``, or ``(h_n, c_n)`` for an LSTM."""
        if self.kind == "lstm":
            h_n, c_n = state
            self.c = [np.array(c_n[k, 0], dtype=self.dtype) for k in range(self.num_layers)]
        else:
            h_n = state
        self.h = [np.array(h_n[k, 0], dtype=self.dtype) for k in range(self.num_layers)]

    def step(self, x: np.ndarray) -> np.ndarray:
        """Feed one input vector ``(input_size,)``; return the top layer's new ``h``."""
        H = self.hidden_size
        for index, (w_ih, w_hh, b_ih, b_hh) in enumerate(self.weights):
            h = self.h[index]
            projected = x @ w_ih + b_ih
            recurrent = h @ w_hh
            if b_hh is not None:  # the GRU keeps b_hn inside r * (...)
                recurrent += b_hh
            if self.kind == "lstm":
                gates = projected + recurrent
                i, f, o = (_sigmoid(gates[k * H : (k + 1) * H]) for k in (0, 1, 3))
                c = f * self.c[index] + i * np.tanh(gates[2 * H : 3 * H])
                self.c[index] = c
                h = o * np.tanh(c)
            elif self.kind == "gru":
                r, z = (
                    _sigmoid(projected[k] + recurrent[k]) for k in (slice(0, H), slice(H, 2 * H))
                )
                n = np.tanh(projected[2 * H :] + r * recurrent[2 * H :])
                h = (1.0 - z) * n + z * h
            else:
                h = self.activation(projected + recurrent)
            self.h[index] = h
            x = h
        return x
