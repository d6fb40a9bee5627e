"""A trained forecaster's forecasts in the data's units: of held-out windows (scored beside
the naive baselines), and of the steps after a series' end (``rnnkit predict``).

Forecasts come out of the model scaled (and logged, differenced); ``SeriesTransform.inverse``
brings them back, from the observed values before each window's origin (``in_data_units``).
Without differencing quantiles are mapped level by level, which is exact (scaling and log
are monotone). With differencing a value is a sum of forecast differences, and the sum of
10% quantiles is not the 10% quantile of the sum (it is wider): the model's sample paths
are brought back one by one and the quantiles taken from them.
"""

from __future__ import annotations

from contextlib import suppress
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rnnkit.data.timeseries import Series, SeriesData
from rnnkit.data.timeseries_calendar import Frequency, future_dates, season_length
from rnnkit.data.timeseries_transforms import SeriesTransform
from rnnkit.data.timeseries_windows import ForecastWindows, known_inputs
from rnnkit.errors import UserError
from rnnkit.models.forecaster import Forecast, Forecaster
from rnnkit.nn.distribution_losses import sample_quantiles
from rnnkit.plural import counted
from rnnkit.train.forecast_metrics import (
    BASELINES,
    interval_coverage,
    mae,
    mape,
    rmse,
    smape,
    weighted_quantile_loss,
)


@dataclass
class TrainedForecaster:
    """What prediction and evaluation need: the model (in evaluation mode), the fitted
    transforms, the spacing of the dates and the calendar features the model reads, per
    series the first date training held out (``held_out``; empty for older runs), and the
    standardisation of the known-future covariate columns (``future_transform``; None for
    runs from before they could be given)."""

    model: Forecaster
    target_transform: SeriesTransform
    covariate_transform: SeriesTransform
    frequency: Frequency | None
    calendar: list[str]
    config: Any = None
    held_out: dict[str, str] = field(default_factory=dict)
    future_transform: SeriesTransform | None = None


DEFAULT_LEVELS = (0.1, 0.5, 0.9)


def default_levels(model: Forecaster) -> tuple[float, ...]:
    """The levels reported when none are asked for: a quantile model's own, else
    ``DEFAULT_LEVELS`` (the median and an 80% interval)."""
    return tuple(model.levels) or DEFAULT_LEVELS


def check_levels(model: Forecaster, levels: tuple[float, ...]) -> None:
    """Refuse LEVELS beyond the lowest or highest level a quantile model was trained on:
    its quantile function is flat there, so a 0.05 quantile would silently be the 0.1
    one and an interval would claim a coverage it does not have.

    Args:
        model: the forecaster.
        levels: the quantile levels asked for.
    """
    trained = model.levels
    if not trained:
        return
    outside = [q for q in levels if not trained[0] <= q <= trained[-1]]
    if outside:
        known = ", ".join(f"{q:g}" for q in trained)
        raise UserError(
            f"quantiles: the model was trained on the quantiles {known} and cannot give "
            f"{outside[0]:g}; ask for levels from {trained[0]:g} to {trained[-1]:g}"
        )


