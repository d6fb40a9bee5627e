"""Forecasting data after reading: frequencies and calendar features, transforms fitted on
the training part only (a test fails if validation or test values reach them), windows."""

from __future__ import annotations

import json

import numpy as np
import pytest

from rnnkit.data.timeseries import Series, SeriesData
from rnnkit.data.timeseries_calendar import (
    Frequency,
    calendar_features,
    future_dates,
    infer_frequency,
    season_length,
)
from rnnkit.data.timeseries_transforms import SeriesTransform
from rnnkit.data.timeseries_windows import known_inputs, make_windows, prepare_windows
from rnnkit.errors import UserError


def dates(*texts: str) -> np.ndarray:
    return np.array(texts, dtype="datetime64[s]")


def monthly_data(
    values: np.ndarray, ids: tuple[str, ...] = ("",), future: bool = False
) -> SeriesData:
    """Series of ``values`` ``(T,)`` times k = 1, 2, .. for the k-th id, monthly from 2000-01,
    with one covariate, ``values`` squared, and with FUTURE a known-future covariate,
    ``100 + 10 * values``."""
    series = []
    for k, name in enumerate(ids):
        target = np.asarray(values, dtype=np.float64).reshape(len(values), -1) * (k + 1)
        months = np.datetime64("2000-01") + np.arange(len(values)).astype("timedelta64[M]")
        covariate = np.asarray(values, dtype=np.float64).reshape(len(values), -1)[:, :1] ** 2
        known = 100 + 10 * target[:, :1] / (k + 1) if future else None
        lines = np.arange(2, len(values) + 2)
        dates = months.astype("datetime64[s]")
        series.append(Series(name, dates, target, covariate, lines, known))
    columns = ["promo"] if future else []
    return SeriesData(series, ["y"], ["x"], Frequency("month", 1), "%Y-%m", [], columns)


# -- frequencies and calendar features -------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "name", "season"),
    [
        (("2000-01-31", "2000-02-29", "2000-03-31"), "monthly", 12),
        (("2000-01-01", "2000-04-01", "2000-07-01"), "quarterly", 4),
        (("2000-01-01", "2001-01-01", "2002-01-01"), "yearly", 1),
        (("2000-01-01", "2000-01-08", "2000-01-15"), "weekly", 52),
        (("2000-01-01T00:00", "2000-01-01T00:30", "2000-01-01T01:00"), "every 30 minutes", 48),
        # a fixed step in the largest unit it is a whole number of, not in seconds
        (("2000-01-01", "2000-01-03", "2000-01-05"), "every 2 days", 1),
        (("2000-01-01T00:00", "2000-01-01T06:00", "2000-01-01T12:00"), "every 6 hours", 4),
        (("2000-01-01", "2000-01-15", "2000-01-29"), "every 2 weeks", 1),
        (("2000-01-01", "2000-03-01", "2000-05-01"), "every 2 months", 6),
        (("2000-01-01T00:00:00", "2000-01-01T00:00:45", "2000-01-01T00:01:30"),
         "every 45 seconds", 1920),
    ],
)
def test_frequency_inference(values: tuple[str, ...], name: str, season: int) -> None:
    frequency, note = infer_frequency(dates(*values))
    assert frequency.name == name and note is None
    assert season_length(frequency) == season


def test_month_end_dates_continue_at_month_ends() -> None:
    frequency, _ = infer_frequency(dates("2000-01-31", "2000-02-29", "2000-03-31"))
    assert frequency.month_end
    future = future_dates(np.datetime64("2000-03-31"), frequency, 3)
    assert [str(d)[:10] for d in future] == ["2000-04-30", "2000-05-31", "2000-06-30"]
    assert Frequency.from_dict(json.loads(json.dumps(frequency.to_dict()))) == frequency


