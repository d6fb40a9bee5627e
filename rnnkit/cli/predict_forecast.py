"""The forecasting half of ``rnnkit predict``: the steps after the end of recent data, with
dates and intervals.

``rnnkit predict`` (``rnnkit.cli.predict``) adds these flags to its parser and hands a run
folder that holds a forecaster to ``run``. ``--data`` is a CSV read as in training (the same
date, target, covariate and id columns, encoding and fill); the model reads the last
``lookback`` steps of each series and forecasts ``--horizon`` steps (default: the model's;
beyond it the point forecast is fed back, see ``rnnkit.train.forecast_backtest``), with the
quantiles ``--quantiles`` (default 0.1 0.5 0.9: the median and an 80% interval; for a
quantile model the levels it learned, and none outside them). A model trained with known-future
covariates reads their values for the steps it forecasts from the rows after each series'
last observed value (the target empty); fewer rows than the model reads is an error naming
how many are needed. A file of several series in long format given to a model trained on
one series (its dates repeat, and a column the model does not read tells the series apart)
is an error that says so and names that column.

Output: a table on stdout (one row per date, and series), or ``--csv PATH`` (columns: the
id column, the date column, then per target its forecast and ``TARGET_qLEVEL`` for each
level; dates written as in the input), or ``--json`` (one object: the frequency, the levels
and one record per series, date and target). ``--plot FILE`` draws the history, the forecast
and the band between the lowest and the highest quantile (one panel per series and
target). The output files are checked before the work, and everything is computed, and
the picture drawn in memory, before any file is written, so a failure leaves no file
half-written.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from rnnkit.atomic import check_writable, write_atomic
from rnnkit.cli.arguments import add_png_flag, positive_int
from rnnkit.cli.flags import flag_name
from rnnkit.data.timeseries import FILLS, SeriesData, SeveralSeriesError, read_series
from rnnkit.data.timeseries_calendar import format_date
from rnnkit.errors import SettingError, UserError
from rnnkit.numbers import plain_number
from rnnkit.plural import counted
from rnnkit.train.figures import figure_bytes, pyplot
from rnnkit.train.forecast_backtest import check_series, forecast_ahead
from rnnkit.train.forecast_evaluation import TrainedForecaster, default_levels
from rnnkit.train.tasks.forecast import load_forecaster

# Parameters of the backtest that library errors name first and that no setting shares a
# name with (settings, such as ``fill:``, are written as flags by ``rnnkit.cli.main``).
FLAG_PREFIXES = ("start",)
MOST_PANELS = 6
HISTORY_SHOWN = 5  # the plot shows at most this many horizons of history (and the lookback)


def level(text: str) -> float:
    """A quantile level strictly between 0 and 1."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number, got {text!r}") from None
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"must be above 0 and below 1, got {text}")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(
        "forecasters", "for a run of rnnkit train --task forecast (defaults: as in training)"
    )
    group.add_argument(
        "--data",
        metavar="PATH",
        help="a CSV of the recent values, with the training columns; for a model with "
        "--future-covariates, rows after the last observed value give them for the horizon "
        "(the target empty)",
    )
    group.add_argument(
        "--horizon",
        type=positive_int,
        metavar="STEPS",
        help="steps to forecast (default: the model's horizon; beyond it the point "
        "forecast is fed back)",
    )
    group.add_argument(
        "--quantiles",
        type=level,
        nargs="+",
        metavar="Q",
        help="quantile levels to report (default 0.1 0.5 0.9, or a quantile model's own; the "
        "band of --plot spans the lowest to the highest)",
    )
    group.add_argument("--csv", metavar="PATH", help="write the forecast to this CSV file")
    add_png_flag(group, "--plot", "the history, the forecast and its interval band")
    group.add_argument(
        "--fill", choices=FILLS, help="fill missing values and dates (default: as in training)"
    )


@contextmanager
def in_flag_words() -> Iterator[None]:
    """Re-raise a library error that starts with a backtest parameter (``start: ...``) with
    the flag's name (``--start: ...``)."""
    try:
        yield
    except UserError as error:
        message = str(error)
        name = message.partition(":")[0]
        if name not in FLAG_PREFIXES:
            raise
        named = getattr(error, "settings", ())
        raise SettingError(flag_name(name) + message[len(name) :], *named) from None


def levels_of(args: argparse.Namespace, trained: TrainedForecaster) -> tuple[float, ...]:
    """The levels of ``--quantiles``, sorted, or the model's default ones."""
    return tuple(sorted(set(args.quantiles or default_levels(trained.model))))


