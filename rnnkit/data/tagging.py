"""Tagged sentences as numbers: the word, character and tag vocabularies, and batches.

- Words: ``<unk>`` is id 0, then the training words seen at least ``min_count`` times, most
  frequent first (``lowercase`` folds case first; the characters keep it).
- Characters: id 0 stands for a character never seen in training, then every character of
  the training words, most frequent first. A word longer than ``MAX_WORD_CHARS`` characters
  is read as its first and last ``MAX_WORD_CHARS // 2``: the character encoder pads every
  word of a batch to the longest, so one token of 10,000 characters (a pasted blob, a line
  without tabs) would cost gigabytes, and a word's ends are what tell its tag.
- Tags: the training tags, numbered as ``LabelVocabulary`` numbers classes; a tag unseen in
  training is refused, by name, wherever it turns up later.

``tagger_batch`` pads a batch of encoded sentences into what ``SequenceTagger`` takes: word
ids ``(B, T)`` padded with the model's ``pad_id``, lengths, tags padded with -1, and the
words' characters (``WordChars``). With ``unk_rate > 0`` it reads each word that occurs
once in the training data as ``<unk>`` with that probability (Lample et al. 2016), so the
``<unk>`` vector learns what a rare word looks like before it meets unseen ones.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from rnnkit.data.classification import LabelVocabulary
from rnnkit.data.conll import TaggedSentences
from rnnkit.errors import UserError, quoted
from rnnkit.models.char_word_encoder import WordChars, make_word_chars

UNKNOWN = "<unk>"
MAX_WORD_CHARS = 64  # far above real words: UD English-LinES's longest has 34


@dataclass
class TaggingVocabulary:
    """Words, characters and tags, each numbered from 0 (see the module docstring)."""

    words: list[str]
    chars: list[str]
    tags: LabelVocabulary
    lowercase: bool = False
    singletons: frozenset[int] = frozenset()  # ids of the words seen once in training

    def __post_init__(self) -> None:
        self._word_ids = {word: i for i, word in enumerate(self.words)}
        self._char_ids = {char: i for i, char in enumerate(self.chars)}

    @classmethod
    def fit(
        cls,
        data: TaggedSentences,
        source: str,
        min_count: int = 1,
        lowercase: bool = False,
        extra_tags: Sequence[str] = (),
    ) -> TaggingVocabulary:
        """The vocabularies of the training sentences DATA (from SOURCE, for messages).
        EXTRA_TAGS (the tags of a held-out part of the same file) join the tag set."""
        if min_count < 1:
            raise UserError(f"min_count: expected at least 1, got {min_count}")
        tokens = [token for sentence in data.tokens for token in sentence]
        counts = Counter(token.lower() if lowercase else token for token in tokens)
        kept = sorted((w for w, n in counts.items() if n >= min_count), key=lambda w: -counts[w])
        char_counts = Counter(char for token in tokens for char in token)
        chars = ["<unk>", *sorted(char_counts, key=lambda c: (-char_counts[c], c))]
        tags = [tag for sentence in data.tags for tag in sentence] + list(extra_tags)
        vocabulary = cls(
            [UNKNOWN, *kept], chars, LabelVocabulary.fit(tags, source, "tag", "tags"), lowercase
        )
        once = frozenset(vocabulary._word_ids[w] for w in kept if counts[w] == 1)
        vocabulary.singletons = once
        return vocabulary

    def to_dict(self) -> dict[str, Any]:
        return {
            "words": self.words,
            "chars": self.chars,
            "tags": self.tags.labels,
            "lowercase": self.lowercase,
            "singletons": sorted(self.singletons),
        }

    @classmethod
    def from_dict(cls, data: Any) -> TaggingVocabulary:
        """The vocabularies ``to_dict`` saved, each field checked: ValueError naming the field
        (``words: ...``) if DATA is not them (a config.json edited or damaged)."""
        missing = [key for key in ("words", "chars", "tags", "lowercase", "singletons")
                   if key not in data]  # fmt: skip
        if missing:
            raise ValueError(f"{missing[0]}: missing")
        words, chars = data["words"], data["chars"]
        lowercase, singletons = data["lowercase"], data["singletons"]
        if not _distinct_strings(words) or UNKNOWN not in words[:1]:
            raise ValueError(
                f"words: expected a list of distinct words, {UNKNOWN} first, got "
                f"{quoted(str(words))}"
            )
        if not (_distinct_strings(chars) and chars[:1] == [UNKNOWN]) or any(
            len(char) != 1 for char in chars[1:]
        ):
            raise ValueError(
                f"chars: expected {UNKNOWN}, then distinct single characters, got "
                f"{quoted(str(chars))}"
            )
        try:
            tags = LabelVocabulary(data["tags"])
        except ValueError as error:
            raise ValueError(f"tags: {error}") from None
        if not isinstance(lowercase, bool):
            raise ValueError(f"lowercase: expected true or false, got {lowercase!r}")
        if not isinstance(singletons, list) or not all(
            type(i) is int and 0 <= i < len(words) for i in singletons
        ):
            raise ValueError(
                f"singletons: expected ids of words (0 to {len(words) - 1}), got "
                f"{quoted(str(singletons))}"
            )
        return cls(list(words), list(chars), tags, lowercase, frozenset(singletons))

    def knows(self, word: str) -> bool:
        """Whether WORD has an id of its own (after case folding, if the tagger folds)."""
        return (word.lower() if self.lowercase else word) in self._word_ids

    def word_ids(self, tokens: Sequence[str]) -> np.ndarray:
        fold = str.lower if self.lowercase else str
        return np.array([self._word_ids.get(fold(t), 0) for t in tokens], dtype=np.int64)

    def char_ids(self, token: str) -> np.ndarray:
        """The ids of TOKEN's characters, its ends only past ``MAX_WORD_CHARS``."""
        if len(token) > MAX_WORD_CHARS:
            half = MAX_WORD_CHARS // 2
            token = token[:half] + token[-half:]
        return np.array([self._char_ids.get(c, 0) for c in token], dtype=np.int64)


