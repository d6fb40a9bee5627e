"""Each rank's share of a batch (``rnnkit.train.rank_shares``), without MPI: the ranks'
weighted losses and gradients add up to the whole batch's, in float64 to rounding, for
batches whose rows carry unequal parts of the loss (and a rank left without rows)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from rnnkit.models.char_word_encoder import make_word_chars
from rnnkit.models.conditioned_language_model import ConditionedLanguageModel
from rnnkit.models.forecaster import Forecaster
from rnnkit.models.sequence_tagger import SequenceTagger
from rnnkit.train.rank_shares import SPLITTERS, unwrapped, words_of_rows

LENGTHS = np.array([3, 7, 1, 5, 2])  # rows of unequal length: a row is not a token


class Rank:
    """Rank RANK of SIZE, as ``Distributed`` splits a batch."""

    def __init__(self, rank: int, size: int) -> None:
        self.rank, self.size, self.weight = rank, size, 1.0

    def rows(self, count: int) -> slice:
        return slice(self.rank * count // self.size, (self.rank + 1) * count // self.size)


def assert_ranks_add_up(model: Any, task: str, *batch: Any, ranks: int = 3) -> list[float]:
    """Train MODEL on BATCH whole, then split over RANKS; return the ranks' weights."""
    model.train()
    model.zero_grad()
    whole_loss = unwrapped(model)(*batch)
    whole = {name: grad.copy() for name, grad in model.grads.items()}
    loss, summed = 0.0, {name: np.zeros_like(grad) for name, grad in whole.items()}
    weights = []
    for rank in range(ranks):
        part = Rank(rank, ranks)
        model.zero_grad()
        local = SPLITTERS[task](model, part)(*batch)
        loss += part.weight * local
        for name, grad in model.grads.items():
            summed[name] += part.weight * grad
        weights.append(part.weight)
    assert loss == pytest.approx(whole_loss, rel=1e-12)
    for name in whole:
        np.testing.assert_allclose(summed[name], whole[name], rtol=1e-9, atol=1e-13, err_msg=name)
    assert any(np.any(grad != 0) for grad in whole.values())
    return weights


def padded(rng: np.random.Generator, high: int, pad: int) -> np.ndarray:
    ids = rng.integers(0, high, size=(len(LENGTHS), LENGTHS.max()))
    ids[np.arange(LENGTHS.max())[None, :] >= LENGTHS[:, None]] = pad
    return ids


@pytest.mark.parametrize("crf", ["none", "token_mean", "mean"])
@pytest.mark.parametrize("chars", [False, True], ids=["words", "chars"])
def test_a_taggers_sentences_share_by_tokens(crf: str, chars: bool) -> None:
    rng = np.random.default_rng(0)
    model = SequenceTagger(
        9, 4, char_vocab_size=5, embedding_size=4, char_embedding_size=3,
        char_hidden_size=3 if chars else 0, hidden_size=5, num_layers=1, dropout=0.0,
        crf=crf != "none", dtype=np.float64, rng=1,
    )  # fmt: skip
    if crf == "mean":  # a CRF whose loss is a mean per sentence: a sentence shares 1
        model.crf.reduction = "mean"
    ids = padded(rng, 9, model.pad_id)
    tags = padded(rng, 4, -1)
    spelling = [rng.integers(0, 5, size=rng.integers(1, 5)) for _ in range(10)]
    word_chars = None
    if chars:
        sentences = [[spelling[i] for i in row[:n]] for row, n in zip(ids, LENGTHS, strict=True)]
        word_chars = make_word_chars(sentences, int(LENGTHS.max()), 5)
    weights = assert_ranks_add_up(model, "tag", ids, LENGTHS, tags, word_chars)
    tokens = [3 / 18, 8 / 18, 7 / 18]  # rows 0, 1-2, 3-4 of the three ranks
    assert weights == pytest.approx([1 / 5, 2 / 5, 2 / 5] if crf == "mean" else tokens)


def test_a_ranks_words_are_the_ones_its_sentences_use() -> None:
    spelled = [[[1, 2], [3]], [[3], [4, 4, 4]], [[2], [4, 4, 4], [2]]]
    chars = make_word_chars(spelled, 3, 9)  # words (1, 2), (3), (4, 4, 4), (2)
    mine = words_of_rows(chars, slice(1, 3), np.array([2, 3]))
    assert mine.ids.tolist() == [[3, 9, 9], [4, 4, 4], [2, 9, 9]]
    assert mine.lengths.tolist() == [1, 3, 1]
    assert mine.index.tolist() == [[0, 1, 0], [2, 1, 2]]  # the padding reads word 0


@pytest.mark.parametrize("condition", ["category", "vector"])
def test_a_generators_texts_share_by_predicted_tokens(condition: str) -> None:
    rng = np.random.default_rng(2)
    model = ConditionedLanguageModel(
        7, condition=condition, num_categories=3, feature_size=3, condition_size=2,
        embedding_size=3, hidden_size=4, dropout=0.0, dtype=np.float64, rng=3,
    )  # fmt: skip
    inputs, targets = padded(rng, 7, model.pad_id), padded(rng, 7, model.pad_id)
    conditions = rng.integers(0, 3, size=5) if condition == "category" else rng.random((5, 3))
    weights = assert_ranks_add_up(model, "generate", inputs, targets, conditions, LENGTHS)
    assert weights == pytest.approx([3 / 18, 8 / 18, 7 / 18])


@pytest.mark.parametrize(
    "loss, decoder, rows",
    [("gaussian", "direct", 5), ("studentt", "autoregressive", 5), ("quantile", "direct", 2)],
)
def test_a_forecasters_windows_share_alike(loss: str, decoder: str, rows: int) -> None:
    # Two windows over three ranks: one rank trains on none.
    rng = np.random.default_rng(4)
    model = Forecaster(
        num_targets=2, num_past_covariates=1, num_future_covariates=1, lookback=4, horizon=3,
        hidden_size=4, decoder=decoder, loss=loss, window_mean=True, dtype=np.float64, rng=5,
    )  # fmt: skip
    past, covariates = rng.random((rows, 4, 2)) + 1, rng.random((rows, 4, 1))
    future, target = rng.random((rows, 7, 1)), rng.random((rows, 3, 2)) + 1
    weights = assert_ranks_add_up(model, "forecast", past, covariates, future, target)
    assert weights == pytest.approx([1 / 5, 2 / 5, 2 / 5] if rows == 5 else [0, 1 / 2, 1 / 2])
