"""Embedding: a lookup table from integer ids to learned vectors.

Forward picks rows of the weight matrix ``W`` (shape ``(num_embeddings, embedding_dim)``)::

    y[..., :] = W[i[...], :]

so the gradient of a row is the sum of the output gradients of every position that looked
it up::

    dL/dW[k, :] = sum over positions p with i[p] == k of dL/dy[p, :]

The row ``padding_idx`` (if given) starts at zero and never receives a gradient, as in
``torch.nn.Embedding``: padding tokens then contribute a constant zero vector.
"""

from __future__ import annotations

import numpy as np

from rnnkit.nn.layer import Layer, check_dtype


def check_indices(name: str, values: np.ndarray, size: int) -> None:
    """Raise ``ValueError`` unless ``values`` is an integer array with entries in [0, size)."""
    if values.dtype.kind not in "iu":
        raise ValueError(f"{name}: expected an integer array, got dtype {values.dtype}")
    outside = values[(values < 0) | (values >= size)]
    if outside.size:
        raise ValueError(f"{name}: expected values in [0, {size}), got {outside.flat[0]}")


class Embedding(Layer):
    """``torch.nn.Embedding`` in NumPy: ``forward(indices) -> weight[indices]``."""

    def __init__(
        self,
        num_embeddings: int,
        embedding_dim: int,
        padding_idx: int | None = None,
        dtype: object = np.float32,
        rng: np.random.Generator | int | None = None,
    ) -> None:
        super().__init__()
        if padding_idx is not None:
            if not -num_embeddings <= padding_idx < num_embeddings:
                raise ValueError(
                    f"padding_idx: expected a value in [{-num_embeddings}, {num_embeddings}), "
                    f"got {padding_idx}"
                )
            # torch counts a negative padding_idx from the end, like a Python index.
            padding_idx %= num_embeddings
        self.num_embeddings = num_embeddings
        self.embedding_dim = embedding_dim
        self.padding_idx = padding_idx
        rng = np.random.default_rng(rng)
        weight = rng.standard_normal((num_embeddings, embedding_dim), dtype=check_dtype(dtype))
        if padding_idx is not None:
            weight[padding_idx] = 0.0
        self.add_param("weight", weight)
        self._indices: np.ndarray | None = None

    def forward(self, indices: np.ndarray) -> np.ndarray:
        """Return ``weight[indices]``, shape ``(*indices.shape, embedding_dim)``."""
        indices = np.asarray(indices)
        check_indices("indices", indices, self.num_embeddings)
        self._indices = indices
        return self.params["weight"][indices]

    def backward(self, grad_output: np.ndarray) -> None:
        """Add the gradient of the looked-up rows into ``grads['weight']``.

        Ids are not differentiable, so there is no input gradient to return.
        """
        if self._indices is None:
            raise RuntimeError("Embedding.backward called before forward")
        expected = (*self._indices.shape, self.embedding_dim)
        if grad_output.shape != expected:
            raise ValueError(f"grad_output: expected shape {expected}, got {grad_output.shape}")
        ids = self._indices.reshape(-1)
        rows = grad_output.reshape(-1, self.embedding_dim)
        if self.padding_idx is not None:
            keep = ids != self.padding_idx
            ids, rows = ids[keep], rows[keep]
        # np.add.at, unlike ``grad[ids] += rows``, sums the rows of an id that repeats.
        np.add.at(self.grads["weight"], ids, rows)