def test_calendar_features_by_hand() -> None:
    """2024-01-01 was a Monday; features are scaled to [-0.5, 0.5]."""
    hourly = dates("2024-01-01T00:00", "2024-01-06T23:00", "2024-12-31T12:00")
    names, values = calendar_features(hourly, Frequency("second", 3600))
    assert names == ["hour", "day_of_week", "month"]
    expected = [[-0.5, -0.5, -0.5], [0.5, 5 / 6 - 0.5, -0.5], [12 / 23 - 0.5, 1 / 6 - 0.5, 0.5]]
    np.testing.assert_allclose(values, expected)
    assert calendar_features(hourly, Frequency("month", 1))[0] == ["month"]
    assert calendar_features(hourly, Frequency("month", 12))[1].shape == (3, 0)
    with pytest.raises(ValueError, match="frequency: calendar features need"):
        calendar_features(hourly, None)


# -- transforms ------------------------------------------------------------------------------


def test_standard_and_mean_scaling_by_hand() -> None:
    train = np.array([[1.0, -2.0], [3.0, 2.0], [5.0, 6.0]])
    standard = SeriesTransform("standard").fit("a", train)
    shift, scale = standard.stats["a"]
    np.testing.assert_allclose(shift, [3.0, 2.0])
    np.testing.assert_allclose(scale, [np.sqrt(8 / 3), np.sqrt(32 / 3)])
    mean = SeriesTransform("mean").fit("a", train)
    np.testing.assert_allclose(mean.transform("a", train), train / [3.0, 10 / 3])
    constant = SeriesTransform("standard").fit("c", np.full((4, 1), 7.0))
    np.testing.assert_array_equal(constant.transform("c", np.array([[8.0]])), [[1.0]])


def test_log_and_seasonal_difference_invert_exactly() -> None:
    rng = np.random.default_rng(0)
    y = np.exp(rng.standard_normal((30, 2)))
    transform = SeriesTransform("standard", log=True, difference=4).fit("s", y[:20])
    z = transform.transform("s", y)
    assert z.shape == (26, 2)
    np.testing.assert_allclose(transform.inverse("s", z[16:], y[:20]), y[20:])
    paths = np.stack([z[16:], z[16:] + 0.1])  # leading axes: sample paths
    assert transform.inverse("s", paths, y[:20]).shape == (2, 10, 2)
    saved = SeriesTransform.from_dict(json.loads(json.dumps(transform.to_dict())))
    np.testing.assert_array_equal(saved.transform("s", y), z)


@pytest.mark.parametrize("log", ["false", 0, None])
def test_a_saved_log_that_is_not_true_or_false_is_refused(log) -> None:
    """An edited "log": "false" must not be read as log = True (forecasts off by orders of
    magnitude, silently)."""
    saved = SeriesTransform("standard").fit("s", np.arange(1.0, 5.0)[:, None]).to_dict()
    with pytest.raises(ValueError, match=r"^log: expected true or false"):
        SeriesTransform.from_dict({**saved, "log": log})


def test_values_scaled_past_what_a_model_reads_are_refused() -> None:
    # float32 models read them as infinities: a ValueError traceback in the forecaster
    transform = SeriesTransform("standard").fit("s", np.arange(1.0, 5.0)[:, None])
    with pytest.raises(UserError, match=r"series 's': scaled as in training, its values reach 8.9"):
        transform.transform("s", np.array([[1.0], [1e40]]))
    missing = transform.transform("s", np.array([[np.nan], [3.0]]))  # a gap is no overflow
    assert np.isnan(missing[0, 0]) and np.isfinite(missing[1, 0])


def test_transform_errors_name_the_parameter() -> None:
    with pytest.raises(UserError, match="scaler: expected one of standard, mean, none"):
        SeriesTransform("minmax")
    with pytest.raises(UserError, match="log: series 'a' has the value -1 at step 1"):
        SeriesTransform(log=True).fit("a", np.array([[0.0], [-1.0]]))
    with pytest.raises(UserError, match="series: 'b' was not seen in training"):
        SeriesTransform().fit("a", np.ones((3, 1))).transform("b", np.ones((3, 1)))


