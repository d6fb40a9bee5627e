"""Tokenizers: turn text into a stream of integer ids for a language model, and back.

All three share one interface: ``fit(text)`` builds the vocabulary (always in the same
order for the same text, so a saved model's ids keep their meaning), ``encode`` and
``decode`` convert, ``to_dict`` / ``tokenizer_from_dict`` save and restore through JSON.
``stream_decoder()`` decodes a stream of ids one at a time, in time linear in its length:
``push(id)`` returns the text that id finished and ``flush()`` the rest, so the pieces
joined are ``decode`` of the ids.

- ``CharTokenizer``: one token per Unicode character (code point).
- ``WordTokenizer``: whitespace-separated words plus ``<eos>`` at each line end, as in the
  Penn Treebank files; rare and unseen words become ``<unk>``.
- ``JamoTokenizer``: characters, but Korean syllables are split into their letters (jamo), so
  11,172 possible syllables need at most 67 tokens.

Unknown tokens: every tokenizer reads what its vocabulary lacks as ``<unk>``
(``unknown_id``), so a model can score any text, and ``unknown_tokens`` names what was
unknown. Word vocabularies always held ``<unk>``; character and jamo vocabularies reserve
it as id 0, before the sorted characters, and decode it as U+FFFD (the replacement
character), one character as every other token is. A character vocabulary saved before
this reservation (no ``<unk>``) still loads, with ``unknown_id`` None, and its ``encode``
refuses unseen characters, as it always did, saying to retrain the model.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Iterator
from itertools import repeat
from typing import Any, TypeVar

import numpy as np

from rnnkit.errors import UserError
from rnnkit.plural import some_of

EOS = "<eos>"
UNK = "<unk>"
UNKNOWN_CHARACTER = "\ufffd"  # how a character vocabulary's <unk> decodes
MAX_NAMED = 10  # how many unknown tokens an error message lists
CODE_POINTS = 0x110000  # every Unicode code point, lone surrogates included
LONG_LINE = 1 << 20  # characters of one unfinished line held between pieces of a stream

T = TypeVar("T", bound="Tokenizer")


class Tokenizer:
    """What every tokenizer offers; subclasses fill in the vocabulary and the conversions."""

    kind = ""

    def __init__(self) -> None:
        self.vocab: list[str] = []
        self._index: dict[str, int] = {}

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    @property
    def unknown_id(self) -> int | None:
        """The id every token outside the vocabulary is read as, or None if there is none
        (a character vocabulary saved by an older rnnkit): then ``encode`` refuses them."""
        return self._index.get(UNK)

    @property
    def never_sampled(self) -> tuple[int, ...]:
        """Ids a sampler should never draw: none here (a word vocabulary's ``<unk>`` is a
        word of its texts, where rare words were replaced by it)."""
        return ()

    def fit(self: T, text: str | Iterable[str]) -> T:
        """Build the vocabulary from TEXT and return the tokenizer itself.

        TEXT may also be an iterable of pieces of one text (a ``TextStream`` read in
        chunks): the vocabulary is that of the pieces joined, never held whole. A source
        with a ``vocabulary(tokenizer)`` method (a cache) is asked for it first.
        """
        if isinstance(text, str):
            vocab = self._build_vocab(text)
        elif hasattr(text, "vocabulary"):
            vocab = text.vocabulary(self)
        else:
            vocab = self.vocab_of_pieces(text)
        self._set_vocab(vocab)
        return self

    def vocab_of_pieces(self, pieces: Iterable[str]) -> list[str]:
        """The vocabulary ``fit`` builds from the text PIECES make when joined."""
        raise NotImplementedError

    def encode_pieces(self, pieces: Iterable[str]) -> Iterator[np.ndarray]:
        """``encode`` of the text PIECES make when joined, a part at a time (the parts
        joined are ``encode`` of the whole text, in the smallest integer type that holds
        every id)."""
        raise NotImplementedError

    def encode(self, text: str) -> np.ndarray:
        raise NotImplementedError

    def decode(self, ids: np.ndarray | list[int]) -> str:
        raise NotImplementedError

    def knows(self, token: str) -> bool:
        """Whether TOKEN (a word, or a character) has an id of its own."""
        self._require_vocab()
        return token in self._index

    def unknown_tokens(self, text: str) -> list[str]:
        """The distinct tokens of TEXT that are not in the vocabulary, in order of appearance."""
        raise NotImplementedError

    def unknown_mask(self, text: str) -> np.ndarray:
        """For each token of ``encode(text)``, whether the vocabulary lacks it (so it is
        read as ``<unk>``). A literal ``<unk>`` in a word text, as the Penn Treebank files
        have, is a word of the vocabulary: the text itself marks the word unknown, and a
        model trained on such text learned to predict it."""
        index = self._index
        return np.array([unit not in index for unit in self._units(text)], dtype=bool)

    def _units(self, text: str) -> list[str] | str:
        """The tokens of TEXT as strings, before they are looked up."""
        raise NotImplementedError

    def stream_decoder(self) -> StreamDecoder:
        """A new decoder of a stream of ids, one at a time (see ``StreamDecoder``)."""
        raise NotImplementedError

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable description: kind, vocabulary and options."""
        return {"kind": self.kind, "vocab": list(self.vocab), **self._options()}

    def _options(self) -> dict[str, Any]:
        return {}

    def _build_vocab(self, text: str) -> list[str]:
        raise NotImplementedError

    def _set_vocab(self, vocab: list[str]) -> None:
        self.vocab = list(vocab)
        self._index = {token: i for i, token in enumerate(self.vocab)}

    def _tokens_of(self, ids: np.ndarray | list[int]) -> list[str]:
        """The vocabulary entries for IDS, refusing ids that no vocabulary entry has."""
        return [self.vocab[i] for i in self._checked(ids)]

    def _checked(self, ids: np.ndarray | list[int]) -> np.ndarray:
        """IDS as a flat array, refusing ids that no vocabulary entry has."""
        ids = np.asarray(ids, dtype=np.int64).ravel()
        if ids.size and (ids.min() < 0 or ids.max() >= self.vocab_size):
            # Negative ids would silently index from the end; this is a bug, not bad input.
            raise ValueError(
                f"token ids must lie in [0, {self.vocab_size}), got {ids.min()} to {ids.max()}"
            )
        return ids

    def _require_vocab(self) -> None:
        if not self.vocab:
            raise RuntimeError(f"the {self.kind} tokenizer has no vocabulary: call fit() first")


