"""Helpers shared by the optimizer tests: parameters, gradient sequences and trajectories.

Nothing here imports torch: the oracle tests pass the torch module in.
"""

from __future__ import annotations

import numpy as np

# Named and shaped like a small recurrent layer's parameters.
SHAPES = {"weight_ih_l0": (8, 3), "weight_hh_l0": (8, 2), "bias_ih_l0": (8,)}


def random_arrays(seed: int, dtype: type = np.float64) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {name: rng.standard_normal(shape).astype(dtype) for name, shape in SHAPES.items()}


def gradient_sequence(steps: int, seed: int = 100, dtype: type = np.float64) -> list[dict]:
    return [random_arrays(seed + step, dtype) for step in range(steps)]


def make_optimizer(cls: type, kwargs: dict, initial: dict[str, np.ndarray]):
    """``cls`` on copies of ``initial``, with zero gradients."""
    params = {name: value.copy() for name, value in initial.items()}
    grads = {name: np.zeros_like(value) for name, value in initial.items()}
    return cls(params, grads, **kwargs)


def trajectory(optimizer, gradients: list[dict]) -> list[dict[str, np.ndarray]]:
    """Copy each gradient into ``optimizer.grads`` in place, step, and record the params."""
    snapshots = []
    for step_grads in gradients:
        for name, grad in step_grads.items():
            optimizer.grads[name][...] = grad
        optimizer.step()
        snapshots.append({name: value.copy() for name, value in optimizer.params.items()})
    return snapshots


def torch_trajectory(torch, torch_cls: type, kwargs: dict, initial: dict, gradients: list):
    """The same run with a ``torch.optim`` optimizer; params come back as NumPy arrays."""
    params = {name: torch.tensor(value, requires_grad=True) for name, value in initial.items()}
    optimizer = torch_cls(list(params.values()), **kwargs)
    snapshots = []
    for step_grads in gradients:
        for name, grad in step_grads.items():
            params[name].grad = torch.tensor(grad)
        optimizer.step()
        snapshots.append({name: p.detach().numpy().copy() for name, p in params.items()})
    return snapshots


def assert_matches_torch(torch, cls: type, torch_cls: type, kwargs: dict, steps: int = 10):
    """Both optimizers, float64, same start and gradients: params agree after every step."""
    initial = random_arrays(seed=0)
    gradients = gradient_sequence(steps)
    ours = trajectory(make_optimizer(cls, kwargs, initial), gradients)
    theirs = torch_trajectory(torch, torch_cls, kwargs, initial, gradients)
    for step, (mine, reference) in enumerate(zip(ours, theirs, strict=True), start=1):
        for name in SHAPES:
            np.testing.assert_allclose(
                mine[name], reference[name], rtol=1e-12, atol=0, err_msg=f"{name}, step {step}"
            )
    # Guard against a vacuous pass: the parameters must actually have moved.
    assert not np.allclose(ours[-1]["weight_ih_l0"], initial["weight_ih_l0"])
