"""The optimizers the command line offers, by name."""

from __future__ import annotations

import numpy as np

from rnnkit.optim import SGD, Adam, AdamW, Optimizer

OPTIMIZERS = ("adam", "sgd")


def make_optimizer(
    name: str,
    params: dict[str, np.ndarray],
    grads: dict[str, np.ndarray],
    lr: float,
    weight_decay: float = 0.0,
) -> Optimizer:
    """``adam`` (torch's defaults apart from LR) or plain ``sgd`` over a model's arrays.

    With WEIGHT_DECAY, ``adam`` becomes AdamW: the decay is decoupled from the adaptive
    step (Loshchilov & Hutter 2019), which regularises as intended where an L2 term in the
    gradient would be divided by Adam's running scale; ``sgd`` adds it to the gradient.
    """
    if name == "adam":
        if weight_decay:
            return AdamW(params, grads, lr=lr, weight_decay=weight_decay)
        return Adam(params, grads, lr=lr)
    if name == "sgd":
        return SGD(params, grads, lr=lr, weight_decay=weight_decay)
    raise ValueError(f"optimizer: expected one of {OPTIMIZERS}, got {name!r}")
