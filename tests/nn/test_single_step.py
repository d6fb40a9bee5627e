"""One step of one row through ``forward`` (``single_step``): the C stack step on cached
weights, held to the float64 NumPy layer, and rebuilt whenever the parameters change."""

from __future__ import annotations

import subprocess
import sys
import time

import numpy as np
import pytest

from rnnkit.nn import GRU, LSTM, RNN, Layer, c_binding, param_versions
from rnnkit.nn.fused_stepper import _STEPPER_THREADS
from rnnkit.optim import Adam

pytestmark = pytest.mark.skipif(
    c_binding.LIBRARY is None, reason="no C loops (test_c_loops fails for that)"
)

TOLERANCE = 2e-5
# Another program keeping a core busy; it ends by itself should the test be killed.
BUSY_LOOP = "import time\nend = time.time() + 60\nwhile time.time() < end: pass"


@pytest.fixture(params=c_binding.supported() or ["generic"])
def kernel(request: pytest.FixtureRequest):
    previous = c_binding.use_kernel(request.param)
    yield request.param
    c_binding.use_kernel(previous)


def pair(layer_class: type, **options) -> tuple:
    """A float32 layer in eval mode and its float64 twin with the same weights."""
    exact = layer_class(5, 32, num_layers=2, dtype=np.float64, rng=3, **options).eval()
    single = layer_class(5, 32, num_layers=2, dtype=np.float32, **options).eval()
    single.load_state_dict(exact.state_dict())
    return single, exact


def reference(exact, x: np.ndarray, state):
    """The float64 layer's step through the general NumPy path."""
    previous = c_binding.use_kernel(c_binding.NUMPY)
    try:
        return exact.forward(x.astype(np.float64), state)
    finally:
        c_binding.use_kernel(previous)


def assert_close(got, want) -> None:
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape and got.dtype == np.float32
    assert float(np.abs(got - want).max()) < TOLERANCE


def states(state) -> list:
    return list(state) if isinstance(state, tuple) else [state]


@pytest.mark.parametrize("layer_class", [LSTM, GRU, RNN])
@pytest.mark.parametrize("unbatched, bias", [(False, True), (True, True), (False, False)])
def test_steps_match_the_float64_layer(
    layer_class: type, unbatched: bool, bias: bool, kernel: str
) -> None:
    single, exact = pair(layer_class, bias=bias)
    rng = np.random.default_rng(0)
    ours = theirs = None
    for _ in range(6):  # the state carried from step to step, from zeros
        x = rng.standard_normal((1, 5) if unbatched else (1, 1, 5)).astype(np.float32)
        output, ours = single.forward(x, ours)
        want, theirs = reference(exact, x, theirs)
        assert_close(output, want)
        for got_state, want_state in zip(states(ours), states(theirs), strict=True):
            assert_close(got_state, want_state)
    assert "_single_step" in vars(single)  # the steps took the C path


def test_relu_rnn_and_a_given_state(kernel: str) -> None:
    single, exact = pair(RNN, nonlinearity="relu")
    rng = np.random.default_rng(1)
    h_0 = rng.standard_normal((2, 1, 32))
    x = rng.standard_normal((1, 1, 5))
    output, h_n = single.forward(x, h_0)  # float64 input and state are converted
    want, want_h = reference(exact, x, h_0)
    assert_close(output, want)
    assert_close(h_n, want_h)


def test_the_weights_are_arranged_once_and_again_after_each_change(kernel: str) -> None:
    single, exact = pair(LSTM)
    x = np.ones((1, 1, 5), np.float32)
    single.forward(x)
    arranged = vars(single)["_single_step"]
    single.forward(x)
    assert vars(single)["_single_step"] is arranged  # kept between calls

    # an optimizer step changes the weights: the next step sees them
    optimizer = Adam(single.params, single.grads, lr=0.1)
    for grad in single.grads.values():
        grad[...] = 1.0
    optimizer.step()
    output, _ = single.forward(x)
    assert vars(single)["_single_step"] is not arranged
    exact.load_state_dict(single.state_dict())
    assert_close(output, reference(exact, x, None)[0])

    # load_state_dict through a parent layer that holds this one
    parent = Layer()
    parent.add_layer("rnn", single)
    fresh = LSTM(5, 32, num_layers=2, dtype=np.float64, rng=11)
    parent.load_state_dict({f"rnn.{name}": value for name, value in fresh.state_dict().items()})
    output, _ = single.forward(x)
    assert_close(output, reference(fresh.eval(), x, None)[0])

    # weights written by hand, then announced
    single.params["bias_ih_l1"][...] += 1.0
    param_versions.parameters_changed()
    exact.load_state_dict(single.state_dict())
    assert_close(single.forward(x)[0], reference(exact, x, None)[0])


