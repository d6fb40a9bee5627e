"""Labelled texts for classification: read them in the usual formats, number their labels.

Formats (``auto`` picks one from the path):

- ``tsv`` / ``csv``: one example per row, a label column and a text column. Columns are
  chosen by name from the header line (default names ``label`` and ``text``), or, for a
  file without a header line, by number counting from 1 (``label_col=1, text_col=2``).
  TSV fields are taken literally (no quoting, as most TSV exports write them); CSV fields
  follow the CSV quoting rules.
- ``label-first``: ``<label> <text>`` lines, the label up to the first whitespace, as the
  TREC and SST files have them.
- ``folders``: a folder with one entry per class, named after the label: a file holds one
  example per line (``Arabic.txt`` -> label ``Arabic``, as the surnames data set has it),
  a subfolder holds one example per file (as movie-review data sets have it).

``auto`` takes ``folders`` for a folder, ``tsv`` / ``csv`` for those suffixes or when the
first line holds a tab, and ``label-first`` otherwise; it refuses a CoNLL-U file (tagging
data), which would read as neither.

Every file is read strictly in the given encoding (UTF-8 by default), as ``rnnkit train``
does: a byte that does not decode is a one-line error naming the file and byte offset, and
suggests another ``encoding``. The TREC training file has one such byte (0xF0, on line
66); it reads with ``encoding="latin-1"`` (ASCII is the same in both). Refusing rather than
guessing keeps the text the model sees the text that is in the file.

Empty lines are refused, not skipped: in a format where a line is an example, an empty
line is a missing example, and the message says where it is.
"""

from __future__ import annotations

import csv
import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rnnkit.data.conll import is_conllu_text
from rnnkit.data.csv_rows import csv_rows
from rnnkit.data.held_out import held_out_indices
from rnnkit.data.text import files_below, read_text
from rnnkit.data.tokenizers import Tokenizer
from rnnkit.errors import SettingError, UserError, quoted
from rnnkit.plural import some_of

FORMATS = ("auto", "tsv", "csv", "label-first", "folders")
DEFAULT_LABEL_COLUMN = "label"
DEFAULT_TEXT_COLUMN = "text"
MAX_NAMED = 10  # how many labels an error message lists


@dataclass
class LabelledTexts:
    """Examples side by side: ``texts[i]`` has label ``labels[i]`` and came from ``origins[i]``
    (``file:line``, for messages that point at the example)."""

    texts: list[str]
    labels: list[str]
    origins: list[str]

    def __len__(self) -> int:
        return len(self.texts)

    def lines(self) -> Iterator[str]:
        """Each example as ``label<TAB>text``, the form a data fingerprint reads."""
        return (f"{label}\t{text}" for label, text in zip(self.labels, self.texts, strict=True))

    def subset(self, indices: Sequence[int] | np.ndarray) -> LabelledTexts:
        return LabelledTexts(
            [self.texts[i] for i in indices],
            [self.labels[i] for i in indices],
            [self.origins[i] for i in indices],
        )

    def hold_out(self, fraction: float, seed: int) -> tuple[LabelledTexts, LabelledTexts]:
        """``(rest, held_out)``: a seeded random FRACTION of the examples held out."""
        if not 0.0 < fraction < 1.0:
            raise UserError(f"the held-out fraction must lie between 0 and 1, got {fraction}")
        rest, held = held_out_indices(len(self), fraction, seed, "examples", "examples", "valid")
        return self.subset(rest), self.subset(held)


