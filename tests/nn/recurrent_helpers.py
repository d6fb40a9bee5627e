"""Helpers shared by the recurrent-layer tests: build a layer of any kind, draw a random
problem for it, and run one forward-backward pass that returns every result by name;
build a cell of any kind and step it with the same calls whatever its state count.

Nothing here imports torch; the oracle helpers live in ``test_recurrent_oracle``.

A "problem" is what one pass needs: the input, the initial states (``None`` for zeros),
and random upstream gradients for the output and for every final state. The scalar the
gradients belong to is ``probe_loss``: the dot product of each result with its upstream
gradient.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from rnnkit.nn import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNCell
from rnnkit.nn.cells import _Cell
from rnnkit.nn.recurrent import RecurrentLayer

KINDS = ("rnn_tanh", "rnn_relu", "lstm", "gru")

# T=5, B=4: unsorted, with a row of full length and a row of length 1.
LENGTHS = (3, 5, 1, 4)


def make_layer(
    kind: str,
    input_size: int,
    hidden_size: int,
    *,
    dtype: Any = np.float64,
    rng: int | np.random.Generator = 0,
    **options: Any,
) -> RecurrentLayer:
    """A recurrent layer of ``kind`` (one of ``KINDS``); ``options`` go to the constructor."""
    if kind.startswith("rnn_"):
        return RNN(input_size, hidden_size, nonlinearity=kind[4:], dtype=dtype, rng=rng, **options)
    layer_class = {"lstm": LSTM, "gru": GRU}[kind]
    return layer_class(input_size, hidden_size, dtype=dtype, rng=rng, **options)


def state_count(layer: RecurrentLayer) -> int:
    """How many state arrays the layer carries: 2 for an LSTM (h, c), else 1."""
    return layer.kernel.STATE_COUNT


@dataclass
class Problem:
    x: np.ndarray
    states: tuple[np.ndarray, ...] | None  # (h_0,) or (h_0, c_0); None means zeros
    lengths: tuple[int, ...] | None
    grad_output: np.ndarray
    grad_states: tuple[np.ndarray, ...]  # upstream gradients of (h_n,) or (h_n, c_n)


def random_problem(
    layer: RecurrentLayer,
    num_steps: int,
    batch: int,
    rng: np.random.Generator,
    *,
    with_state: bool = True,
    lengths: Any = None,
) -> Problem:
    """Random input, initial states and upstream gradients in the layer's layout and dtype."""
    directions = layer.num_directions
    time_batch = (batch, num_steps) if layer.batch_first else (num_steps, batch)
    state_shape = (layer.num_layers * directions, batch, layer.hidden_size)

    def draw(shape: tuple[int, ...]) -> np.ndarray:
        return rng.standard_normal(shape).astype(layer.dtype)

    count = state_count(layer)
    return Problem(
        x=draw((*time_batch, layer.input_size)),
        states=tuple(draw(state_shape) for _ in range(count)) if with_state else None,
        lengths=None if lengths is None else tuple(int(n) for n in lengths),
        grad_output=draw((*time_batch, directions * layer.hidden_size)),
        grad_states=tuple(draw(state_shape) for _ in range(count)),
    )


def pack_states(layer: RecurrentLayer, states: tuple[np.ndarray, ...] | None) -> Any:
    """The ``hx`` argument ``forward`` takes: ``None``, ``h_0`` or ``(h_0, c_0)``."""
    if states is None:
        return None
    return tuple(states) if state_count(layer) == 2 else states[0]


def unpack_states(layer: RecurrentLayer, packed: Any) -> tuple[np.ndarray, ...]:
    return tuple(packed) if state_count(layer) == 2 else (packed,)


def state_names(layer: RecurrentLayer) -> tuple[str, ...]:
    return ("h", "c")[: state_count(layer)]


def forward(layer: RecurrentLayer, problem: Problem) -> dict[str, np.ndarray]:
    """``output``, ``h_n`` (and ``c_n``) of one forward pass."""
    output, final = layer.forward(problem.x, pack_states(layer, problem.states), problem.lengths)
    results = {"output": output}
    for name, value in zip(state_names(layer), unpack_states(layer, final), strict=True):
        results[f"{name}_n"] = value
    return results


def backward(layer: RecurrentLayer, problem: Problem) -> dict[str, np.ndarray]:
    """``grad_x``, ``grad_h_0`` (and ``grad_c_0``) and ``grad_<parameter>`` for every
    parameter, from the backward pass that follows a ``forward``."""
    grad_x, grad_initial = layer.backward(
        problem.grad_output, pack_states(layer, problem.grad_states)
    )
    results = {"grad_x": grad_x}
    for name, value in zip(state_names(layer), unpack_states(layer, grad_initial), strict=True):
        results[f"grad_{name}_0"] = value
    for name, grad in layer.grads.items():
        results[f"grad_{name}"] = grad.copy()
    return results


def run_layer(layer: RecurrentLayer, problem: Problem) -> dict[str, np.ndarray]:
    """Forward and backward on zeroed gradients: every result of both, by name."""
    layer.zero_grad()
    results = forward(layer, problem)
    results.update(backward(layer, problem))
    return results


def probe_loss(layer: RecurrentLayer, problem: Problem) -> float:
    """The scalar whose gradients ``run_layer`` returns."""
    results = forward(layer, problem)
    total = float(np.sum(results["output"] * problem.grad_output))
    for name, grad in zip(state_names(layer), problem.grad_states, strict=True):
        total += float(np.sum(results[f"{name}_n"] * grad))
    return total


def make_cell(
    kind: str,
    input_size: int,
    hidden_size: int,
    *,
    bias: bool = True,
    dtype: Any = np.float64,
    rng: int | np.random.Generator = 0,
) -> _Cell:
    """A cell of ``kind`` (one of ``KINDS``)."""
    if kind.startswith("rnn_"):
        return RNNCell(input_size, hidden_size, bias, nonlinearity=kind[4:], dtype=dtype, rng=rng)
    cell_class = {"lstm": LSTMCell, "gru": GRUCell}[kind]
    return cell_class(input_size, hidden_size, bias, dtype=dtype, rng=rng)


def cell_state_count(cell: _Cell) -> int:
    return cell.kernel.STATE_COUNT


def step_cell(
    cell: _Cell, x: np.ndarray, states: tuple[np.ndarray, ...] | None
) -> tuple[np.ndarray, ...]:
    """One ``forward`` step; the new state as a tuple, ``(h,)`` or ``(h, c)``."""
    if cell_state_count(cell) == 2:
        return tuple(cell.forward(x, states))
    return (cell.forward(x, None if states is None else states[0]),)


def backward_cell(
    cell: _Cell, grad_states: tuple[np.ndarray, ...]
) -> tuple[np.ndarray, tuple[np.ndarray, ...]]:
    """``grad_x`` and the gradients of the previous state as a tuple."""
    if cell_state_count(cell) == 2:
        grad_x, grad_previous = cell.backward(grad_states)
        return grad_x, tuple(grad_previous)
    grad_x, grad_h = cell.backward(grad_states[0])
    return grad_x, (grad_h,)
