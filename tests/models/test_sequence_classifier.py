"""SequenceClassifier: torch oracle for every pooling and direction, finite differences,
and the padding guarantee (a row alone and inside a padded batch: same logits, same
gradients)."""

from __future__ import annotations

from types import ModuleType
from typing import TYPE_CHECKING

import numpy as np
import pytest

from rnnkit.models.sequence_classifier import SequenceClassifier, adversarial_perturbation
from rnnkit.nn import softmax_cross_entropy
from tests.gradcheck import assert_close, numerical_gradient

if TYPE_CHECKING:  # for the annotations only; the ``torch`` fixture runs the oracle test
    import torch

VOCAB, CLASSES = 7, 3
LENGTHS = np.array([3, 5, 1, 4])  # unsorted, with a full-length row and a length-1 row


def make_model(**options: object) -> SequenceClassifier:
    # One direction, the final state and no dropout unless a test asks for them (the
    # task's defaults are a bidirectional encoder, max pooling and dropout 0.5).
    settings = dict(embedding_size=4, hidden_size=5, dtype=np.float64, rng=0,
                    bidirectional=False, pooling="last", dropout=0.0)  # fmt: skip
    settings.update(options)
    return SequenceClassifier(VOCAB, CLASSES, **settings)


def padded_batch(model: SequenceClassifier, lengths: np.ndarray, seed: int = 1) -> tuple:
    """Random ids padded with ``model.pad_id`` and random labels."""
    rng = np.random.default_rng(seed)
    ids = np.full((len(lengths), lengths.max()), model.pad_id)
    for row, length in enumerate(lengths):
        ids[row, :length] = rng.integers(0, VOCAB, length)
    return ids, rng.integers(0, CLASSES, len(lengths))


def loss_and_backward(
    model: SequenceClassifier, ids, lengths, labels, adversarial: float = 0.0
) -> float:
    model.zero_grad()
    return model.loss_and_backward(ids, lengths, labels, adversarial)


def torch_layers(torch: ModuleType, model: SequenceClassifier) -> torch.nn.ModuleDict:
    """The same layers in torch, holding ``model``'s weights under the same names.

    A ``ModuleDict`` rather than a ``torch.nn.Module`` subclass: a class would need torch
    when this file is imported, and only the oracle test may need torch.
    """
    encoder = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[model.cell]
    layers = torch.nn.ModuleDict(
        {
            "embedding": torch.nn.Embedding(
                model.vocab_size + 1, model.embedding_size, padding_idx=model.pad_id
            ),
            "encoder": encoder(
                model.embedding_size,
                model.hidden_size,
                model.num_layers,
                bidirectional=model.bidirectional,
            ),
            "classifier": torch.nn.Linear(model.classifier.in_features, model.num_classes),
        }
    )
    layers.double()
    state = {k: torch.from_numpy(v.copy()) for k, v in model.state_dict().items()}
    layers.load_state_dict(state)
    return layers


def torch_logits(
    torch: ModuleType,
    layers: torch.nn.ModuleDict,
    pooling: str,
    ids: np.ndarray,
    lengths: np.ndarray,
) -> torch.Tensor:
    """The classifier's forward pass in torch, run through pack_padded_sequence."""
    embedded = layers["embedding"](torch.from_numpy(ids.T))
    packed = torch.nn.utils.rnn.pack_padded_sequence(
        embedded, torch.from_numpy(lengths), enforce_sorted=False
    )
    output, state = layers["encoder"](packed)
    h_n = state[0] if isinstance(state, tuple) else state
    output, _ = torch.nn.utils.rnn.pad_packed_sequence(output, total_length=ids.shape[1])
    lengths_t = torch.from_numpy(lengths)
    if pooling == "last":
        directions = 2 if layers["encoder"].bidirectional else 1
        features = torch.cat(list(h_n[-directions:]), dim=1)
    else:
        mean = output.sum(dim=0) / lengths_t[:, None].double()
        valid = torch.arange(ids.shape[1])[:, None] < lengths_t[None, :]
        maximum = output.masked_fill(~valid[:, :, None], float("-inf")).max(dim=0).values
        features = {"mean": mean, "max": maximum, "mean-max": torch.cat([mean, maximum], 1)}
        features = features[pooling]
    return layers["classifier"](features)


