"""Adam and AdamW in one pass per float32 parameter, in C (``rnnkit_adam`` in ``_loops.h``).

``Adam._update`` in NumPy makes about ten passes over each parameter's arrays (one per
call: subtract, scale, add, square, sqrt, divide, ...); a C loop reads the parameter, its
gradient and both moments once and writes three of them back. The arithmetic is
``Adam``'s (see ``adam``), in float32; float64 parameters, and machines without the C
loops, keep the NumPy update.
"""

from __future__ import annotations

import numpy as np

from rnnkit.nn import c_binding
from rnnkit.nn.c_binding import AdamStep


def applies(*arrays: np.ndarray) -> bool:
    """Whether the C step takes these arrays: float32, C-contiguous, and the C loops on."""
    return c_binding.kernel() != c_binding.NUMPY and all(
        array.dtype == np.float32 and array.flags.c_contiguous for array in arrays
    )


def adam_step(
    param: np.ndarray,
    grad: np.ndarray,
    exp_avg: np.ndarray,
    exp_avg_sq: np.ndarray,
    *,
    lr: float,
    betas: tuple[float, float],
    eps: float,
    weight_decay: float,
    decoupled: bool,
    step: int,
) -> None:
    """One Adam (``decoupled``: AdamW) step of ``param`` in place, at step number ``step``
    (>= 1), updating the moments ``exp_avg`` and ``exp_avg_sq`` in place."""
    beta1, beta2 = betas
    # the coefficients in double, rounded once to float32 by ctypes
    arguments = AdamStep(
        count=param.size, param=param.ctypes.data, grad=grad.ctypes.data,
        exp_avg=exp_avg.ctypes.data, exp_avg_sq=exp_avg_sq.ctypes.data,
        shrink=1 - lr * weight_decay if decoupled else 1.0,
        l2=0.0 if decoupled else weight_decay, one_minus_beta1=1 - beta1, beta2=beta2,
        one_minus_beta2=1 - beta2, eps=eps, step_size=lr / (1 - beta1**step),
        bias_correction2_sqrt=(1 - beta2**step) ** 0.5,
    )  # fmt: skip
    c_binding.LIBRARY.rnnkit_adam(arguments)
