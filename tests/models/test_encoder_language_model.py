"""EncoderLanguageModel: torch oracle for every cell and direction, finite differences with
dropout, no peeking at the predicted token, padding, and what it shares with the
classifier."""

from __future__ import annotations

from types import ModuleType

import numpy as np
import pytest

from rnnkit.models.encoder_language_model import EncoderLanguageModel
from rnnkit.models.sequence_classifier import SequenceClassifier
from tests.gradcheck import assert_close, numerical_gradient
from tests.models.test_sequence_classifier import LENGTHS, VOCAB, make_model, padded_batch


def torch_loss(torch: ModuleType, model: EncoderLanguageModel, ids: np.ndarray, lengths):
    """The mean next/previous-token cross-entropy in torch, and its modules by our names."""
    classifier = model.classifier
    cell = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[classifier.cell]
    hidden = classifier.hidden_size
    modules = torch.nn.ModuleDict(
        {
            "embedding": torch.nn.Embedding(
                VOCAB + 1, classifier.embedding_size, padding_idx=classifier.pad_id
            ),
            "encoder": cell(
                classifier.embedding_size,
                hidden,
                classifier.num_layers,
                bidirectional=classifier.bidirectional,
            ),
            **{name: torch.nn.Linear(hidden, VOCAB) for name in model.heads},
        }
    ).double()
    modules.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in model.params.items()})
    embedded = modules["embedding"](torch.from_numpy(ids.T))
    packed = torch.nn.utils.rnn.pack_padded_sequence(
        embedded, torch.from_numpy(lengths), enforce_sorted=False
    )
    output, _ = modules["encoder"](packed)
    output, _ = torch.nn.utils.rnn.pad_packed_sequence(output, total_length=ids.shape[1])
    logits, targets = [], []
    for row, length in enumerate(lengths):
        # forward states 0..n-2 predict tokens 1..n-1; reverse states 1..n-1 tokens 0..n-2
        logits.append(modules["next_token"](output[: length - 1, row, :hidden]))
        targets.append(torch.from_numpy(ids[row, 1:length]))
        if "previous_token" in model.heads:
            logits.append(modules["previous_token"](output[1:length, row, hidden:]))
            targets.append(torch.from_numpy(ids[row, : length - 1]))
    loss = torch.nn.functional.cross_entropy(torch.cat(logits), torch.cat(targets))
    return loss, modules


# A stacked encoder reads one way only: a stacked bidirectional one is refused (below).
@pytest.mark.parametrize(
    ("bidirectional", "num_layers"), [(False, 1), (True, 1), (False, 2)], ids=["uni", "bi", "2uni"]
)
@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_loss_and_gradients_match_torch(
    torch: ModuleType, cell: str, bidirectional: bool, num_layers: int
) -> None:
    classifier = make_model(cell=cell, bidirectional=bidirectional, num_layers=num_layers)
    model = EncoderLanguageModel(classifier)
    ids, _ = padded_batch(model.classifier, LENGTHS)
    model.zero_grad()
    loss = model.loss_and_backward(ids, LENGTHS)

    oracle_loss, modules = torch_loss(torch, model, ids, LENGTHS)
    oracle_loss.backward()
    assert loss == pytest.approx(oracle_loss.item(), rel=1e-12)
    oracle_grads = dict(modules.named_parameters())
    assert set(oracle_grads) == set(model.grads)
    for name, grad in model.grads.items():
        assert_close(grad, oracle_grads[name].grad)


def test_gradients_match_finite_differences_with_dropout() -> None:
    # Restoring the generator before each forward draws the same dropout masks every time.
    classifier = make_model(
        bidirectional=True, dropout=0.3, embedding_dropout=0.2, word_dropout=0.25
    )
    model = EncoderLanguageModel(classifier)
    ids, _ = padded_batch(classifier, LENGTHS)
    start = model.rng.bit_generator.state

    def loss() -> float:
        model.rng.bit_generator.state = start
        summed, count = model.forward(ids, LENGTHS)
        return summed / count

    model.rng.bit_generator.state = start
    model.zero_grad()
    model.loss_and_backward(ids, LENGTHS)
    for name in ("embedding.weight", "encoder.weight_hh_l0_reverse", "previous_token.weight"):
        assert_close(model.grads[name], numerical_gradient(loss, model.params[name]), tol=1e-6)


