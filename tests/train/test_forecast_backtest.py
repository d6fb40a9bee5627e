"""The rolling-origin backtest of ``rnnkit eval --backtest``: every figure it reports, for
the model and each baseline, against hand computations on a ten-month series (a stand-in
model whose forecasts are known); and intervals after differencing, taken from sample
paths brought back to the data's units rather than from quantiles summed level by level."""

from __future__ import annotations

from pathlib import Path
from statistics import NormalDist

import numpy as np
import pytest

from rnnkit.data.timeseries import read_series
from rnnkit.data.timeseries_transforms import SeriesTransform
from rnnkit.errors import UserError
from rnnkit.models.forecaster import Forecast, Forecaster
from rnnkit.train.forecast_backtest import backtest, check_series, forecast_ahead
from rnnkit.train.forecast_evaluation import TrainedForecaster, in_data_units

Y = [3.0, 5.0, 4.0, 6.0, 8.0, 7.0, 9.0, 11.0, 10.0, 12.0]  # 2000-01 .. 2000-10
LEVELS = (0.1, 0.5, 0.9)


class LastPlusOne:
    """A stand-in forecaster: every step is the window's last value + 1, its quantiles that
    -0.5, +0, +0.5, and two sample paths that -1 and +1."""

    lookback, horizon, num_targets, num_past_covariates, levels = 2, 2, 1, 0, ()

    def predict(self, past_target, past_covariates, future_covariates, levels, num_samples,
                rng, paths=False) -> Forecast:  # fmt: skip
        assert levels == LEVELS and paths
        point = np.repeat(past_target[:, -1:] + 1.0, self.horizon, axis=1)
        quantiles = point[..., None] + np.array([-0.5, 0.0, 0.5])
        return Forecast(point, levels, quantiles, np.stack([point - 1.0, point + 1.0]))


def ten_months(tmp_path: Path, model, difference: int = 0, values=Y):
    path = tmp_path / "ten.csv"
    rows = [f"2000-{m:02d},{y:g}" for m, y in enumerate(values, start=1)]
    path.write_text("Month,Sales\n" + "\n".join(rows) + "\n", encoding="utf-8")
    data = read_series(path, "Month", ["Sales"])
    target = SeriesTransform("none", difference=difference).fit("", data.series[0].target)
    covariates = SeriesTransform("none").fit("", data.series[0].covariates)
    return data, TrainedForecaster(model, target, covariates, data.frequency, [])


@pytest.fixture()
def result(tmp_path: Path):
    data, trained = ten_months(tmp_path, LastPlusOne())
    return backtest(trained, data, "2000-07", season=2, levels=LEVELS, num_samples=2)


ACTUAL = np.array([[9.0, 11.0], [11.0, 10.0], [10.0, 12.0]])  # origins 2000-07, -08, -09
BY_HAND = {
    "model": [[8, 8], [10, 10], [12, 12]],  # the last value + 1
    "naive": [[7, 7], [9, 9], [11, 11]],
    "seasonal_naive": [[8, 7], [7, 9], [9, 11]],  # the last two months, repeated
    # the slope of the line from the first value to the last: 4/5, 6/6, 8/7
    "drift": [[7.8, 8.6], [10, 11], [11 + 8 / 7, 11 + 16 / 7]],
    "drift_seasonal": [[8.8, 8.6], [8, 11], [9 + 8 / 7, 11 + 16 / 7]],
}
SCALE = (1 + 1 + 4 + 1) / 4  # |y_t - y_{t-2}| over the six months before the start


