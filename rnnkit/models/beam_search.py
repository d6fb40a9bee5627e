"""Greedy and beam search for ``Seq2Seq``: every hypothesis of every input is one row of one
batch, stepped together.

A hypothesis ``y = y_1 .. y_n`` of a source ``x`` scores

    log p(y | x) = sum_t log p(y_t | y_<t, x)         (with the end token when it ended)
    score(y)     = log p(y | x) / lp(|y|),   lp(l) = ((5 + l) / 6) ** alpha   (GNMT, Wu et al. 2016)

where ``|y|`` counts the end token of a finished hypothesis; ``alpha = 0`` ranks by the
plain log-probability, a larger ``alpha`` favours longer outputs. The padding and start
tokens are never chosen. Each input's output is limited to
``max(1, ceil(max_length_ratio * source length))`` tokens (and to ``max_length`` if given);
a hypothesis that reaches it unfinished ends there, ``finished=False``.

Beam search keeps at most ``beam_size`` hypotheses per input. At each step every live
hypothesis is extended by every token; of those candidates the ``beam_size`` best (by
log-probability) are kept, and those that chose the end token leave the beam finished
(so K = 1 is exactly greedy search). An input is done when its beam is empty, when it
reaches its length limit, or when ``nbest`` finished hypotheses score at least
``max live log p / lp(limit)``, the best any live hypothesis can still reach (log p only
falls as tokens are added, and for ``alpha >= 0`` ``lp`` only grows), so stopping early
never loses a better hypothesis than the beam would find by running on.

Each hypothesis carries its attention weights, one row per output token (the end token's
included), over the source's own positions (``Seq2Seq.source_order``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rnnkit.models.seq2seq import DecoderState, Seq2Seq
from rnnkit.models.seq2seq_parts import EncodedSource
from rnnkit.nn.fused_loops import weights_fixed


@dataclass
class Hypothesis:
    """One output: its tokens (without the start and end tokens), scores and attention."""

    tokens: list[int]
    log_prob: float  # log p(y | x), the end token's included when finished
    score: float  # log_prob / lp(length)
    finished: bool  # ended with the end token (else cut at the length limit)
    attention: np.ndarray | None = field(default=None, repr=False)  # (steps, source length)

    @property
    def length(self) -> int:
        """``|y|``: the tokens, plus the end token when finished."""
        return len(self.tokens) + int(self.finished)


def length_penalty(length: int | np.ndarray, alpha: float) -> Any:
    """GNMT's ``((5 + length) / 6) ** alpha``."""
    return ((5.0 + np.asarray(length, dtype=np.float64)) / 6.0) ** alpha


def length_limits(
    src_lengths: np.ndarray, max_length_ratio: float, max_length: int | None
) -> np.ndarray:
    """Per input, the most output tokens: ``max(1, ceil(ratio * source length))``, capped."""
    if not max_length_ratio > 0:
        raise ValueError(f"max_length_ratio: expected a positive number, got {max_length_ratio}")
    if max_length is not None and max_length < 1:
        raise ValueError(f"max_length: expected a positive integer, got {max_length}")
    limits = np.maximum(1, np.ceil(max_length_ratio * np.asarray(src_lengths))).astype(np.int64)
    return limits if max_length is None else np.minimum(limits, max_length)


def _step(model: Seq2Seq, tokens, state: DecoderState, encoded: EncodedSource):
    """``model.step`` with the padding and start tokens ruled out."""
    log_probs, state, weights = model.step(tokens, state, encoded)
    log_probs[:, [model.pad_id, model.bos_id]] = -np.inf
    if weights is not None:
        weights = model.source_order(weights, encoded.per_row(encoded.lengths))
    return log_probs, state, weights


def _attention(history: list[np.ndarray | None], length: int) -> np.ndarray | None:
    if not history or history[0] is None:
        return None
    return np.stack(history)[:, :length]