def _distinct_strings(value: Any) -> bool:
    return (
        isinstance(value, list)
        and all(isinstance(item, str) for item in value)
        and len(set(value)) == len(value)
    )


@dataclass
class EncodedSentences:
    """Sentences as ids: ``words[i]`` ``(n_i,)``, ``chars[i][t]`` the char ids of word t,
    ``tags[i]`` ``(n_i,)`` (None for untagged input)."""

    words: list[np.ndarray]
    chars: list[list[np.ndarray]]
    tags: list[np.ndarray] | None

    def __len__(self) -> int:
        return len(self.words)

    @property
    def lengths(self) -> np.ndarray:
        return np.array([len(w) for w in self.words], dtype=np.int64)


def encode_sentences(
    tokens: Sequence[Sequence[str]],
    vocabulary: TaggingVocabulary,
    tags: Sequence[Sequence[str]] | None = None,
    source: str = "the sentences",
    max_length: int | None = None,
    origins: Sequence[str] | None = None,
) -> EncodedSentences:
    """TOKENS (and TAGS) as ids. A sentence longer than MAX_LENGTH, an empty one, a word
    with no character, and a tag unseen in training are ``UserError``s naming SOURCE (or
    the sentence's origin)."""
    words, chars, tag_ids = [], [], []
    for index, sentence in enumerate(tokens):
        where = origins[index] if origins is not None else f"{source}, sentence {index + 1}"
        if not sentence or any(not token for token in sentence):
            raise UserError(f"{where}: an empty sentence or word; every word needs a character")
        if max_length is not None and len(sentence) > max_length:
            raise UserError(
                f"{where}: a sentence of {len(sentence)} words, longer than max_length "
                f"{max_length}; raise max_length or split the sentence"
            )
        words.append(vocabulary.word_ids(sentence))
        chars.append([vocabulary.char_ids(token) for token in sentence])
    if tags is not None:
        if [len(s) for s in tags] != [len(s) for s in tokens]:
            raise ValueError("tags: expected one tag per token of every sentence")
        flat = vocabulary.tags.encode(
            [tag for sentence in tags for tag in sentence], source, noun="tags"
        )
        ends = np.cumsum([len(sentence) for sentence in tags])[:-1]
        tag_ids = np.split(flat, ends)
    return EncodedSentences(words, chars, tag_ids if tags is not None else None)


def encode_tagged(
    data: TaggedSentences,
    vocabulary: TaggingVocabulary,
    source: str,
    max_length: int | None = None,
) -> EncodedSentences:
    """``encode_sentences`` of the tokens and tags of DATA."""
    return encode_sentences(data.tokens, vocabulary, data.tags, source, max_length, data.origins)


def tagger_batch(
    data: EncodedSentences,
    indices: Sequence[int] | np.ndarray,
    pad_id: int,
    char_pad_id: int | None,
    unk_rate: float = 0.0,
    singletons: frozenset[int] = frozenset(),
    rng: np.random.Generator | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, WordChars | None]:
    """``(ids (B, T), lengths (B,), tags (B, T) or None, chars or None)`` of the sentences
    INDICES: padded with PAD_ID and tag -1; characters with CHAR_PAD_ID (None: no chars).
    Words in SINGLETONS become ``<unk>`` (id 0) with probability UNK_RATE, drawn from RNG."""
    lengths = np.array([len(data.words[i]) for i in indices], dtype=np.int64)
    steps = int(lengths.max())
    ids = np.full((len(indices), steps), pad_id, dtype=np.int64)
    tags = None if data.tags is None else np.full(ids.shape, -1, dtype=np.int64)
    for row, i in enumerate(indices):
        ids[row, : lengths[row]] = data.words[i]
        if tags is not None:
            tags[row, : lengths[row]] = data.tags[i]
    if unk_rate > 0 and singletons:
        rare = np.isin(ids, np.fromiter(singletons, dtype=np.int64))
        ids[rare & (rng.random(ids.shape) < unk_rate)] = 0
    chars = None
    if char_pad_id is not None:
        chars = make_word_chars([data.chars[i] for i in indices], steps, char_pad_id)
    return ids, lengths, tags, chars
