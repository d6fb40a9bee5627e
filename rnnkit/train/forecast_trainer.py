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
from typing import Any, ClassVar

import numpy as np

from rnnkit.config import CHANGEABLE, option
from rnnkit.data.timeseries_windows import ForecastWindows
from rnnkit.errors import SettingError
from rnnkit.models.forecaster import Forecaster
from rnnkit.plural import counted
from rnnkit.train.batched_trainer import BatchedSettings, BatchedTrainer, interval_patience
from rnnkit.train.settings import batch_size_option, lr_option


@dataclass
class ForecastSettings(BatchedSettings):
    """``BatchedSettings`` plus the draws behind a validation forecast; patience of five
    validation intervals by default."""

    default_lr: ClassVar[dict[str, float]] = {"adam": 3e-3, "sgd": 0.05}
    plateau_intervals: ClassVar[int] = 5

    lr: float | None = lr_option(default_lr)
    plateau_patience: int | None = interval_patience(plateau_intervals)
    batch_size: int = batch_size_option(32, "windows per step")
    num_samples: int = option(
        100,
        "sample paths per forecast (validation, prediction, backtest): an autoregressive "
        "model's forecasts, intervals after differencing, the backtest's CRPS",
        minimum=1,
        maximum=1 << 16,
        on_resume=CHANGEABLE,
    )


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


class ForecastTrainer(BatchedTrainer):
    """Trains MODEL on the TRAIN windows, validating on VALID, saving into FOLDER.

    CONFIG_EXTRA is JSON-ready data saved in config.json beside the settings (the fitted
    transforms, the frequency, the calendar features): what prediction needs.
    """

    watched = "mae"
    higher_is_better = False
    speed_unit = "windows"  # a step reads batch_size windows of lookback + horizon steps
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
            raise SettingError(
                "lookback: no training window fits; shorten lookback or horizon", "horizon"
            )
        if len(valid) == 0:
            raise SettingError(
                "valid_size: no validation window fits; hold out at least horizon = "
                f"{counted(model.horizon, 'step')}",
                "horizon",
            )
        super().__init__(model, train, valid, settings, folder, info)
        self.config_extra = dict(config_extra or {})

    @staticmethod
    def count_batches(examples: int, batch_size: int) -> int:
        return math.ceil(examples / batch_size)

    def example_lengths(self, train: ForecastWindows) -> None:
        return None  # every window is as long as the others

    def epoch_batches(self, epoch: int) -> list[np.ndarray]:
        """The training windows of EPOCH in their order, cut into batches, the same on
        every call."""
        order = np.random.default_rng([self.settings.seed, epoch]).permutation(len(self.train_set))
        size = self.settings.batch_size
        return [order[start : start + size] for start in range(0, len(order), size)]

    def compute_step(self) -> tuple[float, int]:
        rows = self.current_batch()
        loss = self.model.loss_and_backward(**self.train_set.batch(rows))
        return loss, int(rows.size)

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
