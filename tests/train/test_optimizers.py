"""The command line's optimizers by name: Adam, AdamW when weights decay, SGD."""

from __future__ import annotations

import numpy as np
import pytest

from rnnkit.optim import SGD, Adam, AdamW
from rnnkit.train.optimizers import make_optimizer


def one_step(name: str, weight_decay: float) -> tuple[object, np.ndarray]:
    """A step from w = 1 with a zero gradient: only the decay can move the weight."""
    params, grads = {"w": np.ones(3)}, {"w": np.zeros(3)}
    optimizer = make_optimizer(name, params, grads, lr=0.1, weight_decay=weight_decay)
    optimizer.step()
    return optimizer, params["w"]


def test_adam_without_decay_leaves_a_weight_with_no_gradient_alone() -> None:
    optimizer, w = one_step("adam", 0.0)
    assert type(optimizer) is Adam
    np.testing.assert_array_equal(w, 1.0)


def test_adam_with_decay_is_adamw_and_shrinks_by_lr_times_decay() -> None:
    optimizer, w = one_step("adam", 0.5)
    assert type(optimizer) is AdamW
    np.testing.assert_allclose(w, 1.0 - 0.1 * 0.5)


def test_sgd_adds_the_decay_to_the_gradient() -> None:
    optimizer, w = one_step("sgd", 0.5)
    assert type(optimizer) is SGD
    np.testing.assert_allclose(w, 1.0 - 0.1 * 0.5 * 1.0)


def test_unknown_optimizer() -> None:
    with pytest.raises(ValueError, match="optimizer"):
        make_optimizer("lbfgs", {}, {}, lr=0.1)
