"""Greedy and beam search for ``Seq2Seq``: every hypothesis of every input is one row of one
batch, stepped together.

A hypothesis ``y = y_1 .. y_n`` of a source ``x`` scores

    log p(y | x) = sum_t log p(y_t | y_<t, x)         (with the end token when it ended)
    score(y)     = log p(y | x) / lp(|y|),   lp(l) = ((5 + l) / 6) ** alpha   (GNMT, Wu et al. 2016)

where ``|y|`` counts the end token of a finished hypothesis; ``alpha = 0`` ranks by the
plain log-probability, a larger ``alpha`` favours longer outputs. The padding and start
tokens are never chosen. Each input's output is limited to
``max(1, ceil(max_length_ratio * source length))`` tokens (and to ``max_length`` if given;
the ratio is at most ``MOST_RATIO``, so that a model that never chooses the end token
still stops);
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

Both searches also take a list of models, an ensemble, reading the same source ids and
writing the same target vocabulary, and search it as one model whose next-token
distribution is the mean of the members' (``_Ensemble``); every member encodes the sources
and steps its own decoder rows.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from rnnkit.models.search_steps import SearchSteps
from rnnkit.models.seq2seq import Seq2Seq
from rnnkit.models.seq2seq_parts import EncodedSource
from rnnkit.nn.fused_loops import weights_fixed

# The largest max_length_ratio: outputs of 100 times their source are far past any
# transduction (phonemes of a word ~1x, characters of its words ~6x), and a bound is what
# stops a model that never chooses the end token.
MOST_RATIO = 100.0


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
    if not 0 < max_length_ratio <= MOST_RATIO:
        raise ValueError(
            f"max_length_ratio: expected a positive number up to {MOST_RATIO:g}, "
            f"got {max_length_ratio}"
        )
    if max_length is not None and max_length < 1:
        raise ValueError(f"max_length: expected a positive integer, got {max_length}")
    steps = np.maximum(np.ceil(max_length_ratio * np.asarray(src_lengths)), 1)
    limits = steps.astype(np.int64)
    return limits if max_length is None else np.minimum(limits, max_length)


class _Decoder:
    """The decoder rows of one model: ``SearchSteps`` where it applies, else ``Seq2Seq.step``.

    Row ``n`` of a step continues row ``parents[n]`` of the previous one; the sources are
    one row per input, read by ``group`` consecutive decoder rows.
    """

    def __init__(self, model: Seq2Seq, encoded: EncodedSource) -> None:
        self.model = model
        self.fast = SearchSteps(model) if SearchSteps.applies(model) else None
        if self.fast is not None:
            self.sources: Any = self.fast.prepare(encoded)
            self.state: Any = self.fast.start(encoded)
        else:
            self.sources, self.state = encoded, model.start(encoded)

    @property
    def lengths(self) -> np.ndarray:
        return self.sources.lengths

    def step(self, tokens: np.ndarray, parents: np.ndarray | None) -> tuple:
        """``(log-probabilities (N, V), attention weights (N, S) or None)`` of ``tokens``
        ``(N,)``, the padding and start tokens ruled out; the state moves on a step."""
        model = self.model
        if self.fast is not None:
            log_probs, self.state, weights = self.fast.step(
                tokens, self.state, self.sources, parents
            )
        else:
            state = self.state if parents is None else self.state.select(parents)
            log_probs, self.state, weights = model.step(tokens, state, self.sources)
        log_probs[:, [model.pad_id, model.bos_id]] = -np.inf
        if weights is not None:
            weights = model.source_order(weights, self.sources.per_row(self.sources.lengths))
        return log_probs, weights

    def grouped(self, group: int) -> None:
        """From now on each source row is read by ``group`` decoder rows."""
        self.sources = replace(self.sources, group=int(group))

    def select(self, rows: np.ndarray) -> None:
        """Keep the source rows ``rows``."""
        self.sources = self.sources.select(rows)


class _Ensemble:
    """The decoder rows of several models stepped together, read as one model whose next
    token distribution is the mean of theirs::

        p(y_t | y_<t, x) = (1 / M) sum_m p_m(y_t | y_<t, x)

    and whose attention weights are the mean of the members' that attend (else None).
    """

    def __init__(self, models: Sequence[Seq2Seq], src: Any, src_lengths: np.ndarray) -> None:
        self.members = [_Decoder(model, model.encode(src, src_lengths)) for model in models]

    @property
    def lengths(self) -> np.ndarray:
        return self.members[0].lengths

    def step(self, tokens: np.ndarray, parents: np.ndarray | None) -> tuple:
        steps = [member.step(tokens, parents) for member in self.members]
        if len(steps) == 1:
            return steps[0]
        log_probs = np.logaddexp.reduce([s[0] for s in steps], axis=0) - np.log(len(steps))
        attending = [s[1] for s in steps if s[1] is not None]
        weights = np.mean(attending, axis=0) if attending else None
        return log_probs, weights

    def grouped(self, group: int) -> None:
        for member in self.members:
            member.grouped(group)

    def select(self, rows: np.ndarray) -> None:
        for member in self.members:
            member.select(rows)


def ensemble_members(model: Seq2Seq | Sequence[Seq2Seq]) -> list[Seq2Seq]:
    """MODEL as a list of models, checked to share the special tokens and the target
    vocabulary's size (the searches below read a list as an ensemble)."""
    models = [model] if isinstance(model, Seq2Seq) else list(model)
    if not models:
        raise ValueError("model: expected a Seq2Seq or a non-empty list of them")
    first = models[0]
    for other in models[1:]:
        ours = (first.pad_id, first.bos_id, first.eos_id, first.target_vocab_size)
        theirs = (other.pad_id, other.bos_id, other.eos_id, other.target_vocab_size)
        if ours != theirs:
            raise ValueError(
                "model: an ensemble's models must share the target vocabulary and its special "
                f"tokens (pad, bos, eos, size), got {ours} and {theirs}"
            )
    return models


