"""Parallel data for sequence-to-sequence tasks: source and target pairs in three formats.

- ``tsv``: ``source<TAB>target``, one pair a line (exactly one tab).
- ``dlfs2``: the format of Deep Learning from Scratch 2's toy sets, ``16+75  _91  ``: the
  source, then ``_`` and the target, both padded with spaces to a fixed width. The padding
  is the format's, not the data's: trailing spaces are dropped from both sides (the model
  ends its output with an end token instead).
- ``dictionary``: a pronouncing dictionary, ``WORD  PH ON EMES`` (the word, whitespace, the
  pronunciation's symbols), as CMUdict. A word with several pronunciations has one line
  each; ``WORD(2)`` markers and ``;;;`` comment lines of the original CMUdict are understood.

``auto`` takes ``tsv`` for a ``.tsv`` file; otherwise it looks at the first ``SNIFF_LINES``
lines that hold a pair (not blank, not a ``;;;`` comment): a line holding a tab is ``tsv``,
one holding ``_`` ``dlfs2``, any other ``dictionary``, and they must agree, so that one odd
line does not choose the format: two that disagree are an ``UnclearFormatError`` naming both
lines (give the format instead). A malformed line (no separator, an empty
source or target, a blank line) is a one-line ``UserError`` naming the file and line; a line
that the format cannot split is a ``MalformedLineError``, a kind of ``UserError``.
Files are read strictly in their encoding (``rnnkit.data.text.read_text``); a folder is
refused (give one file).

``references`` groups the targets of equal sources, in order of appearance: the several
pronunciations a word has, against which a G2P output counts as right if it equals any.
``book_split`` splits pairs as Deep Learning from Scratch 2 splits its toy sets.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rnnkit.data.held_out import held_out_indices
from rnnkit.data.text import read_text
from rnnkit.errors import SettingError, UserError

FORMATS = ("auto", "tsv", "dlfs2", "dictionary")
VARIANT_MARKER = re.compile(r"\(\d+\)$")  # CMUdict's WORD(1), WORD(2) ...
SNIFF_LINES = 100  # the lines auto reads the format from
# Each format's lines as a message shows them.
LOOKS = {"tsv": "source<TAB>target", "dlfs2": "source_target", "dictionary": "WORD  PH ON EMES"}


class MalformedLineError(UserError):
    """A line that its format cannot split into a source and a target."""


class UnclearFormatError(SettingError):
    """Lines of one file that look like different formats, read with format ``auto``.

    ``finding`` says which lines look like which format; the message adds the fix, setting
    ``format`` (a front end whose flag for it has another name rephrases it from
    ``finding``)."""

    def __init__(self, finding: str) -> None:
        fix = "fix the odd line, or set format to the file's (tsv, dlfs2 or dictionary)"
        super().__init__(f"{finding}; {fix}", "format")
        self.finding = finding


@dataclass
class ParallelExamples:
    """Pairs side by side: ``sources[i]`` -> ``targets[i]``, read at ``origins[i]``
    (``file:line``, for messages that point at the pair)."""

    sources: list[str]
    targets: list[str]
    origins: list[str]
    format: str = ""  # the format they were read in (auto resolved), if known

    def __len__(self) -> int:
        return len(self.sources)

    def lines(self) -> Iterator[str]:
        """Each pair as ``source<TAB>target``, the form a data fingerprint reads."""
        return (f"{s}\t{t}" for s, t in zip(self.sources, self.targets, strict=True))

    def subset(self, indices: list[int]) -> ParallelExamples:
        return ParallelExamples(
            [self.sources[i] for i in indices],
            [self.targets[i] for i in indices],
            [self.origins[i] for i in indices],
            self.format,
        )

    def hold_out(self, fraction: float, seed: int) -> tuple[ParallelExamples, ParallelExamples]:
        """``(rest, held_out)``: a seeded FRACTION of the distinct sources held out, with all
        their pairs, so that no source validates that was also learned from."""
        distinct = list(dict.fromkeys(self.sources))
        _, held = held_out_indices(
            len(distinct), fraction, seed, "distinct sources", "pairs", "valid"
        )
        held_out = {distinct[i] for i in held}
        rest = [i for i, s in enumerate(self.sources) if s not in held_out]
        kept = [i for i, s in enumerate(self.sources) if s in held_out]
        return self.subset(rest), self.subset(kept)


def detect_format(path: Path, lines: list[str]) -> str:
    """The format ``auto`` means for PATH, whose LINES are these (see the module docstring).

    Raises:
        UnclearFormatError: two of the first ``SNIFF_LINES`` pair lines look like different
            formats.
    """
    if path.suffix.lower() == ".tsv":
        return "tsv"
    first: tuple[int, str] | None = None
    seen = 0
    for number, line in enumerate(lines, start=1):
        if not line.strip() or line.startswith(";;;"):
            continue
        format = line_format(line)
        if first is None:
            first = (number, format)
        elif format != first[1]:
            raise UnclearFormatError(
                f"{path}: line {first[0]} looks like {first[1]} pairs ({LOOKS[first[1]]}) but "
                f"line {number} like {format} ({LOOKS[format]})"
            )
        seen += 1
        if seen == SNIFF_LINES:
            break
    return "dictionary" if first is None else first[1]


def line_format(line: str) -> str:
    """The format one LINE looks like: ``tsv`` with a tab, ``dlfs2`` with ``_``, else
    ``dictionary``."""
    if "\t" in line:
        return "tsv"
    return "dlfs2" if "_" in line else "dictionary"


def read_parallel(
    path: str | os.PathLike[str], format: str = "auto", encoding: str = "utf-8"
) -> ParallelExamples:
    """Every pair of the file PATH in FORMAT (see the module docstring).

    Raises:
        UserError: a malformed line, naming the file and the line number (from 1).
    """
    if format not in FORMATS:
        raise UserError(f"format: expected one of {', '.join(FORMATS)}, got {format!r}")
    path = Path(path)
    if path.is_dir():
        # read_text would join its files, and the line numbers of errors would name no file
        raise UserError(f"{path} is a folder; give a file of pairs (one pair a line)")
    lines = read_text(path, encoding).split("\n")
    if lines and lines[-1] == "":
        lines.pop()  # the final newline ends the last line
    if format == "auto":
        format = detect_format(path, lines)
    parse = {"tsv": _tsv_pair, "dlfs2": _dlfs2_pair, "dictionary": _dictionary_pair}[format]
    examples = ParallelExamples([], [], [], format)
    for number, line in enumerate(lines, start=1):
        where = f"{path}:{number}"
        if format == "dictionary" and line.startswith(";;;"):
            continue
        if not line.strip():
            raise UserError(f"{where}: the line is empty; remove it (every line is one pair)")
        source, target = parse(line, where)
        for side, text in (("source", source), ("target", target)):
            if not text.strip():
                raise UserError(f"{where}: the {side} is empty; fill it in or remove the line")
        examples.sources.append(source)
        examples.targets.append(target)
        examples.origins.append(where)
    if not examples.sources:
        raise UserError(f"{path}: holds no pairs")
    return examples


def _tsv_pair(line: str, where: str) -> tuple[str, str]:
    fields = line.split("\t")
    if len(fields) != 2:
        found = "no tab" if len(fields) == 1 else f"{len(fields) - 1} tabs"
        raise MalformedLineError(f"{where}: expected source<TAB>target, found {found}")
    return fields[0], fields[1]


def _dlfs2_pair(line: str, where: str) -> tuple[str, str]:
    source, separator, target = line.partition("_")
    if not separator:
        raise MalformedLineError(f"{where}: expected the source, then _ and the target; found no _")
    return source.rstrip(" "), target.rstrip(" ")


def _dictionary_pair(line: str, where: str) -> tuple[str, str]:
    parts = line.split(maxsplit=1)
    if len(parts) != 2:
        raise MalformedLineError(f"{where}: expected a word, whitespace and its pronunciation")
    word, symbols = parts
    return VARIANT_MARKER.sub("", word), " ".join(symbols.split())


BOOK_SEED = 1984  # the seed of DLFS2's dataset/sequence.py


def book_split(
    sources: list[str], targets: list[str]
) -> tuple[list[str], list[str], list[str], list[str]]:
    """DLFS2's split of its toy sets (``load_data`` in its ``dataset/sequence.py``): the
    pairs shuffled as ``np.random.seed(1984); np.random.shuffle(indices)`` does, the last
    tenth held out to test.

    Outputs:
        ``(train sources, train targets, test sources, test targets)``.
    """
    if len(sources) != len(targets):
        raise ValueError(f"targets: expected {len(sources)}, one per source, got {len(targets)}")
    order = np.arange(len(sources))
    np.random.RandomState(BOOK_SEED).shuffle(order)
    split = len(order) - len(order) // 10
    train, test = order[:split].tolist(), order[split:].tolist()
    return (
        [sources[i] for i in train], [targets[i] for i in train],
        [sources[i] for i in test], [targets[i] for i in test],
    )  # fmt: skip


def references(examples: ParallelExamples) -> tuple[list[str], list[list[str]]]:
    """``(distinct sources, their targets)`` in order of first appearance; a target
    listed twice for one source (as CMUdict without stress has some) is kept once."""
    grouped: dict[str, list[str]] = {}
    for source, target in zip(examples.sources, examples.targets, strict=True):
        targets = grouped.setdefault(source, [])
        if target not in targets:
            targets.append(target)
    return list(grouped), list(grouped.values())
