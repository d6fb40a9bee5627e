"""Bad input to the recurrent layers and cells: each mistake raises a ValueError with one
line that names the argument and, for shapes, the expected and the given shape; misuse
of backward raises RuntimeError."""

from __future__ import annotations

import re

import numpy as np
import pytest

from rnnkit.nn import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNCell
from tests.nn.recurrent_helpers import KINDS, backward_cell, make_cell, make_layer, step_cell


def raises_value_error(argument: str, *fragments: str):
    """``pytest.raises(ValueError)`` whose message is one line that starts with
    ``argument`` (the name of what was wrong) and contains every fragment."""
    lookaheads = "".join(f"(?=.*{re.escape(fragment)})" for fragment in fragments)
    return pytest.raises(ValueError, match=rf"^(?={re.escape(argument)}){lookaheads}[^\n]*$")


def test_the_helper_rejects_a_message_that_misses_a_point() -> None:
    with pytest.raises(AssertionError), raises_value_error("h_0", "(2, 4, 6)"):
        raise ValueError("h_0: expected shape (2, 4, 5)")
    with pytest.raises(AssertionError), raises_value_error("h_0"):
        raise ValueError("grad_h_0: expected shape (2, 4, 5)")
    with pytest.raises(AssertionError), raises_value_error("h_0"):
        raise ValueError("h_0: expected shape\n(2, 4, 5)")


@pytest.fixture(params=KINDS)
def layer(request: pytest.FixtureRequest):
    """Two bidirectional layers, input_size 3, hidden_size 6; ``h_n`` is (4, B, 6)."""
    return make_layer(request.param, 3, 6, num_layers=2, bidirectional=True)


def hx_for(layer, h_0: np.ndarray, c_0: np.ndarray | None = None):
    if isinstance(layer, LSTM):
        return (h_0, np.zeros((4, 4, 6)) if c_0 is None else c_0)
    return h_0


@pytest.mark.parametrize("shape", [(5, 4), (5, 4, 3, 1), (3,)])
def test_input_of_wrong_rank(layer, shape: tuple[int, ...]) -> None:
    with raises_value_error("input", "3-D", "input_size=3", f"got shape {shape}"):
        layer.forward(np.zeros(shape))


def test_input_of_wrong_feature_size(layer) -> None:
    with raises_value_error("input", "(seq_len, batch, input_size)", "input_size=3", "(5, 4, 2)"):
        layer.forward(np.zeros((5, 4, 2)))
    layer.batch_first = True
    with raises_value_error("input", "(batch, seq_len, input_size)", "(4, 5, 7)"):
        layer.forward(np.zeros((4, 5, 7)))


def test_empty_input(layer) -> None:
    with raises_value_error("input", "at least one time step", "(0, 4, 3)"):
        layer.forward(np.zeros((0, 4, 3)))


def test_complex_input(layer) -> None:
    with raises_value_error("input", "real-valued", "complex128"):
        layer.forward(np.zeros((5, 4, 3), dtype=complex))


@pytest.mark.parametrize(
    ("lengths", "fragments"),
    [
        ([3, 0, 5, 1], ("lengths[1] = 0", "between 1 and", "5")),
        ([3, 5, 6, 1], ("lengths[2] = 6", "between 1 and", "5")),
        ([-1, 5, 2, 1], ("lengths[0] = -1",)),
        ([3, 5, 1], ("lengths", "expected shape (4,)", "got (3,)")),
        ([3, 5, 1, 2, 2], ("lengths", "expected shape (4,)", "got (5,)")),
        ([[3, 5, 1, 2]], ("lengths", "expected shape (4,)", "got (1, 4)")),
        ([3, 2.5, 1, 2], ("lengths[1] = 2.5", "integers")),
        ([3, float("nan"), 1, 2], ("lengths[1] = nan", "integers")),
        ([3, 5, 1, 1e20], ("lengths[3] = 100000000000000000000", "between 1 and", "5")),
        (["3", "5", "1", "2"], ("lengths", "integers", "['3', '5', '1', '2']")),
        ([3, None, 1, 2], ("lengths", "integers", "[3, None, 1, 2]")),
        ([3, 2**70, 1, 2], ("lengths", "integers", str(2**70))),
        ([3, 5j, 1, 2], ("lengths", "integers", "5j")),
        ([[3, 5], [1]], ("lengths", "expected shape (4,)", "got ()")),
    ],
)
def test_bad_lengths(layer, lengths: list, fragments: tuple[str, ...]) -> None:
    with raises_value_error(*fragments):
        layer.forward(np.zeros((5, 4, 3)), None, lengths)


