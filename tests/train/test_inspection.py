"""inspection: traces, readable features, unit ranking and the HTML page."""

from html.parser import HTMLParser

import numpy as np
import pytest

from rnnkit.data.tokenizers import make_tokenizer
from rnnkit.models import LanguageModel
from rnnkit.train.inspection import (
    correlations,
    html_page,
    rank_units,
    text_features,
    trace,
)

TEXT = 'he said "yes" and (she said "no, [not] now") then\nleft "at once" (quietly)\n'


def quote_tracking_model(tokenizer, hidden_size: int = 6) -> LanguageModel:
    """A one-layer LSTM whose unit 0 flips its memory at every double quote, built by hand;
    the other units keep their random initial weights.

    Unit 0 at a quote: forget gate 0, input gate 1, candidate g = tanh(-10 h_0 + 2), so the
    memory becomes +1 from -1 or from 0 (a quote opens) and -1 from +1 (a quote closes).
    At any other character: forget gate 1, input gate 0, so the memory stays.
    """
    vocab = tokenizer.vocab_size
    model = LanguageModel(
        vocab, embedding_size=vocab, hidden_size=hidden_size, dtype=np.float64, rng=0
    )
    model.embedding.params["weight"][...] = np.eye(vocab)  # one-hot inputs
    p, H, quote = model.rnn.params, hidden_size, int(tokenizer.encode('"')[0])
    i, f, g, o = 0, H, 2 * H, 3 * H  # unit 0's row in each gate block (i, f, g, o)
    for name in ("weight_ih_l0", "weight_hh_l0"):
        p[name][[i, f, g, o]] = 0.0
    p["bias_hh_l0"][[i, f, g, o]] = 0.0
    p["bias_ih_l0"][[i, f, g, o]] = (-10.0, 10.0, 2.0, 10.0)
    p["weight_ih_l0"][i, quote] = 20.0
    p["weight_ih_l0"][f, quote] = -20.0
    p["weight_hh_l0"][g, 0] = -10.0
    return model.eval()


def test_a_unit_built_to_track_quotes_is_ranked_first_for_quotes():
    tokenizer = make_tokenizer("char").fit(TEXT)
    model = quote_tracking_model(tokenizer)
    layers = trace(model, tokenizer.encode(TEXT))
    features = text_features(TEXT)
    ranking = rank_units(layers, features, top=3)
    best = ranking["inside quotes"][0]
    assert (best.layer, best.unit) == (0, 0)
    assert best.correlation > 0.9
    # Its memory is +1 inside quotes and -1 after a quote closed.
    memory = layers[0].cell[:, 0]
    inside = features["inside quotes"].astype(bool)
    assert np.all(memory[inside] > 0.9)
    assert np.all(memory[~inside][TEXT.index('"') :] < -0.9)


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_trace_follows_the_models_own_forward(cell):
    tokenizer = make_tokenizer("char").fit(TEXT)
    model = LanguageModel(
        tokenizer.vocab_size, 5, 7, num_layers=2, cell=cell, dtype=np.float64, rng=1
    ).eval()
    ids = tokenizer.encode(TEXT)
    layers = trace(model, ids)
    output, _ = model.rnn.forward(model.embedding.params["weight"][ids][:, None, :])
    np.testing.assert_allclose(layers[-1].hidden, output[:, 0], atol=1e-12)
    if cell == "lstm":
        gates = layers[0].gates
        assert set(gates) == {"input", "forget", "output"}
        # h = o * tanh(c): the recomputed gates and memory give the layer's own output.
        np.testing.assert_allclose(
            gates["output"] * np.tanh(layers[0].cell), layers[0].hidden, atol=1e-12
        )
    elif cell == "gru":
        assert set(layers[0].gates) == {"reset", "update"}
    else:
        assert layers[0].gates == {} and layers[0].cell is None


def test_text_features():
    features = text_features('a"b"c\n(x[y])')
    assert features["inside quotes"].tolist() == [0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0]
    assert features["position in line"].tolist() == [0, 1, 2, 3, 4, 5, 0, 1, 2, 3, 4, 5]
    assert features["bracket depth"].tolist() == [0, 0, 0, 0, 0, 0, 1, 1, 2, 2, 1, 0]


def test_correlations_of_constant_columns_are_zero():
    values = np.column_stack([np.arange(5.0), np.ones(5), -np.arange(5.0)])
    np.testing.assert_allclose(correlations(values, np.arange(5.0)), [1, 0, -1])


def test_a_feature_the_text_lacks_is_not_ranked():
    tokenizer = make_tokenizer("char").fit("plain words\nhere")
    model = LanguageModel(tokenizer.vocab_size, 4, 8, rng=0).eval()
    text = "plain words\nhere"
    ranking = rank_units(trace(model, tokenizer.encode(text)), text_features(text))
    assert list(ranking) == ["position in line"]
    # one line (a final line break or not): the position is the time, not a feature
    for text in ("plain words here", "plain words here\n"):
        assert not text_features(text)["position in line"].any()
        assert rank_units(trace(model, tokenizer.encode(text)), text_features(text)) == {}


class TagChecker(HTMLParser):
    VOID = {"meta", "br"}

    def __init__(self):
        super().__init__()
        self.open, self.spans, self.text = [], 0, []

    def handle_starttag(self, tag, attrs):
        if tag not in self.VOID:
            self.open.append(tag)
        self.spans += tag == "span"

    def handle_endtag(self, tag):
        assert self.open.pop() == tag

    def handle_data(self, data):
        if self.open and self.open[-1] == "span":
            self.text.append(data)


def test_html_page_is_well_formed_and_holds_the_text():
    text = 'x < "y" & {z}\n<b>'
    page = html_page(text, np.linspace(-1, 1, len(text)), "unit <3>")
    checker = TagChecker()
    checker.feed(page)
    checker.close()
    assert checker.open == []
    assert checker.spans == len(text)
    assert "".join(checker.text) == text.replace("\n", "⏎\n")
    assert page.startswith("<!DOCTYPE html>") and "unit &lt;3&gt;" in page
    assert "http" not in page  # self-contained: nothing to fetch
