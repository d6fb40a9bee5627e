"""RNNCell, LSTMCell and GRUCell against torch's cells in float64, and against the
full-sequence layers they share their kernels with."""

from __future__ import annotations

from types import ModuleType
from typing import TYPE_CHECKING

import numpy as np
import pytest

from rnnkit.nn import LSTM
from tests.nn.recurrent_helpers import (
    KINDS,
    backward_cell,
    cell_state_count,
    make_cell,
    make_layer,
    step_cell,
)
from tests.nn.test_recurrent_oracle import TOLERANCE, assert_results_close, leaf, to_torch

if TYPE_CHECKING:  # for the annotations only; the ``torch`` fixture runs the oracle tests
    import torch


def torch_cell(torch: ModuleType, kind: str, cell) -> torch.nn.Module:
    """torch's cell with the options and weights of ``cell``."""
    if kind.startswith("rnn_"):
        module = torch.nn.RNNCell(
            cell.input_size, cell.hidden_size, cell.bias, kind[4:], dtype=torch.float64
        )
    else:
        cell_class = {"lstm": torch.nn.LSTMCell, "gru": torch.nn.GRUCell}[kind]
        module = cell_class(cell.input_size, cell.hidden_size, cell.bias, dtype=torch.float64)
    module.load_state_dict(to_torch(torch, cell.state_dict()))
    return module


@pytest.mark.parametrize("bias", [True, False], ids=["bias", "no_bias"])
@pytest.mark.parametrize("with_state", [False, True], ids=["zero_state", "given_state"])
@pytest.mark.parametrize("batch", [None, 1, 4], ids=["unbatched", "batch1", "batch4"])
@pytest.mark.parametrize("kind", KINDS)
def test_cell_matches_torch(
    torch: ModuleType, kind: str, batch: int | None, with_state: bool, bias: bool
) -> None:
    cell = make_cell(kind, 3, 5, bias=bias)
    rng = np.random.default_rng(7)
    leading = () if batch is None else (batch,)
    count = cell_state_count(cell)
    x = rng.standard_normal((*leading, 3))
    states = tuple(rng.standard_normal((*leading, 5)) for _ in range(count))
    probes = tuple(rng.standard_normal((*leading, 5)) for _ in range(count))
    names = ("h", "c")[:count]

    new_states = step_cell(cell, x, states if with_state else None)
    grad_x, grad_states = backward_cell(cell, probes)
    ours = {"grad_x": grad_x}
    for name, new, grad in zip(names, new_states, grad_states, strict=True):
        ours[f"{name}'"] = new
        ours[f"grad_{name}"] = grad
    ours.update({f"grad_{name}": grad for name, grad in cell.grads.items()})

    module = torch_cell(torch, kind, cell)
    x_t = leaf(torch, x)
    # Zero states are passed explicitly so that torch computes their gradient too.
    states_t = [leaf(torch, s if with_state else np.zeros_like(s)) for s in states]
    out = module(x_t, tuple(states_t) if count == 2 else states_t[0])
    outs = out if isinstance(out, tuple) else (out,)
    loss = sum(torch.sum(o * torch.from_numpy(p)) for o, p in zip(outs, probes, strict=True))
    loss.backward()
    theirs = {"grad_x": x_t.grad}
    for name, new, state in zip(names, outs, states_t, strict=True):
        theirs[f"{name}'"] = new
        theirs[f"grad_{name}"] = state.grad
    theirs.update({f"grad_{name}": p.grad for name, p in module.named_parameters()})
    theirs = {name: value.detach().numpy() for name, value in theirs.items()}

    for name, value in ours.items():
        assert value.shape == theirs[name].shape, name
    assert_results_close(ours, theirs)


@pytest.mark.parametrize("kind", KINDS)
def test_cell_parameters_are_named_and_shaped_like_torch(torch: ModuleType, kind: str) -> None:
    for bias in (True, False):
        cell = make_cell(kind, 3, 5, bias=bias)
        module = torch_cell(torch, kind, cell)
        expected = [(n, tuple(p.shape)) for n, p in module.named_parameters()]
        assert [(n, p.shape) for n, p in cell.params.items()] == expected
        assert [(n, g.shape) for n, g in cell.grads.items()] == expected


@pytest.mark.parametrize("kind", KINDS)
def test_stepping_a_cell_reproduces_the_sequence_layer(kind: str) -> None:
    layer = make_layer(kind, 3, 5)
    cell = make_cell(kind, 3, 5)
    cell.load_state_dict({name[: -len("_l0")]: value for name, value in layer.state_dict().items()})
    rng = np.random.default_rng(8)
    x = rng.standard_normal((6, 2, 3))
    states = tuple(rng.standard_normal((2, 5)) for _ in range(cell_state_count(cell)))
    hx = tuple(s[None] for s in states) if isinstance(layer, LSTM) else states[0][None]
    output, _ = layer.forward(x, hx)
    for t in range(6):
        states = step_cell(cell, x[t], states)
        np.testing.assert_allclose(states[0], output[t], rtol=TOLERANCE, atol=1e-14)


@pytest.mark.parametrize("kind", KINDS)
def test_float32_cell_keeps_float32(kind: str) -> None:
    cell = make_cell(kind, 3, 5, dtype=np.float32)
    count = cell_state_count(cell)
    new_states = step_cell(cell, np.ones((2, 3)), None)
    grad_x, grad_states = backward_cell(cell, tuple(np.ones((2, 5)) for _ in range(count)))
    for value in (*new_states, grad_x, *grad_states, *cell.params.values(), *cell.grads.values()):
        assert value.dtype == np.float32