@pytest.mark.parametrize("bidirectional", [False, True])
def test_no_direction_sees_the_token_it_predicts(bidirectional: bool) -> None:
    # A state's gradient reaches exactly the input steps it has read: the forward state at
    # t (which predicts t + 1) steps 0..t, the reverse state at t (which predicts t - 1)
    # steps t..n-1. So neither reads the token it is asked for.
    classifier = make_model(bidirectional=bidirectional)
    model = EncoderLanguageModel(classifier)
    length = 6
    ids = np.arange(length)[None, :]  # every token distinct, so rows of the table are steps
    model.train()
    output_shape = (length, 1, classifier.encoder.num_directions * classifier.hidden_size)
    for step in range(length):
        for units, name in ((slice(0, 5), "forward"), (slice(5, 10), "reverse")):
            if name == "reverse" and not bidirectional:
                continue
            model.zero_grad()
            embedded = classifier.embedding.forward(ids.T)
            classifier.encoder.forward(embedded, None, np.array([length]))
            probe = np.zeros(output_shape)
            probe[step, 0, units] = 1.0
            grad_embedded, _ = classifier.encoder.backward(probe, None)
            reached = np.flatnonzero(np.any(grad_embedded[:, 0] != 0, axis=-1))
            read = range(step + 1) if name == "forward" else range(step, length)
            assert list(reached) == list(read)


def test_a_padded_batch_gives_the_rows_own_losses_and_gradients() -> None:
    model = EncoderLanguageModel(make_model(bidirectional=True))
    ids, _ = padded_batch(model.classifier, LENGTHS)
    model.zero_grad()
    model.forward(ids, LENGTHS)
    model.backward(1.0)
    batch_grads = {k: g.copy() for k, g in model.grads.items()}
    summed_grads = {k: np.zeros_like(g) for k, g in model.grads.items()}
    batch_loss, batch_count = model.forward(ids, LENGTHS)
    total, count = 0.0, 0
    for row, length in enumerate(LENGTHS):
        model.zero_grad()
        loss, predicted = model.forward(ids[row : row + 1, :length])
        model.backward(1.0)
        total, count = total + loss, count + predicted
        for name, grad in model.grads.items():
            summed_grads[name] += grad
    assert count == batch_count == 2 * int(np.sum(LENGTHS - 1))
    assert total == pytest.approx(batch_loss, rel=1e-12)
    for name, grad in batch_grads.items():
        assert_close(grad, summed_grads[name], tol=1e-12)


def test_a_one_token_text_predicts_nothing_and_trains_nothing() -> None:
    model = EncoderLanguageModel(make_model(bidirectional=True))
    model.zero_grad()
    assert model.loss_and_backward(np.array([[3]])) == 0.0
    assert all(np.all(grad == 0) for grad in model.grads.values())


def test_it_trains_the_classifiers_own_arrays_and_only_those() -> None:
    classifier = make_model(bidirectional=True)
    model = EncoderLanguageModel(classifier)
    assert model.params["encoder.weight_ih_l0"] is classifier.params["encoder.weight_ih_l0"]
    assert model.grads["embedding.weight"] is classifier.grads["embedding.weight"]
    assert not any(name.startswith("classifier.") for name in model.params)
    assert set(model.heads) == {"next_token", "previous_token"}
    assert set(EncoderLanguageModel(make_model()).heads) == {"next_token"}
    head = model.params["next_token.weight"]
    assert head.shape == (VOCAB, classifier.hidden_size)  # the padding id is never a target


def test_a_stacked_bidirectional_encoder_is_refused() -> None:
    with pytest.raises(ValueError, match="stacked bidirectional"):
        EncoderLanguageModel(make_model(bidirectional=True, num_layers=2))
    EncoderLanguageModel(make_model(num_layers=2))  # one direction may stack


def test_eval_mode_keeps_no_cache() -> None:
    model = EncoderLanguageModel(SequenceClassifier(VOCAB, 2, 4, 5, dtype=np.float64, rng=0))
    model.eval()
    assert not model.classifier.training
    model.forward(np.array([[1, 2, 3]]))
    with pytest.raises(RuntimeError, match="training mode"):
        model.backward()
