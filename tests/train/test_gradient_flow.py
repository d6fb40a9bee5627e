"""gradient_flow: the state gradient's norm, step by step back from the loss."""

import numpy as np
import pytest

from rnnkit.nn import GRU, LSTM, RNN, Linear, softmax_cross_entropy
from rnnkit.train.gradient_flow import gradient_flow


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_one_norm_per_state(cell):
    flow = gradient_flow(cell, steps=5, hidden_size=6, input_size=3, batch=4, keep_bias=0.0)
    assert flow.norms.shape == (6,)  # h_5 back to h_0
    assert np.all(np.isfinite(flow.norms)) and np.all(flow.norms > 0)


def test_clipping_caps_every_step():
    clipped = gradient_flow("rnn", steps=30, recurrent_gain=3.0, clip=0.05)
    assert clipped.norms.max() <= 0.05 + 1e-12


def test_an_lstm_with_half_open_forget_gates_also_vanishes():
    assert gradient_flow("lstm", keep_bias=0.0).ratio(50) < 1e-6
    assert gradient_flow("lstm", keep_bias=3.0).ratio(50) > 0.1


def test_the_state_gradients_agree_with_the_full_layers_backward():
    """The initial state's gradient from the cells step by step equals the full layer's
    dL/dh_0 (and dL/dc_0) on the same weights, inputs and loss."""
    steps, hidden, inputs, batch = 7, 5, 3, 2
    for cell, layer_class in (("rnn", RNN), ("gru", GRU), ("lstm", LSTM)):
        flow = gradient_flow(cell, steps, hidden, inputs, batch, keep_bias=0.0, seed=4)
        # The same weights (seeded alike), inputs and loss, through the full layer.
        data = np.random.default_rng(4)
        x = data.standard_normal((steps, batch, inputs))
        labels = (x[0, :, 0] > 0).astype(np.int64)
        layer = layer_class(inputs, hidden, dtype=np.float64, rng=4)
        output, _ = layer.forward(x)
        readout = Linear(hidden, 2, dtype=np.float64, rng=5)
        _, grad_logits = softmax_cross_entropy(readout.forward(output[-1]), labels)
        grad_output = np.zeros_like(output)
        grad_output[-1] = readout.backward(grad_logits)
        _, grad_state = layer.backward(grad_output)
        parts = grad_state if cell == "lstm" else (grad_state,)
        norm = np.sqrt(sum(np.sum(part[0] ** 2) for part in parts))
        assert flow.norms[-1] == pytest.approx(norm, rel=1e-10)


def test_unknown_cell_is_refused():
    with pytest.raises(ValueError, match="cell"):
        gradient_flow("transformer")
