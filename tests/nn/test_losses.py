"""Losses and softmax: finite differences, the torch oracle, extreme logits, bad input."""

from __future__ import annotations

import re
from collections.abc import Callable
from types import ModuleType

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes, arrays

from rnnkit.nn import (
    binary_cross_entropy_with_logits,
    log_softmax,
    mse,
    softmax,
    softmax_cross_entropy,
)
from tests.gradcheck import assert_close, numerical_gradient

REDUCTIONS = ["mean", "sum"]
# torch's default ignore_index; it stands for "nothing ignored" on the torch side.
TORCH_NO_IGNORE = -100


def class_problem(ignore_index: int | None) -> tuple[np.ndarray, np.ndarray]:
    """Float64 logits of shape (2, 3, 5) and targets (2, 3), some equal to ``ignore_index``."""
    rng = np.random.default_rng(0)
    logits = 3 * rng.standard_normal((2, 3, 5))
    targets = rng.integers(0, 5, (2, 3))
    if ignore_index is not None:
        targets[0, 1] = targets[1, 2] = ignore_index
    return logits, targets


def binary_problem() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(1)
    return 3 * rng.standard_normal((4, 3)), rng.random((4, 3))


def check_gradient(
    loss_fn: Callable[[np.ndarray], tuple[float, np.ndarray]], x: np.ndarray
) -> None:
    _, analytic = loss_fn(x)
    numeric = numerical_gradient(lambda: loss_fn(x)[0], x)
    np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("ignore_index", [None, 2, TORCH_NO_IGNORE])
def test_cross_entropy_gradient(ignore_index: int | None, reduction: str) -> None:
    logits, targets = class_problem(ignore_index)
    check_gradient(lambda z: softmax_cross_entropy(z, targets, ignore_index, reduction), logits)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_bce_and_mse_gradients(reduction: str) -> None:
    logits, targets = binary_problem()
    check_gradient(lambda x: binary_cross_entropy_with_logits(x, targets, reduction), logits)
    check_gradient(lambda x: mse(x, targets, reduction), logits)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("ignore_index", [None, 2, TORCH_NO_IGNORE])
def test_cross_entropy_matches_torch(
    torch: ModuleType, ignore_index: int | None, reduction: str
) -> None:
    F = torch.nn.functional
    logits, targets = class_problem(ignore_index)
    loss, grad = softmax_cross_entropy(logits, targets, ignore_index, reduction)

    logits_t = torch.from_numpy(logits).requires_grad_()
    # torch wants classes on axis 1: (N, C, T) logits for (N, T) targets.
    loss_t = F.cross_entropy(
        logits_t.movedim(-1, 1),
        torch.from_numpy(targets),
        ignore_index=TORCH_NO_IGNORE if ignore_index is None else ignore_index,
        reduction=reduction,
    )
    loss_t.backward()
    assert_close(np.array(loss), loss_t)
    assert_close(grad, logits_t.grad)


CLASS_WEIGHTS = np.array([0.5, 2.0, 1.0, 0.0, 3.0])  # one per class of class_problem


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("ignore_index", [None, 2])
def test_weighted_cross_entropy_gradient(ignore_index: int | None, reduction: str) -> None:
    logits, targets = class_problem(ignore_index)
    check_gradient(
        lambda z: softmax_cross_entropy(z, targets, ignore_index, reduction, CLASS_WEIGHTS),
        logits,
    )


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("ignore_index", [None, 2])
def test_weighted_cross_entropy_matches_torch(
    torch: ModuleType, ignore_index: int | None, reduction: str
) -> None:
    F = torch.nn.functional
    logits, targets = class_problem(ignore_index)
    loss, grad = softmax_cross_entropy(logits, targets, ignore_index, reduction, CLASS_WEIGHTS)
    logits_t = torch.from_numpy(logits).requires_grad_()
    loss_t = F.cross_entropy(
        logits_t.movedim(-1, 1),
        torch.from_numpy(targets),
        weight=torch.from_numpy(CLASS_WEIGHTS),
        ignore_index=TORCH_NO_IGNORE if ignore_index is None else ignore_index,
        reduction=reduction,
    )
    loss_t.backward()
    assert_close(np.array(loss), loss_t)
    assert_close(grad, logits_t.grad)


