"""Each MPI rank's share of a global batch, task by task: the rows it trains on, and the
weight of its loss.

Under ``mpiexec`` every rank makes the same global batch, and its model's
``loss_and_backward`` is replaced by the task's splitter (``SPLITTERS``), which passes the
model the rank's rows only (``part.rows(B)``, trimmed to their longest length) and sets
``part.weight``, the rank's part of the global batch's loss. Every loss here is a mean, so a
rank's part is its rows' share of the terms the mean is over:

=========  ==============================================  ================================
task       the loss of a batch                             a row's share
=========  ==============================================  ================================
lm         mean cross-entropy over B x T steps             1 (every row has T steps)
classify   mean cross-entropy over texts, or over their    1, or its class's weight
           summed class weights
seq2seq    mean cross-entropy over target tokens           its target tokens
tag        mean over tokens (cross-entropy, or the CRF's   its tokens (1 with a CRF
           ``token_mean``)                                 averaged per sentence)
generate   mean cross-entropy over predicted tokens        its predicted tokens
forecast   the head's mean over windows x horizon x        1 (every window has H steps
           series (x quantiles)                            of S series)
=========  ==============================================  ================================

So ``sum over ranks of weight x (rank's mean loss)`` is the global batch's loss, and the
same weighted sum of the ranks' gradients is its gradient. A batch with fewer rows than
ranks (an epoch's last) leaves a rank none: it returns a loss of 0 with weight 0.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, Protocol

import numpy as np

from rnnkit.models.char_word_encoder import WordChars


class Part(Protocol):
    """One rank's part of a batch (``rnnkit.train.distributed.Distributed``)."""

    weight: float

    def rows(self, count: int) -> slice: ...


def take_share(part: Part, shares: np.ndarray) -> slice:
    """PART's rows of a batch whose rows have SHARES of its loss's terms; sets
    ``part.weight`` to those rows' part of all of them."""
    rows = part.rows(len(shares))
    total = float(np.sum(shares))
    part.weight = float(np.sum(shares[rows])) / total if total > 0 else 0.0
    return rows


def unwrapped(model: Any) -> Callable[..., Any]:
    """MODEL's own ``loss_and_backward`` (not the splitter that may stand in for it)."""
    return type(model).loss_and_backward.__get__(model)


def split_lm(model: Any, part: Part) -> Callable[..., Any]:
    """A language model's window: PART's rows, each with as many steps. The state passed
    in is already PART's rows of it (``Distributed.local_state``)."""
    original = unwrapped(model)

    def loss_and_backward(inputs: Any, targets: Any, state: Any = None) -> Any:
        rows = take_share(part, np.ones(len(inputs)))
        return original(inputs[rows], targets[rows], state)

    return loss_and_backward


def split_classify(model: Any, part: Part) -> Callable[..., float]:
    """A classifier's texts; with class weights a text's share is its class's weight."""
    original = unwrapped(model)
    signature = inspect.signature(original)

    def loss_and_backward(ids: Any, lengths: Any, targets: Any, *args: Any, **kwargs: Any) -> float:
        ids, lengths, targets = np.asarray(ids), np.asarray(lengths), np.asarray(targets)
        bound = signature.bind(ids, lengths, targets, *args, **kwargs).arguments
        weights = bound.get("class_weights")
        shares = np.ones(len(ids)) if weights is None else np.asarray(weights)[targets]
        rows = take_share(part, shares)
        if rows.stop == rows.start:
            return 0.0
        local = lengths[rows]
        return original(ids[rows, : int(local.max())], local, targets[rows], *args, **kwargs)

    return loss_and_backward


def split_seq2seq(model: Any, part: Part) -> Callable[..., float]:
    """A seq2seq batch's pairs, each sharing as many target tokens as it has."""
    original = unwrapped(model)

    def loss_and_backward(
        src: Any, src_lengths: Any, tgt_in: Any, tgt_out: Any, tgt_lengths: Any, **options: Any
    ) -> float:
        tgt_lengths = np.asarray(tgt_lengths)
        rows = take_share(part, tgt_lengths)
        if rows.stop == rows.start:
            return 0.0
        sources, tokens = np.asarray(src_lengths)[rows], tgt_lengths[rows]
        steps, target_steps = int(sources.max()), int(tokens.max())
        return original(
            np.asarray(src)[rows, :steps], sources,
            np.asarray(tgt_in)[rows, :target_steps],
            np.asarray(tgt_out)[rows, :target_steps], tokens, **options,
        )  # fmt: skip

    return loss_and_backward


