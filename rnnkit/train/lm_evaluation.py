"""Measuring a language model: mean cross-entropy over a token stream, and what it means.

The loss is in nats per token. For character (and jamo) models it is also given in bits
per character, ``loss / ln 2``; for word models as perplexity, ``exp(loss)``: the number
of equally likely words the model is, on average, choosing between.
"""

from __future__ import annotations

import math

import numpy as np

from rnnkit.data.lm_batches import StreamBatcher
from rnnkit.errors import UserError
from rnnkit.models import LanguageModel


def evaluate_language_model(
    model: LanguageModel, ids: np.ndarray, batch_size: int, seq_len: int
) -> tuple[float, int]:
    """``(mean loss in nats per token, number of tokens predicted)`` over the stream IDS.

    The stream is read as ``batch_size`` side-by-side streams (fewer if IDS is short),
    each from a zero state and carrying its state from window to window, in evaluation
    mode (no dropout, no caches). The model's mode is restored afterwards.
    """
    if len(ids) < 2:
        raise UserError(
            f"cannot evaluate on {len(ids)} token(s): at least 2 are needed (an input and "
            "its target); give a longer text"
        )
    batcher = StreamBatcher(ids, min(batch_size, len(ids) // 2), seq_len)
    was_training = model.training
    model.eval()
    total, count, state = 0.0, 0, None
    try:
        for inputs, targets in batcher:
            loss, state = model.loss(inputs, targets, state)
            total += loss * targets.size
            count += targets.size
    finally:
        model.train(was_training)
    return total / count, count


def loss_measures(loss: float, tokenizer_kind: str) -> dict[str, float]:
    """``loss`` plus ``perplexity`` (word models) or ``bits_per_char`` (the others)."""
    if tokenizer_kind == "word":
        # exp overflows a float past ~709 nats; a model that bad is infinitely perplexed.
        return {"loss": loss, "perplexity": math.exp(loss) if loss < 700 else math.inf}
    return {"loss": loss, "bits_per_char": loss / math.log(2)}


def describe_loss(loss: float, tokenizer_kind: str) -> str:
    """E.g. ``"loss 1.234 (1.780 bits/char)"`` or ``"loss 4.75 (perplexity 115.6)"``."""
    measures = loss_measures(loss, tokenizer_kind)
    if "perplexity" in measures:
        return f"loss {loss:.4f} (perplexity {measures['perplexity']:.2f})"
    return f"loss {loss:.4f} ({measures['bits_per_char']:.3f} bits/char)"
