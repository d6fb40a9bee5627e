"""Embedding: lookup, padding row, scatter-add gradient, the torch oracle, bad indices."""

from __future__ import annotations

import re
from types import ModuleType

import numpy as np
import pytest

from rnnkit.nn import Embedding
from tests.gradcheck import assert_close, numerical_gradient

# Repeats id 3 (its row must sum both gradients) and uses the padding id 0 twice.
INDICES = np.array([[3, 0, 1], [3, 6, 0]])


def make_embedding(padding_idx: int | None = 0) -> tuple[Embedding, np.ndarray]:
    """A float64 table of 7 rows of width 4 and an output gradient to probe with."""
    rng = np.random.default_rng(0)
    layer = Embedding(7, 4, padding_idx=padding_idx, dtype=np.float64, rng=rng)
    probe = rng.standard_normal((*INDICES.shape, 4))
    return layer, probe


def test_forward_looks_up_rows() -> None:
    layer, _ = make_embedding(padding_idx=None)
    out = layer.forward(INDICES)
    assert out.shape == (2, 3, 4)
    np.testing.assert_array_equal(out[1, 1], layer.params["weight"][6])
    np.testing.assert_array_equal(out[0, 0], out[1, 0])


def test_init_is_standard_normal_with_zero_padding_row() -> None:
    layer = Embedding(300, 100, padding_idx=5, rng=0)
    weight = layer.params["weight"]
    assert weight.dtype == np.float32
    assert not np.any(weight[5])
    others = np.delete(weight, 5, axis=0)
    assert abs(others.mean()) < 0.02
    assert abs(others.std() - 1.0) < 0.02


def test_negative_padding_idx_counts_from_the_end() -> None:
    layer = Embedding(7, 4, padding_idx=-1, rng=0)
    assert layer.padding_idx == 6
    assert not np.any(layer.params["weight"][6])


@pytest.mark.parametrize("padding_idx", [None, 0])
def test_weight_gradient_matches_finite_differences(padding_idx: int | None) -> None:
    layer, probe = make_embedding(padding_idx)
    layer.forward(INDICES)
    layer.backward(probe)
    weight = layer.params["weight"]
    numeric = numerical_gradient(lambda: float(np.sum(layer.forward(INDICES) * probe)), weight)
    if padding_idx is not None:
        # The padding row is used by forward but deliberately frozen, as in torch.
        assert not np.any(layer.grads["weight"][padding_idx])
        assert np.any(numeric[padding_idx])
        numeric[padding_idx] = 0.0
    np.testing.assert_allclose(layer.grads["weight"], numeric, rtol=1e-7, atol=1e-9)
    # Row 3 is looked up twice: its gradient is the sum of both probes.
    np.testing.assert_allclose(layer.grads["weight"][3], probe[0, 0] + probe[1, 0])


def test_backward_adds_into_the_same_array() -> None:
    layer, probe = make_embedding()
    grad = layer.grads["weight"]
    layer.forward(INDICES)
    layer.backward(probe)
    once = grad.copy()
    layer.backward(probe)
    assert layer.grads["weight"] is grad
    np.testing.assert_allclose(grad, 2 * once)


@pytest.mark.parametrize("padding_idx", [None, 0])
def test_matches_torch(torch: ModuleType, padding_idx: int | None) -> None:
    layer, probe = make_embedding(padding_idx)
    oracle = torch.nn.Embedding(7, 4, padding_idx=padding_idx, dtype=torch.float64)
    oracle.load_state_dict({k: torch.from_numpy(v) for k, v in layer.state_dict().items()})
    out_t = oracle(torch.from_numpy(INDICES))
    out_t.backward(torch.from_numpy(probe))

    assert_close(layer.forward(INDICES), out_t)
    layer.backward(probe)
    assert_close(layer.grads["weight"], oracle.weight.grad)


@pytest.mark.parametrize("bad", [7, -1, 100])
def test_out_of_range_index_names_range_and_value(bad: int) -> None:
    layer, _ = make_embedding()
    indices = np.array([[1, bad], [2, 3]])
    expected = f"indices: expected values in [0, 7), got {bad}"
    with pytest.raises(ValueError, match=re.escape(expected)):
        layer.forward(indices)


@pytest.mark.parametrize("indices", [np.array([1.0, 2.0]), np.array([True, False])])
def test_non_integer_indices_are_rejected(indices: np.ndarray) -> None:
    layer, _ = make_embedding()
    expected = f"indices: expected an integer array, got dtype {indices.dtype}"
    with pytest.raises(ValueError, match=expected):
        layer.forward(indices)


def test_bad_arguments_are_rejected() -> None:
    expected = "padding_idx: expected a value in [-7, 7), got 7"
    with pytest.raises(ValueError, match=re.escape(expected)):
        Embedding(7, 4, padding_idx=7)
    with pytest.raises(ValueError, match="negative"):
        Embedding(-1, 4)
    layer, _ = make_embedding()
    with pytest.raises(RuntimeError, match="before forward"):
        layer.backward(np.zeros((2, 3, 4)))
    layer.forward(INDICES)
    with pytest.raises(ValueError, match=re.escape("expected shape (2, 3, 4), got (2, 3)")):
        layer.backward(np.zeros((2, 3)))