def _attention(history: list[np.ndarray | None], length: int) -> np.ndarray | None:
    if not history or history[0] is None:
        return None
    return np.stack(history)[:, :length]


def greedy_search(
    model: Seq2Seq | Sequence[Seq2Seq],
    src: Any,
    src_lengths: Any,
    max_length_ratio: float = 2.0,
    max_length: int | None = None,
) -> list[Hypothesis]:
    """The most likely token at every step, for each padded source row ``(B, S)``; MODEL
    may be a list of models, read as an ensemble (``_Ensemble``)."""
    models = ensemble_members(model)
    model = models[0]
    src_lengths = np.asarray(src_lengths)
    limits = length_limits(src_lengths, max_length_ratio, max_length)
    with _evaluating(models):
        decoder = _Ensemble(models, src, src_lengths)
        batch = len(src_lengths)
        rows = np.arange(batch)  # the inputs still decoding, in batch order
        tokens = np.full(batch, model.bos_id)
        outputs: list[list[int]] = [[] for _ in range(batch)]
        attention: list[list[Any]] = [[] for _ in range(batch)]
        log_probs_sum = np.zeros(batch)
        results: list[Hypothesis | None] = [None] * batch
        step, parents = 0, None
        while rows.size:
            log_probs, weights = decoder.step(tokens, parents)
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
            rows, tokens, parents = rows[keep], tokens[keep], keep
            decoder.select(keep)
            step += 1
    return results  # type: ignore[return-value]


@contextmanager
def _evaluating(models: list[Seq2Seq]) -> Iterator[None]:
    """Evaluation mode inside the ``with`` block, the previous mode after; the weights stay
    as they are meanwhile, so the recurrent loops arrange them once (``weights_fixed``)."""
    with ExitStack() as stack:
        for model in models:
            stack.enter_context(_evaluating_one(model))
        with weights_fixed():
            yield


@contextmanager
def _evaluating_one(model: Seq2Seq) -> Iterator[None]:
    was_training = model.training
    model.eval()
    try:
        yield
    finally:
        model.train(was_training)