class CharTokenizer(Tokenizer):
    """One token per Unicode code point: ``<unk>`` (id 0), then the characters sorted by
    code point. Characters never seen by ``fit`` are read as ``<unk>``, which decodes as
    U+FFFD."""

    kind = "char"

    @property
    def never_sampled(self) -> tuple[int, ...]:
        """``(<unk>,)``: it stands for characters the fitted text lacks, so no training text
        holds it, and only a barely trained model gives it any probability."""
        unknown = self.unknown_id
        return () if unknown is None else (unknown,)

    def _build_vocab(self, text: str) -> list[str]:
        units = self._split(text)
        if not units:
            raise UserError("cannot build a character vocabulary from empty text; give some text")
        return [UNK, *sorted(set(units))]

    def _set_vocab(self, vocab: list[str]) -> None:
        vocab = list(vocab)
        # Older vocabularies have no <unk>: the characters alone.
        characters = vocab[1:] if vocab[:1] == [UNK] else vocab
        well_formed = characters == sorted(set(characters)) and all(len(c) == 1 for c in characters)
        if not (characters and well_formed):
            raise UserError(
                f"the saved {self.kind} vocabulary is not <unk> then one or more single "
                "characters in sorted order: the file is damaged"
            )
        super()._set_vocab(vocab)
        self._shown = [UNKNOWN_CHARACTER if unit == UNK else unit for unit in vocab]

    def encode(self, text: str) -> np.ndarray:
        self._require_vocab()
        index, unknown_id = self._index, self.unknown_id
        if unknown_id is None:
            self._refuse_unknown(text)
            return np.array([index[c] for c in self._split(text)], dtype=np.int64)
        return np.array([index.get(c, unknown_id) for c in self._split(text)], dtype=np.int64)

    def _refuse_unknown(self, text: str) -> None:
        """Refuse TEXT if it has characters outside a vocabulary without ``<unk>``."""
        unknown = self.unknown_tokens(text)
        if unknown:
            count = "1 character is" if len(unknown) == 1 else f"{len(unknown)} characters are"
            raise UserError(
                f"{count} not in the vocabulary: {some_of(unknown, MAX_NAMED)}; this "
                f"model was saved by an older rnnkit, whose {self.kind} vocabulary has no "
                f"{UNK} to read them as: remove them, or retrain the model"
            )

    def vocab_of_pieces(self, pieces: Iterable[str]) -> list[str]:
        seen = np.zeros(CODE_POINTS, dtype=bool)
        for piece in pieces:
            units = self._split(piece)
            if units.isascii():
                # Deleting the bytes seen already leaves only new ones (usually none): a
                # byte-table pass, several times faster than counting every byte.
                known = np.flatnonzero(seen[:128]).astype(np.uint8).tobytes()
                new = units.encode("ascii").translate(None, known)
                seen[np.frombuffer(new, dtype=np.uint8)] = True
            else:
                seen[_code_points(units)] = True
        if not seen.any():
            raise UserError("cannot build a character vocabulary from empty text; give some text")
        return [UNK, *map(chr, np.flatnonzero(seen).tolist())]

    def encode_pieces(self, pieces: Iterable[str]) -> Iterator[np.ndarray]:
        self._require_vocab()
        unknown_id = self.unknown_id
        # The smallest integer type that holds every id (and -1 for "unknown" when the
        # vocabulary has no <unk>): a smaller table is a faster lookup.
        dtype = np.int64 if unknown_id is None else _id_dtype(self.vocab_size)
        table = np.full(CODE_POINTS, -1 if unknown_id is None else unknown_id, dtype=dtype)
        characters = [i for i, unit in enumerate(self.vocab) if unit != UNK]
        table[[ord(self.vocab[i]) for i in characters]] = characters
        # ASCII characters sort first, so their ids (at most 128) fit a byte: an ASCII
        # piece is encoded by one bytes.translate, a table pass much faster than indexing.
        ascii_ids = np.where(table[:128] < 0, 255, table[:128]).astype(np.uint8).tobytes()
        ascii_ids += bytes(128)
        for piece in pieces:
            units = self._split(piece)
            if units.isascii():
                ids = np.frombuffer(units.encode("ascii").translate(ascii_ids), dtype=np.uint8)
                if unknown_id is None:
                    ids = np.where(ids == 255, -1, ids.astype(np.int64))
                else:
                    ids = ids.astype(dtype, copy=False)
            else:
                ids = table[_code_points(units)]
            if unknown_id is None and ids.size and ids.min() < 0:
                self._refuse_unknown(piece)
            yield ids

    def decode(self, ids: np.ndarray | list[int]) -> str:
        shown = self._shown
        return self._join("".join([shown[i] for i in self._checked(ids)]))

    def stream_decoder(self) -> StreamDecoder:
        return CharStreamDecoder(self)

    def unknown_tokens(self, text: str) -> list[str]:
        # dict.fromkeys keeps the first appearance of each character, in order.
        index = self._index
        return [c for c in dict.fromkeys(self._split(text)) if c not in index]

    def _split(self, text: str) -> str:
        """The text as the sequence of units the vocabulary holds; subclasses change it."""
        return text

    def _units(self, text: str) -> str:
        return self._split(text)

    def _join(self, units: str) -> str:
        """Undo ``_split``."""
        return units


