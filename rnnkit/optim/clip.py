"""Gradient clipping by the global L2 norm, as ``torch.nn.utils.clip_grad_norm_``.

With ``norm = sqrt(sum of the squares of every gradient entry)``, all gradients are
scaled together, in place::

    g = g * min(1, max_norm / (norm + 1e-6))

so their directions are kept and their joint norm ends up at most ``max_norm``. The
``1e-6`` keeps the division finite when every gradient is zero.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np


def clip_grad_norm(
    grads: Mapping[str, np.ndarray] | Iterable[np.ndarray], max_norm: float
) -> float:
    """Scale ``grads`` in place so their global L2 norm is at most ``max_norm``.

    ``grads`` is a layer's ``grads`` dict, or any iterable of arrays (or one array).
    Returns the global norm before clipping, which is worth logging: a norm far above
    ``max_norm`` step after step means the clipping is doing the training.
    """
    if isinstance(grads, np.ndarray):
        arrays = [grads]
    elif isinstance(grads, Mapping):
        arrays = list(grads.values())
    else:
        arrays = list(grads)
    if not arrays:
        return 0.0
    # The norm of the per-array norms, as torch computes it; each norm stays in its
    # array's dtype, so float32 gradients give a float32 norm as in torch.
    norms = [np.linalg.norm(array.ravel()) for array in arrays]
    total = np.linalg.norm(np.array(norms))
    coef = min(max_norm / (total + 1e-6), 1.0)
    # torch multiplies by the clamped coefficient unconditionally; skipping the product
    # when it is exactly 1 changes nothing. A NaN or infinite norm gives NaN or zeros,
    # as in torch, so a diverged step is not hidden.
    if coef != 1.0:
        for array in arrays:
            array *= coef
    return float(total)
