"""The forecasting task: a CSV of time series in, a model that forecasts the next steps out.

The series are read (``rnnkit.data.timeseries``), the last ``valid_size`` steps of each
(and, after them, ``test_size`` more) are held out, the transforms are fitted on the
training part only, and a ``ForecastTrainer`` trains a ``Forecaster`` on the training
windows, keeping the model with the best validation MAE. With ``test_size`` set, the best
model's forecasts of the test windows are scored at the end in the data's units, beside
the naive, seasonal naive and drift baselines on the same windows. config.json keeps the
fitted transforms, the frequency and the calendar features, so ``load_forecaster`` brings
back everything prediction needs.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from rnnkit.config import CHANGEABLE, option
from rnnkit.data.fingerprint import fingerprint
from rnnkit.data.timeseries import FILLS, SeriesData, read_series
from rnnkit.data.timeseries_calendar import Frequency
from rnnkit.data.timeseries_transforms import SCALERS, SeriesTransform
from rnnkit.data.timeseries_windows import prepare_windows
from rnnkit.errors import UserError
from rnnkit.models.forecaster import Forecaster, ForecasterConfig
from rnnkit.train.checkpoint import Checkpoint, load_checkpoint
from rnnkit.train.forecast_evaluation import TrainedForecaster, score, window_forecasts
from rnnkit.train.forecast_trainer import ForecastSettings, ForecastTrainer
from rnnkit.train.run_config import model_folder, saved_config, saved_entry, saved_task
from rnnkit.train.task import Task
from rnnkit.train.tasks.language_model import load_weights_into


@dataclass
class ForecastData:
    """Where the series come from, what is forecast, and how the values are prepared."""

    data: str | None = option(
        None, "the CSV file of the series", on_resume=CHANGEABLE, metavar="PATH"
    )
    date_column: str = option("date", "the column of dates")
    target: list[str] = option([], "the column(s) to forecast", metavar="COLUMN")
    covariates: list[str] = option(
        [], "other numeric columns, known up to the present only", metavar="COLUMN"
    )
    id_column: str | None = option(
        None, "a column naming each row's series (long format: one model for all)"
    )
    fill: str | None = option(
        None, "fill missing values and dates (default: missing values are an error)", choices=FILLS
    )
    encoding: str = option("utf-8", "the file's encoding")
    valid_size: int | None = option(
        None, "steps held out at the end of each series to validate (default: horizon)", minimum=1
    )
    test_size: int = option(0, "steps held out after the validation part, to test", minimum=0)
    scaler: str = option(
        "standard", "scaling fitted per series on its training part", choices=SCALERS
    )
    log: bool = option(False, "forecast log(1 + y) (positive series with a growing spread)")
    difference: int = option(
        0, "forecast differences at this lag (1, or the season) (0: none)", minimum=0
    )
    calendar: bool = option(True, "the dates' calendar features as known-future covariates")
    stride: int = option(1, "steps between training windows", minimum=1)


@dataclass
class ForecastRun:
    """Everything a forecasting run is: config.json's "config"."""

    data: ForecastData = field(default_factory=ForecastData)
    model: ForecasterConfig = field(default_factory=ForecasterConfig)
    training: ForecastSettings = field(default_factory=ForecastSettings)


def read_data(data: ForecastData) -> SeriesData:
    if data.data is None:
        raise UserError("data is needed: the CSV file of the series")
    if not data.target:
        raise UserError("target is needed: the column(s) to forecast")
    return read_series(
        data.data, data.date_column, data.target, data.covariates, data.id_column, data.fill,
        data.encoding,
    )  # fmt: skip


def series_fingerprint(series: SeriesData) -> str:
    """A digest of the series read, to check that a resumed run reads the same ones."""
    return fingerprint(
        "\n".join(
            f"{one.id}\t{one.dates.tobytes().hex()}\t{one.target.tobytes().hex()}"
            f"\t{one.covariates.tobytes().hex()}"
            for one in series.series
        )
    )