# -- windows ---------------------------------------------------------------------------------


def test_make_windows_by_hand() -> None:
    target = np.arange(10.0)[:, None]
    known = 100 + np.arange(10.0)[:, None]
    windows, origins = make_windows(target, target * 0, known, 3, 2, first=4, stop=9, stride=2)
    np.testing.assert_array_equal(origins, [4, 6])
    np.testing.assert_array_equal(windows.past_target[1, :, 0], [3, 4, 5])
    np.testing.assert_array_equal(windows.future_target[1, :, 0], [6, 7])
    np.testing.assert_array_equal(windows.future_covariates[0, :, 0], [101, 102, 103, 104, 105])


def test_parts_hold_the_windows_whose_forecasts_fall_in_them() -> None:
    prepared = prepare_windows(monthly_data(np.arange(40.0)), 6, 3, valid_size=5, test_size=8)
    assert prepared.calendar == ["month"]
    for part, first, stop in (("train", 6, 27), ("valid", 27, 32), ("test", 32, 40)):
        windows = getattr(prepared, part)
        assert windows.origin.min() == first and windows.origin.max() + 3 == stop
    # the first validation window reads training steps 21..26
    shift, scale = prepared.target_transform.stats[""]
    np.testing.assert_allclose(prepared.valid.past_target[0, :, 0] * scale + shift, range(21, 27))


def test_scaler_never_sees_validation_or_test_values() -> None:
    """Fitted statistics equal the training part's, and replacing every held-out value of
    the target and the covariate (by huge numbers) changes neither them nor a single
    training window."""
    values = np.sin(np.arange(60.0)) + 5.0
    spoiled = values.copy()
    spoiled[40:] = 1e6
    options = {"lookback": 6, "horizon": 3, "valid_size": 8, "test_size": 12}
    settings = {**options, "log": True, "difference": 1}
    clean = prepare_windows(monthly_data(values, ("a", "b"), future=True), **settings)
    dirty = prepare_windows(monthly_data(spoiled, ("a", "b"), future=True), **settings)
    assert clean.target_transform.to_dict() == dirty.target_transform.to_dict()
    assert clean.covariate_transform.to_dict() == dirty.covariate_transform.to_dict()
    assert clean.future_transform.to_dict() == dirty.future_transform.to_dict()
    shift, scale = clean.future_transform.stats["a"]
    np.testing.assert_allclose([shift[0], scale[0]], [100 + 10 * values[:40].mean(),
                                                      10 * values[:40].std()])  # fmt: skip
    for name, array in clean.train.batch().items():
        np.testing.assert_array_equal(array, dirty.train.batch()[name], err_msg=name)
    assert not np.array_equal(clean.test.future_target, dirty.test.future_target)
    shift, scale = clean.target_transform.stats["b"]
    steps = np.diff(np.log1p(2 * values[:40]))
    np.testing.assert_allclose([shift[0], scale[0]], [steps.mean(), steps.std()])


def test_several_series_make_one_global_set_of_windows() -> None:
    prepared = prepare_windows(monthly_data(np.arange(20.0), ("a", "b", "c")), 4, 2)
    assert len(prepared.train) == 3 * 15
    np.testing.assert_array_equal(np.bincount(prepared.train.series), [15, 15, 15])
    assert len(prepared.valid) == 0 and len(prepared.test) == 0


def test_a_series_too_short_names_lookback_and_horizon() -> None:
    with pytest.raises(UserError, match=r"has 20 steps; with 6 held out, 14 remain .* = 15"):
        prepare_windows(monthly_data(np.arange(20.0)), 12, 3, valid_size=3, test_size=3)
    with pytest.raises(UserError, match="horizon: must be at least 1, got 0"):
        prepare_windows(monthly_data(np.arange(20.0)), 12, 0)
    irregular = monthly_data(np.arange(20.0))
    irregular.frequency = None
    with pytest.raises(UserError, match="calendar: the dates are not regularly spaced"):
        prepare_windows(irregular, 4, 2)
    # one row has no spacing either: its length is what is wrong with it
    single = monthly_data(np.arange(1.0))
    single.frequency = None
    with pytest.raises(UserError, match="lookback: series in the file has 1 step;"):
        prepare_windows(single, 4, 2)


