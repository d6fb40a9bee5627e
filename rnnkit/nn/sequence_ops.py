"""Pieces shared by the three recurrent kernels (``rnn_kernel``, ``lstm_kernel``,
``gru_kernel``).

Every kernel runs one layer in one direction over a time-major batch ``x`` of shape
``(T, B, input_size)``. The work that does not depend on the previous state is done for all
time steps at once, outside the time loop:

    input projection    X W_ih^T + b          one GEMM over T * B rows
    weight gradients    dW_ih = dG^T X        one GEMM over T * B rows
                        dW_hh = dG^T H_prev   one GEMM over T * B rows

so that only the recurrent product ``h_{t-1} W_hh^T`` (and its transpose in backward) is a
per-step matrix multiply.

When the input is ``EmbeddedTokens`` (``x_t = E[ids_t]`` for an embedding table ``E`` of
``V`` rows) the input side costs ``O(V)`` instead of ``O(T * B)`` products; this pays when
``V <= T * B``, as for a character model::

    input projection    P = E W_ih^T + b      one GEMM over V rows, then rows P[ids]
    table gradients     dP[v] = sum of the gate-gradient rows of the tokens with id v
                        dW_ih += dP^T E,   dE = dP W_ih   (returned in place of dx)

States live in a buffer ``S`` of shape ``(T + 1, B, H)``. Step ``t`` reads its previous state
from ``S[t + reverse]`` and writes its new state to ``S[t + 1 - reverse]``: the forward
direction walks the buffer up from ``S[0] = h_0``, the reverse direction walks it down from
``S[T] = h_0``. Either way ``S[reverse : reverse + T]`` is the previous state of every step
in time order, a contiguous slice ready for the ``dW_hh`` GEMM.

Variable lengths follow PyTorch's packed sequences. Rows are sorted by decreasing length,
so at time ``t`` the rows still running are the first ``batch_sizes[t]``; a step touches only
those rows and copies the others' state unchanged, which freezes a finished row at its last
valid state (forward) or holds a not-yet-started row at ``h_0`` (reverse).
"""

from __future__ import annotations

import math
import threading

import numpy as np

from rnnkit.nn.embedding import EmbeddedTokens, add_rows_at
from rnnkit.nn.products import matmul

# Where the big arrays of the time loops start: a cache line (64 bytes). NumPy's large
# arrays start 16 bytes past a page (malloc's header), so every other 32-byte vector of the
# C loops straddles two lines; the AVX2 LSTM forward loop ran 20% slower on such arrays
# (AMD EPYC Zen 4, one thread: 16.6 ms against 13.5 ms a layer at config B).
ALIGNMENT = 64


def aligned_empty(shape: tuple[int, ...], dtype: np.dtype, zeros: bool = False) -> np.ndarray:
    """An uninitialised (or, if ``zeros``, zero-filled) C-ordered array of ``shape`` and
    ``dtype`` whose first element starts on a multiple of ``ALIGNMENT`` bytes.

    Args:
        shape: the array's shape.
        dtype: its element type.
        zeros: fill it with zeros.
    Outputs:
        a view into a slightly larger byte buffer (which it keeps alive).
    """
    dtype = np.dtype(dtype)
    count = math.prod(shape)  # NumPy's prod takes 10 us a call, 40 times as long
    raw = (np.zeros if zeros else np.empty)(count * dtype.itemsize + ALIGNMENT, dtype=np.uint8)
    start = -raw.ctypes.data % ALIGNMENT
    return raw[start : start + count * dtype.itemsize].view(dtype).reshape(shape)


class BufferPool:
    """Big scratch arrays handed from one call to the next, by shape and dtype.

    A training loop makes the same large arrays (gate activations, gate gradients) at every
    step, here each starting on a cache line (``aligned_empty``). Allocated afresh, their
    memory comes back from the OS page by page, and those page faults cost 10-20% of a
    char-LM training step (1 thread, measured at hidden sizes 128 and 512). Kernels
    ``take`` such arrays and ``give`` them back once nothing refers to them any more: never
    an array, or a view of one, that was returned to the caller. At most ``max_bytes`` are
    kept, the least recently used shapes dropped first; ``clear`` hands everything back to
    the allocator.
    """

    def __init__(self, max_bytes: int = 1 << 30) -> None:
        self.max_bytes = max_bytes
        self._free: dict[tuple[tuple[int, ...], np.dtype], list[np.ndarray]] = {}
        self._bytes = 0
        # Layers may run in several threads at once.
        self._lock = threading.Lock()

    def take(self, shape: tuple[int, ...], dtype: np.dtype, zeros: bool = False) -> np.ndarray:
        """An array of ``shape`` and ``dtype``: uninitialised, or zero-filled if ``zeros``."""
        with self._lock:
            free = self._free.get((tuple(shape), np.dtype(dtype)))
            array = free.pop() if free else None
            if array is not None:
                self._bytes -= array.nbytes
        if array is None:
            return aligned_empty(shape, dtype, zeros)
        if zeros:
            array.fill(0)
        return array

    def give(self, *arrays: np.ndarray) -> None:
        """Keep ``arrays`` (each the only user of its memory) for a later ``take``."""
        with self._lock:
            for array in arrays:
                key = (array.shape, array.dtype)
                # Re-inserting moves the shape to the most recently used end.
                free = self._free.pop(key, [])
                free.append(array)
                self._free[key] = free
                self._bytes += array.nbytes
            while self._bytes > self.max_bytes:
                oldest = next(iter(self._free))
                self._bytes -= sum(a.nbytes for a in self._free.pop(oldest))

    def clear(self) -> None:
        with self._lock:
            self._free.clear()
            self._bytes = 0


