"""Seq2Seq: the torch oracle (loss and every gradient, each attention kind, peeky, input
feeding, bridges, tying, scheduled sampling) on padded sources and targets of different
lengths; finite differences with dropout; the two decoder paths agree; padding changes
nothing; configs round-trip and bad settings are refused by name."""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType

import numpy as np
import pytest

from rnnkit.config import ConfigError
from rnnkit.models.seq2seq import Seq2Seq, Seq2SeqConfig
from rnnkit.models.seq2seq_parts import reverse_within_lengths
from rnnkit.nn import softmax_cross_entropy
from tests.gradcheck import assert_close, numerical_gradient
from tests.models.seq2seq_torch import torch_layers, torch_loss

SOURCE_VOCAB, TARGET_VOCAB = 7, 8
# What the cases add to: one direction, no attention (not the defaults, which have both).
PLAIN: dict = dict(bidirectional=False, attention="none")
SRC_LENGTHS = np.array([4, 2, 5])  # unsorted, one full row
TGT_LENGTHS = np.array([3, 5, 2])

CASES = {
    "lstm-plain": dict(cell="lstm"),
    "gru-dot-peeky": dict(cell="gru", attention="dot", peeky=True),
    "lstm-general-bi-feed": dict(
        attention="general", bidirectional=True, num_layers=2, input_feeding=True
    ),
    "rnn-additive-bi-peeky-reverse": dict(
        cell="rnn", attention="additive", peeky=True, bidirectional=True, reverse_source=True
    ),
    "lstm-additive-peeky-feed-linear": dict(
        attention="additive", peeky=True, input_feeding=True, bridge="linear", num_layers=2
    ),
    "gru-peeky-zero-tied": dict(
        cell="gru", peeky=True, bridge="zero", tie_embeddings=True, embedding_size=10
    ),
    "lstm-dot-shared-tied": dict(
        attention="dot", share_vocabulary=True, tie_embeddings=True, embedding_size=5
    ),
    "gru-general-feed-sampled": dict(
        cell="gru", attention="general", input_feeding=True, teacher_forcing=0.5
    ),
    "lstm-general-peeky-sampled": dict(attention="general", peeky=True, teacher_forcing=0.4),
    "gru-general-bi-peeky": dict(cell="gru", attention="general", bidirectional=True, peeky=True),
    # A stack decoded in one sequence call, the summary from the encoder's top layer.
    "rnn-general-bi-peeky-2layers": dict(
        cell="rnn", attention="general", bidirectional=True, peeky=True, num_layers=2
    ),
    # The stepping decoder's embedding lookups add into the table the output layer reads.
    "gru-additive-feed-shared-tied": dict(
        cell="gru",
        attention="additive",
        input_feeding=True,
        share_vocabulary=True,
        tie_embeddings=True,
        embedding_size=5,
    ),
}
# Fewer target than source steps: general attention reads its scores on the query side.
SHORT_TGT_LENGTHS = np.array([3, 4, 2])


def make_model(**options: object) -> Seq2Seq:
    settings = dict(embedding_size=4, hidden_size=5, dtype=np.float64, rng=0, **PLAIN)
    settings.update(options)
    target = SOURCE_VOCAB if settings.get("share_vocabulary") else TARGET_VOCAB
    return Seq2Seq(SOURCE_VOCAB, target, **settings)


def padded_batch(
    model: Seq2Seq, seed: int = 1, tgt_lengths: np.ndarray = TGT_LENGTHS
) -> tuple[np.ndarray, ...]:
    """Random pairs, padded with ``pad_id``: ``src, src_lengths, tgt_in, tgt_out, tgt_lengths``."""
    rng = np.random.default_rng(seed)
    B, pad = len(SRC_LENGTHS), model.pad_id
    src = np.full((B, SRC_LENGTHS.max()), pad)
    tgt_in = np.full((B, tgt_lengths.max()), pad)
    tgt_out = np.full((B, tgt_lengths.max()), pad)
    for row in range(B):
        src[row, : SRC_LENGTHS[row]] = rng.integers(3, model.source_vocab_size, SRC_LENGTHS[row])
        words = rng.integers(3, model.target_vocab_size, tgt_lengths[row] - 1)
        tgt_in[row, : tgt_lengths[row]] = [model.bos_id, *words]
        tgt_out[row, : tgt_lengths[row]] = [*words, model.eos_id]
    return src, SRC_LENGTHS, tgt_in, tgt_out, tgt_lengths


