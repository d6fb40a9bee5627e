"""Batch-1 steps of a one-direction stack (LSTM, GRU or RNN) in one C call per step.

A batch of one row cannot be split between threads by rows, and at the sizes of a
character model a step is bound by reading the weights; so the C stepper splits each
layer's unit blocks between threads, each reading only its share of the weights (which
then stays in its core's cache), the threads meeting at a barrier between layers (see
``stack_share`` in ``_loops.h``). Its worker threads live in one pool per process.
"""

from __future__ import annotations

import ctypes
import os
import threading

import numpy as np

from rnnkit.nn import c_binding
from rnnkit.nn.c_binding import LIBRARY, Stack, pointer
from rnnkit.nn.fused_loops import GATES, UNITS, forward_slabs


class _StepperThreads:
    """The C stepper's worker threads, one set per process.

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
                LIBRARY.rnnkit_stepper_pool_free(self._pool)
            self._pool = LIBRARY.rnnkit_stepper_pool_new(count)
            if not self._pool:
                raise MemoryError("fused_stepper: could not start the stepper's threads")
            self._count = count
        return self._pool

    def step_alone(self, seconds: float | None) -> int:
        """Steps run on the caller's thread alone for the next SECONDS, as they do for a
        while after a stall (``_rnnkit.c``); 0 ends that, None leaves it as it is. Returns
        how many steps have run alone so far (0 before the pool exists)."""
        with self.lock:
            if self._pool is None:
                return 0
            nanoseconds = -1 if seconds is None else int(seconds * 1e9)
            return LIBRARY.rnnkit_stepper_pool_step_alone(self._pool, nanoseconds)

    def forget(self) -> None:
        """In a forked child: the parent's workers did not come along, so start anew."""
        self.lock = threading.Lock()
        self._pool = None
        self._count = 0


_STEPPER_THREADS = _StepperThreads()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_STEPPER_THREADS.forget)