def test_training_mode_and_bad_states_take_the_general_path(kernel: str) -> None:
    single, _ = pair(GRU)
    x = np.ones((1, 1, 5), np.float32)
    single.train()
    output, _ = single.forward(x)
    single.backward(np.ones_like(output))  # a cache for backward exists
    assert "_single_step" not in vars(single)
    single.eval()
    with pytest.raises(ValueError, match="h_0"):
        single.forward(x, np.zeros((1, 1, 32)))
    with pytest.raises(RuntimeError, match="backward"):
        single.forward(x)
        single.backward(np.ones((1, 1, 32)))


def steps_on_threads(
    layer_class: type, inputs: np.ndarray, threads: int, before_step=None
) -> list[np.ndarray]:
    """The outputs and final state of a new layer (the stepper takes the thread count as it
    is made) stepped through INPUTS on THREADS threads, ``before_step(step)`` first each
    step if given."""
    previous = c_binding.threads()
    c_binding.set_threads(threads)
    try:
        single, _ = pair(layer_class)
        state, outputs = None, []
        for step, x in enumerate(inputs):
            if before_step is not None:
                before_step(step)
            output, state = single.forward(x, state)
            outputs.append(output)
    finally:
        c_binding.set_threads(previous)
    return [np.stack(outputs), *states(state)]


@pytest.mark.parametrize("layer_class", [LSTM, GRU])
def test_steps_on_a_busy_machine_match_steps_on_one_thread(layer_class: type, kernel: str) -> None:
    # With a core taken by another program, the stepper's second thread waits for its turn
    # on it, and the stepper then steps on the caller's thread alone for a while
    # (rnnkit_stack_step); whichever thread takes which unit blocks, each block's sums are
    # formed the same way, so the states are the same to the bit as on one thread.
    inputs = np.random.default_rng(5).standard_normal((300, 1, 1, 5)).astype(np.float32)
    busy = subprocess.Popen([sys.executable, "-c", BUSY_LOOP])
    try:
        time.sleep(0.2)
        two = steps_on_threads(layer_class, inputs, 2)
        one = steps_on_threads(layer_class, inputs, 1)
    finally:
        busy.kill()
        busy.wait()
    for got, want in zip(two, one, strict=True):
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("layer_class", [LSTM, GRU, RNN])
def test_steps_alone_after_a_stall_match_steps_on_one_thread(
    layer_class: type, kernel: str
) -> None:
    # After a stall the stepper steps on the caller's thread alone for a while: the states
    # are the same to the bit as those of a stepper of one thread, in and out of that while.
    inputs = np.random.default_rng(6).standard_normal((60, 1, 1, 5)).astype(np.float32)
    counts = {}

    def alone_for_steps_20_to_39(step: int) -> None:
        if step % 20 == 0:
            counts[step] = _STEPPER_THREADS.step_alone(60.0 if step == 20 else 0.0)

    try:
        two = steps_on_threads(layer_class, inputs, 2, alone_for_steps_20_to_39)
    finally:
        _STEPPER_THREADS.step_alone(0.0)
    assert counts[40] - counts[20] == 20  # steps 20-39 ran alone: the path under test was taken
    one = steps_on_threads(layer_class, inputs, 1)
    for got, want in zip(two, one, strict=True):
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("layer_class", [LSTM, GRU, RNN])
def test_a_state_that_is_not_real_numbers_is_refused_as_by_the_general_path(
    layer_class: type, kernel: str
) -> None:
    # Copied into the stepper's float32 buffers, a complex state lost its imaginary part
    # and text or booleans were read as numbers, where the general path names the state.
    single, _ = pair(layer_class)
    x = np.ones((1, 1, 5), np.float32)
    for bad, got in [
        (np.full((2, 1, 32), 1 + 2j), "complex128"),
        (np.full((2, 1, 32), "1"), "<U1"),
        (np.ones((2, 1, 32), bool), "bool"),
    ]:
        name = "h_0"
        hx = bad
        if layer_class is LSTM:
            hx, name = (np.zeros((2, 1, 32), np.float32), bad), "c_0"
        expected = f"^{name}: expected a real-valued array, got dtype {got}"
        with pytest.raises(ValueError, match=expected):
            single.forward(x, hx)
    numbers = [[[0.0] * 32]] * 2  # a state of numbers in lists still steps
    listed = (numbers, numbers) if layer_class is LSTM else numbers
    assert_close(single.forward(x, listed)[0], single.forward(x)[0])
