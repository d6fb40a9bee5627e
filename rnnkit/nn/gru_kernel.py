"""GRU: one layer, one direction, forward and backpropagation through time.

The equations are in the docstrings of ``forward_sequence`` (PyTorch's gate order r, z,
n) and ``backward_sequence``.

The input side and the hidden side see different candidate-gate gradients (``da_n`` and
``dm``), so ``b_hh`` cannot be folded into the input projection as it is for the LSTM.

The work is laid out for speed as in ``lstm_kernel``: gate activations stored gate-major
``(3, T, B, H)`` so every elementwise call works on contiguous blocks; the rows of r and z
halved for the forward products (exact), so that ``sigmoid(a) = (1 + tanh(a / 2)) / 2``
takes one ``tanh`` over both; per-gate recurrent products; and in backward the factors
``(h_{t-1} - n) z (1 - z)``, ``(1 - z)(1 - n^2)`` and ``m r (1 - r)`` computed for all steps
before the time loop.
See ``sequence_ops`` for the state buffers and how variable lengths are handled.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rnnkit.nn.embedding import EmbeddedTokens
from rnnkit.nn.sequence_ops import (
    BUFFERS,
    accumulate_weight_grads,
    active_rows,
    carry_inactive_rows,
    final_state,
    gate_rows,
    outputs_from_states,
    per_gate_transposed,
    previous_states,
    project_inputs_gate_major,
    time_steps,
)

GATE_COUNT = 3
STATE_COUNT = 1
# Factor applied to each gate's pre-activation in forward: the sigmoid gates r, z get a / 2.
PRE_SCALE = (0.5, 0.5, 1.0)


@dataclass
class GRUCache:
    """What backward needs. Backward consumes it: it overwrites ``gates`` and
    ``hidden_term``."""

    x: np.ndarray | EmbeddedTokens  # (T, B, I), or ids (T, B) and their table
    gates: np.ndarray  # (3, T, B, H) activations r, z, n
    hidden_term: np.ndarray  # (T, B, H) m = W_hn h_{t-1} + b_hn
    hidden: np.ndarray  # (T + 1, B, H) state buffer, see sequence_ops
    weight_ih: np.ndarray
    weight_hh: np.ndarray
    batch_sizes: np.ndarray | None
    reverse: bool


def scaled_gate_rows(value: np.ndarray, hidden_size: int) -> np.ndarray:
    """``value``'s gate blocks (first axis) with r and z halved."""
    return gate_rows(value, hidden_size, (0, 1, 2), PRE_SCALE)


def forward_sequence(
    x: np.ndarray | EmbeddedTokens,
    state: tuple[np.ndarray],
    weights: tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None],
    batch_sizes: np.ndarray | None = None,
    reverse: bool = False,
    keep_cache: bool = True,
) -> tuple[np.ndarray, tuple[np.ndarray], GRUCache | None]:
    """Run the GRU over ``x`` from ``state = (h_0,)``; for each time step ``t`` (PyTorch's
    gate order r, z, n: the row blocks of ``W_ih``, ``W_hh`` and the biases)::

        r   = sigmoid(W_ir x_t + b_ir + W_hr h_{t-1} + b_hr)     reset gate
        z   = sigmoid(W_iz x_t + b_iz + W_hz h_{t-1} + b_hz)     update gate
        m   = W_hn h_{t-1} + b_hn                                (kept for backward)
        n   = tanh(W_in x_t + b_in + r * m)                      candidate state
        h_t = (1 - z) * n + z * h_{t-1}

    Args:
        state: ``(h_0,)``, ``h_0`` of shape ``(B, H)``.
        x, weights, batch_sizes, reverse, keep_cache: as for ``rnn_kernel.forward_sequence``.
    Outputs:
        the output ``(T, B, H)``, the final ``(h_n,)`` and the cache (None without
        ``keep_cache``).
    """
    weight_ih, weight_hh, bias_ih, bias_hh = weights
    num_steps, batch, _ = x.shape
    H = weight_hh.shape[1]
    bias, bias_hn = None, None
    if bias_ih is not None:
        # b_hr and b_hz act like input biases; b_hn stays inside r * (W_hn h + b_hn).
        bias = bias_ih.copy()
        bias[: 2 * H] += bias_hh[: 2 * H]
        bias = scaled_gate_rows(bias, H)
        bias_hn = bias_hh[2 * H :]
    gates = project_inputs_gate_major(x, scaled_gate_rows(weight_ih, H), bias, GATE_COUNT)

    hidden = np.empty((num_steps + 1, batch, H), dtype=x.dtype)
    hidden[num_steps if reverse else 0] = state[0]
    # Zeros where rows are inactive, so backward's all-steps products stay finite there.
    hidden_term = BUFFERS.take((num_steps, batch, H), x.dtype, zeros=batch_sizes is not None)
    recurrent = np.empty((GATE_COUNT, batch, H), dtype=x.dtype)
    scratch = np.empty((batch, H), dtype=x.dtype)
    weight_hh_t = per_gate_transposed(scaled_gate_rows(weight_hh, H), GATE_COUNT)

    for t in time_steps(num_steps, reverse):
        n_rows = active_rows(batch_sizes, t, batch)
        h_prev, h_next = hidden[t + reverse, :n_rows], hidden[t + 1 - reverse, :n_rows]
        a, rec, m = gates[:, t, :n_rows], recurrent[:, :n_rows], hidden_term[t, :n_rows]
        np.matmul(h_prev, weight_hh_t, out=rec)
        # r, z = sigmoid(a) = (1 + tanh(a / 2)) / 2; a arrives halved.
        rz = a[:2]
        rz += rec[:2]
        np.tanh(rz, out=rz)
        rz *= 0.5
        rz += 0.5
        r, z, n = a
        # m = W_hn h + b_hn ; n = tanh(W_in x + b_in + r * m)
        if bias_hn is None:
            np.copyto(m, rec[2])
        else:
            np.add(rec[2], bias_hn, out=m)
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
    else:
        BUFFERS.give(gates, hidden_term)
    return output, final, cache


