"""``rnnkit predict`` and ``rnnkit eval --backtest`` on forecasting runs: a tiny model trained
through ``main`` in a temporary folder, then forecasts with dates and intervals (table,
CSV, JSON, plot), a rolling-origin backtest beside the baselines (checked against hand
computations), and bad input as one line, exit status 2 and no file written."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from tests.cli.cli_helpers import assert_one_line_error, run_cli

HORIZON = 6
TINY = [
    "--lookback", "12", "--horizon", str(HORIZON), "--hidden-size", "8", "--batch-size", "16",
    "--max-steps", "30", "--eval-every", "15", "--valid-size", "12", "--threads", "1",
]  # fmt: skip


def monthly(months: int = 72, start: str = "2000-01") -> tuple[list[str], np.ndarray]:
    t = np.arange(months)
    values = 100 + 0.5 * t + 20 * np.sin(2 * np.pi * t / 12)
    dates = np.datetime64(start) + t.astype("timedelta64[M]")
    return [str(d) for d in dates], values


def write_csv(path: Path, dates: list[str], values, header: str = "Month,Sales") -> Path:
    rows = [
        f"{d},{v}" if isinstance(v, str) else f"{d},{v:.3f}"
        for d, v in zip(dates, values, strict=True)
    ]
    path.write_text(header + "\r\n" + "\r\n".join(rows), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("forecast")
    data = write_csv(folder / "sales.csv", *monthly())
    status, _, err = run_cli(
        "train", "--task", "forecast", "--data", data, "--date-column", "Month", "--target",
        "Sales", "--out", folder / "run", *TINY,
    )  # fmt: skip
    assert status == 0, err
    return {"run": folder / "run", "data": data, "folder": folder}


def test_predict_prints_the_dates_after_the_data_with_intervals(run) -> None:
    status, out, err = run_cli("predict", run["run"], "--data", run["data"])
    assert status == 0, err
    lines = out.splitlines()
    assert lines[0].split() == ["Month", "Sales", "Sales_q0.1", "Sales_q0.5", "Sales_q0.9"]
    rows = [line.split() for line in lines[1:]]
    assert [r[0] for r in rows] == ["2006-01", "2006-02", "2006-03", "2006-04", "2006-05",
                                    "2006-06"]  # fmt: skip
    for _, point, low, median, high in rows:
        assert float(low) <= float(point) <= float(high)
        assert float(median) == pytest.approx(float(point), rel=1e-4)  # Gaussian: median = mean
    # Each column lines up on the decimal point: every number in it has as many decimals.
    for column in range(1, 5):
        decimals = {len(row[column].partition(".")[2]) for row in rows}
        assert len(decimals) == 1, [row[column] for row in rows]
    assert len({line.index(".", 10) for line in lines[1:]}) == 1


def test_predict_json_horizon_and_quantiles(run) -> None:
    status, out, err = run_cli(
        "predict", run["run"], "--data", run["data"], "--json", "--horizon", "3",
        "--quantiles", "0.9", "0.05",
    )  # fmt: skip
    assert status == 0, err
    document = json.loads(out)
    assert document["frequency"] == "monthly" and document["levels"] == [0.05, 0.9]
    records = document["forecasts"]
    assert [r["date"] for r in records] == ["2006-01", "2006-02", "2006-03"]
    assert all(r["target"] == "Sales" and set(r["quantiles"]) == {"0.05", "0.9"} for r in records)
    # The same first steps as the model's own horizon; beyond it, forecasts fed back (a note).
    status, out, err = run_cli("predict", run["run"], "--data", run["data"], "--json",
                               "--horizon", "15", "--quantiles", "0.05", "0.9")  # fmt: skip
    assert status == 0 and "exceed the model's horizon 6" in err
    longer = json.loads(out)["forecasts"]
    assert len(longer) == 15 and longer[-1]["date"] == "2007-03"
    assert [r["forecast"] for r in longer[:3]] == [r["forecast"] for r in records]


def test_predict_writes_csv_and_plot(run, tmp_path: Path) -> None:
    out_csv, png = tmp_path / "out.csv", tmp_path / "forecast.png"
    plot = ["--plot", png] if _has_matplotlib() else []
    status, out, err = run_cli(
        "predict", run["run"], "--data", run["data"], "--csv", out_csv, *plot
    )
    assert status == 0, err
    assert f"6 forecasts written to {out_csv}" in out
    with open(out_csv, newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["Month"] for r in rows][:2] == ["2006-01", "2006-02"] and len(rows) == HORIZON
    assert all(float(r["Sales_q0.1"]) <= float(r["Sales"]) <= float(r["Sales_q0.9"]) for r in rows)
    if plot:
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plot_takes_the_format_its_name_ends_with(run, tmp_path: Path) -> None:
    if not _has_matplotlib():
        pytest.skip("needs matplotlib")
    for name, start in (("forecast.svg", b"<?xml"), ("forecast.pdf", b"%PDF-")):
        status, _, err = run_cli(
            "predict", run["run"], "--data", run["data"], "--plot", tmp_path / name
        )
        assert status == 0, err
        assert (tmp_path / name).read_bytes().startswith(start)
    status, _, err = run_cli(
        "eval", run["run"], "--data", run["data"], "--backtest", "--start", "2004-01",
        "--plot", tmp_path / "bt.svg",
    )  # fmt: skip
    assert status == 0, err
    assert b"<svg" in (tmp_path / "bt.svg").read_bytes()


def test_output_file_that_cannot_be_written_is_named_in_one_line(run, tmp_path: Path) -> None:
    # The error names the file asked for, not the temporary file written first
    for target, reason in [(tmp_path / "no" / "out.csv", "no such file"), (tmp_path, "is a dir")]:
        status, _, err = run_cli("predict", run["run"], "--data", run["data"], "--csv", target)
        assert_one_line_error(status, err, f"{target}: {reason}", "check the path")
        assert ".tmp" not in err and "Errno" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_an_output_that_cannot_be_written_is_refused_before_any_is(run, tmp_path: Path) -> None:
    """--csv and --plot are checked before the work: a picture aimed at a folder leaves no
    CSV behind, and eval's notes do not come before the error."""
    out_csv, folder = tmp_path / "out.csv", tmp_path / "pictures"
    folder.mkdir()
    status, _, err = run_cli(
        "predict", run["run"], "--data", run["data"], "--csv", out_csv, "--plot", folder
    )
    assert_one_line_error(status, err, f"{folder}: is a dir", "check the path")
    status, _, err = run_cli(
        "eval", run["run"], "--data", run["data"], "--backtest", "--start", "2004-01",
        "--plot", folder,
    )  # fmt: skip
    assert_one_line_error(status, err, f"{folder}: is a dir")  # no note on in-sample origins
    status, _, err = run_cli(
        "predict", run["run"], "--data", run["data"], "--csv", out_csv, "--plot", out_csv
    )
    assert_one_line_error(status, err, "--csv and --plot both name", "its own file")
    assert [p.name for p in tmp_path.iterdir()] == ["pictures"] and not any(folder.iterdir())