def test_every_point_figure_of_every_method_by_hand(result) -> None:
    np.testing.assert_array_equal(result.origins[0], [6, 7, 8])
    np.testing.assert_array_equal(result.actual[0][..., 0], ACTUAL)
    for name, forecast in BY_HAND.items():
        f = np.array(forecast, dtype=float)
        np.testing.assert_allclose(result.forecasts[0][name][..., 0], f, err_msg=name)
        e, a = np.abs(f - ACTUAL), ACTUAL
        scores = result.metrics[name]
        assert scores["mae"] == pytest.approx(e.sum() / 6), name
        assert scores["rmse"] == pytest.approx(np.sqrt((e**2).sum() / 6)), name
        assert scores["mape"] == pytest.approx(100 / 6 * (e / a).sum()), name
        assert scores["smape"] == pytest.approx(200 / 6 * (e / (a + f)).sum()), name
        assert scores["mase"] == pytest.approx(e.sum() / 6 / SCALE), name
        assert scores["mae_by_step"] == pytest.approx(e.sum(axis=0) / 3), name
    model = result.metrics["model"]  # errors -1 -3 / -1 0 / 2 0
    assert (model["mae"], model["rmse"]) == pytest.approx((7 / 6, np.sqrt(15 / 6)))
    assert model["mase"] == pytest.approx(2 / 3)
    assert model["mae_by_step"] == pytest.approx([4 / 3, 1])


class PointLastPlusOne(LastPlusOne):
    """LastPlusOne as a point model (loss mse or mae) forecasts: every quantile and the one
    path are the forecast."""

    def predict(self, past_target, past_covariates, future_covariates, levels, num_samples,
                rng, paths=False) -> Forecast:  # fmt: skip
        point = np.repeat(past_target[:, -1:] + 1.0, self.horizon, axis=1)
        quantiles = np.repeat(point[..., None], len(levels), axis=-1)
        return Forecast(point, levels, quantiles, point[None])


def test_a_point_model_reports_no_interval_coverage(tmp_path: Path) -> None:
    # Its "interval" has no width: a coverage of 0% would be a figure about nothing.
    data, trained = ten_months(tmp_path, PointLastPlusOne())
    found = backtest(trained, data, "2000-07", season=2, levels=LEVELS, num_samples=2)
    model = found.metrics["model"]
    assert "coverage" not in model and "interval" not in model
    assert model["mae"] == pytest.approx(7 / 6)  # the point figures as before


def test_the_model_interval_quantile_loss_and_crps_by_hand(result) -> None:
    model = result.metrics["model"]
    # the interval point -0.5 .. point +0.5 holds 10 (origin 2000-08, step 2) and 12 only
    assert model["coverage"] == pytest.approx(2 / 6) and model["interval"] == [0.1, 0.9]
    point = np.array(BY_HAND["model"], dtype=float)
    total = 0.0
    for q, shift in zip(LEVELS, (-0.5, 0.0, 0.5), strict=True):
        u = ACTUAL - (point + shift)
        total += 2 * np.maximum(q * u, (q - 1) * u).sum() / ACTUAL.sum()
    assert model["wql"] == pytest.approx(total / 3)
    # two paths f - 1, f + 1: E|X - a| = max(1, |f - a|), E|X - X'| / 2 = 1/2
    per_value = np.maximum(1.0, np.abs(point - ACTUAL)) - 0.5  # 0.5 2.5 0.5 0.5 1.5 0.5
    assert model["crps"] == pytest.approx(6.0 / 63) == per_value.sum() / ACTUAL.sum()
    assert "crps" not in result.metrics["naive"]


def test_forecasts_on_trained_steps_are_counted_or_unknown(tmp_path: Path) -> None:
    """A run that kept where its held-out part begins counts the forecasts starting before
    it; one that did not (runs from before it was kept) cannot tell: None, not 0."""
    data, trained = ten_months(tmp_path, LastPlusOne())
    unknown = backtest(trained, data, "2000-07", season=2, levels=LEVELS, num_samples=2)
    assert unknown.trained_on is None and unknown.held_out is None
    trained.held_out = {"": "2000-09-01"}  # origins 2000-07 and 2000-08 were trained on
    known = backtest(trained, data, "2000-07", season=2, levels=LEVELS, num_samples=2)
    assert (known.trained_on, known.held_out) == (2, "2000-09-01")


