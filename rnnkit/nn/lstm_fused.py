"""The LSTM's time loops in C, an optional accelerator for float32.

``lstm_kernel`` computes one layer-direction with NumPy calls: a recurrent GEMM per step
from OpenBLAS and a dozen elementwise calls around it. At the sizes people train on a
laptop (hidden 128-512, batch 32-64) those calls cost more than the arithmetic, and
OpenBLAS reaches half of the machine's speed on products of so few rows. ``_lstm_fused.c``
does the same arithmetic as one C loop per sequence: the recurrent product in register
tiles, the gate nonlinearities and the cell update applied to each tile while it is in
L1, and the batch rows shared between threads that never wait for each other (its header
explains the layout). Everything that is not per step stays in NumPy and in this file: the
input projection and the weight gradients are one GEMM each over all steps, exactly as in
``lstm_kernel``.

The C loops serve float32 layers whose hidden size is a multiple of 16 on a CPU with
AVX-512; anything else, float64 in particular (the precision of the oracle tests), runs in
``lstm_kernel``. ``enabled()`` says whether the extension was built and runs here;
``use_accelerator(False)`` or the environment variable ``RNNKIT_ACCELERATOR=0`` turns it
off. The C loops use as many threads as the process has cores, or ``RNNKIT_NUM_THREADS``,
or what ``set_threads`` says.

Gate values keep PyTorch's layout (gate ``q`` of unit ``u`` at column ``q H + u``), so the
input projection and the weight gradients are the same GEMMs as in ``lstm_kernel``. Only
the recurrent weight is rearranged, once per call, into the contiguous per-block "slabs"
the C tiles read (``forward_slabs``, ``backward_slabs``).
"""

from __future__ import annotations

import ctypes
import os
import threading
import warnings
from dataclasses import dataclass

import numpy as np

from rnnkit.nn.embedding import EmbeddedTokens
from rnnkit.nn.sequence_ops import (
    BUFFERS,
    accumulate_weight_grads,
    final_state,
    outputs_from_states,
    previous_states,
)

UNITS = 16  # hidden units per block in the C code (one AVX-512 vector of float32)

_float_p = ctypes.POINTER(ctypes.c_float)
_int64_p = ctypes.POINTER(ctypes.c_int64)


# The version of the C entry points' arguments and data layout this file speaks
# (rnnkit_lstm_abi in _lstm_fused.c).
ABI = 3


def _load() -> ctypes.CDLL | None:
    """The compiled extension, or None where it was not built, cannot run on this CPU, or
    is a stale build from other sources (then with a warning: rebuild with pip install)."""
    try:
        from rnnkit.nn import _lstm_fused  # noqa: PLC0415
    except ImportError:  # not built here
        return None
    try:
        library = ctypes.CDLL(_lstm_fused.__file__)
        abi = library.rnnkit_lstm_abi()
    except (OSError, AttributeError):
        abi = None
    if abi != ABI:
        warnings.warn(
            "rnnkit: the compiled LSTM loops do not match this version of rnnkit; running "
            "them in NumPy (reinstall rnnkit to rebuild them)",
            RuntimeWarning,
            stacklevel=2,
        )
        return None
    if not library.rnnkit_lstm_available():
        return None
    int_, ptr = ctypes.c_int, ctypes.c_void_p
    library.rnnkit_lstm_forward.argtypes = [int_] * 3 + [ptr] * 6 + [int_] + [ptr] * 2 + [int_]
    library.rnnkit_lstm_backward.argtypes = [int_] * 3 + [ptr] * 9 + [int_] + [ptr] * 2 + [int_] * 2
    library.rnnkit_lstm_stack_step.argtypes = [ptr] + [int_] * 3 + [ptr] * 7 + [int_] + [ptr] * 3
    library.rnnkit_project_rows.argtypes = [int_] * 3 + [ptr] * 4
    library.rnnkit_lstm_chunks.argtypes = [int_, int_]
    library.rnnkit_stepper_pool_new.argtypes = [int_]
    library.rnnkit_stepper_pool_new.restype = ptr
    library.rnnkit_stepper_pool_free.argtypes = [ptr]
    for function in (
        "rnnkit_lstm_forward", "rnnkit_lstm_backward", "rnnkit_lstm_stack_step",
        "rnnkit_stepper_pool_free", "rnnkit_project_rows",
    ):  # fmt: skip
        getattr(library, function).restype = None
    return library