SMOOTHED = [(None, None), (None, 2), (CLASS_WEIGHTS, None), (CLASS_WEIGHTS, 2)]


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize(("weight", "ignore_index"), SMOOTHED)
def test_smoothed_cross_entropy_gradient(
    weight: np.ndarray | None, ignore_index: int | None, reduction: str
) -> None:
    logits, targets = class_problem(ignore_index)
    check_gradient(
        lambda z: softmax_cross_entropy(z, targets, ignore_index, reduction, weight, 0.1), logits
    )


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize(("weight", "ignore_index"), SMOOTHED)
@pytest.mark.parametrize("eps", [0.1, 0.6])
def test_smoothed_cross_entropy_matches_torch(
    torch: ModuleType,
    weight: np.ndarray | None,
    ignore_index: int | None,
    reduction: str,
    eps: float,
) -> None:
    F = torch.nn.functional
    logits, targets = class_problem(ignore_index)
    loss, grad = softmax_cross_entropy(logits, targets, ignore_index, reduction, weight, eps)
    logits_t = torch.from_numpy(logits).requires_grad_()
    loss_t = F.cross_entropy(
        logits_t.movedim(-1, 1),
        torch.from_numpy(targets),
        weight=None if weight is None else torch.from_numpy(weight),
        ignore_index=TORCH_NO_IGNORE if ignore_index is None else ignore_index,
        reduction=reduction,
        label_smoothing=eps,
    )
    loss_t.backward()
    assert_close(np.array(loss), loss_t)
    assert_close(grad, logits_t.grad)


def test_smoothing_is_the_cross_entropy_against_the_smoothed_distribution() -> None:
    # Written out: -sum_c q_c log p_c with q = (1 - eps) onehot(t) + eps / C.
    logits, targets = class_problem(None)
    eps, classes = 0.2, logits.shape[-1]
    q = (1 - eps) * np.eye(classes)[targets] + eps / classes
    expected = -np.sum(q * log_softmax(logits)) / targets.size
    loss, _ = softmax_cross_entropy(logits, targets, label_smoothing=eps)
    assert loss == pytest.approx(expected, rel=1e-12)
    assert loss > softmax_cross_entropy(logits, targets)[0] * (1 - eps)


@pytest.mark.parametrize("eps", [-0.1, 1.0, 1.5])
def test_label_smoothing_outside_its_range_is_refused(eps: float) -> None:
    logits, targets = class_problem(None)
    with pytest.raises(ValueError, match=r"label_smoothing: expected a value in \[0, 1\)"):
        softmax_cross_entropy(logits, targets, label_smoothing=eps)


def test_equal_class_weights_change_nothing_in_the_mean() -> None:
    logits, targets = class_problem(None)
    plain = softmax_cross_entropy(logits, targets)
    weighted = softmax_cross_entropy(logits, targets, weight=np.full(5, 7.0))
    assert weighted[0] == pytest.approx(plain[0])
    np.testing.assert_allclose(weighted[1], plain[1])


