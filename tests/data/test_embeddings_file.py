"""Reading GloVe / word2vec text vectors for a vocabulary."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rnnkit.data.embeddings_file import read_word_vectors
from rnnkit.errors import UserError

GLOVE = "the 0.1 0.2 0.3\nfilm -1 0 2.5\nThe 9 9 9\nat&t corp 1 1 1\nunused 5 5 5\n"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "vectors.txt"
    path.write_text(text, encoding="utf-8")
    return path


def test_glove_vectors_for_the_vocabulary(tmp_path: Path) -> None:
    vectors, found = read_word_vectors(write(tmp_path, GLOVE), ["<unk>", "film", "the"])
    assert found.tolist() == [False, True, True]
    assert vectors.tolist() == [[0, 0, 0], [-1, 0, 2.5], [0.1, 0.2, 0.3]]


def test_own_spelling_wins_over_lower_case_in_either_order(tmp_path: Path) -> None:
    vectors, found = read_word_vectors(write(tmp_path, GLOVE), ["The", "FILM"])
    assert found.tolist() == [True, True]
    assert vectors.tolist() == [[9, 9, 9], [-1, 0, 2.5]]


def test_words_with_spaces_and_word2vec_header(tmp_path: Path) -> None:
    path = write(tmp_path, "5 3\n" + GLOVE)
    vectors, found = read_word_vectors(path, ["at&t corp", "5"])
    assert found.tolist() == [True, False]
    assert vectors[0].tolist() == [1, 1, 1]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "holds no word vectors"),
        ("the 1 2\nfilm 1\n", r"vectors.txt:2 has fewer than 2 numbers"),
        ("the 1 x\n", r"vectors.txt:1 has a value that is not a number"),
        ("the\n", r"vectors.txt:1 holds no vector"),
    ],
)
def test_bad_files(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(UserError, match=message):
        read_word_vectors(write(tmp_path, text), ["the", "film"])


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="is not a file"):
        read_word_vectors(tmp_path / "glove.txt", ["the"])
    assert np.array_equal(read_word_vectors(write(tmp_path, GLOVE), [])[1], [])
