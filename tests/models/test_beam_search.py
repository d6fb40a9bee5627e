"""Beam search: K = 1 is greedy search; a wide beam on a tiny vocabulary finds what
brute-force enumeration finds, ranked by the length-penalty formula; inputs batched together
get what they get alone; the attention rows are the model's."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from rnnkit.models.beam_search import (
    MOST_RATIO,
    beam_search,
    greedy_search,
    length_limits,
    length_penalty,
)
from rnnkit.models.seq2seq import Seq2Seq
from rnnkit.nn import log_softmax
from tests.gradcheck import assert_close
from tests.models.test_seq2seq import PLAIN

SRC = np.array([[3, 4, 5, 6, 0], [6, 3, 0, 0, 0], [5, 5, 4, 3, 6]])
SRC_LENGTHS = np.array([4, 2, 5])
MODELS = {
    "lstm-general-feed-reversed": dict(
        attention="general", input_feeding=True, reverse_source=True
    ),
    "gru-additive-peeky-bi": dict(cell="gru", attention="additive", peeky=True, bidirectional=True),
    "rnn-plain-2-layers": dict(cell="rnn", num_layers=2),
}


def make_model(target_vocab: int = 9, **options: object) -> Seq2Seq:
    settings = dict(embedding_size=4, hidden_size=6, dtype=np.float64, rng=3, **PLAIN)
    settings.update(options)
    model = Seq2Seq(7, target_vocab, **settings)
    for name, value in model.params.items():  # outputs that depend on the inputs
        value *= 30.0 if "embedding" in name else 2.0
    return model


def sequence_log_prob(model: Seq2Seq, row: int, tokens: list[int], finished: bool) -> float:
    """log p(tokens [+ end]) of source ``row`` by teacher forcing, the whole sequence."""
    n = SRC_LENGTHS[row]
    model.eval()
    inputs = np.array([[model.bos_id, *tokens]])
    logits = model.forward(SRC[row : row + 1, :n], SRC_LENGTHS[row : row + 1], inputs)
    log_probs = log_softmax(logits[0])
    targets = [*tokens, model.eos_id] if finished else tokens
    return float(sum(log_probs[t, token] for t, token in enumerate(targets)))


@pytest.mark.parametrize("name", MODELS)
def test_beam_of_one_is_greedy_search(name: str) -> None:
    model = make_model(**MODELS[name])
    greedy = greedy_search(model, SRC, SRC_LENGTHS, max_length_ratio=1.5)
    beam = beam_search(model, SRC, SRC_LENGTHS, beam_size=1, max_length_ratio=1.5)
    for mine, (theirs,) in zip(greedy, beam, strict=True):
        assert mine.tokens == theirs.tokens and mine.finished == theirs.finished
        assert mine.log_prob == pytest.approx(theirs.log_prob, rel=1e-12)
        if mine.attention is not None:
            assert_close(theirs.attention, mine.attention, tol=1e-13)


def test_the_models_outputs_end_both_ways() -> None:
    """The cases above meet hypotheses that end with the end token and ones that are cut."""
    ends = {
        h.finished
        for name in MODELS
        for h in greedy_search(make_model(**MODELS[name]), SRC, SRC_LENGTHS, 1.5)
    }
    assert ends == {True, False}


@pytest.mark.parametrize("alpha", [0.0, 0.8, 2.5])
def test_wide_beam_finds_every_sequence_ranked_as_brute_force(alpha: float) -> None:
    # Target vocabulary: pad, start, end and two real tokens; outputs of at most 3 tokens.
    model = make_model(target_vocab=5, attention="dot")
    limit = 3
    found = beam_search(model, SRC, SRC_LENGTHS, 16, alpha, nbest=15, max_length=limit)
    for row in range(len(SRC)):
        expected = []
        for length in range(limit + 1):
            for tokens in itertools.product([3, 4], repeat=length):
                for finished in [True] if length < limit else [True, False]:
                    if finished and length == limit:
                        continue  # the limit leaves no room for the end token
                    log_p = sequence_log_prob(model, row, list(tokens), finished)
                    lp = length_penalty(length + finished, alpha)
                    expected.append((log_p / lp, list(tokens), finished, log_p))
        expected.sort(key=lambda e: -e[0])
        assert len(expected) == 15 and len(found[row]) == 15
        for hypothesis, (score, tokens, finished, log_p) in zip(found[row], expected, strict=True):
            assert (hypothesis.tokens, hypothesis.finished) == (tokens, finished)
            assert hypothesis.score == pytest.approx(score, rel=1e-10)
            assert hypothesis.log_prob == pytest.approx(log_p, rel=1e-10)


def test_length_penalty_reranks_as_the_formula_says() -> None:
    model = make_model(target_vocab=5, attention="dot")
    rankings = {}
    for alpha in (0.0, 3.0):
        (found, *_) = beam_search(model, SRC, SRC_LENGTHS, 16, alpha, nbest=15, max_length=3)
        for h in found:
            assert h.score == pytest.approx(h.log_prob / ((5 + h.length) / 6) ** alpha)
        assert [h.score for h in found] == sorted((h.score for h in found), reverse=True)
        rankings[alpha] = [(tuple(h.tokens), h.finished) for h in found]
    assert rankings[0.0] != rankings[3.0]  # the same hypotheses, ranked differently
    assert sorted(rankings[0.0]) == sorted(rankings[3.0])
    assert length_penalty(1, 0.6) == 1.0 and length_penalty(7, 1.0) == 2.0


@pytest.mark.parametrize("name", MODELS)
def test_batched_inputs_get_what_they_get_alone(name: str) -> None:
    model = make_model(**MODELS[name])
    together = beam_search(model, SRC, SRC_LENGTHS, beam_size=3, alpha=0.6, nbest=2)
    for row, n in enumerate(SRC_LENGTHS):
        (alone,) = beam_search(
            model, SRC[row : row + 1, :n], SRC_LENGTHS[row : row + 1], 3, 0.6, nbest=2
        )
        for mine, theirs in zip(alone, together[row], strict=True):
            assert mine.tokens == theirs.tokens
            assert mine.score == pytest.approx(theirs.score, rel=1e-12)


@pytest.mark.parametrize("name", ["lstm-general-feed-reversed", "gru-additive-peeky-bi"])
def test_attention_rows_are_the_models_weights_for_each_output_token(name: str) -> None:
    model = make_model(**MODELS[name])
    found = beam_search(model, SRC, SRC_LENGTHS, beam_size=3, nbest=3)
    for row, hypotheses in enumerate(found):
        n = SRC_LENGTHS[row]
        for h in hypotheses:
            assert h.attention.shape == (h.length if h.finished else len(h.tokens), n)
            inputs = np.array([[model.bos_id, *h.tokens]])[:, : h.attention.shape[0]]
            model.forward(SRC[row : row + 1, :n], SRC_LENGTHS[row : row + 1], inputs)
            assert_close(h.attention, model.attention_weights[0], tol=1e-12)
            assert h.log_prob == pytest.approx(
                sequence_log_prob(model, row, h.tokens, h.finished), rel=1e-12
            )


def test_training_mode_is_restored_and_bad_arguments_are_named() -> None:
    model = make_model()
    beam_search(model, SRC, SRC_LENGTHS, beam_size=2)
    assert model.training
    for kwargs, name in (
        (dict(beam_size=0), "beam_size"),
        (dict(beam_size=2, nbest=3), "nbest"),
        (dict(alpha=-1.0), "alpha"),
        (dict(max_length_ratio=0.0), "max_length_ratio"),
    ):
        with pytest.raises(ValueError, match=name):
            beam_search(model, SRC, SRC_LENGTHS, **kwargs)


def test_a_search_reads_the_weights_as_they_are_when_it_starts() -> None:
    """Float32 runs the C loops, whose arrangement of W_hh a search keeps while it steps:
    a search after the weights changed in place sees the new ones."""
    model = make_model(dtype=np.float32, hidden_size=16, attention="general")
    before = beam_search(model, SRC, SRC_LENGTHS, beam_size=3, max_length_ratio=1.5)
    model.params["decoder.weight_hh_l0"] *= -3.0
    after = beam_search(model, SRC, SRC_LENGTHS, beam_size=3, max_length_ratio=1.5)
    fresh = make_model(dtype=np.float32, hidden_size=16, attention="general")
    fresh.load_state_dict(model.state_dict())
    expected = beam_search(fresh, SRC, SRC_LENGTHS, beam_size=3, max_length_ratio=1.5)
    assert [h[0].log_prob for h in after] == [h[0].log_prob for h in expected]
    assert [h[0].log_prob for h in after] != [h[0].log_prob for h in before]


def test_the_ratio_is_bounded_so_that_every_search_stops() -> None:
    """A ratio past MOST_RATIO is refused (1e300 once wrapped round to a negative count of
    steps; unbounded, a model that never ends would decode forever); at the bound the
    limit is the ratio times the source's length."""
    model = make_model()
    for search in (greedy_search, lambda *a, **k: beam_search(*a[:3], 3, **k)):
        for ratio in (1e300, MOST_RATIO * 1.01, float("inf"), float("nan"), 0.0):
            with pytest.raises(ValueError, match="max_length_ratio: expected a positive"):
                search(model, SRC, SRC_LENGTHS, max_length_ratio=ratio)
    limits = length_limits(np.array([1, 3]), MOST_RATIO, None)
    assert limits.tolist() == [100, 300] and limits.dtype == np.int64
