"""Rows and vectors that used to slip through: a TSV/CSV row with an extra column, and an
embeddings file with a NaN or infinite value."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rnnkit.data.classification import read_labelled_texts
from rnnkit.data.embeddings_file import read_word_vectors
from tests.data.test_text import user_error


@pytest.mark.parametrize(
    ("name", "content", "options", "where"),
    [
        ("a.tsv", "label\ttext\npos\tgood\nneg\tbad\textra words\n", {}, "a.tsv:3 has 3 columns"),
        ("a.csv", "label,text\npos,good\nneg,bad,more\n", {}, "a.csv:3 has 3 columns"),
        # Without a header the first row sets the width.
        ("a.tsv", "pos\tgood\nneg\tbad\tx\n", {"label_col": "1", "text_col": "2"}, "a.tsv:2"),
    ],
)
def test_a_row_with_an_extra_column_is_refused_naming_the_line(
    tmp_path: Path, name: str, content: str, options: dict, where: str
) -> None:
    (tmp_path / name).write_text(content)
    message = user_error(read_labelled_texts, tmp_path / name, **options)
    assert where in message and "--" not in message


def test_rows_as_wide_as_the_header_and_quoted_commas_still_read(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text('label,text,source\npos,"good, fun",x\nneg,bad,y\n')
    data = read_labelled_texts(tmp_path / "a.csv")
    assert data.texts == ["good, fun", "bad"] and data.labels == ["pos", "neg"]


@pytest.mark.parametrize("value", ["nan", "NaN", "inf", "-inf"])
def test_embeddings_with_a_non_finite_value_name_the_file_and_the_row(
    tmp_path: Path, value: str
) -> None:
    path = tmp_path / "glove.txt"
    path.write_text(f"the 0.1 0.2\ncat 0.3 {value}\ndog 0.5 0.6\n")
    message = user_error(read_word_vectors, path, ["the", "cat"])
    assert "glove.txt:2" in message and "'cat'" in message and "not finite" in message
    assert "diverged" not in message


def test_a_non_finite_vector_of_a_word_not_wanted_is_ignored(tmp_path: Path) -> None:
    path = tmp_path / "glove.txt"
    path.write_text("the 0.1 0.2\ncat 0.3 nan\n")
    vectors, found = read_word_vectors(path, ["the"])
    np.testing.assert_array_equal(vectors, [[0.1, 0.2]])
    assert found.all()