def test_windows_carry_the_known_future_rows_of_lookback_and_horizon() -> None:
    """By hand: the known-future inputs of the window at origin o are the calendar month and
    the covariate of steps o-L .. o+H-1, the covariate scaled by its training statistics."""
    values = np.arange(12.0)
    prepared = prepare_windows(monthly_data(values, future=True), 3, 2, valid_size=2)
    train, valid = prepared.train, prepared.valid
    assert train.future_covariates.shape == (6, 5, 2)
    shift, scale = prepared.future_transform.stats[""]
    np.testing.assert_allclose([shift[0], scale[0]], [100 + 10 * 4.5, 10 * values[:10].std()])
    promo = train.future_covariates[..., 1] * scale[0] + shift[0]
    np.testing.assert_allclose(promo[0], [100, 110, 120, 130, 140])  # origin 3: steps 0..4
    valid_promo = valid.future_covariates[0, :, 1] * scale[0] + shift[0]
    np.testing.assert_allclose(valid_promo, [170, 180, 190, 200, 210])  # origin 10: 7..11
    months = np.arange(7, 12) / 11 - 0.5  # 2000-08 .. 2000-12
    np.testing.assert_allclose(valid.future_covariates[0, :, 0], months)


def test_known_inputs_after_the_end_come_from_the_rows_ahead() -> None:
    one = monthly_data(np.arange(6.0), future=True).series[0]
    one.ahead = np.array([[7.0], [9.0]])
    transform = SeriesTransform("standard").fit("", one.future)
    shift, scale = transform.stats[""]
    known = known_inputs(one, Frequency("month", 1), True, transform, 4, 4)
    np.testing.assert_allclose(known[:, 1] * scale[0] + shift[0], [140, 150, 7, 9])
    np.testing.assert_allclose(known[:, 0], np.arange(4, 8) / 11 - 0.5)
    with pytest.raises(UserError, match="for 2 steps after its last observed value, and 3 are"):
        known_inputs(one, Frequency("month", 1), True, transform, 4, 5)


def test_too_few_rows_ahead_says_how_many_more_to_add() -> None:
    """The rows already given count: 2 of 3 needed is one more row, not three."""
    one = monthly_data(np.arange(6.0), future=True).series[0]
    transform = SeriesTransform("standard").fit("", one.future)
    one.ahead = np.array([[7.0], [9.0]])
    with pytest.raises(UserError, match=r"for 2 steps after .*, and 3 are needed: add 1 more row "):
        known_inputs(one, Frequency("month", 1), False, transform, 4, 5)
    one.ahead = np.array([[7.0]])
    with pytest.raises(UserError, match=r"for 1 step after .*, and 4 are needed: add 3 more rows "):
        known_inputs(one, Frequency("month", 1), False, transform, 4, 6)


@pytest.mark.parametrize("field", ["shift", "scale"])
def test_a_saved_whole_number_past_float64_is_refused_naming_the_series(field: str) -> None:
    # JSON integers have no limit: NumPy raised an OverflowError, which no one caught.
    saved = SeriesTransform("standard").fit("s", np.arange(1.0, 5.0)[:, None]).to_dict()
    edited = json.loads(json.dumps(saved).replace(f'"{field}": [', f'"{field}": [-{"9" * 400}, '))
    edited["series"]["s"][field].pop()
    with pytest.raises(ValueError, match=r"^series 's': expected finite shifts and scales .*-inf"):
        SeriesTransform.from_dict(edited, 1)
