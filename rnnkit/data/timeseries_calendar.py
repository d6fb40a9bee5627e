"""Dates of a time series: the spacing (``Frequency``), gaps, future dates, calendar features.

A ``Frequency`` is a step in calendar months (monthly, quarterly, yearly: months have
different lengths, so these are counted in months) or in seconds (hourly, daily, weekly,
any fixed step). ``infer_frequency`` takes the most common step between consecutive dates;
a step that is a multiple of it is a gap (dates missing), any other step makes the series
irregular (no frequency).

Calendar features are known in advance for any date, so they serve as known-future
covariates. Each is scaled to [-0.5, 0.5] as in GluonTS's time features::

    hour:        hour / 23 - 0.5          (steps shorter than a day)
    day_of_week: weekday / 6 - 0.5        (Monday = 0; steps shorter than a week)
    month:       (month - 1) / 11 - 0.5   (steps shorter than a year)
"""

from __future__ import annotations

from contextlib import suppress
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

import numpy as np

from rnnkit.plural import counted

DAY = 86_400
NAMED_STEPS = {60: "minutely", 3600: "hourly", DAY: "daily", 7 * DAY: "weekly"}
NAMED_MONTHS = {1: "monthly", 3: "quarterly", 12: "yearly"}


@dataclass(frozen=True)
class Frequency:
    """A regular spacing: ``step`` months (``unit="month"``) or seconds (``unit="second"``).

    Monthly dates keep their place in the month: ``offset`` seconds after the month's start,
    or the month's last day (``month_end``, at ``offset`` seconds into that day).
    """

    unit: str
    step: int
    offset: int = 0
    month_end: bool = False

    @property
    def name(self) -> str:
        """``"monthly"``, ``"hourly"``, ..., or ``"every 2 months"``, ``"every 2 days"``,
        ``"every 30 minutes"``: a fixed step in the largest unit it is a whole number of."""
        named = NAMED_MONTHS if self.unit == "month" else NAMED_STEPS
        if self.step in named:
            return named[self.step]
        if self.unit == "month":
            return f"every {counted(self.step, 'month')}"
        for unit, seconds in (("week", 7 * DAY), ("day", DAY), ("hour", 3600), ("minute", 60)):
            if self.step % seconds == 0:
                return f"every {counted(self.step // seconds, unit)}"
        return f"every {counted(self.step, 'second')}"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Frequency:
        """The frequency ``to_dict`` saved; ValueError if DATA is not one."""
        if not isinstance(data, dict):
            raise ValueError(f"frequency: expected an object, got {data!r}")
        try:
            frequency = cls(**data)
        except TypeError as error:
            raise ValueError(f"frequency: {error}") from None
        numbers = (frequency.step, frequency.offset)
        whole = all(isinstance(n, int) and not isinstance(n, bool) for n in numbers)
        if (
            frequency.unit not in ("month", "second")
            or not whole
            or frequency.step < 1
            or frequency.offset < 0
            or not isinstance(frequency.month_end, bool)
        ):
            raise ValueError(f"frequency: not a spacing of dates: {data!r}")
        return frequency


def format_date(date: Any, fmt: str | None = None) -> str:
    """DATE as the data writes its dates (the ``strftime`` format FMT, e.g. ``1958-01`` for
    ``%Y-%m``), or as ISO text without the time at midnight (``1984-12-30``,
    ``2016-07-01T13:00:00``) without FMT or where FMT would lose part of DATE."""
    text = str(np.datetime64(date, "s"))
    if fmt:
        moment = datetime.fromisoformat(text)
        written = moment.strftime(fmt)
        with suppress(ValueError):
            if datetime.strptime(written, fmt) == moment:
                return written
    return text.removesuffix("T00:00:00")


def _months(dates: np.ndarray) -> np.ndarray:
    """Months since 1970-01 of each date."""
    return dates.astype("datetime64[M]").astype(np.int64)


def _month_dates(months: np.ndarray, frequency: Frequency) -> np.ndarray:
    """The dates of month indices MONTHS, placed in the month as FREQUENCY says."""
    if frequency.month_end:
        ends = (months + 1).astype("datetime64[M]").astype("datetime64[D]") - np.timedelta64(1)
        return ends.astype("datetime64[s]") + np.timedelta64(frequency.offset, "s")
    starts = months.astype("datetime64[M]").astype("datetime64[s]")
    return starts + np.timedelta64(frequency.offset, "s")


def _positions(dates: np.ndarray, frequency: Frequency) -> np.ndarray:
    """Each date's step index counted from the first date."""
    if frequency.unit == "month":
        months = _months(dates)
        return (months - months[0]) // frequency.step
    seconds = dates.astype("datetime64[s]").astype(np.int64)
    return (seconds - seconds[0]) // frequency.step


