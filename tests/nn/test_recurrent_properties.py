"""Properties of the recurrent layers on random shapes, without an oracle: what padding,
lengths, layout and state dicts may and may not change; float32 against float64; and
gradient accumulation."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rnnkit.nn.recurrent import RecurrentLayer
from tests.nn.recurrent_helpers import (
    KINDS,
    LENGTHS,
    Problem,
    backward,
    forward,
    make_layer,
    random_problem,
    run_layer,
)


@dataclass(frozen=True)
class Configuration:
    kind: str
    num_steps: int
    batch: int
    input_size: int
    hidden_size: int
    num_layers: int
    bidirectional: bool
    lengths: tuple[int, ...]
    seed: int

    def build(self, **options) -> tuple[RecurrentLayer, Problem]:
        layer = make_layer(
            self.kind,
            self.input_size,
            self.hidden_size,
            num_layers=self.num_layers,
            bidirectional=self.bidirectional,
            rng=self.seed,
            **options,
        )
        rng = np.random.default_rng(self.seed + 1)
        problem = random_problem(layer, self.num_steps, self.batch, rng, lengths=self.lengths)
        return layer, problem


@st.composite
def configurations(draw: st.DrawFn) -> Configuration:
    num_steps = draw(st.integers(1, 6))
    batch = draw(st.integers(1, 4))
    lengths = draw(st.lists(st.integers(1, num_steps), min_size=batch, max_size=batch))
    return Configuration(
        kind=draw(st.sampled_from(KINDS)),
        num_steps=num_steps,
        batch=batch,
        input_size=draw(st.integers(1, 4)),
        hidden_size=draw(st.integers(1, 5)),
        num_layers=draw(st.integers(1, 3)),
        bidirectional=draw(st.booleans()),
        lengths=tuple(lengths),
        seed=draw(st.integers(0, 2**16)),
    )


examples = settings(max_examples=25, deadline=None)


def padding(length: int, row: int, batch_first: bool) -> tuple:
    """The index of row ``row``'s padded steps."""
    return (row, slice(length, None)) if batch_first else (slice(length, None), row)


def assert_same_results(ours: dict, theirs: dict) -> None:
    assert sorted(ours) == sorted(theirs)
    for name, value in theirs.items():
        np.testing.assert_array_equal(ours[name], value, err_msg=name)


@examples
@given(config=configurations(), batch_first=st.booleans())
def test_padding_is_zero_and_its_values_change_nothing(
    config: Configuration, batch_first: bool
) -> None:
    layer, problem = config.build(batch_first=batch_first)
    results = run_layer(layer, problem)

    junk_rng = np.random.default_rng(config.seed + 2)
    x, grad_output = problem.x.copy(), problem.grad_output.copy()
    for row, length in enumerate(config.lengths):
        pad = padding(length, row, batch_first)
        assert np.all(results["output"][pad] == 0.0)
        assert np.all(results["grad_x"][pad] == 0.0)
        x[pad] = 100 * junk_rng.standard_normal(x[pad].shape)
        grad_output[pad] = 100 * junk_rng.standard_normal(grad_output[pad].shape)
    junk = replace(problem, x=x, grad_output=grad_output)
    assert_same_results(run_layer(layer, junk), results)


@examples
@given(config=configurations())
def test_a_row_alone_gives_what_it_gives_in_the_batch(config: Configuration) -> None:
    layer, problem = config.build()
    results = run_layer(layer, problem)

    parameter_grads = {name: np.zeros_like(grad) for name, grad in layer.grads.items()}
    for row, length in enumerate(config.lengths):
        rows = slice(row, row + 1)
        alone = run_layer(
            layer,
            Problem(
                x=problem.x[:length, rows],
                states=tuple(s[:, rows] for s in problem.states),
                lengths=None,
                grad_output=problem.grad_output[:length, rows],
                grad_states=tuple(g[:, rows] for g in problem.grad_states),
            ),
        )
        for name, value in alone.items():
            if name.startswith("grad_") and name[5:] in layer.params:
                parameter_grads[name[5:]] += value
                continue
            if name in ("output", "grad_x"):
                in_batch = results[name][:length, rows]
            else:  # a state: (layers * directions, batch, hidden)
                in_batch = results[name][:, rows]
            np.testing.assert_allclose(value, in_batch, rtol=1e-10, atol=1e-12, err_msg=name)
    # Parameter gradients are sums over rows.
    for name, total in parameter_grads.items():
        np.testing.assert_allclose(
            total, results[f"grad_{name}"], rtol=1e-10, atol=1e-12, err_msg=name
        )


@examples
@given(config=configurations())
def test_final_state_is_the_output_at_the_last_valid_step(config: Configuration) -> None:
    layer, problem = config.build()
    results = forward(layer, problem)
    output, h_n = results["output"], results["h_n"]
    H, top = config.hidden_size, (config.num_layers - 1) * layer.num_directions
    for row, length in enumerate(config.lengths):
        # The forward direction ends at the row's last step, the reverse one at step 0.
        np.testing.assert_array_equal(h_n[top, row], output[length - 1, row, :H])
        if config.bidirectional:
            np.testing.assert_array_equal(h_n[top + 1, row], output[0, row, H:])