def test_integral_float_lengths_are_accepted(layer) -> None:
    output, _ = layer.forward(np.ones((5, 4, 3)), None, np.array([3.0, 5.0, 1.0, 4.0]))
    assert np.all(output[3:, 0] == 0.0) and np.any(output[2, 0] != 0.0)


@pytest.mark.parametrize("shape", [(2, 4, 6), (4, 3, 6), (4, 4, 5), (4, 6)])
def test_initial_hidden_state_of_wrong_shape(layer, shape: tuple[int, ...]) -> None:
    with raises_value_error("h_0", "expected shape (4, 4, 6)", f"got {shape}"):
        layer.forward(np.zeros((5, 4, 3)), hx_for(layer, np.zeros(shape)))


@pytest.mark.parametrize(
    ("value", "got"),
    [("zz", "dtype <U2"), ([[1, 2], [3]], "ragged"), (np.zeros((4, 4, 6), complex), "complex128")],
)
def test_initial_state_that_is_not_an_array_of_real_numbers(layer, value, got: str) -> None:
    with raises_value_error("h_0", got):
        layer.forward(np.zeros((5, 4, 3)), hx_for(layer, value))
    if isinstance(layer, LSTM):
        with raises_value_error("c_0", got):
            layer.forward(np.zeros((5, 4, 3)), (np.zeros((4, 4, 6)), value))
        with raises_value_error("c_0", "got None"):
            layer.forward(np.zeros((5, 4, 3)), (np.zeros((4, 4, 6)), None))


def test_upstream_gradient_of_complex_numbers(layer) -> None:
    layer.forward(np.zeros((5, 4, 3)))
    with raises_value_error("grad_output", "real-valued", "complex128"):
        layer.backward(np.zeros((5, 4, 12), complex))


def test_unbatched_shapes_are_checked_as_given(layer) -> None:
    # The unbatched input runs as a batch of one; its errors still speak of the shapes
    # the caller gives and must give: (L*D, H) states, (T, D*H) upstream gradients.
    x = np.zeros((5, 3))
    with raises_value_error("input", "at least one time step", "got shape (0, 3)"):
        layer.forward(np.zeros((0, 3)))
    for shape in [(4, 5), (6,), (4, 1, 6)]:
        with raises_value_error("h_0", "expected shape (4, 6)", f"got {shape}"):
            layer.forward(x, hx_for(layer, np.zeros(shape), np.zeros((4, 6))))
    layer.forward(x)
    with raises_value_error("grad_output", "expected shape (5, 12)", "got (5, 6)"):
        layer.backward(np.zeros((5, 6)))
    with raises_value_error("grad_h_n", "expected shape (4, 6)", "got (4, 1, 6)"):
        grad_hn = np.zeros((4, 1, 6))
        layer.backward(np.zeros((5, 12)), (grad_hn, None) if isinstance(layer, LSTM) else grad_hn)


@pytest.mark.parametrize("shape", [(2, 4, 6), (4, 4, 5)])
def test_initial_cell_state_of_wrong_shape(shape: tuple[int, ...]) -> None:
    lstm = LSTM(3, 6, num_layers=2, bidirectional=True)
    with raises_value_error("c_0", "expected shape (4, 4, 6)", f"got {shape}"):
        lstm.forward(np.zeros((5, 4, 3)), (np.zeros((4, 4, 6)), np.zeros(shape)))


def test_lstm_state_must_be_a_pair() -> None:
    lstm = LSTM(3, 6)
    with raises_value_error("hx", "tuple (h_0, c_0)"):
        lstm.forward(np.zeros((5, 4, 3)), np.zeros((1, 4, 6)))
    lstm.forward(np.zeros((5, 4, 3)))
    with raises_value_error("grad_hn", "tuple (grad_h_n, grad_c_n)"):
        lstm.backward(np.zeros((5, 4, 6)), np.zeros((1, 4, 6)))


