"""Token ids and padded batches for sequence-to-sequence pairs.

A side (source or target) is cut into tokens by ``char`` (Unicode code points) or ``word``
(whitespace-separated; a pronunciation's symbols are words). A ``Vocabulary`` numbers them
after four specials that ``Seq2Seq`` relies on::

    0 <pad>   1 <s> (start)   2 </s> (end)   3 <unk>   then tokens, most frequent first
                                                      (ties in alphabetical order)

A batch of pairs, for ``Seq2Seq.loss_and_backward``, with ``n`` the target's token count::

    src      (B, S)  source ids, padded with <pad>;   src_lengths (B,)
    tgt_in   (B, T)  <s> y_1 .. y_n, padded;           tgt_lengths (B,) = n + 1
    tgt_out  (B, T)  y_1 .. y_n </s>, padded

Training batches group pairs of similar source length (``rnnkit.data.length_buckets``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from rnnkit.data.length_buckets import bucket_batches, sorted_batches
from rnnkit.errors import UserError, quoted

PAD, BOS, EOS, UNK = "<pad>", "<s>", "</s>", "<unk>"
SPECIALS = (PAD, BOS, EOS, UNK)
PAD_ID, BOS_ID, EOS_ID, UNK_ID = range(4)
TOKENIZATIONS = ("char", "word")


def split_tokens(text: str, tokenization: str) -> list[str]:
    """TEXT as tokens: its characters (``char``) or its whitespace-separated words."""
    if tokenization == "char":
        return list(text)
    if tokenization == "word":
        return text.split()
    raise ValueError(
        f"tokenization: expected one of {', '.join(TOKENIZATIONS)}, got {tokenization!r}"
    )


def join_tokens(tokens: Sequence[str], tokenization: str) -> str:
    """Undo ``split_tokens`` (words are joined by one space)."""
    return ("" if tokenization == "char" else " ").join(tokens)


class Vocabulary:
    """Tokens <-> ids, the specials first (see the module docstring)."""

    def __init__(self, tokens: Sequence[str]) -> None:
        # read back from a config.json, which an edit may have left any JSON value
        if (
            not isinstance(tokens, (list, tuple))
            or not all(isinstance(token, str) for token in tokens)
            or tuple(tokens[: len(SPECIALS)]) != SPECIALS
            or len(set(tokens)) != len(tokens)
        ):
            raise ValueError(
                f"tokens: expected {', '.join(SPECIALS)} first and no repeats, got "
                f"{quoted(str(tokens))}"
            )
        tokens = list(tokens)
        self.tokens = tokens
        self.index = {token: i for i, token in enumerate(tokens)}

    @classmethod
    def build(
        cls, sequences: Iterable[Sequence[str]], min_count: int = 1, max_size: int | None = None
    ) -> Vocabulary:
        """The tokens of SEQUENCES seen at least MIN_COUNT times, at most MAX_SIZE entries
        (the specials included)."""
        if min_count < 1:
            raise ValueError(f"min_count: expected at least 1, got {min_count}")
        if max_size is not None and max_size <= len(SPECIALS):
            raise ValueError(f"max_size: expected more than {len(SPECIALS)}, got {max_size}")
        counts = Counter(token for sequence in sequences for token in sequence)
        ranked = sorted(
            (t for t, n in counts.items() if n >= min_count and t not in SPECIALS),
            key=lambda t: (-counts[t], t),
        )
        if max_size is not None:
            ranked = ranked[: max_size - len(SPECIALS)]
        return cls([*SPECIALS, *ranked])

    def __len__(self) -> int:
        return len(self.tokens)

    def encode(self, tokens: Sequence[str]) -> np.ndarray:
        """Ids of TOKENS; a token not in the vocabulary is ``<unk>``."""
        return np.array([self.index.get(t, UNK_ID) for t in tokens], dtype=np.int64)

    def unknown(self, tokens: Iterable[str]) -> list[str]:
        """The distinct tokens not in the vocabulary, in order of appearance."""
        return [t for t in dict.fromkeys(tokens) if t not in self.index]

    def decode(self, ids: Iterable[int]) -> list[str]:
        return [self.tokens[int(i)] for i in ids]

    def to_dict(self) -> dict[str, Any]:
        return {"tokens": list(self.tokens)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Vocabulary:
        """The vocabulary ``to_dict`` saved; ValueError naming the field (``tokens: ...``)
        if DATA is not one (a config.json edited or damaged)."""
        if "tokens" not in data:
            raise ValueError("tokens: missing")
        return cls(data["tokens"])


@dataclass
class Seq2SeqBatch:
    """Padded ids of a batch (module docstring); ``index`` are the pairs' positions."""

    src: np.ndarray
    src_lengths: np.ndarray
    tgt_in: np.ndarray
    tgt_out: np.ndarray
    tgt_lengths: np.ndarray
    index: np.ndarray

    def arrays(self) -> tuple[np.ndarray, ...]:
        """The arguments of ``Seq2Seq.loss_and_backward``, in order."""
        return self.src, self.src_lengths, self.tgt_in, self.tgt_out, self.tgt_lengths


