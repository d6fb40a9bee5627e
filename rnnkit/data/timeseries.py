"""Read time series from a CSV file: one series, or several in long format (an id column).

``read_series(data, date_column, target, covariates, id_column, fill)`` accepts what
spreadsheets and data portals write: a comma, semicolon or tab separator (whichever the
header line holds most of, outside quotes), a UTF-8 byte-order mark, CRLF line ends,
quoted headers and values, and dates in the common formats (``DATE_FORMATS``: ISO dates and
times, ``YYYY-MM`` months, years, ``DD.MM.YYYY``, ``DD/MM/YYYY`` and ``MM/DD/YYYY``; one
format must fit every row; where day first and month first both do, the one that spaces
the dates regularly). With a semicolon separator a decimal comma (``12,5``) is read
as a decimal point.

Each series comes out sorted by date: a file in descending order is reversed and one out
of order is sorted, both with a note. A date that occurs twice in a series is an error; read
as one series (no ``id_column``), a file whose dates repeat but that a column the reader
does not read splits into series of two or more rows that repeat no date looks like
several series in long format, and says so (``SeveralSeriesError``).
The spacing is inferred (``Frequency``: years, months or a fixed number of seconds);
dates missing from a regular series (gaps) are reported in ``notes``, and filled in when
``fill`` is given; ``refuse_gaps`` refuses them where windows are cut from the series.
Missing values (an empty cell, ``NA``, ``NaN``, ``null``, ``?``) are an error naming the
first lines unless ``fill`` is ``"ffill"`` (the last value before, or
the first after at the start) or ``"interpolate"`` (linear in the step index).

Known-future covariates (``future_covariates``: a holiday flag, a planned price) may go on
past the last observed value: the rows at the end of a series whose targets are all
empty are not part of its history but the covariates' values for the steps to forecast
(``Series.ahead``). They must continue the series' dates without gaps and give every
known-future column a value; the other columns of those rows are not read.

Every error is a ``UserError`` of one line naming the parameter (``data``, ``target``, ``fill``,
``date_column``), the column and the file line, never a command-line flag.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np

from rnnkit.data.csv_rows import csv_rows
from rnnkit.data.text import is_codec
from rnnkit.data.timeseries_calendar import (
    Frequency,
    fill_gaps,
    format_date,
    future_dates,
    infer_frequency,
)
from rnnkit.errors import SettingError, UserError
from rnnkit.plural import counted

SEPARATORS = (",", ";", "\t")
MISSING = frozenset({"", "na", "n/a", "nan", "null", "none", "?"})
FILLS = ("ffill", "interpolate")
DATE_FORMATS = (
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%d",
    "%Y-%m",
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d %H:%M",
    "%Y/%m/%d",
    "%Y/%m",
    "%d.%m.%Y %H:%M:%S",
    "%d.%m.%Y %H:%M",
    "%d.%m.%Y",
    "%d/%m/%Y %H:%M",
    "%d/%m/%Y",
    "%m/%d/%Y %H:%M",
    "%m/%d/%Y",
    "%Y%m%d",
    "%Y",
)


class SeveralSeriesError(SettingError):
    """A file read as one series whose dates repeat, which one of its other columns splits
    into several series that repeat no date: long format without ``id_column``.

    ``duplicate`` says which date repeats and where, ``column`` names the splitting column,
    so that a front end reading for a trained model can say it in its own words."""

    def __init__(self, duplicate: str, column: str, count: int) -> None:
        super().__init__(
            f"data: {duplicate}, and column {column!r} splits the rows into {count} series "
            f"that repeat no date: for several series in long format set id_column to "
            f"{column!r}",
            "id_column",
        )
        self.duplicate, self.column = duplicate, column


@dataclass
class Series:
    """One series: ``dates`` ``(T,)`` (``datetime64[s]``), ``target`` ``(T, S)``,
    ``covariates`` ``(T, C)`` (past covariates, float64), the file ``lines`` of its rows
    (0 for a row that ``fill`` inserted into a gap), ``future`` ``(T, F)`` (known-future
    covariates) and ``ahead`` ``(A, F)``: their values for the A steps after the last date
    (default: none)."""

    id: str
    dates: np.ndarray
    target: np.ndarray
    covariates: np.ndarray
    lines: np.ndarray
    future: np.ndarray | None = None
    ahead: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.future is None:
            self.future = np.zeros((len(self.dates), 0))
        if self.ahead is None:
            self.ahead = np.zeros((0, self.future.shape[1]))

    def __len__(self) -> int:
        return len(self.dates)


@dataclass
class SeriesData:
    """What ``read_series`` returns: the series (in order of first appearance), the column
    names, the inferred spacing (None if irregular) and notes on what was done or found."""

    series: list[Series]
    target_columns: list[str]
    covariate_columns: list[str]
    frequency: Frequency | None
    date_format: str
    notes: list[str] = field(default_factory=list)
    future_columns: list[str] = field(default_factory=list)


def sniff_separator(header: str) -> str:
    """The one of ``SEPARATORS`` the header line holds most often outside double quotes."""
    counts = dict.fromkeys(SEPARATORS, 0)
    quoted = False
    for char in header:
        if char == '"':
            quoted = not quoted
        elif not quoted and char in counts:
            counts[char] += 1
    return max(SEPARATORS, key=lambda sep: counts[sep])


def date_format_of(values: Sequence[str], column: str, lines: Sequence[int]) -> str:
    """The first of ``DATE_FORMATS`` that reads every value; UserError naming the line if none.

    Where several read every value (day first and month first, when no day is above 12),
    the first that gives regularly spaced dates is taken: ``03/01/2020, 04/01/2020`` are
    months in a month-first file, not days. Where both or neither do, day first is taken.
    """
    fitting = [fmt for fmt in DATE_FORMATS if _reads_every(values, fmt)]
    if len(fitting) > 1:
        return next((fmt for fmt in fitting if _regularly_spaced(values, fmt)), fitting[0])
    if fitting:
        return fitting[0]
    for fmt in DATE_FORMATS:  # the format of the first row, to name the row that breaks it
        try:
            datetime.strptime(values[0], fmt)
        except ValueError:
            continue
        for value, line in zip(values, lines, strict=True):
            try:
                datetime.strptime(value, fmt)
            except ValueError:
                raise UserError(
                    f"date_column {column!r}, line {line}: {value!r} is not a date in the "
                    f"format of the first row ({fmt})"
                ) from None
    raise UserError(
        f"date_column {column!r}, line {lines[0]}: {values[0]!r} is not a date in a known "
        "format (e.g. 2024-01-31, 2024-01-31 13:00, 2024-01, 31.01.2024, 01/31/2024)"
    )


def _reads_every(values: Sequence[str], fmt: str) -> bool:
    try:
        for value in values:
            datetime.strptime(value, fmt)
    except ValueError:
        return False
    return True


def _regularly_spaced(values: Sequence[str], fmt: str) -> bool:
    """Whether VALUES read with FMT are dates at a regular spacing without gaps (the dates
    of several series in long format taken together)."""
    dates = np.unique(np.array([datetime.strptime(v, fmt) for v in values], "datetime64[s]"))
    frequency, note = infer_frequency(dates, fmt)
    return frequency is not None and note is None


def parse_number(text: str, column: str, line: int, decimal_comma: bool) -> float:
    """TEXT as a float, NaN for a missing marker; UserError naming the column and line."""
    text = text.strip()
    if text.lower() in MISSING:
        return float("nan")
    value = None
    candidates = [text]
    if decimal_comma and text.count(",") == 1:
        candidates.append(text.replace(",", "."))
    for candidate in candidates:
        with suppress(ValueError):
            value = float(candidate)
            break
    if value is None:
        raise UserError(
            f"data: column {column!r}, line {line}: {text!r} is not a number; correct it, or "
            "leave the cell empty to mark it missing"
        )
    if not math.isfinite(value):
        # float() reads "inf" and "1e999"; such a value would reach the model as a
        # non-finite input deep in training, so it is refused here where its line is known
        raise UserError(
            f"data: column {column!r}, line {line}: {text!r} is not a finite number; "
            "give a finite value, or leave the cell empty to mark it missing"
        )
    return value


def _read_rows(path: Path, encoding: str) -> tuple[list[str], list[list[str]], list[int], str]:
    if path.is_dir():
        raise UserError(f"data: {path} is a folder; give the CSV file of the series")
    if not path.exists():
        raise UserError(f"data: no such file: {path}")
    if not path.is_file():  # a pipe or a device such as /dev/null
        raise UserError(f"data: {path} is not a regular file; give the CSV file of the series")
    if not is_codec(encoding):
        raise SettingError(
            f"encoding: {encoding!r} is no codec Python knows; give e.g. utf-8, latin-1, utf-16",
            "encoding",
        )
    try:
        with open(path, encoding=encoding, newline="") as handle:
            text = handle.read()
    except UnicodeDecodeError as error:
        raise SettingError(
            f"data: {path} is not {encoding} text ({error.reason}); set encoding to the "
            "file's (e.g. latin-1, cp1252, utf-16)",
            "encoding",
        ) from None
    if encoding.lower().replace("-", "") == "utf8":
        text = text.removeprefix("\ufeff")
    first_line = text.split("\n", 1)[0]
    if not first_line.strip():
        raise UserError(f"data: {path} is empty or starts with an empty line")
    separator = sniff_separator(first_line)
    reader = csv_rows(text.splitlines(), f"data: {path}", delimiter=separator)
    header = [name.strip() for name in next(reader)[1]]
    rows, lines = [], []
    for line, row in reader:
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            raise UserError(
                f"data: line {line} of {path} has {len(row)} fields, the header {len(header)}"
            )
        rows.append(row)
        lines.append(line)
    if not rows:
        raise UserError(f"data: {path} has a header and no rows")
    return header, rows, lines, separator


def _column_index(header: list[str], name: str, parameter: str) -> int:
    if name not in header:
        listed = ", ".join(header)
        raise UserError(f"{parameter}: no column {name!r} in the file; its columns: {listed}")
    places = [k + 1 for k, other in enumerate(header) if other == name]
    if len(places) > 1:  # which one is meant cannot be told
        raise UserError(
            f"data: the header names {name!r} {len(places)} times (columns "
            f"{', '.join(map(str, places))}); give each column its own name"
        )
    return header.index(name)


def refuse_shared_columns(
    date_column: str,
    id_column: str | None,
    targets: list[str],
    covariates: list[str],
    futures: list[str],
) -> None:
    """A column plays one part: raises a SettingError naming the first column named as
    the date or id column and as a target or covariate, or as two of those."""
    roles = {date_column: "the date column"}
    if id_column is not None:
        roles[id_column] = "the id column"
    for setting, names, part in (
        ("target", targets, "a target"),
        ("covariates", covariates, "a past covariate"),
        ("future_covariates", futures, "a known-future covariate"),
    ):
        for name in names:
            if name in roles:
                raise SettingError(
                    f"{setting}: {name!r} is {roles[name]}; {part} is another column", setting
                )
        roles.update(dict.fromkeys(names, part))


def read_series(
    data: str | Path,
    date_column: str,
    target: Sequence[str],
    covariates: Sequence[str] = (),
    id_column: str | None = None,
    fill: str | None = None,
    encoding: str = "utf-8",
    future_covariates: Sequence[str] = (),
) -> SeriesData:
    """Read the series of a CSV file; see the module docstring.

    Args:
        data: the CSV file.
        date_column: the column holding each row's date.
        target: the columns to forecast (one or more).
        covariates: other numeric columns, known up to the present only.
        id_column: a column naming the series of each row (long format), or None for one.
        fill: None (missing values are an error), ``"ffill"`` or ``"interpolate"``.
        encoding: the file's text encoding.
        future_covariates: numeric columns known ahead; rows after the last observed target
            give their values for the steps to forecast (see the module docstring).
    Returns:
        ``SeriesData``; each ``Series`` sorted by date.
    """
    if fill is not None and fill not in FILLS:
        raise UserError(f"fill: expected one of {', '.join(FILLS)} or None, got {fill!r}")
    targets, covariates = list(target), list(covariates)
    futures = list(future_covariates)
    refuse_shared_columns(date_column, id_column, targets, covariates, futures)
    header, rows, lines, separator = _read_rows(Path(data), encoding)
    if not targets:
        raise UserError(
            f"target: name at least one column to forecast; the file's columns: {', '.join(header)}"
        )
    date_index = _column_index(header, date_column, "date_column")
    value_columns = targets + covariates + futures
    indices = [_column_index(header, name, "target") for name in targets]
    indices += [_column_index(header, name, "covariates") for name in covariates]
    indices += [_column_index(header, name, "future_covariates") for name in futures]
    id_index = None if id_column is None else _column_index(header, id_column, "id_column")

    date_texts = [row[date_index].strip() for row in rows]
    fmt = date_format_of(date_texts, date_column, lines)
    dates = np.array([datetime.strptime(t, fmt) for t in date_texts], dtype="datetime64[s]")
    values = np.array(
        [
            [
                parse_number(row[i], name, line, separator == ";")
                for i, name in zip(indices, value_columns, strict=True)
            ]
            for row, line in zip(rows, lines, strict=True)
        ],
        dtype=np.float64,
    ).reshape(len(rows), len(value_columns))
    ids = [row[id_index].strip() for row in rows] if id_index is not None else [""] * len(rows)
    if id_index is None:
        read = {date_index, *indices}
        others = {name: k for k, name in enumerate(header) if k not in read}
        _refuse_several_series(rows, dates, np.asarray(lines), others, fmt)

    notes: list[str] = []
    series = []
    frequencies = []
    line_array = np.asarray(lines)
    for name in dict.fromkeys(ids):
        rows_of = np.flatnonzero(np.asarray(ids) == name)
        one, frequency = _one_series(
            name, dates[rows_of], values[rows_of], line_array[rows_of], len(targets), futures,
            notes, fmt,
        )  # fmt: skip
        if fill is not None:
            one = _filled(one, frequency, value_columns, fill, notes)
        series.append(one)
        frequencies.append(frequency)
    if fill is None:
        for one in series:
            _check_missing(one, value_columns)
    frequency = frequencies[0] if len(set(frequencies)) == 1 else None
    return SeriesData(series, targets, covariates, frequency, fmt, notes, futures)


def _label(name: str) -> str:
    return f"series {name!r}: " if name else ""


def refuse_gaps(data: SeriesData) -> None:
    """Refuse a regular series with dates missing (gaps): windows cut from it would run
    across them as if the dates were consecutive. ``fill`` inserts and fills them."""
    if data.frequency is None:  # irregular dates: no gap to speak of
        return
    for one in data.series:
        _, note = infer_frequency(one.dates, data.date_format)
        if note:
            raise SettingError(
                f"data: {_label(one.id)}{note}; set fill to ffill or interpolate", "fill"
            )


def refuse_irregular(data: SeriesData) -> None:
    """Refuse series without one regular spacing (irregular dates, or series spaced
    differently from each other): the dates of a forecast follow from it. A series of
    fewer than two rows has no spacing either; what is wrong with it is its length, which
    the callers check."""
    if data.frequency is not None or any(len(one) < 2 for one in data.series):
        return
    reason = next((note for note in data.notes if "irregular" in note), "")
    raise UserError(
        "data: the dates are not regularly spaced, and a forecast needs a frequency"
        + (f" ({reason})" if reason else "")
        + "; give the series at one regular spacing"
    )


def _one_series(
    name, dates, values, lines, num_targets, futures, notes, fmt=None
) -> tuple[Series, Frequency | None]:
    """Sort one series' rows by date, refuse duplicates, set apart the known-future rows
    after the last observed target, infer the spacing, report gaps."""
    steps = np.diff(dates.astype(np.int64))
    if len(dates) > 1 and np.all(steps < 0):
        order = np.arange(len(dates))[::-1]
        notes.append(f"{_label(name)}rows were in descending date order; sorted ascending")
    elif np.any(steps < 0):
        order = np.argsort(dates, kind="stable")
        notes.append(f"{_label(name)}rows were out of date order; sorted by date")
    else:
        order = np.arange(len(dates))
    dates, values, lines = dates[order], values[order], lines[order]
    duplicate = _first_duplicate(dates, lines, fmt)
    if duplicate:
        raise UserError(f"date_column: {_label(name)}{duplicate}; one row per date")
    end = len(dates)
    if futures:
        observed = np.flatnonzero(~np.all(np.isnan(values[:, :num_targets]), axis=1))
        end = int(observed[-1]) + 1 if observed.size else end  # no target at all: missing
    frequency, note = infer_frequency(dates[:end], fmt)
    if note:
        notes.append(_label(name) + note)
    first_future = values.shape[1] - len(futures)  # columns: targets, past, known-future
    ahead = values[end:, first_future:]
    _check_ahead(name, dates, lines, end, ahead, futures, frequency)
    history = values[:end]
    one = Series(
        name, dates[:end], history[:, :num_targets], history[:, num_targets:first_future],
        lines[:end], history[:, first_future:], ahead,
    )  # fmt: skip
    return one, frequency


def _first_duplicate(dates: np.ndarray, lines: np.ndarray, fmt: str | None) -> str | None:
    """Where the sorted DATES (read from LINES) first repeat one, in words, or None."""
    repeated = np.flatnonzero(np.diff(dates.astype(np.int64)) == 0)
    if not repeated.size:
        return None
    i = int(repeated[0])
    date = format_date(dates[i], fmt)
    return f"the date {date} appears twice (lines {lines[i]} and {lines[i + 1]})"


def _refuse_several_series(
    rows: list[list[str]], dates: np.ndarray, lines: np.ndarray, others: dict[str, int], fmt: str
) -> None:
    """Raise ``SeveralSeriesError`` when the DATES of the one series repeat and a column of
    OTHERS (name -> index, the columns not read) splits ROWS into series that repeat no date,
    each of two rows or more (a column of row numbers splits them into single rows; a note
    on one row splits off that row)."""
    order = np.argsort(dates, kind="stable")
    duplicate = _first_duplicate(dates[order], lines[order], fmt)
    if duplicate is None:
        return
    stamps = dates.astype(np.int64).tolist()
    for column, index in others.items():
        values = [row[index].strip() for row in rows]
        sizes = Counter(values)
        if len(sizes) < 2 or min(sizes.values()) < 2:
            continue
        if len(set(zip(values, stamps, strict=True))) == len(rows):
            raise SeveralSeriesError(duplicate, column, len(sizes))


def _check_ahead(name, dates, lines, end, ahead, futures, frequency) -> None:
    """Refuse known-future rows (from END on) with a value missing or dates that do not
    continue the series' spacing."""
    missing = np.argwhere(np.isnan(ahead))
    if missing.size:
        row, column = missing[0]
        raise SettingError(
            f"future_covariates: {_label(name)}line {lines[end + row]}, after the last "
            f"observed target, has no value of {futures[column]!r}; the rows after it give "
            "the known-future values of the steps to forecast, so fill them in",
            "future_covariates",
        )
    if frequency is None or not len(ahead):
        return
    expected = future_dates(dates[end - 1], frequency, len(ahead))
    wrong = np.flatnonzero(dates[end:] != expected)
    if wrong.size:
        i = int(wrong[0])
        raise UserError(
            f"date_column: {_label(name)}line {lines[end + i]}: the rows after the last "
            f"observed target must continue the {frequency.name} dates without gaps, so "
            f"{format_date(expected[i])} comes next, not {format_date(dates[end + i])}"
        )


