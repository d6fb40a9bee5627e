"""Reading time series from CSV: separators, BOM, CRLF, quotes, date formats, sorting,
duplicates, gaps, missing and non-numeric values, long format; small files written here."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rnnkit.data.timeseries import SeveralSeriesError, read_series, refuse_gaps
from rnnkit.errors import SettingError, UserError

MONTHLY = "Month,Passengers\n1949-01,112\n1949-02,118\n1949-03,132\n1949-04,129\n"


def write(tmp_path: Path, text: str, name: str = "series.csv", encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def read(tmp_path: Path, text: str, **options) -> object:
    options.setdefault("date_column", "Month")
    options.setdefault("target", ["Passengers"])
    return read_series(write(tmp_path, text), **options)


@pytest.mark.parametrize(
    "text",
    [
        MONTHLY,
        MONTHLY.replace(",", ";"),
        MONTHLY.replace(",", "\t"),
        "\ufeff" + MONTHLY.replace("\n", "\r\n"),  # BOM and CRLF
        '"Month","Passengers"\r\n"1949-01",112\r\n"1949-02",118\r\n"1949-03",132\r\n"1949-04",129',
        "Month;Passengers\n1949-01;112,0\n1949-02;118\n1949-03;132,0\n1949-04;129\n",
    ],
    ids=["comma", "semicolon", "tab", "bom-crlf", "quoted-no-final-newline", "decimal-comma"],
)
def test_file_dialects_read_the_same(tmp_path: Path, text: str) -> None:
    data = read(tmp_path, text)
    (one,) = data.series
    np.testing.assert_array_equal(one.target[:, 0], [112, 118, 132, 129])
    assert str(one.dates[0]) == "1949-01-01T00:00:00"
    assert data.frequency.name == "monthly" and data.notes == []


@pytest.mark.parametrize(
    ("dates", "first", "second"),
    [
        (["2020-01-31", "2020-02-01"], "2020-01-31T00:00:00", "2020-02-01T00:00:00"),
        (["2020-01-31 13:00", "2020-01-31 14:00"], "2020-01-31T13:00:00", "2020-01-31T14:00:00"),
        (["2020-01-31T13:00:00", "2020-01-31T14:00:00"], "2020-01-31T13", "2020-01-31T14"),
        (["31.01.2020", "01.02.2020"], "2020-01-31", "2020-02-01"),
        (["31/01/2020", "01/02/2020"], "2020-01-31", "2020-02-01"),
        (["01/31/2020", "02/01/2020"], "2020-01-31", "2020-02-01"),
        (["2020/01/31", "2020/02/01"], "2020-01-31", "2020-02-01"),
        (["1990", "1991"], "1990-01-01", "1991-01-01"),
    ],
)
def test_common_date_formats(tmp_path: Path, dates: list[str], first: str, second: str) -> None:
    text = "Month,Passengers\n" + "".join(f"{d},{i}\n" for i, d in enumerate(dates))
    one = read(tmp_path, text).series[0]
    assert str(one.dates[0]).startswith(first) and str(one.dates[1]).startswith(second)


def test_ambiguous_slash_dates_are_read_the_way_that_spaces_them_regularly(
    tmp_path: Path,
) -> None:
    """No day above 12 fits both DD/MM/YYYY and MM/DD/YYYY: a month-first monthly file
    (read day first: days 1 to 12 of each January, with gaps) is read month first, and a
    day-first daily one, regular either way, stays day first."""
    months = [f"{m:02d}/01/{y}" for y in (2019, 2020) for m in range(1, 13)]
    text = "Month,Passengers\n" + "".join(f"{d},{i}\n" for i, d in enumerate(months))
    data = read(tmp_path, text)
    assert data.frequency.name == "monthly" and data.notes == []
    assert str(data.series[0].dates[2]).startswith("2019-03-01")
    days = [f"{d:02d}/01/2020" for d in range(1, 13)]
    text = "Month,Passengers\n" + "".join(f"{d},{i}\n" for i, d in enumerate(days))
    data = read(tmp_path, text)
    assert data.frequency.name == "daily"
    assert str(data.series[0].dates[2]).startswith("2020-01-03")


def test_a_date_that_breaks_the_format_names_its_line(tmp_path: Path) -> None:
    with pytest.raises(UserError, match=r"date_column 'Month', line 3: '1949-13'"):
        read(tmp_path, MONTHLY.replace("1949-02", "1949-13"))
    with pytest.raises(UserError, match=r"line 2: 'soon' is not a date in a known format"):
        read(tmp_path, MONTHLY.replace("1949-01", "soon"))


def test_descending_file_is_sorted_with_a_note(tmp_path: Path) -> None:
    lines = MONTHLY.strip().split("\n")
    data = read(tmp_path, "\n".join([lines[0], *reversed(lines[1:])]))
    np.testing.assert_array_equal(data.series[0].target[:, 0], [112, 118, 132, 129])
    assert data.notes == ["rows were in descending date order; sorted ascending"]
    shuffled = read(tmp_path, "\n".join([lines[0], lines[2], lines[1], lines[4], lines[3]]))
    np.testing.assert_array_equal(shuffled.series[0].lines, [3, 2, 5, 4])
    assert "out of date order" in shuffled.notes[0]


def test_duplicate_dates_are_an_error_naming_both_lines(tmp_path: Path) -> None:
    with pytest.raises(UserError, match=r"the date 1949-02 appears twice \(lines 3 and 4\)"):
        read(tmp_path, MONTHLY.replace("1949-03", "1949-02"))


LONG = (
    "Row,Store,Month,Passengers\n1,north,1949-01,112\n2,north,1949-02,118\n"
    "3,south,1949-01,90\n4,south,1949-02,95\n5,south,1949-03,99\n"
)


def test_several_series_read_as_one_are_named_by_the_column_that_splits_them(
    tmp_path: Path,
) -> None:
    # Row numbers split the rows too, into series of one row each: no series, passed over.
    with pytest.raises(SeveralSeriesError) as error:
        read(tmp_path, LONG)
    message = str(error.value)
    assert message.startswith("data: the date 1949-01 appears twice (lines 2 and 4), and ")
    assert "column 'Store' splits the rows into 2 series" in message
    assert "set id_column to 'Store'" in message and "\n" not in message
    assert (error.value.column, error.value.settings) == ("Store", ("id_column",))
    assert error.value.duplicate == "the date 1949-01 appears twice (lines 2 and 4)"
    assert len(read(tmp_path, LONG, id_column="Store").series) == 2


@pytest.mark.parametrize(
    "text",
    [
        # A note on one row splits off a single row: a repeated row, not a second series.
        "Month,Passengers,Note\n1949-01,112,\n1949-02,118,\n1949-02,118,typo\n1949-03,1,\n",
        # Two stores that both repeat a date: no column splits them into clean series.
        LONG.replace("5,south,1949-03", "5,south,1949-02"),
        # The column of the target is read: it is no id column however it splits.
        "Month,Passengers\n1949-01,1\n1949-02,1\n1949-01,2\n1949-02,2\n",
    ],
    ids=["note-on-one-row", "repeats-within-each", "target-column"],
)
def test_a_repeated_date_without_a_series_column_says_only_that(tmp_path: Path, text) -> None:
    with pytest.raises(UserError, match=r"appears twice \(lines \d and \d\); one row per date$"):
        read(tmp_path, text)


def test_gaps_are_reported_and_filled_on_request(tmp_path: Path) -> None:
    text = "Date,Temp\n1984-12-29,1\n1984-12-30,2\n1985-01-01,4\n1985-01-02,5\n1985-01-05,8\n"
    data = read(tmp_path, text, date_column="Date", target=["Temp"])
    assert data.frequency.name == "daily"
    assert data.notes == ["2 gaps in the daily dates, 3 missing dates; the first after 1984-12-30"]
    filled = read(tmp_path, text, date_column="Date", target=["Temp"], fill="interpolate")
    np.testing.assert_array_equal(filled.series[0].target[:, 0], [1, 2, 3, 4, 5, 6, 7, 8])
    np.testing.assert_array_equal(filled.series[0].lines, [2, 3, 0, 4, 5, 0, 0, 6])
    with pytest.raises(SettingError, match=r"data: 2 gaps .* set fill to ffill") as error:
        refuse_gaps(data)  # windows would run across them
    assert error.value.settings == ("fill",)
    refuse_gaps(filled)


def test_irregular_dates_have_no_frequency(tmp_path: Path) -> None:
    rows = ["2020-01-01 00:00,1", "2020-01-02 00:00,2", "2020-01-03 00:00,3", "2020-01-04 12:00,4"]
    text = "Date,Temp\n" + "\n".join(rows)
    data = read(tmp_path, text, date_column="Date", target=["Temp"])
    assert data.frequency is None and "irregular spacing" in data.notes[0]


def test_missing_values_name_the_first_lines_unless_filled(tmp_path: Path) -> None:
    text = "Month,Passengers,Rain\n1949-01,1,0\n1949-02,,1\n1949-03,NA,2\n1949-04,7,?\n"
    options = {"covariates": ["Rain"]}
    with pytest.raises(UserError, match=r"fill: 3 missing values, .* 'Passengers'; lines 3, 4, 5"):
        read(tmp_path, text, **options)
    data = read(tmp_path, text, fill="ffill", **options)
    np.testing.assert_array_equal(data.series[0].target[:, 0], [1, 1, 1, 7])
    np.testing.assert_array_equal(data.series[0].covariates[:, 0], [0, 1, 2, 2])
    data = read(tmp_path, text, fill="interpolate", **options)
    np.testing.assert_array_equal(data.series[0].target[:, 0], [1, 3, 5, 7])
    assert data.notes == ["3 missing values filled (interpolate)"]
    leading = "Month,Passengers\n1949-01,\n1949-02,4\n1949-03,5\n"
    np.testing.assert_array_equal(
        read(tmp_path, leading, fill="ffill").series[0].target[:, 0], [4, 4, 5]
    )


def test_non_numeric_value_names_column_and_line(tmp_path: Path) -> None:
    with pytest.raises(
        UserError, match=r"^data: column 'Passengers', line 4: '13two' is not a number; correct"
    ):
        read(tmp_path, MONTHLY.replace("132", "13two"))


def test_a_column_named_twice_is_refused(tmp_path: Path) -> None:
    text = "Month,Passengers,Passengers\n1949-01,112,1\n1949-02,118,2\n"
    with pytest.raises(UserError, match=r"names 'Passengers' 2 times \(columns 2, 3\)"):
        read(tmp_path, text)


@pytest.mark.parametrize("value", ["inf", "-Infinity", "1e999"])
def test_infinite_value_names_column_and_line(tmp_path: Path, value: str) -> None:
    # float() accepts these; they would otherwise reach training as non-finite inputs
    with pytest.raises(UserError, match=rf"column 'Passengers', line 4: '{value}' is not a finite"):
        read(tmp_path, MONTHLY.replace("132", value))


def test_unknown_columns_list_the_columns(tmp_path: Path) -> None:
    with pytest.raises(UserError, match=r"target: no column 'Sales'.*columns: Month, Passengers"):
        read(tmp_path, MONTHLY, target=["Sales"])
    with pytest.raises(UserError, match=r"date_column: no column 'Date'"):
        read(tmp_path, MONTHLY, date_column="Date")
    with pytest.raises(UserError, match=r"covariates: no column 'Rain'"):
        read(tmp_path, MONTHLY, covariates=["Rain"])


def test_long_format_gives_one_series_per_id(tmp_path: Path) -> None:
    text = "store,Month,Passengers\nb,1949-02,5\na,1949-01,1\nb,1949-01,4\na,1949-02,2\n"
    data = read(tmp_path, text, id_column="store")
    assert [one.id for one in data.series] == ["b", "a"]
    np.testing.assert_array_equal(data.series[0].target[:, 0], [4, 5])
    np.testing.assert_array_equal(data.series[1].target[:, 0], [1, 2])
    assert data.notes == ["series 'b': rows were in descending date order; sorted ascending"]


@pytest.mark.parametrize(
    ("text", "options", "message"),
    [
        ("", {}, "data: .* is empty"),
        ("Month,Passengers\n", {}, "has a header and no rows"),
        ("Month,Passengers\n1949-01,1,2\n", {}, "line 2 of .* has 3 fields, the header 2"),
        (MONTHLY, {"fill": "zero"}, "fill: expected one of ffill, interpolate"),
        (MONTHLY, {"target": []}, "target: name at least one column"),
        (MONTHLY, {"target": ["Month"]}, "target: 'Month' is the date column"),
    ],
)
def test_bad_files_and_options(tmp_path: Path, text: str, options: dict, message: str) -> None:
    with pytest.raises(UserError, match=message):
        read(tmp_path, text, **options)


def test_a_field_past_the_csv_size_limit_names_its_line(tmp_path: Path) -> None:
    # a file without line breaks: csv.Error ended the command in a traceback
    with pytest.raises(UserError, match="data: .*series.csv:2: a field is longer than"):
        read(tmp_path, "Month,Passengers\n1949-01," + "1" * 200_000)


def test_missing_file_and_wrong_encoding(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="data: no such file"):
        read_series(tmp_path / "nope.csv", "Month", ["Passengers"])
    if Path("/dev/null").exists():  # there, but not a file of rows
        with pytest.raises(UserError, match="data: /dev/null is not a regular file"):
            read_series(Path("/dev/null"), "Month", ["Passengers"])
    path = write(tmp_path, "Month,Passagiere\u00e9\n1949-01,1\n", encoding="latin-1")
    with pytest.raises(SettingError, match="is not utf-8 text .*; set encoding to") as caught:
        read_series(path, "Month", ["Passengers"])
    assert caught.value.settings == ("encoding",)
    with pytest.raises(SettingError, match="encoding: 'klingon' is no codec") as caught:
        read_series(path, "Month", ["Passengers"], encoding="klingon")  # not a LookupError
    assert caught.value.settings == ("encoding",)


def test_shared_series_read_as_documented(shared_data: Path) -> None:
    folder = shared_data / "timeseries"
    air = read_series(folder / "airline-passengers.csv", "Month", ["Passengers"])
    assert len(air.series[0]) == 144 and air.frequency.name == "monthly"
    temps = read_series(folder / "daily-min-temperatures.csv", "Date", ["Temp"])
    assert temps.notes == ["2 gaps in the daily dates, 2 missing dates; the first after 1984-12-30"]


# -- known-future covariates -----------------------------------------------------------------

PROMO = (
    "Month,Passengers,Rain,Promo\n1949-01,1,5,0\n1949-02,2,6,1\n1949-03,3,7,0\n"
    "1949-04,,,1\n1949-05,,,0\n"
)


def test_rows_after_the_last_observed_value_give_the_future_covariates(tmp_path: Path) -> None:
    data = read(tmp_path, PROMO, covariates=["Rain"], future_covariates=["Promo"])
    one = data.series[0]
    assert data.future_columns == ["Promo"] and len(one) == 3
    np.testing.assert_array_equal(one.target[:, 0], [1, 2, 3])
    np.testing.assert_array_equal(one.future[:, 0], [0, 1, 0])
    np.testing.assert_array_equal(one.ahead[:, 0], [1, 0])
    assert data.frequency.name == "monthly" and data.notes == []
    # without known-future columns the same rows are missing values, as before
    with pytest.raises(UserError, match="fill: 4 missing values"):
        read(tmp_path, PROMO, covariates=["Rain"])


def test_missing_future_covariates_of_the_history_follow_fill(tmp_path: Path) -> None:
    text = PROMO.replace("1949-02,2,6,1", "1949-02,2,6,")
    with pytest.raises(UserError, match=r"fill: 1 missing value, .* 'Promo'; line 3"):
        read(tmp_path, text, future_covariates=["Promo"])
    data = read(tmp_path, text, future_covariates=["Promo"], fill="ffill")
    np.testing.assert_array_equal(data.series[0].future[:, 0], [0, 0, 0])
    np.testing.assert_array_equal(data.series[0].ahead[:, 0], [1, 0])


@pytest.mark.parametrize(
    ("options", "setting", "message"),
    [
        ({"target": ["Rain"], "id_column": "Rain"}, "target", "'Rain' is the id column"),
        ({"covariates": ["Rain"], "id_column": "Rain"}, "covariates", "'Rain' is the id column"),
        ({"covariates": ["Month"]}, "covariates", "'Month' is the date column"),
        ({"covariates": ["Passengers"]}, "covariates", "'Passengers' is a target"),
    ],
)
def test_targets_and_covariates_are_columns_of_their_own(
    tmp_path: Path, options: dict, setting: str, message: str
) -> None:
    options = {"target": ["Passengers"], **options}
    path = write(tmp_path, PROMO)
    with pytest.raises(UserError, match=message) as error:
        read_series(path, "Month", options.pop("target"), **options)
    assert str(error.value).startswith(f"{setting}: ")


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"future_covariates": ["Passengers"]}, "'Passengers' is a target"),
        ({"future_covariates": ["Rain"], "covariates": ["Rain"]}, "'Rain' is a past covariate"),
        ({"future_covariates": ["Month"]}, "'Month' is the date column"),
        ({"future_covariates": ["Rain"], "id_column": "Rain"}, "'Rain' is the id column"),
        ({"future_covariates": ["Price"]}, "future_covariates: no column 'Price'"),
    ],
)
def test_a_future_covariate_must_be_a_column_of_its_own(
    tmp_path: Path, options: dict, message: str
) -> None:
    with pytest.raises(UserError, match=message) as error:
        read(tmp_path, PROMO, **options)
    assert str(error.value).startswith("future_covariates: ")


def test_future_rows_need_every_value_and_the_next_dates(tmp_path: Path) -> None:
    options = {"future_covariates": ["Promo"]}
    with pytest.raises(UserError, match=r"line 6, after the last observed target, has no value"):
        read(tmp_path, PROMO.replace("1949-05,,,0", "1949-05,,,"), **options)
    with pytest.raises(UserError, match=r"line 6: .* so 1949-05-01 comes next, not 1949-06-01"):
        read(tmp_path, PROMO.replace("1949-05,,,0", "1949-06,,,0"), **options)