@pytest.mark.parametrize("pooling", ["last", "mean", "max", "mean-max"])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_logits_and_gradients_match_torch(
    torch: ModuleType, cell: str, bidirectional: bool, pooling: str
) -> None:
    model = make_model(cell=cell, bidirectional=bidirectional, pooling=pooling, num_layers=2)
    ids, labels = padded_batch(model, LENGTHS)
    loss = loss_and_backward(model, ids, LENGTHS, labels)

    oracle = torch_layers(torch, model)
    logits = torch_logits(torch, oracle, pooling, ids, LENGTHS)
    torch_loss = torch.nn.functional.cross_entropy(logits, torch.from_numpy(labels))
    torch_loss.backward()

    assert_close(model.forward(ids, LENGTHS), logits)
    assert loss == pytest.approx(torch_loss.item(), rel=1e-12)
    torch_grads = dict(oracle.named_parameters())
    assert set(torch_grads) == set(model.grads)
    for name, grad in model.grads.items():
        assert_close(grad, torch_grads[name].grad)


def test_class_weights_match_torch(torch: ModuleType) -> None:
    model = make_model(cell="gru", bidirectional=True, pooling="max")
    ids, labels = padded_batch(model, LENGTHS)
    weights = np.array([0.5, 3.0, 1.25])
    model.zero_grad()
    loss = model.loss_and_backward(ids, LENGTHS, labels, class_weights=weights)

    oracle = torch_layers(torch, model)
    logits = torch_logits(torch, oracle, "max", ids, LENGTHS)
    torch_loss = torch.nn.functional.cross_entropy(
        logits, torch.from_numpy(labels), weight=torch.from_numpy(weights)
    )
    torch_loss.backward()
    assert loss == pytest.approx(torch_loss.item(), rel=1e-12)
    torch_grads = dict(oracle.named_parameters())
    for name, grad in model.grads.items():
        assert_close(grad, torch_grads[name].grad)


@pytest.mark.parametrize("pooling", ["last", "mean", "max", "mean-max"])
def test_gradients_match_finite_differences_with_dropout(pooling: str) -> None:
    # Restoring the generator before each forward draws the same dropout masks every time,
    # so the loss is a fixed function of the parameters that central differences can probe.
    model = make_model(
        pooling=pooling,
        bidirectional=True,
        num_layers=2,
        dropout=0.3,
        embedding_dropout=0.2,
        word_dropout=0.25,
    )
    ids, labels = padded_batch(model, LENGTHS)
    start = model.rng.bit_generator.state

    def loss() -> float:
        model.rng.bit_generator.state = start
        return softmax_cross_entropy(model.forward(ids, LENGTHS), labels)[0]

    model.rng.bit_generator.state = start
    loss_and_backward(model, ids, LENGTHS, labels)
    for name in ("embedding.weight", "encoder.weight_hh_l1_reverse", "classifier.weight"):
        assert_close(model.grads[name], numerical_gradient(loss, model.params[name]), tol=1e-6)


@pytest.mark.parametrize("pooling", ["last", "mean", "max", "mean-max"])
@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_a_row_alone_and_inside_a_padded_batch_agree(cell: str, pooling: str) -> None:
    model = make_model(cell=cell, pooling=pooling, bidirectional=True, num_layers=2)
    ids, _ = padded_batch(model, LENGTHS)
    batch_logits = model.forward(ids, LENGTHS)
    probe = np.random.default_rng(2).standard_normal(batch_logits.shape)
    for row, length in enumerate(LENGTHS):
        alone = ids[row : row + 1, :length]
        assert_close(model.forward(alone), batch_logits[row : row + 1], tol=1e-13)
        model.zero_grad()
        model.backward(probe[row : row + 1])
        alone_grads = {k: g.copy() for k, g in model.grads.items()}

        # In the batch, only this row's logits feed the probe loss.
        only_row = np.zeros_like(probe)
        only_row[row] = probe[row]
        model.zero_grad()
        model.forward(ids, LENGTHS)
        model.backward(only_row)
        for name, grad in model.grads.items():
            assert_close(grad, alone_grads[name], tol=1e-12)


def test_padding_row_of_the_embedding_stays_zero_and_gets_no_gradient() -> None:
    model = make_model()
    ids, labels = padded_batch(model, LENGTHS)
    loss_and_backward(model, ids, LENGTHS, labels)
    assert np.all(model.params["embedding.weight"][model.pad_id] == 0)
    assert np.all(model.grads["embedding.weight"][model.pad_id] == 0)
    assert np.any(model.grads["embedding.weight"][: model.pad_id] != 0)


def test_embedding_starts_small_and_uniform() -> None:
    weight = SequenceClassifier(500, 2, embedding_size=40, rng=0).params["embedding.weight"]
    assert np.abs(weight).max() <= 0.1
    assert np.abs(weight[:500]).mean() == pytest.approx(0.05, rel=0.05)  # uniform: half the range


def test_parameters_are_shared_with_the_sub_layers() -> None:
    model = make_model(num_layers=2, bidirectional=True)
    assert (
        model.params["encoder.weight_ih_l1_reverse"] is model.encoder.params["weight_ih_l1_reverse"]
    )
    assert model.grads["classifier.bias"] is model.classifier.grads["bias"]
    assert model.num_parameters() == sum(layer.num_parameters() for layer in model.layers.values())


