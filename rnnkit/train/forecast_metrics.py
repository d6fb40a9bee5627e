"""Forecast accuracy, the naive baselines, and a rolling-origin backtest.

Point metrics, over every forecast value ``f`` and actual value ``a`` (as darts computes
them, in percent where named so)::

    MAE   = mean |a - f|
    RMSE  = sqrt(mean (a - f)^2)
    MAPE  = 100 mean |a - f| / |a|                       (undefined if some a = 0)
    sMAPE = 200 mean |a - f| / (|a| + |f|)               (a term with a = f = 0 counts 0)
    MASE  = MAE / mean_t |y_t - y_{t-m}|                 (in-sample seasonal-naive error
                                                          of the history y, season m)

Probabilistic metrics::

    coverage = share of a with lower <= a <= upper       (an interval, e.g. 10% to 90%)
    wQL(q)   = 2 sum pinball_q(a, f_q) / sum |a|         (GluonTS's weighted quantile loss;
                                                          the mean over levels is reported)
    CRPS     = E|X - a| - E|X - X'| / 2                   (X, X' independent draws of the
                                                          forecast; from samples, averaged,
                                                          and weighted: sum CRPS / sum |a|)

Baselines from a history ``y_1 .. y_T`` for steps ``h = 1 .. H``::

    naive            y_T
    seasonal_naive   y_{T - m + ((h - 1) mod m) + 1}
    drift            y_T + h (y_T - y_1) / (T - 1)
    drift_seasonal   seasonal_naive + h (y_T - y_1) / (T - 1)    (darts' combination)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from typing import Any

import numpy as np

# -- point metrics ---------------------------------------------------------------------------


def _pair(actual: Any, forecast: Any) -> tuple[np.ndarray, np.ndarray]:
    actual, forecast = np.asarray(actual, np.float64), np.asarray(forecast, np.float64)
    if actual.shape != forecast.shape:
        raise ValueError(
            f"forecast: expected the shape of actual {actual.shape}, got {forecast.shape}"
        )
    if actual.size == 0:
        raise ValueError("actual: no values to score")
    return actual, forecast


def mae(actual: Any, forecast: Any) -> float:
    """Mean absolute error."""
    actual, forecast = _pair(actual, forecast)
    return float(np.mean(np.abs(actual - forecast)))


def rmse(actual: Any, forecast: Any) -> float:
    """Root mean squared error."""
    actual, forecast = _pair(actual, forecast)
    return float(np.sqrt(np.mean((actual - forecast) ** 2)))


def mape(actual: Any, forecast: Any) -> float:
    """Mean absolute percentage error, in percent; ValueError if an actual value is 0."""
    actual, forecast = _pair(actual, forecast)
    if np.any(actual == 0):
        raise ValueError("actual: MAPE is undefined where an actual value is 0")
    return float(100.0 * np.mean(np.abs(actual - forecast) / np.abs(actual)))


def smape(actual: Any, forecast: Any) -> float:
    """Symmetric MAPE in percent (0 to 200)."""
    actual, forecast = _pair(actual, forecast)
    denominator = np.abs(actual) + np.abs(forecast)
    terms = np.abs(actual - forecast) / np.where(denominator > 0, denominator, 1.0)
    return float(200.0 * np.mean(terms))


def mase(actual: Any, forecast: Any, insample: Any, season: int = 1) -> float:
    """MAE scaled by the in-sample MAE of the seasonal naive forecast (season ``m``).

    INSAMPLE ``(T, ...)`` is the history the forecasts were made from (time on axis 0).
    """
    insample = np.asarray(insample, np.float64)
    if season < 1 or len(insample) <= season:
        raise ValueError(
            f"season: need 1 <= season < len(insample) = {len(insample)}, got {season}"
        )
    scale = float(np.mean(np.abs(insample[season:] - insample[:-season])))
    if scale == 0:
        raise ValueError(
            "insample: MASE is undefined for a history its seasonal naive fits exactly"
        )
    return mae(actual, forecast) / scale


# -- probabilistic metrics -------------------------------------------------------------------


def coverage(actual: Any, lower: Any, upper: Any) -> float:
    """Share of actual values inside ``[lower, upper]``, from 0 to 1."""
    actual, lower = _pair(actual, lower)
    upper = np.asarray(upper, np.float64)
    return float(np.mean((actual >= lower) & (actual <= upper)))


def interval_coverage(actual: Any, lower: Any, upper: Any) -> float | None:
    """``coverage`` of a forecast's interval, or None where it has no width anywhere: a point
    model's (mse, mae) quantiles are all its forecast, and a coverage of that would be a
    figure about nothing."""
    if np.array_equal(lower, upper):
        return None
    return coverage(actual, lower, upper)


def weighted_quantile_loss(actual: Any, quantiles: Any, levels: Sequence[float]) -> float:
    """Mean over LEVELS of ``2 sum pinball_q(a, f_q) / sum |a|``; QUANTILES ``(..., Q)``.
    Raises ValueError where every actual value is 0 (the weight is 0), as ``mape`` does."""
    actual = np.asarray(actual, np.float64)
    quantiles = np.asarray(quantiles, np.float64)
    if quantiles.shape != (*actual.shape, len(levels)):
        raise ValueError(
            f"quantiles: expected shape {(*actual.shape, len(levels))}, got {quantiles.shape}"
        )
    if not np.abs(actual).sum():
        raise ValueError("actual: every value is 0, so the loss has no weight to divide by")
    q = np.asarray(levels, np.float64)
    error = actual[..., None] - quantiles
    pinball = np.maximum(q * error, (q - 1.0) * error)
    per_level = 2.0 * pinball.reshape(-1, len(levels)).sum(axis=0) / np.abs(actual).sum()
    return float(per_level.mean())


def crps_from_samples(samples: Any, actual: Any) -> np.ndarray:
    """CRPS of each actual value ``(...)`` under the draws ``samples`` ``(N, ...)``.

    ``E|X - a| - E|X - X'| / 2`` with the expectations over the ``N`` draws; the pair term
    from the sorted draws, ``E|X - X'| = 2 / N^2 sum_i (2i - N - 1) x_(i)``.
    """
    samples = np.sort(np.asarray(samples, np.float64), axis=0)
    actual = np.asarray(actual, np.float64)
    if samples.shape[1:] != actual.shape:
        raise ValueError(f"samples: expected shape (N, *{actual.shape}), got {samples.shape}")
    n = samples.shape[0]
    weights = (2.0 * np.arange(1, n + 1) - n - 1).reshape(-1, *([1] * actual.ndim))
    spread = 2.0 / n**2 * np.sum(weights * samples, axis=0)
    return np.mean(np.abs(samples - actual), axis=0) - 0.5 * spread


def weighted_crps(samples: Any, actual: Any) -> float:
    """``sum CRPS / sum |a|``: CRPS on the scale of the data, comparable to wQL."""
    actual = np.asarray(actual, np.float64)
    return float(crps_from_samples(samples, actual).sum() / np.abs(actual).sum())


# -- baselines -------------------------------------------------------------------------------


def _history(history: Any, horizon: int) -> np.ndarray:
    history = np.asarray(history, np.float64)
    if horizon < 1:
        raise ValueError(f"horizon: must be at least 1, got {horizon}")
    if len(history) < 1:
        raise ValueError("history: empty")
    return history


def naive(history: Any, horizon: int, season: int = 1) -> np.ndarray:
    """The last value, repeated: ``(H, ...)`` from a history ``(T, ...)``."""
    history = _history(history, horizon)
    return np.repeat(history[-1:], horizon, axis=0)


def seasonal_naive(history: Any, horizon: int, season: int = 1) -> np.ndarray:
    """The last season repeated: step ``h`` takes ``y_{T - m + ((h - 1) mod m) + 1}``."""
    history = _history(history, horizon)
    if not 1 <= season <= len(history):
        raise ValueError(f"season: need 1 <= season <= {len(history)} (the history), got {season}")
    steps = len(history) - season + np.arange(horizon) % season
    return history[steps]


def _slope(history: np.ndarray) -> np.ndarray:
    if len(history) < 2:
        raise ValueError("history: drift needs at least 2 values")
    return (history[-1] - history[0]) / (len(history) - 1)


def drift(history: Any, horizon: int, season: int = 1) -> np.ndarray:
    """The line through the first and last values, continued: ``y_T + h (y_T - y_1)/(T-1)``."""
    history = _history(history, horizon)
    h = np.arange(1, horizon + 1).reshape(-1, *([1] * (history.ndim - 1)))
    return history[-1] + h * _slope(history)


def drift_seasonal(history: Any, horizon: int, season: int = 1) -> np.ndarray:
    """Seasonal naive plus the drift's trend ``h (y_T - y_1) / (T - 1)``."""
    history = _history(history, horizon)
    h = np.arange(1, horizon + 1).reshape(-1, *([1] * (history.ndim - 1)))
    return seasonal_naive(history, horizon, season) + h * _slope(history)


