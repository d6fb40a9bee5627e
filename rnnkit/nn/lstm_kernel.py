"""LSTM: one layer, one direction, forward and backpropagation through time.

The equations are in the docstrings of ``forward_sequence`` (PyTorch's gate order i, f, g,
o) and ``backward_sequence``.

How the work is laid out for speed (at these sizes a step is a small GEMM and a dozen
elementwise NumPy calls, and the calls cost as much as the GEMM):

- The gate activations are stored gate-major, ``(4, T, B, H)``, in the internal order
  i, f, o, g. Each gate of each step is then one contiguous block: a NumPy call on a
  ``(B, H)`` column slice of a ``(B, 4H)`` array runs its inner loop once per row, which
  made it 3-4x slower at H = 128. The parameters keep PyTorch's layout and order. The
  input projection is one GEMM per gate over all steps, and the recurrent product one
  batched matmul per step, both writing gate-major.
- The weight and bias rows of i, f and o are halved for the forward products. Scaling by
  1/2 is exact in binary floating point, so one ``tanh`` over all four gates gives
  ``tanh(a / 2)`` for i, f, o, and ``sigmoid(a) = (1 + tanh(a / 2)) / 2`` is two more calls
  over the three adjacent sigmoid gates (a form that, unlike ``1 / (1 + exp(-a))``, cannot
  overflow for extreme inputs).
- In backward, every factor that does not depend on the recurrence (``g i (1 - i)``,
  ``c_{t-1} f (1 - f)``, ``i (1 - g^2)``, ``tanh(c_t) o (1 - o)``, ``o (1 - tanh(c_t)^2)``)
  is computed for all steps at once before the time loop, leaving six elementwise calls
  per step.

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

GATE_COUNT = 4
STATE_COUNT = 2
# Internal gate k holds PyTorch's gate INTERNAL_ORDER[k]: i, f, o, g (PyTorch: i, f, g, o).
INTERNAL_ORDER = (0, 1, 3, 2)
# Factor applied to each internal gate's pre-activation: sigmoid gates get a / 2.
PRE_SCALE = (0.5, 0.5, 0.5, 1.0)


@dataclass
class LSTMCache:
    """What backward needs. Backward consumes it: it overwrites ``gates`` and ``tanh_cell``."""

    x: np.ndarray | EmbeddedTokens  # (T, B, I), or ids (T, B) and their table
    gates: np.ndarray  # (4, T, B, H) activations i, f, o, g (internal order)
    hidden: np.ndarray  # (T + 1, B, H) state buffer, see sequence_ops
    cell: np.ndarray  # (T + 1, B, H)
    tanh_cell: np.ndarray  # (T, B, H) tanh(c_t)
    weight_ih: np.ndarray
    weight_hh: np.ndarray
    batch_sizes: np.ndarray | None
    reverse: bool


def internal_gate_rows(value: np.ndarray, hidden_size: int) -> np.ndarray:
    """``value``'s gate blocks (first axis, PyTorch order) in internal order, pre-scaled."""
    return gate_rows(value, hidden_size, INTERNAL_ORDER, PRE_SCALE)