_LIBRARY = _load()
_enabled = _LIBRARY is not None and os.environ.get("RNNKIT_ACCELERATOR", "1") != "0"


def enabled() -> bool:
    """Whether float32 LSTMs run in the C loops."""
    return _enabled


def use_accelerator(on: bool) -> bool:
    """Turn the C loops on or off (on only takes effect where they are built); returns the
    previous setting."""
    global _enabled
    previous = _enabled
    _enabled = bool(on) and _LIBRARY is not None
    return previous


def applies(dtype: np.dtype, hidden_size: int) -> bool:
    """Whether a layer of this dtype and hidden size runs in the C loops."""
    return _enabled and np.dtype(dtype) == np.float32 and hidden_size % UNITS == 0


def _default_threads() -> int:
    """The cores this process may use, or fewer if ``RNNKIT_NUM_THREADS`` says so."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    wanted = os.environ.get("RNNKIT_NUM_THREADS", "")
    return max(1, min(cores, int(wanted))) if wanted.isdigit() else cores


_threads = _default_threads()


def threads() -> int:
    """How many threads a C loop may split its batch rows over."""
    return _threads


def set_threads(count: int) -> int:
    """Use at most ``count`` threads in the C loops; returns the previous count."""
    global _threads
    previous, _threads = _threads, max(1, int(count))
    return previous


def forward_slabs(weight: np.ndarray) -> np.ndarray:
    """``(4H, K)`` weight, PyTorch's gate rows -> ``(H / 16, K, 64)``: for unit block ``b``,
    a ``(K, 64)`` slab whose column ``16 q + u`` is gate ``q`` of unit ``16 b + u``, i.e.
    ``slab[b, k, 16 q + u] = weight[q H + 16 b + u, k]``: the transposed rows of the
    block's four gates, side by side (how the forward tiles read ``W^T``)."""
    gate_size, width = weight.shape
    blocks = gate_size // (4 * UNITS)
    slabs = weight.reshape(4, blocks, UNITS, width).transpose(1, 3, 0, 2)
    return np.ascontiguousarray(slabs, dtype=np.float32).reshape(blocks, width, 4 * UNITS)


