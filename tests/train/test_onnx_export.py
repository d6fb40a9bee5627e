"""ONNX export: every model kind, run by onnxruntime, gives rnnkit's outputs to 1e-5."""

from __future__ import annotations

import numpy as np
import pytest

from rnnkit.errors import SettingError
from rnnkit.models.char_word_encoder import make_word_chars
from rnnkit.models.forecaster import Forecaster
from rnnkit.models.language_model import LanguageModel
from rnnkit.models.seq2seq import Seq2Seq
from rnnkit.models.sequence_classifier import SequenceClassifier
from rnnkit.models.sequence_tagger import SequenceTagger

ort = pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")

from rnnkit.train.onnx_export import (  # noqa: E402
    classifier_graph,
    forecaster_graph,
    language_model_graph,
    seq2seq_graphs,
    tagger_graph,
)

CELLS = ("lstm", "gru", "rnn")
TOLERANCE = {"rtol": 1e-5, "atol": 1e-5}
SHAPES = ((1, 1), (3, 7), (5, 12))  # (batch, steps)


def session(graph) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    return ort.InferenceSession(graph.SerializeToString(), options)


def run(sess: ort.InferenceSession, feeds: dict) -> dict[str, np.ndarray]:
    names = [o.name for o in sess.get_outputs()]
    return dict(zip(names, sess.run(names, feeds), strict=True))


def states(state, cell: str) -> tuple:
    return state if cell == "lstm" else (state,)


def padded(rng: np.random.Generator, batch: int, steps: int, vocab: int) -> tuple:
    """Random ids padded past random lengths (one row full), with garbage ids as padding."""
    lengths = rng.integers(1, steps + 1, size=batch)
    lengths[rng.integers(batch)] = steps
    ids = rng.integers(0, vocab, size=(batch, steps))
    return ids, lengths


@pytest.mark.parametrize("cell", CELLS)
def test_language_model_sequence_and_steps(cell: str) -> None:
    rng = np.random.default_rng(0)
    model = LanguageModel(23, 6, 10, num_layers=2, cell=cell, rng=1).eval()
    sess = session(language_model_graph(model))
    for batch, steps in SHAPES:
        ids = rng.integers(0, 23, size=(batch, steps))
        start = tuple(rng.normal(size=(2, batch, 10)).astype(np.float32) for _ in range(2))
        start = start if cell == "lstm" else start[0]
        logits, final = model.forward(ids, start)
        names = ("h0", "c0") if cell == "lstm" else ("h0",)
        feeds = {"ids": ids, **dict(zip(names, states(start, cell), strict=False))}
        out = run(sess, feeds)
        np.testing.assert_allclose(out["logits"], logits, **TOLERANCE)
        for got, want in zip(("h_n", "c_n"), states(final, cell), strict=False):
            np.testing.assert_allclose(out[got], want, **TOLERANCE)
        # One step at a time, the state fed back: the same logits.
        step_feeds = dict(feeds)
        for t in range(steps):
            step_feeds["ids"] = ids[:, t : t + 1]
            out = run(sess, step_feeds)
            np.testing.assert_allclose(out["logits"][:, 0], logits[:, t], **TOLERANCE)
            step_feeds.update(h0=out["h_n"], **({"c0": out["c_n"]} if cell == "lstm" else {}))


