"""Adagrad against torch.optim.Adagrad in float64: each option, a changing rate, and checks."""

import numpy as np
import pytest

from rnnkit.optim import Adagrad
from tests.optim.common import (
    assert_matches_torch,
    gradient_sequence,
    make_optimizer,
    random_arrays,
    trajectory,
)


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"lr": 0.1},
        {"lr": 0.1, "lr_decay": 0.2},
        {"lr": 0.05, "weight_decay": 0.3},
        {"lr": 0.1, "initial_accumulator_value": 0.5},
        {"lr": 0.1, "eps": 1e-3},
        {"lr": 0.1, "lr_decay": 0.1, "weight_decay": 0.1, "initial_accumulator_value": 0.2},
    ],
    ids=["default", "lr", "lr_decay", "weight_decay", "initial_accumulator", "eps", "all"],
)
def test_adagrad_matches_torch(torch, kwargs):
    assert_matches_torch(torch, Adagrad, torch.optim.Adagrad, kwargs, steps=12)


def test_a_rate_changed_between_steps_is_decayed_as_torch_does(torch):
    # A scheduler sets lr; the decay by the step count applies to whatever lr is now.
    kwargs = {"lr": 0.1, "lr_decay": 0.3}
    initial, gradients = random_arrays(seed=0), gradient_sequence(6)
    ours = make_optimizer(Adagrad, kwargs, initial)
    params = {name: torch.tensor(value, requires_grad=True) for name, value in initial.items()}
    theirs = torch.optim.Adagrad(list(params.values()), **kwargs)
    for step, step_grads in enumerate(gradients):
        if step == 3:
            ours.lr = theirs.param_groups[0]["lr"] = 0.02
        trajectory(ours, [step_grads])
        for name, grad in step_grads.items():
            params[name].grad = torch.tensor(grad)
        theirs.step()
    for name, value in params.items():
        np.testing.assert_allclose(ours.params[name], value.detach().numpy(), rtol=1e-12)


def test_the_sum_starts_at_the_initial_value_and_only_grows():
    optimizer = make_optimizer(Adagrad, {"initial_accumulator_value": 0.25}, random_arrays(0))
    start = optimizer.state_dict()["sum.weight_ih_l0"]
    np.testing.assert_array_equal(start, np.full_like(start, 0.25))
    trajectory(optimizer, gradient_sequence(3))
    after = optimizer.state_dict()["sum.weight_ih_l0"]
    grads = gradient_sequence(3)
    expected = 0.25 + sum(g["weight_ih_l0"] ** 2 for g in grads)
    np.testing.assert_allclose(after, expected, rtol=1e-14)


@pytest.mark.parametrize(
    "name", ["lr", "lr_decay", "weight_decay", "initial_accumulator_value", "eps"]
)
def test_a_negative_hyperparameter_is_refused_by_name(name):
    with pytest.raises(ValueError, match=f"invalid {name}: -0.1"):
        make_optimizer(Adagrad, {name: -0.1}, random_arrays(0))