BASELINES: dict[str, Callable[..., np.ndarray]] = {
    "naive": naive,
    "seasonal_naive": seasonal_naive,
    "drift": drift,
    "drift_seasonal": drift_seasonal,
}


# -- backtest --------------------------------------------------------------------------------


@dataclass
class Backtest:
    """A rolling-origin backtest: ``origins`` ``(K,)``, the ``actual`` values and each
    method's ``forecasts`` ``(K, H, ...)`` (only the last step, ``(K, 1, ...)``, with
    ``last_points_only``), and the ``metrics`` of each method."""

    origins: np.ndarray
    actual: np.ndarray
    forecasts: dict[str, np.ndarray]
    metrics: dict[str, dict[str, float]] = field(default_factory=dict)


def point_metrics(actual: Any, forecast: Any, insample: Any, season: int) -> dict[str, float]:
    """MAE, RMSE, MAPE (None if an actual value is 0), sMAPE, MASE (None where undefined)."""
    return pooled_point_metrics([actual], [forecast], [insample], season)


def pooled_point_metrics(
    actual: Sequence[Any], forecast: Sequence[Any], insample: Sequence[Any], season: int
) -> dict[str, float | None]:
    """``point_metrics`` of the forecasts of several series, the lists in series order.

    MAE, RMSE, MAPE and sMAPE are over every value of every series; MASE is the mean of
    the series' MASEs (each scaled by its own history INSAMPLE), None if one is undefined;
    MAPE is None if an actual value is 0.
    """
    flat_actual = np.concatenate([np.ravel(a) for a in actual])
    flat_forecast = np.concatenate([np.ravel(f) for f in forecast])
    scores: dict[str, Any] = {
        "mae": mae(flat_actual, flat_forecast),
        "rmse": rmse(flat_actual, flat_forecast),
        "mape": None,
        "smape": smape(flat_actual, flat_forecast),
        "mase": None,
    }
    with suppress(ValueError):
        scores["mape"] = mape(flat_actual, flat_forecast)
    with suppress(ValueError):
        scores["mase"] = float(
            np.mean(
                [mase(*one, season) for one in zip(actual, forecast, insample, strict=True)]
            )
        )
    return scores