def read_labelled_texts(
    path: str | os.PathLike[str],
    format: str = "auto",
    label_col: str | None = None,
    text_col: str | None = None,
    encoding: str = "utf-8",
) -> LabelledTexts:
    """Read the examples at PATH in FORMAT (one of ``FORMATS``; see the module docstring)."""
    path = Path(path)
    if format not in FORMATS:
        raise UserError(f"unknown format {format!r}; choose one of {', '.join(FORMATS)}")
    if not path.exists():
        raise UserError(f"{path} does not exist; check the path")
    if format == "auto":
        format = detect_format(path, encoding)
    given = [name for name, value in (("label_col", label_col), ("text_col", text_col)) if value]
    if given and format in ("folders", "label-first"):
        # they would do nothing, and the user who gave them expects columns
        read_as = {"label-first": "'<label> <text>' lines", "folders": "a folder per class"}
        both = len(given) > 1
        raise SettingError(
            f"{' and '.join(given)} {'name columns' if both else 'names a column'} of tsv "
            f"and csv files, but {path} is read as {read_as[format]}; leave "
            f"{'them' if both else 'it'} out, or set format to tsv or csv",
            *given,
            "format",
        )
    if format == "folders":
        if not path.is_dir():
            raise SettingError(
                f"{path} is a file, but format folders needs a folder; check it", "format"
            )
        return _read_folders(path, encoding)
    if path.is_dir():
        raise SettingError(
            f"{path} is a folder, but format {format} reads one file; "
            "give a file, or use format folders",
            "format",
        )
    if format == "label-first":
        return _read_label_first(path, encoding)
    return _read_table(path, "\t" if format == "tsv" else ",", label_col, text_col, encoding)


def detect_format(path: Path, encoding: str = "utf-8") -> str:
    """The format ``auto`` stands for at PATH (see the module docstring)."""
    if path.is_dir():
        return "folders"
    suffix = path.suffix.lower()
    if suffix in (".tsv", ".csv"):
        return suffix[1:]
    text = read_text(path, encoding)
    if suffix == ".conllu" or is_conllu_text(text):
        # read as '<label> <text>' lines it failed on its first blank line, or made classes
        # of its word IDs
        raise SettingError(
            f"{path} is CoNLL-U (a word a line, with its tags): data for a tagger, not "
            "labelled texts; train a tagger on it (task tag), or give '<label> <text>' "
            "lines or a table of labels and texts (if it is a table, set format tsv)",
            "task",
            "format",
        )
    first_line = text.split("\n", 1)[0]
    return "tsv" if "\t" in first_line else "label-first"


def _lines(file: Path, encoding: str) -> list[tuple[int, str]]:
    """The numbered lines of FILE (from 1), refusing blank ones."""
    lines = read_text(file, encoding).split("\n")
    if lines[-1] == "":
        lines.pop()  # the final newline ends the last line; it does not start another one
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            raise UserError(
                f"{file}:{number} is an empty line; remove it (every line is one example)"
            )
    return list(enumerate(lines, start=1))


def _read_label_first(file: Path, encoding: str) -> LabelledTexts:
    data = LabelledTexts([], [], [])
    for number, line in _lines(file, encoding):
        parts = line.split(None, 1)
        if len(parts) < 2:
            raise UserError(
                f"{file}:{number} has a label but no text ({quoted(line)}); "
                "every line must be '<label> <text>'"
            )
        _append(data, parts[1].strip(), parts[0], f"{file}:{number}")
    return data


def _read_folders(folder: Path, encoding: str) -> LabelledTexts:
    data = LabelledTexts([], [], [])
    entries = sorted(e for e in folder.iterdir() if not e.name.startswith("."))
    for entry in entries:
        if entry.is_dir():
            for file in files_below(entry):
                text = " ".join(read_text(file, encoding).split())
                _append(data, text, entry.name, str(file))
        else:
            for number, line in _lines(entry, encoding):
                _append(data, line.strip(), entry.stem, f"{entry}:{number}")
    if not data.texts:
        raise UserError(
            f"{folder} holds no examples; put one file per category in it "
            "(the file's name is the category's label, one example per line)"
        )
    return data