def test_upstream_gradients_of_wrong_shape(layer) -> None:
    layer.forward(np.zeros((5, 4, 3)))
    with raises_value_error("grad_output", "expected shape (5, 4, 12)", "got (5, 4, 6)"):
        layer.backward(np.zeros((5, 4, 6)))
    layer.forward(np.zeros((5, 4, 3)))
    with raises_value_error("grad_h_n", "expected shape (4, 4, 6)", "got (2, 4, 6)"):
        layer.backward(np.zeros((5, 4, 12)), hx_for(layer, np.zeros((2, 4, 6))))


def test_upstream_cell_state_gradient_of_wrong_shape() -> None:
    lstm = LSTM(3, 6)
    lstm.forward(np.zeros((5, 4, 3)))
    with raises_value_error("grad_c_n", "expected shape (1, 4, 6)", "got (1, 4, 7)"):
        lstm.backward(np.zeros((5, 4, 6)), (None, np.zeros((1, 4, 7))))


def test_state_dict_with_missing_or_extra_keys(layer) -> None:
    state = layer.state_dict()
    del state["bias_hh_l1_reverse"]
    with raises_value_error("state_dict", "missing keys ['bias_hh_l1_reverse']"):
        layer.load_state_dict(state)
    state = layer.state_dict()
    state["weight_ih_l2"] = np.zeros((6, 12))
    with raises_value_error("state_dict", "unexpected keys ['weight_ih_l2']"):
        layer.load_state_dict(state)


def test_state_dict_with_a_wrong_shape(layer) -> None:
    state = layer.state_dict()
    rows = layer.params["weight_hh_l1"].shape[0]
    state["weight_hh_l1"] = np.zeros((rows, 5))
    before = {name: value.copy() for name, value in layer.params.items()}
    with raises_value_error(
        "state_dict['weight_hh_l1']", f"expected shape ({rows}, 6)", f"got ({rows}, 5)"
    ):
        layer.load_state_dict(state)
    # A torch state dict of a layer without biases does not fit one with them.
    without_bias = {name: v for name, v in layer.state_dict().items() if "bias" not in name}
    with raises_value_error("state_dict", "missing keys", "bias_ih_l0"):
        layer.load_state_dict(without_bias)
    for name, value in layer.params.items():
        np.testing.assert_array_equal(value, before[name])


@pytest.mark.parametrize("nonlinearity", ["sigmoid", "Tanh", ""])
def test_bad_nonlinearity(nonlinearity: str) -> None:
    with raises_value_error("nonlinearity", "'tanh'", "'relu'", repr(nonlinearity)):
        RNN(3, 6, nonlinearity=nonlinearity)
    with raises_value_error("nonlinearity", repr(nonlinearity)):
        RNNCell(3, 6, nonlinearity=nonlinearity)


@pytest.mark.parametrize("layer_class", [RNN, LSTM, GRU])
@pytest.mark.parametrize("dropout", [-0.1, 1.0, 1.5, float("nan"), None, "half"])
def test_bad_dropout(layer_class: type, dropout: float) -> None:
    with raises_value_error("dropout", "[0, 1)", str(dropout)):
        layer_class(3, 6, num_layers=2, dropout=dropout)


@pytest.mark.parametrize(
    ("arguments", "name"),
    [
        ((0, 6), "input_size"),
        ((3, 0), "hidden_size"),
        ((3, -2), "hidden_size"),
        ((3, 2.5), "hidden_size"),
    ],
)
@pytest.mark.parametrize("layer_class", [RNN, LSTM, GRU])
def test_bad_sizes(layer_class: type, arguments: tuple, name: str) -> None:
    with raises_value_error(
        name, "positive integer", repr(arguments[1 if "hidden" in name else 0])
    ):
        layer_class(*arguments)
    with raises_value_error("num_layers", "positive integer", "0"):
        layer_class(3, 6, num_layers=0)


@pytest.mark.parametrize(
    ("arguments", "name"),
    [((3, 0), "hidden_size"), ((3, -2), "hidden_size"), ((0, 6), "input_size")],
)
@pytest.mark.parametrize("cell_class", [RNNCell, LSTMCell, GRUCell])
def test_bad_cell_sizes(cell_class: type, arguments: tuple, name: str) -> None:
    with raises_value_error(name, "positive integer"):
        cell_class(*arguments)


