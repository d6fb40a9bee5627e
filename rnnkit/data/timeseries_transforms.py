"""Per-series transforms of forecasting data, fitted on the training part only.

A target column goes through, in this order::

    log:         u = log(1 + y)                       (optional; needs y > -1)
    difference:  v_t = u_t - u_{t-lag}                 (optional; lag 1, or a season)
    scale:       z = (v - shift) / scale               fitted per series and column

Scalers (``SCALERS``), with statistics of the series' training part:

    standard:  shift = mean(v),  scale = std(v)        (population std)
    mean:      shift = 0,        scale = mean(|v|)     (DeepAR's mean scaling)
    none:      shift = 0,        scale = 1

A scale of 0 (a constant training part) is taken as 1. Differencing drops the first ``lag``
steps of a series: ``transform`` returns ``T - lag`` rows, aligned with ``dates[lag:]``.

``inverse`` maps forecasts back: unscale, then undo differencing step by step from the
last observed values (``y_{T+h} = v_{T+h} + y_{T+h-lag}``, earlier forecasts feeding
later steps), then ``exp(.) - 1``. Each step is monotone for a single step ahead, so
quantiles map exactly without differencing; with differencing invert sample paths and
take their quantiles afterwards.

The fitted state is plain JSON (``to_dict`` / ``from_dict``), saved with a run.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from rnnkit.errors import UserError, quoted
from rnnkit.plural import counted, some_of

SCALERS = ("standard", "mean", "none")

# the largest number a model reads: they compute in float32
LARGEST = float(np.finfo(np.float32).max)

# series names a message lists of those fitted (a global model may have thousands)
MOST_NAMES_SHOWN = 8


class SeriesTransform:
    """Log, differencing and scaling of each series' columns; see the module docstring.

    Args:
        scaler: one of ``SCALERS``.
        log: take ``log(1 + y)`` first.
        difference: the lag to difference at (0: none).
    """

    def __init__(self, scaler: str = "standard", log: bool = False, difference: int = 0) -> None:
        if scaler not in SCALERS:
            raise UserError(f"scaler: expected one of {', '.join(SCALERS)}, got {scaler!r}")
        if isinstance(difference, bool) or not isinstance(difference, int) or difference < 0:
            raise UserError(f"difference: expected a lag >= 0, got {difference!r}")
        self.scaler, self.log, self.difference = scaler, bool(log), difference
        self.stats: dict[str, tuple[np.ndarray, np.ndarray]] = {}  # id -> (shift, scale)

    # -- the steps before scaling ------------------------------------------------------------

    def _unscaled(self, values: np.ndarray, name: str) -> np.ndarray:
        values = np.asarray(values, dtype=np.float64)
        if self.log:
            bad = np.argwhere(values <= -1.0)
            if bad.size:
                raise UserError(
                    f"log: series {name!r} has the value {values[tuple(bad[0])]:g} at step "
                    f"{bad[0][0]}; log(1 + y) needs y > -1"
                )
            values = np.log1p(values)
        lag = self.difference
        if lag:
            values = values[lag:] - values[:-lag]
        return values

    # -- fit / transform / inverse -----------------------------------------------------------

    def fit(self, name: str, train_values: np.ndarray) -> SeriesTransform:
        """Fit series NAME's statistics on its TRAINING PART ``(T_train, C)`` (only that)."""
        v = self._unscaled(train_values, name)
        if len(v) == 0:
            raise UserError(f"difference: series {name!r} has no training step left after it")
        if self.scaler == "standard":
            shift, scale = v.mean(axis=0), v.std(axis=0)
        elif self.scaler == "mean":
            shift, scale = np.zeros(v.shape[1]), np.abs(v).mean(axis=0)
        else:
            shift, scale = np.zeros(v.shape[1]), np.ones(v.shape[1])
        self.stats[name] = (shift, np.where(scale > 0, scale, 1.0))
        return self

    def _stats(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        if name not in self.stats:
            known = some_of(self.stats, MOST_NAMES_SHOWN) or "none"
            raise UserError(f"series: {name!r} was not seen in training (known: {known})")
        return self.stats[name]

    def transform(self, name: str, values: np.ndarray) -> np.ndarray:
        """``(T - lag, C)``: VALUES ``(T, C)`` of series NAME, transformed. Values that come
        out beyond what a float32 model reads are a UserError."""
        shift, scale = self._stats(name)
        with np.errstate(over="ignore"):
            scaled = (self._unscaled(values, name) - shift) / scale
        with np.errstate(invalid="ignore"):  # NaN, a missing value, is not compared
            beyond = np.abs(scaled) > LARGEST
        if beyond.any():
            raise UserError(
                f"series {name!r}: scaled as in training, its values reach "
                f"{scaled[beyond][0]:.3g}, past what the model reads ({LARGEST:.3g}); check the "
                "data for values far outside the training data's, or restore the run's "
                "config.json if its scaling (transforms) was edited"
            )
        return scaled

    def inverse(self, name: str, forecast: np.ndarray, history: np.ndarray) -> np.ndarray:
        """FORECAST ``(..., H, C)`` in model units back in the data's units.

        HISTORY ``(..., >= lag, C)`` holds the last observed values before the forecast, in
        the data's units (only needed with differencing; leading axes broadcast).
        """
        shift, scale = self._stats(name)
        v = np.asarray(forecast, dtype=np.float64) * scale + shift
        lag = self.difference
        if lag:
            history = np.asarray(history, dtype=np.float64)
            if history.shape[-2] < lag:
                raise UserError(f"history: differencing at lag {lag} needs the last {lag} values")
            level = np.log1p(history[..., -lag:, :]) if self.log else history[..., -lag:, :]
            level = np.broadcast_to(level, (*v.shape[:-2], lag, v.shape[-1]))
            steps = []
            for h in range(v.shape[-2]):
                before = level[..., h, :] if h < lag else steps[h - lag]
                steps.append(v[..., h, :] + before)
            v = np.stack(steps, axis=-2)
        return np.expm1(v) if self.log else v

    # -- JSON --------------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        return {
            "scaler": self.scaler,
            "log": self.log,
            "difference": self.difference,
            "series": {
                name: {"shift": shift.tolist(), "scale": scale.tolist()}
                for name, (shift, scale) in self.stats.items()
            },
        }

    @classmethod
    def from_dict(cls, data: Any, columns: int | None = None) -> SeriesTransform:
        """The transform ``to_dict`` saved; ValueError naming the field (``log: ...``) if
        DATA is not one (an edited or damaged file), or if its series do not scale COLUMNS
        columns each (when given)."""
        if not isinstance(data, dict):
            raise ValueError(f"expected an object, got {quoted(str(data))}")
        for key in ("scaler", "log", "difference", "series"):
            if key not in data:
                raise ValueError(f"{key}: missing")
        if not isinstance(data["log"], bool):  # __init__ reads "false" as true
            raise ValueError(f"log: expected true or false, got {data['log']!r}")
        try:
            transform = cls(data["scaler"], data["log"], data["difference"])
        except UserError as error:
            raise ValueError(str(error)) from None
        series = data["series"]
        if not isinstance(series, dict):
            raise ValueError(f"series: expected an object of series, got {quoted(str(series))}")
        for name, stats in series.items():
            transform.stats[name] = _saved_stats(name, stats, columns)
        return transform


