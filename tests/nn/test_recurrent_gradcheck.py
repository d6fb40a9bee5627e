"""Every recurrent layer and cell against central finite differences, in float64.

Layers run with two bidirectional layers and variable lengths, the case that exercises
every path of the backward pass; the scalar differentiated is ``probe_loss``, which
reaches the output and every final state. Inputs and initial states are checked entry by
entry, layer parameters on an evenly spread sample of entries, cell parameters entirely.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from rnnkit.nn.layer import Layer
from tests.gradcheck import assert_close, numerical_gradient
from tests.nn.recurrent_helpers import (
    KINDS,
    backward_cell,
    make_cell,
    make_layer,
    probe_loss,
    random_problem,
    run_layer,
    step_cell,
)

TOLERANCE = 1e-6


def check_parameters(
    layer: Layer, loss: Callable[[], float], rng: np.random.Generator, samples: int | None
) -> None:
    """Compare ``layer.grads`` (already computed) with central differences of ``loss``.

    With ``samples``, only about that many entries of each parameter are probed: a strided
    view, so spread over every gate, and a view, so perturbing it perturbs the layer.
    """
    for name, param in layer.params.items():
        step = 1 if samples is None else max(1, param.size // samples)
        offset = int(rng.integers(step))
        entries = param.reshape(-1)[offset::step]
        assert np.shares_memory(entries, param)
        numeric = numerical_gradient(loss, entries)
        analytic = layer.grads[name].reshape(-1)[offset::step]
        assert np.any(analytic != 0.0), name  # a zero gradient would check nothing
        try:
            assert_close(analytic, numeric, TOLERANCE)
        except AssertionError as error:
            raise AssertionError(f"{name}: {error}") from None


@pytest.mark.parametrize("kind", KINDS)
def test_layer_gradients_match_finite_differences(kind: str) -> None:
    layer = make_layer(kind, 3, 4, num_layers=2, bidirectional=True)
    rng = np.random.default_rng(5)
    problem = random_problem(layer, 4, 3, rng, lengths=(2, 4, 1))
    results = run_layer(layer, problem)

    def loss() -> float:
        return probe_loss(layer, problem)

    assert_close(results["grad_x"], numerical_gradient(loss, problem.x), TOLERANCE)
    for name, state in zip(("h", "c"), problem.states, strict=False):
        assert_close(results[f"grad_{name}_0"], numerical_gradient(loss, state), TOLERANCE)
    check_parameters(layer, loss, rng, samples=6)


@pytest.mark.parametrize("bias", [True, False], ids=["bias", "no_bias"])
@pytest.mark.parametrize("kind", KINDS)
def test_cell_gradients_match_finite_differences(kind: str, bias: bool) -> None:
    cell = make_cell(kind, 3, 4, bias=bias)
    rng = np.random.default_rng(6)
    x = rng.standard_normal((2, 3))
    count = cell.kernel.STATE_COUNT
    states = tuple(rng.standard_normal((2, 4)) for _ in range(count))
    probes = tuple(rng.standard_normal((2, 4)) for _ in range(count))

    def loss() -> float:
        new_states = step_cell(cell, x, states)
        return sum(
            float(np.sum(new * probe)) for new, probe in zip(new_states, probes, strict=True)
        )

    cell.zero_grad()
    step_cell(cell, x, states)
    grad_x, grad_states = backward_cell(cell, probes)
    assert_close(grad_x, numerical_gradient(loss, x), TOLERANCE)
    for grad, state in zip(grad_states, states, strict=True):
        assert_close(grad, numerical_gradient(loss, state), TOLERANCE)
    check_parameters(cell, loss, rng, samples=None)
