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
    """A layer's weights arranged for batch-1 steps, with the stepper's buffers."""

    def __init__(self, layer: Any) -> None:
        self.generation = param_versions.generation()
        self.array_ids = tuple(map(id, layer.params.values()))
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
        self.buffers = [self.h, self.c] if self.lstm else [self.h]
        self.x = np.zeros(layer.input_size, np.float32)
        self.stepper.bind(self.h, self.c)
        self.stepper.bind_input(self.x)

    def current(self, layer: Any) -> bool:
        """Whether the arranged weights are still the layer's."""
        return (
            self.generation == param_versions.generation()
            and tuple(map(id, layer.params.values())) == self.array_ids
        )


def _fits(layer: Any, hx: Any, shape: tuple[int, ...]) -> bool:
    """Whether ``hx`` is a state of ``shape`` arrays of real numbers (``h``, or ``(h, c)``
    for the LSTM); if not, the general path says why. Copying into the float32 buffers
    would take text, booleans and complex numbers (dropping the imaginary part) silently."""
    if layer.kernel.STATE_COUNT == 2:
        if not (isinstance(hx, (tuple, list)) and len(hx) == 2):
            return False
        parts = hx
    else:
        parts = (hx,)
    return all(
        isinstance(part, np.ndarray) and part.dtype.kind in "fiu" and part.shape == shape
        for part in parts
    )


def forward(layer: Any, x: Any, hx: Any) -> tuple[np.ndarray, Any] | None:
    """``layer.forward(x, hx)`` for one step of one row in C, or None where this does not
    apply (see the module docstring)."""
    if (
        layer.training
        or layer.bidirectional
        or not isinstance(x, np.ndarray)
        or x.size != layer.input_size
        or x.dtype.kind not in "fiu"
        or not dispatch.runs_in_c(layer.dtype, layer.hidden_size)
    ):
        return None
    L, H = layer.num_layers, layer.hidden_size
    if x.shape == (1, 1, layer.input_size):
        state_shape: tuple[int, ...] = (L, 1, H)
    elif x.shape == (1, layer.input_size):
        state_shape = (L, H)
    else:
        return None
    if hx is not None and not _fits(layer, hx, state_shape):
        return None
    cached = layer.__dict__.get("_single_step")
    if cached is None or not cached.current(layer):
        cached = layer.__dict__["_single_step"] = SingleStep(layer)
    parts = cached.buffers if hx is None else (hx if cached.lstm else (hx,))
    for buffer, part in zip(cached.buffers, parts, strict=True):
        if hx is None:
            buffer.fill(0.0)
        else:
            np.copyto(buffer, np.reshape(part, (L, H)), casting="unsafe")
    np.copyto(cached.x, x.reshape(-1), casting="unsafe")
    cached.stepper.step_bound_input()
    output = cached.h[-1].reshape((1, 1, H) if len(state_shape) == 3 else (1, H)).copy()
    states = [buffer.reshape(state_shape).copy() for buffer in cached.buffers]
    return output, (states[0], states[1]) if cached.lstm else states[0]
