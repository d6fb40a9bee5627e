"""One step of one row through a recurrent layer's ``forward``, in one C call.

A decoder or a user's own loop calls ``layer.forward(x_t, state)`` with a ``(1, 1, I)``
input, once per step. The general path checks, arranges the weights for its kernels and
allocates buffers on every call, which at batch 1 costs several times the arithmetic. Here
the weights are arranged once into a ``FusedStepper`` (the C stack step of the token
stepper) and kept, with its state buffers, until the parameters change
(``param_versions``: optimizers and ``load_state_dict`` say so, and a layer whose
parameter arrays were replaced is noticed too). Per call, the given state is copied in,
one C call computes every layer (the first layer's ``W_ih x + b`` included), and the
results are copied out into the arrays returned.

Used for layers in eval mode (no cache for backward), one direction, float32 with a hidden
size the C loops take; anything else goes down the general path, which also gives the
errors for bad shapes.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rnnkit.nn import dispatch, param_versions
from rnnkit.nn.fused_loops import split_biases
from rnnkit.nn.fused_stepper import FusedStepper


class SingleStep:
    """A layer's weights arranged for batch-1 steps, with the stepper's state buffers."""

    def __init__(self, layer: Any) -> None:
        self.generation = param_versions.generation()
        self.arrays = list(layer.params.values())
        H, L = layer.hidden_size, layer.num_layers
        cell = layer.kernel.cell
        cell = f"rnn_{layer.nonlinearity}" if cell == "rnn" else cell
        gate_size = layer.kernel.GATE_COUNT * H
        weights_ih, weights_hh, input_biases, hidden_biases = [], [], [], []
        for index in range(L):
            weight_ih, weight_hh, bias_ih, bias_hh = layer._weights(index, 0, layer.params)
            weights_ih.append(weight_ih)
            weights_hh.append(weight_hh)
            bias, hidden_bias = split_biases(cell, bias_ih, bias_hh, H)
            input_biases.append(np.zeros(gate_size, np.float32) if bias is None else bias)
            hidden_biases.append(np.zeros(H, np.float32) if hidden_bias is None else hidden_bias)
        self.stepper = FusedStepper(
            cell, weights_ih, weights_hh, input_biases, hidden_biases if cell == "gru" else None
        )
        self.lstm = cell == "lstm"
        self.h = np.zeros((L, H), np.float32)
        self.c = np.zeros((L, H), np.float32) if self.lstm else None
        self.stepper.bind(self.h, self.c)

    def current(self, layer: Any) -> bool:
        """Whether the arranged weights are still the layer's."""
        return self.generation == param_versions.generation() and all(
            a is b for a, b in zip(self.arrays, layer.params.values(), strict=True)
        )


def _state_parts(layer: Any, hx: Any, shape: tuple[int, ...]) -> list[np.ndarray] | None:
    """The given state as a list of arrays of ``shape`` (``[h]`` or ``[h, c]``), or None if
    it does not fit (the general path then says why)."""
    lstm = layer.kernel.STATE_COUNT == 2
    parts = list(hx) if lstm and isinstance(hx, (tuple, list)) else [hx]
    if len(parts) != layer.kernel.STATE_COUNT:
        return None
    arrays = [np.asarray(part) for part in parts]
    return arrays if all(array.shape == shape for array in arrays) else None


def forward(layer: Any, x: Any, hx: Any) -> tuple[np.ndarray, Any] | None:
    """``layer.forward(x, hx)`` for one step of one row in C, or None where this does not
    apply (see the module docstring)."""
    if (
        layer.training
        or layer.bidirectional
        or not isinstance(x, np.ndarray)
        or not dispatch.runs_in_c(layer.dtype, layer.hidden_size)
    ):
        return None
    size, L, H = layer.input_size, layer.num_layers, layer.hidden_size
    if x.shape == (1, 1, size):
        state_shape: tuple[int, ...] = (L, 1, H)
    elif x.shape == (1, size):
        state_shape = (L, H)
    else:
        return None
    if x.dtype.kind not in "fiu":
        return None
    parts = None if hx is None else _state_parts(layer, hx, state_shape)
    if hx is not None and parts is None:
        return None
    cached = layer.__dict__.get("_single_step")
    if cached is None or not cached.current(layer):
        cached = layer.__dict__["_single_step"] = SingleStep(layer)
    buffers = [cached.h, cached.c] if cached.lstm else [cached.h]
    for buffer, part in zip(buffers, parts or [None] * len(buffers), strict=True):
        if part is None:
            buffer.fill(0.0)
        else:
            buffer[...] = part.reshape(L, H)
    cached.stepper.step_input(np.ascontiguousarray(x.reshape(size), dtype=np.float32))
    output = cached.h[-1].reshape((1, 1, H) if len(state_shape) == 3 else (1, H)).copy()
    states = tuple(buffer.reshape(state_shape).copy() for buffer in buffers)
    return output, states if cached.lstm else states[0]
