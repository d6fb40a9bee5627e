"""Loss functions and the softmax they build on.

Each loss returns ``(loss, grad)``: the loss as a Python float and its gradient with
respect to the first argument, with that argument's shape and dtype. ``reduction="mean"``
divides the summed loss (and so the gradient) by the number of terms, ``"sum"`` does not.
A mean over zero terms is taken as 0 (PyTorch returns NaN there), so a batch in which
every target is ignored trains nothing instead of poisoning the weights.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from rnnkit.nn.embedding import check_indices

Reduction = Literal["mean", "sum"]


def log_softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """``log softmax(x)_i = x_i - max(x) - log sum_j exp(x_j - max(x))``.

    Subtracting the maximum first keeps every ``exp`` in (0, 1]: no overflow, and the
    largest term is exactly 1, so the log of the sum never sees 0.
    """
    shifted = x - np.max(x, axis=axis, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))


def softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """``softmax(x)_i = exp(x_i - max(x)) / sum_j exp(x_j - max(x))``."""
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


def _float_array(name: str, value: np.ndarray) -> np.ndarray:
    value = np.asarray(value)
    if value.dtype not in (np.float32, np.float64):
        raise ValueError(f"{name}: expected a float32 or float64 array, got dtype {value.dtype}")
    return value


def _check_same_shape(name: str, value: np.ndarray, expected: tuple[int, ...]) -> None:
    if value.shape != expected:
        raise ValueError(f"{name}: expected shape {expected}, got {value.shape}")


def _scale(count: float, reduction: Reduction) -> float:
    """The factor that turns a summed loss into the requested reduction (COUNT: the terms,
    or their summed weight)."""
    if reduction == "sum":
        return 1.0
    if reduction == "mean":
        return 1.0 / count if count else 0.0
    raise ValueError(f"reduction: expected 'mean' or 'sum', got {reduction!r}")


def softmax_cross_entropy(
    logits: np.ndarray,
    targets: np.ndarray,
    ignore_index: int | None = None,
    reduction: Reduction = "mean",
    weight: np.ndarray | None = None,
    label_smoothing: float = 0.0,
) -> tuple[float, np.ndarray]:
    """Cross-entropy of class ``targets`` under ``softmax(logits)``, classes on the last axis.

    For logits ``z`` (shape ``(..., C)``) and a target class ``t`` at each position::

        loss = -sum_positions log softmax(z)_t          (divided by the count for "mean")
        dloss/dz = softmax(z) - onehot(t)               (divided by the count for "mean")

    Positions whose target equals ``ignore_index`` add nothing and do not count towards
    the mean, as in ``torch.nn.functional.cross_entropy`` (which puts classes on axis 1).

    ``weight`` (shape ``(C,)``, non-negative) weighs each position by its target's class,
    ``w_t``, as torch's ``weight`` does: the sum becomes ``-sum w_t log softmax(z)_t``
    and its gradient ``w_t (softmax(z) - onehot(t))``, and "mean" divides by ``sum w_t``
    over the kept positions instead of their count (so a rare class can count as much as
    a frequent one).

    ``label_smoothing`` ``eps`` (in ``[0, 1)``) trains towards ``(1 - eps) onehot(t) + eps / C``
    instead of ``onehot(t)``, as torch's ``label_smoothing`` does: with class weights
    ``w`` (all 1 without ``weight``) and ``p = softmax(z)``, each kept position adds::

        (1 - eps) (-w_t log p_t) + eps / C sum_c (-w_c log p_c)
        dloss/dz = (1 - eps) w_t (p - onehot(t)) + eps / C (sum_c w_c p - w)

    and "mean" still divides by ``sum w_t``. A model trained so cannot put all its
    probability on one class, which keeps it from growing over-confident.
    """
    logits = _float_array("logits", logits)
    targets = np.asarray(targets)
    if logits.ndim == 0 or logits.shape[-1] == 0:
        raise ValueError(f"logits: expected shape (..., C) with C >= 1, got {logits.shape}")
    num_classes = logits.shape[-1]
    _check_same_shape("targets", targets, logits.shape[:-1])
    if not 0.0 <= label_smoothing < 1.0:
        raise ValueError(f"label_smoothing: expected a value in [0, 1), got {label_smoothing}")

    flat_logits = logits.reshape(-1, num_classes)
    flat_targets = targets.reshape(-1)
    if ignore_index is None:
        keep = np.ones(flat_targets.shape, dtype=bool)
    else:
        keep = flat_targets != ignore_index
    check_indices("targets", flat_targets[keep], num_classes)
    # Ignored positions get class 0 so the fancy indexing below stays in range; their
    # terms are masked out afterwards.
    classes = np.where(keep, flat_targets, 0)
    rows = np.arange(flat_targets.size)
    if weight is None:
        weights = keep.astype(np.float64)
        scale = _scale(int(np.count_nonzero(keep)), reduction)
    else:
        weight = np.asarray(weight, dtype=np.float64)
        _check_same_shape("weight", weight, (num_classes,))
        if not np.all(weight >= 0):
            raise ValueError("weight: expected non-negative class weights")
        weights = np.where(keep, weight[classes], 0.0)
        scale = _scale(float(weights.sum()), reduction)

    # One buffer goes shifted logits -> exp -> gradient, so a wide vocabulary is read and
    # written as few times as possible: log softmax(z)_t = (z_t - max) - log sum exp(z - max).
    grad = flat_logits - np.max(flat_logits, axis=1, keepdims=True)
    picked = grad[rows, classes]
    eps = float(label_smoothing)
    if eps:
        class_weight = np.ones(num_classes) if weight is None else weight
        # sum_c w_c log p_c = sum_c w_c (z_c - max) - (sum_c w_c) log sum exp(z - max)
        weighted_logits = grad @ class_weight.astype(grad.dtype)
    np.exp(grad, out=grad)
    sums = np.sum(grad, axis=1)
    log_sums = np.log(sums)
    terms = -(picked - log_sums) * weights * (1 - eps)
    # dloss/dz = (1 - eps) w_t (softmax(z) - onehot(t)), zero for ignored positions, plus
    # with smoothing eps / C (sum_c w_c softmax(z) - w) on the kept ones; all times scale.
    row_scale = (weights * scale * (1 - eps)).astype(grad.dtype)
    softmax_scale = row_scale
    if eps:
        terms -= eps / num_classes * (weighted_logits - class_weight.sum() * log_sums)
        smooth = eps / num_classes * scale
        softmax_scale = row_scale + (keep * smooth * class_weight.sum()).astype(grad.dtype)
    loss = float(np.sum(terms[keep])) * scale
    grad *= (softmax_scale / sums)[:, None]
    grad[rows[keep], classes[keep]] -= row_scale[keep]
    if eps:
        grad[keep] -= (smooth * class_weight).astype(grad.dtype)
    return loss, grad.reshape(logits.shape)


def binary_cross_entropy_with_logits(
    logits: np.ndarray, targets: np.ndarray, reduction: Reduction = "mean"
) -> tuple[float, np.ndarray]:
    """Binary cross-entropy of ``targets`` in [0, 1] under ``sigmoid(logits)``.

    With ``s = sigmoid(x)``, the per-element loss ``-t log s - (1 - t) log(1 - s)`` is
    rewritten so that no ``exp`` can overflow and no ``log`` sees 0::

        loss = max(x, 0) - x t + log(1 + exp(-|x|))
        dloss/dx = s - t

    and ``s`` itself is computed from ``exp(-|x|)`` for the same reason.
    """
    logits = _float_array("logits", logits)
    targets = np.asarray(targets, dtype=logits.dtype)
    _check_same_shape("targets", targets, logits.shape)
    scale = _scale(logits.size, reduction)

    e = np.exp(-np.abs(logits))
    loss = np.maximum(logits, 0) - logits * targets + np.log1p(e)
    sigmoid = np.where(logits >= 0, 1.0 / (1.0 + e), e / (1.0 + e))
    return float(np.sum(loss)) * scale, (sigmoid - targets) * scale


def mse(
    predictions: np.ndarray, targets: np.ndarray, reduction: Reduction = "mean"
) -> tuple[float, np.ndarray]:
    """Squared error ``sum (p - t)^2`` (divided by the count for "mean"); grad ``2 (p - t)``."""
    predictions = _float_array("predictions", predictions)
    targets = np.asarray(targets, dtype=predictions.dtype)
    _check_same_shape("targets", targets, predictions.shape)
    scale = _scale(predictions.size, reduction)

    diff = predictions - targets
    return float(np.sum(diff * diff)) * scale, (2.0 * scale) * diff