def in_data_units(
    transform: SeriesTransform, name: str, forecast: Forecast, i: int, history: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Window I of FORECAST (of series NAME, after HISTORY ``(T, S)``) in the data's units.

    Outputs:
        ``point`` ``(H, S)``, ``quantiles`` ``(H, S, Q)`` at ``forecast.levels`` and
        ``paths`` ``(N, H, S)``: the sample paths, or the point forecast as the one path of
        a model without them (no spread). With differencing the quantiles are those of the
        paths (see the module docstring); the model must then have drawn them
        (``predict(..., paths=True)``) unless it is a point model.
    """
    point = transform.inverse(name, forecast.point[i], history)
    if forecast.samples is None:
        paths = point[None]
    else:
        paths = transform.inverse(name, forecast.samples[:, i], history)
    if transform.difference and forecast.samples is not None:
        quantiles = sample_quantiles(paths, forecast.levels)
    else:
        by_level = np.moveaxis(forecast.quantiles[i], -1, 0)  # (Q, H, S)
        quantiles = np.moveaxis(transform.inverse(name, by_level, history), 0, -1)
    return point, quantiles, paths


@dataclass
class UnitForecasts:
    """Forecasts of N windows in the data's units: ``actual``, ``point`` ``(N, H, S)``,
    ``quantiles`` ``(N, H, S, Q)`` at ``levels``, and each baseline's point forecasts."""

    actual: np.ndarray
    point: np.ndarray
    levels: tuple[float, ...]
    quantiles: np.ndarray
    baselines: dict[str, np.ndarray]


def window_forecasts(
    trained: TrainedForecaster,
    data: SeriesData,
    windows: ForecastWindows,
    levels: tuple[float, ...] = (0.1, 0.5, 0.9),
    num_samples: int = 100,
    seed: int = 0,
    season: int | None = None,
) -> UnitForecasts:
    """The model's and the baselines' forecasts of WINDOWS (cut from DATA) in data units."""
    if len(windows) == 0:
        raise UserError("test_size: no window to forecast; hold out at least horizon steps")
    model, transform = trained.model, trained.target_transform
    season = season or season_length(trained.frequency)
    forecast = model.predict(
        **windows.inputs(), levels=levels, num_samples=num_samples, rng=seed,
        paths=bool(transform.difference),
    )  # fmt: skip
    H = model.horizon
    actual, point, quantiles = [], [], []
    baselines: dict[str, list[np.ndarray]] = {name: [] for name in BASELINES}
    for i, (index, origin) in enumerate(zip(windows.series, windows.origin, strict=True)):
        one = data.series[index]
        history = one.target[:origin]
        actual.append(one.target[origin : origin + H])
        p, q, _ = in_data_units(transform, one.id, forecast, i, history)
        point.append(p)
        quantiles.append(q)
        for name, baseline in BASELINES.items():
            baselines[name].append(baseline(history, H, min(season, len(history))))
    return UnitForecasts(
        np.stack(actual), np.stack(point), tuple(levels), np.stack(quantiles),
        {name: np.stack(values) for name, values in baselines.items()},
    )  # fmt: skip


def score(forecasts: UnitForecasts, interval: tuple[float, float] = (0.1, 0.9)) -> dict:
    """MAE, RMSE, MAPE (None with a zero actual), sMAPE of the model and each baseline; the
    model's weighted quantile loss and the coverage of INTERVAL (two of the levels)."""

    def points(values: np.ndarray) -> dict[str, float | None]:
        actual = forecasts.actual
        try:
            percent = mape(actual, values)
        except ValueError:
            percent = None
        return {
            "mae": mae(actual, values),
            "rmse": rmse(actual, values),
            "mape": percent,
            "smape": smape(actual, values),
        }

    result = {"model": points(forecasts.point)}
    levels = list(forecasts.levels)
    result["model"]["wql"] = None  # undefined where every actual value is 0, as MAPE
    with suppress(ValueError):
        result["model"]["wql"] = weighted_quantile_loss(
            forecasts.actual, forecasts.quantiles, forecasts.levels
        )
    if all(q in levels for q in interval):
        low, high = (levels.index(q) for q in interval)
        q = forecasts.quantiles
        covered = interval_coverage(forecasts.actual, q[..., low], q[..., high])
        if covered is not None:
            result["model"]["coverage"] = covered
    for name, values in forecasts.baselines.items():
        result[name] = points(values)
    return result


def check_length(trained: TrainedForecaster, one: Series) -> None:
    """Refuse a series ONE shorter than the lookback (and the differencing lag) the model
    reads, naming its length."""
    lag = trained.target_transform.difference
    needed = trained.model.lookback + lag
    if len(one) < needed:
        raise UserError(
            f"data: series {one.id or 'in the file'} has {counted(len(one), 'step')}; the model "
            f"reads the last {needed} (lookback{' + difference' if lag else ''})"
        )


def forecast_next(
    trained: TrainedForecaster,
    one: Series,
    levels: tuple[float, ...] = (0.1, 0.5, 0.9),
    num_samples: int = 100,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(dates (H,), point (H, S), quantiles (H, S, Q))``: the steps after ONE's last date.

    The model reads the last ``lookback`` steps (after the transforms, which need
    ``difference`` more); the calendar features of the future dates are computed, and the
    known-future covariates of the horizon are ``one.ahead``'s first ``horizon`` rows.
    """
    model = trained.model
    L, H, lag = model.lookback, model.horizon, trained.target_transform.difference
    check_levels(model, levels)
    check_length(trained, one)
    if trained.calendar and trained.frequency is None:
        raise UserError("data: the dates are not regularly spaced; the model needs a frequency")
    frequency = trained.frequency
    dates = future_dates(one.dates[-1], frequency, H) if frequency else np.array([])
    z = trained.target_transform.transform(one.id, one.target[-(L + lag) :])
    past = trained.covariate_transform.transform(one.id, one.covariates[-L:])
    calendar, transform = bool(trained.calendar), trained.future_transform
    known = known_inputs(one, frequency, calendar, transform, len(one) - L, L + H)
    forecast = model.predict(
        z[None], past[None], known[None], levels=levels, num_samples=num_samples, rng=seed,
        paths=bool(lag),
    )  # fmt: skip
    point, quantiles, _ = in_data_units(trained.target_transform, one.id, forecast, 0, one.target)
    return dates, point, quantiles