@pytest.mark.parametrize("case", CASES)
def test_loss_and_gradients_match_torch(torch: ModuleType, case: str) -> None:
    model = make_model(**CASES[case])
    batch = padded_batch(model)
    start = model.rng.bit_generator.state
    model.zero_grad()
    loss = model.loss_and_backward(*batch)

    sample = None
    if model.teacher_forcing < 1:  # the draws the docstring describes, from the same state
        rng = np.random.default_rng()
        rng.bit_generator.state = start
        sample = rng.random(batch[2].T.shape) >= model.teacher_forcing
        sample[0] = False
        assert sample[1:].any() and not sample[1:].all()
    layers = torch_layers(torch, model)
    expected = torch_loss(torch, model, layers, batch, sample)
    expected.backward()
    assert loss == pytest.approx(expected.item(), rel=1e-10)
    torch_grads = dict(layers.named_parameters())
    assert set(torch_grads) == set(model.grads)
    for name, grad in model.grads.items():
        assert_close(grad, torch_grads[name].grad, tol=1e-8)


@pytest.mark.parametrize("case", ["lstm-plain", "gru-general-bi-peeky"])
def test_label_smoothed_loss_and_gradients_match_torch(torch: ModuleType, case: str) -> None:
    model = make_model(**CASES[case])
    batch = padded_batch(model)
    model.zero_grad()
    loss = model.loss_and_backward(*batch, label_smoothing=0.1)
    layers = torch_layers(torch, model)
    expected = torch_loss(torch, model, layers, batch, None, label_smoothing=0.1)
    expected.backward()
    assert loss == pytest.approx(expected.item(), rel=1e-10)
    torch_grads = dict(layers.named_parameters())
    for name, grad in model.grads.items():
        assert_close(grad, torch_grads[name].grad, tol=1e-8)


def test_query_side_general_attention_matches_torch(torch: ModuleType) -> None:
    model = make_model(**CASES["gru-general-bi-peeky"])
    batch = padded_batch(model, tgt_lengths=SHORT_TGT_LENGTHS)
    assert batch[2].shape[1] < batch[0].shape[1]
    model.zero_grad()
    loss = model.loss_and_backward(*batch)
    layers = torch_layers(torch, model)
    expected = torch_loss(torch, model, layers, batch, None)
    expected.backward()
    assert loss == pytest.approx(expected.item(), rel=1e-10)
    torch_grads = dict(layers.named_parameters())
    for name, grad in model.grads.items():
        assert_close(grad, torch_grads[name].grad, tol=1e-8)


@pytest.mark.parametrize(
    ("case", "tgt_lengths"),
    [
        ("lstm-plain", TGT_LENGTHS),
        ("gru-dot-peeky", TGT_LENGTHS),
        ("rnn-additive-bi-peeky-reverse", TGT_LENGTHS),
        ("gru-general-bi-peeky", SHORT_TGT_LENGTHS),  # the query side against the keys
    ],
)
def test_stepping_decoder_equals_sequence_decoder(case: str, tgt_lengths: np.ndarray) -> None:
    model = make_model(**CASES[case])
    batch = padded_batch(model, tgt_lengths=tgt_lengths)
    results = []
    for stepped in (False, True):
        model.zero_grad()
        logits = model.forward(*batch[:3], step_by_step=stepped)
        weights = model.attention_weights
        model.backward(np.cos(logits))
        results.append((logits, weights, {k: v.copy() for k, v in model.grads.items()}))
    (logits, weights, grads), (logits2, weights2, grads2) = results
    assert_close(logits2, logits, tol=1e-13)
    if weights is not None:
        assert_close(weights2, weights, tol=1e-13)
    for name in grads:
        assert_close(grads2[name], grads[name], tol=1e-12)


def probed_loss_and_backward(model: Seq2Seq) -> Callable[[], float]:
    """Backpropagate the probe ``sum(logits * G)`` of a fixed batch into ``model.grads`` and
    return the probe as a function of the weights: it restores the generator first, so each
    call draws the masks (and sampling choices) of the backpropagated forward."""
    src, src_lengths, tgt_in, _, tgt_lengths = padded_batch(model, seed=2)
    probe = np.cos(np.arange(tgt_in.size * TARGET_VOCAB)).reshape(*tgt_in.shape, TARGET_VOCAB)
    probe[np.arange(tgt_in.shape[1])[None, :] >= tgt_lengths[:, None]] = 0.0
    start = model.rng.bit_generator.state

    def loss() -> float:
        model.rng.bit_generator.state = start
        return float(np.sum(model.forward(src, src_lengths, tgt_in) * probe))

    loss()
    model.zero_grad()
    model.backward(probe)
    return loss


@pytest.mark.parametrize("case", ["lstm-general-bi-feed", "lstm-additive-peeky-feed-linear"])
def test_gradients_match_finite_differences_with_dropout(case: str) -> None:
    # The probe is sum(logits * G) for a fixed G, zero at padded target steps (which the
    # pad row's gradient, always zero, would otherwise miss), with gradients larger than
    # the mean loss's (the loss itself is the torch oracle's). Some attention gradients
    # are still about 1e-6, hence the absolute floor. The generator is restored before
    # each forward, so every forward draws the same dropout masks.
    model = make_model(**CASES[case], dropout=0.3)
    loss = probed_loss_and_backward(model)
    # Everything else is the torch oracle's; here the parts the oracle's model also has,
    # a few of each, with dropout on (every parameter would take 10 s).
    names = ["source_embedding.weight", "encoder.bias_ih_l0", "decoder.bias_hh_l1"]
    names += [n for n in model.params if n.startswith(("attention", "bridge_c.bias"))]
    for name in names:
        numerical = numerical_gradient(loss, model.params[name], eps=1e-5)
        np.testing.assert_allclose(model.grads[name], numerical, rtol=1e-5, atol=1e-9)


