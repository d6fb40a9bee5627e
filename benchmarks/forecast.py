"""Forecast quality on AirPassengers, darts' quickstart protocol: MAPE of a 36-month forecast.

    python -m benchmarks.forecast [--seeds 0 1 2 3 4] [--steps 1500] [--quick] [--threads 1]
    python -m benchmarks.forecast --rolling direct-mse-L13-last-wd1-x5

Protocol (``../shared/data/README.md``, the timeseries section): train on 1949-01 to
1957-12 (108 months), forecast the 36 months from 1958-01 in one go, MAPE in percent.
Published figures on that split: ETS 5.11, tuned Theta 4.40, drift + seasonal naive 5.66,
seasonal naive 13.19. The issue's target is MAPE <= 5.0, and <= 4.4 as the aim.

The model forecasts 12 months at a time from the last ``lookback`` months; 36 months are
three rounds, each feeding its forecast back as history (for a probabilistic head the
median of its sample paths is fed back and scored).

Settings are chosen without the test months: every candidate of ``CANDIDATES`` is
trained on 1949-01..1954-12 and forecasts 1955-01..1957-12 (the same 36-month horizon);
the candidate with the best mean validation MAPE over the seeds is then trained on all
108 training months, with the same number of steps, and forecasts 1958-01..1960-12 once
per seed. The test months are read for that final score only. The script prints every
candidate's validation MAPE, the chosen one, the test MAPE per seed and their mean, and
the training time per run (wall clock, on this machine's cores).

Measured (x86_64, 2 shared cores, one thread; three rounds of candidates, each chosen on
validation): the autoregressive Gaussian decoder, lookback 24, last-value normalisation,
hidden 32, 1500 steps, stayed the choice (validation MAPE 4.79; without normalisation
every candidate was near 25). Test MAPE 11.79, mean of 5 seeds (8.98, 6.01, 17.93, 9.23,
16.78), 4.6 s of training per run: the target (<= 5.0) is not met. Averaging 5 models per
run did not help on validation (5.25). The seeds' spread, not the settings, dominates.

Round 4 (weight decay, a direct MSE head on 13 months, averages of 5 models, seasonal
differencing; ``benchmarks/RESULTS.md``): direct-mse-L13-last-wd1-x5 was chosen on
validation (4.00, seeds 3.84-4.29) and scored 12.07 on test (11.14-13.16): the spread is
gone, the bias stays; the target is still not met. ``--rolling CANDIDATE`` measures darts'
RNN protocol instead (4.08 for that candidate against darts' LSTM 2.71).
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

import numpy as np

from rnnkit.data.timeseries import Series, SeriesData, read_series
from rnnkit.data.timeseries_calendar import calendar_features, future_dates
from rnnkit.data.timeseries_windows import prepare_windows
from rnnkit.models.forecaster import Forecaster
from rnnkit.optim import AdamW, clip_grad_norm
from rnnkit.threads import limit_threads
from rnnkit.train.forecast_metrics import mape

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "timeseries"
HORIZON = 12
FORECAST_MONTHS = 36
# Every candidate reads log(1 + y), standardised on its training months. Without a
# per-window normalisation (normalize "none", difference 0) the validation MAPE was about
# 25% for every decoder and loss (5 seeds, 1500 steps): the 1955-57 levels lie above
# anything in 1949-54, and the network does not extrapolate a level it never saw.
LAST = {"normalize": "last", "difference": 0}
CANDIDATES = {
    "direct-mse-L24-last": {"decoder": "direct", "loss": "mse", "lookback": 24, **LAST},
    "direct-mse-L36-last": {"decoder": "direct", "loss": "mse", "lookback": 36, **LAST},
    "direct-gaussian-L24-last": {"decoder": "direct", "loss": "gaussian", "lookback": 24, **LAST},
    "autoregressive-gaussian-L24-last": {
        "decoder": "autoregressive", "loss": "gaussian", "lookback": 24, **LAST
    },
    "direct-mse-L24-diff12": {
        "decoder": "direct", "loss": "mse", "lookback": 24, "normalize": "none", "difference": 12
    },
}  # fmt: skip
# Round 2, after round 1 chose autoregressive-gaussian-L24-last (validation 4.79, test 11.79
# with a spread of 6 to 18 over the seeds): the training length and size around it.
AR = {"decoder": "autoregressive", "lookback": 24, **LAST}
CANDIDATES.update({
    "ar-gaussian-L24-last-500": {**AR, "loss": "gaussian", "steps": 500},
    "ar-gaussian-L24-last-3000": {**AR, "loss": "gaussian", "steps": 3000},
    "ar-gaussian-L24-last-h16": {**AR, "loss": "gaussian", "hidden": 16},
    "ar-studentt-L24-last": {**AR, "loss": "studentt"},
    "ar-gaussian-L36-last": {**AR, "loss": "gaussian", "lookback": 36},
})  # fmt: skip
# Round 3: the seeds' forecasts differed by far more than the candidates' means (test
# 6 to 18); an average of 5 models per run, for the two best candidates of round 2.
CANDIDATES.update({
    "ar-gaussian-L24-last-x5": {**AR, "loss": "gaussian", "ensemble": 5},
    "ar-gaussian-L24-last-h16-x5": {**AR, "loss": "gaussian", "hidden": 16, "ensemble": 5},
})  # fmt: skip
# Round 4 (after the CLI's backtest): a direct MSE head on 13 months (one season and the
# last value), hidden 16, 500 steps, decoupled weight decay ("wd", AdamW) and an average of
# 5 models, against log + seasonal differencing (lag 12) on the same head. Explored on the
# validation forecast only (1955-57 from 1949-54; see benchmarks/RESULTS.md).
SMALL = {"decoder": "direct", "loss": "mse", "lookback": 13, "hidden": 16, "steps": 500}
CANDIDATES.update({
    "direct-mse-L13-last-wd1-x5": {**SMALL, **LAST, "wd": 1.0, "ensemble": 5},
    "direct-mse-L13-last-wd1": {**SMALL, **LAST, "wd": 1.0},
    "direct-mse-L13-last-x5": {**SMALL, **LAST, "ensemble": 5},
    "direct-mse-L13-diff12-wd1-x5": {
        **SMALL, "normalize": "none", "difference": 12, "wd": 1.0, "ensemble": 5
    },
    "direct-mse-L13-diff12-x5": {**SMALL, "normalize": "none", "difference": 12, "ensemble": 5},
})  # fmt: skip


def cut(data: SeriesData, months: int) -> SeriesData:
    """The first MONTHS of the series, in memory (the file is never changed)."""
    one = data.series[0]
    part = Series(one.id, one.dates[:months], one.target[:months], one.covariates[:months],
                  one.lines[:months])  # fmt: skip
    return SeriesData([part], data.target_columns, [], data.frequency, data.date_format)


def train(data: SeriesData, options: dict, seed: int, steps: int, hidden: int) -> tuple:
    """A model trained on all windows of DATA (log scale, standardised), and its transform.

    A candidate's own "steps" and "hidden" replace STEPS and HIDDEN."""
    steps, hidden = options.get("steps", steps), options.get("hidden", hidden)
    prepared = prepare_windows(
        data, options["lookback"], HORIZON, log=True, difference=options["difference"]
    )
    model = Forecaster(
        lookback=options["lookback"], horizon=HORIZON, hidden_size=hidden,
        decoder=options["decoder"], loss=options["loss"], normalize=options["normalize"],
        num_future_covariates=len(prepared.calendar), rng=seed,
    )  # fmt: skip
    optimizer = AdamW(model.params, model.grads, lr=3e-3, weight_decay=options.get("wd", 0.0))
    rng = np.random.default_rng(seed)
    windows = prepared.train
    for _ in range(steps):
        rows = rng.choice(len(windows), min(16, len(windows)), replace=False)
        model.zero_grad()
        model.loss_and_backward(**windows.batch(rows))
        clip_grad_norm(model.grads, 5.0)
        optimizer.step()
    return model.eval(), prepared.target_transform


