"""Linear (fully connected) layer: an affine map of the last axis.

For an input ``x`` of shape ``(..., in_features)``::

    y = x W^T + b            W: (out_features, in_features), b: (out_features,)

Backward, with ``g = dL/dy`` and every leading axis flattened into one of length ``N``::

    dL/dx = g W              (..., in_features)
    dL/dW = g^T x            (out_features, in_features): one (out, N) @ (N, in) matmul
    dL/db = sum_n g[n, :]    (out_features,)

Initialisation follows ``torch.nn.Linear``: ``W`` and ``b`` uniform in ``[-k, k]`` with
``k = 1 / sqrt(in_features)``. As in torch, sizes are not checked beyond what NumPy checks:
``in_features = 0`` gives a layer that outputs its bias, a negative size is an error.
The products go through ``products.matmul`` (NumPy's, or with several C loop threads
OpenBLAS's sgemm on those threads).
"""

from __future__ import annotations

import math

import numpy as np

from rnnkit.nn.layer import Layer, check_dtype
from rnnkit.nn.products import flat_matmul, matmul


class Linear(Layer):
    """``torch.nn.Linear`` in NumPy, applied to the last axis of any input."""

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        dtype: object = np.float32,
        rng: np.random.Generator | int | None = None,
    ) -> None:
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        dtype = check_dtype(dtype)
        rng = np.random.default_rng(rng)
        # torch's bound; a layer without inputs (allowed, as in torch) has only its bias.
        bound = 1.0 / math.sqrt(in_features) if in_features > 0 else 0.0
        self.add_param(
            "weight", rng.uniform(-bound, bound, (out_features, in_features)).astype(dtype)
        )
        if bias:
            self.add_param("bias", rng.uniform(-bound, bound, out_features).astype(dtype))
        self._input: np.ndarray | None = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        """Return ``x @ weight.T + bias`` for ``x`` of shape ``(..., in_features)``.

        ``x`` is cast to the layer's dtype, so the output always has it.
        """
        x = np.asarray(x, dtype=self.params["weight"].dtype)
        if x.ndim == 0 or x.shape[-1] != self.in_features:
            raise ValueError(
                f"input: expected last axis of size in_features={self.in_features}, "
                f"got shape {x.shape}"
            )
        self._input = x
        y = flat_matmul(x, self.params["weight"].T)  # one GEMM, several times faster
        if "bias" in self.params:
            y += self.params["bias"]
        return y

    def backward(self, grad_output: np.ndarray) -> np.ndarray:
        """Add into ``grads`` and return ``dL/dx``, the same shape as the input."""
        x = self._input
        if x is None:
            raise RuntimeError("Linear.backward called before forward")
        expected = (*x.shape[:-1], self.out_features)
        if grad_output.shape != expected:
            raise ValueError(f"grad_output: expected shape {expected}, got {grad_output.shape}")
        rows = math.prod(x.shape[:-1])
        g = grad_output.reshape(rows, self.out_features)
        matmul(g.T, x.reshape(rows, self.in_features), out=self.grads["weight"], accumulate=True)
        if "bias" in self.grads:
            self.grads["bias"] += g.sum(axis=0)
        return matmul(g, self.params["weight"]).reshape(x.shape)
