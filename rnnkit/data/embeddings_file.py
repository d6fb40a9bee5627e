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

Only a regular file is read (a device or a pipe only with ``allow_special=True``), a line
at most ``MAX_LINE_CHARS`` long, and a NUL byte marks a binary file
(word2vec's binary format, say): each a one-line error, before much is read. A vector with
a NaN or an infinite value is refused, naming the file, the line and the word.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TextIO

import numpy as np

from rnnkit.data.text import open_regular_file
from rnnkit.errors import UserError

# Far above any real line (GloVe's 300 numbers take about 3,000 characters): a longer line
# means a file that is not word vectors, which would otherwise be read whole as one line.
MAX_LINE_CHARS = 1 << 20


def read_word_vectors(
    path: str | os.PathLike[str], vocab: Sequence[str], allow_special: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """``(vectors, found)`` for VOCAB: ``vectors[i]`` is the file's vector of ``vocab[i]``
    (float64, zeros where ``found[i]`` is False). PATH must be a regular file unless
    ALLOW_SPECIAL is true."""
    path = Path(path)
    if not path.exists():
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
    descriptor = open_regular_file(path, allow_special)
    with open(descriptor, encoding="utf-8", errors="replace") as file:
        for number, line in enumerate(_bounded_lines(file, path), start=1):
            if "\x00" in line:
                raise UserError(
                    f"{path}:{number} holds a NUL byte: the file looks binary (word2vec's "
                    "binary format?); give a word-vector file in GloVe or word2vec text format"
                )
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
            if not np.all(np.isfinite(vector)):
                raise UserError(
                    f"{path}:{number} holds a value that is not finite (NaN or infinity) in "
                    f"the vector of {word!r}; the file is damaged: fix or remove that row"
                )
            vectors[rows] = vector
            found[rows] = True
            exact[[i for i in rows if vocab[i] == word]] = True
    if vectors is None:
        raise UserError(f"{path} holds no word vectors; give a GloVe or word2vec text file")
    return vectors, found


def _bounded_lines(file: TextIO, path: Path) -> Iterator[str]:
    """The lines of FILE, each refused (one line naming PATH) past ``MAX_LINE_CHARS``."""
    number = 0
    while line := file.readline(MAX_LINE_CHARS + 1):
        number += 1
        if len(line) > MAX_LINE_CHARS:
            raise UserError(
                f"{path}:{number} is longer than {MAX_LINE_CHARS:,} characters; a word-vector "
                "file has one word and its numbers per line (is it in GloVe text format?)"
            )
        yield line
