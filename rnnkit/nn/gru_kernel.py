"""GRU: one layer, one direction, forward and backpropagation through time.

Forward, for each time step ``t`` (PyTorch's gate order r, z, n)::

    r   = sigmoid(W_ir x_t + b_ir + W_hr h_{t-1} + b_hr)     reset gate
    z   = sigmoid(W_iz x_t + b_iz + W_hz h_{t-1} + b_hz)     update gate
    m   = W_hn h_{t-1} + b_hn                                (kept for backward)
    n   = tanh(W_in x_t + b_in + r * m)                      candidate state
    h_t = (1 - z) * n + z * h_{t-1}

Backward, given dh_t (from the output and from step t+1)::

    dn   = dh_t * (1 - z)
    dz   = dh_t * (h_{t-1} - n)
    da_n = dn * (1 - n^2)              gradient of W_in x + b_in (and of r * m)
    dm   = da_n * r                    gradient of W_hn h + b_hn
    da_r = da_n * m * r (1 - r)
    da_z = dz * z (1 - z)
    dh_{t-1} = dh_t * z + [da_r, da_z, dm] W_hh
    dx_t     = [da_r, da_z, da_n] W_ih

The input side and the hidden side see different candidate-gate gradients (``da_n`` and
``dm``), so ``b_hh`` cannot be folded into the input projection as it is for the LSTM.
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

GATE_COUNT = 3
STATE_COUNT = 1


@dataclass
class GRUCache:
    x: np.ndarray  # (T, B, I)
    gates: np.ndarray  # (T, B, 3H) activations r, z, n
    hidden_term: np.ndarray  # (T, B, H) m = W_hn h_{t-1} + b_hn
    hidden: np.ndarray  # (T + 1, B, H) state buffer, see sequence_ops
    weight_ih: np.ndarray
    weight_hh: np.ndarray
    batch_sizes: np.ndarray | None
    reverse: bool


def forward_sequence(
    x: np.ndarray,
    state: tuple[np.ndarray],
    weights: tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None],
    batch_sizes: np.ndarray | None = None,
    reverse: bool = False,
    keep_cache: bool = True,
) -> tuple[np.ndarray, tuple[np.ndarray], GRUCache | None]:
    """Run the GRU over ``x`` ``(T, B, I)`` from ``state = (h_0,)``."""
    weight_ih, weight_hh, bias_ih, bias_hh = weights
    num_steps, batch, _ = x.shape
    H = weight_hh.shape[1]
    gates = project_inputs(x, weight_ih, bias_ih)
    if bias_hh is not None:
        # b_hr and b_hz act like input biases; b_hn stays inside r * (W_hn h + b_hn).
        gates[:, :, : 2 * H] += bias_hh[: 2 * H]

    hidden = np.empty((num_steps + 1, batch, H), dtype=x.dtype)
    hidden[num_steps if reverse else 0] = state[0]
    hidden_term = np.empty((num_steps, batch, H), dtype=x.dtype)
    recurrent = np.empty((batch, 3 * H), dtype=x.dtype)
    scratch = np.empty((batch, H), dtype=x.dtype)
    weight_hh_t = transposed_copy(weight_hh)

    for t in time_steps(num_steps, reverse):
        n_rows = active_rows(batch_sizes, t, batch)
        h_prev, h_next = hidden[t + reverse, :n_rows], hidden[t + 1 - reverse, :n_rows]
        a, rec, m = gates[t, :n_rows], recurrent[:n_rows], hidden_term[t, :n_rows]
        np.matmul(h_prev, weight_hh_t, out=rec)
        a[:, : 2 * H] += rec[:, : 2 * H]
        sigmoid_(a[:, : 2 * H])
        r, z, n = a[:, :H], a[:, H : 2 * H], a[:, 2 * H :]
        np.copyto(m, rec[:, 2 * H :])
        if bias_hh is not None:
            m += bias_hh[2 * H :]
        np.multiply(r, m, out=scratch[:n_rows])
        n += scratch[:n_rows]
        np.tanh(n, out=n)
        # h_t = n + z * (h_{t-1} - n)
        np.subtract(h_prev, n, out=h_next)
        h_next *= z
        h_next += n
        if n_rows < batch:
            carry_inactive_rows(hidden, t, reverse, n_rows)

    output = outputs_from_states(hidden, reverse, batch_sizes)
    final = (final_state(hidden, reverse).copy(),)
    cache = None
    if keep_cache:
        cache = GRUCache(x, gates, hidden_term, hidden, weight_ih, weight_hh, batch_sizes, reverse)
    return output, final, cache


def backward_sequence(
    grad_output: np.ndarray,
    grad_state: tuple[np.ndarray],
    cache: GRUCache,
    grads: tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None],
) -> tuple[np.ndarray, tuple[np.ndarray]]:
    """BPTT: returns ``dx`` ``(T, B, I)`` and ``(dh_0,)``; adds the weight gradients."""
    gates, hidden, hidden_term = cache.gates, cache.hidden, cache.hidden_term
    batch_sizes, reverse, weight_hh = cache.batch_sizes, cache.reverse, cache.weight_hh
    num_steps, batch, gate_size = gates.shape
    H = gate_size // GATE_COUNT

    grad_h = np.array(grad_state[0], dtype=gates.dtype, copy=True)
    # Hidden-side gate gradients [da_r, da_z, dm]; the input side differs only in da_n.
    make = np.empty if batch_sizes is None else np.zeros
    grad_hidden_gates = make(gates.shape, dtype=gates.dtype)
    grad_candidate = make((num_steps, batch, H), dtype=gates.dtype)
    scratch = np.empty((batch, H), dtype=gates.dtype)
    recurrent = np.empty((batch, H), dtype=gates.dtype)

    for t in time_steps(num_steps, not reverse):
        n_rows = active_rows(batch_sizes, t, batch)
        dh = grad_h[:n_rows]
        dh += grad_output[t, :n_rows]
        a, dg = gates[t, :n_rows], grad_hidden_gates[t, :n_rows]
        r, z, n = a[:, :H], a[:, H : 2 * H], a[:, 2 * H :]
        da_r, da_z, dm = dg[:, :H], dg[:, H : 2 * H], dg[:, 2 * H :]
        da_n, tmp = grad_candidate[t, :n_rows], scratch[:n_rows]
        h_prev = hidden[t + reverse, :n_rows]

        # da_z = dh * (h_{t-1} - n) * z * (1 - z)
        np.subtract(h_prev, n, out=da_z)
        da_z *= dh
        np.subtract(1.0, z, out=tmp)
        tmp *= z
        da_z *= tmp
        # da_n = dh * (1 - z) * (1 - n^2)
        np.multiply(n, n, out=tmp)
        np.subtract(1.0, tmp, out=tmp)
        np.multiply(dh, tmp, out=da_n)
        np.subtract(1.0, z, out=tmp)
        da_n *= tmp
        # dm = da_n * r ; da_r = da_n * m * r * (1 - r)
        np.multiply(da_n, r, out=dm)
        np.subtract(1.0, r, out=tmp)
        tmp *= r
        np.multiply(da_n, hidden_term[t, :n_rows], out=da_r)
        da_r *= tmp
        # dh_{t-1} = dh * z + [da_r, da_z, dm] W_hh
        np.matmul(dg, weight_hh, out=recurrent[:n_rows])
        dh *= z
        dh += recurrent[:n_rows]

    grad_input_gates = grad_hidden_gates.copy()
    grad_input_gates[:, :, 2 * H :] = grad_candidate
    accumulate_weight_grads(
        grads, grad_input_gates, cache.x, grad_hidden_gates, previous_states(hidden, reverse)
    )
    grad_x = np.matmul(grad_input_gates.reshape(num_steps * batch, gate_size), cache.weight_ih)
    return grad_x.reshape(num_steps, batch, -1), (grad_h,)