def forward_sequence(
    x: np.ndarray | EmbeddedTokens,
    state: tuple[np.ndarray, np.ndarray],
    weights: tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None],
    batch_sizes: np.ndarray | None = None,
    reverse: bool = False,
    keep_cache: bool = True,
) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray], LSTMCache | None]:
    """Run the LSTM over ``x`` from ``state = (h_0, c_0)``; for each time step ``t``
    (PyTorch's gate order i, f, g, o: the row blocks of ``W_ih``, ``W_hh`` and the biases)::

        [a_i, a_f, a_g, a_o] = W_ih x_t + b_ih + W_hh h_{t-1} + b_hh
        i = sigmoid(a_i)      input gate
        f = sigmoid(a_f)      forget gate
        g = tanh(a_g)         candidate cell
        o = sigmoid(a_o)      output gate
        c_t = f * c_{t-1} + i * g
        h_t = o * tanh(c_t)

    Args:
        state: ``(h_0, c_0)``, each ``(B, H)``.
        x, weights, batch_sizes, reverse, keep_cache: as for ``rnn_kernel.forward_sequence``.
    Outputs:
        the output ``(T, B, H)``, the final ``(h_n, c_n)`` and the cache (None without
        ``keep_cache``).
    """
    weight_ih, weight_hh, bias_ih, bias_hh = weights
    num_steps, batch, _ = x.shape
    H = weight_hh.shape[1]
    # b_hh enters every gate exactly as b_ih does, so it folds into the input projection.
    bias = None if bias_ih is None else internal_gate_rows(bias_ih + bias_hh, H)
    gates = project_inputs_gate_major(x, internal_gate_rows(weight_ih, H), bias, GATE_COUNT)

    hidden = np.empty((num_steps + 1, batch, H), dtype=x.dtype)
    cell = BUFFERS.take(hidden.shape, x.dtype)
    # Zeros where rows are inactive, so backward's all-steps products stay finite there.
    tanh_cell = BUFFERS.take((num_steps, batch, H), x.dtype, zeros=batch_sizes is not None)
    start = num_steps if reverse else 0
    hidden[start] = state[0]
    cell[start] = state[1]
    recurrent = np.empty((GATE_COUNT, batch, H), dtype=x.dtype)
    scratch = np.empty((batch, H), dtype=x.dtype)
    weight_hh_t = per_gate_transposed(internal_gate_rows(weight_hh, H), GATE_COUNT)

    for t in time_steps(num_steps, reverse):
        n = active_rows(batch_sizes, t, batch)
        h_prev, c_prev = hidden[t + reverse, :n], cell[t + reverse, :n]
        h_next, c_next = hidden[t + 1 - reverse, :n], cell[t + 1 - reverse, :n]
        a = gates[:, t, :n]  # (4, n, H): a_i / 2, a_f / 2, a_o / 2, a_g
        np.matmul(h_prev, weight_hh_t, out=recurrent[:, :n])
        a += recurrent[:, :n]
        np.tanh(a, out=a)
        # i, f, o = sigmoid(a) = (1 + tanh(a / 2)) / 2
        sigmoid_gates = a[:3]
        sigmoid_gates *= 0.5
        sigmoid_gates += 0.5
        i, f, o, g = a
        # c_t = f * c_{t-1} + i * g
        np.multiply(f, c_prev, out=c_next)
        np.multiply(i, g, out=scratch[:n])
        c_next += scratch[:n]
        # h_t = o * tanh(c_t)
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
    else:
        BUFFERS.give(gates, cell, tanh_cell)
    return output, final, cache