def test_eval_mode_is_deterministic_and_keeps_no_cache() -> None:
    model = make_model(embedding_dropout=0.5)
    ids, _ = padded_batch(model, LENGTHS)
    model.eval()
    first = model.forward(ids, LENGTHS)
    assert np.array_equal(first, model.forward(ids, LENGTHS))
    with pytest.raises(RuntimeError, match="training mode"):
        model.backward(np.zeros_like(first))
    model.train()
    assert not np.array_equal(first, model.forward(ids, LENGTHS))


def test_predict_proba_sums_to_one_and_restores_the_mode() -> None:
    model = make_model(dropout=0.5)
    ids, _ = padded_batch(model, LENGTHS)
    probabilities = model.predict_proba(ids, LENGTHS)
    assert probabilities.shape == (len(LENGTHS), CLASSES)
    assert np.allclose(probabilities.sum(axis=1), 1.0)
    assert model.training and model.encoder.training and model.dropout.training


def test_config_rebuilds_the_same_architecture() -> None:
    model = make_model(
        cell="gru", pooling="max", bidirectional=True, num_layers=2, dropout=0.1,
        embedding_dropout=0.2,
    )  # fmt: skip
    rebuilt = SequenceClassifier.from_config(model.config(), dtype=np.float64, rng=5)
    rebuilt.load_state_dict(model.state_dict())
    ids, _ = padded_batch(model, LENGTHS)
    model.eval()
    rebuilt.eval()
    assert np.array_equal(model.forward(ids, LENGTHS), rebuilt.forward(ids, LENGTHS))


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [("cell", "tcn", "cell"), ("pooling", "sum", "pooling"), ("num_classes", 1, "num_classes")],
)
def test_bad_arguments_are_refused(option: str, value: object, message: str) -> None:
    settings = {"vocab_size": VOCAB, "num_classes": CLASSES, option: value}
    with pytest.raises(ValueError, match=message):
        SequenceClassifier(**settings)


def test_word_dropout_drops_whole_token_vectors_in_training_only() -> None:
    model = make_model(word_dropout=0.5, embedding_size=6)
    ids, _ = padded_batch(model, LENGTHS)
    embedded = model.embedding.forward(ids.T)
    dropped = model.word_dropout.forward(embedded)
    zero_tokens = np.all(dropped == 0, axis=-1)
    # Each token is dropped whole or kept whole (scaled by 1 / (1 - p)) ...
    kept = ~zero_tokens
    np.testing.assert_allclose(dropped[kept], 2.0 * embedded[kept], rtol=1e-12)
    # ... and with 0.5 over these tokens both happen.
    assert zero_tokens.any() and kept.any()
    model.eval()
    np.testing.assert_array_equal(model.word_dropout.forward(embedded), embedded)
    assert make_model(word_dropout=0.5).config().word_dropout == 0.5


# -- adversarial training ---------------------------------------------------------------------


def embedded_and_gradient(model: SequenceClassifier, ids, labels) -> tuple:
    """The embedded tokens ``e`` (one draw of the dropouts) and ``dL/de``."""
    embedded = model._embed(ids)
    grad_logits = softmax_cross_entropy(model._classify(embedded, LENGTHS), labels)[1]
    return embedded, model._classify_backward(grad_logits)


@pytest.mark.parametrize("pooling", ["last", "mean", "max", "mean-max"])
@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_adversarial_gradients_match_torch(torch: ModuleType, cell: str, pooling: str) -> None:
    # Miyato et al.'s objective in autograd: L(e) + L(e + r), with r = eps ||e|| g / ||g|| per
    # text from g = dL/de, r detached.
    epsilon = 0.7
    model = make_model(cell=cell, bidirectional=True, pooling=pooling)
    ids, labels = padded_batch(model, LENGTHS)
    loss = loss_and_backward(model, ids, LENGTHS, labels, epsilon)

    oracle = torch_layers(torch, model)
    embedded = oracle["embedding"](torch.from_numpy(ids.T)).detach().requires_grad_(True)
    targets = torch.from_numpy(labels)

    def oracle_loss(inputs: torch.Tensor) -> torch.Tensor:
        oracle["embedding"].forward = lambda _: inputs  # the classifier past the lookup
        return torch.nn.functional.cross_entropy(
            torch_logits(torch, oracle, pooling, ids, LENGTHS), targets
        )

    clean = oracle_loss(embedded)
    (grad,) = torch.autograd.grad(clean, embedded, retain_graph=True)

    def norms(x: torch.Tensor) -> torch.Tensor:
        return x.square().sum(dim=(0, 2), keepdim=True).sqrt()

    perturbation = epsilon * norms(embedded.detach()) * grad / norms(grad)
    weights = oracle["embedding"].weight
    total = clean + oracle_loss(
        torch.nn.functional.embedding(torch.from_numpy(ids.T), weights) + perturbation
    )
    total.backward()
    # The clean term reached the lookup through the detached copy: add its table gradient.
    (grad_table,) = torch.autograd.grad(
        torch.nn.functional.embedding(torch.from_numpy(ids.T), weights),
        weights,
        grad_outputs=embedded.grad,
    )

    assert loss == pytest.approx(clean.item(), rel=1e-12)
    torch_grads = dict(oracle.named_parameters())
    for name, value in model.grads.items():
        expected = torch_grads[name].grad
        if name == "embedding.weight":
            expected = expected + grad_table
        assert_close(value, expected)