def test_backtest_scores_the_model_beside_baselines_computed_by_hand(run) -> None:
    status, out, err = run_cli(
        "eval", run["run"], "--data", run["data"], "--backtest", "--start", "2004-01", "--json"
    )
    assert status == 0, err
    report = json.loads(out)
    _, y = monthly()
    first = 48  # 2004-01
    origins = range(first, len(y) - HORIZON + 1)
    assert report["windows"] == len(origins) and report["season"] == 12
    # training held out 2005-01 on (--valid-size 12): the twelve origins before it were seen
    assert report["trained_on"] == 12
    assert "note: 12 of the 19 forecasts start before 2005-01, where the part training" in err
    assert report["horizon"] == HORIZON and report["start"] == "2004-01"
    y = np.round(y, 3)  # as written in the file
    actual = np.stack([y[o : o + HORIZON] for o in origins])
    naive = np.stack([np.repeat(y[o - 1], HORIZON) for o in origins])
    seasonal = np.stack([y[o - 12 : o - 12 + HORIZON] for o in origins])
    metrics = report["metrics"]
    assert metrics["naive"]["mae"] == pytest.approx(np.mean(np.abs(actual - naive)))
    assert metrics["seasonal_naive"]["mape"] == pytest.approx(
        100 * np.mean(np.abs(actual - seasonal) / actual)
    )
    scale = np.mean(np.abs(y[12:first] - y[: first - 12]))
    assert metrics["seasonal_naive"]["mase"] == pytest.approx(
        np.mean(np.abs(actual - seasonal)) / scale
    )
    assert set(metrics) == {"model", "naive", "seasonal_naive", "drift", "drift_seasonal"}
    model = metrics["model"]
    assert {"mae", "rmse", "mape", "smape", "mase", "coverage", "wql", "crps"} <= set(model)
    assert 0 <= model["coverage"] <= 1 and len(model["mae_by_step"]) == HORIZON
    # A stride, a shorter horizon and another season change what is scored.
    status, out, err = run_cli(
        "eval", run["run"], "--data", run["data"], "--backtest", "--start", "2004-01",
        "--stride", "4", "--horizon", "2", "--season", "6", "--json",
    )  # fmt: skip
    assert status == 0, err
    other = json.loads(out)
    assert other["windows"] == len(range(first, len(y) - 2 + 1, 4)) and other["season"] == 6


