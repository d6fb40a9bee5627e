"""Training, validation and test windows of forecasting data.

A window at origin ``o`` (the step index of its first forecast value) reads the ``L``
steps ``o-L .. o-1`` and forecasts ``o .. o+H-1``. The last ``valid_size + test_size``
steps of each series are held out: a window belongs to the part its forecast steps fall in
(all ``H`` of them), and its input may reach back into the part before, as in the LTSF
protocol. The transforms (scaling, log, differencing; ``timeseries_transforms``) are fitted
on each series' training part only, and the covariates are standardised likewise.

The known-future inputs of a window (``future_covariates``, lookback and horizon) are the
calendar features of its dates followed by the series' known-future covariate columns
(``Series.future``), standardised with their own training statistics.

Several series (long format) give one set of windows: a global model trains on all of
them, and ``ForecastWindows.series`` says which series each window came from.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from rnnkit.data.timeseries import Series, SeriesData
from rnnkit.data.timeseries_calendar import Frequency, calendar_features, future_dates
from rnnkit.data.timeseries_transforms import SeriesTransform
from rnnkit.errors import SettingError, UserError
from rnnkit.plural import counted

MODEL_INPUTS = ("past_target", "past_covariates", "future_covariates")


@dataclass
class ForecastWindows:
    """Windows, with the shapes ``Forecaster`` takes (``N`` windows), plus where they are from.

    ``series`` ``(N,)``: index into ``SeriesData.series``; ``origin`` ``(N,)``: the first
    forecast step, an index into that series' rows (in the data, before differencing).
    """

    past_target: np.ndarray  # (N, L, S)
    past_covariates: np.ndarray  # (N, L, Cp)
    future_covariates: np.ndarray  # (N, L+H, Cf)
    future_target: np.ndarray  # (N, H, S)
    series: np.ndarray
    origin: np.ndarray

    def __len__(self) -> int:
        return len(self.origin)

    def batch(self, rows: Any = slice(None)) -> dict[str, np.ndarray]:
        """The model's four arguments for ROWS (``loss_and_backward(**windows.batch(rows))``)."""
        return {name: getattr(self, name)[rows] for name in (*MODEL_INPUTS, "future_target")}

    def inputs(self, rows: Any = slice(None)) -> dict[str, np.ndarray]:
        """The three input arguments of ``Forecaster.predict`` for ROWS."""
        return {name: getattr(self, name)[rows] for name in MODEL_INPUTS}

    @classmethod
    def concatenate(cls, parts: list[ForecastWindows]) -> ForecastWindows:
        return cls(*(np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(cls)))


def make_windows(
    target: np.ndarray,
    past_covariates: np.ndarray,
    future_covariates: np.ndarray,
    lookback: int,
    horizon: int,
    first: int = 0,
    stop: int | None = None,
    stride: int = 1,
) -> tuple[ForecastWindows, np.ndarray]:
    """Windows of one series whose forecasts lie in steps ``[first, stop)``.

    Args:
        target: ``(T, S)``; past_covariates ``(T, Cp)``; future_covariates ``(T, Cf)``.
        lookback, horizon: ``L`` and ``H``.
        first, stop: the steps the forecasts must fall in (``stop`` None: ``T``).
        stride: steps between consecutive origins.
    Returns:
        ``(windows, origins)``, origins ``o = max(first, L), ... <= stop - H`` every STRIDE
        steps (``windows.series`` is 0 and ``windows.origin`` the origins: the caller
        re-labels them).
    """
    stop = len(target) if stop is None else stop
    origins = np.arange(max(first, lookback), stop - horizon + 1, stride)
    past = origins[:, None] + np.arange(-lookback, 0)
    ahead = origins[:, None] + np.arange(horizon)
    known = origins[:, None] + np.arange(-lookback, horizon)
    windows = ForecastWindows(
        target[past], past_covariates[past], future_covariates[known], target[ahead],
        np.zeros(len(origins), dtype=np.int64), origins,
    )  # fmt: skip
    return windows, origins


@dataclass
class PreparedSeries:
    """Everything ``prepare_windows`` made: windows per part, the fitted transforms (for
    the run folder), and the names of the calendar features (the known-future inputs
    before the known-future covariate columns)."""

    train: ForecastWindows
    valid: ForecastWindows
    test: ForecastWindows
    target_transform: SeriesTransform
    covariate_transform: SeriesTransform
    calendar: list[str]
    future_transform: SeriesTransform


