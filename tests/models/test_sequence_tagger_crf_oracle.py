"""SequenceTagger with a CRF against torch, in float64: torch has no CRF, so the oracle's loss
is the tagger's torch twin with the CRF's negative log-likelihood written by brute force, the
log-sum-exp over every tag sequence of each sentence. Autograd through that sum gives every
gradient, the CRF's transition scores and the encoder's weights alike."""

from __future__ import annotations

import itertools
from types import ModuleType
from typing import Any

import numpy as np
import pytest

from tests.gradcheck import assert_close
from tests.models.test_sequence_tagger import (
    LENGTHS,
    TAGS,
    make_model,
    padded_batch,
    torch_emissions,
    torch_layers,
)

TOLERANCE = 1e-8


def brute_force_crf(torch: ModuleType, crf: Any, emissions: Any, tags: np.ndarray) -> Any:
    """The tagger's CRF loss, ``sum_b (log Z_b - score_b(gold)) / sum_b n_b``, with ``Z_b``
    summed over all ``TAGS ** n_b`` sequences. ``emissions`` ``(T, B, K)``, as the twin gives."""
    total = emissions.new_zeros(())
    for row, n in enumerate(LENGTHS):
        paths = torch.tensor(list(itertools.product(range(TAGS), repeat=int(n))))  # (P, n)
        steps = torch.arange(int(n))
        scores = (
            crf.start_transitions[paths[:, 0]]
            + emissions[steps, row][steps, paths].sum(dim=1)
            + crf.transitions[paths[:, :-1], paths[:, 1:]].sum(dim=1)
            + crf.end_transitions[paths[:, -1]]
        )
        gold = torch.from_numpy(tags[row, :n])
        gold_score = (
            crf.start_transitions[gold[0]]
            + emissions[steps, row, gold].sum()
            + crf.transitions[gold[:-1], gold[1:]].sum()
            + crf.end_transitions[gold[-1]]
        )
        total = total + torch.logsumexp(scores, dim=0) - gold_score
    return total / int(LENGTHS.sum())


@pytest.mark.parametrize(
    ("cell", "bidirectional", "chars"),
    [("lstm", True, True), ("gru", False, True), ("rnn", True, False), ("lstm", False, False)],
)
def test_crf_loss_and_every_gradient_match_torch_and_brute_force(
    torch: ModuleType, cell: str, bidirectional: bool, chars: bool
) -> None:
    model = make_model(chars, cell=cell, bidirectional=bidirectional, num_layers=2, crf=True)
    rng = np.random.default_rng(3)
    for value in model.crf.params.values():  # beyond the initial range: a sharper test
        value[...] = rng.normal(0.0, 1.0, value.shape)
    ids, tags, word_chars = padded_batch(model, LENGTHS)
    model.zero_grad()
    loss = model.loss_and_backward(ids, LENGTHS, tags, word_chars)

    oracle = torch_layers(torch, model)
    emissions = torch_emissions(torch, oracle, ids, LENGTHS, word_chars)
    expected = brute_force_crf(torch, oracle["crf"], emissions, tags)
    expected.backward()

    assert abs(loss - expected.item()) <= TOLERANCE * abs(expected.item())
    torch_grads = dict(oracle.named_parameters())
    assert set(torch_grads) == set(model.grads)
    assert {"crf.transitions", "crf.start_transitions", "crf.end_transitions"} <= set(model.grads)
    for name, grad in model.grads.items():
        assert np.any(grad != 0.0), name  # a zero gradient would check nothing
        try:
            assert_close(grad, torch_grads[name].grad, TOLERANCE)
        except AssertionError as error:
            raise AssertionError(f"{name}: {error}") from None