def test_backtest_table_and_plot(run, tmp_path: Path) -> None:
    png = tmp_path / "backtest.png"
    plot = ["--plot", png] if _has_matplotlib() else []
    status, out, err = run_cli(
        "eval", run["run"], "--data", run["data"], "--backtest", "--start", "2005-01", *plot
    )
    assert status == 0, err
    assert "note" not in err  # every origin is in the held-out part
    lines = out.splitlines()
    assert "backtest from 2005-01, 7 forecasts of 6 steps" in lines[0]
    assert lines[1].split()[:6] == ["method", "MAE", "RMSE", "MAPE", "sMAPE", "MASE"]
    assert [line.split()[0] for line in lines[2:7]] == ["model", "naive", "seasonal", "drift",
                                                       "drift"]  # fmt: skip
    if plot:
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    status, out, err = run_cli(
        "eval", run["run"], "--data", run["data"], "--backtest", "--start", "2005-12",
        "--horizon", "1",
    )  # fmt: skip
    assert status == 0, err
    assert "backtest from 2005-12, 1 forecast of 1 step (stride 1" in out


def test_month_first_dates_are_read_and_written_as_months(run, tmp_path: Path) -> None:
    """A month-first file (03/01/2005: March) whose days are all 1 fits day first too; its
    dates, --start among them, are read as months."""
    dates, values = monthly()
    us = [f"{d[5:7]}/01/{d[:4]}" for d in dates]
    data = write_csv(tmp_path / "us.csv", us, values)
    status, out, err = run_cli("predict", run["run"], "--data", data, "--horizon", "2")
    assert status == 0, err
    assert [line.split()[0] for line in out.splitlines()[1:]] == ["01/01/2006", "02/01/2006"]
    status, out, err = run_cli(
        "eval", run["run"], "--data", data, "--backtest", "--start", "03/01/2005"
    )
    assert status == 0, err
    assert "backtest from 03/01/2005, 5 forecasts of 6 steps" in out


