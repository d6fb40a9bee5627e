"""Conditioned texts: category folders, TSV with category or numeric conditions, text plus
a .npy matrix; one-line errors naming the file (and line); the surnames folder."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rnnkit.data.conditioned_text import (
    category_ids,
    named_categories,
    read_category_folder,
    read_condition_tsv,
    read_text_with_features,
)
from rnnkit.errors import UserError


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_a_folder_of_one_file_per_category(tmp_path: Path) -> None:
    write(tmp_path / "Korean.txt", "Kim\nPark\n")
    write(tmp_path / "Czech.txt", "Novak\n")
    data = read_category_folder(tmp_path)
    assert sorted(zip(data.conditions, data.texts, strict=True)) == [
        ("Czech", "Novak"),
        ("Korean", "Kim"),
        ("Korean", "Park"),
    ]
    assert data.categories == ["Czech", "Korean"] and data.features is None
    assert data.origins[0].endswith("Czech.txt:1")
    with pytest.raises(UserError, match="not a folder"):
        read_category_folder(tmp_path / "Czech.txt")
    (tmp_path / "empty").mkdir()  # told in a generator's words (no classes, no labels)
    with pytest.raises(UserError, match="holds no examples; put one file per category in it"):
        read_category_folder(tmp_path / "empty")


def test_tsv_with_categories_and_with_numbers(tmp_path: Path) -> None:
    data = read_condition_tsv(write(tmp_path / "a.tsv", "pos\tgreat film\nneg\tdull\n"))
    assert data.conditions == ["pos", "neg"] and data.texts == ["great film", "dull"]
    vectors = read_condition_tsv(write(tmp_path / "b.tsv", "1 2.5\tab\n-1,0\tcd\n"), "vector")
    assert np.array_equal(vectors.features, [[1.0, 2.5], [-1.0, 0.0]])
    assert vectors.conditions is None and vectors.origins[1].endswith("b.tsv:2")


@pytest.mark.parametrize(
    ("text", "kind", "message"),
    [
        ("pos\tfine\nno tab here\n", "category", r"c.tsv:2 is not 'condition<TAB>text'"),
        ("pos\tfine\n\tno condition\n", "category", r"c.tsv:2 is not"),
        ("pos\tfine\n\n", "category", r"c.tsv:2 is not"),
        ("1 2\tab\n3\tcd\n", "vector", r"c.tsv:2 has 1 numbers, the lines before it 2"),
        ("1 x\tab\n", "vector", r"c.tsv:1: the condition '1 x' is not a row of numbers"),
        ("1 nan\tab\n", "vector", r"c.tsv:1: .* NaN"),
        # texts without their vectors: the .npy matrix was left out
        ("a dog\n", "vector", r"c.tsv:1 is not .*; give the text file's vectors in features"),
    ],
)
def test_tsv_errors_name_file_and_line(tmp_path: Path, text: str, kind: str, message: str) -> None:
    with pytest.raises(UserError, match=message):
        read_condition_tsv(write(tmp_path / "c.tsv", text), kind)


def test_text_with_a_feature_matrix(tmp_path: Path) -> None:
    text = write(tmp_path / "captions.txt", "a dog\na cat runs\nbirds\n")
    np.save(tmp_path / "f.npy", np.arange(6, dtype=np.float32).reshape(3, 2))
    data = read_text_with_features(text, tmp_path / "f.npy")
    assert data.texts == ["a dog", "a cat runs", "birds"]
    assert data.features.shape == (3, 2) and data.features.dtype == np.float64
    np.save(tmp_path / "column.npy", np.array([1, 2, 3]))  # one number per line
    assert read_text_with_features(text, tmp_path / "column.npy").features.shape == (3, 1)


def test_feature_matrix_errors_are_one_line(tmp_path: Path) -> None:
    text = write(tmp_path / "t.txt", "a\nb\n")
    np.save(tmp_path / "three.npy", np.zeros((3, 4)))
    with pytest.raises(UserError) as error:
        read_text_with_features(text, tmp_path / "three.npy")
    assert str(error.value) == (
        f"{tmp_path / 'three.npy'} has 3 feature rows but {text} has 2 lines; "
        "give one feature row per line"
    )
    np.save(tmp_path / "nan.npy", np.array([[0.0], [np.inf]]))
    with pytest.raises(UserError, match="infinite value in row 2"):
        read_text_with_features(text, tmp_path / "nan.npy")
    write(tmp_path / "junk.npy", "not numpy")  # numpy's own error suggests allow_pickle
    with pytest.raises(UserError) as error:
        read_text_with_features(text, tmp_path / "junk.npy")
    assert str(error.value) == (
        f"{tmp_path / 'junk.npy'} is not a .npy file (no NumPy header); "
        "save the matrix with numpy.save"
    )
    (tmp_path / "cut.npy").write_bytes(b"\x93NUMPY\x01")  # a header cut short
    with pytest.raises(UserError, match="cut.npy is not a readable .npy array .*numpy.save"):
        read_text_with_features(text, tmp_path / "cut.npy")
    np.save(tmp_path / "text.npy", np.array(["a", "b"]))
    with pytest.raises(UserError, match="expected a numeric matrix"):
        read_text_with_features(text, tmp_path / "text.npy")
    with pytest.raises(UserError, match="does not exist"):
        read_text_with_features(text, tmp_path / "missing.npy")


def test_an_unknown_category_lists_the_known_ones() -> None:
    assert list(category_ids(["b", "a", "b"], ["a", "b"], "condition")) == [1, 0, 1]
    with pytest.raises(UserError, match=r"condition: unknown condition 'Klingon'; known: a, b$"):
        category_ids(["a", "Klingon"], ["a", "b"], "condition")


def test_an_unknown_category_of_a_file_says_what_to_do() -> None:
    with pytest.raises(UserError, match=r"v.tsv:2: unknown condition 'c'; known: a, b; leave out"):
        category_ids(["a", "c"], ["a", "b"], "v.tsv", ["v.tsv:1", "v.tsv:2"])


def test_a_category_that_differs_in_case_only_is_named() -> None:
    with pytest.raises(UserError, match=r"unknown condition 'arabic' \(did you mean 'Arabic'\?\)"):
        category_ids(["arabic"], ["Arabic", "Greek"], "condition")


def test_a_long_list_of_categories_is_cut() -> None:
    categories = [f"c{i}" for i in range(300)]
    named = named_categories(categories)
    assert named.startswith("c0, c1, ") and named.endswith(" ...") and "c299" not in named


def test_the_surnames_folder(shared_data: Path) -> None:
    data = read_category_folder(shared_data / "names_18lang")
    assert len(data.categories) == 18 and "Korean" in data.categories
    assert len(data) == 20074
