"""RNN, LSTM and GRU against PyTorch in float64: outputs, final states and every gradient.

The main test runs the whole matrix of options; variable lengths go to torch as a packed
sequence (``enforce_sorted=False``). Dropout is random, so its test rebuilds torch's
computation layer by layer with the masks the rnnkit layer drew.

This module also holds the torch helpers ``test_recurrent_weights`` and ``test_cells`` use.
They take the torch module as their first argument, from the tests' ``torch`` fixture, so
that this module imports without torch: only the tests that ask for torch are skipped then.
That fixture also runs torch single-threaded: these tensors are tiny, and on a busy machine
torch's waiting worker threads made this module several times slower.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from types import ModuleType
from typing import TYPE_CHECKING

import numpy as np
import pytest

from rnnkit.nn import RNN, dropout_mask
from rnnkit.nn.recurrent import RecurrentLayer
from tests.gradcheck import assert_close
from tests.nn.recurrent_helpers import (
    KINDS,
    LENGTHS,
    Problem,
    backward,
    forward,
    make_layer,
    random_problem,
    run_layer,
    state_count,
    state_names,
)

if TYPE_CHECKING:  # for the annotations only; the ``torch`` fixture runs these tests
    import torch

TOLERANCE = 1e-8


def torch_class(torch: ModuleType, layer: RecurrentLayer) -> type:
    """torch's class for ``layer``: rnnkit's RNN, LSTM and GRU are named like torch's."""
    return getattr(torch.nn, type(layer).__name__)


def torch_dtype(torch: ModuleType, layer: RecurrentLayer) -> torch.dtype:
    return torch.float64 if layer.dtype == np.float64 else torch.float32


def to_torch(torch: ModuleType, state: dict[str, np.ndarray]) -> dict[str, torch.Tensor]:
    return {name: torch.from_numpy(np.ascontiguousarray(value)) for name, value in state.items()}


def torch_twin(torch: ModuleType, layer: RecurrentLayer) -> torch.nn.Module:
    """The torch module with the same options and the same weights as ``layer``."""
    options = {
        "num_layers": layer.num_layers,
        "bias": layer.bias,
        "batch_first": layer.batch_first,
        "dropout": layer.dropout,
        "bidirectional": layer.bidirectional,
        "dtype": torch_dtype(torch, layer),
    }
    if isinstance(layer, RNN):
        options["nonlinearity"] = layer.nonlinearity
    module = torch_class(torch, layer)(layer.input_size, layer.hidden_size, **options)
    module.load_state_dict(to_torch(torch, layer.state_dict()))
    module.train(layer.training)
    return module


