"""The float32 LSTM's C loops under their first name, kept for the code that uses it.

The loops of every cell now live in ``fused_loops`` (sequences, training) and
``fused_stepper`` (batch-1 steps), bound through ``c_binding``; ``dispatch`` chooses
between them and the NumPy kernels. This module keeps the switches and the LSTM stepper
that scripts and tests call by this name.
"""

from __future__ import annotations

import numpy as np

from rnnkit.nn import c_binding, dispatch, fused_loops
from rnnkit.nn.c_binding import set_threads, threads
from rnnkit.nn.fused_loops import UNITS, backward_slabs
from rnnkit.nn.fused_stepper import FusedStepper

__all__ = [
    "UNITS", "applies", "backward_slabs", "enabled", "forward_slabs", "set_threads",
    "threads", "use_accelerator", "FusedLSTMStepper",
]  # fmt: skip


def enabled() -> bool:
    """Whether float32 layers run in the C loops."""
    return c_binding.kernel() != c_binding.NUMPY


def use_accelerator(on: bool) -> bool:
    """Turn the C loops on (the best build this CPU runs) or off; returns the previous
    setting. On only takes effect where the loops are built."""
    previous = enabled()
    if not on:
        c_binding.use_kernel(c_binding.NUMPY)
    elif not previous and c_binding.supported():
        c_binding.use_kernel(c_binding.supported()[-1])
    return previous


def applies(dtype: np.dtype, hidden_size: int) -> bool:
    """Whether a layer of this dtype and hidden size runs in the C loops."""
    return dispatch.runs_in_c(dtype, hidden_size)


def forward_slabs(weight: np.ndarray) -> np.ndarray:
    """``fused_loops.forward_slabs`` of an LSTM weight (four gates)."""
    return fused_loops.forward_slabs(weight, 4)


def FusedLSTMStepper(  # noqa: N802  (was a class; kept callable under its name)
    weights_ih: list[np.ndarray], weights_hh: list[np.ndarray], biases: list[np.ndarray]
) -> FusedStepper:
    """A ``FusedStepper`` of an LSTM stack, ``biases[l] = b_ih + b_hh`` of layer ``l``."""
    return FusedStepper("lstm", weights_ih, weights_hh, biases)
