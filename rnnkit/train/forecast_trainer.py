"""Training a ``Forecaster`` on shuffled windows, and resuming it exactly.

The loop, checkpoints, best model and exact resume are ``Trainer``'s (see
``rnnkit.train.trainer``); this module supplies the forecaster's part. One step trains on
one batch of windows (the head's mean loss); an epoch's batches are a permutation of the
training windows drawn from a generator seeded by ``(seed, epoch)``, so a resumed run
picks up at the very batch it stopped before.

Validation scores the point forecasts of the validation windows, in the model's (scaled)
units: ``mae`` decides the best model and the plateau of the learning rate (the loss of a
teacher-forced autoregressive decoder says little about its forecasts), and the head's
``loss`` is reported beside it. A probabilistic autoregressive model forecasts the mean of
``num_samples`` paths drawn with a generator seeded by ``seed``, so validation is
reproducible.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from rnnkit.config import CHANGEABLE, option
from rnnkit.data.timeseries_windows import ForecastWindows
from rnnkit.errors import UserError
from rnnkit.models.forecaster import Forecaster
from rnnkit.train.settings import TrainingSettings
from rnnkit.train.trainer import Trainer, TrainingProgress

DEFAULT_LR = {"adam": 3e-3, "sgd": 0.05}


@dataclass
class ForecastSettings(TrainingSettings):
    """``TrainingSettings`` plus the batch size and the draws behind a validation forecast."""

    lr: float | None = option(
        None,
        "learning rate (default 0.003 with adam, 0.05 with sgd)",
        minimum=1e-12,
        on_resume=CHANGEABLE,
    )
    eval_every: int | None = option(
        None,
        "validate and keep the best model every N steps (default: once per epoch, at least "
        "every 1000)",
        minimum=1,
        on_resume=CHANGEABLE,
        metavar="N",
    )
    batch_size: int = option(32, "windows per step", minimum=1, maximum=1 << 20)
    num_samples: int = option(
        100,
        "sample paths per forecast of a probabilistic autoregressive model (validation, "
        "prediction)",
        minimum=1,
        maximum=1 << 16,
        on_resume=CHANGEABLE,
    )

    def __post_init__(self) -> None:
        if self.lr is None:
            self.lr = DEFAULT_LR.get(self.optimizer)

    def resolve(self, steps_per_epoch: int) -> None:
        """Validate once per epoch (at most every 1000 steps) unless told; patience of
        five validation intervals."""
        if self.eval_every is None:
            self.eval_every = min(steps_per_epoch, 1000)
        if self.plateau_patience is None:
            self.plateau_patience = 5 * self.eval_every


@dataclass
class ForecastProgress(TrainingProgress):
    batch: int = 0  # the next batch of the current epoch


def point_errors(
    model: Forecaster, windows: ForecastWindows, num_samples: int, seed: int
) -> dict[str, float]:
    """The head's mean loss and the MAE/MSE of the point forecasts of WINDOWS (model units)."""
    was_training = model.training
    model.eval()
    try:
        raw = model.forward(**windows.batch())
        loss, _ = model.loss(raw, windows.future_target)
    finally:
        model.train(was_training)
    forecast = model.predict(**windows.inputs(), num_samples=num_samples, rng=seed)
    error = forecast.point - windows.future_target
    return {"loss": loss, "mae": float(np.mean(np.abs(error))), "mse": float(np.mean(error**2))}


class ForecastTrainer(Trainer):
    """Trains MODEL on the TRAIN windows, validating on VALID, saving into FOLDER.

    CONFIG_EXTRA is JSON-ready data saved in config.json beside the settings (the fitted
    transforms, the frequency, the calendar features): what prediction needs.
    """

    watched = "mae"
    higher_is_better = False
    task_name = "forecast"

    def __init__(
        self,
        model: Forecaster,
        train: ForecastWindows,
        valid: ForecastWindows,
        settings: ForecastSettings,
        folder: str | os.PathLike[str],
        info: dict[str, Any] | None = None,
        config_extra: dict[str, Any] | None = None,
    ) -> None:
        if len(train) == 0:
            raise UserError("lookback: no training window fits; shorten lookback or horizon")
        if len(valid) == 0:
            raise UserError(
                "valid_size: no validation window fits; hold out at least horizon steps"
            )
        settings.resolve(self.batches(len(train), settings.batch_size))
        super().__init__(model, settings, ForecastProgress(), folder, info)
        self.train_set, self.valid_set = train, valid
        self.config_extra = dict(config_extra or {})
        self._order: np.ndarray | None = None
        self._order_epoch: int | None = None

    @staticmethod
    def batches(windows: int, batch_size: int) -> int:
        return math.ceil(windows / batch_size)

    def steps_per_epoch(self) -> int:
        return self.batches(len(self.train_set), self.settings.batch_size)

    def epoch_order(self, epoch: int) -> np.ndarray:
        """The training windows of EPOCH in their order, the same on every call."""
        return np.random.default_rng([self.settings.seed, epoch]).permutation(len(self.train_set))

    def compute_step(self) -> tuple[float, int]:
        progress = self.progress
        if self._order_epoch != progress.epoch:
            self._order, self._order_epoch = self.epoch_order(progress.epoch), progress.epoch
        size = self.settings.batch_size
        rows = self._order[progress.batch * size : (progress.batch + 1) * size]
        loss = self.model.loss_and_backward(**self.train_set.batch(rows))
        return loss, int(rows.size * self.model.horizon)

    def advance(self) -> None:
        progress = self.progress
        progress.batch += 1
        if progress.batch == self.steps_per_epoch():
            progress.epoch += 1
            progress.batch = 0

    def validate(self) -> dict[str, float]:
        settings = self.settings
        return point_errors(self.model, self.valid_set, settings.num_samples, settings.seed)

    def describe(self, measures: dict[str, float]) -> str:
        return (
            f"MAE {measures['mae']:.4f}, MSE {measures['mse']:.4f} (scaled), "
            f"loss {measures['loss']:.4f}"
        )

    def config(self) -> dict[str, Any]:
        return {**self.base_config(), **self.config_extra}
