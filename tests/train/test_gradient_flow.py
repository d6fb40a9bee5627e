"""gradient_flow: the state gradient's norm, step by step back from the loss."""

import numpy as np
import pytest

from rnnkit.nn import GRU, LSTM, RNN, Linear, softmax_cross_entropy
from rnnkit.train.gradient_flow import gradient_flow


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_every_step_norm_matches_torch_autograd(torch, cell):
    """norms[d] = ||dL/dh_{T-d}|| (with c for the LSTM) for every d, against torch's
    gradients of the states of the same cells, with the recurrent gain and the gate bias
    applied as the module docstring says."""
    steps, hidden, inputs, batch, gain, keep, seed = 5, 6, 3, 4, 1.5, 2.0, 3
    flow = gradient_flow(cell, steps, hidden, inputs, batch, gain, keep, seed=seed)
    assert flow.norms.shape == (steps + 1,)  # h_5 back to h_0

    layer_class = {"rnn": RNN, "lstm": LSTM, "gru": GRU}[cell]
    weights = {
        name.removesuffix("_l0"): torch.from_numpy(value.copy())
        for name, value in layer_class(inputs, hidden, dtype=np.float64, rng=seed).params.items()
    }
    weights["weight_hh"] *= gain
    if cell != "rnn":  # the forget (LSTM) or update (GRU) gate: the second block of rows
        weights["bias_ih"][hidden : 2 * hidden] += keep
    twin = getattr(torch.nn, f"{cell.upper()}Cell")(inputs, hidden, dtype=torch.float64)
    twin.load_state_dict(weights)
    readout = Linear(hidden, 2, dtype=np.float64, rng=seed + 1)
    head = torch.nn.Linear(hidden, 2, dtype=torch.float64)
    head.load_state_dict({k: torch.from_numpy(v) for k, v in readout.params.items()})

    x = np.random.default_rng(seed).standard_normal((steps, batch, inputs))
    labels = torch.from_numpy((x[0, :, 0] > 0).astype(np.int64))
    count = 2 if cell == "lstm" else 1
    state = tuple(torch.zeros(batch, hidden, dtype=torch.float64, requires_grad=True)
                  for _ in range(count))  # fmt: skip
    states = [state]
    for t in range(steps):
        new = twin(torch.from_numpy(x[t]), state if cell == "lstm" else state[0])
        # The gradient carried back is that of the next step's inputs (h, c), each taken
        # alone: a copy per step, as c's own .grad would add the path through h = o tanh(c).
        state = tuple(part + 0.0 for part in (new if cell == "lstm" else (new,)))
        for part in state:
            part.retain_grad()
        states.append(state)
    torch.nn.functional.cross_entropy(head(state[0]), labels).backward()
    # The last c reaches no loss: torch leaves its gradient unset, rnnkit zero.
    expected = [
        float(np.sqrt(sum(float((p.grad**2).sum()) for p in s if p.grad is not None)))
        for s in reversed(states)
    ]
    np.testing.assert_allclose(flow.norms, expected, rtol=1e-10)
    assert flow.norms[-1] < flow.norms[0]  # a distinct value per step: it vanishes here


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