def forecast(model: Forecaster, transform, data: SeriesData, months: int, seed: int) -> np.ndarray:
    """MONTHS of forecasts after the end of DATA, HORIZON months a round, fed back."""
    one = data.series[0]
    history, dates = one.target.copy(), one.dates.copy()
    L, out = model.lookback, []
    while len(out) < months:
        z = transform.transform(one.id, history)
        ahead = future_dates(dates[-1], data.frequency, HORIZON)
        _, known = calendar_features(np.concatenate([dates[-L:], ahead]), data.frequency)
        result = model.predict(z[-L:][None], None, known[None], num_samples=200, rng=seed)
        if result.samples is not None:
            paths = transform.inverse(one.id, result.samples[:, 0], history)
            step = np.median(paths, axis=0)
        else:
            step = transform.inverse(one.id, result.point[0], history)
        out.extend(step[:, 0])
        history, dates = np.concatenate([history, step]), np.concatenate([dates, ahead])
    return np.array(out[:months])


def run(data: SeriesData, options: dict, seed: int, args: argparse.Namespace) -> tuple:
    """``(forecast, seconds)``: the 36 months after DATA and the training time. A candidate
    with ``"ensemble": K`` averages the forecasts of K models seeded ``100 * seed + k``."""
    members = options.get("ensemble", 1)
    forecasts, seconds = [], 0.0
    for k in range(members):
        member_seed = seed if members == 1 else 100 * seed + k
        started = time.perf_counter()
        model, transform = train(data, options, member_seed, args.steps, args.hidden_size)
        seconds += time.perf_counter() - started
        forecasts.append(forecast(model, transform, data, FORECAST_MONTHS, member_seed))
    return np.mean(forecasts, axis=0), seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--hidden-size", type=int, default=32)
    parser.add_argument("--candidates", nargs="+", choices=tuple(CANDIDATES), default=None)
    parser.add_argument("--quick", action="store_true", help="a smoke test: 20 steps, 1 seed")
    parser.add_argument("--threads", type=int, default=1, help="BLAS and C-loop threads")
    parser.add_argument(
        "--rolling",
        choices=tuple(CANDIDATES),
        help="instead: darts' RNN protocol with this candidate (trained up to 1959-01, "
        "6-step forecasts from every origin from 1959-01, each one's 6th step scored)",
    )
    args = parser.parse_args()
    with limit_threads(args.threads):
        if args.rolling:
            rolling(args)
        else:
            measure(args)