# Precomposed Hangul syllables (가 .. 힣) and the conjoining jamo NFD splits them into.
HANGUL_SYLLABLES = re.compile("[\uac00-\ud7a3]+")
CONJOINING_JAMO = re.compile("[\u1100-\u11ff]+")
# The conjoining jamo that NFC composes into one precomposed syllable (the Unicode Hangul
# composition): a lead consonant, a vowel, then optionally a tail consonant.
LEAD_JAMO = (0x1100, 0x1112)
VOWEL_JAMO = (0x1161, 0x1175)
TAIL_JAMO = (0x11A8, 0x11C2)


class JamoTokenizer(CharTokenizer):
    """Characters, with each Hangul syllable split into its 2 or 3 jamo (NFD).

    Only Hangul is touched, in both directions, so any other text (accented Latin letters,
    say) comes back exactly as it went in.
    """

    kind = "jamo"

    def _split(self, text: str) -> str:
        return HANGUL_SYLLABLES.sub(lambda m: unicodedata.normalize("NFD", m.group()), text)

    def _join(self, units: str) -> str:
        # NFC composes every lead+vowel(+tail) run into a syllable; jamo that form no
        # syllable stay as they are.
        return CONJOINING_JAMO.sub(lambda m: unicodedata.normalize("NFC", m.group()), units)

    def stream_decoder(self) -> StreamDecoder:
        return JamoStreamDecoder(self)