def prepare_windows(
    data: SeriesData,
    lookback: int,
    horizon: int,
    valid_size: int = 0,
    test_size: int = 0,
    scaler: str = "standard",
    log: bool = False,
    difference: int = 0,
    calendar: bool = True,
    stride: int = 1,
) -> PreparedSeries:
    """Split every series, fit the transforms on the training parts, cut windows.

    Args:
        data: from ``read_series``.
        lookback, horizon: ``L`` and ``H``.
        valid_size, test_size: steps held out at the end of each series for validation
            and for testing (the test part last).
        scaler, log, difference: the target's transforms (``SeriesTransform``).
        calendar: add calendar features of the dates as known-future covariates.
        stride: steps between consecutive training windows (validation and test: 1).
    """
    for name, value in (("lookback", lookback), ("horizon", horizon), ("stride", stride)):
        if value < 1:
            raise UserError(f"{name}: must be at least 1, got {value}")
    for name, value in (("valid_size", valid_size), ("test_size", test_size)):
        if value < 0:
            raise UserError(f"{name}: must be at least 0, got {value}")
    lag = difference
    for one in data.series:  # first: a short series has no spacing to speak of either
        n = len(one)
        train_end = n - valid_size - test_size
        needed = lookback + horizon + lag
        if train_end < needed:
            raise SettingError(
                f"lookback: series {one.id or 'in the file'} has {counted(n, 'step')}; with "
                f"{valid_size + test_size} held out, {max(train_end, 0)} remain to train on, "
                f"fewer than lookback + horizon{' + difference' if lag else ''} = {needed}; give a "
                "smaller lookback or horizon, a smaller valid_size or test_size, or a longer "
                "series", "lookback", "horizon", "difference",
            )  # fmt: skip
    if calendar and data.frequency is None:
        # the setting's name only where it is named, as the command line writes it as a flag
        raise SettingError(
            "calendar: the dates are not regularly spaced, so the month, weekday or hour of "
            "the dates to come cannot be known ahead; turn calendar off",
            "calendar",
        )
    targets = SeriesTransform(scaler, log, difference)
    covariates = SeriesTransform("standard")
    futures = SeriesTransform("standard")
    names: list[str] = []
    parts: dict[str, list[ForecastWindows]] = {"train": [], "valid": [], "test": []}
    for index, one in enumerate(data.series):
        n = len(one)
        train_end = n - valid_size - test_size
        targets.fit(one.id, one.target[:train_end])
        covariates.fit(one.id, one.covariates[:train_end])
        futures.fit(one.id, one.future[:train_end])
        z = targets.transform(one.id, one.target)  # rows lag .. n-1
        past = covariates.transform(one.id, one.covariates)[lag:]
        known = known_inputs(one, data.frequency, calendar, futures, lag, n - lag)
        bounds = {"train": (0, train_end), "valid": (train_end, n - test_size)}
        bounds["test"] = (n - test_size, n)
        for part, (first, stop) in bounds.items():
            step = stride if part == "train" else 1
            windows, origins = make_windows(
                z, past, known, lookback, horizon, max(first - lag, 0), stop - lag, step
            )
            windows.series[:] = index
            windows.origin = origins + lag
            parts[part].append(windows)
    if calendar:
        names = calendar_features(data.series[0].dates[:1], data.frequency)[0]
    return PreparedSeries(
        *(ForecastWindows.concatenate(parts[p]) for p in ("train", "valid", "test")),
        targets, covariates, names, futures,
    )  # fmt: skip


def known_inputs(
    one: Series,
    frequency: Frequency | None,
    calendar: bool,
    transform: SeriesTransform | None,
    start: int,
    count: int,
) -> np.ndarray:
    """What a model reads as known ahead at ONE's steps ``start .. start + count - 1``.

    Args:
        one: the series; steps from ``len(one)`` on are those after its last date.
        frequency: the dates' spacing (needed with CALENDAR).
        calendar: put the calendar features of the steps' dates first.
        transform: the standardisation of ``one.future`` fitted in training (None: the
            series has no known-future covariate column).
        start, count: the steps.
    Outputs:
        ``(count, F)``: the calendar features, then the known-future covariates (from
        ``one.ahead`` after the last date), scaled.
    """
    n, stop = len(one), start + count
    after = max(stop - n, 0)
    parts = [np.zeros((count, 0))]
    if calendar:
        dates = np.concatenate([one.dates, future_dates(one.dates[-1], frequency, after)])
        parts.append(calendar_features(dates[start:stop], frequency)[1])
    if one.future.shape[1]:
        if len(one.ahead) < after:
            raise too_few_ahead(one, after)
        values = np.concatenate([one.future, one.ahead[:after]])[start:stop]
        parts.append(transform.transform(one.id, values))
    return np.concatenate(parts, axis=1)


def too_few_ahead(one: Series, needed: int, why: str = "") -> UserError:
    """The error for a series ONE that gives its known-future covariates for fewer than
    NEEDED steps after its last observed value (WHY: what reads them, if said)."""
    more = needed - len(one.ahead)  # the rows already there count
    return UserError(
        f"data: series {one.id or 'in the file'} gives its known-future covariates for "
        f"{counted(len(one.ahead), 'step')} after its last observed value, and {needed} are "
        f"needed{why}: add {counted(more, 'more row')} with the target empty and those "
        "columns filled in"
    )
