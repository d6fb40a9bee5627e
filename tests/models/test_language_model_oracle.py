"""LanguageModel against the equivalent torch module, in float64: parameter names, logits,
final states, the loss and every gradient (the tied table included)."""

from __future__ import annotations

import numpy as np
import pytest

from rnnkit.models import LanguageModel
from tests.oracle import torch

VOCAB, EMBEDDING, HIDDEN, LAYERS = 11, 6, 6, 2
TORCH_LAYERS = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU, "rnn": torch.nn.RNN}


class TorchLanguageModel(torch.nn.Module):
    """What ``LanguageModel`` computes, written the usual torch way (dropout set to 0)."""

    def __init__(self, cell: str, tie: bool) -> None:
        super().__init__()
        self.embedding = torch.nn.Embedding(VOCAB, EMBEDDING)
        self.rnn = TORCH_LAYERS[cell](EMBEDDING, HIDDEN, LAYERS)
        self.drop = torch.nn.Dropout(0.0)
        self.decoder = torch.nn.Linear(HIDDEN, VOCAB)
        if tie:
            self.decoder.weight = self.embedding.weight

    def forward(self, ids, state):
        output, state = self.rnn(self.embedding(ids.T), state)
        return self.decoder(self.drop(output)).transpose(0, 1), state


def build_pair(cell: str, tie: bool) -> tuple[LanguageModel, TorchLanguageModel]:
    ours = LanguageModel(
        VOCAB, EMBEDDING, HIDDEN, LAYERS, cell=cell, tie_weights=tie, dtype=np.float64, rng=0
    )
    theirs = TorchLanguageModel(cell, tie).double()
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


def to_torch(state):
    if isinstance(state, tuple):
        return tuple(torch.from_numpy(s) for s in state)
    return torch.from_numpy(state)


@pytest.mark.parametrize(
    ("cell", "tie"), [("lstm", False), ("lstm", True), ("gru", False), ("rnn", True)]
)
def test_loss_gradients_and_state_match_torch(cell: str, tie: bool) -> None:
    ours, theirs = build_pair(cell, tie)
    ids = np.random.default_rng(2).integers(0, VOCAB, (3, 8))
    inputs, targets = ids[:, :-1], ids[:, 1:]
    state = initial_state(cell, batch=3)

    ours.zero_grad()
    loss, final = ours.loss_and_backward(inputs, targets, state)

    # The initial state is a constant for torch too: truncated BPTT stops there.
    logits_t, final_t = theirs(torch.from_numpy(inputs), to_torch(state))
    loss_t = torch.nn.functional.cross_entropy(
        logits_t.reshape(-1, VOCAB), torch.from_numpy(targets).reshape(-1)
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