@pytest.mark.parametrize("dtype", [np.float16, np.int64])
def test_bad_dtype(dtype: type) -> None:
    with raises_value_error("dtype", "float32 or float64", np.dtype(dtype).name):
        LSTM(3, 6, dtype=dtype)
    with raises_value_error("dtype", "float32 or float64"):
        LSTMCell(3, 6, dtype=dtype)


# -- cells -----------------------------------------------------------------------------------


@pytest.fixture(params=KINDS)
def cell(request: pytest.FixtureRequest):
    return make_cell(request.param, 3, 5)


@pytest.mark.parametrize("shape", [(2, 4), (4,), (2, 2, 3), (), (0, 3)])
def test_cell_input_of_wrong_shape(cell, shape: tuple[int, ...]) -> None:
    with raises_value_error("input", "(batch, 3) or (3,)", f"got {shape}"):
        cell.forward(np.zeros(shape))


@pytest.mark.parametrize(
    ("x_shape", "bad_shape", "expected"),
    # (5, 2) holds as many numbers as (2, 5): it must be refused, not reshaped.
    [((2, 3), (5, 2), (2, 5)), ((2, 3), (3, 5), (2, 5)), ((3,), (1, 5), (5,))],
)
def test_cell_state_or_gradient_of_wrong_shape(cell, x_shape, bad_shape, expected) -> None:
    good, bad = np.zeros(expected), np.zeros(bad_shape)
    fragments = (f"expected shape {expected}", f"got {bad_shape}")
    count = cell.kernel.STATE_COUNT
    for position, name in enumerate(("h", "c")[:count]):
        states = tuple(bad if index == position else good for index in range(count))
        with raises_value_error(f"{name}:", *fragments):
            step_cell(cell, np.zeros(x_shape), states)
        step_cell(cell, np.zeros(x_shape), None)
        with raises_value_error(f"grad_{name}:", *fragments):
            backward_cell(cell, states)


def test_cell_input_or_state_that_is_not_real_numbers(cell) -> None:
    with raises_value_error("input", "real-valued", "<U3"):
        cell.forward("abc")
    with raises_value_error("h:", "ragged"):
        step_cell(cell, np.zeros((2, 3)), ([[0.0] * 5, [0.0]],) * cell.kernel.STATE_COUNT)


def test_lstm_cell_state_and_gradient_must_be_pairs() -> None:
    cell = LSTMCell(3, 5)
    with raises_value_error("hx", "tuple (h, c)"):
        cell.forward(np.zeros((2, 3)), np.zeros((2, 5)))
    cell.forward(np.zeros((2, 3)))
    with raises_value_error("grad_hx", "tuple (grad_h, grad_c)"):
        cell.backward(np.zeros((2, 5)))


# -- misuse of backward ----------------------------------------------------------------------


def test_backward_without_forward(layer) -> None:
    with pytest.raises(RuntimeError, match="forward"):
        layer.backward(np.zeros((5, 4, 12)))


def test_backward_after_an_evaluation_forward(layer) -> None:
    layer.eval()
    layer.forward(np.zeros((5, 4, 3)))
    with pytest.raises(RuntimeError, match=r"train\(\)"):
        layer.backward(np.zeros((5, 4, 12)))


def test_second_backward_after_one_forward(layer) -> None:
    layer.forward(np.zeros((5, 4, 3)))
    layer.backward(np.zeros((5, 4, 12)))
    grads = {name: grad.copy() for name, grad in layer.grads.items()}
    with pytest.raises(RuntimeError, match="once per backward"):
        layer.backward(np.ones((5, 4, 12)))
    for name, grad in layer.grads.items():
        np.testing.assert_array_equal(grad, grads[name])


def test_cell_backward_misuse(cell) -> None:
    grad = (np.zeros((2, 5)),) * cell.kernel.STATE_COUNT
    grad = grad if isinstance(cell, LSTMCell) else grad[0]
    with pytest.raises(RuntimeError, match="forward"):
        cell.backward(grad)
    cell.forward(np.zeros((2, 3)))
    cell.backward(grad)
    with pytest.raises(RuntimeError, match="once per backward"):
        cell.backward(grad)
    cell.eval()
    cell.forward(np.zeros((2, 3)))
    with pytest.raises(RuntimeError, match="training mode"):
        cell.backward(grad)