def read_recent(args: argparse.Namespace, trained: TrainedForecaster) -> SeriesData:
    """The series of ``--data``, read with the run's columns and checked for the model."""
    if not args.data:
        raise UserError("a forecaster needs --data PATH: a CSV of the series' recent values")
    saved = trained.config.data
    try:
        data = read_series(
            args.data, saved.date_column, saved.target, saved.covariates, saved.id_column,
            args.fill or saved.fill, getattr(args, "encoding", None) or saved.encoding,
            saved.future_covariates,
        )  # fmt: skip
    except UserError as error:
        raise about_data(error, trained) from None
    check_series(trained, data)
    return data


# The settings that name the run's columns: train's flags, which predict and eval do not
# have; a problem with the columns there is a problem of the file they read.
COLUMN_SETTINGS = ("date_column", "id_column", "future_covariates", "covariates", "target")


def about_data(error: UserError, trained: TrainedForecaster) -> UserError:
    """ERROR of reading --data, about one of the run's columns, told as the file's problem
    (``data: no column 'Month' ...; the model reads the columns ...``); other errors as
    they are."""
    if isinstance(error, SeveralSeriesError):  # the model has no id column to set
        return UserError(
            f"data: {error.duplicate}: the file looks like several series (column "
            f"{error.column!r} tells them apart) and this model was trained on one series; "
            "give the rows of one series"
        )
    message = str(error)
    for name in COLUMN_SETTINGS:
        if message.startswith(f"{name}: "):
            message = "data: " + message[len(name) + 2 :]
        elif message.startswith(f"{name} '"):  # date_column 'Month', line 62: ...
            message = "data: column " + message[len(name) + 1 :]
        else:
            continue
        if "no column" in message:
            saved = trained.config.data
            columns = [saved.id_column, saved.date_column, *saved.target, *saved.covariates]
            columns += saved.future_covariates
            names = ", ".join(c for c in columns if c is not None)
            message += f"; the model reads the columns {names}"
        return UserError(message)
    return error


def date_text(date: Any, fmt: str) -> str:
    """DATE in the input's format FMT (ISO when FMT would lose the time of day)."""
    return format_date(date, fmt)


def run(args: argparse.Namespace, folder: Path) -> int:
    """Forecast the steps after the data with the forecaster in FOLDER."""
    if getattr(args, "texts", None) or getattr(args, "input", None):
        raise UserError("a forecaster reads --data PATH, not texts")
    if args.csv and args.json:
        raise UserError("give --csv PATH or --json, not both")
    check_outputs(args.csv, args.plot)
    trained = load_forecaster(folder)
    levels = levels_of(args, trained)
    steps = args.horizon or trained.model.horizon
    settings = trained.config.training
    with in_flag_words():
        data = read_recent(args, trained)
        forecasts = [
            forecast_ahead(trained, one, steps, levels, settings.num_samples, settings.seed)
            for one in data.series
        ]
    records = make_records(data, forecasts, levels)
    columns = (trained.config.data.id_column, trained.config.data.date_column)
    picture = draw(data, forecasts, levels, args.plot) if args.plot else None
    if args.csv:
        write_atomic(args.csv, csv_text(data, records, levels, columns).encode("utf-8"))
    if picture is not None:
        write_atomic(args.plot, picture)
    for note in data.notes:
        print(f"rnnkit: note: {note}", file=sys.stderr)
    if steps > trained.model.horizon:
        print(
            f"rnnkit: note: {steps} steps exceed the model's horizon {trained.model.horizon}: "
            "later steps are forecast from earlier forecasts, and their intervals are too narrow",
            file=sys.stderr,
        )
    if args.json:
        document = {
            "frequency": data.frequency.name if data.frequency else None,
            "horizon": steps,
            "levels": list(levels),
            "forecasts": records,
        }
        print(json.dumps(document))
    elif args.csv:
        print(f"{counted(len(records), 'forecast')} written to {args.csv}")
    else:
        print(table(data, records, levels, columns), end="")
    if picture is not None:
        print(f"forecast drawn in {args.plot}", file=sys.stderr if args.json else sys.stdout)
    return 0


def check_outputs(*paths: str | None) -> None:
    """Refuse, before any work, output files (``--csv``, ``--plot``) that could not be
    written (else the CSV would be written and the picture not), or one file named twice
    (the picture would overwrite the CSV)."""
    given = [Path(p) for p in paths if p]
    for path in given:
        check_writable(path)
    if len({p.resolve() for p in given}) < len(given):
        raise UserError(f"--csv and --plot both name {given[0]}; give each its own file")


