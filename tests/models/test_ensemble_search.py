"""Searching several models as one (``rnnkit.models.beam_search``'s ensembles): each step's
next-token distribution is the mean of the members', so a wide beam finds what brute force
finds under that rule; a model with itself searches as the model alone."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from rnnkit.models.beam_search import beam_search, greedy_search, length_penalty
from rnnkit.models.seq2seq import Seq2Seq
from rnnkit.nn import log_softmax
from tests.gradcheck import assert_close
from tests.models.test_beam_search import SRC, SRC_LENGTHS, make_model


def step_log_probs(model: Seq2Seq, row: int, tokens: list[int]) -> np.ndarray:
    """log p(. | y_<t, x) at every step t of TOKENS (and the one after), teacher forced."""
    n = SRC_LENGTHS[row]
    model.eval()
    inputs = np.array([[model.bos_id, *tokens]])
    logits = model.forward(SRC[row : row + 1, :n], SRC_LENGTHS[row : row + 1], inputs)
    return log_softmax(logits[0])


def ensemble_log_prob(models: list[Seq2Seq], row: int, tokens: list[int], finished: bool) -> float:
    """sum_t log((1 / M) sum_m p_m(y_t | y_<t, x)), the end token's step too if FINISHED."""
    targets = [*tokens, models[0].eos_id] if finished else tokens
    steps = [step_log_probs(model, row, tokens) for model in models]
    total = 0.0
    for t, token in enumerate(targets):
        total += float(np.log(np.mean([np.exp(s[t, token]) for s in steps])))
    return total


def members() -> list[Seq2Seq]:
    # Two models that disagree: different cells, attention and weights.
    return [
        make_model(target_vocab=5, attention="dot"),
        make_model(target_vocab=5, cell="gru", attention="additive", rng=11),
    ]


@pytest.mark.parametrize("alpha", [0.0, 1.5])
def test_a_wide_beam_over_an_ensemble_finds_what_brute_force_finds(alpha: float) -> None:
    models, limit = members(), 3
    found = beam_search(models, SRC, SRC_LENGTHS, 16, alpha, nbest=15, max_length=limit)
    alone = beam_search(models[0], SRC, SRC_LENGTHS, 16, alpha, nbest=15, max_length=limit)
    assert any(  # the ensemble is not its first member
        [h.tokens for h in mine] != [h.tokens for h in theirs]
        for mine, theirs in zip(found, alone, strict=True)
    )
    for row in range(len(SRC)):
        expected = []
        for length in range(limit + 1):
            for tokens in itertools.product([3, 4], repeat=length):
                for finished in [True] if length < limit else [False]:
                    log_p = ensemble_log_prob(models, row, list(tokens), finished)
                    score = log_p / length_penalty(length + finished, alpha)
                    expected.append((score, list(tokens), finished, log_p))
        expected.sort(key=lambda e: -e[0])
        assert len(found[row]) == len(expected) == 15
        for hypothesis, (score, tokens, finished, log_p) in zip(found[row], expected, strict=True):
            assert (hypothesis.tokens, hypothesis.finished) == (tokens, finished)
            assert hypothesis.score == pytest.approx(score, rel=1e-10)
            assert hypothesis.log_prob == pytest.approx(log_p, rel=1e-10)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_a_model_with_itself_searches_as_the_model_alone(dtype: type) -> None:
    # float32 models with hidden sizes of whole unit blocks step in C (SearchSteps)
    model = make_model(attention="general", hidden_size=16, dtype=dtype)
    rel, tol = (1e-5, 1e-6) if dtype == np.float32 else (1e-12, 1e-13)
    for search, options in ((greedy_search, {}), (beam_search, {"beam_size": 3, "nbest": 2})):
        alone = search(model, SRC, SRC_LENGTHS, max_length_ratio=1.5, **options)
        twice = search([model, model], SRC, SRC_LENGTHS, max_length_ratio=1.5, **options)
        for mine, theirs in zip(twice, alone, strict=True):
            mine, theirs = (m if isinstance(m, list) else [m] for m in (mine, theirs))
            for a, b in zip(mine, theirs, strict=True):
                assert (a.tokens, a.finished) == (b.tokens, b.finished)
                assert a.log_prob == pytest.approx(b.log_prob, rel=rel)
                assert_close(a.attention, b.attention, tol=tol)


def test_members_must_share_the_target_vocabulary() -> None:
    with pytest.raises(ValueError, match="model: an ensemble's models must share"):
        greedy_search([make_model(target_vocab=5), make_model(target_vocab=6)], SRC, SRC_LENGTHS)
    with pytest.raises(ValueError, match="model: expected a Seq2Seq or a non-empty list"):
        beam_search([], SRC, SRC_LENGTHS)