def leaf(torch: ModuleType, value: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(value.copy()).requires_grad_()


def run_torch(
    torch: ModuleType, module: torch.nn.Module, layer: RecurrentLayer, problem: Problem
) -> dict:
    """What ``run_layer`` returns, computed by ``module``; zero initial states are passed as
    explicit tensors so that their gradients exist too."""
    x = leaf(torch, problem.x)
    batch_axis, time_axis = (0, 1) if module.batch_first else (1, 0)
    state_shape = (
        layer.num_layers * layer.num_directions,
        problem.x.shape[batch_axis],
        layer.hidden_size,
    )
    if problem.states is None:
        states = [
            torch.zeros(state_shape, dtype=torch_dtype(torch, layer), requires_grad=True)
            for _ in range(state_count(layer))
        ]
    else:
        states = [leaf(torch, value) for value in problem.states]
    inputs = x
    if problem.lengths is not None:
        inputs = torch.nn.utils.rnn.pack_padded_sequence(
            x, torch.tensor(problem.lengths), module.batch_first, enforce_sorted=False
        )
    output, final = module(inputs, tuple(states) if len(states) == 2 else states[0])
    if problem.lengths is not None:
        output, _ = torch.nn.utils.rnn.pad_packed_sequence(
            output, module.batch_first, total_length=problem.x.shape[time_axis]
        )
    finals = final if isinstance(final, tuple) else (final,)
    return backpropagate(
        torch, layer, problem, x, states, output, finals, module.named_parameters()
    )


def backpropagate(
    torch: ModuleType,
    layer: RecurrentLayer,
    problem: Problem,
    x: torch.Tensor,
    states: list[torch.Tensor],
    output: torch.Tensor,
    finals: tuple[torch.Tensor, ...],
    named_parameters: Iterable[tuple[str, torch.Tensor]],
) -> dict[str, np.ndarray]:
    """Backpropagate torch's ``probe_loss`` and collect what ``run_layer`` returns."""
    loss = torch.sum(output * torch.from_numpy(problem.grad_output))
    for value, grad in zip(finals, problem.grad_states, strict=True):
        loss = loss + torch.sum(value * torch.from_numpy(grad))
    loss.backward()

    results = {"output": output, "grad_x": x.grad}
    for name, value, initial in zip(state_names(layer), finals, states, strict=True):
        results[f"{name}_n"] = value
        results[f"grad_{name}_0"] = initial.grad
    for name, parameter in named_parameters:
        results[f"grad_{name}"] = parameter.grad
    return {name: value.detach().numpy() for name, value in results.items()}


def assert_results_close(ours: dict, theirs: dict, tol: float = TOLERANCE) -> None:
    """The same names, and each result within ``tol`` relative error (see ``assert_close``)."""
    assert sorted(ours) == sorted(theirs)
    for name, expected in theirs.items():
        assert ours[name].dtype == expected.dtype, name
        try:
            assert_close(ours[name], expected, tol)
        except AssertionError as error:
            raise AssertionError(f"{name}: {error}") from None


@pytest.mark.parametrize("bias", [True, False], ids=["bias", "no_bias"])
@pytest.mark.parametrize("lengths", [None, LENGTHS], ids=["full", "lengths"])
@pytest.mark.parametrize("with_state", [False, True], ids=["zero_state", "given_state"])
@pytest.mark.parametrize("batch_first", [False, True], ids=["time_major", "batch_first"])
@pytest.mark.parametrize("bidirectional", [False, True], ids=["uni", "bi"])
@pytest.mark.parametrize("num_layers", [1, 2, 3], ids=["1layer", "2layers", "3layers"])
@pytest.mark.parametrize("kind", KINDS)
def test_matches_torch(
    torch: ModuleType,
    kind: str,
    num_layers: int,
    bidirectional: bool,
    batch_first: bool,
    with_state: bool,
    lengths: tuple[int, ...] | None,
    bias: bool,
) -> None:
    layer = make_layer(
        kind,
        3,
        6,
        num_layers=num_layers,
        bidirectional=bidirectional,
        batch_first=batch_first,
        bias=bias,
    )
    rng = np.random.default_rng(1)
    problem = random_problem(layer, 5, 4, rng, with_state=with_state, lengths=lengths)
    assert_results_close(
        run_layer(layer, problem), run_torch(torch, torch_twin(torch, layer), layer, problem)
    )


def single_layer_twin(torch: ModuleType, layer: RecurrentLayer, index: int) -> torch.nn.Module:
    """A one-layer torch module holding the weights of layer ``index`` of ``layer``."""
    options = {"bias": layer.bias, "bidirectional": layer.bidirectional}
    if isinstance(layer, RNN):
        options["nonlinearity"] = layer.nonlinearity
    input_size = layer.input_size if index == 0 else layer.num_directions * layer.hidden_size
    module = torch_class(torch, layer)(
        input_size, layer.hidden_size, dtype=torch_dtype(torch, layer), **options
    )
    own = re.compile(rf"_l{index}(_reverse)?$")
    module.load_state_dict(
        to_torch(
            torch,
            {
                own.sub(lambda match: "_l0" + (match.group(1) or ""), name): value
                for name, value in layer.state_dict().items()
                if own.search(name)
            },
        )
    )
    return module


def run_torch_with_masks(
    torch: ModuleType, layer: RecurrentLayer, problem: Problem, masks: list[np.ndarray | None]
) -> dict[str, np.ndarray]:
    """``run_torch`` for a stack with dropout, built from one-layer modules, with
    ``masks[l]`` (rows in the input's order) multiplying the input of layer ``l``."""
    D = layer.num_directions
    x = leaf(torch, problem.x)
    states = [leaf(torch, value) for value in problem.states]
    num_steps, batch = problem.x.shape[:2]
    lengths = torch.tensor(problem.lengths or (num_steps,) * batch)
    modules = [single_layer_twin(torch, layer, index) for index in range(layer.num_layers)]
    layer_input, finals = x, [[] for _ in states]
    for index, module in enumerate(modules):
        if masks[index] is not None:
            layer_input = layer_input * torch.from_numpy(masks[index])
        hx = [state[index * D : (index + 1) * D] for state in states]
        packed = torch.nn.utils.rnn.pack_padded_sequence(layer_input, lengths, enforce_sorted=False)
        output, final = module(packed, tuple(hx) if len(hx) == 2 else hx[0])
        layer_input, _ = torch.nn.utils.rnn.pad_packed_sequence(output, total_length=num_steps)
        for collected, value in zip(
            finals, final if isinstance(final, tuple) else (final,), strict=True
        ):
            collected.append(value)
    named_parameters = [
        (name.replace("_l0", f"_l{index}"), parameter)
        for index, module in enumerate(modules)
        for name, parameter in module.named_parameters()
    ]
    finals = tuple(torch.cat(values) for values in finals)
    return backpropagate(torch, layer, problem, x, states, layer_input, finals, named_parameters)


@pytest.mark.parametrize("lengths", [None, LENGTHS], ids=["full", "lengths"])
@pytest.mark.parametrize("bidirectional", [False, True], ids=["uni", "bi"])
@pytest.mark.parametrize("kind", KINDS)
def test_dropout_matches_torch_given_the_same_masks(
    torch: ModuleType, kind: str, bidirectional: bool, lengths: tuple[int, ...] | None
) -> None:
    layer = make_layer(kind, 3, 6, num_layers=3, dropout=0.4, bidirectional=bidirectional)
    problem = random_problem(layer, 5, 4, np.random.default_rng(2), lengths=lengths)
    layer.zero_grad()
    ours = forward(layer, problem)
    cache = layer._cache
    # The cache holds each mask with the rows sorted by length; put them back in order.
    unsort = slice(None) if cache.order is None else np.argsort(cache.order)
    masks = [None if mask is None else mask[:, unsort] for mask in cache.dropout_masks]
    ours.update(backward(layer, problem))

    assert masks[0] is None
    for mask in masks[1:]:
        # Inverted dropout: each entry dropped (0) or scaled by 1 / (1 - p), both present.
        assert set(np.unique(mask)) == {0.0, 1 / (1 - 0.4)}
    assert_results_close(ours, run_torch_with_masks(torch, layer, problem, masks))

    # The masks changed the result: without them it is torch's evaluation-mode result.
    unmasked = run_torch_with_masks(torch, layer, problem, [None] * layer.num_layers)
    assert not np.allclose(ours["output"], unmasked["output"])


def test_dropout_masks_come_from_the_layer_rng_in_layer_order() -> None:
    layer = make_layer("lstm", 3, 6, num_layers=3, dropout=0.3, bidirectional=True)
    problem = random_problem(layer, 5, 4, np.random.default_rng(3))
    replay = np.random.Generator(np.random.PCG64())
    replay.bit_generator.state = layer.rng.bit_generator.state
    forward(layer, problem)
    drawn = layer._cache.dropout_masks
    assert drawn[0] is None
    for mask in drawn[1:]:
        np.testing.assert_array_equal(mask, dropout_mask((5, 4, 12), 0.3, replay, np.float64))


@pytest.mark.parametrize("kind", KINDS)
def test_eval_mode_ignores_dropout(torch: ModuleType, kind: str) -> None:
    layer = make_layer(kind, 3, 6, num_layers=3, dropout=0.5, bidirectional=True)
    layer.eval()
    problem = random_problem(layer, 5, 4, np.random.default_rng(4), lengths=LENGTHS)
    rng_state = layer.rng.bit_generator.state
    first, second = forward(layer, problem), forward(layer, problem)
    assert layer.rng.bit_generator.state == rng_state  # no mask was drawn

    module = torch_twin(torch, layer)
    assert not module.training
    expected = run_torch(torch, module, layer, problem)
    for name, value in first.items():
        np.testing.assert_array_equal(value, second[name])
        assert_close(value, expected[name], TOLERANCE)
