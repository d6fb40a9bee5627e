"""How a run trains: the settings every task shares, as one dataclass.

Each task's training settings subclass ``TrainingSettings`` and add their own fields (a
batch size, a window length, ...). The fields are ``rnnkit.config`` options, so they are
the single source of the command line's flags, of config.json's "training" section and of
what a resumed run may change: the budget, the learning rate, clipping, the frequencies and
the patience may change (``CHANGEABLE``); the optimizer, the seed and the averaging make
the run what it is and may not.

Frequencies are in optimizer steps and independent of each other: ``eval_every``
(validate, keep the best model), ``save_every`` (checkpoint; default: at each validation),
``log_every`` (a metrics record and, when the output is not a terminal, a printed line).
Patience is in steps too, so validating more often does not make the schedule more eager:
the learning rate is multiplied by ``plateau_factor`` at the first validation more than
``plateau_patience`` steps after the plateau measure last improved (so between
``plateau_patience`` and ``plateau_patience + eval_every`` steps after it, whatever
``eval_every`` is). With ``lr_decay``, every step's rate is the rate so lowered times the
schedule's factor at that step (``rnnkit.optim.schedulers.decay_factor``) over the
``max_steps`` of the run, or its ``epochs`` in steps; ``early_stop`` ends the run once the
watched measure has not improved for that many steps, and ``stop_lr_ratio`` once plateaus
have lowered the learning rate below that fraction of ``lr`` (by default 1e-3: ten halvings,
each after ``plateau_patience`` steps without improvement; the best model has long been
kept, and steps at such a rate change little but the time the run takes).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from rnnkit.config import CHANGEABLE, option
from rnnkit.optim.schedulers import LR_DECAYS
from rnnkit.train.optimizers import OPTIMIZERS


def check_decay(decay: float) -> str | None:
    """Why DECAY cannot be a moving average's decay (0, or strictly in (0, 1)), or None."""
    if decay == 0 or 0 < decay < 1:
        return None
    return f"must be above 0 and below 1 (e.g. 0.999), or 0 for none, got {decay}"


def lr_option(default_lr: dict[str, float]) -> Any:
    """The ``lr`` field of settings whose ``default_lr`` is DEFAULT_LR (optimizer -> rate)."""
    defaults = ", ".join(f"{rate:g} with {name}" for name, rate in default_lr.items())
    return option(None, f"learning rate (default {defaults})", minimum=1e-12, on_resume=CHANGEABLE)


def batch_size_option(default: int, help: str) -> Any:
    """The ``batch_size`` field, with a task's DEFAULT and HELP ("sentences per step")."""
    return option(default, help, minimum=1, maximum=1 << 20)


def eval_every_option(default: int | None, help: str) -> Any:
    """The ``eval_every`` field, with a task's DEFAULT and HELP."""
    return option(default, help, minimum=1, on_resume=CHANGEABLE, metavar="N")


def patience_option(default: int | None, help: str) -> Any:
    """The ``plateau_patience`` field, with a task's DEFAULT and HELP."""
    return option(default, help, minimum=0, on_resume=CHANGEABLE, metavar="STEPS")


@dataclass
class TrainingSettings:
    """What every run needs; see the module docstring. ``None`` means the task's default.

    ``default_lr`` is the learning rate of each optimizer when ``lr`` is not given.
    """

    default_lr: ClassVar[dict[str, float]] = {"adam": 2e-3, "sgd": 0.1}
    lr: float | None = lr_option(default_lr)
    optimizer: str = option(
        "adam", "the optimizer (adam is AdamW with weight decay)", choices=OPTIMIZERS
    )
    weight_decay: float = option(0.0, "shrink every weight by lr times this each step", minimum=0)
    ema: float = option(
        0.0,
        "validate, and keep as best, the moving average of the weights with this decay per "
        "step, e.g. 0.999 (0: the weights as trained)",
        check=check_decay,
        metavar="DECAY",
    )
    clip: float = option(5.0, "max global gradient norm (0: none)", minimum=0, on_resume=CHANGEABLE)
    eval_every: int | None = eval_every_option(
        None, "validate and keep the best model every N steps (default: the task's)"
    )
    save_every: int | None = option(
        None,
        "save a checkpoint every N steps (default: at each validation)",
        minimum=1,
        on_resume=CHANGEABLE,
        metavar="N",
    )
    log_every: int = option(
        10,
        "a metrics record (and a printed line when output is not a terminal) every N steps",
        minimum=1,
        on_resume=CHANGEABLE,
        metavar="N",
    )
    plateau_factor: float = option(
        0.5, "multiply the learning rate by this on a plateau", minimum=1e-6, below=1
    )
    plateau_patience: int | None = patience_option(
        None,
        "steps without improvement of validation before the learning rate is lowered "
        "(default: the task's)",
    )
    lr_decay: str = option(
        "none",
        "lower the learning rate over the run's max_steps (or its epochs): linearly or "
        "along a half cosine, to 0 at the end (none: only plateaus lower it)",
        choices=LR_DECAYS,
        older_runs="none",
    )
    early_stop: int | None = option(
        None,
        "stop once validation has not improved for this many steps (default: never)",
        minimum=1,
        on_resume=CHANGEABLE,
        metavar="STEPS",
    )
    stop_lr_ratio: float = option(
        1e-3,
        "stop once plateaus have lowered the learning rate below this fraction of its "
        "starting value, where validation has long stopped improving (0: never)",
        minimum=0,
        below=1,
        on_resume=CHANGEABLE,
        metavar="RATIO",
        older_runs=0.0,
    )
    seed: int = option(0, "random seed of the weights, dropout and data order", minimum=0)
    max_steps: int | None = option(
        None,
        "stop after N optimizer steps in all (steps before a resume count)",
        minimum=1,
        on_resume=CHANGEABLE,
        metavar="N",
    )
    max_time: float | None = option(
        None,
        "stop after SECONDS of training in all (default 120 when no other limit is "
        "given; time before a resume counts)",
        minimum=1e-9,
        on_resume=CHANGEABLE,
        metavar="SECONDS",
    )
    epochs: int | None = option(
        None,
        "stop after N passes over the training data",
        minimum=1,
        on_resume=CHANGEABLE,
        metavar="N",
    )

    def __post_init__(self) -> None:
        if self.lr is None:
            self.lr = self.default_lr.get(self.optimizer)

    def patience_in_evaluations(self, steps: int | None) -> int:
        """STEPS of patience as the count of validations at ``eval_every`` without
        improvement that a plateau schedule tolerates (it acts on the next one): the
        validations that fit in STEPS, so it acts at the first one past STEPS."""
        if steps is None:
            return 0
        return steps // (self.eval_every or 1)


DEFAULT_SECONDS = 120.0  # the budget of a run given no limit at all