def _has_matplotlib() -> bool:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def _bad_files(folder: Path) -> dict[str, tuple[Path, tuple[str, ...]]]:
    dates, values = monthly()
    texts = [f"{v:.3f}" for v in values]
    cases = {}
    cases["text"] = (
        write_csv(folder / "text.csv", dates, texts[:30] + ["lots"] + texts[31:]),
        ("--data: column 'Sales', line 32: 'lots' is not a number;", "leave the cell empty"),
    )
    cases["missing"] = write_csv(folder / "missing.csv", dates, texts[:40] + ["NA"] + texts[41:]), (
        "1 missing value,", "line 42;", "--fill",
    )  # fmt: skip
    cases["duplicate"] = (
        write_csv(folder / "dup.csv", dates[:5] + dates[4:], texts[:5] + texts[4:]),
        (
            "2000-05",
            "appears twice",
        ),
    )
    irregular = [f"{d}-01" for d in dates[:50]] + ["2004-03-15"] + [f"{d}-01" for d in dates[51:]]
    cases["irregular"] = (
        write_csv(folder / "irregular.csv", irregular, texts),
        ("not regularly spaced",),
    )
    gap = dates[:50] + dates[51:]
    cases["gap"] = (
        write_csv(folder / "gap.csv", gap, texts[:50] + texts[51:]),
        (
            "1 missing date; the first after 2004-02;",  # as the file writes its dates
            "--fill",
        ),
    )
    cases["short"] = (
        write_csv(folder / "short.csv", dates[:8], texts[:8]),
        (
            "has 8 steps",
            "the last 12",
        ),
    )
    cases["single"] = (write_csv(folder / "single.csv", dates[:1], texts[:1]), ("has 1 step;",))
    cases["column"] = (
        write_csv(folder / "column.csv", dates, texts, "Month,Revenue"),
        (
            "no column 'Sales'",
            "its columns: Month, Revenue",
        ),
    )
    return cases


def test_bad_input_is_one_line_exit_2_and_writes_nothing(run, tmp_path: Path) -> None:
    out_csv, png = tmp_path / "out.csv", tmp_path / "f.png"
    for name, (path, fragments) in _bad_files(tmp_path).items():
        status, _, err = run_cli(
            "predict", run["run"], "--data", path, "--csv", out_csv, "--plot", png
        )
        assert_one_line_error(status, err, *fragments)
        assert not out_csv.exists() and not png.exists(), name
    data = run["data"]
    fifteen = write_csv(tmp_path / "fifteen.csv", *(v[:15] for v in monthly()))
    for argv, fragments in [
        (["predict", run["run"], "--data", data, "--horizon", "0"], ("--horizon", "positive")),
        (["predict", run["run"], "--data", data, "--csv", out_csv, "--json"], ("not both",)),
        (["predict", run["run"]], ("--data",)),
        # train without the two settings it cannot guess: named as the flags to give
        (["train", "--task", "forecast", "--data", data, "--out", tmp_path / "r"],
         ("rnnkit: error: --target: name at least one column to forecast; the file's "
          "columns: Month, Sales",)),
        (["train", "--task", "forecast", "--out", tmp_path / "r"],
         ("rnnkit: error: --data is needed: the CSV file of the series",)),
        (["predict", run["run"], "--data", data, "--quantiles", "1.5"], ("--quantiles",)),
        (["eval", run["run"], "--data", data, "--json"], ("--backtest --start",)),
        (["eval", run["run"], "--data", data, "--backtest", "--start", "soon"], ("'soon'",)),
        # dates as the file writes them (monthly: no day)
        (["eval", run["run"], "--data", data, "--backtest", "--start", "2000-06"],
         ("5 steps before 2000-06;", "earliest start is 2001-01\n")),
        (["eval", run["run"], "--data", data, "--backtest", "--start", "2005-12"],
         ("1 step from 2005-12 on", "latest start is 2005-07\n")),
        (["eval", run["run"], "--data", data, "--backtest", "--start", "2004-01-15"],
         ("--start: 2004-01-15 is not a date of the series", "such as 2004-01 or 2004-02")),
        (["eval", run["run"], "--data", data, "--backtest", "--start", "2004-01", "--horizon",
          "7"], ("1 to 6 steps",)),
        (["eval", run["run"], "--data", fifteen, "--backtest", "--start", "2001-01"],
         ("--data: the series has 15 steps", "lookback + horizon = 18")),
    ]:  # fmt: skip
        status, _, err = run_cli(*argv)
        assert_one_line_error(status, err, *fragments)
        assert not out_csv.exists()


