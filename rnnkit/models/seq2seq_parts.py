"""Pieces of ``Seq2Seq`` that stand alone: the encoded source, affine maps with explicit
inputs, and reversal within lengths."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from rnnkit.nn.linear import Linear
from rnnkit.nn.products import flat_matmul, matmul


@dataclass
class EncodedSource:
    """What the decoder reads: the encoder's outputs and its start.

    ``memory`` ``(B, S, M)`` (batch first), ``lengths`` ``(B,)`` and ``mask`` ``(B, S)`` (True
    at real steps), the attention ``keys`` (or None), the peeky ``summary`` ``(B, M)`` (or
    None) and the decoder's initial ``state``, a tuple of ``(L, B, H)`` arrays.

    ``group``: how many consecutive decoder rows read each source row (a beam's K
    hypotheses of one input). The decoder then has ``B * group`` rows, and attention asks
    the ``group`` queries of a source together instead of reading ``group`` copies of it.
    """

    memory: np.ndarray
    lengths: np.ndarray
    mask: np.ndarray
    keys: np.ndarray | None
    summary: np.ndarray | None
    state: tuple[np.ndarray, ...]
    group: int = 1

    def select(self, rows: np.ndarray) -> EncodedSource:
        """The source rows ``rows`` (repeated as often as listed), ``group`` kept."""
        return EncodedSource(
            self.memory[rows],
            self.lengths[rows],
            self.mask[rows],
            None if self.keys is None else self.keys[rows],
            None if self.summary is None else self.summary[rows],
            tuple(s[:, rows] for s in self.state),
            self.group,
        )

    def grouped(self, group: int) -> EncodedSource:
        """The same sources, each read by ``group`` consecutive decoder rows."""
        return replace(self, group=int(group))

    def per_row(self, x: np.ndarray, axis: int = 0) -> np.ndarray:
        """``x`` (one entry per source row along AXIS) with one entry per decoder row."""
        return x if self.group == 1 else np.repeat(x, self.group, axis=axis)


def affine(layer: Linear, x: np.ndarray) -> np.ndarray:
    """``x W^T + b`` with LAYER's parameters, over the last axis of any ``x``; nothing kept.

    ``Linear.forward`` keeps its one input for backward; a step loop calls the same layer
    many times, so it keeps the inputs itself and calls ``affine_backward``.
    """
    y = flat_matmul(x, layer.params["weight"].T)
    if "bias" in layer.params:
        y += layer.params["bias"]
    return y


def affine_backward(layer: Linear, x: np.ndarray, grad: np.ndarray) -> np.ndarray:
    """``dL/dx = g W`` for ``affine(layer, x)``; adds ``dW += g^T x`` and ``db += sum g``."""
    rows = math.prod(x.shape[:-1])
    flat = grad.reshape(rows, grad.shape[-1])
    matmul(flat.T, x.reshape(rows, x.shape[-1]), out=layer.grads["weight"], accumulate=True)
    if "bias" in layer.grads:
        layer.grads["bias"] += flat.sum(axis=0)
    return matmul(flat, layer.params["weight"]).reshape(x.shape)


def reverse_within_lengths(x: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """``x`` ``(B, ..., S)`` with each row's first ``lengths[b]`` entries of the last axis
    reversed and the rest (padding) left in place. Its own inverse."""
    x, lengths = np.asarray(x), np.asarray(lengths)
    steps = x.shape[-1]
    positions = np.arange(steps)[None, :]
    index = np.where(positions < lengths[:, None], lengths[:, None] - 1 - positions, positions)
    index = index.reshape(index.shape[0], *([1] * (x.ndim - 2)), steps)
    return np.take_along_axis(x, np.broadcast_to(index, x.shape), axis=-1)