def _read_table(
    file: Path, delimiter: str, label_col: str | None, text_col: str | None, encoding: str
) -> LabelledTexts:
    text = read_text(file, encoding)
    quoting = csv.QUOTE_NONE if delimiter == "\t" else csv.QUOTE_MINIMAL
    lines = text.splitlines(keepends=True)
    rows = []
    for number, row in csv_rows(lines, str(file), delimiter=delimiter, quoting=quoting):
        if not any(cell.strip() for cell in row):
            raise UserError(
                f"{file}:{number} is an empty line; remove it (every row is one example)"
            )
        rows.append((number, row))
    _refuse_the_other_separator(file, rows[0][1], delimiter)
    label_index, text_index, has_header = _column_indices(file, rows[0][1], label_col, text_col)
    # Every row has as many columns as the header (or, without one, the first row): an
    # extra column is a separator inside a field, which would cut a text short unseen.
    width = len(rows[0][1])
    if has_header:
        rows = rows[1:]
    data = LabelledTexts([], [], [])
    needed = max(label_index, text_index) + 1
    for number, row in rows:
        if len(row) < needed:
            raise UserError(
                f"{file}:{number} has {len(row)} columns, but column {needed} is needed; "
                "fix the row or check label_col and text_col"
            )
        if len(row) > width:
            separator = "tab" if delimiter == "\t" else "comma outside quotes"
            raise UserError(
                f"{file}:{number} has {len(row)} columns, more than the {width} of "
                f"{'its header' if has_header else 'its first row'}; a {separator} inside a "
                "field splits it: remove it, or quote the field in a CSV file"
            )
        where = f"{file}:{number}"
        for column, kind in ((label_index, "label"), (text_index, "text")):
            if not row[column].strip():
                raise UserError(f"{where} has an empty {kind}; fill it in or remove the row")
        _append(data, row[text_index].strip(), row[label_index].strip(), where)
    if not data.texts:
        raise UserError(f"{file} has a header line but no examples; add some rows")
    return data


def _refuse_the_other_separator(file: Path, first_row: list[str], delimiter: str) -> None:
    """A first row read as one column that the other separator would split: a CSV read as
    TSV (or the reverse) would otherwise be reported as lacking its label column."""
    other, name = (",", "csv") if delimiter == "\t" else ("\t", "tsv")
    if len(first_row) == 1 and other in first_row[0]:
        what = "commas" if other == "," else "tabs"
        raise SettingError(
            f"{file}: its first line has {what} but no {'tab' if other == ',' else 'comma'}; "
            f"give format {name} if the file is {'comma' if other == ',' else 'tab'}-separated",
            "format",
        )


def _column_indices(
    file: Path, first_row: list[str], label_col: str | None, text_col: str | None
) -> tuple[int, int, bool]:
    """``(label index, text index, whether the first row is a header)`` from the options."""
    label_col = DEFAULT_LABEL_COLUMN if label_col is None else str(label_col)
    text_col = DEFAULT_TEXT_COLUMN if text_col is None else str(text_col)
    by_number = [label_col.isdigit(), text_col.isdigit()]
    if all(by_number):
        indices = int(label_col) - 1, int(text_col) - 1
        if min(indices) < 0:
            raise UserError("column numbers count from 1; give label_col and text_col of 1 or more")
        if indices[0] == indices[1]:
            raise UserError("label_col and text_col name the same column; give two columns")
        return indices[0], indices[1], False
    if any(by_number):
        raise UserError(
            "give label_col and text_col both as header names or both as column numbers "
            "(counting from 1, for a file without a header line)"
        )
    header = [cell.strip().lower() for cell in first_row]
    indices = []
    for name, kind in ((label_col, "label"), (text_col, "text")):
        if name.lower() not in header:
            raise UserError(
                f"{file} has no {kind} column {name!r} (its header: {', '.join(first_row)}); "
                f"name it with {kind}_col, or number the columns ({kind}_col 1) if the file "
                "has no header line"
            )
        indices.append(header.index(name.lower()))
    return indices[0], indices[1], True


def _append(data: LabelledTexts, text: str, label: str, origin: str) -> None:
    data.texts.append(text)
    data.labels.append(label)
    data.origins.append(origin)


@dataclass
class EncodedTexts:
    """Labelled texts as numbers: the token ids of each text and its class id."""

    sequences: list[np.ndarray]
    targets: np.ndarray

    def __len__(self) -> int:
        return len(self.sequences)

    @property
    def lengths(self) -> np.ndarray:
        return np.array([len(s) for s in self.sequences], dtype=np.int64)