class WordTokenizer(Tokenizer):
    """Whitespace-separated words, with ``<eos>`` closing every line.

    The vocabulary is ``<eos>``, ``<unk>``, then the words from most to least frequent
    (ties in alphabetical order). Words under MIN_COUNT, words past the MAX_VOCAB-th entry
    (counting ``<eos>`` and ``<unk>``) and words never seen by ``fit`` all become ``<unk>``.
    A literal ``<unk>`` in the text, as the Penn Treebank files have, is the same token.
    """

    kind = "word"

    def __init__(self, max_vocab: int | None = None, min_count: int = 1) -> None:
        super().__init__()
        if max_vocab is not None and max_vocab < 2:
            raise UserError(
                f"max_vocab must be at least 2 (room for {EOS} and {UNK}), got {max_vocab}"
            )
        if min_count < 1:
            raise UserError(f"min_count must be at least 1, got {min_count}")
        self.max_vocab = max_vocab
        self.min_count = min_count

    def _options(self) -> dict[str, Any]:
        return {"max_vocab": self.max_vocab, "min_count": self.min_count}

    def _set_vocab(self, vocab: list[str]) -> None:
        vocab = list(vocab)
        if vocab[:2] != [EOS, UNK] or len(set(vocab)) != len(vocab):
            raise UserError(
                f"the saved word vocabulary does not start with {EOS} and {UNK} or repeats a "
                "word: the file is damaged"
            )
        super()._set_vocab(vocab)

    def _build_vocab(self, text: str) -> list[str]:
        return self._vocab_of_counts(Counter(_words(text)))

    def _vocab_of_counts(self, counts: Counter[str]) -> list[str]:
        ranked = sorted((w for w in counts if w not in (EOS, UNK)), key=lambda w: (-counts[w], w))
        kept = [w for w in ranked if counts[w] >= self.min_count]
        if not kept:
            raise UserError(
                f"no words to build a vocabulary from (min_count {self.min_count}); "
                "give more text or a lower min_count"
            )
        if self.max_vocab is not None:
            kept = kept[: self.max_vocab - 2]
        return [EOS, UNK, *kept]

    def vocab_of_pieces(self, pieces: Iterable[str]) -> list[str]:
        counts: Counter[str] = Counter()
        for words in _words_of_pieces(pieces):
            counts.update(words)
        return self._vocab_of_counts(counts)

    def encode(self, text: str) -> np.ndarray:
        self._require_vocab()
        index, unk = self._index, self._index[UNK]
        return np.array([index.get(w, unk) for w in _words(text)], dtype=np.int64)

    def encode_pieces(self, pieces: Iterable[str]) -> Iterator[np.ndarray]:
        self._require_vocab()
        lookup, unk = self._index.get, repeat(self._index[UNK])
        for words in _words_of_pieces(pieces):
            # map calls the look-up from C: faster than a generator expression.
            yield np.fromiter(map(lookup, words, unk), dtype=np.int64, count=len(words))

    def unknown_mask_pieces(self, pieces: Iterable[str]) -> Iterator[np.ndarray]:
        """``unknown_mask`` of the text PIECES make when joined, an array at a time, as
        ``encode_pieces`` gives its ids."""
        self._require_vocab()
        known = self._index.__contains__
        for words in _words_of_pieces(pieces):
            yield ~np.fromiter(map(known, words), dtype=bool, count=len(words))

    def decode(self, ids: np.ndarray | list[int]) -> str:
        lines, line = [], []
        for word in self._tokens_of(ids):
            if word == EOS:
                lines.append(" ".join(line) + "\n")
                line = []
            else:
                line.append(word)
        return "".join(lines) + " ".join(line)

    def stream_decoder(self) -> StreamDecoder:
        return WordStreamDecoder(self)

    def unknown_tokens(self, text: str) -> list[str]:
        return [w for w in dict.fromkeys(_words(text)) if w not in self._index]

    def _units(self, text: str) -> list[str]:
        return _words(text)