def greedy_search(
    model: Seq2Seq,
    src: Any,
    src_lengths: Any,
    max_length_ratio: float = 2.0,
    max_length: int | None = None,
) -> list[Hypothesis]:
    """The most likely token at every step, for each padded source row ``(B, S)``."""
    src_lengths = np.asarray(src_lengths)
    limits = length_limits(src_lengths, max_length_ratio, max_length)
    with _evaluating(model):
        encoded = model.encode(src, src_lengths)
        batch = len(src_lengths)
        state = model.start(encoded)
        rows = np.arange(batch)  # the inputs still decoding, in batch order
        tokens = np.full(batch, model.bos_id)
        outputs: list[list[int]] = [[] for _ in range(batch)]
        attention: list[list[Any]] = [[] for _ in range(batch)]
        log_probs_sum = np.zeros(batch)
        results: list[Hypothesis | None] = [None] * batch
        step = 0
        while rows.size:
            log_probs, state, weights = _step(model, tokens, state, encoded)
            tokens = log_probs.argmax(axis=1)
            keep = []
            for position, row in enumerate(rows):
                token = int(tokens[position])
                log_probs_sum[row] += log_probs[position, token]
                attention[row].append(None if weights is None else weights[position])
                finished = token == model.eos_id
                if not finished:
                    outputs[row].append(token)
                if finished or step + 1 >= limits[row]:
                    results[row] = Hypothesis(
                        outputs[row],
                        float(log_probs_sum[row]),
                        float(log_probs_sum[row]),  # lp is 1 at alpha = 0
                        finished,
                        _attention(attention[row], int(src_lengths[row])),
                    )
                else:
                    keep.append(position)
            keep = np.array(keep, dtype=np.int64)
            rows, tokens = rows[keep], tokens[keep]
            encoded, state = encoded.select(keep), state.select(keep)
            step += 1
    return results  # type: ignore[return-value]


@contextmanager
def _evaluating(model: Seq2Seq) -> Iterator[None]:
    """Evaluation mode inside the ``with`` block, the previous mode after; the weights stay
    as they are meanwhile, so the recurrent loops arrange them once (``weights_fixed``)."""
    was_training = model.training
    model.eval()
    try:
        with weights_fixed():
            yield
    finally:
        model.train(was_training)


def beam_search(
    model: Seq2Seq,
    src: Any,
    src_lengths: Any,
    beam_size: int = 5,
    alpha: float = 0.0,
    nbest: int = 1,
    max_length_ratio: float = 2.0,
    max_length: int | None = None,
) -> list[list[Hypothesis]]:
    """The ``nbest`` best hypotheses of each padded source row, best first (module doc).

    Args:
        model: a ``Seq2Seq`` (put in evaluation mode while searching).
        src, src_lengths: ``(B, S)`` padded source ids and ``(B,)`` lengths.
        beam_size: K, hypotheses kept per input; ``nbest`` must be at most K.
        alpha: the length penalty's exponent, >= 0.
    """
    if isinstance(beam_size, bool) or not isinstance(beam_size, (int, np.integer)) or beam_size < 1:
        raise ValueError(f"beam_size: expected a positive integer, got {beam_size!r}")
    if not 1 <= nbest <= beam_size:
        raise ValueError(f"nbest: expected 1 to beam_size={beam_size}, got {nbest}")
    if not alpha >= 0:
        raise ValueError(f"alpha: expected a number >= 0, got {alpha}")
    src_lengths = np.asarray(src_lengths)
    limits = length_limits(src_lengths, max_length_ratio, max_length)
    K = int(beam_size)
    with _evaluating(model):
        search = _Beams(model, model.encode(src, src_lengths), K, alpha, nbest, limits)
        while search.inputs.size:
            search.advance()
    return [sorted(found, key=lambda h: -h.score)[:nbest] for found in search.finished]