def infer_frequency(
    dates: np.ndarray, fmt: str | None = None
) -> tuple[Frequency | None, str | None]:
    """``(frequency, note)`` of sorted, distinct DATES; see the module docstring.

    The note reports gaps (``"2 gaps, 3 missing dates; the first after 1984-12-30"``) or the
    irregular step that leaves the series without a frequency, naming dates as the data's
    format FMT writes them; it is None otherwise.
    """
    dates = np.asarray(dates, dtype="datetime64[s]")
    if len(dates) < 2:
        return None, None
    month_start = _months(dates).astype("datetime64[M]").astype("datetime64[s]")
    offsets = (dates - month_start).astype(np.int64)
    day_after = (dates.astype("datetime64[D]") + np.timedelta64(1)).astype("datetime64[M]")
    last_day = day_after != dates.astype("datetime64[M]")
    seconds_in_day = offsets % DAY
    if np.all(offsets == offsets[0]):
        frequency_steps = np.diff(_months(dates))
        build = lambda step: Frequency("month", step, int(offsets[0]))  # noqa: E731
    elif np.all(last_day) and np.all(seconds_in_day == seconds_in_day[0]):
        frequency_steps = np.diff(_months(dates))
        build = lambda step: Frequency("month", step, int(seconds_in_day[0]), True)  # noqa: E731
    else:
        frequency_steps = np.diff(dates.astype(np.int64))
        build = lambda step: Frequency("second", step)  # noqa: E731
    values, counts = np.unique(frequency_steps, return_counts=True)
    step = int(values[np.argmax(counts)])
    odd = np.flatnonzero(frequency_steps % step != 0)
    if odd.size:
        i = int(odd[0])
        return None, (
            f"irregular spacing: most steps are {build(step).name}, but "
            f"{format_date(dates[i], fmt)} to {format_date(dates[i + 1], fmt)} is not a whole "
            "number of them"
        )
    frequency = build(step)
    missing = frequency_steps // step - 1
    gaps = np.flatnonzero(missing)
    if not gaps.size:
        return frequency, None
    return frequency, (
        f"{counted(gaps.size, 'gap')} in the {frequency.name} dates, "
        f"{counted(int(missing.sum()), 'missing date')}; the first after "
        f"{format_date(dates[gaps[0]], fmt)}"
    )


def fill_gaps(dates: np.ndarray, frequency: Frequency) -> tuple[np.ndarray, np.ndarray]:
    """``(all_dates, positions)``: every date of the regular range from the first to the last
    date, and where each of DATES sits in it."""
    positions = _positions(dates, frequency)
    return future_dates(dates[0], frequency, int(positions[-1]), include_start=True), positions


def future_dates(
    start: Any, frequency: Frequency, count: int, include_start: bool = False
) -> np.ndarray:
    """The COUNT dates after START (and START itself first with ``include_start``)."""
    first = 0 if include_start else 1
    k = np.arange(first, count + 1, dtype=np.int64)
    start = np.datetime64(start, "s")
    if frequency.unit == "month":
        return _month_dates(_months(start[None])[0] + k * frequency.step, frequency)
    return start + (k * frequency.step).astype("timedelta64[s]")


def calendar_features(
    dates: np.ndarray, frequency: Frequency | None
) -> tuple[list[str], np.ndarray]:
    """``(names, values (T, F))``: the calendar features that vary at this FREQUENCY.

    Raises ValueError if FREQUENCY is None: features need a regular spacing to be known
    ahead.
    """
    if frequency is None:
        raise ValueError("frequency: calendar features need regularly spaced dates")
    dates = np.asarray(dates, dtype="datetime64[s]")
    seconds = frequency.step * (30 * DAY if frequency.unit == "month" else 1)
    names, columns = [], []
    if seconds < DAY:
        hour = (dates - dates.astype("datetime64[D]")).astype(np.int64) // 3600
        names.append("hour")
        columns.append(hour / 23.0 - 0.5)
    if seconds < 7 * DAY:
        weekday = (dates.astype("datetime64[D]").astype(np.int64) + 3) % 7  # 1970-01-01: Thu
        names.append("day_of_week")
        columns.append(weekday / 6.0 - 0.5)
    if seconds < 360 * DAY:
        month = _months(dates) % 12
        names.append("month")
        columns.append(month / 11.0 - 0.5)
    values = np.stack(columns, axis=1) if columns else np.zeros((len(dates), 0))
    return names, values


def season_length(frequency: Frequency | None) -> int:
    """The usual season in steps: 12 for monthly, 4 quarterly, 24 hourly, 7 daily, 52
    weekly, 1 (no season) for yearly, irregular or other spacings."""
    if frequency is None:
        return 1
    if frequency.unit == "month":
        return 12 // frequency.step if 12 % frequency.step == 0 else 1
    per_day = {DAY: 7, 7 * DAY: 52}
    if frequency.step in per_day:
        return per_day[frequency.step]
    if DAY % frequency.step == 0:
        return DAY // frequency.step
    return 1