def backward_slabs(weight: np.ndarray) -> np.ndarray:
    """``(4H, H)`` weight -> ``(H / 16, 4H, 16)``: for each unit block, its 16 columns as
    one contiguous slab, for ``dh = da W``."""
    gate_size, hidden_size = weight.shape
    slabs = weight.reshape(gate_size, hidden_size // UNITS, UNITS).transpose(1, 0, 2)
    return np.ascontiguousarray(slabs, dtype=np.float32)


def _address(array: np.ndarray | None) -> int | None:
    return None if array is None else array.ctypes.data


@dataclass
class FusedLSTMCache:
    """What backward needs; backward gives the buffers back to the pool."""

    x: np.ndarray | EmbeddedTokens
    ids: np.ndarray | None  # x.ids as int64, for tokens
    gates: np.ndarray  # (T, B, 4H) activations i, f, g, o
    hidden: np.ndarray  # (T + 1, B, H) state buffers, as in sequence_ops
    cell: np.ndarray
    tanh_cell: np.ndarray  # (T, B, H)
    weight_ih: np.ndarray  # (4H, I)
    weight_slabs: np.ndarray  # backward_slabs of W_hh
    batch_sizes: np.ndarray | None
    reverse: bool


ROWS = 6  # batch rows per register tile in the C code


def _workers(batch: int) -> int:
    """Threads a call shares ``batch`` rows between (in chunks of whole tiles, about two
    per thread: see split_rows in the C code)."""
    return max(1, min(threads(), -(-batch // ROWS)))


def forward_sequence(
    x: np.ndarray | EmbeddedTokens,
    state: tuple[np.ndarray, np.ndarray],
    weights: tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None],
    batch_sizes: np.ndarray | None = None,
    reverse: bool = False,
    keep_cache: bool = True,
) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray], FusedLSTMCache | None]:
    """``lstm_kernel.forward_sequence``, with the time loop in C."""
    weight_ih, weight_hh, bias_ih, bias_hh = weights
    num_steps, batch, _ = x.shape
    H = weight_hh.shape[1]
    bias = None if bias_ih is None else bias_ih + bias_hh

    # The input projection x W_ih^T + b: one GEMM over all steps, or for tokens one over
    # the table's rows, which the C loop then looks up itself.
    gates = BUFFERS.take((num_steps, batch, 4 * H), np.float32)
    ids = table = None
    if isinstance(x, EmbeddedTokens):
        ids = np.ascontiguousarray(x.ids, dtype=np.int64)
        if ids.size and (ids.min() < 0 or ids.max() >= len(x.table)):
            raise IndexError(f"token ids must lie in [0, {len(x.table)})")
        table = x.table @ weight_ih.T
        if bias is not None:
            table += bias
    else:
        flat = gates.reshape(num_steps * batch, 4 * H)
        np.matmul(x.reshape(num_steps * batch, -1), weight_ih.T, out=flat)
        if bias is not None:
            flat += bias

    hidden = np.empty((num_steps + 1, batch, H), dtype=np.float32)
    cell = BUFFERS.take(hidden.shape, np.float32)
    tanh_cell = BUFFERS.take((num_steps, batch, H), np.float32)
    start = num_steps if reverse else 0
    hidden[start] = state[0]
    cell[start] = state[1]
    sizes = None if batch_sizes is None else np.ascontiguousarray(batch_sizes, dtype=np.int64)
    # named, not temporary: a pointer taken from a temporary array outlives its memory
    weight_slabs = forward_slabs(weight_hh)
    _LIBRARY.rnnkit_lstm_forward(
        num_steps, batch, H, gates.ctypes.data, weight_slabs.ctypes.data,
        hidden.ctypes.data, cell.ctypes.data, tanh_cell.ctypes.data, _address(sizes),
        int(reverse), _address(ids), _address(table), _workers(batch),
    )  # fmt: skip

    output = outputs_from_states(hidden, reverse, batch_sizes)
    final = (final_state(hidden, reverse).copy(), final_state(cell, reverse).copy())
    cache = None
    if keep_cache:
        cache = FusedLSTMCache(
            x, ids, gates, hidden, cell, tanh_cell, weight_ih, backward_slabs(weight_hh),
            sizes, reverse,
        )  # fmt: skip
    else:
        BUFFERS.give(gates, cell, tanh_cell)
    return output, final, cache


def backward_sequence(
    grad_output: np.ndarray,
    grad_state: tuple[np.ndarray, np.ndarray],
    cache: FusedLSTMCache,
    grads: tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None],
) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray]]:
    """``lstm_kernel.backward_sequence``, with the time loop in C."""
    num_steps, batch, gate_size = cache.gates.shape
    H = gate_size // 4
    workers = _workers(batch)
    grad_output = np.ascontiguousarray(grad_output, dtype=np.float32)
    grad_h = np.array(grad_state[0], dtype=np.float32, copy=True, order="C")
    grad_c = np.array(grad_state[1], dtype=np.float32, copy=True, order="C")
    grad_gates = BUFFERS.take((num_steps, batch, gate_size), np.float32)
    tokens = cache.ids is not None
    vocab = cache.x.table.shape[0] if tokens else 0
    # For tokens, the C loop sums the gate gradients of every id, one slice of grad_table
    # per chunk of rows (not per thread: which thread takes a chunk varies, and the sum
    # must not), when those slices take no more memory than the gate gradients
    # themselves; otherwise NumPy sums them afterwards.
    chunks = _LIBRARY.rnnkit_lstm_chunks(batch, workers)
    sum_in_c = tokens and chunks * vocab <= num_steps * batch
    grad_table = np.zeros((chunks, vocab, gate_size), np.float32) if sum_in_c else None
    _LIBRARY.rnnkit_lstm_backward(
        num_steps, batch, H, cache.gates.ctypes.data, cache.cell.ctypes.data,
        cache.tanh_cell.ctypes.data, grad_output.ctypes.data, cache.weight_slabs.ctypes.data,
        grad_h.ctypes.data, grad_c.ctypes.data, grad_gates.ctypes.data,
        _address(cache.batch_sizes), int(cache.reverse), _address(cache.ids if sum_in_c else None),
        _address(grad_table), vocab, workers,
    )  # fmt: skip

    # The weight gradients, one GEMM each, as in lstm_kernel (see sequence_ops); for tokens
    # the C loop may have summed the gate gradients per id already (dP of sequence_ops).
    grad_x = accumulate_weight_grads(
        grads, grad_gates, cache.x, grad_gates, previous_states(cache.hidden, cache.reverse),
        cache.weight_ih, grad_table.sum(axis=0) if sum_in_c else None,
    )  # fmt: skip
    BUFFERS.give(cache.gates, cache.cell, cache.tanh_cell, grad_gates)
    return grad_x, (grad_h, grad_c)


