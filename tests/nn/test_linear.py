"""Linear: torch's initialisation, finite-difference gradients, the torch oracle, bad input."""

from __future__ import annotations

import re
from types import ModuleType

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rnnkit.nn import Linear
from tests.gradcheck import assert_close, numerical_gradient


def make_linear(bias: bool = True) -> tuple[Linear, np.ndarray, np.ndarray]:
    """A float64 layer, an input of shape (2, 3, 4) and an output gradient to probe with."""
    rng = np.random.default_rng(0)
    layer = Linear(4, 5, bias=bias, dtype=np.float64, rng=rng)
    x = rng.standard_normal((2, 3, 4))
    probe = rng.standard_normal((2, 3, 5))
    return layer, x, probe


def test_init_is_uniform_within_torch_bound() -> None:
    layer = Linear(64, 200, rng=1)
    bound = 1 / np.sqrt(64)
    for name in ("weight", "bias"):
        values = layer.params[name]
        assert values.dtype == np.float32
        assert np.all(np.abs(values) <= bound)
        # Uniform, not squeezed into the middle: the extremes come close to the bound.
        assert np.max(np.abs(values)) > 0.95 * bound
    assert layer.params["weight"].shape == (200, 64)
    assert layer.params["bias"].shape == (200,)


def test_seeded_init_is_reproducible() -> None:
    a, b = Linear(3, 2, rng=7), Linear(3, 2, rng=7)
    np.testing.assert_array_equal(a.params["weight"], b.params["weight"])
    np.testing.assert_array_equal(a.params["bias"], b.params["bias"])


def test_without_bias_has_only_weight() -> None:
    layer, x, probe = make_linear(bias=False)
    assert sorted(layer.params) == sorted(layer.grads) == ["weight"]
    np.testing.assert_allclose(layer.forward(x), x @ layer.params["weight"].T)
    layer.backward(probe)


def test_output_has_layer_dtype() -> None:
    layer = Linear(3, 2)
    assert layer.forward(np.ones((4, 3))).dtype == np.float32


@pytest.mark.parametrize(
    ("wrt", "bias"),
    [("input", True), ("weight", True), ("bias", True), ("input", False), ("weight", False)],
)
def test_gradients_match_finite_differences(wrt: str, bias: bool) -> None:
    layer, x, probe = make_linear(bias)
    layer.forward(x)
    grad_input = layer.backward(probe)
    analytic = grad_input if wrt == "input" else layer.grads[wrt]
    target = x if wrt == "input" else layer.params[wrt]
    numeric = numerical_gradient(lambda: float(np.sum(layer.forward(x) * probe)), target)
    np.testing.assert_allclose(analytic, numeric, rtol=1e-7, atol=1e-9)


def test_backward_adds_into_the_same_arrays() -> None:
    layer, x, probe = make_linear()
    grads_before = {name: id(grad) for name, grad in layer.grads.items()}
    layer.forward(x)
    layer.backward(probe)
    once = {name: grad.copy() for name, grad in layer.grads.items()}
    layer.backward(probe)
    for name, grad in layer.grads.items():
        assert id(grad) == grads_before[name]
        np.testing.assert_allclose(grad, 2 * once[name])


def test_matches_torch(torch: ModuleType) -> None:
    layer, x, probe = make_linear()
    oracle = torch.nn.Linear(4, 5, dtype=torch.float64)
    oracle.load_state_dict({k: torch.from_numpy(v) for k, v in layer.state_dict().items()})
    x_t = torch.from_numpy(x).requires_grad_()
    out_t = oracle(x_t)
    out_t.backward(torch.from_numpy(probe))

    assert_close(layer.forward(x), out_t)
    assert_close(layer.backward(probe), x_t.grad)
    assert_close(layer.grads["weight"], oracle.weight.grad)
    assert_close(layer.grads["bias"], oracle.bias.grad)


@settings(max_examples=25, deadline=None)
@given(
    leading=st.lists(st.integers(0, 4), max_size=3),
    in_features=st.integers(1, 5),
    out_features=st.integers(1, 5),
)
def test_any_leading_shape(leading: list[int], in_features: int, out_features: int) -> None:
    rng = np.random.default_rng(0)
    layer = Linear(in_features, out_features, dtype=np.float64, rng=rng)
    x = rng.standard_normal((*leading, in_features))
    y = layer.forward(x)
    w, b = layer.params["weight"], layer.params["bias"]
    np.testing.assert_allclose(y, np.einsum("...i,oi->...o", x, w) + b, atol=1e-12)

    g = rng.standard_normal(y.shape)
    grad_input = layer.backward(g)
    assert grad_input.shape == x.shape
    leading_axes = list(range(len(leading)))
    expected_weight = np.tensordot(g, x, axes=(leading_axes, leading_axes))
    np.testing.assert_allclose(layer.grads["weight"], expected_weight, atol=1e-12)
    np.testing.assert_allclose(layer.grads["bias"], g.reshape(-1, out_features).sum(0))


@pytest.mark.parametrize("shape", [(2, 3), (3,), ()])
def test_wrong_feature_size_names_expected_and_given(shape: tuple[int, ...]) -> None:
    layer = Linear(4, 2)
    given_shape = re.escape(str(shape))
    with pytest.raises(ValueError, match=rf"input: .*in_features=4.*got shape {given_shape}"):
        layer.forward(np.zeros(shape))


def test_wrong_grad_shape_is_rejected() -> None:
    layer = Linear(4, 2)
    layer.forward(np.zeros((3, 4)))
    with pytest.raises(ValueError, match=r"grad_output: expected shape \(3, 2\), got \(3, 4\)"):
        layer.backward(np.zeros((3, 4)))


def test_backward_before_forward_is_an_error() -> None:
    with pytest.raises(RuntimeError, match="before forward"):
        Linear(2, 2).backward(np.zeros(2))


def test_zero_inputs_give_the_bias_like_torch() -> None:
    layer = Linear(0, 3, rng=0)
    y = layer.forward(np.zeros((2, 0)))
    np.testing.assert_array_equal(y, np.broadcast_to(layer.params["bias"], (2, 3)))
    # With no inputs torch's bound 1 / sqrt(in_features) would be infinite; it uses 0.
    assert not np.any(layer.params["bias"])


def test_bad_sizes_and_dtype_are_rejected() -> None:
    with pytest.raises(ValueError, match="negative"):
        Linear(-1, 3)
    with pytest.raises(ValueError, match="dtype must be float32 or float64, got int32"):
        Linear(2, 3, dtype=np.int32)