def encode_labelled_texts(
    data: LabelledTexts, tokenizer: Tokenizer, labels: LabelVocabulary, source: str
) -> tuple[EncodedTexts, int]:
    """``(encoded DATA, characters left out)``; see ``encode_texts`` and
    ``LabelVocabulary.encode`` for what is refused."""
    targets = labels.encode(data.labels, source)
    sequences, skipped = encode_texts(tokenizer, data.texts, data.origins)
    return EncodedTexts(sequences, targets), skipped


def encode_texts(
    tokenizer: Tokenizer, texts: Sequence[str], origins: Sequence[str] | None = None
) -> tuple[list[np.ndarray], int]:
    """``(token ids of each text, how many characters were left out)``.

    A word tokenizer maps unseen words to ``<unk>`` (and closes every text with its
    ``<eos>``, a constant last step). A character tokenizer has no such token, so
    characters it never saw in training are left out (they carry nothing the model
    learned) and counted, for the report. A text left with no token (empty, or with no
    character seen in training), or with whitespace alone, is refused; ORIGINS (one per
    text) name it.
    """
    sequences, skipped = [], 0
    for i, text in enumerate(texts):
        if tokenizer.kind == "char":
            unseen = set(tokenizer.unknown_tokens(text))
            if unseen:
                kept = "".join(c for c in text if c not in unseen)
                skipped += len(text) - len(kept)
                text = kept
        ids = tokenizer.encode(text)
        if len(ids) == 0 or not text.strip():
            where = origins[i] if origins is not None else f"text {i + 1}"
            raise UserError(
                f"{where} holds no text the model can read (it is empty or blank, or none of "
                "its characters was seen in training); give text in the training alphabet"
            )
        sequences.append(ids)
    return sequences, skipped


def _natural_key(label: str) -> tuple:
    """Sort ``"2"`` before ``"10"``, and numbers before words."""
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in re.split(r"(\d+)", label))


class LabelVocabulary:
    """The classes a model knows, numbered 0..C-1 in natural sort order of their names."""

    def __init__(self, labels: Sequence[str]) -> None:
        # read back from a config.json, which an edit may have left any JSON value
        if not isinstance(labels, (list, tuple)) or not all(isinstance(x, str) for x in labels):
            raise ValueError(f"expected a list of label names, got {quoted(str(labels))}")
        if len(set(labels)) != len(labels):
            raise ValueError(f"a label is named twice in {quoted(str(labels))}")
        self.labels = list(labels)
        self._index = {label: i for i, label in enumerate(self.labels)}

    @classmethod
    def fit(
        cls, labels: Sequence[str], source: str, noun: str = "class", nouns: str = "classes"
    ) -> LabelVocabulary:
        """The distinct LABELS (of SOURCE, for the message); one only is refused (NOUN and
        NOUNS: what the message calls one and several, as a tagger's "tag")."""
        labels = sorted(set(labels), key=_natural_key)
        if len(labels) < 2:
            raise UserError(
                f"{source} has one {noun} only ({labels[0]!r}); "
                f"training needs examples of at least two {nouns}"
            )
        return cls(labels)

    def __len__(self) -> int:
        return len(self.labels)

    def encode(self, labels: Sequence[str], source: str, noun: str = "labels") -> np.ndarray:
        """Class ids of LABELS, refusing (with their names) labels unseen in training; NOUN
        is what the message calls them (a tagger's are "tags")."""
        unseen = [label for label in dict.fromkeys(labels) if label not in self._index]
        if unseen:
            raise UserError(
                f"{source} has {noun} the model was not trained on: "
                f"{some_of(unseen, MAX_NAMED)}; "
                f"it knows {', '.join(self.labels[:MAX_NAMED])}"
                f"{' ...' if len(self.labels) > MAX_NAMED else ''}; leave out what has them, "
                "or train with examples of them"
            )
        return np.array([self._index[label] for label in labels], dtype=np.int64)
