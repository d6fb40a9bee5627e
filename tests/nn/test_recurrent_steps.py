"""RecurrentSteps (a one-direction stack stepped one time step at a time, as a decoder with
input feeding runs it) against torch in float64 and against central finite differences.

Each step reads ``x_t = [u_t ; h_{t-1}]``, the top layer's previous output fed back, so the
gradient of every step's input reaches the steps before it as it does in a decoder. The
scalar differentiated is ``sum_t h_t . g_t`` plus the final states against fixed probes; the
results are the gradients of the inputs ``u``, of the initial states and of every parameter.
Dropout between the layers is random, so the torch side multiplies by the masks the steps
drew.
"""

from __future__ import annotations

from types import ModuleType

import numpy as np
import pytest

from rnnkit.nn.recurrent import RecurrentLayer
from rnnkit.nn.recurrent_steps import RecurrentSteps
from tests.gradcheck import assert_close, numerical_gradient
from tests.nn.recurrent_helpers import KINDS, make_layer, state_count
from tests.nn.test_recurrent_gradcheck import check_parameters
from tests.nn.test_recurrent_oracle import (
    TOLERANCE,
    assert_results_close,
    leaf,
    single_layer_twin,
)

U, H, T, B = 3, 4, 4, 3  # step input, hidden size, steps, rows


def problem(layer: RecurrentLayer, seed: int) -> dict[str, np.ndarray]:
    """Inputs ``u``, initial states ``s0``/``s1`` and the probes of the outputs and states."""
    rng = np.random.default_rng(seed)
    shape = (layer.num_layers, B, H)
    data = {"u": rng.standard_normal((T, B, U)), "probe": rng.standard_normal((T, B, H))}
    for index in range(state_count(layer)):
        data[f"s{index}"] = rng.standard_normal(shape)
        data[f"probe_s{index}"] = rng.standard_normal(shape)
    return data


def states_of(data: dict[str, np.ndarray], count: int) -> tuple[np.ndarray, ...]:
    return tuple(data[f"s{index}"] for index in range(count))


def run_forward(steps: RecurrentSteps, data: dict, keep: bool = True) -> tuple[list, tuple]:
    """Every step's top output and the final state."""
    state = states_of(data, steps.state_count)
    fed, outputs = np.zeros((B, H)), []
    for t in range(T):
        fed, state = steps.step(np.concatenate([data["u"][t], fed], axis=1), state, keep)
        outputs.append(fed)
    return outputs, state


def probe_loss(outputs: list, final: tuple, data: dict) -> float:
    total = sum(float(np.sum(h * g)) for h, g in zip(outputs, data["probe"], strict=True))
    for index, value in enumerate(final):
        total += float(np.sum(value * data[f"probe_s{index}"]))
    return total


def run_ours(steps: RecurrentSteps, data: dict) -> tuple[dict[str, np.ndarray], list]:
    """The outputs and every gradient by name, and the dropout masks each step drew."""
    layer = steps.layer
    layer.zero_grad()
    outputs, final = run_forward(steps, data)
    masks = [[mask for _, mask in caches] for caches in steps._stack]  # [step][layer]
    grad_state = tuple(data[f"probe_s{index}"] for index in range(steps.state_count))
    grad_u, grad_fed = np.empty_like(data["u"]), np.zeros((B, H))
    for t in reversed(range(T)):
        grad_x, grad_state = steps.backward_step(data["probe"][t] + grad_fed, grad_state)
        grad_u[t], grad_fed = grad_x[:, :U], grad_x[:, U:]
    results = {"output": np.stack(outputs), "grad_u": grad_u}
    for index, (value, grad) in enumerate(zip(final, grad_state, strict=True)):
        results[f"final_{index}"] = value
        results[f"grad_s{index}"] = grad
    results.update({f"grad_{name}": grad.copy() for name, grad in layer.grads.items()})
    return results, masks


def run_torch(torch: ModuleType, layer: RecurrentLayer, data: dict, masks: list) -> dict:
    """What ``run_ours`` returns, from one-layer torch modules stepped one token at a time."""
    count = state_count(layer)
    modules = [single_layer_twin(torch, layer, index) for index in range(layer.num_layers)]
    u = leaf(torch, data["u"])
    initial = [leaf(torch, value) for value in states_of(data, count)]
    state = [[part[index : index + 1] for part in initial] for index in range(layer.num_layers)]
    fed, outputs = torch.zeros(B, H, dtype=torch.float64), []
    for t in range(T):
        x = torch.cat([u[t], fed], dim=1)
        for index, module in enumerate(modules):
            if masks[t][index] is not None:
                x = x * torch.from_numpy(masks[t][index])
            hx = tuple(state[index]) if count == 2 else state[index][0]
            output, new = module(x[None], hx)
            state[index] = list(new) if count == 2 else [new]
            x = output[0]
        fed = x
        outputs.append(x)
    finals = [torch.cat([layer_state[part] for layer_state in state]) for part in range(count)]
    probes = zip(outputs, data["probe"], strict=True)
    loss = sum(torch.sum(h * torch.from_numpy(g)) for h, g in probes)
    for index, value in enumerate(finals):
        loss = loss + torch.sum(value * torch.from_numpy(data[f"probe_s{index}"]))
    loss.backward()
    results = {"output": torch.stack(outputs), "grad_u": u.grad}
    for index, (value, start) in enumerate(zip(finals, initial, strict=True)):
        results[f"final_{index}"] = value
        results[f"grad_s{index}"] = start.grad
    for index, module in enumerate(modules):
        for name, parameter in module.named_parameters():
            results[f"grad_{name.replace('_l0', f'_l{index}')}"] = parameter.grad
    return {name: value.detach().numpy() for name, value in results.items()}


@pytest.mark.parametrize("bias", [True, False], ids=["bias", "no_bias"])
@pytest.mark.parametrize(
    ("num_layers", "dropout"), [(1, 0.0), (3, 0.0), (3, 0.4)], ids=["1layer", "3layers", "dropout"]
)
@pytest.mark.parametrize("kind", KINDS)
def test_steps_match_torch(
    torch: ModuleType, kind: str, num_layers: int, dropout: float, bias: bool
) -> None:
    layer = make_layer(kind, U + H, H, num_layers=num_layers, dropout=dropout, bias=bias)
    data = problem(layer, seed=1)
    ours, masks = run_ours(RecurrentSteps(layer), data)
    assert all(step[0] is None for step in masks)  # never before the first layer
    drawn = [mask for step in masks for mask in step[1:]]
    assert all((mask is not None) == (dropout > 0) for mask in drawn)
    assert_results_close(ours, run_torch(torch, layer, data, masks), TOLERANCE)


@pytest.mark.parametrize("kind", KINDS)
def test_steps_match_finite_differences_with_dropout(kind: str) -> None:
    layer = make_layer(kind, U + H, H, num_layers=2, dropout=0.3)
    steps = RecurrentSteps(layer)
    data = problem(layer, seed=2)
    start = layer.rng.bit_generator.state
    ours, _ = run_ours(steps, data)

    def loss() -> float:  # the same masks every time: the generator is restored first
        layer.rng.bit_generator.state = start
        return probe_loss(*run_forward(steps, data, keep=False), data)

    assert_close(ours["grad_u"], numerical_gradient(loss, data["u"]), 1e-6)
    for index in range(steps.state_count):
        assert_close(ours[f"grad_s{index}"], numerical_gradient(loss, data[f"s{index}"]), 1e-6)
    check_parameters(layer, loss, np.random.default_rng(3), samples=6)
