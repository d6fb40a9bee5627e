"""Learning-rate schedulers: they change ``optimizer.lr`` between steps.

``StepLR`` multiplies the learning rate by ``gamma`` every ``step_size`` calls of
``step()``::

    lr = lr * gamma    when the call count is a multiple of step_size

``ReduceLROnPlateau`` watches a metric passed to ``step(metric)`` (mode ``"min"``: lower
is better, e.g. a validation loss; ``"max"``: higher is better). With the relative
threshold ``th``, a value is an improvement when::

    metric < best * (1 - th)                  mode "min"
    metric > best * (1 + th)                  mode "max"

After more than ``patience`` calls in a row without improvement, and outside the
``cooldown`` calls that follow a reduction, ``lr = max(lr * factor, min_lr)``; changes
smaller than ``eps`` are skipped.

``decay_factor`` is a schedule over a known number of steps ``T``, by which the rate of
step ``t`` (counted from 0) is multiplied, as torch's ``LinearLR(start_factor=1,
end_factor=0, total_iters=T)`` and ``CosineAnnealingLR(T_max=T)`` in their closed forms::

    linear   f(t) = 1 - t / T
    cosine   f(t) = (1 + cos(pi t / T)) / 2
    none     f(t) = 1

StepLR and ReduceLROnPlateau update the rate in place as torch's do (``lr * gamma``,
not ``initial_lr * gamma**k``), so the sequences match ``torch.optim.lr_scheduler`` to
the last bit. Their ``state_dict()`` is a plain dict of numbers; the learning rate itself
is saved with the optimizer's state.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from rnnkit.optim.optimizer import Optimizer, check_state_keys

LR_DECAYS = ("none", "linear", "cosine")


def decay_factor(kind: str, step: int, total: int) -> float:
    """The factor ``f(t)`` of the module docstring for step ``t = step`` of ``total``;
    steps past ``total`` keep the last step's factor.

    Args:
        kind: ``"none"``, ``"linear"`` or ``"cosine"``.
        step: ``t``, the steps taken before this one (0 for the first).
        total: ``T``, the steps the schedule spans (at least 1).
    """
    if kind not in LR_DECAYS:
        raise ValueError(f"kind: expected one of {', '.join(LR_DECAYS)}, got {kind!r}")
    if total < 1:
        raise ValueError(f"total: expected at least 1 step, got {total}")
    if kind == "none":
        return 1.0
    t = min(max(step, 0), total - 1)
    if kind == "linear":
        return 1.0 - t / total
    return 0.5 * (1.0 + math.cos(math.pi * t / total))


class LRScheduler:
    """Base class: the optimizer, a call counter, and state dicts of numeric attributes."""

    # The attributes saved by state_dict(); each is an int or a float.
    state_keys: tuple[str, ...] = ("last_epoch",)

    def __init__(self, optimizer: Optimizer) -> None:
        self.optimizer = optimizer
        # How many times step() has been called (torch's name).
        self.last_epoch = 0

    def state_dict(self) -> dict[str, float | int]:
        return {key: getattr(self, key) for key in self.state_keys}

    def load_state_dict(self, state: Mapping[str, float | int]) -> None:
        """Restore the attributes of ``state_dict()``; the keys must match exactly."""
        check_state_keys(self.state_keys, state, type(self).__name__)
        for key in self.state_keys:
            # Keep each attribute's type: counters stay ints, rates stay floats, and
            # 0-d arrays (e.g. read back from a safetensors file) become plain numbers.
            setattr(self, key, type(getattr(self, key))(state[key]))


class StepLR(LRScheduler):
    """``torch.optim.lr_scheduler.StepLR``: decay the rate by ``gamma`` every ``step_size``."""

    state_keys = ("last_epoch", "step_size", "gamma")

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1) -> None:
        super().__init__(optimizer)
        if step_size < 1:
            raise ValueError(f"step_size must be a positive integer, got {step_size}")
        self.step_size = int(step_size)
        self.gamma = float(gamma)

    def step(self) -> None:
        """Call once per epoch, after the epoch's optimizer steps."""
        self.last_epoch += 1
        if self.last_epoch % self.step_size == 0:
            self.optimizer.lr *= self.gamma


class ReduceLROnPlateau(LRScheduler):
    """``torch.optim.lr_scheduler.ReduceLROnPlateau`` with the relative threshold."""

    state_keys = (
        "last_epoch",
        "factor",
        "patience",
        "threshold",
        "min_lr",
        "cooldown",
        "eps",
        "best",
        "num_bad_epochs",
        "cooldown_counter",
    )

    def __init__(
        self,
        optimizer: Optimizer,
        factor: float = 0.1,
        patience: int = 10,
        threshold: float = 1e-4,
        min_lr: float = 0,
        mode: str = "min",
        cooldown: int = 0,
        eps: float = 1e-8,
    ) -> None:
        super().__init__(optimizer)
        if factor >= 1.0:
            raise ValueError(f"factor should be < 1.0, got {factor}")
        if mode not in ("min", "max"):
            raise ValueError(f"mode must be 'min' or 'max', got {mode!r}")
        self.factor = float(factor)
        self.patience = int(patience)
        self.threshold = float(threshold)
        self.min_lr = float(min_lr)
        self.mode = mode
        self.cooldown = int(cooldown)
        self.eps = float(eps)
        # The worst possible value, so the first metric is always an improvement.
        self.best = math.inf if mode == "min" else -math.inf
        self.num_bad_epochs = 0
        self.cooldown_counter = 0

    def _is_better(self, metric: float) -> bool:
        if self.mode == "min":
            return metric < self.best * (1.0 - self.threshold)
        return metric > self.best * (self.threshold + 1.0)

    def step(self, metric: float) -> None:
        """Call once per evaluation with the watched metric (a number or 0-d array)."""
        metric = float(metric)
        improved = self._is_better(metric)
        if improved:
            self.best = metric
        self.step_judged(improved)

    def step_judged(self, improved: bool) -> None:
        """Call once per evaluation instead of ``step`` when the caller judges improvement
        itself (for example by a second measure where the first ties); the count of bad
        evaluations, the cooldown and the reduction are as ``step``'s."""
        self.last_epoch += 1
        if improved:
            self.num_bad_epochs = 0
        else:
            self.num_bad_epochs += 1
        if self.cooldown_counter > 0:
            # Bad epochs right after a reduction do not count: the new rate needs time.
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0
        if self.num_bad_epochs > self.patience:
            old_lr = self.optimizer.lr
            new_lr = max(old_lr * self.factor, self.min_lr)
            if old_lr - new_lr > self.eps:
                self.optimizer.lr = new_lr
            self.cooldown_counter = self.cooldown
            self.num_bad_epochs = 0
