"""The C time loops (``fused_loops``, ``fused_stepper``) against the NumPy kernels in float64.

float64 never runs in C, so the oracle tests do not see these loops: here every output and
gradient of a float32 layer run in C is held to the same layer run in NumPy in float64,
for every cell (LSTM, GRU, RNN with tanh and relu) and every build of the loops this CPU
runs (``c_binding.supported()``: AVX-512, AVX2, generic), over the options the loops
handle themselves (both directions, stacked layers, variable lengths, initial states, token
input, no bias) and the batch and hidden sizes that leave partial register tiles and
uneven thread shares.
"""

from __future__ import annotations

import itertools
import os
import platform
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from rnnkit.nn import GRU, LSTM, RNN, c_binding, dispatch, fused_loops, lstm_fused, lstm_kernel
from rnnkit.nn.embedding import EmbeddedTokens

# float32 keeps ~7 digits; sums of up to a few hundred products lose one or two of them.
TOLERANCE = 2e-5

# Every build this CPU runs; a missing library gives one "missing" case that fails.
KERNELS_HERE = c_binding.supported() or ["missing"]
CELLS = ["lstm", "gru", "rnn_tanh", "rnn_relu"]


def cpu_flags() -> set[str]:
    """The CPU's feature flags from /proc/cpuinfo (empty where there is none)."""
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def test_every_instruction_set_this_cpu_runs_was_built() -> None:
    # pip install builds the loops; where a C compiler exists, a missing build is a
    # failure (CI must notice), not a reason to skip the C tests.
    if not (shutil.which("gcc") or shutil.which("cc")):
        pytest.skip("no C compiler: rnnkit runs its NumPy kernels")
    assert c_binding.LIBRARY is not None, "the C loops were not built (pip install -e .)"
    expected = {"generic"}
    if platform.machine() in ("x86_64", "AMD64"):
        flags = cpu_flags()
        if {"avx2", "fma"} <= flags:
            expected.add("avx2")
        if {"avx512f", "fma"} <= flags:
            expected.add("avx512")
    assert expected <= set(c_binding.supported())
    assert set(c_binding.supported()) <= set(c_binding.built())


@pytest.fixture(params=KERNELS_HERE)
def kernel(request: pytest.FixtureRequest):
    """Run a test on one build of the loops; restore the choice and the threads after."""
    assert request.param in c_binding.supported(), "the C loops are not built here"
    previous, threads = c_binding.use_kernel(request.param), c_binding.threads()
    yield request.param
    c_binding.use_kernel(previous)
    c_binding.set_threads(threads)


LAYERS = {"lstm": LSTM, "gru": GRU, "rnn_tanh": RNN, "rnn_relu": RNN}


def make_layer(cell: str, options: dict, dtype: type):
    extra = {"nonlinearity": cell[4:]} if cell.startswith("rnn") else {}
    return LAYERS[cell](
        options["input_size"], options["hidden_size"], num_layers=options["layers"],
        bidirectional=options["bidirectional"], bias=options["bias"], dtype=dtype, **extra,
    )  # fmt: skip


def run_layer(cell: str, options: dict, dtype: type, in_c: bool, seed: int = 0) -> list:
    """Forward and backward of one layer: outputs, final states, input and parameter grads."""
    previous = c_binding.kernel()
    if not in_c:
        c_binding.use_kernel(c_binding.NUMPY)
    try:
        return _run_layer(cell, options, dtype, seed)
    finally:
        c_binding.use_kernel(previous)


def _run_layer(cell: str, options: dict, dtype: type, seed: int) -> list[np.ndarray]:
    input_size, hidden_size, num_steps, batch = (
        options["input_size"], options["hidden_size"], options["steps"], options["batch"],
    )  # fmt: skip
    layer = make_layer(cell, options, dtype)
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
    lstm = cell == "lstm"
    output, state = layer.forward(x, (h_0, c_0) if lstm else h_0, lengths=lengths)
    finals = list(state) if lstm else [state]
    grad_output = rng.standard_normal(output.shape).astype(dtype)
    grad_finals = [rng.standard_normal(final.shape).astype(dtype) for final in finals]
    grad_x, grad_state = layer.backward(grad_output, tuple(grad_finals) if lstm else grad_finals[0])
    grad_initial = list(grad_state) if lstm else [grad_state]
    grads = [layer.grads[name] for name in sorted(layer.grads)]
    return [output, *finals, grad_x, *grad_initial, *grads]


