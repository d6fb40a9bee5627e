"""Weight averaging for evaluation: an exponential moving average of the parameters.

Training keeps stepping the raw weights; beside them it keeps (Polyak averaging, in its
exponential form)::

    theta_ema <- d_t * theta_ema + (1 - d_t) * theta      after optimizer step t

with ``d_t = decay * (1 - decay^(t-1)) / (1 - decay^t)``, which tends to ``decay``. This is
``decay`` with Adam's bias correction: the average starts at ``theta_1`` and weighs step
``s`` of ``t`` by ``(1 - decay) decay^(t-s) / (1 - decay^t)``, so no weight stays on the
random initial weights (plain ``decay`` 0.999 would still give them 37% after a thousand
steps). The averaged weights wander less than the raw ones around a minimum of the
training loss, and often validate better; they are what validation measures and what the
best model saves, while the optimizer's moments belong to the raw weights.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np


def step_decay(decay: float, step: int) -> float:
    """``d_t``: the weight of the old average after optimizer step STEP (1 for the first)."""
    return decay * (1 - decay ** (step - 1)) / (1 - decay**step)


def update_average(
    average: dict[str, np.ndarray], params: dict[str, np.ndarray], decay: float, step: int
) -> None:
    """Move AVERAGE towards PARAMS in place after optimizer step STEP (see the module)."""
    keep = step_decay(decay, step)
    for name, value in params.items():
        # theta_ema + (1 - d) (theta - theta_ema): the same sum, one temporary array.
        average[name] += (1 - keep) * (value - average[name])


@contextmanager
def averaged_weights(model: Any, average: dict[str, np.ndarray] | None) -> Iterator[None]:
    """Run the block with AVERAGE in MODEL's parameters (None: the raw ones), then put
    the raw weights back, bit for bit.

    The weights are copied in place, since the optimizer holds the parameter arrays.
    """
    if average is None:
        yield
        return
    raw = model.state_dict()
    model.load_state_dict(average)
    try:
        yield
    finally:
        model.load_state_dict(raw)


def restored_average(
    average: dict[str, np.ndarray], saved: dict[str, np.ndarray]
) -> dict[str, np.ndarray]:
    """SAVED (a checkpoint's average) as the new average, checked against AVERAGE's names,
    shapes and types; raises KeyError or ValueError when it does not fit."""
    if saved.keys() != average.keys():
        raise KeyError(f"the averaged weights name {sorted(saved)}, not {sorted(average)}")
    for name, value in saved.items():
        if value.shape != average[name].shape:
            raise ValueError(f"averaged weight {name} has shape {value.shape}")
    return {name: value.astype(average[name].dtype) for name, value in saved.items()}
