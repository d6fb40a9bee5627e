"""Checking helpers shared by the test modules; no PyTorch needed."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def numerical_gradient(f: Callable[[], float], x: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """Central differences ``(f(x + eps) - f(x - eps)) / 2 eps`` of ``f`` w.r.t. each entry.

    ``f`` takes no argument: it reads ``x``, which is perturbed in place and restored, so
    ``x`` may be a layer's parameter as well as an input.
    """
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        saved = x[i]
        x[i] = saved + eps
        up = f()
        x[i] = saved - eps
        down = f()
        x[i] = saved
        grad[i] = (up - down) / (2 * eps)
    return grad


def assert_close(ours: np.ndarray, theirs: object, tol: float = 1e-10) -> None:
    """Relative error ``max |ours - theirs| / max |theirs|`` at most ``tol``.

    ``theirs`` may be a torch tensor: it is detached and converted.
    """
    if hasattr(theirs, "detach"):
        theirs = theirs.detach().numpy()
    theirs = np.asarray(theirs)
    assert np.shape(ours) == theirs.shape
    scale = max(float(np.max(np.abs(theirs), initial=0.0)), np.finfo(np.float64).tiny)
    error = float(np.max(np.abs(ours - theirs), initial=0.0)) / scale
    assert error <= tol, f"relative error {error:.3g} > {tol:g}"


def check_with_fixed_masks(
    model: object,
    loss_and_backward: Callable[[], object],
    loss: Callable[[], float],
    names: list[str],
    tol: float = 1e-6,
) -> None:
    """The gradients of NAMES that LOSS_AND_BACKWARD adds into ``model.grads`` against
    central differences of LOSS, with ``model.rng`` restored before every call, so that
    each one draws the same dropout masks and the loss is a fixed function of the weights.
    The gradients are copied first: LOSS may add to ``model.grads``."""
    start = model.rng.bit_generator.state
    model.zero_grad()
    loss_and_backward()
    grads = {name: model.grads[name].copy() for name in names}

    def replayed() -> float:
        model.rng.bit_generator.state = start
        return loss()

    for name in names:
        assert_close(grads[name], numerical_gradient(replayed, model.params[name]), tol=tol)