def assert_close_to_float64(cell: str, options: dict) -> None:
    assert dispatch.runs_in_c(np.float32, options["hidden_size"]) == (
        options["hidden_size"] % 16 == 0
    )
    fused = run_layer(cell, options, np.float32, in_c=True)
    exact = run_layer(cell, options, np.float64, in_c=False)
    for got, want in zip(fused, exact, strict=True):
        assert got.dtype == np.float32
        assert_relative_error(got, want)


BASE = dict(
    input_size=12, hidden_size=32, steps=7, batch=5, layers=1, bidirectional=False,
    bias=True, lengths=False, tokens=False,
)  # fmt: skip

OPTIONS = [
    dict(zip(("layers", "bidirectional", "lengths", "tokens", "bias"), values, strict=True))
    for values in itertools.product((1, 2), (False, True), (False, True), (False, True), (True,))
] + [dict(bias=False), dict(bias=False, tokens=True, bidirectional=True)]


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("changes", OPTIONS, ids=str)
def test_matches_float64_numpy(cell: str, changes: dict, kernel: str) -> None:
    assert_close_to_float64(cell, {**BASE, **changes})


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize(
    "batch, hidden_size, threads",
    [(1, 16, 2), (2, 48, 1), (6, 16, 2), (7, 64, 3), (13, 32, 2), (32, 128, 2), (5, 16, 8)],
)
def test_tiles_and_thread_shares(
    cell: str, batch: int, hidden_size: int, threads: int, kernel: str
) -> None:
    # Row tiles are 6 rows and threads take contiguous row ranges: these sizes leave every
    # kind of partial tile and share, and more threads than rows.
    c_binding.set_threads(threads)
    options = {**BASE, "batch": batch, "hidden_size": hidden_size, "lengths": True}
    assert_close_to_float64(cell, options)


def test_runs_in_c_only_where_it_applies(kernel: str) -> None:
    assert dispatch.runs_in_c(np.float32, 32)
    assert not dispatch.runs_in_c(np.float64, 32)  # the precision of the oracle tests
    assert not dispatch.runs_in_c(np.float32, 40)  # not whole blocks of 16 units
    c_binding.use_kernel(c_binding.NUMPY)
    assert not dispatch.runs_in_c(np.float32, 32)
    assert not lstm_fused.enabled()


@pytest.mark.parametrize("cell", CELLS)
def test_hidden_size_off_the_blocks_still_runs_in_numpy(cell: str, kernel: str) -> None:
    assert_close_to_float64(cell, {**BASE, "hidden_size": 20, "layers": 2, "bidirectional": True})


def test_weight_slabs_hold_each_unit_blocks_gates_one_after_the_other() -> None:
    hidden_size, width = 48, 5
    weight = np.arange(4 * hidden_size * width, dtype=np.float32).reshape(4 * hidden_size, -1)
    forward = fused_loops.forward_slabs(weight, 4)
    assert forward.shape == (3, 4, width, 16) and forward.flags.c_contiguous
    for block, k, gate, unit in [(0, 0, 0, 0), (1, 3, 2, 7), (2, 4, 3, 15)]:
        row = gate * hidden_size + 16 * block + unit
        assert forward[block, gate, k, unit] == weight[row, k]
    gru = fused_loops.forward_slabs(weight[: 3 * hidden_size], 3)
    assert gru.shape == (3, 3, width, 16) and gru[1, 2, 2, 9] == weight[2 * 48 + 16 + 9, 2]
    square = weight[:, :1].repeat(hidden_size, axis=1) + np.arange(hidden_size)
    backward = fused_loops.backward_slabs(square)
    assert backward.shape == (3, 4 * hidden_size, 16) and backward.flags.c_contiguous
    assert backward[2, 100, 5] == square[100, 32 + 5]