class FusedStepper:
    """Steps of a stack of ``cell`` layers (``"lstm"``, ``"gru"``, ``"rnn_tanh"``,
    ``"rnn_relu"``) for one row, from per-layer PyTorch-layout weights.

    ``input_biases[l]`` is what joins layer ``l``'s input side (``b_ih + b_hh``; for the GRU
    ``b_ih + [b_hr, b_hz, 0]``), ``hidden_biases[l]`` the GRU's ``b_hn``. Then ``bind`` to
    the state and buffers; each ``step`` (layer 0's input side given), ``step_input`` (the
    input vector given) or ``step_token`` (a row of the bound table) advances the state in
    place.
    """

    def __init__(
        self,
        cell: str,
        weights_ih: list[np.ndarray],
        weights_hh: list[np.ndarray],
        input_biases: list[np.ndarray],
        hidden_biases: list[np.ndarray] | None = None,
    ) -> None:
        self.cell = cell
        gates = GATES[cell]
        H = weights_hh[0].shape[1]
        self.hidden_size = H
        self.gate_size = gates * H
        self.layers = len(weights_hh)
        self.weights = np.stack([forward_slabs(w, gates) for w in weights_hh])
        self.input_size = weights_ih[0].shape[1]
        self.first_weights = forward_slabs(weights_ih[0], gates)
        # W_ih of layers >= 1 (a one-layer stack has none: a dummy keeps the pointer valid)
        upper = [forward_slabs(w, gates) for w in weights_ih[1:]]
        self.input_weights = np.stack(upper) if upper else np.zeros(1, np.float32)
        self.biases = np.ascontiguousarray(np.stack(input_biases), dtype=np.float32)
        self.hidden_biases = None
        if hidden_biases is not None:
            self.hidden_biases = np.ascontiguousarray(np.stack(hidden_biases), np.float32)
        self.scratch = np.empty(2 * self.gate_size + H, dtype=np.float32)
        self.threads = min(c_binding.threads(), H // UNITS)

    def input_table(self, embeddings: np.ndarray) -> np.ndarray:
        """Layer 0's ``W_ih x + b`` for every row ``x`` of ``embeddings`` ``(V, I)``: ``(V, G H)``
        for ``bind``. Computed in C, without waking NumPy's BLAS threads."""
        embeddings = np.ascontiguousarray(embeddings, dtype=np.float32)
        rows, input_size = embeddings.shape
        if input_size != self.input_size:
            raise ValueError(
                f"embeddings: expected rows of the layer's input size {self.input_size}, "
                f"got {input_size}"
            )
        table = np.empty((rows, self.gate_size), dtype=np.float32)
        LIBRARY.rnnkit_project_rows(
            c_binding.CELLS[self.cell], rows, input_size, self.hidden_size,
            embeddings.ctypes.data, self.first_weights.ctypes.data, self.biases[0].ctypes.data,
            table.ctypes.data,
        )  # fmt: skip
        return table

    def bind(
        self,
        h: np.ndarray,
        c: np.ndarray | None,
        table: np.ndarray | None = None,
        head: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
    ) -> None:
        """Fix the arrays the steps work on (their addresses are taken once: at batch 1 a
        step is short enough for that to matter). ``h`` and ``c`` ``(layers, H)``: the state,
        updated in place (``c`` for the LSTM only). ``table`` ``(V, G H)``: layer 0's
        ``W_ih x + b`` per token, for ``step_token``. ``head = (weight, bias, logits)``: each
        step also computes ``logits = weight h_top + bias`` (``(V, H)``, ``(V,)``, ``(V,)``),
        a language model's decoder, on the same threads. All float32 and C-contiguous,
        kept alive by the caller; checked here, since the C code trusts them."""
        H = self.hidden_size
        check_buffer("h", h, (self.layers * H,), (self.layers, H))
        if self.cell == "lstm":
            check_buffer("c", c, (self.layers * H,), (self.layers, H))
        self._table = None
        if table is not None:
            check_buffer("table", table, (len(table), self.gate_size))
            self._table = (table.ctypes.data, table.strides[0], len(table))
        stack = Stack(
            cell=c_binding.CELLS[self.cell], active=self.threads, layers=self.layers, hidden=H,
            input_size=self.input_size, first_weights=pointer(self.first_weights),
            biases=pointer(self.biases), hidden_biases=pointer(self.hidden_biases),
            input_weights=pointer(self.input_weights), weights=pointer(self.weights),
            h=pointer(h), c=pointer(c if self.cell == "lstm" else None),
            scratch=pointer(self.scratch),
        )  # fmt: skip
        if head is not None:
            weight, bias, logits = head
            vocab = len(weight)
            check_buffer("decoder weight", weight, (vocab, H))
            check_buffer("decoder bias", bias, (vocab,))
            check_buffer("logits", logits, (vocab,))
            stack.vocab = vocab
            stack.head_weight, stack.head_bias = pointer(weight), pointer(bias)
            stack.logits = pointer(logits)
        self._keep = (h, c, head)  # what the struct points into
        self._stack = stack
        self._stack_ref = ctypes.byref(stack)

    def step(self, first_input: np.ndarray) -> None:
        """Advance every layer one step from layer 0's ``W_ih x + b`` (float32, ``(G H,)``)."""
        check_buffer("first_input", first_input, (self.gate_size,))
        self._run(first_input.ctypes.data, None)

    def step_input(self, x: np.ndarray) -> None:
        """Advance every layer one step from the input ``x`` (float32, ``(input_size,)``):
        layer 0's ``W_ih x + b`` is computed in the same C call."""
        check_buffer("x", x, (self.input_size,))
        self._run(None, x.ctypes.data)

    def bind_input(self, x: np.ndarray) -> None:
        """Fix the input buffer ``x`` (float32, ``(input_size,)``) that ``step_bound_input``
        reads, so that a step takes no address (``single_step``: the caller copies each
        input into it)."""
        check_buffer("x", x, (self.input_size,))
        self._input = (x, x.ctypes.data)  # the array kept alive with its address

    def step_bound_input(self) -> None:
        """``step_input`` of the buffer given to ``bind_input``, as it holds now."""
        self._run(None, self._input[1])

    def step_token(self, token: int) -> None:
        """Advance every layer one step from row ``token`` of the bound table."""
        address, stride, rows = self._table
        if not 0 <= token < rows:
            raise IndexError(f"token {token} is outside the table's {rows} rows")
        self._run(address + token * stride, None)

    def _run(self, first_input: int | None, x: int | None) -> None:
        self._stack.first_input = first_input
        self._stack.x = x
        if self.threads == 1:  # the caller's thread alone: no pool, no lock
            LIBRARY.rnnkit_stack_step(None, self._stack_ref)
            return
        with _STEPPER_THREADS.lock:
            LIBRARY.rnnkit_stack_step(_STEPPER_THREADS.pool(self.threads), self._stack_ref)


def check_buffer(name: str, array: np.ndarray | None, *shapes: tuple[int, ...]) -> None:
    """Raise ValueError unless ARRAY is float32, C-contiguous and of one of SHAPES."""
    if (
        not isinstance(array, np.ndarray)
        or array.dtype != np.float32
        or not array.flags.c_contiguous
        or array.shape not in shapes
    ):
        got = f"{array.dtype} {array.shape}" if isinstance(array, np.ndarray) else repr(array)
        raise ValueError(
            f"{name}: expected a C-contiguous float32 array of shape "
            f"{' or '.join(map(str, shapes))}, got {got}"
        )
