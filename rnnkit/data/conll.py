"""Tagged sentences: read CoNLL-U treebanks and whitespace column files, recognise BIO tags.

Formats (``auto`` takes ``conllu`` for a ``.conllu`` file, or a file whose first line that
is not blank or a comment is a CoNLL-U word line, as treebanks named ``.conll`` or ``.txt``
are; ``columns`` otherwise):

- ``conllu`` (Universal Dependencies): one word per line, ten tab-separated fields
  ``ID FORM LEMMA UPOS XPOS FEATS HEAD DEPREL DEPS MISC``, a blank line after each sentence,
  ``#`` comment lines. The tag is the field ``column`` names (``upos``, ``xpos`` or
  ``deprel``); ``_`` (unspecified) is kept as a tag, unless every word has it.
  Multiword-token lines (ID ``1-2``, the surface form of words 1 and 2, which follow on
  their own lines) and empty nodes (ID ``1.1``, enhanced dependencies only) are not words
  of the sentence and are skipped. Word IDs must count 1, 2, 3, ... in each sentence.
- ``columns`` (CoNLL-2000 chunking, CoNLL-2003 named entities): one token per line, fields
  separated by whitespace, the token first and its tag last, a blank line between sentences;
  every line of a file has the same number of fields. ``-DOCSTART-`` lines are skipped.

Every malformed line is a ``UserError`` naming the file and the line, and what is wrong.

Span tag schemes (``tag_scheme``): ``BIO`` (IOB2: every span starts with ``B-``), ``IOB1``
(``B-`` only where a span follows another of the same type, so a span may start with
``I-``), ``BIOES`` (also ``E-`` ends a span, ``S-`` is a one-token span); any other tag set
(parts of speech) has none, and only token-level figures apply to it.
"""

from __future__ import annotations

import io
import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from rnnkit.data.held_out import held_out_indices
from rnnkit.data.text import read_text
from rnnkit.errors import UserError, quoted

FORMATS = ("auto", "conllu", "columns")
CONLLU_COLUMNS = {"upos": 3, "xpos": 4, "deprel": 7}
CONLLU_FIELDS = 10
DOCSTART = "-DOCSTART-"
SPAN_TAG = re.compile(r"^([BIES])-(.+)$")
WORD_ID = re.compile(r"\d+(?:-\d+|\.\d+)?")  # a word, a multiword token or an empty node


@dataclass
class TaggedSentences:
    """Sentences side by side: ``tokens[i][t]`` has tag ``tags[i][t]``; ``origins[i]`` is
    ``file:line`` of the sentence's first token, for messages that point at it."""

    tokens: list[list[str]] = field(default_factory=list)
    tags: list[list[str]] = field(default_factory=list)
    origins: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.tokens)

    def lines(self) -> Iterator[str]:
        """Each sentence as ``token<TAB>tag`` lines ending in a blank line (a column file),
        the form a data fingerprint reads."""
        for tokens, tags in zip(self.tokens, self.tags, strict=True):
            yield "".join(f"{w}\t{t}\n" for w, t in zip(tokens, tags, strict=True))

    def add(self, tokens: list[str], tags: list[str], origin: str) -> None:
        self.tokens.append(tokens)
        self.tags.append(tags)
        self.origins.append(origin)

    def hold_out(self, fraction: float, seed: int) -> tuple[TaggedSentences, TaggedSentences]:
        """``(rest, held_out)``: a seeded random FRACTION of the sentences held out."""
        parts = []
        held = held_out_indices(len(self), fraction, seed, "sentences", "sentences", "valid")
        for indices in held:
            part = TaggedSentences()
            for i in indices:
                part.add(self.tokens[i], self.tags[i], self.origins[i])
            parts.append(part)
        return parts[0], parts[1]


def read_tagged(
    path: str | os.PathLike[str],
    format: str = "auto",
    column: str = "upos",
    encoding: str = "utf-8",
) -> TaggedSentences:
    """Read the sentences at PATH in FORMAT (one of ``FORMATS``; see the module docstring)."""
    if format not in FORMATS:
        raise UserError(f"format: expected one of {', '.join(FORMATS)}, got {format!r}")
    path = Path(path)
    if format == "auto":
        format = "conllu" if looks_like_conllu(path, encoding) else "columns"
    if format == "conllu":
        return read_conllu(path, column, encoding)
    return read_columns(path, encoding)


def looks_like_conllu(path: str | os.PathLike[str], encoding: str = "utf-8") -> bool:
    """Whether the file at PATH is CoNLL-U: named ``.conllu``, or its first line that is not
    blank or a ``#`` comment has CoNLL-U's ten tab-separated fields, a word ID first.

    Read as a column file, such a file would have its word IDs taken for the words and its
    last field (MISC) for the tags, or fail on its comment lines.
    """
    path = Path(path)
    if path.suffix.lower() == ".conllu":
        return True
    return not path.is_dir() and is_conllu_text(read_text(path, encoding))


