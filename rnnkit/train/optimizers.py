"""The optimizers the command line offers, by name."""

from __future__ import annotations

import numpy as np

from rnnkit.optim import SGD, Adam, Optimizer

OPTIMIZERS = ("adam", "sgd")


def make_optimizer(
    name: str, params: dict[str, np.ndarray], grads: dict[str, np.ndarray], lr: float
) -> Optimizer:
    """``adam`` (torch's defaults apart from LR) or plain ``sgd`` over a model's arrays."""
    if name == "adam":
        return Adam(params, grads, lr=lr)
    if name == "sgd":
        return SGD(params, grads, lr=lr)
    raise ValueError(f"optimizer: expected one of {OPTIMIZERS}, got {name!r}")