class _StepperThreads:
    """The C stepper's worker threads, one set per process (see ``_lstm_fused.c``).

    Kept from one stepper to the next: a worker that has run on a core for a while keeps
    its share of the weights in that core's cache, and a new one would first have to be
    placed on an idle core. Idle workers sleep. One step runs at a time (``lock``).
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self._pool: int | None = None
        self._count = 0

    def pool(self, count: int) -> int:
        """A pool of at least ``count`` threads (the caller among them); call under
        ``lock``. It only grows: steppers of different sizes share it, each step saying
        how many of its threads take a share."""
        if self._pool is None or self._count < count:
            if self._pool is not None:
                _LIBRARY.rnnkit_stepper_pool_free(self._pool)
            self._pool = _LIBRARY.rnnkit_stepper_pool_new(count)
            if not self._pool:
                raise MemoryError("lstm_fused: could not start the stepper's threads")
            self._count = count
        return self._pool

    def forget(self) -> None:
        """In a forked child: the parent's workers did not come along, so start anew."""
        self.lock = threading.Lock()
        self._pool = None
        self._count = 0


_STEPPER_THREADS = _StepperThreads()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_STEPPER_THREADS.forget)


class FusedLSTMStepper:
    """Batch-1 steps of a one-direction LSTM stack in one C call per step (sampling).

    Built from the per-layer PyTorch-layout weights, then ``bind`` to the state and
    buffers; each ``step`` or ``step_token`` advances the state in place.
    """

    def __init__(
        self,
        weights_ih: list[np.ndarray],
        weights_hh: list[np.ndarray],
        biases: list[np.ndarray],
    ) -> None:
        H = weights_hh[0].shape[1]
        self.hidden_size = H
        self.layers = len(weights_hh)

        self.weights = np.stack([forward_slabs(w) for w in weights_hh])
        self.first_weights = forward_slabs(weights_ih[0])
        # layer 0's input side comes from the caller; a dummy keeps the pointer valid
        upper = [forward_slabs(w) for w in weights_ih[1:]]
        self.input_weights = np.stack(upper) if upper else np.zeros(1, np.float32)
        self.biases = np.stack(biases).astype(np.float32)
        self.scratch = np.empty(5 * H, dtype=np.float32)
        self.threads = min(threads(), H // UNITS)

    def input_table(self, embeddings: np.ndarray) -> np.ndarray:
        """Layer 0's ``W_ih x + b`` for every row ``x`` of ``embeddings`` ``(V, I)``: ``(V, 4H)``
        for ``bind``. Computed in C, without waking NumPy's BLAS threads."""
        embeddings = np.ascontiguousarray(embeddings, dtype=np.float32)
        rows, input_size = embeddings.shape
        if input_size != self.first_weights.shape[1]:
            raise ValueError(
                f"input_table: expected rows of the layer's input size "
                f"{self.first_weights.shape[1]}, got {input_size}"
            )
        table = np.empty((rows, 4 * self.hidden_size), dtype=np.float32)
        _LIBRARY.rnnkit_project_rows(
            rows, input_size, self.hidden_size, embeddings.ctypes.data,
            self.first_weights.ctypes.data, self.biases[0].ctypes.data, table.ctypes.data,
        )  # fmt: skip
        return table

    def bind(
        self,
        h: np.ndarray,
        c: np.ndarray,
        table: np.ndarray | None = None,
        head: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
    ) -> None:
        """Fix the arrays the steps work on (their addresses are taken once: at batch 1 a
        step is short enough for that to matter). ``h`` and ``c`` ``(layers, H)``: the state,
        updated in place. ``table`` ``(V, 4H)``: layer 0's ``W_ih x + b`` per token,
        for ``step_token``. ``head = (weight, bias, logits)``: each step also computes
        ``logits = weight h_top + bias`` (``(V, H)``, ``(V,)``, ``(V,)``), a language model's
        decoder, on the same threads and without waking NumPy's BLAS pool for a tiny
        product. All float32 and C-contiguous, kept alive by the caller; checked here, since
        the C code trusts them."""
        H = self.hidden_size
        _check_buffer("h", h, (self.layers * H,), (self.layers, H))
        _check_buffer("c", c, (self.layers * H,), (self.layers, H))
        self._state = (h.ctypes.data, c.ctypes.data, self.scratch.ctypes.data)
        self._table = None
        if table is not None:
            _check_buffer("table", table, (len(table), 4 * H))
            self._table = (table.ctypes.data, table.strides[0], len(table))
        self._head = (0, None, None, None)
        if head is not None:
            weight, bias, logits = head
            vocab = len(weight)
            _check_buffer("decoder weight", weight, (vocab, H))
            _check_buffer("decoder bias", bias, (vocab,))
            _check_buffer("logits", logits, (vocab,))
            self._head = (vocab, weight.ctypes.data, bias.ctypes.data, logits.ctypes.data)
        self._layers = (
            self.layers, self.hidden_size, self.biases.ctypes.data,
            self.input_weights.ctypes.data, self.weights.ctypes.data,
        )  # fmt: skip

    def step(self, first_input: np.ndarray) -> None:
        """Advance every layer one step from layer 0's ``W_ih x + b`` (float32, ``(4H,)``)."""
        _check_buffer("first input", first_input, (4 * self.hidden_size,))
        self._run(first_input.ctypes.data)

    def step_token(self, token: int) -> None:
        """Advance every layer one step from row ``token`` of the bound table."""
        address, stride, rows = self._table
        if not 0 <= token < rows:
            raise IndexError(f"token {token} is outside the table's {rows} rows")
        self._run(address + token * stride)

    def _run(self, first_input: int) -> None:
        layers, hidden, biases, input_weights, weights = self._layers
        with _STEPPER_THREADS.lock:
            _LIBRARY.rnnkit_lstm_stack_step(
                _STEPPER_THREADS.pool(self.threads), self.threads, layers, hidden, first_input,
                biases, input_weights, weights, *self._state, *self._head,
            )  # fmt: skip


def _check_buffer(name: str, array: np.ndarray, *shapes: tuple[int, ...]) -> None:
    """Raise ValueError unless ARRAY is float32, C-contiguous and of one of SHAPES."""
    if array.dtype != np.float32 or not array.flags.c_contiguous or array.shape not in shapes:
        raise ValueError(
            f"{name}: expected a C-contiguous float32 array of shape "
            f"{' or '.join(map(str, shapes))}, got {array.dtype} {array.shape}"
        )
