"""Measuring a language model: mean cross-entropy over a token stream, and what it means.

The loss is in nats per token. For word models it is also given as perplexity,
``exp(loss)``: the number of equally likely words the model is, on average, choosing
between. For character and jamo models it is given in bits per character: the bits the
model needs for the evaluated text divided by the number of characters that text has.

For a character model a token is a character, so that is simply ``loss / ln 2``. A jamo
model reads each Korean syllable as 2 or 3 tokens (its letters), and bits per token would
make it look better than a character model on the same text when it is not: the syllable
``한`` costs the bits of its three jamo together and counts as one character, as it does
in the text the user gave and in the text the model writes.

Tokens the vocabulary lacks are read as ``<unk>`` and scored like any other token: a model
that predicts ``<unk>`` well (a word model whose ``<unk>`` stands for every rare word) or
badly (a character model that never saw one in training) moves the loss, so the report
gives their count and rate beside it and, past ``UNKNOWN_RATE_LIMIT``, says the result is
not comparable with one on text the vocabulary covers.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import numpy as np

from rnnkit.data.lm_batches import check_stream_sizes

# LEAD_JAMO, VOWEL_JAMO, TAIL_JAMO: the conjoining jamo that ``JamoTokenizer.decode``
# composes into syllables.
from rnnkit.data.tokenizers import LEAD_JAMO, TAIL_JAMO, UNK, VOWEL_JAMO, Tokenizer
from rnnkit.errors import UserError
from rnnkit.models import LanguageModel

# Past this share of <unk> among the predicted tokens, a loss says more about <unk> than
# about the text.
UNKNOWN_RATE_LIMIT = 0.05


def evaluate_language_model(
    model: LanguageModel,
    ids: np.ndarray,
    batch_size: int,
    seq_len: int,
    max_tokens: int | None = None,
) -> tuple[float, int]:
    """``(mean loss in nats per token, number of tokens predicted)`` over the stream IDS.

    Every token but the first is predicted once. The stream is read as ``batch_size``
    side-by-side streams (fewer if IDS is short), each from a zero state and carrying its
    state from window to window, in evaluation mode (no dropout, no caches); the few
    tokens that do not fill every stream equally continue the last one. The model's mode
    is restored afterwards.

    MAX_TOKENS caps the work, as nanoGPT's ``eval_iters`` does: every stream is read for
    its first ``ceil(max_tokens / streams)`` steps only, so about MAX_TOKENS tokens are
    predicted, from as many places in the text as there are streams, and the same ones
    at every evaluation.
    """
    windows = _evaluation_windows(ids, batch_size, seq_len, max_tokens)
    was_training = model.training
    model.eval()
    total, count, state = 0.0, 0, None
    try:
        for inputs, targets, continues_last_stream in windows:
            if continues_last_stream and state is not None:
                state = _last_row(state)
            loss, state = model.loss(inputs, targets, state)
            total += loss * targets.size
            count += targets.size
    finally:
        model.train(was_training)
    return total / count, count


def measure_language_model(
    model: LanguageModel,
    tokenizer: Tokenizer,
    ids: np.ndarray,
    batch_size: int,
    seq_len: int,
    max_tokens: int | None = None,
) -> dict[str, float]:
    """The loss on the stream IDS and what it means, as ``rnnkit eval`` reports it.

    ``loss`` (nats per token), ``bits_per_char`` or ``perplexity``, ``tokens`` (how many
    were predicted) and, for char and jamo models, ``characters`` (how many characters of
    the text those tokens complete). Bits per character is then ``loss * tokens / ln 2 /
    characters``: the bits for the text over its length in characters. MAX_TOKENS: see
    ``evaluate_language_model``.
    """
    loss, tokens = evaluate_language_model(model, ids, batch_size, seq_len, max_tokens)
    if tokenizer.kind == "word":
        return {**loss_measures(loss, tokenizer.kind), "tokens": tokens}
    # A char model's every token is a character: only a jamo model needs the count.
    characters = (
        tokens
        if tokenizer.kind == "char"
        else predicted_characters(tokenizer, ids, batch_size, seq_len, max_tokens)
    )
    if characters == 0:
        # Every predicted token sits inside a syllable whose end is never predicted.
        raise UserError(
            f"cannot measure bits per character on {len(ids)} token(s) that complete no "
            "character; give a longer text"
        )
    return {
        **loss_measures(loss, tokenizer.kind, tokens / characters),
        "tokens": tokens,
        "characters": characters,
    }


def evaluation_report(
    model: LanguageModel,
    tokenizer: Tokenizer,
    ids: np.ndarray,
    batch_size: int,
    seq_len: int,
    max_tokens: int | None = None,
    unknown: np.ndarray | None = None,
) -> dict[str, float | int | bool | str]:
    """What ``rnnkit eval`` reports: ``measure_language_model`` and ``unknown_measures``."""
    return {
        **measure_language_model(model, tokenizer, ids, batch_size, seq_len, max_tokens),
        **unknown_measures(tokenizer, ids, batch_size, seq_len, max_tokens, unknown),
    }


def unknown_measures(
    tokenizer: Tokenizer,
    ids: np.ndarray,
    batch_size: int,
    seq_len: int,
    max_tokens: int | None = None,
    unknown: np.ndarray | None = None,
) -> dict[str, float | int | bool | str]:
    """How many of the tokens ``evaluate_language_model`` predicts are unknown.

    UNKNOWN marks the ids that stand for a word or character the vocabulary lacks
    (``tokenizer.unknown_mask(text)``, which leaves out a literal ``<unk>`` of the text, as
    in the Penn Treebank files); by default every ``<unk>`` id counts.

    ``unknown_tokens`` (the count), ``unknown_rate`` (over the predicted tokens, which the
    loss averages over, ``<unk>`` included), ``comparable`` (the rate is at most
    ``UNKNOWN_RATE_LIMIT``) and, when it is not, a ``note`` saying why.
    """
    if unknown is not None and np.shape(unknown) != np.shape(ids):
        raise ValueError(
            f"unknown: expected one flag per id {np.shape(ids)}, got {np.shape(unknown)}"
        )
    # Window by window, so that IDS or UNKNOWN may be memory-mapped files of any size.
    count, tokens, unknown_id = 0, 0, tokenizer.unknown_id
    source = ids if unknown is None else unknown
    for _, targets, _ in _evaluation_windows(source, batch_size, seq_len, max_tokens):
        if unknown is not None:
            count += int(np.count_nonzero(targets))
        elif unknown_id is not None:  # no <unk> in the vocabulary: nothing is unknown
            count += int(np.count_nonzero(targets == unknown_id))
        tokens += targets.size
    rate = count / tokens
    report: dict[str, float | int | bool | str] = {
        "unknown_tokens": count,
        "unknown_rate": rate,
        "comparable": rate <= UNKNOWN_RATE_LIMIT,
    }
    if not report["comparable"]:
        report["note"] = (
            f"not comparable: {rate:.1%} of the predicted tokens are unknown to the model "
            f"(over {UNKNOWN_RATE_LIMIT:.0%}) and scored as {UNK}, so the loss measures "
            f"{UNK} more than the text"
        )
    return report


def describe_unknown(report: dict[str, float | int | bool | str]) -> str:
    """What ``unknown_measures`` returned as e.g. ``"12 unknown (0.35%)"``."""
    return f"{report['unknown_tokens']:,} unknown ({report['unknown_rate']:.2%})"


def predicted_characters(
    tokenizer: Tokenizer,
    ids: np.ndarray,
    batch_size: int,
    seq_len: int,
    max_tokens: int | None = None,
) -> int:
    """How many characters of the text ``evaluate_language_model`` predicts.

    A character counts when its last token is one of the predicted targets. The targets
    are those of the same windows, so the count matches the tokens the loss averages over
    (the text's first token has nothing before it to predict it from; with MAX_TOKENS, only
    the first steps of every stream are predicted).
    """
    ends = character_ends(tokenizer, ids)
    windows = _evaluation_windows(ends, batch_size, seq_len, max_tokens)
    return int(sum(targets.sum() for _, targets, _ in windows))


def character_ends(tokenizer: Tokenizer, ids: np.ndarray) -> np.ndarray:
    """1 for each token of IDS that ends a character of the decoded text, else 0.

    Every token is a character of its own, except in a jamo model, where a Hangul syllable
    is 2 or 3 tokens that decoding joins into one character. So the sum is the length of
    ``tokenizer.decode(ids)``.
    """
    joins = _joins_previous(tokenizer, np.asarray(ids, dtype=np.int64))
    ends = np.ones(len(joins), dtype=np.int64)
    ends[:-1] = ~joins[1:]  # a token ends its character unless the next token joins it
    return ends


def _joins_previous(tokenizer: Tokenizer, ids: np.ndarray) -> np.ndarray:
    """Whether each token joins the character of the token before it (jamo models only):
    a vowel after a lead consonant, or a tail consonant after such a vowel."""
    joins = np.zeros(len(ids), dtype=bool)
    if tokenizer.kind != "jamo" or len(ids) == 0:
        return joins
    # <unk>, the one entry that is not a single character, joins nothing.
    codes = np.array([ord(token) if len(token) == 1 else -1 for token in tokenizer.vocab])[ids]
    lead, vowel, tail = (
        (codes >= lo) & (codes <= hi) for lo, hi in (LEAD_JAMO, VOWEL_JAMO, TAIL_JAMO)
    )
    joins[1:] = vowel[1:] & lead[:-1]
    # Only a vowel that completed a lead+vowel pair takes a tail: joins[j - 1] is True.
    joins[2:] |= tail[2:] & joins[1:-1]
    return joins


def _evaluation_windows(
    ids: np.ndarray, batch_size: int, seq_len: int, max_tokens: int | None
) -> Iterator[tuple[np.ndarray, np.ndarray, bool]]:
    """The ``(inputs, targets, continues_last_stream)`` windows evaluation reads IDS in.

    Every token but the first is a target exactly once. The ``len(ids) - 1`` targets are
    cut into ``streams`` equal runs of ``m`` read side by side (``streams`` is
    ``batch_size``, or fewer on a short text); each run's inputs are the tokens just before
    its targets, so stream k starts from the last token of stream k-1. The ``r <
    streams`` targets left over continue the last stream, one row wide
    (``continues_last_stream``), from the state that stream ended in.

        ids  a b c d e f g h     batch_size=3 -> targets b..h, m=2, r=1
        stream 0  inputs a b  targets b c
        stream 1  inputs c d  targets d e
        stream 2  inputs e f  targets f g,  then inputs g / targets h (the rest)

    With MAX_TOKENS, only the first ``ceil(max_tokens / streams)`` steps of every stream
    are read (and the rest only if they cover the streams whole).
    """
    if max_tokens is not None and max_tokens < 1:
        raise UserError(f"max_tokens must be at least 1, got {max_tokens}")
    if len(ids) < 2:
        raise UserError(
            f"cannot evaluate on {len(ids)} token(s): at least 2 are needed (an input and "
            "its target); give a longer text"
        )
    check_stream_sizes(batch_size, seq_len)
    ids = np.asarray(ids)
    streams = min(batch_size, len(ids) - 1)
    steps = (len(ids) - 1) // streams
    # Views, so a memory-mapped IDS is read only a window at a time.
    inputs, targets = ids[: streams * steps], ids[1 : streams * steps + 1]
    inputs, targets = inputs.reshape(streams, steps), targets.reshape(streams, steps)
    read = steps if max_tokens is None else min(steps, -(-max_tokens // streams))
    for start in range(0, read, seq_len):
        stop = min(start + seq_len, read)
        yield _int64(inputs[:, start:stop]), _int64(targets[:, start:stop]), False
    if read < steps:
        return
    for start in range(streams * steps, len(ids) - 1, seq_len):
        stop = min(start + seq_len, len(ids) - 1)
        yield _int64(ids[None, start:stop]), _int64(ids[None, start + 1 : stop + 1]), True


def _int64(window: np.ndarray) -> np.ndarray:
    # A copy, so a caller that changes a window cannot change the data behind it.
    return window.astype(np.int64)


def _last_row(state: Any) -> Any:
    """The state of the last row of a batch: ``(num_layers, 1, H)``, or such a pair."""
    if isinstance(state, (tuple, list)):
        return tuple(part[:, -1:] for part in state)
    return state[:, -1:]


def loss_measures(
    loss: float, tokenizer_kind: str, tokens_per_char: float = 1.0
) -> dict[str, float]:
    """``loss`` plus ``perplexity`` (word models) or ``bits_per_char`` (the others).

    TOKENS_PER_CHAR turns bits per token into bits per character: 1 for a character
    model, more for a jamo model (a Korean syllable is 2 or 3 tokens).
    """
    if tokenizer_kind == "word":
        # exp overflows a float past ~709 nats; a model that bad is infinitely perplexed.
        return {"loss": loss, "perplexity": math.exp(loss) if loss < 700 else math.inf}
    return {"loss": loss, "bits_per_char": loss / math.log(2) * tokens_per_char}


def describe_measures(measures: dict[str, float]) -> str:
    """What ``loss_measures`` returned as e.g. ``"loss 1.234 (1.780 bits/char)"`` or
    ``"loss 4.75 (perplexity 115.6)"``."""
    loss = measures["loss"]
    if "perplexity" in measures:
        return f"loss {loss:.4f} (perplexity {measures['perplexity']:.2f})"
    return f"loss {loss:.4f} ({measures['bits_per_char']:.3f} bits/char)"