def backward_sequence(
    grad_output: np.ndarray,
    grad_state: tuple[np.ndarray],
    cache: GRUCache,
    grads: tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None],
) -> tuple[np.ndarray, tuple[np.ndarray]]:
    """Backpropagation through time, from the last step to the first. Given ``dh_t`` (the
    output's gradient at step ``t`` plus what step ``t + 1`` passed back)::

        dn   = dh_t * (1 - z)
        dz   = dh_t * (h_{t-1} - n)
        da_n = dn * (1 - n^2)              gradient of W_in x + b_in (and of r * m)
        dm   = da_n * r                    gradient of W_hn h + b_hn
        da_r = da_n * m * r (1 - r)
        da_z = dz * z (1 - z)
        dh_{t-1} = dh_t * z + [da_r, da_z, dm] W_hh
        dx_t     = [da_r, da_z, da_n] W_ih
        dW_ih += [da_r, da_z, da_n]^T x_t        db_ih += sum of [da_r, da_z, da_n]'s rows
        dW_hh += [da_r, da_z, dm]^T h_{t-1}      db_hh += sum of [da_r, da_z, dm]'s rows

    Args:
        grad_output: ``dL/doutput`` ``(T, B, H)``.
        grad_state: ``(dL/dh_n,)``.
        cache: what ``forward_sequence`` kept (consumed).
        grads: ``(dW_ih, dW_hh, db_ih, db_hh)`` to add into.
    Outputs:
        ``dx`` ``(T, B, I)`` (the table's ``(V, I)`` for ``EmbeddedTokens``) and ``(dh_0,)``.
    """
    gates, hidden, hidden_term = cache.gates, cache.hidden, cache.hidden_term
    batch_sizes, reverse, weight_hh = cache.batch_sizes, cache.reverse, cache.weight_hh
    _, num_steps, batch, H = gates.shape
    dtype = gates.dtype
    r, z, n = gates
    h_previous = previous_states(hidden, reverse)

    # The step-independent factors of every step at once, in the gate blocks that are no
    # longer needed: da_z = dh * per_dh_z, da_n = dh * per_dh_n, da_r = da_n * per_da_r.
    one_minus_z = np.subtract(1.0, z, out=BUFFERS.take(z.shape, dtype))
    per_dh_z = BUFFERS.take(z.shape, dtype)  # (h_{t-1} - n) z (1 - z)
    np.subtract(h_previous, n, out=per_dh_z)
    per_dh_z *= z
    per_dh_z *= one_minus_z
    per_dh_n = n  # (1 - z)(1 - n^2)
    np.multiply(n, n, out=per_dh_n)
    np.subtract(1.0, per_dh_n, out=per_dh_n)
    per_dh_n *= one_minus_z
    # one_minus_z now takes r (1 - r) for the factor of da_r.
    r_factor = one_minus_z
    np.subtract(1.0, r, out=r_factor)
    r_factor *= r
    per_da_r = hidden_term  # m r (1 - r)
    per_da_r *= r_factor

    grad_h = np.array(grad_state[0], dtype=dtype, copy=True)
    # Hidden-side gate gradients [da_r, da_z, dm]; the input side differs only in da_n.
    zeros = batch_sizes is not None
    grad_hidden_gates = BUFFERS.take((num_steps, batch, GATE_COUNT * H), dtype, zeros)
    grad_candidate = BUFFERS.take((num_steps, batch, H), dtype, zeros)
    recurrent = np.empty((batch, H), dtype=dtype)

    for t in time_steps(num_steps, not reverse):
        n_rows = active_rows(batch_sizes, t, batch)
        dh = grad_h[:n_rows]
        dh += grad_output[t, :n_rows]
        dg, da_n = grad_hidden_gates[t, :n_rows], grad_candidate[t, :n_rows]
        da_r, da_z, dm = dg[:, :H], dg[:, H : 2 * H], dg[:, 2 * H :]
        # da_z = dh (h_{t-1} - n) z (1 - z) ; da_n = dh (1 - z)(1 - n^2)
        np.multiply(dh, per_dh_z[t, :n_rows], out=da_z)
        np.multiply(dh, per_dh_n[t, :n_rows], out=da_n)
        # dm = da_n r ; da_r = da_n m r (1 - r)
        np.multiply(da_n, r[t, :n_rows], out=dm)
        np.multiply(da_n, per_da_r[t, :n_rows], out=da_r)
        # dh_{t-1} = dh z + [da_r, da_z, dm] W_hh
        np.matmul(dg, weight_hh, out=recurrent[:n_rows])
        dh *= z[t, :n_rows]
        dh += recurrent[:n_rows]

    grad_input_gates = BUFFERS.take(grad_hidden_gates.shape, dtype)
    grad_input_gates[:, :, : 2 * H] = grad_hidden_gates[:, :, : 2 * H]
    grad_input_gates[:, :, 2 * H :] = grad_candidate
    grad_x = accumulate_weight_grads(
        grads, grad_input_gates, cache.x, grad_hidden_gates, h_previous, cache.weight_ih
    )
    BUFFERS.give(gates, hidden_term, one_minus_z, per_dh_z, grad_hidden_gates, grad_candidate)
    BUFFERS.give(grad_input_gates)
    return grad_x, (grad_h,)