def test_a_file_unlike_the_training_data_is_named_as_the_data_problem(run, tmp_path: Path) -> None:
    """predict and eval have no --date-column, --target or --id-column: a file whose
    columns differ from training's is --data's problem, with the columns the model reads;
    a series training did not see is refused by name."""
    dates, values = monthly()
    renamed = write_csv(tmp_path / "renamed.csv", dates, values, "Month Name,Sales")
    bad_date = write_csv(tmp_path / "bad_date.csv", ["2000-13", *dates[1:]], values)
    cases = [
        (renamed, ("--data: no column 'Month' in the file; its columns: Month Name, Sales; "
                   "the model reads the columns Month, Sales",)),
        (bad_date, ("--data: column 'Month', line 2: '2000-13' is not a date",)),
    ]  # fmt: skip
    for path, fragments in cases:
        for command in (["predict"], ["eval", "--backtest", "--start", "2004-01"]):
            status, _, err = run_cli(command[0], run["run"], "--data", path, *command[1:])
            assert_one_line_error(status, err, *fragments)
            assert "--date-column" not in err and "--target" not in err
    long = tmp_path / "long.csv"
    long.write_text("store,Month,Sales\n" + "".join(f"{s},{d},{v:.3f}\n" for s in "AB"
                    for d, v in zip(dates, values, strict=True)))  # fmt: skip
    out = tmp_path / "stores"
    status, _, err = run_cli(
        "train", "--task", "forecast", "--data", long, "--date-column", "Month", "--target",
        "Sales", "--id-column", "store", "--out", out, *TINY, "--max-steps", "2",
    )  # fmt: skip
    assert status == 0, err
    long.write_text(long.read_text().replace("B,", "C,"))
    status, _, err = run_cli("predict", out, "--data", long)
    assert_one_line_error(
        status, err, "--data: series 'C' was not among those the model was trained on ('A', 'B')"
    )
    status, _, err = run_cli("predict", out, "--data", renamed)
    assert_one_line_error(status, err, "--data: no column", "reads the columns store, Month, Sales")


def test_several_series_for_a_model_of_one_are_named_as_such(run, tmp_path: Path) -> None:
    """A long-format file (an id column, dates repeating) given to a model trained on one
    series: one line that names the column telling the series apart, at predict and eval."""
    dates, values = monthly()
    long = tmp_path / "long.csv"
    long.write_text("store,Month,Sales\n" + "".join(f"{s},{d},{v:.3f}\n" for s in "AB"
                    for d, v in zip(dates, values, strict=True)))  # fmt: skip
    for command in (["predict"], ["eval", "--backtest", "--start", "2004-01"]):
        status, out, err = run_cli(command[0], run["run"], "--data", long, *command[1:])
        assert_one_line_error(
            status, err, "--data: the date 2000-01 appears twice (lines 2 and 74): the file "
            "looks like several series (column 'store' tells them apart) and this model was "
            "trained on one series; give the rows of one series",
        )  # fmt: skip
        assert out == "" and "--id-column" not in err
    status, _, err = run_cli(
        "train", "--task", "forecast", "--data", long, "--date-column", "Month", "--target",
        "Sales", "--out", tmp_path / "run", *TINY,
    )  # fmt: skip
    assert_one_line_error(status, err, "set --id-column to 'store'")


def test_an_encoding_is_checked_and_named_as_its_flag(run, tmp_path: Path) -> None:
    """An encoding Python does not know is one line naming --encoding (it was a LookupError
    traceback), and a file in another encoding says to set it."""
    dates, values = monthly()
    rows = "".join(f"{d},{v:.3f}\n" for d, v in zip(dates, values, strict=True))
    latin = tmp_path / "latin.csv"
    latin.write_bytes(("Month,Sales\u00e9\n" + rows).encode("latin-1"))
    out = tmp_path / "run"
    train = ["train", "--task", "forecast", "--date-column", "Month", "--target", "Sales",
             "--out", out, *TINY]  # fmt: skip
    for argv, fragments in [
        ([*train, "--data", run["data"], "--encoding", "klingon"], ("--encoding:", "klingon")),
        (["predict", run["run"], "--data", run["data"], "--encoding", "klingon"],
         ("--encoding: 'klingon' is no codec",)),
        ([*train, "--data", latin], ("is not utf-8 text", "set --encoding to the file's")),
        (["predict", run["run"], "--data", latin], ("set --encoding to the file's",)),
    ]:  # fmt: skip
        status, _, err = run_cli(*argv)
        assert_one_line_error(status, err, *fragments)
        assert not out.exists()


