"""clip_grad_norm against torch.nn.utils.clip_grad_norm_, and on its own."""

from types import ModuleType

import numpy as np
import pytest

from rnnkit.optim import clip_grad_norm
from tests.optim.common import random_arrays


def torch_clip(
    torch: ModuleType, arrays: list[np.ndarray], max_norm: float
) -> tuple[float, list[np.ndarray]]:
    tensors = [torch.zeros(a.shape, dtype=torch.float64, requires_grad=True) for a in arrays]
    for tensor, array in zip(tensors, arrays, strict=True):
        tensor.grad = torch.tensor(array)
    norm = torch.nn.utils.clip_grad_norm_(tensors, max_norm)
    return float(norm), [t.grad.numpy() for t in tensors]


@pytest.mark.parametrize("max_norm", [0.5, 3.0, 100.0], ids=["clipped", "slightly", "untouched"])
def test_matches_torch_on_a_grads_dict(torch, max_norm):
    grads = random_arrays(seed=3)
    norm_ref, expected = torch_clip(torch, list(grads.values()), max_norm)
    norm = clip_grad_norm(grads, max_norm)
    assert norm == pytest.approx(norm_ref, rel=1e-14)
    for got, want in zip(grads.values(), expected, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-14, atol=0)


def test_clipped_norm_is_max_norm_and_returned_norm_is_the_old_one():
    grads = [np.full(4, 3.0), np.full((2, 2), 4.0)]  # global norm sqrt(4*9 + 4*16) = 10
    norm = clip_grad_norm(grads, 2.0)
    assert norm == pytest.approx(10.0)
    total = np.sqrt(sum(np.sum(g * g) for g in grads))
    assert total == pytest.approx(2.0, rel=1e-6)


def test_small_gradients_are_not_changed_at_all():
    grads = random_arrays(seed=4)
    before = {name: value.copy() for name, value in grads.items()}
    clip_grad_norm(grads.values(), 1e3)
    for name, value in grads.items():
        np.testing.assert_array_equal(value, before[name])


def test_float32_matches_torch_and_keeps_its_dtype(torch):
    grads = [a.astype(np.float32) * 10 for a in random_arrays(seed=5).values()]
    tensors = [torch.zeros(g.shape, requires_grad=True) for g in grads]
    for tensor, grad in zip(tensors, grads, strict=True):
        tensor.grad = torch.tensor(grad)
    norm_ref = float(torch.nn.utils.clip_grad_norm_(tensors, 1.0))
    norm = clip_grad_norm(grads, 1.0)
    assert norm == pytest.approx(norm_ref, rel=1e-6)
    for got, tensor in zip(grads, tensors, strict=True):
        assert got.dtype == np.float32
        np.testing.assert_allclose(got, tensor.grad.numpy(), rtol=1e-6)


def test_single_array_and_empty_input():
    grad = np.array([3.0, 4.0])
    assert clip_grad_norm(grad, 1.0) == pytest.approx(5.0)
    np.testing.assert_allclose(grad, [0.6, 0.8], rtol=1e-6)
    assert clip_grad_norm([], 1.0) == 0.0