def test_tied_language_model() -> None:
    model = LanguageModel(15, 8, 8, cell="lstm", tie_weights=True, rng=2).eval()
    ids = np.random.default_rng(3).integers(0, 15, size=(2, 5))
    zeros = np.zeros((1, 2, 8), np.float32)
    out = run(session(language_model_graph(model)), {"ids": ids, "h0": zeros, "c0": zeros})
    np.testing.assert_allclose(out["logits"], model.forward(ids)[0], **TOLERANCE)


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("pooling", ["last", "mean", "max", "mean-max"])
def test_classifier_with_padded_batches(cell: str, bidirectional: bool, pooling: str) -> None:
    rng = np.random.default_rng(4)
    model = SequenceClassifier(
        30, 4, 7, 9, num_layers=2, cell=cell, bidirectional=bidirectional, pooling=pooling,
        rng=5,
    ).eval()  # fmt: skip
    sess = session(classifier_graph(model))
    for batch, steps in SHAPES:
        ids, lengths = padded(rng, batch, steps, 31)  # the padding row's id among them
        out = run(sess, {"ids": ids, "lengths": lengths})
        np.testing.assert_allclose(out["logits"], model.forward(ids, lengths), **TOLERANCE)
        np.testing.assert_allclose(
            out["probabilities"], model.predict_proba(ids, lengths), **TOLERANCE
        )


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("char_hidden_size", [0, 5])
def test_tagger(cell: str, bidirectional: bool, char_hidden_size: int) -> None:
    rng = np.random.default_rng(6)
    model = SequenceTagger(
        40, 5, char_vocab_size=12, embedding_size=7, char_embedding_size=4,
        char_hidden_size=char_hidden_size, hidden_size=8, num_layers=2, cell=cell,
        bidirectional=bidirectional, rng=7,
    ).eval()  # fmt: skip
    sess = session(tagger_graph(model))
    for batch, steps in SHAPES:
        ids, lengths = padded(rng, batch, steps, 40)
        feeds = {"ids": ids, "lengths": lengths}
        chars = None
        if char_hidden_size:
            words = [
                [list(rng.integers(0, 12, size=rng.integers(1, 6))) for _ in range(n)]
                for n in lengths
            ]
            chars = make_word_chars(words, steps, pad_id=12)
            feeds.update(char_ids=chars.ids, char_lengths=chars.lengths, char_index=chars.index)
        emissions = model.forward(ids, lengths, chars)
        out = run(sess, feeds)
        real = np.arange(steps)[None, :] < lengths[:, None]
        np.testing.assert_allclose(out["emissions"][real], emissions[real], **TOLERANCE)
        predicted = model.predict(ids, lengths, chars)
        assert np.array_equal(out["tags"][real], predicted[real])


def test_tagger_with_crf_is_refused_naming_the_option() -> None:
    model = SequenceTagger(10, 3, char_hidden_size=0, crf=True, rng=0)
    with pytest.raises(SettingError, match="crf") as caught:
        tagger_graph(model)
    assert caught.value.settings == ("crf",)


SEQ2SEQ_CASES = [
    {"cell": "lstm"},
    {"cell": "gru", "bidirectional": True},
    {"cell": "rnn", "num_layers": 2},
    {"cell": "lstm", "bidirectional": True, "num_layers": 2, "attention": "general"},
    {"cell": "gru", "attention": "dot", "input_feeding": True, "reverse_source": True},
    {"cell": "lstm", "attention": "additive", "peeky": True, "bridge": "linear"},
    {"cell": "gru", "bidirectional": True, "attention": "additive", "input_feeding": True,
     "peeky": True, "num_layers": 2},
    {"cell": "lstm", "bridge": "zero", "tie_embeddings": True, "embedding_size": 9},
]  # fmt: skip


