"""Forecasting: an LSTM reads two years of airline passengers and forecasts the next one.

AirPassengers (Box and Jenkins): monthly totals of international airline passengers,
1949 to 1960, 144 months that grow and swing with the seasons, the swing growing with the
level. The last year, 1960, is held out; the network learns from 1949-1959 and forecasts
the twelve months of 1960 in one go, with an 80% interval around them.

    y (passengers)  -> log(1 + y), standardised with the mean and deviation of 1949-1959
                       only (the held-out year must not leak into the scaling)
    window          the last L = 24 months, each minus the window's last value (so a level
                    never seen in training reads like one that was), each with its month
                    of the year; the months ahead are known too (a calendar feature)
    LSTM (32 units) reads the window              -> final hidden state h
    direct head     Linear([h ; months ahead]) -> 12 means and 12 deviations at once
                    (a Gaussian per month, trained on its negative log-likelihood)
    forecast        the means, and the 10% and 90% quantiles, mapped back to passengers

The forecast is scored by MAPE (mean absolute percentage error) against two baselines that
need no learning: "naive" repeats December 1959 for every month of 1960, "seasonal naive"
repeats the whole of 1959.

    python examples/forecast.py                       # ../shared/data/timeseries/
    python examples/forecast.py --png forecast.png    # and draw it (needs matplotlib)
    python examples/forecast.py --quick               # fewer steps, a few seconds

Without the data file a made-up series of the same shape (trend, growing seasonal swing,
noise) stands in.

Measured (the shared file, ``--threads 1``, 1500 steps, 3 s): MAPE 2.3% against 14.3% for
naive and 10.0% for seasonal naive, 11 of the 12 months inside the 80% interval (seed 0;
seeds 0-4: 2.3% to 3.2%); ``--quick``, 300 steps: 3.1% (seeds 0-4: 3.1% to 4.6%).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from rnnkit.ctrl_c import stop_quietly_on_ctrl_c
from rnnkit.data.timeseries import Series, SeriesData, read_series
from rnnkit.data.timeseries_calendar import infer_frequency
from rnnkit.data.timeseries_windows import prepare_windows
from rnnkit.models.forecaster import Forecaster
from rnnkit.optim import Adam, clip_grad_norm
from rnnkit.threads import limit_threads
from rnnkit.train.forecast_metrics import coverage, mape, naive, seasonal_naive

PASSENGERS = Path(__file__).resolve().parents[2] / "shared/data/timeseries/airline-passengers.csv"
HORIZON = 12  # months forecast at once, and the season
# --quick, and the test: fewer training steps.
QUICK = {"steps": 300}


def made_up_series(months: int = 144, seed: int = 0) -> SeriesData:
    """A monthly series from 1949-01 shaped like AirPassengers: a rising trend, a seasonal
    swing that grows with it (multiplicative) and a little noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(months)
    level = 110 * np.exp(0.01 * t)
    season = 1 + 0.2 * np.sin(2 * np.pi * (t - 3) / 12) + 0.08 * np.sin(4 * np.pi * t / 12)
    values = level * season * np.exp(rng.normal(0, 0.03, months))
    dates = (np.datetime64("1949-01", "M") + t).astype("datetime64[s]")
    frequency, _ = infer_frequency(dates)  # monthly
    lines = np.zeros(months, dtype=np.int64)  # no file lines: made up
    one = Series("", dates, np.round(values)[:, None], np.zeros((months, 0)), lines)
    return SeriesData([one], ["Passengers"], [], frequency, "%Y-%m")


def load_series(path: Path) -> SeriesData:
    if path.is_file():
        print(f"AirPassengers from {path}")
        return read_series(path, "Month", ["Passengers"])
    print(f"{path} not found: a made-up monthly series of the same shape instead")
    return made_up_series()


