"""RMSprop against torch.optim.RMSprop, plain, centered and with momentum."""

import pytest

from rnnkit.optim import RMSprop
from tests.optim.common import assert_matches_torch


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"lr": 0.01, "centered": True},
        {"lr": 0.01, "momentum": 0.9},
        {"lr": 0.01, "alpha": 0.9, "eps": 1e-4, "weight_decay": 0.1},
        {"lr": 0.005, "centered": True, "momentum": 0.5, "weight_decay": 0.05},
    ],
    ids=["default", "centered", "momentum", "alpha-eps-decay", "centered-momentum-decay"],
)
def test_rmsprop_matches_torch(torch, kwargs):
    assert_matches_torch(torch, RMSprop, torch.optim.RMSprop, kwargs)
