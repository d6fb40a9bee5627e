"""Forecast metrics, baselines and the rolling-origin backtest against hand computations on
small series; the AirPassengers baselines against darts' published figures."""

from __future__ import annotations

from pathlib import Path
from statistics import NormalDist

import numpy as np
import pytest

from rnnkit.data.timeseries import read_series
from rnnkit.train.forecast_metrics import (
    backtest,
    coverage,
    crps_from_samples,
    drift,
    drift_seasonal,
    mae,
    mape,
    mase,
    naive,
    rmse,
    seasonal_naive,
    smape,
    weighted_crps,
    weighted_quantile_loss,
)

ACTUAL = np.array([1.0, 2.0, 4.0])
FORECAST = np.array([2.0, 2.0, 2.0])


def test_point_metrics_by_hand() -> None:
    assert mae(ACTUAL, FORECAST) == pytest.approx(1.0)
    assert rmse(ACTUAL, FORECAST) == pytest.approx(np.sqrt(5 / 3))
    assert mape(ACTUAL, FORECAST) == pytest.approx(100 * (1 + 0 + 0.5) / 3)
    assert smape(ACTUAL, FORECAST) == pytest.approx(200 * (1 / 3 + 0 + 2 / 6) / 3)
    history = np.array([1.0, 3.0, 2.0, 5.0])
    assert mase(ACTUAL, FORECAST, history) == pytest.approx(1.0 / 2.0)  # steps 2, 1, 3
    assert mase(ACTUAL, FORECAST, history, season=2) == pytest.approx(1.0 / 1.5)  # 1, 2
    assert smape([0.0, 2.0], [0.0, 2.0]) == 0.0


def test_undefined_metrics_say_why() -> None:
    with pytest.raises(ValueError, match="actual: MAPE is undefined"):
        mape([0.0, 1.0], [1.0, 1.0])
    with pytest.raises(ValueError, match="insample: MASE is undefined"):
        mase(ACTUAL, FORECAST, [2.0, 2.0, 2.0])
    with pytest.raises(ValueError, match=r"forecast: expected the shape of actual \(3,\)"):
        mae(ACTUAL, FORECAST[:2])


def test_interval_coverage_and_weighted_quantile_loss_by_hand() -> None:
    assert coverage(ACTUAL, [0.0, 2.5, 3.0], [1.0, 3.0, 5.0]) == pytest.approx(2 / 3)
    # q = 0.1 at [0, 2, 5] and q = 0.9 at [2, 2, 3]: each level's pinball sum is 1.0
    quantiles = np.array([[0.0, 2.0], [2.0, 2.0], [5.0, 3.0]])
    assert weighted_quantile_loss(ACTUAL, quantiles, (0.1, 0.9)) == pytest.approx(2 * 1.0 / 7)
    with pytest.raises(ValueError, match="every value is 0"):
        weighted_quantile_loss(np.zeros(3), np.ones((3, 2)), (0.1, 0.9))


def test_crps_from_samples_by_hand_and_by_brute_force() -> None:
    assert crps_from_samples(np.array([[0.0], [2.0]]), np.array([1.0]))[0] == pytest.approx(0.5)
    assert crps_from_samples(np.full((3, 1), 4.0), np.array([1.0]))[0] == pytest.approx(3.0)
    rng = np.random.default_rng(0)
    samples, actual = rng.standard_normal((7, 2, 3)), rng.standard_normal((2, 3))
    pairs = np.abs(samples[:, None] - samples[None, :]).mean(axis=(0, 1))
    brute = np.abs(samples - actual).mean(axis=0) - 0.5 * pairs
    np.testing.assert_allclose(crps_from_samples(samples, actual), brute)
    assert weighted_crps(samples, actual) == pytest.approx(brute.sum() / np.abs(actual).sum())


