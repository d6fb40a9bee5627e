"""SGD against torch.optim.SGD, for each combination of its options."""

import numpy as np
import pytest

from rnnkit.optim import SGD
from tests.optim.common import assert_matches_torch


@pytest.mark.parametrize(
    "kwargs",
    [
        {"lr": 0.1},
        {"lr": 0.1, "momentum": 0.9},
        {"lr": 0.1, "momentum": 0.9, "dampening": 0.5},
        {"lr": 0.1, "momentum": 0.9, "nesterov": True},
        {"lr": 0.1, "weight_decay": 0.1},
        {"lr": 0.05, "momentum": 0.8, "dampening": 0.3, "weight_decay": 0.01},
        {"lr": 0.05, "momentum": 0.8, "weight_decay": 0.2, "nesterov": True},
    ],
    ids=["plain", "momentum", "dampening", "nesterov", "decay", "damp-decay", "nesterov-decay"],
)
def test_sgd_matches_torch(torch, kwargs):
    assert_matches_torch(torch, SGD, torch.optim.SGD, kwargs)


def test_nesterov_needs_momentum_and_no_dampening():
    params, grads = {"w": np.zeros(1)}, {"w": np.zeros(1)}
    with pytest.raises(ValueError, match="Nesterov"):
        SGD(params, grads, lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="Nesterov"):
        SGD(params, grads, lr=0.1, momentum=0.9, dampening=0.1, nesterov=True)