def mae_by_step(actual: Sequence[Any], forecast: Sequence[Any]) -> list[float]:
    """The MAE of each step ahead over forecasts ``(K, H, ...)`` of several series."""
    steps = np.shape(actual[0])[1]
    return [
        mae(
            np.concatenate([np.ravel(np.asarray(a)[:, h]) for a in actual]),
            np.concatenate([np.ravel(np.asarray(f)[:, h]) for f in forecast]),
        )
        for h in range(steps)
    ]


def backtest(
    series: Any,
    forecast: Callable[[np.ndarray, int], Any],
    start: int,
    horizon: int,
    stride: int = 1,
    season: int = 1,
    last_points_only: bool = False,
    baselines: Sequence[str] = tuple(BASELINES),
    levels: Sequence[float] = (),
    interval: tuple[float, float] | None = None,
) -> Backtest:
    """Forecast from origins ``start, start + stride, ...`` (no retraining) and score.

    Args:
        series: ``(T, ...)`` values, time on axis 0.
        forecast: ``forecast(history, horizon)`` with ``history = series[:origin]``; returns
            the point forecast ``(H, ...)``, or a dict with ``"point"`` and optionally
            ``"quantiles"`` ``(H, ..., len(levels))`` and ``"samples"`` ``(N, H, ...)``.
        start: the first origin (index of the first forecast step).
        horizon: ``H``; origins run while ``origin + H <= T``.
        stride: steps between origins.
        season: ``m`` for the seasonal baselines and MASE (whose scale comes from
            ``series[:start]``).
        last_points_only: score only each forecast's last step (darts'
            ``historical_forecasts`` default), not all ``H``.
        baselines: names from ``BASELINES`` to run on the same origins.
        levels, interval: the quantile levels the forecast returns, and the two of them
            whose interval ``coverage`` reports (e.g. ``(0.1, 0.9)``).
    """
    series = np.asarray(series, np.float64)
    if not 1 <= start <= len(series) - horizon:
        raise ValueError(f"start: need 1 <= start <= {len(series) - horizon}, got {start}")
    origins = np.arange(start, len(series) - horizon + 1, stride)
    keep = slice(horizon - 1, horizon) if last_points_only else slice(None)
    actual = np.stack([series[o : o + horizon][keep] for o in origins])
    insample = series[:start]
    outputs = [forecast(series[:o], horizon) for o in origins]
    as_dicts = [out if isinstance(out, dict) else {"point": out} for out in outputs]
    forecasts = {"model": np.stack([np.asarray(out["point"])[keep] for out in as_dicts])}
    for name in baselines:
        forecasts[name] = np.stack(
            [BASELINES[name](series[:o], horizon, season)[keep] for o in origins]
        )
    result = Backtest(origins, actual, forecasts)
    for name, values in forecasts.items():
        result.metrics[name] = point_metrics(actual, values, insample, season)
    if "quantiles" in as_dicts[0]:
        quantiles = np.stack([np.asarray(out["quantiles"])[keep] for out in as_dicts])
        result.metrics["model"]["wql"] = None  # undefined where every actual value is 0
        with suppress(ValueError):
            result.metrics["model"]["wql"] = weighted_quantile_loss(actual, quantiles, levels)
        if interval is not None:
            low, high = (list(levels).index(q) for q in interval)
            cover = coverage(actual, quantiles[..., low], quantiles[..., high])
            result.metrics["model"]["coverage"] = cover
    if "samples" in as_dicts[0]:
        samples = np.stack([np.asarray(out["samples"])[:, keep] for out in as_dicts], axis=1)
        result.metrics["model"]["crps"] = weighted_crps(samples, actual)
    return result