@pytest.mark.parametrize("options", SEQ2SEQ_CASES)
def test_seq2seq_encoder_and_decoder_steps(options: dict) -> None:
    rng = np.random.default_rng(8)
    settings = {
        "embedding_size": 6,
        "hidden_size": 9,
        "bidirectional": False,
        "attention": "none",
        **options,
    }
    model = Seq2Seq(17, 19, rng=9, **settings).eval()
    encoder, decoder = (session(g) for g in seq2seq_graphs(model))
    lstm = model.cell == "lstm"
    for batch, steps in SHAPES:
        src, lengths = padded(rng, batch, steps, 17)
        encoded = model.encode(src, lengths)
        out = run(encoder, {"src": src, "src_lengths": lengths})
        np.testing.assert_allclose(out["memory"], encoded.memory, **TOLERANCE)
        if encoded.keys is not None:
            np.testing.assert_allclose(out["keys"], encoded.keys, **TOLERANCE)
        if encoded.summary is not None:
            np.testing.assert_allclose(out["summary"], encoded.summary, **TOLERANCE)
        for name, value in zip(("h0", "c0"), encoded.state, strict=False):
            np.testing.assert_allclose(out[name], value, **TOLERANCE)
        # Five decoder steps from the exported encoder's outputs, against model.step.
        feeds = {"h": out["h0"], **({"c": out["c0"]} if lstm else {})}
        if model.input_feeding:
            feeds["feed"] = np.zeros((batch, model.hidden_size), np.float32)
        if model.peeky:
            feeds["summary"] = out["summary"]
        if model.attention_kind != "none":
            feeds.update(memory=out["memory"], keys=out["keys"], src_lengths=lengths)
        state = model.start(encoded)
        tokens = np.full(batch, model.bos_id)
        for _ in range(5):
            log_probs, state, weights = model.step(tokens, state, encoded)
            got = run(decoder, {**feeds, "tokens": tokens})
            np.testing.assert_allclose(got["log_probs"], log_probs, **TOLERANCE)
            np.testing.assert_allclose(got["h_out"], state.state[0], **TOLERANCE)
            if weights is not None:
                np.testing.assert_allclose(got["attention"], weights, **TOLERANCE)
            feeds["h"] = got["h_out"]
            if lstm:
                feeds["c"] = got["c_out"]
            if model.input_feeding:
                np.testing.assert_allclose(got["feed_out"], state.feed, **TOLERANCE)
                feeds["feed"] = got["feed_out"]
            tokens = rng.integers(0, 19, size=batch)


FORECAST_CASES = [
    {"cell": "lstm", "loss": "gaussian"},
    {"cell": "gru", "num_layers": 2, "loss": "quantile", "normalize": "last",
     "num_future_covariates": 2},
    {"cell": "rnn", "loss": "mse", "num_targets": 2, "num_past_covariates": 3,
     "num_future_covariates": 1, "normalize": "last"},
    {"cell": "lstm", "loss": "studentt", "num_past_covariates": 1, "normalize": "last"},
    {"cell": "lstm", "loss": "gaussian", "normalize": "season", "season": 2, "skip": True,
     "num_targets": 2, "num_future_covariates": 1},
    {"cell": "gru", "loss": "quantile", "normalize": "season", "season": 4, "skip": True},
]  # fmt: skip


@pytest.mark.parametrize("options", FORECAST_CASES)
def test_forecaster_direct(options: dict) -> None:
    rng = np.random.default_rng(10)
    model = Forecaster(lookback=6, horizon=3, hidden_size=8, rng=11, **options).eval()
    sess = session(forecaster_graph(model))
    L, H, S = 6, 3, model.num_targets
    for batch in (1, 4, 9):
        inputs = {"past_target": rng.normal(size=(batch, L, S)).astype(np.float32)}
        if model.num_past_covariates:
            inputs["past_covariates"] = rng.normal(
                size=(batch, L, model.num_past_covariates)
            ).astype(np.float32)
        if model.num_future_covariates:
            inputs["future_covariates"] = rng.normal(
                size=(batch, L + H, model.num_future_covariates)
            ).astype(np.float32)
        raw = model.forward(**inputs)
        np.testing.assert_allclose(run(sess, inputs)["raw"], raw, **TOLERANCE)


@pytest.mark.parametrize("name", ["window_scale", "window_mean"])
def test_window_scaled_forecaster_is_refused_naming_the_option(name: str) -> None:
    model = Forecaster(lookback=4, horizon=2, rng=0, **{name: True})
    with pytest.raises(SettingError, match=name) as caught:
        forecaster_graph(model)
    assert caught.value.settings == (name,)


def test_autoregressive_forecaster_is_refused_naming_the_option() -> None:
    model = Forecaster(lookback=4, horizon=2, decoder="autoregressive", rng=0)
    with pytest.raises(SettingError, match="decoder autoregressive") as caught:
        forecaster_graph(model)
    assert caught.value.settings == ("decoder",)