def _saved_stats(name: str, stats: Any, columns: int | None) -> tuple[np.ndarray, np.ndarray]:
    """``(shift, scale)`` of series NAME as ``to_dict`` saved them (STATS), COLUMNS each."""
    if not isinstance(stats, dict) or not {"shift", "scale"} <= set(stats):
        raise ValueError(
            f"series {name!r}: expected an object of its shift and scale, got {quoted(str(stats))}"
        )
    shift, scale = stats["shift"], stats["scale"]
    width = len(shift) if columns is None and isinstance(shift, list) else columns
    if not all(
        isinstance(numbers, list)
        and len(numbers) == width
        and all(type(number) in (int, float) for number in numbers)
        for numbers in (shift, scale)
    ):
        raise ValueError(
            f"series {name!r}: expected a shift and a scale for each of "
            f"{counted(width or 0, 'column')}, got {quoted(str(shift))} and {quoted(str(scale))}"
        )
    shift, scale = _floats(shift), _floats(scale)
    if not (np.all(np.isfinite(shift)) and np.all(np.isfinite(scale) & (scale > 0))):
        raise ValueError(
            f"series {name!r}: expected finite shifts and scales above 0, got "
            f"{shift.tolist()} and {scale.tolist()}"
        )
    return shift, scale


def _floats(numbers: list[int | float]) -> np.ndarray:
    """NUMBERS as float64; a whole number past its range (JSON has no limit) is an infinity
    of its sign, where NumPy would raise an OverflowError."""
    values = []
    for number in numbers:
        try:
            values.append(float(number))
        except OverflowError:
            values.append(math.inf if number > 0 else -math.inf)
    return np.array(values, dtype=np.float64)


def fit_transforms(
    names: Sequence[str], train_parts: Sequence[np.ndarray], **options: Any
) -> SeriesTransform:
    """One ``SeriesTransform(**options)`` fitted on each series' training part."""
    transform = SeriesTransform(**options)
    for name, part in zip(names, train_parts, strict=True):
        transform.fit(name, part)
    return transform