def test_the_binding_mirrors_the_c_structs() -> None:
    # The library describes its structs; a mirror whose offsets differ is refused at load.
    assert c_binding.LIBRARY is not None
    described = c_binding.LIBRARY.rnnkit_layout().decode()
    sequence, stack, adam, gemm = described.split("; ")
    assert sequence == "rnnkit_sequence " + c_binding.layout_of(c_binding.Sequence)
    assert stack == "rnnkit_stack " + c_binding.layout_of(c_binding.Stack)
    assert adam == "rnnkit_adam " + c_binding.layout_of(c_binding.AdamStep)
    assert gemm == "rnnkit_gemm " + c_binding.layout_of(c_binding.Gemm)
    assert "grad_hidden_gates" in sequence and "hidden_biases" in stack


def test_extreme_preactivations_saturate_without_nan(kernel: str) -> None:
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
    gru = GRU(3, 16, dtype=np.float32)
    for value in gru.params.values():
        value[...] = -40.0
    output, h_n = gru.forward(-x)
    gru.backward(np.ones_like(output))
    assert np.all(np.isfinite(output)) and all(np.all(np.isfinite(g)) for g in gru.grads.values())


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_can_step_after_its_parent_did(kernel: str) -> None:
    from rnnkit.models.token_stepper import TokenStepper

    c_binding.set_threads(2)
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