class StreamDecoder:
    """Decodes a stream of token ids one at a time, each in constant time.

    ``push(id)`` returns the text that is final once ID is known (possibly empty), and
    ``flush()`` the text still held back; all of it joined is ``tokenizer.decode`` of the
    ids pushed. After ``flush`` the decoder starts afresh.
    """

    def __init__(self, tokenizer: Tokenizer) -> None:
        tokenizer._require_vocab()
        self.tokenizer = tokenizer

    def push(self, token: int) -> str:
        raise NotImplementedError

    def flush(self) -> str:
        return ""

    def _check(self, token: int) -> int:
        token = int(token)
        if not 0 <= token < self.tokenizer.vocab_size:
            raise ValueError(f"token ids must lie in [0, {self.tokenizer.vocab_size}), got {token}")
        return token


class CharStreamDecoder(StreamDecoder):
    """Every character token is final at once."""

    tokenizer: CharTokenizer

    def push(self, token: int) -> str:
        return self.tokenizer._shown[self._check(token)]


class JamoStreamDecoder(StreamDecoder):
    """Characters, holding back only the jamo of a Korean syllable that is not finished.

    ``JamoTokenizer.decode`` composes jamo the way NFC does: a lead consonant and a vowel
    make a syllable, which a tail consonant may then close. So a lead consonant is held
    until the next token says whether a vowel joins it, and a lead+vowel pair until the
    next token says whether a tail closes it; anything else is final at once.
    """

    tokenizer: CharTokenizer

    def __init__(self, tokenizer: CharTokenizer) -> None:
        super().__init__(tokenizer)
        self.held = ""  # "", a lead consonant, or a lead consonant and a vowel

    def push(self, token: int) -> str:
        unit = self.tokenizer._shown[self._check(token)]
        held = self.held
        if len(held) == 1 and _is_jamo(unit, VOWEL_JAMO):
            self.held = held + unit
            return ""
        if len(held) == 2 and _is_jamo(unit, TAIL_JAMO):
            self.held = ""
            return unicodedata.normalize("NFC", held + unit)
        done = unicodedata.normalize("NFC", held)
        if _is_jamo(unit, LEAD_JAMO):
            self.held = unit
            return done
        self.held = ""
        return done + unit

    def flush(self) -> str:
        done, self.held = unicodedata.normalize("NFC", self.held), ""
        return done