# Shared by every kernel call in the process.
BUFFERS = BufferPool()


def time_steps(num_steps: int, reverse: bool) -> range:
    """The order in which a direction visits the time steps."""
    return range(num_steps - 1, -1, -1) if reverse else range(num_steps)


def project_inputs(
    x: np.ndarray | EmbeddedTokens, weight_ih: np.ndarray, bias: np.ndarray | None
) -> np.ndarray:
    """``x W_ih^T + bias`` for every time step at once: ``(T, B, I) -> (T, B, G)``."""
    if isinstance(x, EmbeddedTokens):
        weight_tokens, weight_context = split_input_weight(x, weight_ih)
        projected = project_inputs(x.table[:, None], weight_tokens, bias)[x.ids, 0]
        if x.context is not None:
            projected += (x.context @ weight_context.T)[None]
        return projected
    num_steps, batch, input_size = x.shape
    projected = np.matmul(x.reshape(num_steps * batch, input_size), weight_ih.T)
    if bias is not None:
        projected += bias
    return projected.reshape(num_steps, batch, weight_ih.shape[0])


def split_input_weight(
    x: EmbeddedTokens, weight_ih: np.ndarray
) -> tuple[np.ndarray, np.ndarray | None]:
    """``W_ih`` ``(G, E + C)`` as the token part ``(G, E)`` and the context part ``(G, C)``
    (None without a context)."""
    if x.context is None:
        return weight_ih, None
    E = x.table.shape[1]
    return weight_ih[:, :E], weight_ih[:, E:]


def transposed_copy(weight: np.ndarray) -> np.ndarray:
    """``weight.T`` as a C-contiguous array, for the per-step product ``h @ W_hh^T``.

    Made once per sequence. OpenBLAS multiplies the few rows of ``h`` by a contiguous
    ``(H, G)`` matrix 15-35% faster than by the transposed view of ``W_hh`` (measured at
    H = 128-512; see benchmarks/RESULTS.md). The backward product ``dG @ W_hh`` already
    reads ``W_hh`` in its stored layout, which is the fast one there.
    """
    return np.ascontiguousarray(weight.T)


def gate_rows(
    value: np.ndarray, hidden_size: int, order: tuple[int, ...], scales: tuple[float, ...]
) -> np.ndarray:
    """A copy of ``value`` (gate blocks of ``hidden_size`` rows on the first axis) with the
    blocks taken in ``order`` and block ``k`` multiplied by ``scales[k]``."""
    gate_count = len(order)
    blocks = value.reshape(gate_count, hidden_size, *value.shape[1:])[list(order)]
    factors = np.array(scales, dtype=value.dtype).reshape(-1, *[1] * (blocks.ndim - 1))
    return (blocks * factors).reshape(value.shape)


def per_gate_transposed(weight: np.ndarray, gate_count: int) -> np.ndarray:
    """``(G*H, K)`` weight -> ``(G, K, H)``, each gate's block transposed, contiguous.

    ``np.matmul(h, result)`` then computes every gate's recurrent term as one batched
    product written gate-major; OpenBLAS runs these per-gate products 15-25% faster than
    the single ``(B, H) x (H, G*H)`` product (measured at H = 128-512, B = 32-64).
    """
    blocks = weight.reshape(gate_count, -1, weight.shape[1])
    return np.ascontiguousarray(blocks.transpose(0, 2, 1))


def project_inputs_gate_major(
    x: np.ndarray | EmbeddedTokens, weight_ih: np.ndarray, bias: np.ndarray | None, gate_count: int
) -> np.ndarray:
    """``x W_ih^T + bias`` for every step, gate-major: ``(T, B, I) -> (G, T, B, H)``.

    One GEMM per gate over all ``T * B`` rows, each straight into its contiguous block; for
    ``EmbeddedTokens`` one GEMM per gate over the table's rows, then a row lookup.
    The result comes from ``BUFFERS``: give it back when done.
    """
    num_steps, batch, _ = x.shape
    hidden_size = weight_ih.shape[0] // gate_count
    tokens = isinstance(x, EmbeddedTokens)
    rows = x.table if tokens else x.reshape(num_steps * batch, -1)
    weight_context = None
    if tokens:
        weight_ih, weight_context = split_input_weight(x, weight_ih)
    gates = BUFFERS.take((gate_count, num_steps, batch, hidden_size), x.dtype)
    for k in range(gate_count):
        block = slice(k * hidden_size, (k + 1) * hidden_size)
        out = gates[k].reshape(-1, hidden_size)
        projected = np.matmul(rows, weight_ih[block].T, out=None if tokens else out)
        if bias is not None:
            projected += bias[block]
        if tokens:
            np.take(projected, x.ids.reshape(-1), axis=0, out=out)
        if weight_context is not None:
            gates[k] += (x.context @ weight_context[block].T)[None]
    return gates