@examples
@given(config=configurations())
def test_batch_first_is_the_transposed_layout(config: Configuration) -> None:
    layer, problem = config.build()
    results = run_layer(layer, problem)
    layer.batch_first = True
    transposed = replace(
        problem,
        x=problem.x.transpose(1, 0, 2),
        grad_output=problem.grad_output.transpose(1, 0, 2),
    )
    batch_first = run_layer(layer, transposed)
    for name in ("output", "grad_x"):
        batch_first[name] = batch_first[name].transpose(1, 0, 2)
    assert_same_results(batch_first, results)


@examples
@given(config=configurations())
def test_state_dict_round_trip(config: Configuration) -> None:
    source, problem = config.build()
    target, _ = replace(config, seed=config.seed + 1).build()
    arrays = {name: id(value) for name, value in target.params.items()}
    state = source.state_dict()
    assert list(state) == list(source.params)

    target.load_state_dict(state)
    assert {name: id(value) for name, value in target.params.items()} == arrays
    assert_same_results(run_layer(target, problem), run_layer(source, problem))
    # The state dict is a copy: changing it changes no layer.
    for value in state.values():
        value += 1.0
    for name, value in source.params.items():
        np.testing.assert_array_equal(value, target.params[name])


def relative_error(ours: np.ndarray, reference: np.ndarray) -> float:
    scale = max(float(np.max(np.abs(reference), initial=0.0)), np.finfo(np.float64).tiny)
    return float(np.max(np.abs(ours.astype(np.float64) - reference), initial=0.0)) / scale


@pytest.mark.parametrize("kind", KINDS)
def test_float32_stays_close_to_float64(kind: str) -> None:
    options = {"num_layers": 2, "bidirectional": True}
    single = make_layer(kind, 3, 6, dtype=np.float32, **options)
    double = make_layer(kind, 3, 6, dtype=np.float64, **options)
    # The same weights and inputs exactly (float32 values), so only the arithmetic differs.
    double.load_state_dict(single.state_dict())
    problem32 = random_problem(single, 5, 4, np.random.default_rng(9), lengths=LENGTHS)
    problem64 = Problem(
        x=problem32.x.astype(np.float64),
        states=tuple(s.astype(np.float64) for s in problem32.states),
        lengths=LENGTHS,
        grad_output=problem32.grad_output.astype(np.float64),
        grad_states=tuple(g.astype(np.float64) for g in problem32.grad_states),
    )
    ours, reference = run_layer(single, problem32), run_layer(double, problem64)

    for value in (*ours.values(), *single.params.values()):
        assert value.dtype == np.float32
    for name, value in ours.items():
        bound = 1e-4 if name.startswith("grad_") else 1e-5
        assert relative_error(value, reference[name]) <= bound, name
    # Not trivially: float32 arithmetic does differ from float64.
    assert relative_error(ours["output"], reference["output"]) > 0.0


@pytest.mark.parametrize("kind", KINDS)
def test_gradients_accumulate_until_zero_grad(kind: str) -> None:
    layer = make_layer(kind, 3, 6, num_layers=2, bidirectional=True)
    problem = random_problem(layer, 5, 4, np.random.default_rng(10), lengths=LENGTHS)
    arrays = {name: id(grad) for name, grad in layer.grads.items()}
    once = run_layer(layer, problem)

    forward(layer, problem)
    twice = backward(layer, problem)  # no zero_grad in between
    for name, value in once.items():
        if name[5:] in layer.params:
            np.testing.assert_array_equal(twice[name], 2 * value, err_msg=name)
        elif name in twice:
            np.testing.assert_array_equal(twice[name], value, err_msg=name)

    layer.zero_grad()
    assert {name: id(grad) for name, grad in layer.grads.items()} == arrays
    assert all(not np.any(grad) for grad in layer.grads.values())
    forward(layer, problem)
    assert_same_results(backward(layer, problem), {k: v for k, v in once.items() if k in twice})


@pytest.mark.parametrize("kind", KINDS)
def test_eval_forward_matches_training_forward_and_leaves_grads(kind: str) -> None:
    layer = make_layer(kind, 3, 6, num_layers=2, bidirectional=True)
    problem = random_problem(layer, 5, 4, np.random.default_rng(11), lengths=LENGTHS)
    training = forward(layer, problem)
    layer.eval()
    assert_same_results(forward(layer, problem), training)
    assert all(not np.any(grad) for grad in layer.grads.values())


@pytest.mark.parametrize(("dtype", "hidden_size"), [(np.float64, 6), (np.float32, 16)])
@pytest.mark.parametrize("kind", KINDS)
def test_writing_into_the_results_before_backward_changes_no_gradient(
    kind: str, dtype: type, hidden_size: int
) -> None:
    # As in torch, the output and final states are the caller's: scaling them in place
    # (a residual sum, an in-place dropout) must not reach the cache backward reads. The
    # float32 layer runs the C loops, the float64 one the NumPy kernels.
    for options in ({}, {"bidirectional": True}, {"batch_first": True}):
        layer = make_layer(kind, 3, hidden_size, num_layers=2, dtype=dtype, **options)
        problem = random_problem(layer, 5, 4, np.random.default_rng(12))
        reference = run_layer(layer, problem)
        layer.zero_grad()
        results = forward(layer, problem)
        for value in results.values():
            value *= 3.0
        assert_same_results(
            backward(layer, problem), {k: v for k, v in reference.items() if k.startswith("grad_")}
        )
