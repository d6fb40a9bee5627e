"""LSTM: one layer, one direction, forward and backpropagation through time.

Forward, for each time step ``t`` (PyTorch's gate order i, f, g, o)::

    [a_i, a_f, a_g, a_o] = W_ih x_t + b_ih + W_hh h_{t-1} + b_hh
    i = sigmoid(a_i)      input gate
    f = sigmoid(a_f)      forget gate
    g = tanh(a_g)         candidate cell
    o = sigmoid(a_o)      output gate
    c_t = f * c_{t-1} + i * g
    h_t = o * tanh(c_t)

Backward, given dh_t (from the output and from step t+1) and dc_t (from step t+1)::

    do   = dh_t * tanh(c_t)
    dc_t = dc_t + dh_t * o * (1 - tanh(c_t)^2)
    di   = dc_t * g,   df = dc_t * c_{t-1},   dg = dc_t * i
    da_i = di * i (1 - i),  da_f = df * f (1 - f),  da_g = dg (1 - g^2),  da_o = do * o (1 - o)
    dc_{t-1} = dc_t * f
    dh_{t-1} = [da_i, da_f, da_g, da_o] W_hh
    dx_t     = [da_i, da_f, da_g, da_o] W_ih

See ``sequence_ops`` for the buffer layout and how variable lengths are handled.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rnnkit.nn.sequence_ops import (
    accumulate_weight_grads,
    active_rows,
    carry_inactive_rows,
    final_state,
    outputs_from_states,
    previous_states,
    project_inputs,
    sigmoid_,
    time_steps,
    transposed_copy,
)

GATE_COUNT = 4
STATE_COUNT = 2


@dataclass
class LSTMCache:
    x: np.ndarray  # (T, B, I) the layer's input
    gates: np.ndarray  # (T, B, 4H) activations i, f, g, o
    hidden: np.ndarray  # (T + 1, B, H) state buffer, see sequence_ops
    cell: np.ndarray  # (T + 1, B, H)
    tanh_cell: np.ndarray  # (T, B, H) tanh(c_t)
    weight_ih: np.ndarray
    weight_hh: np.ndarray
    batch_sizes: np.ndarray | None
    reverse: bool


def forward_sequence(
    x: np.ndarray,
    state: tuple[np.ndarray, np.ndarray],
    weights: tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None],
    batch_sizes: np.ndarray | None = None,
    reverse: bool = False,
    keep_cache: bool = True,
) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray], LSTMCache | None]:
    """Run the LSTM over ``x`` ``(T, B, I)`` from ``state = (h_0, c_0)``.

    Returns the output ``(T, B, H)``, the final ``(h_n, c_n)`` and the cache for backward.
    """
    weight_ih, weight_hh, bias_ih, bias_hh = weights
    num_steps, batch, _ = x.shape
    hidden_size = weight_hh.shape[1]
    # b_hh enters every gate exactly as b_ih does, so it folds into the projection.
    bias = None if bias_ih is None else bias_ih + bias_hh
    gates = project_inputs(x, weight_ih, bias)

    hidden = np.empty((num_steps + 1, batch, hidden_size), dtype=x.dtype)
    cell = np.empty_like(hidden)
    tanh_cell = np.empty((num_steps, batch, hidden_size), dtype=x.dtype)
    start = num_steps if reverse else 0
    hidden[start] = state[0]
    cell[start] = state[1]
    recurrent = np.empty((batch, GATE_COUNT * hidden_size), dtype=x.dtype)
    scratch = np.empty((batch, hidden_size), dtype=x.dtype)
    weight_hh_t = transposed_copy(weight_hh)
    H = hidden_size

    for t in time_steps(num_steps, reverse):
        n = active_rows(batch_sizes, t, batch)
        h_prev, c_prev = hidden[t + reverse, :n], cell[t + reverse, :n]
        h_next, c_next = hidden[t + 1 - reverse, :n], cell[t + 1 - reverse, :n]
        a = gates[t, :n]
        np.matmul(h_prev, weight_hh_t, out=recurrent[:n])
        a += recurrent[:n]
        sigmoid_(a[:, : 2 * H])
        np.tanh(a[:, 2 * H : 3 * H], out=a[:, 2 * H : 3 * H])
        sigmoid_(a[:, 3 * H :])
        i, f, g, o = a[:, :H], a[:, H : 2 * H], a[:, 2 * H : 3 * H], a[:, 3 * H :]
        np.multiply(f, c_prev, out=c_next)
        np.multiply(i, g, out=scratch[:n])
        c_next += scratch[:n]
        np.tanh(c_next, out=tanh_cell[t, :n])
        np.multiply(o, tanh_cell[t, :n], out=h_next)
        if n < batch:
            carry_inactive_rows(hidden, t, reverse, n)
            carry_inactive_rows(cell, t, reverse, n)

    output = outputs_from_states(hidden, reverse, batch_sizes)
    final = (final_state(hidden, reverse).copy(), final_state(cell, reverse).copy())
    cache = None
    if keep_cache:
        cache = LSTMCache(
            x, gates, hidden, cell, tanh_cell, weight_ih, weight_hh, batch_sizes, reverse
        )
    return output, final, cache


def backward_sequence(
    grad_output: np.ndarray,
    grad_state: tuple[np.ndarray, np.ndarray],
    cache: LSTMCache,
    grads: tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None],
) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray]]:
    """BPTT: returns ``dx`` ``(T, B, I)`` and ``(dh_0, dc_0)``; adds the weight gradients
    into ``grads`` (``dW_ih``, ``dW_hh``, ``db_ih``, ``db_hh``)."""
    gates, cell, tanh_cell = cache.gates, cache.cell, cache.tanh_cell
    batch_sizes, reverse, weight_hh = cache.batch_sizes, cache.reverse, cache.weight_hh
    num_steps, batch, gate_size = gates.shape
    H = gate_size // GATE_COUNT

    grad_h = np.array(grad_state[0], dtype=gates.dtype, copy=True)
    grad_c = np.array(grad_state[1], dtype=gates.dtype, copy=True)
    # Rows past their length must contribute nothing to the weight gradients.
    grad_gates = (np.empty_like if batch_sizes is None else np.zeros_like)(gates)
    scratch = np.empty((batch, H), dtype=gates.dtype)

    for t in time_steps(num_steps, not reverse):
        n = active_rows(batch_sizes, t, batch)
        dh, dc = grad_h[:n], grad_c[:n]
        dh += grad_output[t, :n]
        a, da = gates[t, :n], grad_gates[t, :n]
        i, f, g, o = a[:, :H], a[:, H : 2 * H], a[:, 2 * H : 3 * H], a[:, 3 * H :]
        da_i, da_f, da_g, da_o = da[:, :H], da[:, H : 2 * H], da[:, 2 * H : 3 * H], da[:, 3 * H :]
        tc, tmp = tanh_cell[t, :n], scratch[:n]

        # da_o = dh * tanh(c) * o * (1 - o)
        np.multiply(dh, tc, out=da_o)
        np.subtract(1.0, o, out=tmp)
        tmp *= o
        da_o *= tmp
        # dc += dh * o * (1 - tanh(c)^2)
        np.multiply(tc, tc, out=tmp)
        np.subtract(1.0, tmp, out=tmp)
        tmp *= o
        tmp *= dh
        dc += tmp
        # da_i = dc * g * i * (1 - i)
        np.subtract(1.0, i, out=tmp)
        tmp *= i
        np.multiply(dc, g, out=da_i)
        da_i *= tmp
        # da_f = dc * c_{t-1} * f * (1 - f)
        np.subtract(1.0, f, out=tmp)
        tmp *= f
        np.multiply(dc, cell[t + reverse, :n], out=da_f)
        da_f *= tmp
        # da_g = dc * i * (1 - g^2)
        np.multiply(g, g, out=tmp)
        np.subtract(1.0, tmp, out=tmp)
        tmp *= i
        np.multiply(dc, tmp, out=da_g)
        # dc_{t-1} = dc * f ; dh_{t-1} = da W_hh
        dc *= f
        np.matmul(da, weight_hh, out=dh)

    accumulate_weight_grads(
        grads, grad_gates, cache.x, grad_gates, previous_states(cache.hidden, reverse)
    )
    grad_x = np.matmul(grad_gates.reshape(num_steps * batch, gate_size), cache.weight_ih)
    return grad_x.reshape(num_steps, batch, -1), (grad_h, grad_c)