def run_in_child(environment: dict, code: str) -> str:
    """The child's output of CODE, under only the RNNKIT_ switches in ENVIRONMENT."""
    inherited = {key: value for key, value in os.environ.items() if not key.startswith("RNNKIT_")}
    result = subprocess.run(
        [sys.executable, "-c", code], env={**inherited, **environment},
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return result.stdout.strip()


@pytest.mark.parametrize(
    "environment, kernel_name, threads",
    [
        ({"RNNKIT_ACCELERATOR": "0"}, "numpy", None),
        ({"RNNKIT_KERNEL": "numpy"}, "numpy", None),
        ({"RNNKIT_NUM_THREADS": "1"}, c_binding.supported()[-1:] or ["numpy"], "1"),
        *[({"RNNKIT_KERNEL": name}, name, None) for name in c_binding.supported()],
    ],
    ids=str,
)
def test_environment_switches(environment: dict, kernel_name, threads: str | None) -> None:
    code = "from rnnkit.nn import c_binding as b; print(b.kernel(), b.threads())"
    got_kernel, got_threads = run_in_child(environment, code).split()
    expected = kernel_name[0] if isinstance(kernel_name, list) else kernel_name
    assert got_kernel == expected
    assert threads is None or got_threads == threads


def test_a_kernel_the_cpu_lacks_is_refused() -> None:
    with pytest.raises(ValueError, match="kernel"):
        c_binding.use_kernel("sse9")
    missing = [name for name in c_binding.KERNELS if name not in c_binding.supported()]
    for name in missing:
        with pytest.raises(ValueError, match="cannot run here"):
            c_binding.use_kernel(name)


def test_layers_say_where_their_time_loops_run(kernel: str) -> None:
    c_binding.set_threads(2)
    assert LSTM(3, 32, dtype=np.float32).engine == f"C ({kernel}), 2 threads"
    assert GRU(3, 32, dtype=np.float32).engine == f"C ({kernel}), 2 threads"
    assert LSTM(3, 32, dtype=np.float64).engine == "NumPy"
    assert RNN(3, 20, dtype=np.float32).engine == (
        "NumPy: the C loops take hidden sizes that are multiples of 16"
    )
    c_binding.set_threads(1)
    assert RNN(3, 32, dtype=np.float32).engine == f"C ({kernel}), 1 thread"


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize(
    "changes",
    [
        dict(tokens=True, bidirectional=True, lengths=True),
        dict(tokens=False, bidirectional=True, lengths=True, layers=2),
        dict(tokens=True, bidirectional=False, lengths=False, steps=2),  # ids summed in NumPy
    ],
    ids=str,
)
def test_every_option_with_three_threads(cell: str, changes: dict, kernel: str) -> None:
    # 19 rows make three chunks of 6-7 rows at 3 threads; hidden 48 is three unit blocks.
    c_binding.set_threads(3)
    assert_close_to_float64(cell, {**BASE, "batch": 19, "hidden_size": 48, **changes})


@pytest.mark.parametrize("layer_class", [LSTM, GRU, RNN])
def test_nan_in_the_input_comes_out_as_nan(layer_class: type, kernel: str) -> None:
    layer = layer_class(3, 16, dtype=np.float32, rng=0)
    x = np.ones((4, 2, 3), dtype=np.float32)
    x[1, 0, 0] = np.nan
    output, _ = layer.forward(x)
    assert np.all(np.isnan(output[1:, 0]))
    assert np.all(np.isfinite(output[:, 1]))  # the other row is untouched


def test_token_ids_outside_the_table_are_refused(kernel: str) -> None:
    # The layers check ids first (a ValueError); the C loop, which would read outside the
    # table, checks again for whoever calls the kernel directly.
    layer = LSTM(3, 16, dtype=np.float32, rng=0)
    table = np.ones((5, 3), dtype=np.float32)
    with pytest.raises(ValueError, match="ids"):
        layer.forward(EmbeddedTokens(table, np.array([[0], [5]])))
    weights = tuple(layer.params[name] for name in sorted(layer.params, reverse=True))
    state = (np.zeros((1, 16), np.float32), np.zeros((1, 16), np.float32))
    with pytest.raises(IndexError):
        dispatch.LSTM.forward_sequence(EmbeddedTokens(table, np.array([[0], [5]])), state, weights)


def test_the_numpy_reference_kernel_never_calls_c() -> None:
    # lstm_kernel is the reference: float32 there runs in NumPy whatever the switch says.
    assert "c_binding" not in vars(lstm_kernel) and "lstm_fused" not in vars(lstm_kernel)


@pytest.mark.parametrize("layer_class", [LSTM, GRU, RNN])
def test_results_do_not_depend_on_which_thread_took_which_rows(
    layer_class: type, kernel: str
) -> None:
    # A resumed run must equal an uninterrupted one bit for bit, so the token gradients are
    # summed per chunk of rows, whichever thread ran the chunk.
    c_binding.set_threads(2)
    layer = layer_class(8, 32, dtype=np.float32, rng=0)
    rng = np.random.default_rng(9)
    tokens = EmbeddedTokens(
        rng.standard_normal((5, 8)).astype(np.float32), rng.integers(0, 5, (30, 48))
    )
    grad_output = rng.standard_normal((30, 48, 32)).astype(np.float32)
    first = None
    for _ in range(6):
        layer.zero_grad()
        output, _ = layer.forward(tokens)
        grad_table, _ = layer.backward(grad_output)
        results = [output, grad_table, *(layer.grads[name].copy() for name in sorted(layer.grads))]
        if first is None:
            first = results
        for got, want in zip(results, first, strict=True):
            np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("hidden_size", [16, 48, 64])
def test_a_row_alone_computes_what_it_computes_among_others(
    cell: str, hidden_size: int, kernel: str
) -> None:
    # A batch of one row takes its own product path (wide one-row tiles, for the FMA
    # chains a lone row cannot fill; AVX-512's tiles are wide already and keep theirs) that
    # forms every sum in the same order as the tiles of many rows do, so the row's outputs,
    # and the gradient reaching its initial state through backward's products, are the same
    # to the bit. Token input: the input side comes from the table, not from a BLAS product
    # whose order may depend on the rows.
    c_binding.set_threads(1)
    layer = make_layer(cell, {**BASE, "hidden_size": hidden_size}, np.float32)
    rng = np.random.default_rng(3)
    for value in layer.params.values():
        value[...] = rng.uniform(-0.4, 0.4, value.shape)
    table = rng.standard_normal((11, BASE["input_size"])).astype(np.float32)
    ids = rng.integers(0, 11, (9, 7))
    initial = [rng.standard_normal((1, 7, hidden_size)).astype(np.float32) for _ in range(2)]
    grad_output = rng.standard_normal((9, 7, hidden_size)).astype(np.float32)
    results = []
    for rows in (slice(None), slice(2, 3)):
        state = [part[:, rows] for part in initial]
        output, _ = layer.forward(
            EmbeddedTokens(table, ids[:, rows]), tuple(state) if cell == "lstm" else state[0]
        )
        _, grad_state = layer.backward(grad_output[:, rows])
        grads = list(grad_state) if cell == "lstm" else [grad_state]
        results.append([output, *grads])
    among_others, alone = results
    for got, want in zip(alone, among_others, strict=True):
        np.testing.assert_array_equal(got[:, 0], want[:, 2])


def test_the_builds_agree_with_each_other() -> None:
    # Every build computes the same sums in its own order: close, and each close to float64.
    results = {}
    for name in c_binding.supported():
        previous = c_binding.use_kernel(name)
        try:
            options = {**BASE, "batch": 13, "hidden_size": 48}
            results[name] = _run_layer("lstm", options, np.float32, 3)
        finally:
            c_binding.use_kernel(previous)
    assert len(results) == len(c_binding.supported()) >= 1
    first = next(iter(results.values()))
    for values in results.values():
        for got, want in zip(values, first, strict=True):
            np.testing.assert_allclose(got, want, atol=2e-5 * max(1.0, np.abs(want).max()))


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize(
    "threads, num_layers, hidden_size, layer_bias",
    [(1, 1, 32, True), (2, 3, 48, True), (3, 2, 16, True), (2, 2, 32, False)],
)
def test_batch1_steps_in_c_match_float64(
    cell: str, threads: int, num_layers: int, hidden_size: int, layer_bias: bool, kernel: str
) -> None:
    from rnnkit.models.token_stepper import TokenStepper

    c_binding.set_threads(threads)
    options = {**BASE, "hidden_size": hidden_size, "layers": num_layers, "input_size": 4}
    options["bias"] = layer_bias
    exact = make_layer(cell, options, np.float64).eval()
    rng = np.random.default_rng(7)
    for value in exact.params.values():
        value[...] = rng.uniform(-0.5, 0.5, value.shape)
    single = make_layer(cell, options, np.float32).eval()
    single.load_state_dict(exact.state_dict())
    table = rng.standard_normal((9, 4))
    weight, bias = rng.standard_normal((11, hidden_size)), rng.standard_normal(11)
    ids = [8, 0, 3, 3, 5, 1, 7, 2]
    c_binding.use_kernel(c_binding.NUMPY)
    expected, _ = exact.forward(table[ids][:, None])
    c_binding.use_kernel(kernel)
    stepper = TokenStepper(single, input_table=table.astype(np.float32))
    assert stepper.fused is not None  # the steps run in C
    stepper.set_decoder(weight, bias)
    logits = [stepper.step_token_logits(token).copy() for token in ids]
    assert_relative_error(np.stack(logits), expected[:, 0] @ weight.T + bias)
    assert_relative_error(np.stack(stepper.h)[-1], expected[-1, 0])
    stepper.reset()  # step() with a vector: layer 0's input product in the same C call
    outputs = [stepper.step(table[token].astype(np.float32)) for token in ids]
    assert_relative_error(np.stack(outputs), expected[:, 0])


def assert_relative_error(got: np.ndarray, want: np.ndarray) -> None:
    """|got - want| within TOLERANCE of want's largest magnitude (at least 1)."""
    error = float(np.abs(got - want).max()) / max(float(np.abs(want).max()), 1.0)
    assert error < TOLERANCE, f"relative error {error:.2e}"


def test_the_fma_peak_loop_counts_what_it_does(kernel: str) -> None:
    # 12 vectors of LANES floats, 2 operations per lane per FMA, per round
    lanes = {"avx512": 16, "avx2": 8, "generic": 4}[kernel]
    assert c_binding.LIBRARY.rnnkit_fma_peak(1000) == 1000 * 12 * lanes * 2