@pytest.mark.parametrize("case", ["lstm-general-bi-feed", "rnn-additive-bi-peeky-reverse"])
def test_a_pair_alone_equals_the_pair_in_a_padded_batch(case: str) -> None:
    model = make_model(**CASES[case])
    src, src_lengths, tgt_in, tgt_out, tgt_lengths = padded_batch(model)
    row = 1  # shorter than the batch on both sides
    grad = np.sin(np.arange(tgt_in.size * TARGET_VOCAB)).reshape(*tgt_in.shape, TARGET_VOCAB)
    grad[np.arange(tgt_in.shape[1])[None, :] >= tgt_lengths[:, None]] = 0.0
    grad[np.arange(len(src)) != row] = 0.0

    model.zero_grad()
    logits = model.forward(src, src_lengths, tgt_in)
    weights = model.attention_weights
    model.backward(grad)
    batch_grads = {k: v.copy() for k, v in model.grads.items()}

    n, m = src_lengths[row], tgt_lengths[row]
    model.zero_grad()
    alone = model.forward(
        src[row : row + 1, :n], src_lengths[row : row + 1], tgt_in[row : row + 1, :m]
    )
    model.backward(grad[row : row + 1, :m])
    assert_close(alone, logits[row : row + 1, :m], tol=1e-12)
    assert_close(model.attention_weights, weights[row : row + 1, :m, :n], tol=1e-12)
    assert np.all(weights[row, :, n:] == 0.0)
    for name, value in model.grads.items():
        assert_close(value, batch_grads[name], tol=1e-12)


def test_attention_weights_are_in_source_order_when_reversed() -> None:
    batch = padded_batch(make_model())
    weights = []
    for reverse in (False, True):
        model = make_model(attention="dot", reverse_source=reverse).eval()
        src = batch[0].copy()
        if reverse:  # the same text read backwards: the encoder sees the same sequence
            src = reverse_within_lengths(src, batch[1])
        model.forward(src, batch[1], batch[2])
        weights.append(model.attention_weights)
    plain, reversed_ = weights
    assert_close(reversed_, reverse_within_lengths(plain, batch[1]), tol=1e-13)


def test_token_losses_is_the_summed_loss_without_gradients() -> None:
    model = make_model(attention="general", dropout=0.5, teacher_forcing=0.3)
    batch = padded_batch(model)
    state = model.rng.bit_generator.state
    total, count = model.token_losses(*batch)
    assert model.training and model.rng.bit_generator.state == state  # nothing drawn
    assert count == TGT_LENGTHS.sum()
    model.eval()
    logits = model.forward(*batch[:3])
    real = np.arange(batch[3].shape[1])[None, :] < TGT_LENGTHS[:, None]
    targets = np.where(real, batch[3], -1)
    expected = softmax_cross_entropy(logits, targets, ignore_index=-1, reduction="sum")[0]
    assert total == pytest.approx(expected, rel=1e-13)


def test_more_than_64_layers_are_refused_before_any_is_built() -> None:
    # as every other model: a layer count of 10**20 from the command line built layers
    # for minutes instead of answering
    config = Seq2SeqConfig(
        source_vocab_size=5, target_vocab_size=5, embedding_size=2, hidden_size=2, num_layers=65
    )
    with pytest.raises(ConfigError, match="num_layers: must be at most 64"):
        Seq2Seq.from_config(config)


def test_config_round_trip_and_errors() -> None:
    model = make_model(attention="additive", peeky=True, bidirectional=True)
    config = model.config()
    again = Seq2Seq.from_config(config, dtype=np.float64, rng=0)
    assert again.config() == config
    assert sorted(again.params) == sorted(model.params)
    with pytest.raises(ConfigError, match="attention"):
        Seq2Seq.from_config(Seq2SeqConfig(source_vocab_size=5, target_vocab_size=5, attention="x"))
    with pytest.raises(ValueError, match="input_feeding"):
        make_model(input_feeding=True)
    with pytest.raises(ValueError, match="tie_embeddings"):
        make_model(tie_embeddings=True)
    with pytest.raises(ValueError, match="attention: dot"):
        make_model(attention="dot", bidirectional=True)
    with pytest.raises(ValueError, match="share_vocabulary"):
        Seq2Seq(5, 6, share_vocabulary=True)