def test_a_run_folder_with_an_edited_config_is_one_line(run, tmp_path: Path) -> None:
    """What config.json keeps beside the settings (the scaling, the frequency, the calendar
    features, where the held-out part begins), edited, is one line saying so: it was a
    TypeError or ValueError traceback, or a forecast made with a bad scaling."""

    def edit(key: str, change) -> Path:
        folder = tmp_path / f"edited-{len(list(tmp_path.iterdir()))}"
        shutil.copytree(run["run"] / "best", folder)
        config = json.loads((folder / "config.json").read_text())
        config[key] = change(config[key])
        (folder / "config.json").write_text(json.dumps(config))
        return folder

    def scale(value):
        def change(transforms):
            transforms["target"]["series"][""]["scale"] = value
            return transforms

        return change

    cases = [
        edit("transforms", scale("wide")), edit("transforms", scale([])),
        edit("transforms", scale([0.0])), edit("transforms", lambda t: "standard"),
        edit("frequency", lambda f: {**f, "unit": "fortnight"}),
        edit("frequency", lambda f: "monthly"),
        edit("calendar", lambda c: 5), edit("calendar", lambda c: []),
        edit("held_out", lambda h: {"": "soon"}),
    ]  # fmt: skip
    for folder in cases:
        for argv in (
            ["predict", folder, "--data", run["data"]],
            ["eval", folder, "--data", run["data"], "--backtest", "--start", "2004-01"],
        ):
            status, out, err = run_cli(*argv)
            assert_one_line_error(status, err, "config.json was edited or damaged", "retrain")
            assert out == ""


def test_missing_values_are_filled_when_asked(run, tmp_path: Path) -> None:
    dates, values = monthly()
    texts = [f"{v:.3f}" for v in values]
    path = write_csv(tmp_path / "missing.csv", dates, texts[:40] + [""] + texts[41:])
    status, out, err = run_cli("predict", run["run"], "--data", path, "--fill", "interpolate")
    assert status == 0, err
    assert "1 missing value filled (interpolate)" in err and "2006-01" in out


def test_training_errors_name_the_flags_and_write_nothing(run, tmp_path: Path) -> None:
    cases = _bad_files(tmp_path)
    for name, fragments in [
        ("missing", ("--fill: 1 missing value,", "set --fill to ffill or interpolate")),
        ("column", ("--target: no column 'Sales'",)),
        ("gap", ("--data: 1 gap in the monthly dates", "set --fill to ffill or interpolate")),
        ("short", ("--lookback: series in the file has 8 steps", "a smaller --lookback or")),
        ("single", ("--lookback: series in the file has 1 step;",)),
        ("irregular", ("--data: the dates are not regularly spaced", "one regular spacing")),
    ]:
        out = tmp_path / f"run-{name}"
        status, _, err = run_cli(
            "train", "--task", "forecast", "--data", cases[name][0], "--date-column", "Month",
            "--target", "Sales", "--out", out, *TINY,
        )  # fmt: skip
        assert_one_line_error(status, err, *fragments)
        assert err.count("--calendar") <= 2, err  # the setting, not every word "calendar"
        assert not out.exists(), name
    for argv, fragments in [
        # without calendar features it would train, and predict and eval could not date it
        (["--data", cases["irregular"][0], "--no-calendar"], ("not regularly spaced",)),
        (["--data", tmp_path], ("--data:", "is a folder")),
        (["--data", run["data"], "--covariates", "Sales"], ("--covariates: 'Sales' is a target",)),
        (["--data", run["data"], "--valid-size", "2"],
         ("--valid-size: no validation window fits; hold out at least --horizon = 6 steps",)),
    ]:  # fmt: skip
        out = tmp_path / "run-other"
        status, _, err = run_cli(
            "train", "--task", "forecast", "--date-column", "Month", "--target", "Sales",
            "--out", out, *TINY, *argv,
        )  # fmt: skip
        assert_one_line_error(status, err, *fragments)
        assert not out.exists()