class ForecastTask(Task):
    name = "forecast"
    title = "forecaster"
    config_class = ForecastRun

    def build(
        self, config: ForecastRun, folder: Path, checkpoint: Checkpoint | None
    ) -> ForecastTrainer:
        data, model_config, settings = config.data, config.model, config.training
        if data.data is not None:
            data.data = str(Path(data.data).resolve())
        series = read_data(data)
        digest = series_fingerprint(series)
        if checkpoint is not None and digest != saved_entry(checkpoint, folder, "data_sha256"):
            raise UserError(
                f"the series of {data.data} differ from those the run in {folder} started "
                "on; resuming needs the same data, so start a new run"
            )
        prepared = prepare_windows(
            series, model_config.lookback, model_config.horizon,
            data.valid_size or model_config.horizon, data.test_size, data.scaler, data.log,
            data.difference, data.calendar, data.stride,
        )  # fmt: skip
        model_config.num_targets = len(series.target_columns)
        model_config.num_past_covariates = len(series.covariate_columns)
        model_config.num_future_covariates = len(prepared.calendar)
        model = Forecaster.from_config(model_config, rng=settings.seed)
        frequency = series.frequency.to_dict() if series.frequency else None
        extra = {
            "transforms": {
                "target": prepared.target_transform.to_dict(),
                "covariates": prepared.covariate_transform.to_dict(),
            },
            "frequency": frequency,
            "calendar": prepared.calendar,
        }
        trainer = ForecastTrainer(
            model, prepared.train, prepared.valid, settings, folder, {"data_sha256": digest},
            extra,
        )  # fmt: skip
        trainer.run_config = config
        trainer.notes = series.notes
        trainer.series_data = series
        trainer.test_windows = prepared.test
        return trainer

    def summary(self, trainer: ForecastTrainer) -> str:
        model = trainer.model
        return (
            f"training a {model.config().cell.upper()} forecaster ({model.decoder_kind} "
            f"decoder, {model.loss_name} loss, lookback {model.lookback}, horizon "
            f"{model.horizon}, {model.num_parameters():,} parameters) on "
            f"{len(trainer.train_set):,} training and {len(trainer.valid_set):,} validation "
            "windows"
        )

    def report(self, trainer: ForecastTrainer) -> list[str]:
        progress, lines = trainer.progress, []
        if progress.best is not None:
            lines.append(
                f"validation MAE {progress.val['mae']:.4f} (scaled); best "
                f"{progress.best['mae']:.4f} at step {progress.best_step}"
            )
        test = getattr(trainer, "test_windows", None)
        if test is not None and len(test):
            trained = load_forecaster(model_folder(trainer.folder))
            scores = score(
                window_forecasts(
                    trained,
                    trainer.series_data,
                    test,
                    num_samples=trainer.settings.num_samples,
                    seed=trainer.settings.seed,
                )  # fmt: skip
            )
            trainer.test_scores = scores
            for name, values in scores.items():
                mape = "n/a" if values["mape"] is None else f"{values['mape']:.2f}%"
                lines.append(
                    f"test {name}: MAE {values['mae']:.4g}, RMSE {values['rmse']:.4g}, "
                    f"MAPE {mape}, sMAPE {values['smape']:.2f}% ({len(test)} windows)"
                )
        return lines

    def load(self, folder: Path) -> TrainedForecaster:
        return load_forecaster(folder)


def load_forecaster(folder: str | os.PathLike[str]) -> TrainedForecaster:
    """The forecaster saved in FOLDER (a checkpoint folder such as ``RUN/best``)."""
    checkpoint = load_checkpoint(folder)
    task = saved_task(checkpoint, folder)
    if task != ForecastTask.name:
        raise UserError(
            f"{folder} holds a {task} run, not a forecaster; give the run folder of "
            "a forecaster (task forecast)"
        )
    config = saved_config(checkpoint, folder, ForecastRun)
    transforms = saved_entry(checkpoint, folder, "transforms")
    frequency = saved_entry(checkpoint, folder, "frequency")
    calendar = saved_entry(checkpoint, folder, "calendar")
    try:
        target = SeriesTransform.from_dict(transforms["target"])
        covariates = SeriesTransform.from_dict(transforms["covariates"])
        frequency = None if frequency is None else Frequency.from_dict(frequency)
    except (KeyError, TypeError) as error:
        raise UserError(f"{folder}/config.json was edited or damaged: {error!r}") from None
    model = Forecaster.from_config(config.model)
    load_weights_into(model, checkpoint, folder)
    model.eval()
    return TrainedForecaster(model, target, covariates, frequency, list(calendar), config)