def backward_sequence(
    grad_output: np.ndarray,
    grad_state: tuple[np.ndarray, np.ndarray],
    cache: LSTMCache,
    grads: tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None],
) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray]]:
    """Backpropagation through time, from the last step to the first. Given ``dh_t`` (the
    output's gradient at step ``t`` plus what step ``t + 1`` passed back) and ``dc_t`` (from
    step ``t + 1``)::

        do   = dh_t * tanh(c_t)
        dc_t = dc_t + dh_t * o * (1 - tanh(c_t)^2)
        di   = dc_t * g,   df = dc_t * c_{t-1},   dg = dc_t * i
        da_i = di * i (1 - i),  da_f = df * f (1 - f),  da_g = dg (1 - g^2),  da_o = do * o (1 - o)
        da_t = [da_i, da_f, da_g, da_o]
        dc_{t-1} = dc_t * f
        dh_{t-1} = da_t W_hh
        dx_t     = da_t W_ih
        dW_ih   += da_t^T x_t     dW_hh += da_t^T h_{t-1}     db_ih, db_hh += sum of da_t's rows

    Args:
        grad_output: ``dL/doutput`` ``(T, B, H)``.
        grad_state: ``(dL/dh_n, dL/dc_n)``.
        cache: what ``forward_sequence`` kept (consumed).
        grads: ``(dW_ih, dW_hh, db_ih, db_hh)`` to add into.
    Outputs:
        ``dx`` ``(T, B, I)`` (the table's ``(V, I)`` for ``EmbeddedTokens``) and
        ``(dh_0, dc_0)``.
    """
    gates, tanh_cell = cache.gates, cache.tanh_cell
    batch_sizes, reverse, weight_hh = cache.batch_sizes, cache.reverse, cache.weight_hh
    _, num_steps, batch, H = gates.shape
    dtype = gates.dtype
    i, f, o, g = gates

    # The step-independent factors of every step at once (see the module docstring):
    # per_dc[k] * dc_t is da for PyTorch's gates i, f, g; per_dh_o * dh_t is da_o, and
    # dc_t gains dh_t * per_dh_c.
    per_dc = BUFFERS.take((3, num_steps, batch, H), dtype)
    np.subtract(1.0, i, out=per_dc[0])  # g i (1 - i)
    per_dc[0] *= i
    per_dc[0] *= g
    np.subtract(1.0, f, out=per_dc[1])  # c_{t-1} f (1 - f)
    per_dc[1] *= f
    per_dc[1] *= previous_states(cache.cell, reverse)
    np.multiply(g, g, out=per_dc[2])  # i (1 - g^2)
    np.subtract(1.0, per_dc[2], out=per_dc[2])
    per_dc[2] *= i
    # i and g are no longer needed: their blocks take the two dh factors.
    per_dh_o, per_dh_c = i, g
    np.subtract(1.0, o, out=per_dh_o)  # tanh(c_t) o (1 - o)
    per_dh_o *= o
    per_dh_o *= tanh_cell
    np.multiply(tanh_cell, tanh_cell, out=per_dh_c)  # o (1 - tanh(c_t)^2)
    np.subtract(1.0, per_dh_c, out=per_dh_c)
    per_dh_c *= o

    grad_h = np.array(grad_state[0], dtype=dtype, copy=True)
    grad_c = np.array(grad_state[1], dtype=dtype, copy=True)
    # Gate gradients in PyTorch's order, ready for the weight-gradient GEMMs. Rows past
    # their length must contribute nothing to those.
    grad_gates = BUFFERS.take(
        (num_steps, batch, GATE_COUNT * H), dtype, zeros=batch_sizes is not None
    )
    scratch = np.empty((batch, H), dtype=dtype)

    for t in time_steps(num_steps, not reverse):
        n = active_rows(batch_sizes, t, batch)
        dh, dc, tmp = grad_h[:n], grad_c[:n], scratch[:n]
        dh += grad_output[t, :n]
        # dc_t += dh_t * o * (1 - tanh(c_t)^2)
        np.multiply(dh, per_dh_c[t, :n], out=tmp)
        dc += tmp
        da = grad_gates[t, :n]
        # [da_i, da_f, da_g] = dc_t * [g i (1 - i), c_{t-1} f (1 - f), i (1 - g^2)]
        da_ifg = da[:, : 3 * H].reshape(n, 3, H).transpose(1, 0, 2)
        np.multiply(per_dc[:, t, :n], dc, out=da_ifg)
        # da_o = dh_t * tanh(c_t) * o (1 - o)
        np.multiply(per_dh_o[t, :n], dh, out=da[:, 3 * H :])
        # dc_{t-1} = dc_t * f ; dh_{t-1} = da W_hh
        dc *= f[t, :n]
        np.matmul(da, weight_hh, out=dh)

    h_previous = previous_states(cache.hidden, reverse)
    grad_x = accumulate_weight_grads(
        grads, grad_gates, cache.x, grad_gates, h_previous, cache.weight_ih
    )
    BUFFERS.give(gates, cache.cell, tanh_cell, per_dc, grad_gates)
    return grad_x, (grad_h, grad_c)
