"""The decoder prepared for search (``rnnkit.models.search_steps``): its precomputations
equal the products they replace (float64, to 1e-12), its steps equal ``Seq2Seq.step`` with
the rows reordered between steps, and beam search finds the same outputs either way."""

from __future__ import annotations

import numpy as np
import pytest

from rnnkit.models import search_steps
from rnnkit.models.beam_search import beam_search, greedy_search
from rnnkit.models.search_steps import SearchSteps, projected_memory, token_gates
from rnnkit.nn import dispatch
from tests.gradcheck import assert_close
from tests.models.test_beam_search import SRC, SRC_LENGTHS, make_model

C_LOOPS = pytest.mark.skipif(
    not dispatch.runs_in_c(np.float32, 16), reason="needs the C loops (float32 search steps)"
)
MODELS = {
    "lstm-general-feed-2-layers": dict(attention="general", input_feeding=True, num_layers=2),
    "gru-additive-peeky-bi": dict(cell="gru", attention="additive", peeky=True, bidirectional=True),
    "rnn-dot-reversed-2-layers": dict(
        cell="rnn", attention="dot", reverse_source=True, num_layers=2
    ),
    "lstm-plain-peeky": dict(peeky=True, num_layers=2),
}


def float32_model(**options: object):
    return make_model(dtype=np.float32, hidden_size=16, embedding_size=8, **options)


def test_token_table_is_the_first_layers_input_product() -> None:
    rng = np.random.default_rng(0)
    V, E, S, F, G = 9, 5, 4, 3, 12
    embeddings, weight = rng.normal(size=(V, E)), rng.normal(size=(G, E + S + F))
    bias, summary, feed = rng.normal(size=G), rng.normal(size=(6, S)), rng.normal(size=(6, F))
    tokens = np.array([3, 0, 8, 3, 5, 1])
    table = token_gates(embeddings, weight, bias)
    looked_up = table[tokens] + summary @ weight[:, E : E + S].T + feed @ weight[:, E + S :].T
    product = np.concatenate([embeddings[tokens], summary, feed], axis=1) @ weight.T + bias
    assert_close(looked_up, product, tol=1e-12)


def test_combination_over_projected_memory_is_the_combination_of_the_context() -> None:
    rng = np.random.default_rng(1)
    B, K, S, M, H = 3, 2, 5, 6, 4
    memory, weight = rng.normal(size=(B, S, M)), rng.normal(size=(H, M + H))
    attention = rng.dirichlet(np.ones(S), size=(B, K))  # (B, K, S)
    attention[0, :, 3:] = 0.0  # a padded source: its last steps weigh nothing
    top = rng.normal(size=(B, K, H))
    context = attention @ memory
    expected = np.tanh(np.concatenate([context, top], axis=-1) @ weight.T)
    found = np.tanh(attention @ projected_memory(memory, weight) + top @ weight[:, M:].T)
    assert_close(found, expected, tol=1e-12)


@C_LOOPS
@pytest.mark.parametrize("name", MODELS)
def test_steps_are_the_models_steps_with_rows_reordered(name: str) -> None:
    model = float32_model(**MODELS[name])
    model.eval()
    steps = SearchSteps(model)
    encoded = model.encode(SRC, SRC_LENGTHS).grouped(2)  # two decoder rows per source
    sources = steps.prepare(encoded)
    mine, theirs = steps.start(encoded), model.start(encoded)
    rng = np.random.default_rng(2)
    parents = None
    for _ in range(4):
        tokens = rng.integers(3, model.target_vocab_size, size=6)
        if parents is not None:
            theirs = theirs.select(parents)
        expected, theirs, expected_weights = model.step(tokens, theirs, encoded)
        found, mine, weights = steps.step(tokens, mine, sources, parents)
        assert_close(found, expected, tol=2e-5)
        if expected_weights is None:
            assert weights is None
        else:
            assert_close(weights, expected_weights, tol=2e-6)
        # rows move within their source's group, as a beam's hypotheses do
        parents = np.array([1, 1, 2, 3, 5, 4])


@C_LOOPS
@pytest.mark.parametrize("name", MODELS)
def test_beam_search_finds_the_same_either_way(name: str, monkeypatch) -> None:
    model = float32_model(**MODELS[name])
    fast = beam_search(model, SRC, SRC_LENGTHS, beam_size=4, alpha=0.6, nbest=3)
    greedy = greedy_search(model, SRC, SRC_LENGTHS)
    single = beam_search(model, SRC, SRC_LENGTHS, beam_size=1)
    monkeypatch.setattr(search_steps.SearchSteps, "applies", staticmethod(lambda model: False))
    plain = beam_search(model, SRC, SRC_LENGTHS, beam_size=4, alpha=0.6, nbest=3)
    for mine, theirs in zip(fast, plain, strict=True):
        assert [h.tokens for h in mine] == [h.tokens for h in theirs]
        assert [h.finished for h in mine] == [h.finished for h in theirs]
        for h, g in zip(mine, theirs, strict=True):
            assert h.score == pytest.approx(g.score, rel=1e-5)
            if g.attention is not None:
                assert_close(h.attention, g.attention, tol=2e-6)
    for g, (b,) in zip(greedy, single, strict=True):  # K = 1 is greedy search here too
        assert g.tokens == b.tokens and g.log_prob == pytest.approx(b.log_prob, rel=1e-12)


@C_LOOPS
@pytest.mark.parametrize("cell", ["lstm", "rnn"])
def test_a_layer_shares_its_recurrent_product_between_rows_of_one_parent(cell: str) -> None:
    """``step_shared`` (the recurrent product once per distinct parent, the input's in the
    loop) equals ``step`` (both products per row) given the same input side."""
    model = float32_model(cell=cell, num_layers=2)
    model.eval()
    layer = SearchSteps(model).layers[1]
    assert layer.shares_parents
    rng = np.random.default_rng(3)
    state = tuple(rng.normal(size=(4, 16)).astype(np.float32) for _ in range(layer.states))
    x = rng.normal(size=(7, 16)).astype(np.float32)
    parents = np.array([2, 2, 0, 3, 3, 3, 0])
    shared = layer.step_shared(x, state, parents)
    gates = x @ layer.weight_ih.T + layer.bias
    expected = layer.step(np.ascontiguousarray(gates), state, parents)
    for mine, theirs in zip(shared, expected, strict=True):
        assert_close(mine, theirs, tol=1e-5)
    assert np.ptp(shared[0][3:6], axis=0).max() > 0.0  # one parent, different inputs