def test_scores_weighted_by_the_actual_values_are_none_where_all_are_zero(tmp_path) -> None:
    """wQL and CRPS are divided by sum |a|: over a stretch of zeros they are undefined, as
    MAPE is, and the backtest still reports the other figures."""
    data, trained = ten_months(tmp_path, LastPlusOne(), values=Y[:6] + [0.0] * 4)
    result = backtest(trained, data, "2000-07", season=2, levels=LEVELS, num_samples=2)
    model = result.metrics["model"]
    assert (model["wql"], model["crps"], model["mape"]) == (None, None, None)
    assert model["mae"] == pytest.approx((8 + 8 + 1 + 1 + 1 + 1) / 6)  # 8 8 / 1 1 / 1 1


def test_intervals_after_differencing_are_the_quantiles_of_the_paths() -> None:
    """A random walk forecast from its last value 10 with N(0, 1) steps: the 10% to 90%
    interval h steps ahead is 10 -/+ 1.2816 sqrt(h). Summing the steps' quantiles level by
    level would give 10 -/+ 1.2816 h, too wide (2.4 times at h = 6)."""
    H, z = 6, NormalDist().inv_cdf(0.9)
    transform = SeriesTransform("none", difference=1).fit("", np.arange(5.0)[:, None])
    draws = np.random.default_rng(0).standard_normal((20_000, 1, H, 1))
    exact = np.broadcast_to(np.array([-z, 0.0, z]), (1, H, 1, 3))  # each step's N(0, 1)
    forecast = Forecast(np.zeros((1, H, 1)), LEVELS, exact, draws)
    history = np.array([[7.0], [10.0]])
    point, quantiles, paths = in_data_units(transform, "", forecast, 0, history)
    np.testing.assert_allclose(point[:, 0], 10.0)
    np.testing.assert_allclose(paths[..., 0], 10.0 + np.cumsum(draws[:, 0, :, 0], axis=1))
    np.testing.assert_allclose(quantiles, np.moveaxis(np.quantile(paths, LEVELS, axis=0), 0, -1))
    spread = z * np.sqrt(np.arange(1, H + 1))
    np.testing.assert_allclose(quantiles[:, 0, 0], 10.0 - spread, atol=0.05)
    np.testing.assert_allclose(quantiles[:, 0, 2], 10.0 + spread, atol=0.05)


@pytest.mark.parametrize("loss", ["gaussian", "quantile"])
def test_a_differenced_direct_head_forecasts_intervals_from_its_paths(tmp_path, loss) -> None:
    """A direct head gives each step's marginal quantiles; after differencing, predict's
    interval h steps ahead is that of the summed paths: narrower than the steps' intervals
    summed (about sqrt(h) / h of it for steps alike)."""
    model = Forecaster(lookback=4, horizon=6, hidden_size=4, loss=loss, rng=0)
    data, trained = ten_months(tmp_path, model, difference=1)
    one = data.series[0]
    _, _, quantiles = forecast_ahead(trained, one, 6, (0.1, 0.9), num_samples=4000)
    z = trained.target_transform.transform("", one.target)[-4:]
    steps = model.predict(z[None], levels=(0.1, 0.9)).quantiles[0, :, 0]  # (H, 2), marginal
    summed = np.cumsum(steps[:, 1] - steps[:, 0])
    width = quantiles[:, 0, 1] - quantiles[:, 0, 0]
    assert width[0] == pytest.approx(summed[0], rel=0.1)
    assert np.all(width[2:] < 0.8 * summed[2:])


def test_an_unknown_series_lists_a_few_of_the_known_ones(tmp_path: Path) -> None:
    """A global model may know thousands of series: the messages name eight and count the
    rest (predict's check_series, and the scaling the backtest meets first)."""
    data, trained = ten_months(tmp_path, LastPlusOne())
    one = trained.target_transform.stats.pop("")
    for k in range(20):
        trained.target_transform.stats[f"s{k}"] = one
    eight = "'s0', 's1', 's2', 's3', 's4', 's5', 's6', 's7' and 12 more"
    with pytest.raises(UserError, match="was not among those the model was trained on") as caught:
        check_series(trained, data)
    assert f"({eight})" in str(caught.value) and "'s8'" not in str(caught.value)
    with pytest.raises(UserError, match="was not seen in training") as caught:
        backtest(trained, data, "2000-07", season=2, levels=LEVELS, num_samples=2)
    assert f"(known: {eight})" in str(caught.value)
