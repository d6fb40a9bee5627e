"""Seq2Seq with dropout, for the cells and options ``test_seq2seq``'s finite differences leave
out (GRU and RNN, dot attention, a reversed source, scheduled sampling): a few entries of
every parameter against central differences. Dropout is random, so the torch oracle cannot
check it; restoring the generator before each forward draws the same masks (and the same
sampling choices) every time, which makes the loss a fixed function of the weights."""

from __future__ import annotations

import numpy as np
import pytest

from tests.gradcheck import assert_close, numerical_gradient
from tests.models.test_seq2seq import CASES, make_model, probed_loss_and_backward

SAMPLES = 4  # entries per parameter: a strided view, spread over every gate


@pytest.mark.parametrize(
    "case", ["gru-dot-peeky", "rnn-additive-bi-peeky-reverse", "gru-general-feed-sampled"]
)
def test_every_parameter_matches_finite_differences_with_dropout(case: str) -> None:
    model = make_model(**CASES[case], num_layers=2, dropout=0.3)
    loss = probed_loss_and_backward(model)
    with_masks = loss()
    model.eval()
    assert loss() != pytest.approx(with_masks, rel=1e-6)  # the masks are in the loss
    model.train()
    for name, param in model.params.items():
        step = max(1, param.size // SAMPLES)
        entries = param.reshape(-1)[::step]
        assert np.shares_memory(entries, param)
        analytic = model.grads[name].reshape(-1)[::step]
        try:
            assert_close(analytic, numerical_gradient(loss, entries, eps=1e-5), tol=1e-6)
        except AssertionError as error:
            raise AssertionError(f"{name}: {error}") from None
