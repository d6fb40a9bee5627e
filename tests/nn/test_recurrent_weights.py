"""Recurrent weights move between rnnkit and PyTorch unchanged: the same parameter names,
shapes and order, and safetensors files either side can read; and the default
initialisation is PyTorch's, uniform in (-1/sqrt(H), 1/sqrt(H))."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from rnnkit import load_weights, save_weights
from tests.gradcheck import assert_close
from tests.nn.recurrent_helpers import KINDS, forward, make_cell, make_layer, random_problem
from tests.nn.test_recurrent_oracle import TOLERANCE, run_torch, torch_twin

OPTIONS = {"num_layers": 2, "bidirectional": True}


@pytest.fixture
def safetensors_torch(torch: ModuleType) -> ModuleType:
    """safetensors' torch functions. They import torch: asking for the ``torch`` fixture
    first skips the test with the oracle's reason when torch is not installed."""
    import safetensors.torch

    return safetensors.torch


def assert_same_outputs(torch: ModuleType, layer, module, problem) -> None:
    ours, theirs = forward(layer, problem), run_torch(torch, module, layer, problem)
    for name, value in ours.items():
        assert_close(value, theirs[name], TOLERANCE)


@pytest.mark.parametrize("kind", KINDS)
def test_rnnkit_file_loads_into_torch_strictly(
    torch: ModuleType, safetensors_torch: ModuleType, kind: str, tmp_path: Path
) -> None:
    layer = make_layer(kind, 3, 6, **OPTIONS)
    save_weights(tmp_path / "layer.safetensors", layer.state_dict())

    state = safetensors_torch.load_file(tmp_path / "layer.safetensors")
    module = torch_twin(torch, make_layer(kind, 3, 6, rng=99, **OPTIONS))  # other weights
    module.load_state_dict(state, strict=True)
    for name, value in module.state_dict().items():
        np.testing.assert_array_equal(value.numpy(), layer.params[name])
    problem = random_problem(layer, 5, 4, np.random.default_rng(12), lengths=(3, 5, 1, 4))
    assert_same_outputs(torch, layer, module, problem)


@pytest.mark.parametrize("kind", KINDS)
def test_torch_file_loads_into_rnnkit(
    torch: ModuleType, safetensors_torch: ModuleType, kind: str, tmp_path: Path
) -> None:
    module = torch_twin(torch, make_layer(kind, 3, 6, rng=99, **OPTIONS))
    with torch.no_grad():
        for parameter in module.parameters():
            parameter.normal_()  # not rnnkit's initialisation: nothing can match by chance
    safetensors_torch.save_file(module.state_dict(), tmp_path / "module.safetensors")

    layer = make_layer(kind, 3, 6, **OPTIONS)
    layer.load_state_dict(load_weights(tmp_path / "module.safetensors"))
    for name, value in module.state_dict().items():
        np.testing.assert_array_equal(layer.params[name], value.numpy())
    problem = random_problem(layer, 5, 4, np.random.default_rng(13), lengths=(3, 5, 1, 4))
    assert_same_outputs(torch, layer, module, problem)


@pytest.mark.parametrize("kind", KINDS)
def test_float32_weights_round_trip_through_torch(
    torch: ModuleType, safetensors_torch: ModuleType, kind: str, tmp_path: Path
) -> None:
    layer = make_layer(kind, 3, 6, dtype=np.float32, **OPTIONS)
    save_weights(tmp_path / "layer.safetensors", layer.state_dict())
    state = safetensors_torch.load_file(tmp_path / "layer.safetensors")
    assert {value.dtype for value in state.values()} == {torch.float32}
    module = torch_twin(torch, layer)
    module.load_state_dict(state, strict=True)
    safetensors_torch.save_file(module.state_dict(), tmp_path / "module.safetensors")
    back = load_weights(tmp_path / "module.safetensors")
    assert sorted(back) == sorted(layer.params)
    for name, value in layer.params.items():
        assert back[name].dtype == np.float32
        np.testing.assert_array_equal(back[name], value)


@pytest.mark.parametrize("bias", [True, False], ids=["bias", "no_bias"])
@pytest.mark.parametrize("bidirectional", [False, True], ids=["uni", "bi"])
@pytest.mark.parametrize("num_layers", [1, 3])
@pytest.mark.parametrize("kind", KINDS)
def test_parameters_are_named_shaped_and_ordered_like_torch(
    torch: ModuleType, kind: str, num_layers: int, bidirectional: bool, bias: bool
) -> None:
    layer = make_layer(kind, 3, 6, num_layers=num_layers, bidirectional=bidirectional, bias=bias)
    module = torch_twin(torch, layer)
    expected = [(name, tuple(p.shape)) for name, p in module.named_parameters()]
    assert [(name, value.shape) for name, value in layer.params.items()] == expected
    assert [(name, value.shape) for name, value in layer.grads.items()] == expected
    assert list(layer.state_dict()) == list(module.state_dict())
    assert layer.num_parameters() == sum(p.numel() for p in module.parameters())


@pytest.mark.parametrize("kind", KINDS)
def test_default_init_is_uniform_within_one_over_sqrt_hidden(kind: str) -> None:
    hidden_size = 64
    bound = 1 / np.sqrt(hidden_size)
    for module in (
        make_layer(kind, 10, hidden_size, dtype=np.float32, rng=1, **OPTIONS),
        make_cell(kind, 10, hidden_size, dtype=np.float32, rng=1),
    ):
        for name, value in module.params.items():
            assert value.dtype == np.float32
            assert np.all(np.abs(value) <= bound), name
            # Spread like a uniform draw (standard deviation bound / sqrt(3)), not constant.
            assert 0.45 * bound < np.std(value) < 0.7 * bound, name
        # All values together fill the range evenly: extremes near the bound, and a quarter
        # of them in each quarter of it.
        values = np.concatenate([value.ravel() for value in module.params.values()])
        assert values.max() > 0.99 * bound and values.min() < -0.99 * bound
        quarters = np.histogram(values, bins=4, range=(-bound, bound))[0] / values.size
        np.testing.assert_allclose(quarters, 0.25, atol=0.03)
        assert not any(np.any(grad) for grad in module.grads.values())


@pytest.mark.parametrize("kind", KINDS)
def test_seeded_init_is_reproducible_and_seeds_differ(kind: str) -> None:
    first, again = make_layer(kind, 3, 6, rng=5), make_layer(kind, 3, 6, rng=5)
    other = make_layer(kind, 3, 6, rng=6)
    for name, value in first.params.items():
        np.testing.assert_array_equal(value, again.params[name])
        assert not np.array_equal(value, other.params[name])
    # Every parameter is drawn afresh, not a copy of another one.
    values = [value.tobytes() for value in first.params.values()]
    assert len(set(values)) == len(values)