def test_a_quantile_model_gives_only_the_levels_it_learned(run, tmp_path: Path) -> None:
    """Its quantile function is flat beyond its lowest and highest levels: a 0.05 quantile
    would be the 0.2 one under another name, and an interval's coverage a false claim."""
    out = tmp_path / "quantile"
    status, _, err = run_cli(
        "train", "--task", "forecast", "--data", run["data"], "--date-column", "Month",
        "--target", "Sales", "--out", out, "--loss", "quantile", "--quantiles", "0.2", "0.5",
        "0.8", *TINY, "--max-steps", "4", "--eval-every", "2",
    )  # fmt: skip
    assert status == 0, err
    status, output, err = run_cli("predict", out, "--data", run["data"], "--json")
    assert status == 0, err
    assert json.loads(output)["levels"] == [0.2, 0.5, 0.8]  # its own levels by default
    for argv in (
        ["predict", out, "--data", run["data"], "--quantiles", "0.05", "0.5"],
        ["eval", out, "--data", run["data"], "--backtest", "--start", "2004-01",
         "--quantiles", "0.5", "0.9"],
    ):  # fmt: skip
        status, _, err = run_cli(*argv)
        assert_one_line_error(status, err, "--quantiles: the model was trained on the "
                              "quantiles 0.2, 0.5, 0.8", "from 0.2 to 0.8")  # fmt: skip
    status, output, err = run_cli(
        "eval", out, "--data", run["data"], "--backtest", "--start", "2004-01", "--json"
    )
    assert status == 0, err
    assert json.loads(output)["metrics"]["model"]["interval"] == [0.2, 0.8]


def test_known_future_covariates_are_given_for_the_horizon(run, tmp_path: Path) -> None:
    """A model trained with --future-covariates reads them from the rows after the last
    observed value: predict forecasts those dates, and refuses too few rows in one line."""
    dates, values = monthly(78)
    promo = [str(k % 3) for k in range(78)]
    sales = [f"{v:.3f}" for v in values[:72]] + [""] * 6
    rows = [f"{d},{s},{p}" for d, s, p in zip(dates, sales, promo, strict=True)]
    path = tmp_path / "promo.csv"
    path.write_text("Month,Sales,Promo\n" + "\n".join(rows), encoding="utf-8")
    short = tmp_path / "short.csv"
    short.write_text("Month,Sales,Promo\n" + "\n".join(rows[:-2]), encoding="utf-8")
    out = tmp_path / "promo-run"
    train = ["train", "--task", "forecast", "--data", path, "--date-column", "Month",
             "--target", "Sales", *TINY, "--max-steps", "4", "--eval-every", "2"]  # fmt: skip
    status, _, err = run_cli(*train, "--out", out, "--future-covariates", "Promo")
    assert status == 0, err
    status, output, err = run_cli("predict", out, "--data", path, "--json")
    assert status == 0, err
    forecasts = json.loads(output)["forecasts"]
    assert [r["date"] for r in forecasts] == dates[72:]
    status, output, err = run_cli(
        "eval", out, "--data", path, "--backtest", "--start", "2005-01", "--json"
    )
    assert status == 0, err
    assert json.loads(output)["windows"] == 7  # origins 2005-01 .. 2005-07, 6 steps each
    status, _, err = run_cli("predict", out, "--data", short, "--csv", tmp_path / "f.csv")
    assert_one_line_error(
        status, err, "--data: series in the file gives its known-future covariates for 4 "
        "steps after its last observed value, and 6 are needed", "add 2 more rows",
    )  # fmt: skip
    assert not (tmp_path / "f.csv").exists()
    status, _, err = run_cli("predict", out, "--data", path, "--horizon", "8")
    assert_one_line_error(status, err, "and 12 are needed (the model reads the 6 steps")
    for flags, fragment in [
        (["--future-covariates", "Sales"], "--future-covariates: 'Sales' is a target"),
        (["--covariates", "Promo", "--future-covariates", "Promo"], "is a past covariate"),
    ]:
        status, _, err = run_cli(*train, "--out", tmp_path / "bad", *flags)
        assert_one_line_error(status, err, fragment)
        assert not (tmp_path / "bad").exists()


