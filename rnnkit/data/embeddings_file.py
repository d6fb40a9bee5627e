"""Read pretrained word vectors in the text format of GloVe and word2vec.

Each line is a word followed by its vector::

    the 0.418 0.24968 -0.41242 ...

word2vec's text files add a first line ``<number of words> <dimension>``; it is recognised
and skipped. The files are large (GloVe's 840B vectors: 5.6 GB), so they are streamed and
only the words of the vocabulary at hand are kept. A few files have words with spaces in
them, so the vector is read from the right: the last ``dimension`` fields.

A word is looked up as it is and, if absent, in lower case (GloVe's smaller files are
lower-cased; many data sets are not). Bytes that are not UTF-8 are replaced rather than
refused: the files come from scraped text, and a word with such a byte matches nothing.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from rnnkit.errors import UserError


def read_word_vectors(
    path: str | os.PathLike[str], vocab: Sequence[str]
) -> tuple[np.ndarray, np.ndarray]:
    """``(vectors, found)`` for VOCAB: ``vectors[i]`` is the file's vector of ``vocab[i]``
    (float64, zeros where ``found[i]`` is False)."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path} is not a file; give a word-vector file (GloVe text format)")
    wanted: dict[str, list[int]] = {}
    for i, word in enumerate(vocab):
        wanted.setdefault(word, []).append(i)
    lowered: dict[str, list[int]] = {}
    for i, word in enumerate(vocab):
        if word.lower() != word:
            lowered.setdefault(word.lower(), []).append(i)

    vectors: np.ndarray | None = None
    found = np.zeros(len(vocab), dtype=bool)
    exact = np.zeros(len(vocab), dtype=bool)  # found under its own spelling, not lower case
    dimension = 0
    with open(path, encoding="utf-8", errors="replace") as file:
        for number, line in enumerate(file, start=1):
            fields = line.rstrip("\n").rstrip().split(" ")
            if number == 1 and len(fields) == 2 and all(f.isdigit() for f in fields):
                continue  # word2vec's header: word count and dimension
            if not line.strip():
                continue
            if vectors is None:
                dimension = len(fields) - 1
                if dimension < 1:
                    raise UserError(f"{path}:{number} holds no vector; is it a word-vector file?")
                vectors = np.zeros((len(vocab), dimension))
            if len(fields) < dimension + 1:
                raise UserError(
                    f"{path}:{number} has fewer than {dimension} numbers, the size of the first "
                    "vector; the file is damaged or not in GloVe text format"
                )
            word = " ".join(fields[:-dimension])
            rows = [i for i in wanted.get(word, []) if not exact[i]]
            rows += [i for i in lowered.get(word, []) if not found[i]]
            if not rows:
                continue
            try:
                vector = np.array(fields[-dimension:], dtype=np.float64)
            except ValueError:
                raise UserError(
                    f"{path}:{number} has a value that is not a number; "
                    "the file is damaged or not in GloVe text format"
                ) from None
            vectors[rows] = vector
            found[rows] = True
            exact[[i for i in rows if vocab[i] == word]] = True
    if vectors is None:
        raise UserError(f"{path} holds no word vectors; give a GloVe or word2vec text file")
    return vectors, found
