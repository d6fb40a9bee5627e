"""The forecasting half of ``rnnkit eval``: a rolling-origin backtest of a trained
forecaster beside the naive baselines.

``rnnkit eval`` (``rnnkit.cli.evaluate``) adds these flags to its parser and hands a run
folder that holds a forecaster to ``run``. ``--data`` is a CSV read as in training; with
``--backtest --start DATE`` the model forecasts from every origin ``DATE``, ``DATE +
--stride``, ... while its horizon (or ``--horizon``) fits in the data, without retraining,
and the same origins are forecast by the naive (last value), seasonal naive (season from
the frequency, or ``--season``), drift and drift + seasonal baselines
(``rnnkit.train.forecast_backtest``). The printed table, the JSON (``--json``) and the plot
(``--plot FILE``: the series with the model's forecasts and interval band, and every
method's MAE by step ahead) show them side by side: MAE, RMSE, MAPE, sMAPE, MASE, and for
the model the coverage of the interval between the lowest and highest ``--quantiles``, the
weighted quantile loss and CRPS. A note counts the forecasts that start before the part of
the series training held out (the JSON's ``trained_on``; null for a run that did not
keep it): their scores are in-sample.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from rnnkit.atomic import write_atomic
from rnnkit.cli.arguments import add_png_flag, positive_int
from rnnkit.cli.predict_forecast import (
    check_outputs,
    date_text,
    in_flag_words,
    level,
    levels_of,
    picture_bytes,
    read_recent,
)
from rnnkit.data.timeseries import DATE_FORMATS, FILLS
from rnnkit.errors import UserError
from rnnkit.numbers import column_numbers
from rnnkit.plural import counted
from rnnkit.train.figures import pyplot
from rnnkit.train.forecast_backtest import BacktestResult, backtest
from rnnkit.train.tasks.forecast import load_forecaster

METHODS = {
    "model": "model",
    "naive": "naive",
    "seasonal_naive": "seasonal naive",
    "drift": "drift",
    "drift_seasonal": "drift + seasonal",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(
        "forecasters", "for a run of rnnkit train --task forecast (defaults: as in training)"
    )
    group.add_argument(
        "--backtest",
        action="store_true",
        help="forecast from every origin from --start on without retraining, beside the "
        "naive, seasonal naive and drift baselines",
    )
    group.add_argument(
        "--start", metavar="DATE", help="the date of the first forecast step (e.g. 1958-01)"
    )
    group.add_argument(
        "--stride", type=positive_int, default=1, metavar="STEPS", help="steps between origins"
    )
    group.add_argument(
        "--season",
        type=positive_int,
        metavar="N",
        help="season of the seasonal baselines and MASE (default: from the frequency, e.g. "
        "12 for monthly data)",
    )
    group.add_argument(
        "--horizon",
        type=positive_int,
        metavar="STEPS",
        help="steps scored from each origin (default: the model's horizon, at most that)",
    )
    group.add_argument(
        "--quantiles",
        type=level,
        nargs="+",
        metavar="Q",
        help="quantile levels scored (default 0.1 0.5 0.9, or a quantile model's own; coverage "
        "is of the lowest to highest)",
    )
    add_png_flag(group, "--plot", "the backtest")
    group.add_argument(
        "--fill", choices=FILLS, help="fill missing values and dates (default: as in training)"
    )


def parse_date(text: str, first: str | None = None) -> np.datetime64:
    """TEXT as a date, in the format FIRST (the data's) if it reads it: ``03/01/1958`` is in
    March in a month-first file."""
    for fmt in ([first] if first else []) + list(DATE_FORMATS):
        try:
            return np.datetime64(datetime.strptime(text.strip(), fmt), "s")
        except ValueError:
            continue
    raise UserError(f"--start: {text!r} is not a date (e.g. 1958-01, 2018-02-20 13:00)")


def run(args: argparse.Namespace, folder: Path) -> int:
    """Backtest the forecaster in FOLDER on the series of ``args.data``."""
    if not args.backtest or not args.start:
        raise UserError(
            "a forecaster is measured by a backtest: give --backtest --start DATE (the first "
            "forecast step), e.g. --backtest --start 1958-01"
        )
    start = parse_date(args.start)
    check_outputs(args.plot)
    trained = load_forecaster(folder)
    levels = levels_of(args, trained)
    settings = trained.config.training
    with in_flag_words():
        data = read_recent(args, trained)
        start = parse_date(args.start, data.date_format)
        result = backtest(
            trained, data, start, args.stride, args.season, args.horizon, levels,
            settings.num_samples, settings.seed,
        )  # fmt: skip
    shown = date_text(start, data.date_format)
    picture = draw(data, result, start, shown, args.plot) if args.plot else None
    if picture is not None:
        write_atomic(args.plot, picture)
    for note in data.notes:
        print(f"rnnkit: note: {note}", file=sys.stderr)
    if result.trained_on:
        print(
            f"rnnkit: note: {result.trained_on} of the {result.windows} forecasts start before "
            f"{date_text(np.datetime64(result.held_out), data.date_format)}, where the part "
            "training held out begins: the model was "
            "trained on their steps, so their scores flatter it; start the backtest there",
            file=sys.stderr,
        )
    description = {
        "start": shown,
        "windows": result.windows,
        "series": len(data.series),
        "horizon": result.horizon,
        "stride": result.stride,
        "season": result.season,
        "levels": list(levels),
        "trained_on": result.trained_on,
    }
    if args.json:
        print(json.dumps({**description, "metrics": result.metrics}))
    else:
        several = f", {len(data.series)} series" if len(data.series) > 1 else ""
        print(
            f"{folder} on {args.data}: backtest from {shown}, "
            f"{counted(result.windows, 'forecast')} of {counted(result.horizon, 'step')} "
            f"(stride {result.stride}, "
            f"season {result.season}{several})"
        )
        print(table(result), end="")
    if picture is not None:
        print(f"backtest drawn in {args.plot}", file=sys.stderr if args.json else sys.stdout)
    return 0


def _number(value: Any, digits: str, suffix: str = "") -> str:
    return "n/a" if value is None else f"{value:{digits}}{suffix}"


def table(result: BacktestResult) -> str:
    """The metrics of every method, one row each, the model first."""
    header = ["method", "MAE", "RMSE", "MAPE", "sMAPE", "MASE"]
    model = result.metrics["model"]
    extra = []
    if "coverage" in model:
        low, high = result.interval
        extra.append((f"coverage {low:g}-{high:g}", "coverage", ".1%"))
    extra += [("wQL", "wql", ".4f"), ("CRPS", "crps", ".4f")]
    header += [name for name, _, _ in extra]
    rows = [header]
    # in the data's units: one column, the same decimals (1234.5 beside 96.0, not 1234 and 96)
    mae, rmse = (
        column_numbers([result.metrics[key][field] for key in METHODS]) for field in ("mae", "rmse")
    )
    for k, (key, name) in enumerate(METHODS.items()):
        scores = result.metrics[key]
        row = [
            name, mae[k], rmse[k], _number(scores["mape"], ".2f", "%"),
            _number(scores["smape"], ".2f", "%"), _number(scores["mase"], ".3f"),
        ]  # fmt: skip
        row += [
            _number(scores.get(field), digits) if key == "model" else ""
            for _, field, digits in extra
        ]
        rows.append(row)
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    lines = [
        "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w)
            for i, (c, w) in enumerate(zip(r, widths, strict=True))
        )
        for r in rows
    ]
    return "\n".join(line.rstrip() for line in lines) + "\n"


def draw(data, result: BacktestResult, start: np.datetime64, shown: str, path: str) -> bytes:
    """The picture's bytes (PATH's format): top, the first series with the model's
    forecasts from every origin (the band of the interval for the one-step-ahead
    forecasts); bottom, every method's MAE by step ahead."""
    plt = pyplot("--plot")
    one, origins = data.series[0], result.origins[0]
    point, quantiles = result.forecasts[0]["model"], result.quantiles[0]
    figure, (top, bottom) = plt.subplots(2, 1, figsize=(9, 7.5))
    first = max(int(origins[0]) - 4 * result.horizon, 0)
    as_dates = lambda d: d.astype("datetime64[s]").astype(datetime)  # noqa: E731
    top.plot(as_dates(one.dates[first:]), one.target[first:, 0], color="black", lw=1.2,
             label="actual")  # fmt: skip
    for k, origin in enumerate(origins):
        steps = as_dates(one.dates[origin : origin + result.horizon])
        top.plot(steps, point[k, :, 0], color="tab:blue", lw=0.8, alpha=0.6,
                 label="model forecasts" if k == 0 else None)  # fmt: skip
    if len(result.levels) >= 2:
        low, high = result.interval
        top.fill_between(
            as_dates(one.dates[origins]), quantiles[:, 0, 0, 0], quantiles[:, 0, 0, -1],
            color="tab:blue", alpha=0.2, label=f"{low:g}-{high:g} quantiles, 1 step ahead",
        )  # fmt: skip
    top.axvline(as_dates(np.array([start]))[0], color="grey", ls="--", lw=1)
    title = data.target_columns[0] + (f" ({one.id})" if one.id else "")
    top.set_title(f"{title}: backtest from {shown}")
    top.legend(loc="upper left", fontsize="small")
    top.grid(alpha=0.3)
    steps = np.arange(1, result.horizon + 1)
    for key, name in METHODS.items():
        scores = result.metrics[key]
        mape = _number(scores["mape"], ".2f", "%")
        bottom.plot(steps, scores["mae_by_step"], marker="o", ms=3,
                    lw=2.2 if key == "model" else 1.2, label=f"{name} (MAPE {mape})")  # fmt: skip
    bottom.set_xlabel("steps ahead")
    bottom.set_ylabel("MAE")
    bottom.set_title("MAE by step ahead, every series")
    bottom.legend(fontsize="small")
    bottom.grid(alpha=0.3)
    return picture_bytes(figure, path)