@pytest.mark.parametrize(
    ("weight", "message"),
    [
        (np.ones(4), "weight: expected shape (5,), got (4,)"),
        (np.array([1.0, -1.0, 1.0, 1.0, 1.0]), "weight: expected non-negative class weights"),
    ],
)
def test_cross_entropy_rejects_bad_weights(weight: np.ndarray, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        softmax_cross_entropy(np.zeros((4, 5)), np.array([0, 1, 2, 3]), weight=weight)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize(
    ("ours", "theirs"),
    [(binary_cross_entropy_with_logits, "binary_cross_entropy_with_logits"), (mse, "mse_loss")],
)
def test_bce_and_mse_match_torch(
    torch: ModuleType, ours: Callable, theirs: str, reduction: str
) -> None:
    F = torch.nn.functional
    logits, targets = binary_problem()
    loss, grad = ours(logits, targets, reduction)
    logits_t = torch.from_numpy(logits).requires_grad_()
    loss_t = getattr(F, theirs)(logits_t, torch.from_numpy(targets), reduction=reduction)
    loss_t.backward()
    assert_close(np.array(loss), loss_t)
    assert_close(grad, logits_t.grad)


def test_all_ignored_gives_zero_loss_and_gradient() -> None:
    logits, _ = class_problem(None)
    targets = np.full((2, 3), 4)
    loss, grad = softmax_cross_entropy(logits, targets, ignore_index=4)
    assert loss == 0.0
    assert grad.shape == logits.shape
    assert not np.any(grad)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("scale", [1e3, 1e4])
# Stable formulas never overflow, so even a floating-point warning is a failure.
@np.errstate(over="raise", divide="raise", invalid="raise")
def test_extreme_logits_stay_finite(dtype: type, scale: float) -> None:
    logits = np.array([[scale, -scale, 0.0], [-scale, -scale, scale]], dtype=dtype)
    loss, grad = softmax_cross_entropy(logits, np.array([1, 2]), reduction="sum")
    # Row 0 misses by 2 * scale; row 1 is right with certainty.
    assert loss == pytest.approx(2 * scale)
    np.testing.assert_allclose(grad, [[1, -1, 0], [0, 0, 0]], atol=1e-6)
    assert grad.dtype == dtype

    flat = logits.reshape(-1)
    targets = (flat < 0).astype(dtype)  # every prediction maximally wrong, or 0.5 at 0
    loss, grad = binary_cross_entropy_with_logits(flat, targets, reduction="sum")
    assert loss == pytest.approx(5 * scale + np.log(2))
    assert np.all(np.isfinite(grad))
    np.testing.assert_allclose(grad, np.sign(flat) * (flat != 0) + 0.5 * (flat == 0))
    assert grad.dtype == dtype


@pytest.mark.parametrize(
    "loss_fn",
    [
        lambda x: softmax_cross_entropy(x, np.zeros(4, dtype=int)),
        lambda x: binary_cross_entropy_with_logits(x, np.zeros((4, 3))),
        lambda x: mse(x, np.zeros((4, 3))),
    ],
)
def test_gradient_has_dtype_of_first_argument(loss_fn: Callable) -> None:
    _, grad = loss_fn(np.ones((4, 3), dtype=np.float32))
    assert grad.dtype == np.float32


@settings(max_examples=30, deadline=None)
@given(
    x=arrays(
        np.float64,
        array_shapes(min_dims=1, max_dims=3, max_side=5),
        elements=st.floats(-1e4, 1e4),
    ),
    axis=st.integers(-1, 0),
)
def test_softmax_is_a_distribution(x: np.ndarray, axis: int) -> None:
    probs = softmax(x, axis=axis)
    assert np.all((probs >= 0) & (probs <= 1))
    np.testing.assert_allclose(probs.sum(axis=axis), 1.0, rtol=1e-12)
    np.testing.assert_allclose(np.exp(log_softmax(x, axis=axis)), probs, atol=1e-12)
    # Adding a constant along the axis changes nothing.
    np.testing.assert_allclose(softmax(x + 7.0, axis=axis), probs, atol=1e-12)


def test_log_softmax_matches_torch(torch: ModuleType) -> None:
    F = torch.nn.functional
    x = 5 * np.random.default_rng(2).standard_normal((3, 4, 6))
    assert_close(log_softmax(x, axis=1), F.log_softmax(torch.from_numpy(x), dim=1))


@pytest.mark.parametrize(
    ("targets", "message"),
    [
        (np.array([0, 5, 1, 2]), "targets: expected values in [0, 5), got 5"),
        (np.array([0, -1, 1, 2]), "targets: expected values in [0, 5), got -1"),
        (np.array([0.0, 1.0, 1.0, 2.0]), "targets: expected an integer array, got dtype float64"),
        (np.array([0, 1, 2]), "targets: expected shape (4,), got (3,)"),
    ],
)
def test_cross_entropy_rejects_bad_targets(targets: np.ndarray, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        softmax_cross_entropy(np.zeros((4, 5)), targets)


def test_ignored_targets_may_lie_outside_the_class_range() -> None:
    loss, _ = softmax_cross_entropy(np.zeros((2, 5)), np.array([-100, 3]), ignore_index=-100)
    assert loss == pytest.approx(np.log(5))


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda: softmax_cross_entropy(np.zeros(3), np.array(0), reduction="none"),
            "reduction: expected 'mean' or 'sum', got 'none'",
        ),
        (
            lambda: softmax_cross_entropy(np.zeros((2, 0)), np.zeros(2, int)),
            "logits: expected shape (..., C) with C >= 1, got (2, 0)",
        ),
        (
            lambda: softmax_cross_entropy(np.zeros(3, int), np.array(0)),
            "logits: expected a float32 or float64 array, got dtype int64",
        ),
        (
            lambda: binary_cross_entropy_with_logits(np.zeros(3), np.zeros(4)),
            "targets: expected shape (3,), got (4,)",
        ),
        (
            lambda: mse(np.zeros((2, 3)), np.zeros((3, 2))),
            "targets: expected shape (2, 3), got (3, 2)",
        ),
        (
            lambda: mse(np.zeros(2), np.zeros(2), reduction="avg"),
            "reduction: expected 'mean' or 'sum', got 'avg'",
        ),
    ],
)
def test_bad_arguments_are_named(call: Callable, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        call()
