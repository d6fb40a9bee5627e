"""Inverted dropout.

In training, each element is kept with probability ``1 - p`` and scaled so the expected
output equals the input::

    m_i = 1 / (1 - p) with probability 1 - p, else 0
    y = m * x,        dL/dx = m * dL/dy      (the same mask m in both directions)

With ``shared_axes``, one draw covers the whole of each of those axes (the mask has size 1
there and is broadcast): ``shared_axes=(-1,)`` on ``(T, B, E)`` embeddings keeps or drops
each token's vector whole, which is word dropout. ``torch.nn.Dropout1d`` shares the length
axis instead, to drop whole channels.

In evaluation mode, or with ``p = 0``, the layer is the identity. Scaling at training time
(rather than by ``1 - p`` at evaluation time, as in the original paper) is what
``torch.nn.Dropout`` does, so a trained model needs no change to be evaluated.
"""

from __future__ import annotations

import numpy as np

from rnnkit.nn.layer import Layer, check_dtype


def check_probability(p: float, name: str = "p") -> float:
    """Return ``p`` as a float, or raise ``ValueError`` naming ``name`` unless ``0 <= p < 1``."""
    try:
        value = float(p)
    except (TypeError, ValueError):
        raise ValueError(f"{name}: expected a dropout probability in [0, 1), got {p!r}") from None
    # ``not (0 <= p < 1)`` rather than ``p < 0 or p >= 1`` so that NaN is rejected too.
    if not 0.0 <= value < 1.0:
        raise ValueError(f"{name}: expected a dropout probability in [0, 1), got {value}")
    return value


def dropout_mask(
    shape: tuple[int, ...], p: float, rng: np.random.Generator, dtype: object = np.float32
) -> np.ndarray:
    """A mask of ``shape`` holding ``1 / (1 - p)`` with probability ``1 - p``, else ``0``.

    Multiplying by it is inverted dropout; recurrent layers reuse it between layers.
    """
    p = check_probability(p)
    dtype = check_dtype(dtype)
    keep = rng.random(shape, dtype=dtype) >= p
    return np.where(keep, dtype.type(1.0 / (1.0 - p)), dtype.type(0.0))


class Dropout(Layer):
    """``torch.nn.Dropout`` in NumPy; it has no parameters."""

    def __init__(
        self,
        p: float = 0.5,
        rng: np.random.Generator | int | None = None,
        shared_axes: tuple[int, ...] = (),
    ) -> None:
        super().__init__()
        self.p = check_probability(p)
        self.rng = np.random.default_rng(rng)
        self.shared_axes = tuple(shared_axes)
        self._shape: tuple[int, ...] | None = None
        # None means "this forward was the identity".
        self._mask: np.ndarray | None = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        """Return ``x`` times a fresh mask in training, ``x`` itself otherwise."""
        x = np.asarray(x)
        self._shape = x.shape
        if not self.training or self.p == 0.0:
            self._mask = None
            return x
        for axis in self.shared_axes:
            if not -x.ndim <= axis < x.ndim:
                raise ValueError(
                    f"shared_axes: axis {axis} is out of range for an input of shape {x.shape}"
                )
        shared = {axis % x.ndim for axis in self.shared_axes}
        mask_shape = tuple(1 if axis in shared else size for axis, size in enumerate(x.shape))
        self._mask = dropout_mask(mask_shape, self.p, self.rng, x.dtype)
        return x * self._mask

    def backward(self, grad_output: np.ndarray) -> np.ndarray:
        """Return ``dL/dx``: the output gradient through the mask of the last forward."""
        if self._shape is None:
            raise RuntimeError("Dropout.backward called before forward")
        if grad_output.shape != self._shape:
            raise ValueError(f"grad_output: expected shape {self._shape}, got {grad_output.shape}")
        if self._mask is None:
            return grad_output
        return grad_output * self._mask
