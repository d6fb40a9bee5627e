"""The C loops of the float32 LSTM (``lstm_fused``) against the NumPy kernel in float64.

float64 never runs in C, so the oracle tests do not see these loops: here every output and
gradient of a float32 layer run in C is held to the same layer run in NumPy in float64,
over the options the loops handle themselves (both directions, stacked layers, variable
lengths, initial states, token input, no bias) and the batch and hidden sizes that leave
partial register tiles and uneven thread shares.
"""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from rnnkit.nn import LSTM, lstm_fused, lstm_kernel
from rnnkit.nn.embedding import EmbeddedTokens

pytestmark = pytest.mark.skipif(
    not lstm_fused.enabled(), reason="the C accelerator is not built or this CPU lacks AVX-512"
)

# float32 keeps ~7 digits; sums of up to a few hundred products lose one or two of them.
TOLERANCE = 2e-5


@pytest.fixture
def accelerator():
    """Restore the accelerator switch and thread count after a test."""
    previous, threads = lstm_fused.use_accelerator(True), lstm_fused.threads()
    yield
    lstm_fused.use_accelerator(previous)
    lstm_fused.set_threads(threads)


def run_layer(options: dict, dtype: type, accelerated: bool, seed: int = 0) -> list[np.ndarray]:
    """Forward and backward of one LSTM: outputs, final states, input and parameter grads."""
    lstm_fused.use_accelerator(accelerated)
    input_size, hidden_size, num_steps, batch = (
        options["input_size"], options["hidden_size"], options["steps"], options["batch"],
    )  # fmt: skip
    layer = LSTM(
        input_size, hidden_size, num_layers=options["layers"],
        bidirectional=options["bidirectional"], bias=options["bias"], dtype=dtype,
    )  # fmt: skip
    rng = np.random.default_rng(seed)
    for value in layer.params.values():
        value[...] = rng.uniform(-0.4, 0.4, value.shape)
    directions = 2 if options["bidirectional"] else 1
    state_shape = (options["layers"] * directions, batch, hidden_size)
    h_0 = rng.standard_normal(state_shape).astype(dtype)
    c_0 = rng.standard_normal(state_shape).astype(dtype)
    lengths = None
    if options["lengths"]:
        lengths = rng.integers(1, num_steps + 1, batch)
        lengths[batch // 2] = num_steps
    if options["tokens"]:
        table = rng.standard_normal((11, input_size)).astype(dtype)
        x = EmbeddedTokens(table, rng.integers(0, 11, (num_steps, batch)))
    else:
        x = rng.standard_normal((num_steps, batch, input_size)).astype(dtype)
    output, (h_n, c_n) = layer.forward(x, (h_0, c_0), lengths=lengths)
    grad_output = rng.standard_normal(output.shape).astype(dtype)
    grad_h_n = rng.standard_normal(h_n.shape).astype(dtype)
    grad_c_n = rng.standard_normal(c_n.shape).astype(dtype)
    grad_x, (grad_h_0, grad_c_0) = layer.backward(grad_output, (grad_h_n, grad_c_n))
    grads = [layer.grads[name] for name in sorted(layer.grads)]
    return [output, h_n, c_n, grad_x, grad_h_0, grad_c_0, *grads]


def assert_close_to_float64(options: dict) -> None:
    fused = run_layer(options, np.float32, accelerated=True)
    exact = run_layer(options, np.float64, accelerated=False)
    for index, (got, want) in enumerate(zip(fused, exact, strict=True)):
        assert got.dtype == np.float32
        scale = max(float(np.abs(want).max()), 1.0)
        error = float(np.abs(got - want).max()) / scale
        assert error < TOLERANCE, f"result {index}: relative error {error:.2e}"


BASE = dict(
    input_size=12, hidden_size=32, steps=7, batch=5, layers=1, bidirectional=False,
    bias=True, lengths=False, tokens=False,
)  # fmt: skip

OPTIONS = [
    dict(zip(("layers", "bidirectional", "lengths", "tokens", "bias"), values, strict=True))
    for values in itertools.product((1, 2), (False, True), (False, True), (False, True), (True,))
] + [dict(bias=False), dict(bias=False, tokens=True, bidirectional=True)]


@pytest.mark.parametrize("changes", OPTIONS, ids=str)
def test_matches_float64_numpy(changes: dict, accelerator: None) -> None:
    assert_close_to_float64({**BASE, **changes})


@pytest.mark.parametrize(
    "batch, hidden_size, threads",
    [(1, 16, 2), (2, 48, 1), (6, 16, 2), (7, 64, 3), (13, 32, 2), (32, 128, 2), (5, 16, 8)],
)
def test_tiles_and_thread_shares(
    batch: int, hidden_size: int, threads: int, accelerator: None
) -> None:
    # Row tiles are 6 rows and threads take contiguous row ranges: these sizes leave every
    # kind of partial tile and share, and more threads than rows.
    lstm_fused.set_threads(threads)
    assert_close_to_float64({**BASE, "batch": batch, "hidden_size": hidden_size, "lengths": True})


def test_runs_in_c_only_where_it_applies(accelerator: None) -> None:
    assert lstm_fused.applies(np.float32, 32)
    assert not lstm_fused.applies(np.float64, 32)  # the precision of the oracle tests
    assert not lstm_fused.applies(np.float32, 40)  # not whole blocks of 16 units
    lstm_fused.use_accelerator(False)
    assert not lstm_fused.applies(np.float32, 32)


def test_hidden_size_off_the_blocks_still_runs_in_numpy(accelerator: None) -> None:
    assert_close_to_float64({**BASE, "hidden_size": 20, "layers": 2, "bidirectional": True})


def test_weight_slabs_hold_each_unit_blocks_gates_side_by_side() -> None:
    hidden_size, width = 48, 5
    weight = np.arange(4 * hidden_size * width, dtype=np.float32).reshape(4 * hidden_size, -1)
    forward = lstm_fused.forward_slabs(weight)
    assert forward.shape == (3, width, 64) and forward.flags.c_contiguous
    for block, k, gate, unit in [(0, 0, 0, 0), (1, 3, 2, 7), (2, 4, 3, 15)]:
        row = gate * hidden_size + 16 * block + unit
        assert forward[block, k, 16 * gate + unit] == weight[row, k]
    square = weight[:, :1].repeat(hidden_size, axis=1) + np.arange(hidden_size)
    backward = lstm_fused.backward_slabs(square)
    assert backward.shape == (3, 4 * hidden_size, 16) and backward.flags.c_contiguous
    assert backward[2, 100, 5] == square[100, 32 + 5]


def test_extreme_preactivations_saturate_without_nan(accelerator: None) -> None:
    layer = LSTM(3, 16, dtype=np.float32)
    for value in layer.params.values():
        value[...] = 40.0
    x = np.full((4, 2, 3), 50.0, dtype=np.float32)
    x[:, 1] = -50.0
    output, (h_n, c_n) = layer.forward(x)
    layer.backward(np.ones_like(output))
    assert np.all(np.isfinite(output)) and np.all(np.isfinite(c_n))
    assert all(np.all(np.isfinite(grad)) for grad in layer.grads.values())
    # every gate is saturated: i = f = o = 1, g = tanh(+-big) = +-1 for row 0
    np.testing.assert_allclose(c_n[0, 0], 4.0, rtol=1e-6)
    np.testing.assert_allclose(h_n[0, 0], np.tanh(4.0), rtol=1e-6)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_can_step_after_its_parent_did(accelerator: None) -> None:
    from rnnkit.models.token_stepper import TokenStepper

    lstm_fused.set_threads(2)
    layer = LSTM(4, 32, num_layers=2, dtype=np.float32, rng=0).eval()
    stepper = TokenStepper(layer)
    expected = stepper.step(np.ones(4, np.float32))  # starts the parent's worker threads
    pid = os.fork()
    if pid == 0:  # the child: exit 0 only if a fresh stepper gives the same numbers
        try:
            child = TokenStepper(layer).step(np.ones(4, np.float32))
            os._exit(0 if np.array_equal(child, expected) else 1)
        except BaseException:
            os._exit(2)
    deadline = time.monotonic() + 60
    while (done := os.waitpid(pid, os.WNOHANG))[0] == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    if done[0] == 0:  # the child hangs, waiting for workers that do not exist there
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        pytest.fail("the forked child's step did not finish")
    assert os.waitstatus_to_exitcode(done[1]) == 0


@pytest.mark.parametrize(
    "environment, enabled, threads",
    [({"RNNKIT_ACCELERATOR": "0"}, "False", None), ({"RNNKIT_NUM_THREADS": "1"}, "True", "1")],
)
def test_environment_switches(environment: dict, enabled: str, threads: str | None) -> None:
    code = "from rnnkit.nn import lstm_fused as f; print(f.enabled(), f.threads())"
    result = subprocess.run(
        [sys.executable, "-c", code], env={**os.environ, **environment},
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    got_enabled, got_threads = result.stdout.split()
    assert got_enabled == enabled
    assert threads is None or got_threads == threads


def test_layers_say_where_their_time_loops_run(accelerator: None) -> None:
    from rnnkit.nn import GRU

    lstm_fused.set_threads(2)
    assert LSTM(3, 32, dtype=np.float32).engine == "C, 2 threads"
    assert LSTM(3, 32, dtype=np.float64).engine == "NumPy"
    assert GRU(3, 32, dtype=np.float32).engine == "NumPy"
    lstm_fused.set_threads(1)
    assert LSTM(3, 32, dtype=np.float32).engine == "C, 1 thread"


@pytest.mark.parametrize(
    "changes",
    [
        dict(tokens=True, bidirectional=True, lengths=True),
        dict(tokens=False, bidirectional=True, lengths=True, layers=2),
        dict(tokens=True, bidirectional=False, lengths=False, steps=2),  # ids summed in NumPy
    ],
    ids=str,
)
def test_every_option_with_three_threads(changes: dict, accelerator: None) -> None:
    # 19 rows make three chunks of 6-7 rows at 3 threads; hidden 48 is three unit blocks.
    lstm_fused.set_threads(3)
    assert_close_to_float64({**BASE, "batch": 19, "hidden_size": 48, **changes})


def test_nan_in_the_input_comes_out_as_nan(accelerator: None) -> None:
    layer = LSTM(3, 16, dtype=np.float32, rng=0)
    x = np.ones((4, 2, 3), dtype=np.float32)
    x[1, 0, 0] = np.nan
    output, (h_n, c_n) = layer.forward(x)
    assert np.all(np.isnan(output[1:, 0])) and np.all(np.isnan(c_n[0, 0]))
    assert np.all(np.isfinite(output[:, 1]))  # the other row is untouched


def test_token_ids_outside_the_table_are_refused(accelerator: None) -> None:
    # The layers check ids first (a ValueError); the C loop, which would read outside the
    # table, checks again for whoever calls the kernel directly.
    layer = LSTM(3, 16, dtype=np.float32, rng=0)
    table = np.ones((5, 3), dtype=np.float32)
    with pytest.raises(ValueError, match="ids"):
        layer.forward(EmbeddedTokens(table, np.array([[0], [5]])))
    weights = tuple(layer.params[name] for name in sorted(layer.params, reverse=True))
    state = (np.zeros((1, 16), np.float32), np.zeros((1, 16), np.float32))
    with pytest.raises(IndexError):
        lstm_kernel.forward_sequence(EmbeddedTokens(table, np.array([[0], [5]])), state, weights)


def test_results_do_not_depend_on_which_thread_took_which_rows(accelerator: None) -> None:
    # A resumed run must equal an uninterrupted one bit for bit, so the token gradients are
    # summed per chunk of rows, whichever thread ran the chunk.
    lstm_fused.set_threads(2)
    layer = LSTM(8, 32, dtype=np.float32, rng=0)
    rng = np.random.default_rng(9)
    tokens = EmbeddedTokens(
        rng.standard_normal((5, 8)).astype(np.float32), rng.integers(0, 5, (30, 48))
    )
    grad_output = rng.standard_normal((30, 48, 32)).astype(np.float32)
    first = None
    for _ in range(12):
        layer.zero_grad()
        output, _ = layer.forward(tokens)
        grad_table, _ = layer.backward(grad_output)
        results = [output, grad_table, *(layer.grads[name].copy() for name in sorted(layer.grads))]
        if first is None:
            first = results
        for got, want in zip(results, first, strict=True):
            np.testing.assert_array_equal(got, want)