def run(
    path: Path = PASSENGERS,
    steps: int = 1500,
    lookback: int = 24,
    hidden_size: int = 32,
    seed: int = 0,
    png: str | None = None,
) -> dict:
    """Train on all but the last year, forecast it; return the MAPEs and the forecast."""
    data = load_series(path)
    one = data.series[0]
    # Windows of LOOKBACK months and the HORIZON months after them; the transforms (log,
    # standardisation) are fitted on the training months only. The one test window reads
    # the last LOOKBACK months of 1959 and forecasts 1960.
    prepared = prepare_windows(
        data, lookback, HORIZON, test_size=HORIZON, scaler="standard", log=True, calendar=True
    )
    train, test = prepared.train, prepared.test
    print(
        f"{len(one)} months; {len(train)} training windows of {lookback} months, "
        f"calendar features {prepared.calendar}; held out: the last {HORIZON} months"
    )

    model = Forecaster(
        num_future_covariates=len(prepared.calendar),
        lookback=lookback,
        horizon=HORIZON,
        hidden_size=hidden_size,
        decoder="direct",
        loss="gaussian",
        normalize="last",
        skip=False,  # the head reads h and the months ahead only, as drawn above
        rng=seed,
    )
    optimizer = Adam(model.params, model.grads, lr=3e-3)
    rng = np.random.default_rng(seed)
    for step in range(1, steps + 1):
        rows = rng.choice(len(train), 16, replace=False)  # 16 random windows a step
        model.zero_grad()
        loss = model.loss_and_backward(**train.batch(rows))
        clip_grad_norm(model.grads, 5.0)
        optimizer.step()
        if step % max(steps // 5, 1) == 0:
            print(f"step {step:5d}  Gaussian negative log-likelihood {loss:.3f}")

    # Forecast the held-out year: point (the mean in log space) and the 10% and 90% quantiles,
    # mapped back through the fitted standardisation and log.
    result = model.predict(**test.inputs(), levels=(0.1, 0.9))
    transform = prepared.target_transform
    point = transform.inverse(one.id, result.point[0], None)[:, 0]
    low, high = (
        transform.inverse(one.id, result.quantiles[0, :, :, k], None)[:, 0] for k in (0, 1)
    )
    history, actual = one.target[:-HORIZON, 0], one.target[-HORIZON:, 0]
    dates = one.dates[-HORIZON:]

    scores = {
        "model": mape(actual, point),
        "naive": mape(actual, naive(history, HORIZON)),
        "seasonal naive": mape(actual, seasonal_naive(history, HORIZON, HORIZON)),
    }
    print("\nmonth    actual  forecast  80% interval")
    for date, a, f, lo, hi in zip(dates, actual, point, low, high, strict=True):
        print(f"{str(date)[:7]}  {a:6.0f}  {f:8.0f}  {lo:5.0f} - {hi:4.0f}")
    inside = coverage(actual, low, high)
    print(f"{inside:.0%} of the held-out months inside the 80% interval")
    for name, score in scores.items():
        print(f"MAPE {name:>14}: {score:5.1f}%")
    if png:
        draw(png, one.dates, one.target[:, 0], point, low, high)
    return {"mape": scores, "coverage": inside, "forecast": point, "low": low, "high": high}


def draw(png: str, dates: np.ndarray, values: np.ndarray, point, low, high) -> None:
    """History, forecast and its 80% band, as a PNG; nothing without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("(no figure: matplotlib is not installed; pip install matplotlib)")
        return
    dates = dates.astype("datetime64[D]")
    ahead = dates[-HORIZON:]
    figure, axes = plt.subplots(figsize=(9, 4))
    axes.plot(dates, values, color="black", linewidth=1, label="passengers (thousands)")
    axes.fill_between(ahead, low, high, color="tab:blue", alpha=0.25, label="80% interval")
    axes.plot(ahead, point, color="tab:blue", linewidth=2, label="forecast")
    axes.axvline(ahead[0], color="gray", linestyle=":", linewidth=1)
    axes.set_title("AirPassengers: the held-out year forecast from the years before")
    axes.legend(loc="upper left")
    figure.tight_layout()
    figure.savefig(png, dpi=100)
    plt.close(figure)
    print(f"figure: {png}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(PASSENGERS), help="airline-passengers.csv")
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--png", help="draw history, forecast and interval into this file")
    parser.add_argument("--threads", type=int, help="BLAS and C-loop threads (default: all)")
    parser.add_argument("--quick", action="store_true", help=f"{QUICK['steps']} steps")
    args = parser.parse_args()
    if args.threads is not None and args.threads < 1:
        parser.exit(2, f"forecast.py: --threads must be 1 or more, got {args.threads}\n")
    print("An LSTM forecasts a year of airline passengers from the years before.")
    steps = QUICK["steps"] if args.quick else args.steps
    with limit_threads(args.threads):
        result = run(Path(args.data), steps, seed=args.seed, png=args.png)
    scores = result["mape"]
    print(
        f"the model's MAPE {scores['model']:.1f}% against {scores['naive']:.1f}% (naive) and "
        f"{scores['seasonal naive']:.1f}% (seasonal naive)"
    )


if __name__ == "__main__":
    stop_quietly_on_ctrl_c(main)
