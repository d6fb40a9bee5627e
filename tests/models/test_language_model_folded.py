"""LanguageModel runs its embedding through the first recurrent layer (``EmbeddedTokens``)
when the vocabulary is no larger than the batch of tokens: the loss, the logits, the final
state and every gradient (the tied table included) equal those of the plain pipeline
embedding -> layers -> dropout -> decoder, to 1e-12 relative in float64."""

from __future__ import annotations

import numpy as np
import pytest

from rnnkit.models import LanguageModel
from rnnkit.nn import softmax_cross_entropy

EMBEDDING = HIDDEN = 6
RTOL = 1e-12


def relative_error(actual: np.ndarray, expected: np.ndarray) -> float:
    return float(np.max(np.abs(actual - expected)) / np.max(np.abs(expected)))


def make_model(vocab: int, cell: str, tie: bool, dropout: float) -> LanguageModel:
    return LanguageModel(
        vocab,
        EMBEDDING,
        HIDDEN,
        num_layers=2,
        cell=cell,
        dropout=dropout,
        tie_weights=tie,
        dtype=np.float64,
        rng=0,
    )


def plain_loss_and_backward(model: LanguageModel, inputs: np.ndarray, targets: np.ndarray):
    """The unfolded pipeline, through the model's own sub-layers, time-major."""
    embedded = model.embedding.forward(inputs.T)
    output, state = model.rnn.forward(embedded)
    logits = model.decoder.forward(model.dropout.forward(output))
    loss, grad_logits = softmax_cross_entropy(logits, targets.T)
    grad_output = model.dropout.backward(model.decoder.backward(grad_logits))
    grad_embedded, _ = model.rnn.backward(grad_output)
    model.embedding.backward(grad_embedded)
    return loss, state


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
@pytest.mark.parametrize("tie", [False, True])
@pytest.mark.parametrize(("vocab", "dropout"), [(9, 0.0), (9, 0.3), (40, 0.0)])
def test_folded_equals_plain_pipeline(cell: str, tie: bool, vocab: int, dropout: float) -> None:
    # 4 x 5 = 20 tokens: a vocabulary of 9 is folded, one of 40 is looked up.
    ids = np.random.default_rng(1).integers(0, vocab, (4, 6))
    inputs, targets = ids[:, :-1], ids[:, 1:]
    model, reference = make_model(vocab, cell, tie, dropout), make_model(vocab, cell, tie, dropout)

    loss, state = model.loss_and_backward(inputs, targets)
    reference_loss, reference_state = plain_loss_and_backward(reference, inputs, targets)

    assert model._folded == (vocab <= inputs.size)
    assert loss == pytest.approx(reference_loss, rel=RTOL)
    states = (
        zip(state, reference_state, strict=True) if cell == "lstm" else [(state, reference_state)]
    )
    for mine, expected in states:
        assert relative_error(mine, expected) < RTOL
    assert set(model.grads) == set(reference.grads)
    for name, grad in reference.grads.items():
        assert relative_error(model.grads[name], grad) < RTOL, name

    # Evaluation (no dropout) folds the same way.
    logits, _ = model.eval().forward(inputs)
    reference.eval()
    expected = reference.decoder.forward(
        reference.rnn.forward(reference.embedding.forward(inputs.T))[0]
    )
    assert relative_error(logits, expected.transpose(1, 0, 2)) < RTOL