def is_conllu_text(text: str) -> bool:
    """Whether TEXT's first line that is not blank or a ``#`` comment is a CoNLL-U word
    line (see ``looks_like_conllu``)."""
    for line in io.StringIO(text):
        if line.strip() and not line.startswith("#"):
            fields = line.rstrip("\r\n").split("\t")
            return len(fields) == CONLLU_FIELDS and WORD_ID.fullmatch(fields[0]) is not None
    return False


def _numbered_lines(path: Path, encoding: str) -> list[tuple[int, str]]:
    lines = read_text(path, encoding).split("\n")
    return list(enumerate((line.rstrip("\r") for line in lines), start=1))


def read_conllu(
    path: str | os.PathLike[str], column: str = "upos", encoding: str = "utf-8"
) -> TaggedSentences:
    """The words of each sentence of a CoNLL-U file and the tags in COLUMN."""
    if column not in CONLLU_COLUMNS:
        raise UserError(f"column: expected one of {', '.join(CONLLU_COLUMNS)}, got {column!r}")
    path = Path(path)
    index = CONLLU_COLUMNS[column]
    data = TaggedSentences()
    tokens: list[str] = []
    tags: list[str] = []
    start = 0
    for number, line in _numbered_lines(path, encoding):
        where = f"{path}:{number}"
        if not line.strip():
            if tokens:
                data.add(tokens, tags, f"{path}:{start}")
                tokens, tags = [], []
            continue
        if line.startswith("#"):
            continue
        fields = line.split("\t")
        if len(fields) != CONLLU_FIELDS:
            raise UserError(
                f"{where} has {len(fields)} tab-separated fields, a CoNLL-U word line has "
                f"{CONLLU_FIELDS}; fix the line"
            )
        word_id = fields[0]
        if re.fullmatch(r"\d+-\d+|\d+\.\d+", word_id):
            continue  # a multiword token or an empty node: not a word of the sentence
        if not word_id.isdigit() or int(word_id) != len(tokens) + 1:
            raise UserError(
                f"{where} has word ID {word_id!r} where {len(tokens) + 1} was expected "
                "(IDs count 1, 2, 3, ... in each sentence; a blank line ends a sentence)"
            )
        form, tag = fields[1], fields[index]
        if not form or not tag:
            what = "no word form" if not form else f"an empty {column} field"
            raise UserError(f"{where} has {what}; fix the line")
        if not tokens:
            start = number
        tokens.append(form)
        tags.append(tag)
    if tokens:
        data.add(tokens, tags, f"{path}:{start}")
    _not_empty(data, path)
    if all(tag == "_" for sentence in data.tags for tag in sentence):
        # "_" is CoNLL-U's "unspecified": a few words may have it, but not every word.
        raise UserError(
            f"{path} has no {column} annotation (every word's value is '_'); "
            f"choose another column ({', '.join(CONLLU_COLUMNS)})"
        )
    return data


def read_columns(path: str | os.PathLike[str], encoding: str = "utf-8") -> TaggedSentences:
    """Sentences of a whitespace column file: the token first, its tag last."""
    path = Path(path)
    data = TaggedSentences()
    tokens: list[str] = []
    tags: list[str] = []
    width, start = 0, 0
    for number, line in _numbered_lines(path, encoding):
        fields = line.split()
        if not fields or fields[0] == DOCSTART:
            if tokens:
                data.add(tokens, tags, f"{path}:{start}")
                tokens, tags = [], []
            continue
        where = f"{path}:{number}"
        if len(fields) < 2:
            raise UserError(f"{where} has one field ({quoted(line)}); a line is 'token ... tag'")
        if width and len(fields) != width:
            raise UserError(
                f"{where} has {len(fields)} fields, the lines before it {width}; "
                "every line needs the same columns"
            )
        width = len(fields)
        if not tokens:
            start = number
        tokens.append(fields[0])
        tags.append(fields[-1])
    if tokens:
        data.add(tokens, tags, f"{path}:{start}")
    return _not_empty(data, path)


def _not_empty(data: TaggedSentences, path: Path) -> TaggedSentences:
    if not data.tokens:
        raise UserError(f"{path} holds no tagged sentence; check the file and its format")
    return data


def tag_scheme(tags: Sequence[Sequence[str]]) -> str | None:
    """``"BIOES"``, ``"BIO"``, ``"IOB1"`` or None: the span scheme of the tag sequences.

    Spans need every tag to be ``O`` or ``<prefix>-<type>`` and at least one tag of the
    latter kind. ``E-``/``S-`` anywhere make it BIOES; otherwise a span opened by ``I-``
    (after ``O``, at the start, or after another type) makes it IOB1, and else it is BIO.
    """
    prefixed = False
    ends = False
    opened_by_inside = False
    for sentence in tags:
        previous_type = None
        for tag in sentence:
            if tag == "O":
                previous_type = None
                continue
            match = SPAN_TAG.match(tag)
            if match is None:
                return None
            prefix, kind = match.groups()
            prefixed = True
            ends = ends or prefix in "ES"
            if prefix == "I" and previous_type != kind:
                opened_by_inside = True
            previous_type = kind
    if not prefixed:
        return None
    if ends:
        return "BIOES"
    return "IOB1" if opened_by_inside else "BIO"