def test_adversarial_gradients_match_finite_differences_with_dropout() -> None:
    # The objective with the perturbation r held at its value for the starting weights, and
    # the same dropout masks drawn in the same order as loss_and_backward draws them.
    epsilon = 0.5
    model = make_model(
        pooling="mean", bidirectional=True, dropout=0.3, embedding_dropout=0.2, word_dropout=0.25
    )
    ids, labels = padded_batch(model, LENGTHS)
    start = model.rng.bit_generator.state
    embedded, grad_embedded = embedded_and_gradient(model, ids, labels)
    perturbation = adversarial_perturbation(grad_embedded, embedded, epsilon)

    def objective() -> float:
        model.rng.bit_generator.state = start
        embedded = model._embed(ids)
        clean = softmax_cross_entropy(model._classify(embedded, LENGTHS), labels)[0]
        moved = softmax_cross_entropy(model._classify(embedded + perturbation, LENGTHS), labels)
        return clean + moved[0]

    model.rng.bit_generator.state = start
    loss_and_backward(model, ids, LENGTHS, labels, epsilon)
    for name in ("embedding.weight", "encoder.weight_ih_l0_reverse", "classifier.weight"):
        assert_close(model.grads[name], numerical_gradient(objective, model.params[name]), tol=1e-6)


def test_the_perturbation_is_epsilon_times_each_texts_norm_and_spares_padding() -> None:
    model = make_model(bidirectional=True, pooling="max")
    ids, labels = padded_batch(model, LENGTHS)
    embedded, grad_embedded = embedded_and_gradient(model, ids, labels)
    perturbation = adversarial_perturbation(grad_embedded, embedded, 0.3)

    def norms(x: np.ndarray) -> np.ndarray:
        return np.sqrt(np.square(x).sum(axis=(0, 2)))

    np.testing.assert_allclose(norms(perturbation), 0.3 * norms(embedded), rtol=1e-12)
    cosines = (perturbation * grad_embedded).sum(axis=(0, 2)) / norms(perturbation)
    np.testing.assert_allclose(cosines / norms(grad_embedded), 1.0, rtol=1e-12)
    for row, length in enumerate(LENGTHS):
        assert np.all(perturbation[length:, row] == 0)
    zeros = np.zeros((2, 3, 4))
    assert np.all(adversarial_perturbation(zeros, np.ones_like(zeros), 0.3) == 0)


def test_adversarial_training_keeps_padding_out_of_each_row() -> None:
    # r is normalised per text, so a row's share of the batch gradient is its gradient alone.
    model = make_model(cell="gru", bidirectional=True, pooling="mean")
    ids, labels = padded_batch(model, LENGTHS)
    loss_and_backward(model, ids, LENGTHS, labels, 0.4)
    batch_grads = {k: g.copy() for k, g in model.grads.items()}
    summed = {k: np.zeros_like(g) for k, g in model.grads.items()}
    for row, length in enumerate(LENGTHS):
        loss_and_backward(model, ids[row : row + 1, :length], None, labels[row : row + 1], 0.4)
        for name, grad in model.grads.items():
            summed[name] += grad / len(LENGTHS)
    for name, grad in batch_grads.items():
        assert_close(grad, summed[name], tol=1e-12)


def test_epsilon_zero_is_plain_training() -> None:
    model = make_model(pooling="last")
    ids, labels = padded_batch(model, LENGTHS)
    plain = loss_and_backward(model, ids, LENGTHS, labels)
    plain_grads = {k: g.copy() for k, g in model.grads.items()}
    assert loss_and_backward(model, ids, LENGTHS, labels, 0.5) == plain  # the clean loss
    assert any(not np.array_equal(model.grads[k], plain_grads[k]) for k in plain_grads)
    assert loss_and_backward(model, ids, LENGTHS, labels, 0.0) == plain
    for name, grad in model.grads.items():
        np.testing.assert_array_equal(grad, plain_grads[name])