def make_batch(
    sources: Sequence[np.ndarray], targets: Sequence[np.ndarray], index: np.ndarray | None = None
) -> Seq2SeqBatch:
    """A padded batch of source and target id sequences (targets without <s> and </s>)."""
    src, src_lengths = _padded(sources, 0)
    tgt_in, lengths = _padded(targets, 1)  # room for <s> before each target
    tgt_lengths = lengths + 1
    tgt_in[:, 0] = BOS_ID
    tgt_out = np.empty_like(tgt_in)
    tgt_out[:, :-1] = tgt_in[:, 1:]
    tgt_out[:, -1] = PAD_ID
    tgt_out[np.arange(len(targets)), lengths] = EOS_ID
    index = np.arange(len(sources)) if index is None else np.asarray(index)
    return Seq2SeqBatch(src, src_lengths, tgt_in, tgt_out, tgt_lengths, index)


def _padded(sequences: Sequence[np.ndarray], offset: int) -> tuple[np.ndarray, np.ndarray]:
    """``(ids (B, offset + longest), lengths)``: each sequence from column OFFSET on,
    ``<pad>`` elsewhere; one scatter for the whole batch rather than a copy per row."""
    lengths = np.fromiter(map(len, sequences), dtype=np.int64, count=len(sequences))
    ids = np.full((len(sequences), offset + int(lengths.max())), PAD_ID, dtype=np.int64)
    rows = np.repeat(np.arange(len(sequences)), lengths)
    starts = np.cumsum(lengths) - lengths
    columns = np.arange(int(lengths.sum())) - np.repeat(starts, lengths) + offset
    ids[rows, columns] = np.concatenate(sequences)
    return ids, lengths


def batches(
    sources: Sequence[np.ndarray],
    targets: Sequence[np.ndarray],
    batch_size: int,
    rng: np.random.Generator | None = None,
) -> Iterator[Seq2SeqBatch]:
    """Batches of every pair: bucketed by source length in a random order drawn from RNG,
    or, without RNG, sorted by source length (for evaluation)."""
    if batch_size < 1:
        raise ValueError(f"batch_size: expected at least 1, got {batch_size}")
    if len(sources) != len(targets):
        raise ValueError(f"sources, targets: {len(sources)} and {len(targets)} sequences")
    lengths = [len(s) for s in sources]
    if 0 in lengths or any(len(t) == 0 for t in targets):
        raise ValueError("sources, targets: every sequence needs at least one token")
    groups = (
        sorted_batches(lengths, batch_size)
        if rng is None
        else bucket_batches(lengths, batch_size, rng)
    )
    for group in groups:
        yield make_batch([sources[i] for i in group], [targets[i] for i in group], group)


def limit_source_lengths(
    sources: list[np.ndarray], max_length: int, truncate: bool, origins: Sequence[str]
) -> int:
    """Refuse a source of more than MAX_LENGTH tokens (naming its origin), or with
    TRUNCATE cut it in place; returns how many were cut."""
    cut = 0
    for i, source in enumerate(sources):
        if len(source) > max_length:
            if not truncate:
                raise UserError(
                    f"{origins[i]}: the source has {len(source)} tokens, more than "
                    f"max_source_length={max_length}; shorten it, or train with a larger "
                    "max_source_length (or truncate_source, which cuts longer sources)"
                )
            sources[i] = source[:max_length]
            cut += 1
    return cut
