"""Adam and AdamW against torch.optim.Adam and torch.optim.AdamW."""

import numpy as np
import pytest

from rnnkit.optim import Adam, AdamW
from tests.optim.common import assert_matches_torch


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"lr": 0.01, "weight_decay": 0.1},
        {"lr": 0.05, "betas": (0.5, 0.9), "eps": 1e-3},
    ],
    ids=["default", "decay", "betas-eps"],
)
def test_adam_matches_torch(torch, kwargs):
    assert_matches_torch(torch, Adam, torch.optim.Adam, kwargs)


@pytest.mark.parametrize(
    "kwargs",
    [{}, {"lr": 0.01, "weight_decay": 0.5}, {"lr": 0.01, "weight_decay": 0}],
    ids=["default", "strong-decay", "no-decay"],
)
def test_adamw_matches_torch(torch, kwargs):
    assert_matches_torch(torch, AdamW, torch.optim.AdamW, kwargs)


def test_adamw_decay_is_decoupled_from_adam_decay():
    # With a zero gradient, AdamW only shrinks the parameter by (1 - lr * wd), while
    # Adam's L2 term goes through the normalisation and moves it by about lr.
    params = {"w": np.array([2.0])}
    adamw = AdamW(params, {"w": np.zeros(1)}, lr=0.1, weight_decay=0.5)
    adamw.step()
    assert params["w"][0] == pytest.approx(2.0 * (1 - 0.1 * 0.5), rel=1e-15)


@pytest.mark.parametrize("betas", [(1.0, 0.999), (0.9, -0.1)])
def test_invalid_betas_are_rejected(betas):
    with pytest.raises(ValueError, match="beta"):
        Adam({"w": np.zeros(1)}, {"w": np.zeros(1)}, betas=betas)
