"""Dropout: identity when not training, inverted scaling and one mask both ways when training."""

from __future__ import annotations

import re

import numpy as np
import pytest

from rnnkit.nn import Dropout, dropout_mask
from tests.gradcheck import numerical_gradient


def test_eval_is_identity() -> None:
    layer = Dropout(0.5, rng=0).eval()
    x = np.random.default_rng(1).standard_normal((4, 5)).astype(np.float32)
    np.testing.assert_array_equal(layer.forward(x), x)
    g = np.ones_like(x)
    np.testing.assert_array_equal(layer.backward(g), g)


def test_zero_probability_is_identity_in_training() -> None:
    layer = Dropout(0.0, rng=0)
    x = np.arange(6.0).reshape(2, 3)
    np.testing.assert_array_equal(layer.forward(x), x)


def test_training_keeps_the_expected_mean() -> None:
    p, n = 0.3, 200_000
    layer = Dropout(p, rng=0)
    out = layer.forward(np.ones(n, dtype=np.float32))
    assert out.dtype == np.float32
    # Kept entries are scaled by 1 / (1 - p); the rest are exactly zero.
    assert set(np.unique(out)) == {np.float32(0.0), np.float32(1 / (1 - p))}
    # The standard error of the dropped fraction is sqrt(p (1 - p) / n) ~ 0.001.
    assert abs(np.mean(out == 0) - p) < 0.01
    assert abs(out.mean() - 1.0) < 0.01


def test_backward_uses_the_forward_mask() -> None:
    layer = Dropout(0.5, rng=0)
    mask = layer.forward(np.ones((50, 40)))
    g = np.random.default_rng(1).standard_normal((50, 40))
    np.testing.assert_array_equal(layer.backward(g), g * mask)


def test_backward_matches_finite_differences() -> None:
    """In training, with the mask held fixed, backward is the derivative of forward."""
    layer = Dropout(0.4, rng=0)  # a new layer is in training mode
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, 4, 5))  # float64: the mask and the differences are too
    probe = rng.standard_normal(x.shape)
    start = layer.rng.bit_generator.state

    def probe_loss() -> float:
        # Restoring the generator before each forward draws the same mask every time, so the
        # loss is a fixed function of x that central differences can probe.
        layer.rng.bit_generator.state = start
        return float(np.sum(layer.forward(x) * probe))

    probe_loss()
    analytic = layer.backward(probe)
    numeric = numerical_gradient(probe_loss, x)
    np.testing.assert_allclose(analytic, numeric, rtol=1e-7, atol=1e-9)
    # Not a vacuous pass: the mask dropped some entries (zero gradient) and kept others.
    dropped = analytic == 0
    assert dropped.any() and not dropped.all()


def test_each_forward_draws_a_new_mask_and_seeds_repeat() -> None:
    x = np.ones(1000)
    a, b = Dropout(0.5, rng=3), Dropout(0.5, rng=3)
    first = a.forward(x)
    np.testing.assert_array_equal(first, b.forward(x))
    assert not np.array_equal(first, a.forward(x))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dropout_mask_values_and_dtype(dtype: type) -> None:
    mask = dropout_mask((100, 30), 0.25, np.random.default_rng(0), dtype)
    assert mask.shape == (100, 30)
    assert mask.dtype == dtype
    assert set(np.unique(mask)) <= {dtype(0.0), dtype(1 / 0.75)}
    assert abs(mask.mean() - 1.0) < 0.05


@pytest.mark.parametrize("p", [-0.1, 1.0, 1.5, float("nan")])
def test_probability_outside_unit_interval_is_rejected(p: float) -> None:
    expected = re.escape(f"p: expected a dropout probability in [0, 1), got {p}")
    with pytest.raises(ValueError, match=expected):
        Dropout(p)
    with pytest.raises(ValueError, match=expected):
        dropout_mask((2,), p, np.random.default_rng(0), np.float32)


def test_backward_checks_shape_and_order() -> None:
    layer = Dropout(0.5, rng=0)
    with pytest.raises(RuntimeError, match="before forward"):
        layer.backward(np.ones(3))
    layer.forward(np.ones((2, 3)))
    with pytest.raises(ValueError, match=re.escape("expected shape (2, 3), got (3,)")):
        layer.backward(np.ones(3))


def test_shared_axes_keep_or_drop_a_whole_slice() -> None:
    layer = Dropout(0.5, rng=0, shared_axes=(-1,))
    x = np.ones((6, 5, 4))
    out = layer.forward(x)
    # Along the shared last axis every value is the same: 0 or 1 / (1 - p).
    assert np.all(out == out[..., :1])
    assert set(np.unique(out)) == {0.0, 2.0}
    grad = np.random.default_rng(1).standard_normal(x.shape)
    np.testing.assert_array_equal(layer.backward(grad), grad * out)  # out is the mask here


def test_shared_axes_out_of_range() -> None:
    layer = Dropout(0.5, rng=0, shared_axes=(3,))
    with pytest.raises(ValueError, match=r"shared_axes: axis 3 .* shape \(2, 3\)"):
        layer.forward(np.ones((2, 3)))


@pytest.mark.parametrize("p", [None, "half", [0.5]])
def test_probability_that_is_not_a_number_is_named(p: object) -> None:
    expected = re.escape(f"p: expected a dropout probability in [0, 1), got {p!r}")
    with pytest.raises(ValueError, match=f"^{expected}$"):
        Dropout(p)
