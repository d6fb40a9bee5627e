"""Vanilla (Elman) RNN: one layer, one direction, forward and backpropagation through time.

The equations are in the docstrings of ``forward_sequence`` and ``backward_sequence``. See
``sequence_ops`` for the buffer layout and how variable lengths are handled.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rnnkit.nn.embedding import EmbeddedTokens
from rnnkit.nn.sequence_ops import (
    accumulate_weight_grads,
    active_rows,
    carry_inactive_rows,
    final_state,
    outputs_from_states,
    previous_states,
    project_inputs,
    time_steps,
    transposed_copy,
)

GATE_COUNT = 1
STATE_COUNT = 1
NONLINEARITIES = ("tanh", "relu")


def check_nonlinearity(nonlinearity: str) -> str:
    if nonlinearity not in NONLINEARITIES:
        raise ValueError(f"nonlinearity: expected one of {NONLINEARITIES}, got {nonlinearity!r}")
    return nonlinearity


@dataclass
class RNNCache:
    x: np.ndarray | EmbeddedTokens  # (T, B, I), or ids (T, B) and their table
    hidden: np.ndarray  # (T + 1, B, H) state buffer, see sequence_ops
    weight_ih: np.ndarray
    weight_hh: np.ndarray
    batch_sizes: np.ndarray | None
    reverse: bool
    nonlinearity: str


def forward_sequence(
    x: np.ndarray | EmbeddedTokens,
    state: tuple[np.ndarray],
    weights: tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None],
    batch_sizes: np.ndarray | None = None,
    reverse: bool = False,
    keep_cache: bool = True,
    nonlinearity: str = "tanh",
) -> tuple[np.ndarray, tuple[np.ndarray], RNNCache | None]:
    """Run the RNN over ``x`` from ``state = (h_0,)``; for each time step ``t``::

        a_t = W_ih x_t + b_ih + W_hh h_{t-1} + b_hh
        h_t = tanh(a_t)            (or relu(a_t))

    ``W_ih x_t + b_ih + b_hh`` is made for all steps at once before the loop, so each step
    is one product with ``W_hh``.

    Args:
        x: ``(T, B, I)``, or ``EmbeddedTokens`` (see ``sequence_ops``).
        state: ``(h_0,)``, ``h_0`` of shape ``(B, H)``.
        weights: ``(W_ih, W_hh, b_ih, b_hh)`` in PyTorch's shapes; the biases may be None.
        batch_sizes: how many (length-sorted) rows run at each step, or None for all.
        reverse: run from the last step to the first.
        keep_cache: keep what ``backward_sequence`` needs.
        nonlinearity: ``"tanh"`` or ``"relu"``.
    Outputs:
        the output ``(T, B, H)``, the final ``(h_n,)`` and the cache (None without
        ``keep_cache``).
    """
    weight_ih, weight_hh, bias_ih, bias_hh = weights
    num_steps, batch, _ = x.shape
    hidden_size = weight_hh.shape[1]
    bias = None if bias_ih is None else bias_ih + bias_hh
    pre_activation = project_inputs(x, weight_ih, bias)

    hidden = np.empty((num_steps + 1, batch, hidden_size), dtype=x.dtype)
    hidden[num_steps if reverse else 0] = state[0]
    recurrent = np.empty((batch, hidden_size), dtype=x.dtype)
    weight_hh_t = transposed_copy(weight_hh)

    for t in time_steps(num_steps, reverse):
        n = active_rows(batch_sizes, t, batch)
        h_next = hidden[t + 1 - reverse, :n]
        np.matmul(hidden[t + reverse, :n], weight_hh_t, out=recurrent[:n])
        np.add(pre_activation[t, :n], recurrent[:n], out=h_next)
        if nonlinearity == "tanh":
            np.tanh(h_next, out=h_next)
        else:
            np.maximum(h_next, 0.0, out=h_next)
        if n < batch:
            carry_inactive_rows(hidden, t, reverse, n)

    output = outputs_from_states(hidden, reverse, batch_sizes)
    final = (final_state(hidden, reverse).copy(),)
    cache = None
    if keep_cache:
        cache = RNNCache(x, hidden, weight_ih, weight_hh, batch_sizes, reverse, nonlinearity)
    return output, final, cache


def backward_sequence(
    grad_output: np.ndarray,
    grad_state: tuple[np.ndarray],
    cache: RNNCache,
    grads: tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None],
) -> tuple[np.ndarray, tuple[np.ndarray]]:
    """Backpropagation through time, from the last step to the first. Given ``dh_t`` (the
    output's gradient at step ``t`` plus what step ``t + 1`` passed back), with one row per
    batch row::

        da_t     = dh_t * (1 - h_t^2)          (relu: dh_t * [h_t > 0])
        dh_{t-1} = da_t W_hh
        dx_t     = da_t W_ih
        dW_ih   += da_t^T x_t     dW_hh += da_t^T h_{t-1}     db_ih, db_hh += sum of da_t's rows

    The weight gradients, sums over the steps, are made after the loop with one product each
    (``sequence_ops.accumulate_weight_grads``).

    Args:
        grad_output: ``dL/doutput`` ``(T, B, H)``.
        grad_state: ``(dL/dh_n,)``.
        cache: what ``forward_sequence`` kept.
        grads: ``(dW_ih, dW_hh, db_ih, db_hh)`` to add into.
    Outputs:
        ``dx`` ``(T, B, I)`` (the table's ``(V, I)`` for ``EmbeddedTokens``) and ``(dh_0,)``.
    """
    hidden, batch_sizes, reverse = cache.hidden, cache.batch_sizes, cache.reverse
    num_steps, batch, hidden_size = grad_output.shape
    new_states = hidden[1:] if not reverse else hidden[:num_steps]

    grad_h = np.array(grad_state[0], dtype=hidden.dtype, copy=True)
    grad_pre = (np.empty if batch_sizes is None else np.zeros)(
        (num_steps, batch, hidden_size), dtype=hidden.dtype
    )
    for t in time_steps(num_steps, not reverse):
        n = active_rows(batch_sizes, t, batch)
        dh, da, h = grad_h[:n], grad_pre[t, :n], new_states[t, :n]
        dh += grad_output[t, :n]
        if cache.nonlinearity == "tanh":
            np.multiply(h, h, out=da)
            np.subtract(1.0, da, out=da)
            da *= dh
        else:
            np.greater(h, 0.0, out=da)
            da *= dh
        np.matmul(da, cache.weight_hh, out=dh)

    h_previous = previous_states(hidden, reverse)
    grad_x = accumulate_weight_grads(
        grads, grad_pre, cache.x, grad_pre, h_previous, cache.weight_ih
    )
    return grad_x, (grad_h,)
