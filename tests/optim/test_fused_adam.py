"""The C Adam/AdamW step of float32 parameters (``fused_adam``) against the float64 NumPy
step, over several steps, with and without weight decay."""

from __future__ import annotations

import numpy as np
import pytest

from rnnkit.nn import c_binding
from rnnkit.optim import Adam, AdamW, fused_adam
from tests.optim.common import gradient_sequence, make_optimizer, random_arrays, trajectory

pytestmark = pytest.mark.skipif(
    c_binding.LIBRARY is None, reason="no C loops (tests/nn/test_c_loops.py fails for that)"
)


@pytest.fixture(params=c_binding.supported() or ["generic"])
def kernel(request: pytest.FixtureRequest):
    previous = c_binding.use_kernel(request.param)
    yield request.param
    c_binding.use_kernel(previous)


@pytest.mark.parametrize(
    "cls, kwargs",
    [
        (Adam, {"lr": 0.01}),
        (Adam, {"lr": 0.05, "betas": (0.5, 0.9), "eps": 1e-3, "weight_decay": 0.1}),
        (AdamW, {"lr": 0.01, "weight_decay": 0.5}),
        (AdamW, {"lr": 0.01, "weight_decay": 0}),
    ],
    ids=["adam", "adam-decay", "adamw", "adamw-no-decay"],
)
def test_float32_steps_in_c_match_float64(cls: type, kwargs: dict, kernel: str) -> None:
    initial = random_arrays(0)
    gradients = gradient_sequence(5)
    exact = trajectory(make_optimizer(cls, kwargs, initial), gradients)
    initial32 = {name: value.astype(np.float32) for name, value in initial.items()}
    optimizer = make_optimizer(cls, kwargs, initial32)
    assert all(fused_adam.applies(p) for p in optimizer.params.values())
    fused = trajectory(
        optimizer, [{k: v.astype(np.float32) for k, v in g.items()} for g in gradients]
    )
    for got, want in zip(fused, exact, strict=True):
        for name in want:
            assert got[name].dtype == np.float32
            np.testing.assert_allclose(got[name], want[name], rtol=2e-5, atol=2e-6)


def test_the_c_step_matches_the_numpy_float32_step(kernel: str) -> None:
    # sizes that leave a tail after the last whole vector
    rng = np.random.default_rng(4)
    arrays = {"a": rng.standard_normal(37).astype(np.float32), "b": np.ones((3, 5), np.float32)}
    grads = [{k: rng.standard_normal(v.shape).astype(np.float32) for k, v in arrays.items()}]
    in_c = trajectory(make_optimizer(AdamW, {"lr": 0.1}, arrays), grads * 3)
    previous = c_binding.use_kernel(c_binding.NUMPY)
    try:
        in_numpy = trajectory(make_optimizer(AdamW, {"lr": 0.1}, arrays), grads * 3)
    finally:
        c_binding.use_kernel(previous)
    for got, want in zip(in_c, in_numpy, strict=True):
        for name in want:
            # a few float32 roundings apart (the C loop fuses a * b + c)
            np.testing.assert_allclose(got[name], want[name], rtol=1e-5, atol=1e-6)
            assert not np.array_equal(got[name], arrays[name])  # the step moved it


def test_float64_and_strided_arrays_keep_the_numpy_step() -> None:
    assert not fused_adam.applies(np.zeros(4))
    assert not fused_adam.applies(np.zeros((4, 4), np.float32)[:, ::2])