def carry_inactive_rows(states: np.ndarray, t: int, reverse: bool, active: int) -> None:
    """Copy the state of the rows not running at step ``t`` through unchanged."""
    if active < states.shape[1]:
        states[t + 1 - reverse, active:] = states[t + reverse, active:]


def outputs_from_states(
    states: np.ndarray, reverse: bool, batch_sizes: np.ndarray | None
) -> np.ndarray:
    """The output sequence ``(T, B, H)``: each step's new state, zero past a row's length."""
    num_steps = states.shape[0] - 1
    new_states = states[1:] if not reverse else states[:num_steps]
    if batch_sizes is None:
        return new_states
    output = np.zeros_like(new_states)
    for t in range(num_steps):
        active = batch_sizes[t]
        output[t, :active] = new_states[t, :active]
    return output


def final_state(states: np.ndarray, reverse: bool) -> np.ndarray:
    return states[0] if reverse else states[-1]


def previous_states(states: np.ndarray, reverse: bool) -> np.ndarray:
    """The state each step read, in time order: ``(T, B, H)``."""
    num_steps = states.shape[0] - 1
    return states[int(reverse) : int(reverse) + num_steps]


def accumulate_weight_grads(
    grads: tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None],
    grad_gates_input: np.ndarray,
    x: np.ndarray | EmbeddedTokens,
    grad_gates_hidden: np.ndarray,
    h_previous: np.ndarray,
    weight_ih: np.ndarray,
    grad_projection: np.ndarray | None = None,
) -> np.ndarray:
    """Add ``dW_ih``, ``dW_hh``, ``db_ih`` and ``db_hh`` into ``grads`` with one GEMM each and
    return the input gradient ``dx = dG W_ih`` ``(T, B, I)``, or for ``EmbeddedTokens`` the
    table gradient ``dE`` ``(V, I)`` (see the module docstring).

    ``grad_gates_input`` is the gradient of the pre-activations that ``W_ih x + b_ih`` feeds,
    ``grad_gates_hidden`` of those that ``W_hh h + b_hh`` feeds; they differ only for the
    GRU's candidate gate, where ``r`` multiplies the hidden term. For ``EmbeddedTokens``,
    ``grad_projection`` is ``dP`` when the caller has summed it already (the LSTM's C loop).
    With a ``context`` ``Q`` the gate gradients summed over time, ``dR = sum_t dG_t``
    ``(B, G)``, give ``dW_ih[:, E:] += dR^T Q`` and ``dQ = dR W_ih[:, E:]``: the return value
    is then ``(dE, dQ)``.
    """
    grad_weight_ih, grad_weight_hh, grad_bias_ih, grad_bias_hh = grads
    gate_size = grad_gates_input.shape[-1]
    rows_input = grad_gates_input.reshape(-1, gate_size)
    rows_hidden = grad_gates_hidden.reshape(-1, gate_size)
    grad_input: np.ndarray | tuple[np.ndarray, np.ndarray]
    if isinstance(x, EmbeddedTokens):
        if grad_projection is None:
            grad_projection = np.zeros((x.table.shape[0], gate_size), dtype=rows_input.dtype)
            add_rows_at(grad_projection, x.ids.reshape(-1), rows_input)
        weight_tokens, weight_context = split_input_weight(x, weight_ih)
        E = x.table.shape[1]
        matmul(grad_projection.T, x.table, out=grad_weight_ih[:, :E], accumulate=True)
        grad_input = matmul(grad_projection, weight_tokens)
        if weight_context is not None:
            grad_rows = grad_gates_input.sum(axis=0)  # (B, G)
            grad_weight_ih[:, E:] += grad_rows.T @ x.context
            grad_input = (grad_input, grad_rows @ weight_context)
    else:
        x_rows = x.reshape(rows_input.shape[0], -1)
        matmul(rows_input.T, x_rows, out=grad_weight_ih, accumulate=True)
        grad_input = matmul(rows_input, weight_ih).reshape(*x.shape[:2], -1)
    h_rows = h_previous.reshape(rows_hidden.shape[0], -1)
    matmul(rows_hidden.T, h_rows, out=grad_weight_hh, accumulate=True)
    if grad_bias_ih is not None:
        bias_input = rows_input.sum(axis=0)
        grad_bias_ih += bias_input
        # The LSTM and the RNN pass one array for both sides: sum it once.
        same = grad_gates_hidden is grad_gates_input
        grad_bias_hh += bias_input if same else rows_hidden.sum(axis=0)
    return grad_input


def active_rows(batch_sizes: np.ndarray | None, t: int, batch: int) -> int:
    """How many (sorted) rows are still running at time ``t``."""
    return batch if batch_sizes is None else int(batch_sizes[t])