def rolling(args: argparse.Namespace) -> None:
    """darts' 04-RNN-examples: fit on 1949-01..1959-01 (121 months); historical forecasts
    from 1959-01 with forecast_horizon 6, no retraining, last points only (the 6th step of
    each forecast: 1959-06 .. 1960-12), MAPE. darts' LSTM: 2.71."""
    data = read_series(DATA / "airline-passengers.csv", "Month", ["Passengers"])
    series = data.series[0].target[:, 0]
    options, fitted, first = CANDIDATES[args.rolling], 121, 120  # first origin: 1959-01
    scores, seconds = [], []
    for seed in args.seeds:
        members = options.get("ensemble", 1)
        models = []
        started = time.perf_counter()
        for k in range(members):
            member_seed = seed if members == 1 else 100 * seed + k
            models.append(train(cut(data, fitted), options, member_seed, args.steps,
                                args.hidden_size) + (member_seed,))  # fmt: skip
        seconds.append(time.perf_counter() - started)
        sixth = []
        for origin in range(first, len(series) - 6 + 1):
            history = cut(data, origin)
            paths = [forecast(m, t, history, 6, s)[5] for m, t, s in models]
            sixth.append(np.mean(paths))
        scores.append(mape(series[first + 5 :], np.array(sixth)))
        print(f"rolling seed {seed}: MAPE {scores[-1]:.2f} ({seconds[-1]:.1f} s training)")
    print(f"rolling 6-step MAPE from 1959-01, {args.rolling}, mean of {len(scores)} seeds: "
          f"{np.mean(scores):.2f} (darts' LSTM 2.71)")  # fmt: skip


def measure(args: argparse.Namespace) -> None:
    if args.quick:
        args.steps, args.seeds = 20, args.seeds[:1]
    data = read_series(DATA / "airline-passengers.csv", "Month", ["Passengers"])
    series = data.series[0].target[:, 0]
    train_months = 108  # 1949-01 .. 1957-12
    valid_months = train_months - FORECAST_MONTHS  # fit on 1949-01 .. 1954-12
    print(f"AirPassengers, {platform.machine()}, {os.cpu_count()} cores; {args.steps} steps, "
          f"hidden {args.hidden_size}, seeds {args.seeds}")  # fmt: skip
    validation = {}
    for name in args.candidates or CANDIDATES:
        options = CANDIDATES[name]
        scores = []
        for seed in args.seeds:
            predicted, _ = run(cut(data, valid_months), options, seed, args)
            scores.append(mape(series[valid_months:train_months], predicted))
        validation[name] = float(np.mean(scores))
        print(f"validation {name}: MAPE {validation[name]:.2f} (seeds: "
              f"{', '.join(f'{s:.2f}' for s in scores)})")  # fmt: skip
    chosen = min(validation, key=validation.get)
    print(f"chosen on validation: {chosen}")
    tests, seconds = [], []
    for seed in args.seeds:
        predicted, spent = run(cut(data, train_months), CANDIDATES[chosen], seed, args)
        seconds.append(spent)
        tests.append(mape(series[train_months:], predicted))
        print(f"test seed {seed}: MAPE {tests[-1]:.2f} ({seconds[-1]:.1f} s training)")
    print(
        f"test MAPE, mean of {len(tests)} seeds: {np.mean(tests):.2f} (target <= 5.0, aim "
        f"<= 4.4; ETS 5.11, tuned Theta 4.40); training {np.mean(seconds):.1f} s per run"
    )


if __name__ == "__main__":
    main()