class WordStreamDecoder(StreamDecoder):
    """Words separated by spaces, ``<eos>`` as a line break."""

    def __init__(self, tokenizer: Tokenizer) -> None:
        super().__init__(tokenizer)
        self.line_start = True

    def push(self, token: int) -> str:
        word = self.tokenizer.vocab[self._check(token)]
        if word == EOS:
            self.line_start = True
            return "\n"
        separator = "" if self.line_start else " "
        self.line_start = False
        return separator + word

    def flush(self) -> str:
        self.line_start = True
        return ""


def _is_jamo(unit: str, span: tuple[int, int]) -> bool:
    """Whether UNIT is one code point in the closed range SPAN."""
    return len(unit) == 1 and span[0] <= ord(unit) <= span[1]


def _words(text: str) -> list[str]:
    """The words of TEXT with ``<eos>`` after each line; blank lines give a lone ``<eos>``."""
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()  # a final newline ends the last line; it does not start another one
    return [word for line in lines for word in [*line.split(), EOS]]


def _words_of_pieces(pieces: Iterable[str]) -> Iterator[list[str]]:
    """``_words`` of the text PIECES make when joined, a list at a time.

    The unfinished last line of a piece waits for the next one; a line longer than
    LONG_LINE gives the words before its last whitespace at once (its <eos> comes later).
    """
    carry = ""
    for piece in pieces:
        text = carry + piece
        end = text.rfind("\n") + 1
        # Every line ending becomes an <eos> word: one split of the whole piece, where a
        # list per line would cost a Python object per line.
        words = text[:end].replace("\n", f" {EOS} ").split()
        carry = text[end:]
        if len(carry) > LONG_LINE:
            cut = len(carry.rstrip()) if carry[-1:].isspace() else _last_space(carry)
            if cut > 0:
                words += carry[:cut].split()
                carry = carry[cut:]
        if words:
            yield words
    if carry:
        yield [*carry.split(), EOS]


def _last_space(text: str) -> int:
    """The index of the last whitespace character of TEXT (what ``str.split`` splits
    at), or 0."""
    return max(0, *(text.rfind(space) for space in _SPACES))


_SPACES = [chr(c) for c in range(CODE_POINTS) if chr(c).isspace() and chr(c) != "\n"]


def _id_dtype(vocab_size: int) -> type:
    for dtype in (np.uint8, np.uint16, np.uint32):
        if vocab_size <= np.iinfo(dtype).max + 1:
            return dtype
    return np.int64


def _code_points(text: str) -> np.ndarray:
    """The code points of TEXT (lone surrogates included), as uint8 when it is ASCII."""
    if text.isascii():
        return np.frombuffer(text.encode("ascii"), dtype=np.uint8)
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)


TOKENIZERS: dict[str, type[Tokenizer]] = {
    "char": CharTokenizer,
    "word": WordTokenizer,
    "jamo": JamoTokenizer,
}


def make_tokenizer(kind: str, **options: Any) -> Tokenizer:
    """A new, unfitted tokenizer of KIND ("char", "word" or "jamo") with OPTIONS."""
    if kind not in TOKENIZERS:
        raise UserError(f"unknown tokenizer {kind!r}; choose one of {', '.join(TOKENIZERS)}")
    try:
        return TOKENIZERS[kind](**options)
    except TypeError:
        raise UserError(
            f"the {kind} tokenizer does not take the options {', '.join(sorted(options))}; "
            "drop them or choose another tokenizer"
        ) from None


def tokenizer_from_dict(d: dict[str, Any]) -> Tokenizer:
    """Rebuild a fitted tokenizer from what ``to_dict`` returned."""
    options = {k: v for k, v in d.items() if k not in ("kind", "vocab")}
    tokenizer = make_tokenizer(d.get("kind", "?"), **options)
    tokenizer._set_vocab(d["vocab"])
    return tokenizer