def make_records(
    data: SeriesData, forecasts: list[tuple[np.ndarray, ...]], levels: tuple[float, ...]
) -> list[dict[str, Any]]:
    """One record per series, date and target: id, date, target, forecast, quantiles."""
    records = []
    for one, (dates, point, quantiles) in zip(data.series, forecasts, strict=True):
        for h, date in enumerate(dates):
            for s, target in enumerate(data.target_columns):
                record: dict[str, Any] = {"id": one.id} if one.id else {}
                record.update(
                    date=date_text(date, data.date_format),
                    target=target,
                    forecast=float(point[h, s]),
                    quantiles={f"{q:g}": float(quantiles[h, s, j]) for j, q in enumerate(levels)},
                )
                records.append(record)
    return records


Columns = tuple[str | None, str]  # the id column (None: one series) and the date column


def _rows(data: SeriesData, records: list[dict[str, Any]], levels: tuple[float, ...], columns):
    """``(header, rows)``: one row per series and date, each target's forecast and quantiles."""
    id_column, date_column = columns
    saved_id = id_column is not None
    header = ([id_column] if saved_id else []) + [date_column]
    for target in data.target_columns:
        header += [target] + [f"{target}_q{q:g}" for q in levels]
    rows: dict[tuple[str, str], list[str]] = {}
    for record in records:
        key = (record.get("id", ""), record["date"])
        row = rows.setdefault(key, ([key[0]] if saved_id else []) + [key[1]])
        row.append(plain_number(record["forecast"]))
        row += [plain_number(record["quantiles"][f"{q:g}"]) for q in levels]
    return header, list(rows.values())


def csv_text(data: SeriesData, records: list[dict[str, Any]], levels, columns: Columns) -> str:
    header, rows = _rows(data, records, levels, columns)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


def table(data: SeriesData, records: list[dict[str, Any]], levels, columns: Columns) -> str:
    header, rows = _rows(data, records, levels, columns)
    first_number = 2 if columns[0] is not None else 1
    for column in range(first_number, len(header)):
        aligned = _aligned_decimals([row[column] for row in rows])
        for row, text in zip(rows, aligned, strict=True):
            row[column] = text
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) for r in [header, *rows]]
    return "\n".join(lines) + "\n"


def _aligned_decimals(numbers: list[str]) -> list[str]:
    """NUMBERS (as ``plain_number`` writes them) with as many decimals each as the one with
    the most, so that a right-aligned column lines up on the decimal point."""
    decimals = max((len(n.partition(".")[2]) for n in numbers), default=0)

    def padded(number: str) -> str:
        if not number.lstrip("-").replace(".", "", 1).isdigit():
            return number  # nan, inf
        whole, _, fraction = number.partition(".")
        return f"{whole}.{fraction.ljust(decimals, '0')}"

    return [padded(n) for n in numbers] if decimals else numbers


def draw(
    data: SeriesData,
    forecasts: list[tuple[np.ndarray, ...]],
    levels: tuple[float, ...],
    path: str,
) -> bytes:
    """The picture's bytes (PATH's format): per series and target, history, forecast and
    the interval band."""
    plt = pyplot("--plot")
    panels = [
        (one, s, forecast)
        for one, forecast in zip(data.series, forecasts, strict=True)
        for s in range(len(data.target_columns))
    ][:MOST_PANELS]
    figure, axes = plt.subplots(len(panels), 1, figsize=(9, 3.2 * len(panels)), squeeze=False)
    for ax, (one, s, (dates, point, quantiles)) in zip(axes[:, 0], panels, strict=True):
        shown = min(len(one), max(HISTORY_SHOWN * len(dates), 60))
        history = one.dates[-shown:].astype("datetime64[s]").astype(datetime)
        ahead = dates.astype("datetime64[s]").astype(datetime)
        ax.plot(history, one.target[-shown:, s], color="black", lw=1.2, label="history")
        joined = np.concatenate([one.dates[-1:], dates]).astype("datetime64[s]").astype(datetime)
        ax.plot(
            joined, np.concatenate([one.target[-1:, s], point[:, s]]), color="tab:blue",
            lw=1.6, label="forecast",
        )  # fmt: skip
        if len(levels) >= 2:
            ax.fill_between(
                ahead, quantiles[:, s, 0], quantiles[:, s, -1], color="tab:blue", alpha=0.25,
                label=f"{levels[0]:g} to {levels[-1]:g} quantiles",
            )  # fmt: skip
        name = data.target_columns[s] + (f" ({one.id})" if one.id else "")
        ax.set_title(f"{name}: {len(dates)} steps ahead")
        ax.legend(loc="upper left", fontsize="small")
        ax.grid(alpha=0.3)
    figure.autofmt_xdate()
    return picture_bytes(figure, path)


def picture_bytes(figure: Any, path: str) -> bytes:
    """FIGURE laid out and drawn in memory in PATH's format (``figure_bytes``), so nothing
    is written yet."""
    figure.tight_layout()
    return figure_bytes(figure, path)