def test_train_notes_and_speed_read_as_the_other_commands(tmp_path: Path) -> None:
    """train's notes about the data carry the "rnnkit: note:" prefix on stderr, as predict's
    and eval's do; the speed it logs counts windows, not tokens; --log says what its point
    forecast is."""
    dates, values = monthly(40)
    path = write_csv(tmp_path / "gap.csv", dates[:30] + dates[31:], [*values[:30], *values[31:]])
    status, out, err = run_cli(
        "train", "--task", "forecast", "--data", path, "--date-column", "Month", "--target",
        "Sales", "--out", tmp_path / "run", "--fill", "ffill", "--log-every", "5",
        "--lookback", "12", "--horizon", "6", "--hidden-size", "8", "--max-steps", "10",
        "--valid-size", "6", "--threads", "1",
    )  # fmt: skip
    assert status == 0, err
    gap = "1 gap in the monthly dates, 1 missing date; the first after 2002-06"
    assert f"rnnkit: note: {gap}\n" in err
    assert "rnnkit: note: 1 missing date inserted and filled\n" in err
    assert "missing date" not in out and "windows/s" in out and "tokens/s" not in out
    status, out, _ = run_cli("train", "--task", "forecast", "--help")
    assert status == 0 and "the median in the data's units, not the mean" in " ".join(out.split())


def test_large_values_are_written_in_full_not_in_exponent_notation(tmp_path: Path) -> None:
    """A series in tens of millions: the CSV and the tables keep every digit of the integer
    part (``.6g`` wrote 4.20028e+07, which loses the last digits and reads as text in some
    spreadsheets), and a backtest column shares its decimals."""
    dates, values = monthly()
    data = write_csv(tmp_path / "big.csv", dates, values * 100_003)
    out = tmp_path / "run"
    status, trained, err = run_cli(
        "train", "--task", "forecast", "--data", data, "--date-column", "Month", "--target",
        "Sales", "--out", out, *TINY, "--max-steps", "4", "--eval-every", "2",
        "--test-size", "6",
    )  # fmt: skip
    assert status == 0, err
    test_lines = [line for line in trained.splitlines() if line.startswith("test ")]
    assert test_lines and "e+" not in trained, trained  # train's test report too
    assert "training a 1-layer LSTM forecaster (" in trained, trained
    assert test_lines[0].endswith("(1 window)"), test_lines  # 6 months, horizon 6
    status, output, err = run_cli("predict", out, "--data", data, "--json")
    assert status == 0, err
    exact = [r["forecast"] for r in json.loads(output)["forecasts"]]
    status, table_text, err = run_cli("predict", out, "--data", data, "--csv", tmp_path / "f.csv")
    assert status == 0, err
    with open(tmp_path / "f.csv", newline="") as handle:
        written = [float(r["Sales"]) for r in csv.DictReader(handle)]
    assert written == pytest.approx(exact, abs=0.5)
    status, table_text, err = run_cli("predict", out, "--data", data)
    assert status == 0 and "e+" not in table_text, table_text
    status, report, err = run_cli("eval", out, "--data", data, "--backtest", "--start", "2005-01")
    assert status == 0 and "e+" not in report, report
    names = len("drift + seasonal")  # the widest method name: the first column
    maes = [line[names:].split()[0] for line in report.splitlines()[2:]]
    assert len(maes) == 5 and all(m.isdigit() for m in maes), report  # millions: no decimals


def test_window_mean_with_a_centring_scaler_names_the_flags_to_change(tmp_path: Path) -> None:
    dates, values = monthly()
    data = write_csv(tmp_path / "sales.csv", dates, values)
    status, _, err = run_cli(
        "train", "--task", "forecast", "--data", data, "--date-column", "Month", "--target",
        "Sales", "--out", tmp_path / "run", *TINY, "--window-mean", "--scaler", "standard",
    )  # fmt: skip
    assert_one_line_error(
        status, err, "set --scaler to mean or none, and --difference to 0"
    )
    assert err.startswith("rnnkit: error: --window-mean: ") and not (tmp_path / "run").exists()
