"""A trained forecaster on new data: the steps after a series' end, and a rolling-origin
backtest beside the naive baselines (what ``rnnkit predict`` and ``rnnkit eval`` print).

``check_series(trained, data)`` refuses data the model cannot read as it was trained: a
series it was not trained on (its scaling is unknown), a series shorter than the lookback,
dates that are not regularly spaced, gaps (dates missing; ``fill`` inserts them), or a
spacing other than the training data's.

``forecast_ahead`` forecasts ``steps`` after each series' last date. Up to the model's
horizon that is one forecast; beyond it the point forecast is fed back as history and the
model forecasts again (the quantiles of those later rounds are conditional on the fed-back
point forecast, so they are narrower than the true uncertainty). A model that reads past
covariates cannot go beyond its horizon: their future values are unknown. A model that reads
known-future covariate columns needs their values for every step read after the series'
end (``Series.ahead``): its horizon in each round.

``backtest`` forecasts from every origin ``start, start + stride, ...`` (the first step of
each forecast, an index into the series) while the ``horizon`` steps after it are in the
data, with the model as trained (no refitting: the scaling saved with the run; known-future
covariates at their values in the data, as they are known in advance), and scores
the model and the baselines of ``rnnkit.train.forecast_metrics`` on the same forecasts::

    mae, rmse, mape (None with a zero actual), smape, mase (seasonal naive scale of each
    series' history before start; None where it is undefined), mae_by_step (H values)

and for the model only ``coverage`` of the interval between the lowest and highest levels,
``wql`` (mean weighted quantile loss over the levels) and ``crps``, from the model's
``num_samples`` sample paths in the data's units (``weighted_crps``: the CRPS of each value
summed, over the sum of the actual values; a point model's one path makes it the MAE so
weighted; ``wql`` and ``crps`` are None when every actual value is 0). Every figure
comes from ``rnnkit.train.forecast_metrics``. ``trained_on`` counts the forecasts whose
origin lies before the part of its series that training held out (their steps were trained
on, so they flatter the model; None for a run that did not keep that part's dates). Errors
name parameters (``data``, ``start``, ``horizon``, ``season``), never command-line flags.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rnnkit.data.timeseries import Series, SeriesData, refuse_gaps, refuse_irregular
from rnnkit.data.timeseries_calendar import format_date, season_length
from rnnkit.data.timeseries_transforms import MOST_NAMES_SHOWN
from rnnkit.data.timeseries_windows import known_inputs, too_few_ahead
from rnnkit.errors import UserError
from rnnkit.plural import counted, some_of
from rnnkit.train.forecast_evaluation import (
    TrainedForecaster,
    check_length,
    check_levels,
    forecast_next,
    in_data_units,
)
from rnnkit.train.forecast_metrics import (
    BASELINES,
    crps_from_samples,
    interval_coverage,
    mae_by_step,
    pooled_point_metrics,
    weighted_quantile_loss,
)

# sample values drawn at once (origins are forecast in chunks of at most this many values)
MOST_DRAWN = 1 << 22


def check_series(trained: TrainedForecaster, data: SeriesData) -> None:
    """Refuse DATA whose dates the model cannot read (see the module docstring), and
    series it was not trained on."""
    known = trained.target_transform.stats
    for one in data.series:
        if one.id not in known:  # its scaling was never fitted
            names = some_of(known, MOST_NAMES_SHOWN)
            raise UserError(
                f"data: series {one.id!r} was not among those the model was trained on "
                f"({names}); it scales each series as fitted in training, so give those only"
            )
    for one in data.series:  # first: one row, or a few, has no spacing to speak of either
        check_length(trained, one)
    refuse_irregular(data)
    refuse_gaps(data)
    expected = trained.frequency
    if expected is not None and (expected.unit, expected.step) != (
        data.frequency.unit,
        data.frequency.step,
    ):
        raise UserError(
            f"data: the dates are {data.frequency.name}; the model was trained on "
            f"{expected.name} data"
        )


def forecast_ahead(
    trained: TrainedForecaster,
    one: Series,
    steps: int,
    levels: tuple[float, ...] = (0.1, 0.5, 0.9),
    num_samples: int = 100,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(dates (steps,), point (steps, S), quantiles (steps, S, Q))`` after ONE's end."""
    if steps < 1:
        raise UserError(f"horizon: must be at least 1, got {steps}")
    model = trained.model
    if steps > model.horizon and model.num_past_covariates:
        raise UserError(
            f"horizon: {steps} steps need forecasts fed back beyond the model's horizon "
            f"{model.horizon}, which a model reading past covariates cannot do (their "
            f"future values are unknown); ask for at most {model.horizon}"
        )
    rounds = -(-steps // model.horizon)
    if one.future.shape[1] and len(one.ahead) < rounds * model.horizon:
        why = f" (the model reads the {model.horizon} steps of its horizon in each round)"
        raise too_few_ahead(one, rounds * model.horizon, why if rounds > 1 else "")
    dates, points, quantiles = [], [], []
    current, made = one, 0
    while made < steps:
        d, p, q = forecast_next(trained, current, levels, num_samples, seed)
        dates.append(d)
        points.append(p)
        quantiles.append(q)
        made += len(d)
        if made < steps:
            current = Series(
                one.id,
                np.concatenate([current.dates, d]),
                np.concatenate([current.target, p]),
                np.zeros((len(current) + len(d), 0)),
                np.concatenate([current.lines, np.zeros(len(d), dtype=current.lines.dtype)]),
                np.concatenate([current.future, current.ahead[: len(d)]]),
                current.ahead[len(d) :],
            )
    return (
        np.concatenate(dates)[:steps],
        np.concatenate(points)[:steps],
        np.concatenate(quantiles)[:steps],
    )


@dataclass
class BacktestResult:
    """What ``backtest`` returns. Per series (lists in ``data.series`` order): ``origins``
    (indices of the first forecast step), ``actual`` ``(K, h, S)``, ``forecasts`` (method
    -> ``(K, h, S)``; "model" first), ``quantiles`` ``(K, h, S, Q)`` at ``levels``. Pooled
    over the series: ``metrics`` (method -> name -> value)."""

    horizon: int
    season: int
    stride: int
    levels: tuple[float, ...]
    origins: list[np.ndarray] = field(default_factory=list)
    actual: list[np.ndarray] = field(default_factory=list)
    forecasts: list[dict[str, np.ndarray]] = field(default_factory=list)
    quantiles: list[np.ndarray] = field(default_factory=list)
    metrics: dict[str, dict[str, Any]] = field(default_factory=dict)
    insample: list[np.ndarray] = field(default_factory=list)  # each history before start
    crps: list[float] = field(default_factory=list)  # the CRPS summed over each series
    # forecasts from an origin before the part training held out; None: not known (runs
    # from before config.json kept that part's dates), rather than a claim of none
    trained_on: int | None = None
    held_out: str | None = None  # that part's first date, of the first series with one

    @property
    def interval(self) -> tuple[float, float]:
        return self.levels[0], self.levels[-1]

    @property
    def windows(self) -> int:
        return sum(len(o) for o in self.origins)


def first_index(one: Series, start: np.datetime64) -> int:
    """The index of ONE's first date on or after START (``len(one)`` if none)."""
    return int(np.searchsorted(one.dates, np.datetime64(start, "s"), side="left"))


def _windows(trained: TrainedForecaster, one: Series, origins: np.ndarray) -> dict[str, np.ndarray]:
    """The model's inputs for forecasts from ORIGINS of ONE (indices into the series)."""
    model = trained.model
    L, H, lag = model.lookback, model.horizon, trained.target_transform.difference
    z = trained.target_transform.transform(one.id, one.target)  # rows lag .. n-1
    past = trained.covariate_transform.transform(one.id, one.covariates)
    rows = origins[:, None] + np.arange(-L, 0)
    inputs = {"past_target": z[rows - lag], "past_covariates": past[rows]}
    calendar, transform = bool(trained.calendar), trained.future_transform
    known = known_inputs(one, trained.frequency, calendar, transform, 0, origins[-1] + H)
    inputs["future_covariates"] = known[origins[:, None] + np.arange(-L, H)]
    return inputs


def backtest(
    trained: TrainedForecaster,
    data: SeriesData,
    start: Any,
    stride: int = 1,
    season: int | None = None,
    horizon: int | None = None,
    levels: tuple[float, ...] = (0.1, 0.5, 0.9),
    num_samples: int = 100,
    seed: int = 0,
) -> BacktestResult:
    """Rolling-origin forecasts of DATA's series from the date START on; see the module
    docstring. HORIZON (default: the model's) may be shorter than the model's horizon."""
    model = trained.model
    L, lag = model.lookback, trained.target_transform.difference
    horizon = model.horizon if horizon is None else horizon
    if not 1 <= horizon <= model.horizon:
        raise UserError(
            f"horizon: a backtest scores the model's own forecasts, 1 to {model.horizon} "
            f"steps (its horizon), got {horizon}"
        )
    if stride < 1:
        raise UserError(f"stride: must be at least 1, got {stride}")
    check_levels(model, levels)
    season = season or season_length(trained.frequency)
    if season < 1:
        raise UserError(f"season: must be at least 1, got {season}")
    result = BacktestResult(horizon, season, stride, tuple(levels))
    start = np.datetime64(start, "s")
    fmt = data.date_format
    shown = format_date(start, fmt)
    for one in data.series:
        label = f"series {one.id!r}" if one.id else "the series"
        first, n = first_index(one, start), len(one)
        if n < L + lag + horizon:
            raise UserError(
                f"data: {label} has {counted(n, 'step')}; a backtest needs lookback "
                f"{'+ difference ' if lag else ''}+ horizon = {L + lag + horizon} (the model "
                f"reads {L + lag}, then {horizon} are scored)"
            )
        if 0 < first < n and one.dates[first] != start:
            raise UserError(
                f"start: {shown} is not a date of {label}; start on one of its dates, such "
                f"as {format_date(one.dates[first - 1], fmt)} or "
                f"{format_date(one.dates[first], fmt)}"
            )
        if first < L + lag:
            earliest = format_date(one.dates[min(L + lag, n - 1)], fmt)
            raise UserError(
                f"start: {label} has {counted(first, 'step')} before {shown}; the model "
                f"reads {L + lag} (lookback{' + difference' if lag else ''}), so the earliest "
                f"start is {earliest}"
            )
        if first + horizon > n:
            last = format_date(one.dates[n - horizon], fmt) if n >= horizon else "none"
            raise UserError(
                f"start: {label} has {counted(n - first, 'step')} from {shown} on, fewer "
                f"than the horizon {horizon}; the latest start is {last}"
            )
        if first <= season:
            raise UserError(
                f"season: {label} has {counted(first, 'step')} before the start; the "
                f"seasonal baselines and MASE need more than the season ({season})"
            )
        result.insample.append(one.target[:first])
        origins = np.arange(first, n - horizon + 1, stride)
        held_out = trained.held_out.get(one.id)
        if held_out is not None:
            seen = int(np.sum(origins < first_index(one, np.datetime64(held_out))))
            result.trained_on = (result.trained_on or 0) + seen
            result.held_out = result.held_out or held_out
        actual, point, quantiles = [], [], []
        baselines: dict[str, list[np.ndarray]] = {name: [] for name in BASELINES}
        crps = 0.0
        chunk = max(1, MOST_DRAWN // (num_samples * model.horizon * model.num_targets))
        for begin in range(0, len(origins), chunk):
            some = origins[begin : begin + chunk]
            forecast = model.predict(
                **_windows(trained, one, some), levels=levels, num_samples=num_samples,
                rng=seed + begin, paths=True,
            )  # fmt: skip
            for i, origin in enumerate(some):
                past = one.target[:origin]
                actual.append(one.target[origin : origin + horizon])
                p, q, paths = in_data_units(trained.target_transform, one.id, forecast, i, past)
                point.append(p[:horizon])
                quantiles.append(q[:horizon])
                crps += float(crps_from_samples(paths[:, :horizon], actual[-1]).sum())
                for name, baseline in BASELINES.items():
                    baselines[name].append(baseline(past, horizon, season))
        result.crps.append(crps)
        result.origins.append(origins)
        result.actual.append(np.stack(actual))
        result.forecasts.append(
            {"model": np.stack(point), **{k: np.stack(v) for k, v in baselines.items()}}
        )
        result.quantiles.append(np.stack(quantiles))
    result.metrics = _metrics(result)
    return result


def _metrics(result: BacktestResult) -> dict[str, dict[str, Any]]:
    """Each method's point metrics, and the model's probabilistic ones, pooled over the
    series (see the module docstring)."""
    metrics: dict[str, dict[str, Any]] = {}
    for name in result.forecasts[0]:
        forecasts = [f[name] for f in result.forecasts]
        scores = pooled_point_metrics(result.actual, forecasts, result.insample, result.season)
        scores["mae_by_step"] = mae_by_step(result.actual, forecasts)
        metrics[name] = scores
    actual = np.concatenate([a.ravel() for a in result.actual])
    quantiles = np.concatenate([q.reshape(-1, len(result.levels)) for q in result.quantiles])
    model = metrics["model"]
    covered = None
    if len(result.levels) >= 2:
        covered = interval_coverage(actual, quantiles[:, 0], quantiles[:, -1])
    if covered is not None:
        model["coverage"], model["interval"] = covered, list(result.interval)
    # both are weighted by sum |a|: undefined (None, as MAPE) when every actual value is 0
    weight = float(np.abs(actual).sum())
    model["wql"] = weighted_quantile_loss(actual, quantiles, result.levels) if weight else None
    model["crps"] = sum(result.crps) / weight if weight else None
    return metrics