def split_tag(model: Any, part: Part) -> Callable[..., float]:
    """A tagger's sentences, each sharing its tokens (or 1 with a CRF whose loss is a
    mean per sentence); their words' characters go with them."""
    original = unwrapped(model)
    reduction = model.crf.reduction if model.use_crf else "token_mean"
    if reduction not in ("token_mean", "mean"):
        raise ValueError(f"crf.reduction: cannot split a batch whose loss is a {reduction!r}")

    def loss_and_backward(
        ids: Any, lengths: Any, tags: Any, chars: WordChars | None = None
    ) -> float:
        ids, lengths, tags = np.asarray(ids), np.asarray(lengths), np.asarray(tags)
        rows = take_share(part, lengths if reduction == "token_mean" else np.ones(len(lengths)))
        if rows.stop == rows.start:
            return 0.0
        local = lengths[rows]
        steps = int(local.max())
        if chars is not None:
            chars = words_of_rows(chars, rows, local)
        return original(ids[rows, :steps], local, tags[rows, :steps], chars)

    return loss_and_backward


def words_of_rows(chars: WordChars, rows: slice, lengths: np.ndarray) -> WordChars:
    """The ``WordChars`` of the sentences ROWS, of LENGTHS tokens: the words they use
    only, numbered anew (padding points at the first), so a rank reads no other's words."""
    steps = int(lengths.max())
    index = np.asarray(chars.index)[rows, :steps]
    real = np.arange(steps)[None, :] < lengths[:, None]
    used, local = np.unique(index[real], return_inverse=True)
    renumbered = np.zeros(index.shape, dtype=np.int64)
    renumbered[real] = local.reshape(-1)
    word_lengths = np.asarray(chars.lengths)[used]
    ids = np.asarray(chars.ids)[used, : int(word_lengths.max())]
    return WordChars(ids, word_lengths, renumbered)


def split_generate(model: Any, part: Part) -> Callable[..., float]:
    """A conditioned generator's texts with their conditions (ids or feature rows), each
    text sharing its predicted tokens."""
    original = unwrapped(model)

    def loss_and_backward(inputs: Any, targets: Any, condition: Any, lengths: Any = None) -> float:
        inputs, targets = np.asarray(inputs), np.asarray(targets)
        lengths = np.full(len(inputs), inputs.shape[1]) if lengths is None else np.asarray(lengths)
        rows = take_share(part, lengths)
        if rows.stop == rows.start:
            return 0.0
        local = lengths[rows]
        steps = int(local.max())
        conditions = np.asarray(condition)[rows]
        return original(inputs[rows, :steps], targets[rows, :steps], conditions, local)

    return loss_and_backward


def split_forecast(model: Any, part: Part) -> Callable[..., float]:
    """A forecaster's windows: each has as many terms in the head's mean (H steps of S
    series, of every quantile), so each shares 1."""
    original = unwrapped(model)

    def loss_and_backward(
        past_target: Any, past_covariates: Any, future_covariates: Any, future_target: Any
    ) -> float:
        rows = take_share(part, np.ones(len(past_target)))
        if rows.stop == rows.start:
            return 0.0

        def mine(array: Any) -> Any:
            return None if array is None else np.asarray(array)[rows]

        return original(
            mine(past_target), mine(past_covariates), mine(future_covariates), mine(future_target)
        )

    return loss_and_backward


# The splitter of each task that trains on several ranks, by the task's name.
SPLITTERS: dict[str, Callable[[Any, Part], Callable[..., Any]]] = {
    "lm": split_lm,
    "classify": split_classify,
    "seq2seq": split_seq2seq,
    "tag": split_tag,
    "generate": split_generate,
    "forecast": split_forecast,
}
