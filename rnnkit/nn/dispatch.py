"""Where a recurrent layer's time loops run: the NumPy kernels or the C loops.

``lstm_kernel``, ``gru_kernel`` and ``rnn_kernel`` are the NumPy reference kernels, exact
in float64 (the precision of the oracle tests). ``fused_loops`` runs the same equations in
C for float32 layers whose hidden size is a multiple of 16, where the library was built
and runs on this CPU (``c_binding``). This module is the one place that chooses: the
layers hold a ``CellKernels`` (``LSTM``, ``GRU``, ``RNN``) as their kernel, with the
interface of the kernel modules.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import numpy as np

from rnnkit.nn import c_binding, fused_loops, gru_kernel, lstm_kernel, rnn_kernel
from rnnkit.nn.embedding import EmbeddedTokens

UNITS = 16  # the C loops' block of hidden units


def c_serves(dtype: Any) -> bool:
    """Whether the C loops serve layers of this dtype here (built, and float32)."""
    return c_binding.kernel() != c_binding.NUMPY and np.dtype(dtype) == np.float32


def runs_in_c(dtype: Any, hidden_size: int) -> bool:
    """Whether a layer of this dtype and hidden size runs in the C loops."""
    return c_serves(dtype) and hidden_size % UNITS == 0


def engine(dtype: Any, hidden_size: int) -> str:
    """Where such a layer's loops run, for people: ``"NumPy"`` or ``"C (avx2), 2 threads"``;
    when the hidden size alone keeps a float32 layer from the C loops, ``"NumPy"`` says so,
    as a hidden size of 100 against 96 or 112 costs several times the training time."""
    if not runs_in_c(dtype, hidden_size):
        if c_serves(dtype):
            return f"NumPy: the C loops take hidden sizes that are multiples of {UNITS}"
        return "NumPy"
    threads = c_binding.threads()
    return f"C ({c_binding.kernel()}), {threads} thread{'s' if threads > 1 else ''}"


class CellKernels:
    """A cell's ``forward_sequence`` and ``backward_sequence``, each sent to C or NumPy."""

    def __init__(self, cell: str, numpy_kernel: ModuleType) -> None:
        self.cell = cell
        self.numpy_kernel = numpy_kernel
        self.GATE_COUNT = numpy_kernel.GATE_COUNT
        self.STATE_COUNT = numpy_kernel.STATE_COUNT

    def forward_sequence(
        self,
        x: np.ndarray | EmbeddedTokens,
        state: tuple[np.ndarray, ...],
        weights: tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None],
        batch_sizes: np.ndarray | None = None,
        reverse: bool = False,
        keep_cache: bool = True,
        nonlinearity: str = "tanh",
    ) -> tuple[np.ndarray, tuple[np.ndarray, ...], Any]:
        """The kernel modules' ``forward_sequence`` (``nonlinearity``: the RNN's)."""
        weight_hh = weights[1]
        if runs_in_c(x.dtype, weight_hh.shape[1]) and weight_hh.dtype == np.float32:
            cell = f"rnn_{nonlinearity}" if self.cell == "rnn" else self.cell
            return fused_loops.forward_sequence(
                cell, x, state, weights, batch_sizes, reverse, keep_cache
            )
        arguments = (x, state, weights, batch_sizes, reverse, keep_cache)
        if self.cell == "rnn":
            return rnn_kernel.forward_sequence(*arguments, nonlinearity=nonlinearity)
        return self.numpy_kernel.forward_sequence(*arguments)

    def backward_sequence(
        self,
        grad_output: np.ndarray,
        grad_state: tuple[np.ndarray, ...],
        cache: Any,
        grads: tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None],
    ) -> tuple[np.ndarray, tuple[np.ndarray, ...]]:
        """The kernel modules' ``backward_sequence``, in C if forward ran there."""
        if isinstance(cache, fused_loops.FusedCache):
            return fused_loops.backward_sequence(grad_output, grad_state, cache, grads)
        return self.numpy_kernel.backward_sequence(grad_output, grad_state, cache, grads)


LSTM = CellKernels("lstm", lstm_kernel)
GRU = CellKernels("gru", gru_kernel)
RNN = CellKernels("rnn", rnn_kernel)