def _values(one: Series) -> np.ndarray:
    """``(T, S + C + F)``: ONE's target, past and known-future covariate columns side by side."""
    return np.concatenate([one.target, one.covariates, one.future], axis=1)


def _check_missing(one: Series, columns: list[str]) -> None:
    values = _values(one)
    missing = np.argwhere(np.isnan(values))
    if not missing.size:
        return
    row, column = missing[0]
    where = [int(one.lines[r]) for r in np.unique(missing[:, 0])[:5]]
    raise SettingError(
        f"fill: {_label(one.id)}{counted(len(missing), 'missing value')}, the first in column "
        f"{columns[column]!r}; line{'s' if len(where) > 1 else ''} {', '.join(map(str, where))}; "
        "set fill to ffill or interpolate",
        "fill",
    )


def _filled(
    one: Series, frequency: Frequency | None, columns: list[str], fill: str, notes: list[str]
) -> Series:
    """The series with gaps (dates missing from a regular spacing) inserted and every
    missing value filled by FILL."""
    dates, positions = fill_gaps(one.dates, frequency) if frequency else (one.dates, None)
    values = _values(one)
    lines = one.lines
    if positions is not None and len(dates) > len(one.dates):
        notes.append(
            f"{_label(one.id)}{counted(len(dates) - len(one.dates), 'missing date')} inserted "
            "and filled"
        )
        full = np.full((len(dates), values.shape[1]), np.nan)
        full[positions] = values
        values = full
        lines = np.zeros(len(dates), dtype=np.int64)
        lines[positions] = one.lines
    count = int(np.isnan(values).sum())
    for j, name in enumerate(columns):
        column = values[:, j]
        known = np.flatnonzero(~np.isnan(column))
        if not known.size:
            raise UserError(f"fill: {_label(one.id)}column {name!r} holds no value at all")
        if fill == "ffill":
            last = np.maximum.accumulate(np.where(np.isnan(column), -1, np.arange(len(column))))
            values[:, j] = np.where(last >= 0, column[np.maximum(last, 0)], column[known[0]])
        else:
            values[:, j] = np.interp(np.arange(len(column)), known, column[known])
    if count:
        notes.append(f"{_label(one.id)}{counted(count, 'missing value')} filled ({fill})")
    S, F = one.target.shape[1], one.target.shape[1] + one.covariates.shape[1]
    return Series(one.id, dates, values[:, :S], values[:, S:F], lines, values[:, F:], one.ahead)
