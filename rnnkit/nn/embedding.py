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

from dataclasses import dataclass

import numpy as np

from rnnkit.nn.layer import Layer, check_dtype

# ``add_rows_at`` multiplies by a one-hot matrix when there are at least this many rows per
# target row; below that, sorting wins (measured at 65-10,000 target rows of 128-512).
ONE_HOT_RATIO = 16


def add_rows_at(target: np.ndarray, indices: np.ndarray, rows: np.ndarray) -> None:
    """``target[indices[n]] += rows[n]`` for every ``n``, summing the rows of repeated indices.

    ``np.add.at`` does this one row at a time (2.24 ms for 2,048 rows of 128 into 65, 34 ms
    for 6,400 rows of 512, 1 thread). With many rows per target row a one-hot product
    ``onehot(indices)^T rows`` is one GEMM (0.4 and 8 ms); otherwise the indices are sorted,
    each run of equal ones summed with ``np.add.reduceat`` and the sums added with one
    fancy-index add (0.3 and 10-32 ms; 0.9 against 1.5 ms for 700 rows into 10,000). In the
    product a row holding inf or nan spreads nan to every target row (0 * inf is nan).
    """
    if indices.size == 0:
        return
    if target.shape[0] * ONE_HOT_RATIO <= indices.size:
        one_hot = np.zeros((target.shape[0], indices.size), dtype=target.dtype)
        one_hot[indices, np.arange(indices.size)] = 1.0
        target += one_hot @ rows
        return
    order = np.argsort(indices, kind="stable")
    sorted_indices = indices[order]
    starts = np.flatnonzero(np.r_[True, sorted_indices[1:] != sorted_indices[:-1]])
    target[sorted_indices[starts]] += np.add.reduceat(rows[order], starts, axis=0)


def check_indices(name: str, values: np.ndarray, size: int) -> None:
    """Raise ``ValueError`` unless ``values`` is an integer array with entries in [0, size)."""
    if values.dtype.kind not in "iu":
        raise ValueError(f"{name}: expected an integer array, got dtype {values.dtype}")
    outside = values[(values < 0) | (values >= size)]
    if outside.size:
        raise ValueError(f"{name}: expected values in [0, {size}), got {outside.flat[0]}")


@dataclass(frozen=True)
class EmbeddedTokens:
    """A sequence given as token ids and the table that embeds them: ``x = table[ids]``.

    Recurrent layers take it in place of the array ``x`` and never make that array: their
    first layer looks its input projection up in the per-token table ``table W_ih^T`` (see
    ``rnnkit.nn.sequence_ops``), and their backward returns the gradient of ``table``
    instead of the one of ``x``. ``shape`` and ``dtype`` are those of the ``x`` it stands
    for.

    ``context`` ``(B, C)``, if given, is a vector per row appended to every step's token
    vector, ``x[t, b] = [table[ids[t, b]] ; context[b]]`` (a peeky decoder's encoder
    summary): its share of the input projection is computed once per row, not per step,
    and backward returns ``(grad of table, grad of context)``.
    """

    table: np.ndarray  # (num_embeddings, embedding_dim)
    ids: np.ndarray  # integers in [0, num_embeddings); (T, B) when a kernel reads it
    context: np.ndarray | None = None  # (B, C), the same for every step of a row

    @property
    def shape(self) -> tuple[int, ...]:
        extra = 0 if self.context is None else self.context.shape[-1]
        return (*self.ids.shape, self.table.shape[1] + extra)

    @property
    def dtype(self) -> np.dtype:
        return self.table.dtype


class Embedding(Layer):
    """``torch.nn.Embedding`` in NumPy::

        forward    y[p] = W[i[p]]                         for every position p
        backward   dW[k] += sum of dy[p] over the positions p with i[p] == k

    The ``padding_idx`` row starts at zero and gets no gradient.

    Args:
        num_embeddings: ``V``, the number of rows (ids ``0 .. V - 1``).
        embedding_dim: the length of each row.
        padding_idx: the padding id (negative counts from the end), or None.
        dtype: float32 or float64.
        rng: a generator or seed for the initial rows, drawn from a standard normal.
    """

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
        add_rows_at(self.grads["weight"], ids, rows)