class _Beams:
    """The state of a beam search: K slots per input still searching, one batch row each."""

    def __init__(
        self,
        model: Seq2Seq,
        encoded: EncodedSource,
        K: int,
        alpha: float,
        nbest: int,
        limits: np.ndarray,
    ) -> None:
        self.model, self.K, self.alpha, self.nbest, self.limits = model, K, alpha, nbest, limits
        batch = encoded.memory.shape[0]
        self.inputs = np.arange(batch)  # inputs still searching
        # The first step has one hypothesis per input (the empty one): it runs on one row
        # per input, and its results are repeated into the K slots after.
        self.encoded = encoded
        self.state = model.start(encoded)
        self.tokens = np.full(batch, model.bos_id)
        self.scores = np.full((batch, K), -np.inf)
        self.scores[:, 0] = 0.0  # one hypothesis to start from: the empty one
        self.history = np.zeros((batch, K, 0), dtype=np.int64)
        self.attention: np.ndarray | None = None  # (inputs, K, steps, S)
        self.finished: list[list[Hypothesis]] = [[] for _ in range(batch)]
        self.step = 0

    def advance(self) -> None:
        """One step of every live hypothesis; finish, keep or drop the candidates."""
        model, K = self.model, self.K
        log_probs, self.state, weights = _step(model, self.tokens, self.state, self.encoded)
        if self.step == 0:
            slots = np.repeat(np.arange(len(self.inputs)), K)
            log_probs, self.state = log_probs[slots], self.state.select(slots)
            weights = None if weights is None else weights[slots]
            self.encoded = self.encoded.grouped(K)  # one source row per input, K rows each
        A, V = len(self.inputs), log_probs.shape[1]
        candidates = (self.scores[:, :, None] + log_probs.reshape(A, K, V)).reshape(A, K * V)
        best = np.argsort(-candidates, axis=1, kind="stable")[:, :K]  # (A, K), by rank
        best_scores = np.take_along_axis(candidates, best, axis=1)
        slots, chosen = best // V, best % V  # the slot each candidate extends, and its token
        history = np.take_along_axis(self.history, slots[:, :, None], axis=1)
        self.history = np.concatenate([history, chosen[:, :, None]], axis=2)  # by rank
        if weights is not None:
            weights = np.take_along_axis(weights.reshape(A, K, -1), slots[:, :, None], axis=1)
            past = self.attention
            if past is None:
                past = np.zeros((A, K, 0, weights.shape[-1]))
            past = np.take_along_axis(past, slots[:, :, None, None], axis=1)
            self.attention = np.concatenate([past, weights[:, :, None]], axis=2)  # by rank
        self.step += 1

        scores = np.full((A, K), -np.inf)
        ranks = np.zeros((A, K), dtype=np.int64)  # new slot k holds the candidate of rank ranks[k]
        keep = []
        for a, source in enumerate(self.inputs):
            live = 0
            at_limit = self.step >= self.limits[source]
            for rank in range(K):
                raw = best_scores[a, rank]
                if raw == -np.inf:
                    break
                ended = int(chosen[a, rank]) == model.eos_id
                if ended or at_limit:
                    self._finish(a, source, rank, float(raw), ended)
                    continue
                scores[a, live], ranks[a, live] = raw, rank
                live += 1
            if live and not at_limit and not self._done(source, scores[a, :live]):
                keep.append(a)
        self._reorder(np.array(keep, dtype=np.int64), scores, ranks, slots, chosen)

    def _finish(self, a: int, source: int, rank: int, raw: float, ended: bool) -> None:
        tokens = self.history[a, rank].tolist()
        if ended:
            tokens = tokens[:-1]
        attention = None
        if self.attention is not None:
            attention = self.attention[a, rank, :, : int(self.encoded.lengths[a])]
        length = len(tokens) + int(ended)
        score = raw / float(length_penalty(length, self.alpha))
        self.finished[source].append(Hypothesis(tokens, raw, score, ended, attention))

    def _done(self, source: int, live_scores: np.ndarray) -> bool:
        found = self.finished[source]
        if len(found) < self.nbest:
            return False
        kth = sorted((h.score for h in found), reverse=True)[self.nbest - 1]
        reachable = float(live_scores.max()) / float(
            length_penalty(self.limits[source], self.alpha)
        )
        return kth >= reachable

    def _reorder(self, keep, scores, ranks, slots, chosen) -> None:
        """Keep the inputs at positions ``keep``, slot k of each holding rank ``ranks[k]``."""
        ranks = ranks[keep]
        self.history = np.take_along_axis(self.history[keep], ranks[:, :, None], axis=1)
        if self.attention is not None:
            self.attention = np.take_along_axis(
                self.attention[keep], ranks[:, :, None, None], axis=1
            )
        parent_slots = np.take_along_axis(slots[keep], ranks, axis=1)
        rows = (keep[:, None] * self.K + parent_slots).ravel()  # rows of the last step
        # The encoded sources are one row per input (the largest arrays here): copied
        # only when inputs leave, whatever slots the hypotheses moved to.
        if len(keep) < len(self.inputs):
            self.encoded = self.encoded.select(keep)
        self.inputs = self.inputs[keep]
        self.scores = scores[keep]
        self.tokens = np.take_along_axis(chosen[keep], ranks, axis=1).ravel()
        self.state = self.state.select(rows)
