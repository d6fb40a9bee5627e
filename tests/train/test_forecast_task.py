"""The forecasting task through the generic run: it learns a seasonal series better than
the baselines, resumes exactly, its trained model forecasts the dates after the data, and
bad input is one clear error."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest

from rnnkit.data.timeseries import read_series
from rnnkit.errors import UserError
from rnnkit.train import load_checkpoint
from rnnkit.train.forecast_backtest import backtest
from rnnkit.train.forecast_evaluation import UnitForecasts, forecast_next, score
from rnnkit.train.run import read_run, resume_run, start_run, train_run
from rnnkit.train.tasks.forecast import ForecastRun, ForecastTask, load_forecaster

TASK = ForecastTask()
TASKS = {TASK.name: TASK}


def write_series(path: Path, months: int = 96) -> Path:
    """A monthly series with a trend and a 12-month season, from 2000-01, and a covariate."""
    t = np.arange(months)
    values = 100 + 0.2 * t + 20 * np.sin(2 * np.pi * t / 12)
    dates = np.datetime64("2000-01") + t.astype("timedelta64[M]")
    rows = [
        f'"{d}",{v:.3f},{np.cos(i):.3f}' for i, (d, v) in enumerate(zip(dates, values, strict=True))
    ]
    path.write_text('"Month","Sales","Rain"\r\n' + "\r\n".join(rows), encoding="utf-8")
    return path


def config(tmp_path: Path, **training: object) -> ForecastRun:
    run = ForecastRun()
    run.data.data = str(write_series(tmp_path / "sales.csv"))
    run.data.date_column, run.data.target, run.data.covariates = "Month", ["Sales"], ["Rain"]
    run.data.valid_size, run.data.test_size = 12, 12
    run.model.lookback, run.model.horizon, run.model.hidden_size = 12, 6, 16
    run.model.loss = "gaussian"
    options = {"batch_size": 16, "lr": 0.01, "eval_every": 20, "log_every": 10, "seed": 0}
    for name, value in {**options, **training}.items():
        setattr(run.training, name, value)
    return run


def test_the_task_beats_the_baselines_and_forecasts_the_next_dates(tmp_path: Path) -> None:
    trainer = start_run(TASK, config(tmp_path, max_steps=300), tmp_path / "run")
    assert train_run(TASK, trainer, fresh=True).status == 0
    lines = TASK.report(trainer)
    scores = trainer.test_scores
    assert scores["model"]["mae"] < 0.5 * scores["naive"]["mae"], lines
    assert scores["model"]["mae"] < scores["drift"]["mae"], lines
    assert any(line.startswith("test model: MAE") for line in lines)
    trained = load_forecaster(tmp_path / "run" / "best")
    assert trained.calendar == ["month"] and trained.frequency.name == "monthly"
    data = read_series(tmp_path / "sales.csv", "Month", ["Sales"], ["Rain"])
    dates, point, quantiles = forecast_next(trained, data.series[0])
    assert [str(d)[:7] for d in dates] == ["2008-01", "2008-02", "2008-03", "2008-04",
                                           "2008-05", "2008-06"]  # fmt: skip
    assert point.shape == (6, 1) and quantiles.shape == (6, 1, 3)
    assert np.all(quantiles[..., 0] <= point) and np.all(point <= quantiles[..., 2])


def test_seasonal_normalization_takes_its_season_from_the_dates(tmp_path: Path) -> None:
    """normalize=season with season 0: 12 for monthly dates, saved with the run."""
    run = config(tmp_path, max_steps=2)
    run.model.normalize = "season"
    trainer = start_run(TASK, run, tmp_path / "run")
    assert trainer.model.season == 12
    assert train_run(TASK, trainer, fresh=True).status == 0
    assert load_forecaster(tmp_path / "run" / "best").model.season == 12


def test_validation_holds_out_a_tenth_by_default_and_older_runs_resume_on_one_horizon(
    tmp_path: Path,
) -> None:
    run = config(tmp_path, max_steps=4)
    run.data.valid_size = None  # 96 months, 12 to test: a tenth of 84 is 8, over horizon 6
    trainer = start_run(TASK, run, tmp_path / "run")
    assert run.data.valid_size == 8 and len(trainer.valid_set) == 8 - 6 + 1
    assert train_run(TASK, trainer, fresh=True).status == 0
    _, saved, checkpoint = read_run(tmp_path / "run", TASKS)
    assert saved.data.valid_size == 8  # the resolved size is what the run keeps
    saved.data.valid_size = None  # as config.json holds it for a run begun when the
    older = copy.deepcopy(saved)  # default was one horizon
    older.training.max_steps = 6
    resumed = resume_run(TASK, older, saved, checkpoint, tmp_path / "run")
    assert older.data.valid_size == 6 and len(resumed.valid_set) == 1
    run = config(tmp_path, max_steps=1)
    run.data.valid_size, run.data.test_size = None, 66  # a tenth of 30 is 3: one horizon
    start_run(TASK, run, tmp_path / "short")
    assert run.data.valid_size == 6


def test_resume_gives_the_same_weights_as_one_run(tmp_path: Path) -> None:
    straight = start_run(TASK, config(tmp_path, max_steps=30), tmp_path / "a")
    train_run(TASK, straight, fresh=True)
    first = start_run(TASK, config(tmp_path, max_steps=12), tmp_path / "b")
    train_run(TASK, first, fresh=True)
    _, saved, checkpoint = read_run(tmp_path / "b", TASKS)
    resumed = copy.deepcopy(saved)
    resumed.training.max_steps = 30  # what the command line does: the saved settings, changed
    second = resume_run(TASK, resumed, saved, checkpoint, tmp_path / "b")
    assert (second.progress.epoch, second.progress.batch) == (3, 0)  # 4 batches an epoch
    train_run(TASK, second, fresh=False)
    for name, value in straight.model.params.items():
        assert np.array_equal(value, second.model.params[name]), name
    assert load_checkpoint(tmp_path / "b").config["progress"]["step"] == 30


def test_bad_input_is_one_clear_error(tmp_path: Path) -> None:
    wrong = config(tmp_path, max_steps=1)
    wrong.data.target = ["Revenue"]
    with pytest.raises(UserError, match=r"target: no column 'Revenue'.*Month, Sales, Rain"):
        start_run(TASK, wrong, tmp_path / "wrong")
    short = config(tmp_path, max_steps=1)
    short.model.lookback = 80
    with pytest.raises(UserError, match=r"lookback: series in the file has 96 steps"):
        start_run(TASK, short, tmp_path / "short")
    centred = config(tmp_path, max_steps=1)
    centred.model.window_mean = True  # with the standard scaler: the window means are ~0
    refusal = r"window_mean: .*set scaler to mean or none, and difference to 0"
    with pytest.raises(UserError, match=refusal):
        start_run(TASK, centred, tmp_path / "centred")
    assert not (tmp_path / "centred").exists()
    trainer = start_run(TASK, config(tmp_path, max_steps=1), tmp_path / "run")
    train_run(TASK, trainer, fresh=True)
    _, saved, checkpoint = read_run(tmp_path / "run", TASKS)
    write_series(tmp_path / "sales.csv", months=97)
    with pytest.raises(UserError, match="differ from those the run"):
        resume_run(TASK, copy.deepcopy(saved), saved, checkpoint, tmp_path / "run")


def write_driven_series(path: Path, days: int = 240, ahead: int = 4) -> np.ndarray:
    """Daily ``Sales = 3 * Promo + noise`` with ``Promo`` random and known in advance: its
    last AHEAD rows give ``Promo`` with ``Sales`` empty (``history.csv`` beside it: without
    them). Returns ``Promo``."""
    rng = np.random.default_rng(0)
    promo = rng.standard_normal(days + ahead)
    sales = [f"{v:.4f}" for v in 3 * promo[:days] + 0.1 * rng.standard_normal(days)]
    dates = np.datetime64("2000-01-01") + np.arange(days + ahead).astype("timedelta64[D]")
    rows = [f"{d},{s},{p:.4f}" for d, s, p in zip(dates, sales + [""] * ahead, promo, strict=True)]
    path.write_text("Day,Sales,Promo\n" + "\n".join(rows), encoding="utf-8")
    history = "\n".join(rows[:days])
    (path.parent / "history.csv").write_text("Day,Sales,Promo\n" + history, encoding="utf-8")
    return promo


def test_a_known_future_covariate_that_drives_the_series_is_used(tmp_path: Path) -> None:
    """Without Promo the series is noise to the model; with it, its forecasts (of the test
    part, of a backtest and of the steps after the data) follow 3 * Promo."""
    promo = write_driven_series(tmp_path / "driven.csv")
    scores = {}
    for columns in ([], ["Promo"]):
        run = config(tmp_path, max_steps=150, eval_every=50)
        run.data.data = str(tmp_path / ("driven.csv" if columns else "history.csv"))
        run.data.date_column = "Day"
        run.data.covariates, run.data.future_covariates = [], columns
        run.data.valid_size, run.data.test_size, run.data.calendar = 24, 24, False
        run.model.lookback, run.model.horizon, run.model.hidden_size = 8, 4, 8
        trainer = start_run(TASK, run, tmp_path / f"run{len(columns)}")
        assert train_run(TASK, trainer, fresh=True).status == 0
        TASK.report(trainer)
        scores[len(columns)] = trainer.test_scores["model"]["mae"]
    assert scores[1] < 0.2 * scores[0], scores
    trained = load_forecaster(tmp_path / "run1" / "best")
    assert trained.model.num_future_covariates == 1
    data = read_series(tmp_path / "driven.csv", "Day", ["Sales"], future_covariates=["Promo"])
    dates, point, _ = forecast_next(trained, data.series[0])
    assert str(dates[0])[:10] == "2000-08-28"  # the day after the last observed value
    np.testing.assert_allclose(point[:, 0], 3 * promo[240:], atol=1.0)
    result = backtest(trained, data, np.datetime64("2000-07-20"))  # the test part
    metrics = result.metrics
    assert metrics["model"]["mae"] < 0.2 * metrics["naive"]["mae"], metrics


def test_the_test_scores_have_no_weighted_loss_where_every_actual_value_is_0() -> None:
    zeros = np.zeros((2, 3, 1))
    quantiles = np.stack([zeros, zeros + 1.0, zeros + 2.0], axis=-1)
    forecasts = UnitForecasts(zeros, zeros + 1.0, (0.1, 0.5, 0.9), quantiles, {"naive": zeros})
    scores = score(forecasts)
    assert scores["model"]["wql"] is None and scores["model"]["mape"] is None
    assert scores["model"]["mae"] == 1.0 and scores["model"]["coverage"] == 1.0
    assert scores["naive"]["mae"] == 0.0


def test_the_test_scores_give_a_point_model_no_interval_coverage() -> None:
    # mse and mae models forecast every quantile as the point: no interval to cover with
    actual = np.arange(6.0).reshape(2, 3, 1)
    point = actual + 0.5
    quantiles = np.repeat(point[..., None], 3, axis=-1)
    scores = score(UnitForecasts(actual, point, (0.1, 0.5, 0.9), quantiles, {}))
    assert "coverage" not in scores["model"] and scores["model"]["mae"] == 0.5