def test_crps_of_gaussian_draws_approaches_the_closed_form() -> None:
    """CRPS(N(0, 1), a) = a (2 Phi(a) - 1) + 2 phi(a) - 1/sqrt(pi) (Gneiting & Raftery)."""
    draws = np.random.default_rng(1).standard_normal((200_000, 1))
    a = 0.7
    normal = NormalDist()
    exact = a * (2 * normal.cdf(a) - 1) + 2 * normal.pdf(a) - 1 / np.sqrt(np.pi)
    assert crps_from_samples(draws, np.array([a]))[0] == pytest.approx(exact, abs=2e-3)


def test_baselines_by_hand() -> None:
    history = np.array([1.0, 2.0, 3.0, 5.0, 4.0, 6.0])
    np.testing.assert_array_equal(naive(history, 3), [6, 6, 6])
    np.testing.assert_array_equal(seasonal_naive(history, 3, 2), [4, 6, 4])
    np.testing.assert_array_equal(drift(history, 3), [7, 8, 9])  # slope (6 - 1) / 5
    np.testing.assert_array_equal(drift_seasonal(history, 3, 2), [5, 8, 7])
    two_series = np.stack([history, 10 * history], axis=1)
    np.testing.assert_array_equal(drift(two_series, 2), [[7, 70], [8, 80]])
    with pytest.raises(ValueError, match="season: need 1 <= season <= 6"):
        seasonal_naive(history, 3, 7)


def test_backtest_by_hand() -> None:
    series = np.arange(10.0)
    result = backtest(series, drift, start=5, horizon=2, stride=2)
    np.testing.assert_array_equal(result.origins, [5, 7])
    np.testing.assert_array_equal(result.actual, [[5, 6], [7, 8]])
    assert result.metrics["model"]["mae"] == 0.0  # the drift of a line is exact
    assert result.metrics["naive"]["mae"] == pytest.approx(1.5)  # errors 1, 2 per origin
    assert result.metrics["naive"]["mase"] == pytest.approx(1.5)  # in-sample steps of 1
    last = backtest(series, naive, start=5, horizon=2, stride=2, last_points_only=True)
    np.testing.assert_array_equal(last.actual, [[6], [8]])
    assert last.metrics["model"]["mae"] == pytest.approx(2.0)


def test_backtest_scores_quantiles_and_samples() -> None:
    series = np.arange(1.0, 11.0)

    def forecast(history: np.ndarray, horizon: int) -> dict:
        point = np.full(horizon, history[-1] + 1)
        quantiles = np.stack([point - 0.5, point, point + 0.5], axis=-1)
        samples = np.stack([point - 1, point + 1])
        return {"point": point, "quantiles": quantiles, "samples": samples}

    result = backtest(series, forecast, 6, 2, levels=(0.1, 0.5, 0.9), interval=(0.1, 0.9))
    model = result.metrics["model"]
    # step 1 is exact (covered), step 2 is one below the actual (not covered)
    assert model["coverage"] == pytest.approx(0.5)
    assert model["mae"] == pytest.approx(0.5)
    # CRPS per value: draws a-1, a+1 -> 1 - 1/2 = 1/2 (step 1); a-2, a -> 1 - 1/2 (step 2)
    assert model["crps"] == pytest.approx(0.5 * result.actual.size / result.actual.sum())
    assert "wql" in model and set(result.metrics) >= {"naive", "drift"}


def test_airpassengers_baselines_reproduce_darts(shared_data: Path) -> None:
    """36-month holdout from 1958-01 (darts' quickstart): seasonal naive 13.19% MAPE,
    naive 19.89%, drift + seasonal 5.66% (``../shared/data/README.md``)."""
    data = read_series(shared_data / "timeseries/airline-passengers.csv", "Month", ["Passengers"])
    series = data.series[0].target[:, 0]
    train, test = series[:108], series[108:]
    assert str(data.series[0].dates[108])[:7] == "1958-01"
    assert round(mape(test, seasonal_naive(train, 36, 12)), 2) == 13.19
    assert round(mape(test, naive(train, 36)), 2) == 19.89
    assert round(mape(test, drift_seasonal(train, 36, 12)), 2) == 5.66
