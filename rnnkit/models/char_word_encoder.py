"""A word's vector read from its characters by a bidirectional recurrent layer.

::

    characters of each distinct word (N, C), lengths (N,)
      -> Embedding           (C, N, Ec)      row ``pad_id`` is the padding, always zero
      -> bi-RNN/LSTM/GRU     h_n (2, N, Hc)  packed lengths: each word read to its own end
      -> [h_fwd ; h_rev]     (N, 2*Hc)       the state after the last and after the first char
      -> rows picked by ``index``  (B, T, 2*Hc), one per token

A word unseen in training still has characters, so it still gets a vector that reflects its
spelling (suffixes, capitals, digits): the point of the layer in a tagger (Lample et al.
2016; Ling et al. 2015). Each distinct word of a batch is read once (``make_word_chars``
collects them); the gradient of a word's vector is the sum over the tokens that use it::

    dL/dv[w] = sum over tokens p with index[p] == w of dL/dy[p]

and flows back through ``h_n`` into the recurrent layer and the character embedding.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from rnnkit.models.sequence_classifier import EMBEDDING_INIT_RANGE, ENCODERS
from rnnkit.nn import LSTM, Embedding, Layer
from rnnkit.nn.embedding import add_rows_at
from rnnkit.nn.layer import check_sizes, make_rng


@dataclass(frozen=True)
class WordChars:
    """The characters of a batch's words: ``ids (N, C)`` padded char ids of the N distinct
    words, ``lengths (N,)``, and ``index (B, T)``: the row of each token's word (any valid
    row at padded token positions)."""

    ids: np.ndarray
    lengths: np.ndarray
    index: np.ndarray


def make_word_chars(
    sentences: Sequence[Sequence[Sequence[int]]], steps: int, pad_id: int
) -> WordChars:
    """``WordChars`` of SENTENCES (``sentences[b][t]``: the char ids of word ``t`` of
    sentence ``b``), padded to STEPS tokens and to the longest word with PAD_ID."""
    rows: dict[tuple[int, ...], int] = {}
    index = np.zeros((len(sentences), steps), dtype=np.int64)
    for b, sentence in enumerate(sentences):
        for t, word in enumerate(sentence):
            key = tuple(int(c) for c in word)
            if not key:
                raise ValueError(f"sentences[{b}][{t}]: a word needs at least one character")
            index[b, t] = rows.setdefault(key, len(rows))
    if not rows:
        raise ValueError("sentences: expected at least one word")
    width = max(len(word) for word in rows)
    ids = np.full((len(rows), width), pad_id, dtype=np.int64)
    for word, row in rows.items():
        ids[row, : len(word)] = word
    lengths = np.array([len(word) for word in rows], dtype=np.int64)
    return WordChars(ids, lengths, index)


class CharWordEncoder(Layer):
    """Characters -> embedding -> one bidirectional recurrent layer -> ``[h_fwd ; h_rev]``.

    Char ids run from 0 to ``num_chars - 1``; ``pad_id = num_chars`` pads. Parameters:
    ``embedding.weight`` and the recurrent layer's under ``rnn.`` (PyTorch's names).
    """

    def __init__(
        self,
        num_chars: int,
        embedding_size: int,
        hidden_size: int,
        cell: str = "lstm",
        dtype: Any = np.float32,
        rng: np.random.Generator | int | None = None,
    ) -> None:
        super().__init__()
        check_sizes(num_chars=num_chars, embedding_size=embedding_size, hidden_size=hidden_size)
        if cell not in ENCODERS:
            raise ValueError(f"cell: expected one of {', '.join(ENCODERS)}, got {cell!r}")
        self.num_chars = int(num_chars)
        self.hidden_size = int(hidden_size)
        self.pad_id = self.num_chars
        rng = make_rng(rng)
        embedding = Embedding(num_chars + 1, embedding_size, self.pad_id, dtype=dtype, rng=rng)
        weight = embedding.params["weight"]
        weight[...] = rng.uniform(-EMBEDDING_INIT_RANGE, EMBEDDING_INIT_RANGE, weight.shape)
        weight[self.pad_id] = 0.0
        self.add_layer("embedding", embedding)
        rnn = ENCODERS[cell](embedding_size, hidden_size, bidirectional=True, dtype=dtype, rng=rng)
        self.add_layer("rnn", rnn)
        self.output_size = 2 * self.hidden_size
        self._cache: tuple[Any, ...] | None = None

    def forward(self, chars: WordChars) -> np.ndarray:
        """Each token's word vector, ``(*chars.index.shape, 2 * hidden_size)``."""
        ids = np.asarray(chars.ids)
        if ids.ndim != 2 or 0 in ids.shape:
            raise ValueError(
                f"chars.ids: expected a non-empty (words, chars) array, got {ids.shape}"
            )
        embedded = self.embedding.forward(ids.T)  # (C, N, Ec)
        output, state = self.rnn.forward(embedded, None, chars.lengths)
        h_n = state[0] if isinstance(state, tuple) else state
        vectors = np.concatenate([h_n[0], h_n[1]], axis=1)  # (N, 2 Hc)
        index = np.asarray(chars.index)
        if self.training:
            self._cache = (output.shape, index, len(vectors))
        return vectors[index]

    def backward(self, grad_output: np.ndarray) -> None:
        """Add the parameter gradients, given ``dL/d(token vectors)``."""
        if self._cache is None:
            raise RuntimeError("backward: no forward pass to differentiate (call forward first)")
        output_shape, index, words = self._cache
        self._cache = None
        grad_output = np.asarray(grad_output)
        grad_vectors = np.zeros((words, self.output_size), dtype=grad_output.dtype)
        add_rows_at(grad_vectors, index.reshape(-1), grad_output.reshape(-1, self.output_size))
        grad_h_n = np.stack(np.split(grad_vectors, 2, axis=1))  # (2, N, Hc)
        grad_state = (grad_h_n, None) if isinstance(self.rnn, LSTM) else grad_h_n
        grad_embedded, _ = self.rnn.backward(np.zeros(output_shape, grad_output.dtype), grad_state)
        self.embedding.backward(grad_embedded)
