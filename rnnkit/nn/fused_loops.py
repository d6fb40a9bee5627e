"""One direction of one float32 layer (LSTM, GRU or RNN) with its time loop in C.

``lstm_kernel``, ``gru_kernel`` and ``rnn_kernel`` compute a layer-direction with NumPy
calls: a recurrent GEMM per step from OpenBLAS and a dozen elementwise calls around it. At
the sizes people train on a laptop (hidden 128-512, batch 32-64) those calls cost more than
the arithmetic. The C loops (``_rnnkit.c``, ``_loops.h``) do each step as one pass: the
recurrent product in register tiles, the gate nonlinearities and the state update applied
to each tile while it is in L1, the batch rows shared between threads that never wait for
each other. Everything that is not per step stays in NumPy, here: the input projection
``x W_ih^T + b`` and the weight gradients are one GEMM each over all steps, exactly as in
the NumPy kernels (``sequence_ops``), through ``products.matmul`` (on the loops' own
threads, so that OpenBLAS's pool does not spin on the cores the loops need).

Gate values keep PyTorch's layout (gate ``q`` of unit ``u`` at column ``q H + u``); only
the recurrent weight is rearranged, once per call, into the per-block slabs the C tiles
read (``forward_slabs``, ``backward_slabs``). The GRU's ``b_hn`` stays inside
``r * (W_hn h + b_hn)``, so it goes to C on its own; its other recurrent biases join the
input side, as in ``gru_kernel``.

``dispatch`` decides when these run: float32 layers whose hidden size is a multiple of 16.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

from rnnkit.nn import c_binding
from rnnkit.nn.c_binding import LIBRARY, Sequence, pointer
from rnnkit.nn.embedding import EmbeddedTokens
from rnnkit.nn.products import matmul
from rnnkit.nn.sequence_ops import (
    BUFFERS,
    accumulate_weight_grads,
    aligned_empty,
    final_state,
    outputs_from_states,
    previous_states,
    split_input_weight,
)

UNITS = 16  # hidden units per block of the C code
ROWS = 6  # batch rows per register tile of the C code
GATES = {"lstm": 4, "gru": 3, "rnn_tanh": 1, "rnn_relu": 1}


def forward_slabs(weight: np.ndarray, gate_count: int = 4) -> np.ndarray:
    """``(G H, K)`` weight, PyTorch's gate rows -> ``(H / 16, G, K, 16)``: for unit block
    ``b`` and gate ``q`` a ``(K, 16)`` slab, ``slab[b, q, k, u] = weight[q H + 16 b + u, k]``
    (how the forward tiles read ``W^T``: a unit block's gates one after the other, each
    gate's 16 columns contiguous over ``k``)."""
    gate_size, width = weight.shape
    blocks = gate_size // (gate_count * UNITS)
    slabs = weight.reshape(gate_count, blocks, UNITS, width).transpose(1, 0, 3, 2)
    out = aligned_empty((blocks, gate_count, width, UNITS), np.float32)
    out.reshape(slabs.shape)[...] = slabs
    return out


# While set (``weights_fixed``), each W_hh's forward slabs by the array's id, with the
# array itself (kept alive, so its id cannot be reused meanwhile).
_FIXED: dict[int, tuple[np.ndarray, np.ndarray]] | None = None


@contextmanager
def weights_fixed() -> Iterator[None]:
    """Inside the ``with`` block the recurrent weights do not change (a search steps the same
    model many times): the arrangement of each ``W_hh`` for the forward loop is made once and
    kept for the later steps, instead of at every call. Nested blocks share the outer one's."""
    global _FIXED
    outer = _FIXED
    if outer is None:
        _FIXED = {}
    try:
        yield
    finally:
        _FIXED = outer


def _forward_slabs_of(weight: np.ndarray, gate_count: int) -> np.ndarray:
    if _FIXED is None:
        return forward_slabs(weight, gate_count)
    kept = _FIXED.get(id(weight))
    if kept is None or kept[0] is not weight:
        kept = _FIXED[id(weight)] = (weight, forward_slabs(weight, gate_count))
    return kept[1]


def backward_slabs(weight: np.ndarray) -> np.ndarray:
    """``(G H, H)`` weight -> ``(H / 16, G H, 16)``: each unit block's 16 columns as one
    contiguous slab, for ``dh = da W``."""
    gate_size, hidden_size = weight.shape
    slabs = weight.reshape(gate_size, hidden_size // UNITS, UNITS).transpose(1, 0, 2)
    out = aligned_empty(slabs.shape, np.float32)
    out[...] = slabs
    return out


def split_biases(
    cell: str, bias_ih: np.ndarray | None, bias_hh: np.ndarray | None, hidden_size: int
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """The input-side bias (added to ``W_ih x``) and the GRU's ``b_hn`` (else None)."""
    if bias_ih is None:
        return None, None
    if cell != "gru":
        return bias_ih + bias_hh, None
    bias = bias_ih.copy()
    bias[: 2 * hidden_size] += bias_hh[: 2 * hidden_size]  # b_hr, b_hz act like input biases
    return bias, np.ascontiguousarray(bias_hh[2 * hidden_size :], dtype=np.float32)


@dataclass
class FusedCache:
    """What backward needs; backward gives the buffers back to the pool."""

    cell: str
    x: np.ndarray | EmbeddedTokens
    ids: np.ndarray | None  # x.ids as int64, for tokens
    gates: np.ndarray  # (T, B, G H) activations
    hidden: np.ndarray  # (T + 1, B, H) state buffers, as in sequence_ops
    cell_states: np.ndarray | None  # the LSTM's c
    aux: np.ndarray | None  # (T, B, H) the LSTM's tanh(c_t), the GRU's W_hn h + b_hn
    weight_ih: np.ndarray
    weight_slabs: np.ndarray  # backward_slabs of W_hh
    batch_sizes: np.ndarray | None
    reverse: bool


def workers(batch: int) -> int:
    """Threads a call shares ``batch`` rows between (at least a register tile of rows per
    thread; one or two chunks each: see chunk_rows_for in the C code)."""
    return max(1, min(c_binding.threads(), -(-batch // ROWS)))


def forward_sequence(
    cell: str,
    x: np.ndarray | EmbeddedTokens,
    state: tuple[np.ndarray, ...],
    weights: tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None],
    batch_sizes: np.ndarray | None = None,
    reverse: bool = False,
    keep_cache: bool = True,
) -> tuple[np.ndarray, tuple[np.ndarray, ...], FusedCache | None]:
    """``<cell>_kernel.forward_sequence`` with the time loop in C; ``cell`` is ``"lstm"``,
    ``"gru"``, ``"rnn_tanh"`` or ``"rnn_relu"``."""
    weight_ih, weight_hh, bias_ih, bias_hh = weights
    num_steps, batch, _ = x.shape
    H = weight_hh.shape[1]
    gate_size = GATES[cell] * H
    bias, hidden_bias = split_biases(cell, bias_ih, bias_hh, H)

    # The input projection x W_ih^T + b: one GEMM over all steps, or for tokens one over
    # the table's rows, which the C loop then looks up itself.
    gates = BUFFERS.take((num_steps, batch, gate_size), np.float32)
    ids = table = None
    if isinstance(x, EmbeddedTokens):
        ids = np.ascontiguousarray(x.ids, dtype=np.int64)
        if ids.size and (ids.min() < 0 or ids.max() >= len(x.table)):
            raise IndexError(f"token ids must lie in [0, {len(x.table)})")
        weight_tokens, weight_context = split_input_weight(x, weight_ih)
        table = np.ascontiguousarray(matmul(x.table, weight_tokens.T), dtype=np.float32)
        if bias is not None:
            table += bias
        if weight_context is not None:
            # A row's context term is the same at every step: one product per row, added
            # to the looked-up token rows here (the C loop reads these gates as given).
            np.take(table, ids, axis=0, out=gates)
            gates += (x.context @ weight_context.T)[None]
            table = None
    else:
        flat = gates.reshape(num_steps * batch, gate_size)
        matmul(x.reshape(num_steps * batch, -1), weight_ih.T, out=flat)
        if bias is not None:
            flat += bias

    hidden = aligned_empty((num_steps + 1, batch, H), np.float32)
    cells = BUFFERS.take(hidden.shape, np.float32) if cell == "lstm" else None
    aux = BUFFERS.take((num_steps, batch, H), np.float32) if cell in ("lstm", "gru") else None
    start = num_steps if reverse else 0
    hidden[start] = state[0]
    if cells is not None:
        cells[start] = state[1]
    sizes = None if batch_sizes is None else np.ascontiguousarray(batch_sizes, dtype=np.int64)
    # named, not temporary: a pointer taken from a temporary array outlives its memory
    weight_slabs = _forward_slabs_of(weight_hh, GATES[cell])
    arguments = Sequence(
        cell=c_binding.CELLS[cell], steps=num_steps, batch=batch, hidden=H, reverse=int(reverse),
        threads=workers(batch), batch_sizes=pointer(sizes),
        gates=pointer(gates), weight=pointer(weight_slabs), hidden_bias=pointer(hidden_bias),
        hidden_states=pointer(hidden), cells=pointer(cells), aux=pointer(aux),
        ids=pointer(None if table is None else ids), table=pointer(table),
    )  # fmt: skip
    LIBRARY.rnnkit_forward(arguments)

    output = outputs_from_states(hidden, reverse, batch_sizes)
    final = (final_state(hidden, reverse).copy(),)
    if cells is not None:
        final += (final_state(cells, reverse).copy(),)
    if not keep_cache:
        BUFFERS.give(*(array for array in (gates, cells, aux) if array is not None))
        return output, final, None
    cache = FusedCache(
        cell, x, ids, gates, hidden, cells, aux, weight_ih, backward_slabs(weight_hh), sizes,
        reverse,
    )  # fmt: skip
    return output, final, cache


def backward_sequence(
    grad_output: np.ndarray,
    grad_state: tuple[np.ndarray, ...],
    cache: FusedCache,
    grads: tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None],
) -> tuple[np.ndarray, tuple[np.ndarray, ...]]:
    """``<cell>_kernel.backward_sequence`` with the time loop in C."""
    num_steps, batch, gate_size = cache.gates.shape
    H = cache.hidden.shape[2]
    threads = workers(batch)
    grad_output = np.ascontiguousarray(grad_output, dtype=np.float32)
    grad_h = aligned_empty((batch, H), np.float32)
    grad_h[...] = grad_state[0]
    grad_c = None
    if cache.cell == "lstm":
        grad_c = aligned_empty((batch, H), np.float32)
        grad_c[...] = grad_state[1]
    grad_gates = BUFFERS.take((num_steps, batch, gate_size), np.float32)
    grad_hidden = BUFFERS.take(grad_gates.shape, np.float32) if cache.cell == "gru" else None
    tokens = cache.ids is not None
    vocab = cache.x.table.shape[0] if tokens else 0
    # For tokens, the C loop sums the gate gradients of every id, one slice of grad_table
    # per chunk of rows (not per thread: which thread takes a chunk varies, and the sum
    # must not), when those slices take no more memory than the gate gradients
    # themselves; otherwise NumPy sums them afterwards.
    chunks = LIBRARY.rnnkit_chunks(batch, threads)
    sum_in_c = tokens and chunks * vocab <= num_steps * batch
    grad_table = np.zeros((chunks, vocab, gate_size), np.float32) if sum_in_c else None
    arguments = Sequence(
        cell=c_binding.CELLS[cache.cell], steps=num_steps, batch=batch, hidden=H,
        reverse=int(cache.reverse), vocab=vocab, threads=threads,
        batch_sizes=pointer(cache.batch_sizes), gates=pointer(cache.gates),
        weight=pointer(cache.weight_slabs), hidden_states=pointer(cache.hidden),
        cells=pointer(cache.cell_states), aux=pointer(cache.aux),
        grad_output=pointer(grad_output), dh=pointer(grad_h), dc=pointer(grad_c),
        grad_gates=pointer(grad_gates), grad_hidden_gates=pointer(grad_hidden),
        ids=pointer(cache.ids if sum_in_c else None), grad_table=pointer(grad_table),
    )  # fmt: skip
    LIBRARY.rnnkit_backward(arguments)

    # The weight gradients, one GEMM each, as in the NumPy kernels (see sequence_ops); for
    # tokens the C loop may have summed the gate gradients per id already (dP there).
    grad_x = accumulate_weight_grads(
        grads, grad_gates, cache.x, grad_gates if grad_hidden is None else grad_hidden,
        previous_states(cache.hidden, cache.reverse), cache.weight_ih,
        grad_table.sum(axis=0) if sum_in_c else None,
    )  # fmt: skip
    spent = (cache.gates, cache.cell_states, cache.aux, grad_gates, grad_hidden)
    BUFFERS.give(*(array for array in spent if array is not None))
    return grad_x, (grad_h,) if grad_c is None else (grad_h, grad_c)
