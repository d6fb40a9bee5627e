"""LanguageModel against the equivalent torch module, in float64: parameter names, logits,
final states, the loss and every gradient (the tied table included), for every cell, tied
and untied, with the embedding folded into the first layer (a vocabulary no larger than
the batch of tokens) and looked up."""

from __future__ import annotations

from types import ModuleType
from typing import TYPE_CHECKING

import numpy as np
import pytest

from rnnkit.models import LanguageModel

if TYPE_CHECKING:  # for the annotations only; the tests get torch from the ``torch`` fixture
    import torch

EMBEDDING, HIDDEN, LAYERS = 6, 6, 2


def torch_layers(torch: ModuleType, vocab: int, cell: str, tie: bool) -> torch.nn.ModuleDict:
    """The layers of ``LanguageModel``, written the usual torch way (dropout set to 0).

    A ``ModuleDict`` rather than a ``torch.nn.Module`` subclass: a class would need torch
    when this file is imported, and without torch these tests should be skipped one by one.
    """
    rnn_class = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU, "rnn": torch.nn.RNN}[cell]
    layers = torch.nn.ModuleDict(
        {
            "embedding": torch.nn.Embedding(vocab, EMBEDDING),
            "rnn": rnn_class(EMBEDDING, HIDDEN, LAYERS),
            "drop": torch.nn.Dropout(0.0),
            "decoder": torch.nn.Linear(HIDDEN, vocab),
        }
    )
    if tie:
        layers["decoder"].weight = layers["embedding"].weight
    return layers


def torch_forward(layers: torch.nn.ModuleDict, ids: torch.Tensor, state) -> tuple:
    """What ``LanguageModel.forward`` computes: batch-first logits and the final state."""
    output, state = layers["rnn"](layers["embedding"](ids.T), state)
    return layers["decoder"](layers["drop"](output)).transpose(0, 1), state


def build_pair(
    torch: ModuleType, vocab: int, cell: str, tie: bool
) -> tuple[LanguageModel, torch.nn.ModuleDict]:
    ours = LanguageModel(
        vocab, EMBEDDING, HIDDEN, LAYERS, cell=cell, tie_weights=tie, dtype=np.float64, rng=0
    )
    theirs = torch_layers(torch, vocab, cell, tie).double()
    # strict=True: the names must be exactly torch's, the tied alias included.
    theirs.load_state_dict({k: torch.from_numpy(v) for k, v in ours.state_dict().items()})
    assert set(ours.state_dict()) == set(theirs.state_dict())
    return ours, theirs


def initial_state(cell: str, batch: int):
    rng = np.random.default_rng(1)
    shape = (LAYERS, batch, HIDDEN)
    if cell == "lstm":
        return rng.standard_normal(shape), rng.standard_normal(shape)
    return rng.standard_normal(shape)


def to_torch(torch: ModuleType, state):
    if isinstance(state, tuple):
        return tuple(torch.from_numpy(s) for s in state)
    return torch.from_numpy(state)


# 3 x 7 = 21 tokens a batch: a vocabulary of 11 is folded, one of 40 looked up.
@pytest.mark.parametrize("vocab", [11, 40], ids=["folded", "looked_up"])
@pytest.mark.parametrize("tie", [False, True], ids=["untied", "tied"])
@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_loss_gradients_and_state_match_torch(
    torch: ModuleType, cell: str, tie: bool, vocab: int
) -> None:
    ours, theirs = build_pair(torch, vocab, cell, tie)
    ids = np.random.default_rng(2).integers(0, vocab, (3, 8))
    inputs, targets = ids[:, :-1], ids[:, 1:]
    state = initial_state(cell, batch=3)

    ours.zero_grad()
    loss, final = ours.loss_and_backward(inputs, targets, state)
    assert ours._folded == (vocab <= inputs.size)

    # The initial state is a constant for torch too: truncated BPTT stops there.
    logits_t, final_t = torch_forward(theirs, torch.from_numpy(inputs), to_torch(torch, state))
    loss_t = torch.nn.functional.cross_entropy(
        logits_t.reshape(-1, vocab), torch.from_numpy(targets).reshape(-1)
    )
    loss_t.backward()

    assert loss == pytest.approx(loss_t.item(), rel=1e-12)
    final_pairs = zip(final, final_t, strict=True) if cell == "lstm" else [(final, final_t)]
    for mine, reference in final_pairs:
        np.testing.assert_allclose(mine, reference.detach().numpy(), rtol=1e-10, atol=1e-12)
    torch_params = dict(theirs.named_parameters())  # a shared parameter appears once
    assert set(ours.params) == set(torch_params)
    for name, grad in ours.grads.items():
        np.testing.assert_allclose(
            grad, torch_params[name].grad.numpy(), rtol=1e-9, atol=1e-12, err_msg=name
        )

    logits, _ = ours.eval().forward(inputs, state)
    np.testing.assert_allclose(logits, logits_t.detach().numpy(), rtol=1e-10, atol=1e-12)