def beam_search(
    model: Seq2Seq | Sequence[Seq2Seq],
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
        model: a ``Seq2Seq`` (put in evaluation mode while searching), or a list of them
            sharing the target vocabulary, read as an ensemble (``_Ensemble``).
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
    models = ensemble_members(model)
    with _evaluating(models):
        decoder = _Ensemble(models, src, src_lengths)
        search = _Beams(models[0], decoder, K, alpha, nbest, limits)
        while search.inputs.size:
            search.advance()
    return [sorted(found, key=lambda h: -h.score)[:nbest] for found in search.finished]


class _Beams:
    """The state of a beam search: K slots per input still searching, one batch row each."""

    def __init__(
        self,
        model: Seq2Seq,
        decoder: _Ensemble,
        K: int,
        alpha: float,
        nbest: int,
        limits: np.ndarray,
    ) -> None:
        self.model, self.K, self.alpha, self.nbest, self.limits = model, K, alpha, nbest, limits
        batch = len(limits)
        self.inputs = np.arange(batch)  # inputs still searching
        # The first step has one hypothesis per input (the empty one): it runs on one row
        # per input, and its results are repeated into the K slots after.
        self.decoder = decoder
        self.parents: np.ndarray | None = None  # the state row each decoder row continues
        self.tokens = np.full(batch, model.bos_id)
        self.scores = np.full((batch, K), -np.inf)
        self.scores[:, 0] = 0.0  # one hypothesis to start from: the empty one
        self.history = np.zeros((batch, K, 0), dtype=np.int64)
        self.attention: np.ndarray | None = None  # (inputs, K, steps, S)
        self.finished: list[list[Hypothesis]] = [[] for _ in range(batch)]
        # per input, the nbest-th best finished score (-inf until there are nbest)
        self.kth_best = np.full(batch, -np.inf)
        self.step = 0

    def advance(self) -> None:
        """One step of every live hypothesis; finish, keep or drop the candidates."""
        model, K = self.model, self.K
        log_probs, weights = self.decoder.step(self.tokens, self.parents)
        A = len(self.inputs)
        if self.step == 0:
            slots = np.repeat(np.arange(A), K)
            log_probs = log_probs[slots]
            weights = None if weights is None else weights[slots]
            self.decoder.grouped(K)  # one source row per input, K rows each
            state_rows = slots.reshape(A, K)  # the K slots all continue the input's one row
        else:
            state_rows = np.arange(A * K).reshape(A, K)
        V = log_probs.shape[1]
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

        # Candidates are by rank, so the real ones (finite) come first in each row.
        real = np.isfinite(best_scores)
        ended = chosen == model.eos_id
        at_limit = self.step >= self.limits[self.inputs]
        leaving = real & (ended | at_limit[:, None])
        for a, rank in zip(*np.nonzero(leaving), strict=True):
            self._finish(a, int(self.inputs[a]), rank, float(best_scores[a, rank]), ended[a, rank])
        live = real & ~leaving
        ranks = np.argsort(~live, axis=1, kind="stable")  # new slot k holds rank ranks[k]
        scores = np.take_along_axis(np.where(live, best_scores, -np.inf), ranks, axis=1)
        # An input is done when its nbest-th finished hypothesis scores at least what its
        # best live one could still reach (module docstring).
        reachable = scores[:, 0] / length_penalty(self.limits[self.inputs], self.alpha)
        done = self.kth_best[self.inputs] >= reachable
        keep = np.flatnonzero(live.any(axis=1) & ~at_limit & ~done)
        self._reorder(keep, scores, ranks, slots, chosen, state_rows)

    def _finish(self, a: int, source: int, rank: int, raw: float, ended: bool) -> None:
        tokens = self.history[a, rank].tolist()
        if ended:
            tokens = tokens[:-1]
        attention = None
        if self.attention is not None:
            attention = self.attention[a, rank, :, : int(self.decoder.lengths[a])]
        length = len(tokens) + int(ended)
        score = raw / float(length_penalty(length, self.alpha))
        found = self.finished[source]
        found.append(Hypothesis(tokens, raw, score, bool(ended), attention))
        if len(found) >= self.nbest:
            self.kth_best[source] = sorted((h.score for h in found), reverse=True)[self.nbest - 1]

    def _reorder(self, keep, scores, ranks, slots, chosen, state_rows) -> None:
        """Keep the inputs at positions ``keep``, slot k of each holding rank ``ranks[k]``."""
        ranks = ranks[keep]
        self.history = np.take_along_axis(self.history[keep], ranks[:, :, None], axis=1)
        if self.attention is not None:
            self.attention = np.take_along_axis(
                self.attention[keep], ranks[:, :, None, None], axis=1
            )
        parent_slots = np.take_along_axis(slots[keep], ranks, axis=1)
        self.parents = state_rows[keep[:, None], parent_slots].ravel()
        # The sources are one row per input (the largest arrays here): copied only when
        # inputs leave, whatever slots the hypotheses moved to.
        if len(keep) < len(self.inputs):
            self.decoder.select(keep)
        self.inputs = self.inputs[keep]
        self.scores = scores[keep]
        self.tokens = np.take_along_axis(chosen[keep], ranks, axis=1).ravel()
