"""Rows of a CSV text with their line numbers; a row csv cannot read is one line naming
the file and the line."""

from __future__ import annotations

import csv

import pytest

from rnnkit.data.csv_rows import csv_rows
from rnnkit.errors import UserError


def test_rows_come_with_the_line_they_end_on() -> None:
    lines = ["a,b\n", '1,"two\n', 'lines"\n', "3,4\n"]
    assert list(csv_rows(lines, "f.csv")) == [
        (1, ["a", "b"]),
        (3, ["1", "two\nlines"]),
        (4, ["3", "4"]),
    ]


def test_a_field_past_the_size_limit_names_the_file_and_line() -> None:
    lines = ["a\tb\n", "1\t2\n", "1\t" + "x" * (csv.field_size_limit() + 1) + "\n"]
    rows = csv_rows(lines, "f.tsv", delimiter="\t", quoting=csv.QUOTE_NONE)
    assert next(rows) == (1, ["a", "b"])
    assert next(rows) == (2, ["1", "2"])
    with pytest.raises(UserError, match=r"^f.tsv:3: a field is longer than 131,072 characters"):
        next(rows)


def test_other_csv_errors_are_user_errors_too() -> None:
    with pytest.raises(UserError, match=r"^f.csv:1: .*; correct the file there$"):
        list(csv_rows(['"a"b\n'], "f.csv", strict=True))
