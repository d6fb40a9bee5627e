"""The forecasting task: a CSV of time series in, a model that forecasts the next steps out.

The series are read (``rnnkit.data.timeseries``), the last ``valid_size`` steps of each
(and, after them, ``test_size`` more) are held out, the transforms are fitted on the
training part only, and a ``ForecastTrainer`` trains a ``Forecaster`` on the training
windows, keeping the model with the best validation MAE. With ``test_size`` set, the best
model's forecasts of the test windows are scored at the end in the data's units, beside
the naive, seasonal naive and drift baselines on the same windows. config.json keeps the
fitted transforms (of the target, the past and the known-future covariates), the frequency
and the calendar features, so ``load_forecaster`` brings back everything prediction needs.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rnnkit.config import option
from rnnkit.data.fingerprint import fingerprint
from rnnkit.data.timeseries import (
    FILLS,
    SeriesData,
    read_series,
    refuse_gaps,
    refuse_irregular,
)
from rnnkit.data.timeseries_calendar import (
    Frequency,
    calendar_features,
    format_date,
    season_length,
)
from rnnkit.data.timeseries_transforms import SCALERS, SeriesTransform
from rnnkit.data.timeseries_windows import ForecastWindows, prepare_windows
from rnnkit.errors import SettingError, UserError
from rnnkit.models.forecaster import Forecaster, ForecasterConfig
from rnnkit.nn import distribution_losses
from rnnkit.nn.recurrent import recurrent_parameter_count
from rnnkit.numbers import plain_number
from rnnkit.plural import counted
from rnnkit.train.checkpoint import Checkpoint
from rnnkit.train.data_options import check_encoding, encoding_option, path_option
from rnnkit.train.forecast_evaluation import (
    TrainedForecaster,
    default_levels,
    score,
    window_forecasts,
)
from rnnkit.train.forecast_trainer import ForecastSettings, ForecastTrainer
from rnnkit.train.memory import check_fits, check_saved_fits, training_bytes
from rnnkit.train.run_config import damaged, saved_entry
from rnnkit.train.task import (
    Task,
    check_same_data,
    network,
    run_config_class,
    saved_model,
    time_loops,
)


@dataclass
class ForecastData:
    """Where the series come from, what is forecast, and how the values are prepared."""

    data: str | None = path_option("the CSV file of the series")
    date_column: str = option("date", "the column of dates")
    target: list[str] = option([], "the column(s) to forecast", metavar="COLUMN")
    covariates: list[str] = option(
        [], "other numeric columns, known up to the present only", metavar="COLUMN"
    )
    future_covariates: list[str] = option(
        [],
        "numeric columns known in advance (a holiday flag, a planned price): read for the "
        "lookback and the horizon; predict's data gives them in rows after the last "
        "observed value, with the target empty",
        metavar="COLUMN",
        older_runs=[],
    )
    id_column: str | None = option(
        None, "a column naming each row's series (long format: one model for all)"
    )
    fill: str | None = option(
        None, "fill missing values and dates (default: missing values are an error)", choices=FILLS
    )
    encoding: str = encoding_option("the file's encoding", check=check_encoding)
    valid_size: int | None = option(
        None,
        "steps held out at the end of each series to validate (default: a tenth of the "
        "shortest series before its test part, at least horizon)",
        minimum=1,
    )
    test_size: int = option(0, "steps held out after the validation part, to test", minimum=0)
    scaler: str = option(
        "standard", "scaling fitted per series on its training part", choices=SCALERS
    )
    log: bool = option(
        False,
        "forecast log(1 + y) (positive series with a growing spread); the point forecast "
        "is then exp(mean) - 1 of the log scale: the median in the data's units, not the mean",
    )
    difference: int = option(
        0, "forecast differences at this lag (1, or the season) (0: none)", minimum=0
    )
    calendar: bool = option(True, "the dates' calendar features as known-future covariates")
    stride: int = option(1, "steps between training windows", minimum=1)


ForecastRun = run_config_class(
    "ForecastRun", "forecasting", ForecastData, ForecasterConfig, ForecastSettings
)


def read_data(data: ForecastData) -> SeriesData:
    if data.data is None:
        raise SettingError("data is needed: the CSV file of the series", "data")
    return read_series(
        data.data, data.date_column, data.target, data.covariates, data.id_column, data.fill,
        data.encoding, data.future_covariates,
    )  # fmt: skip


VALID_SHARE = 0.1  # of each series before its test part, validating by default


def default_valid_size(series: SeriesData, horizon: int, test_size: int) -> int:
    """The steps a run holds out to validate unless told: a tenth of the shortest series
    before its test part, and at least one horizon. A part of one horizon is one window,
    and the best model chosen on one window is chosen by its noise: on a daily series of
    200 steps, two seeds of three kept the model of step 30 and forecast worse than the
    seasonal naive one."""
    shortest = min(len(one.target) for one in series.series)
    return max(horizon, round(VALID_SHARE * (shortest - test_size)))


def series_fingerprint(series: SeriesData) -> str:
    """A digest of the series read, to check that a resumed run reads the same ones."""
    return fingerprint(
        "\n".join(
            f"{one.id}\t{one.dates.tobytes().hex()}\t{one.target.tobytes().hex()}"
            f"\t{one.covariates.tobytes().hex()}"
            # only when given, so that the runs from before keep their digest
            + (f"\t{one.future.tobytes().hex()}" if one.future.size else "")
            for one in series.series
        )
    )


class ForecastTask(Task, name="forecast", title="forecaster", config_class=ForecastRun):
    """Time series in (a CSV file), a forecaster out that gives the next steps of each series,
    with intervals when its loss is a likelihood or quantiles."""

    def build(
        self, config: ForecastRun, folder: Path, checkpoint: Checkpoint | None
    ) -> ForecastTrainer:
        data, model_config, settings = config.data, config.model, config.training
        if model_config.window_mean and (data.scaler == "standard" or data.difference):
            # centred or differenced values have a mean near 0: no level to divide by
            raise SettingError(
                "window_mean: divides by each window's level, so the values must stay "
                "positive: set scaler to mean or none, and difference to 0",
                "scaler",
                "difference",
            )
        series = read_data(data)
        digest = series_fingerprint(series)
        if checkpoint is None:
            # predict and eval date their forecasts by the spacing: without one the run
            # would train and be of no use
            refuse_irregular(series)
            refuse_gaps(series)
        else:  # a run started before gaps were refused still resumes on its data
            check_same_data(checkpoint, folder, digest, f"the series of {data.data}", "data")
        if data.valid_size is None:
            # a run begun before this default held out one horizon, and resumes as it began
            data.valid_size = (
                default_valid_size(series, model_config.horizon, data.test_size)
                if checkpoint is None
                else model_config.horizon
            )
        held = data.valid_size + data.test_size
        prepared = prepare_windows(
            series, model_config.lookback, model_config.horizon,
            data.valid_size, data.test_size, data.scaler, data.log,
            data.difference, data.calendar, data.stride,
        )  # fmt: skip
        model_config.num_targets = len(series.target_columns)
        model_config.num_past_covariates = len(series.covariate_columns)
        model_config.num_future_covariates = len(prepared.calendar) + len(series.future_columns)
        if model_config.normalize == "season" and model_config.season == 0:
            model_config.season = season_length(series.frequency)
        check_fits(
            training_bytes(parameter_count(model_config), activation_count(config)),
            "training this forecaster",
            "hidden_size, num_layers, lookback, horizon or batch_size",
        )
        model = Forecaster.from_config(model_config, rng=settings.seed)
        frequency = series.frequency.to_dict() if series.frequency else None
        extra = {
            "transforms": {
                "target": prepared.target_transform.to_dict(),
                "covariates": prepared.covariate_transform.to_dict(),
                "future": prepared.future_transform.to_dict(),
            },
            "frequency": frequency,
            "calendar": prepared.calendar,
            # so that a backtest can tell which of its forecasts were trained on
            "held_out": {one.id: format_date(one.dates[len(one) - held]) for one in series.series},
        }
        trainer = ForecastTrainer(
            model, prepared.train, prepared.valid, settings, folder, {"data_sha256": digest},
            extra,
        )  # fmt: skip
        trainer.notes = series.notes
        trainer.series_data = series
        trainer.test_data = prepared.test
        return trainer

    def summary(self, trainer: ForecastTrainer) -> str:
        model = trainer.model
        return (
            f"training a {network(model.config(), 'forecaster')} ({model.decoder_kind} "
            f"decoder, {model.loss_name} loss, lookback {model.lookback}, horizon "
            f"{model.horizon}, {model.num_parameters():,} parameters; time loops in "
            f"{time_loops(model)}) on "
            f"{len(trainer.train_set):,} training and {len(trainer.valid_set):,} validation "
            "windows"
        )

    def validation_figure(self, measures: dict[str, float], named: bool) -> str:
        return f"MAE {measures['mae']:.4f} (scaled)" if named else f"{measures['mae']:.4f}"

    def test_report(
        self, trained: TrainedForecaster, test: ForecastWindows, trainer: ForecastTrainer
    ) -> list[str]:
        if not len(test):
            return []
        settings = trainer.settings
        scores = score(
            window_forecasts(
                trained, trainer.series_data, test, default_levels(trained.model),
                num_samples=settings.num_samples, seed=settings.seed,
            )
        )  # fmt: skip
        trainer.test_scores = scores
        lines = []
        for name, values in scores.items():
            mape = "n/a" if values["mape"] is None else f"{values['mape']:.2f}%"
            lines.append(
                f"test {name}: MAE {plain_number(values['mae'], 4)}, "
                f"RMSE {plain_number(values['rmse'], 4)}, "
                f"MAPE {mape}, sMAPE {values['smape']:.2f}% ({counted(len(test), 'window')})"
            )
        return lines

    def restore(
        self, checkpoint: Checkpoint, folder: str | os.PathLike[str], config: ForecastRun
    ) -> TrainedForecaster:
        transforms = saved_entry(checkpoint, folder, "transforms")
        frequency = saved_entry(checkpoint, folder, "frequency")
        calendar = saved_entry(checkpoint, folder, "calendar")
        data, model_config = config.data, config.model
        try:
            if not isinstance(transforms, dict):
                raise ValueError(f"transforms: expected an object, got {transforms!r}")
            target = saved_transform(transforms, "target", len(data.target))
            covariates = saved_transform(transforms, "covariates", len(data.covariates))
            given = len(data.future_covariates)
            future = None  # in runs from before known-future covariates could be given
            if "future" in transforms:
                future = saved_transform(transforms, "future", given)
            frequency = None if frequency is None else Frequency.from_dict(frequency)
            check_calendar(calendar, frequency, model_config.num_future_covariates - given)
        except (KeyError, TypeError, ValueError, UserError) as error:
            reason = str(error) if isinstance(error, (ValueError, UserError)) else repr(error)
            raise damaged(folder, reason) from None
        check_saved_fits(parameter_count(model_config), folder)
        model = saved_model(Forecaster, model_config, checkpoint, folder)
        held_out = checkpoint.config.get("held_out")  # runs before it was kept have none
        held_out = held_out if isinstance(held_out, dict) else {}
        if not all(is_date(date) for date in held_out.values()):
            raise damaged(folder, f"held_out: not a date of each series: {held_out!r}")
        return TrainedForecaster(
            model, target, covariates, frequency, list(calendar), config, held_out, future
        )


def saved_transform(transforms: dict[str, Any], part: str, columns: int) -> SeriesTransform:
    """The transform of PART saved in TRANSFORMS, for COLUMNS columns; ValueError naming its
    config.json key if it is not one."""
    if part not in transforms:
        raise ValueError(f"transforms.{part}: missing")
    try:
        return SeriesTransform.from_dict(transforms[part], columns)
    except ValueError as error:
        raise ValueError(f"transforms.{part}: {error}") from None


def check_calendar(calendar: Any, frequency: Frequency | None, features: int) -> None:
    """Raise ValueError unless CALENDAR (saved) names the calendar features of FREQUENCY, as
    many as the model reads beside the given known-future columns (FEATURES), or none."""
    if not isinstance(calendar, list) or len(calendar) != features:
        raise ValueError(
            f"calendar: expected {counted(features, 'feature name')}, got {calendar!r}"
        )
    if calendar and (frequency is None or calendar_features(NO_DATES, frequency)[0] != calendar):
        raise ValueError(f"calendar: {calendar!r} are not the features of the dates' frequency")


NO_DATES = np.zeros(0, dtype="datetime64[s]")


def is_date(text: Any) -> bool:
    """Whether TEXT is a date as config.json keeps one (ISO)."""
    if not isinstance(text, str):
        return False
    try:
        np.datetime64(text, "s")
    except ValueError:
        return False
    return True


def parameter_count(model: ForecasterConfig) -> int:
    """The parameters of the ``Forecaster`` MODEL describes, without making it."""
    levels = model.quantiles if model.loss == "quantile" else ()
    outputs = model.num_targets * distribution_losses.num_params(model.loss, levels)
    H, layers, future = model.hidden_size, model.num_layers, model.num_future_covariates
    inputs = model.num_targets + model.num_past_covariates + future
    encoder = recurrent_parameter_count(model.cell, inputs, H, layers)
    window = model.lookback * model.num_targets if model.skip else 0
    if model.decoder == "autoregressive":
        decoder = recurrent_parameter_count(model.cell, model.num_targets + future, H, layers)
        return encoder + decoder + (H + window + 1) * outputs
    features = H + model.horizon * future + window
    return encoder + (features + 1) * model.horizon * outputs


def activation_count(config: ForecastRun) -> int:
    """Numbers one training batch keeps: per layer the gates, states and outputs of every
    step of the lookback and the horizon."""
    model = config.model
    steps = model.lookback + model.horizon
    return config.training.batch_size * steps * model.num_layers * 8 * model.hidden_size


def load_forecaster(folder: str | os.PathLike[str]) -> TrainedForecaster:
    """The forecaster saved in FOLDER (a checkpoint folder such as ``RUN/best``)."""
    return ForecastTask().load(folder)
