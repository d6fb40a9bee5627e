"""The Time RNN of "Deep Learning from Scratch 2", chapter 5, built step by step.

A Time RNN layer is T copies of one RNN cell that share their weights: the forward runs
them left to right, each taking the hidden state of the one before; the backward runs
them right to left (backpropagation through time, BPTT), each cell adding its share into
the one set of weight gradients. Training on a long sequence cuts it into windows of T
steps (truncated BPTT): the hidden state flows on from window to window (the layer is
"stateful"), but the gradient stops at the window's first step.

This program builds that layer from ``rnnkit.nn.RNNCell``, trains nothing, and checks
every number against ``rnnkit.nn.RNN``, which runs the same equations as one layer:

    forward   h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)
    backward  da_t = dh_t * (1 - h_t^2);   dh_{t-1} = da_t W_hh;   dx_t = da_t W_ih
              dW_ih += da_t^T x_t;   dW_hh += da_t^T h_{t-1};   db_ih, db_hh += sum_rows da_t

    python examples/time_rnn.py
"""

from __future__ import annotations

import argparse

import numpy as np

from rnnkit.ctrl_c import stop_quietly_on_ctrl_c
from rnnkit.nn import RNN, RNNCell


class TimeRNN:
    """DLFS2's ``TimeRNN``: T cells with shared weights, stateful across calls."""

    def __init__(self, cell: RNNCell, time_steps: int, stateful: bool = True) -> None:
        self.cell = cell  # holds the one set of weights and gradients
        self.cells = []
        for _ in range(time_steps):
            step = RNNCell(cell.input_size, cell.hidden_size, dtype=cell.dtype)
            # Share, not copy: every step reads the same weights and adds into the same
            # gradients (DLFS2 sums the per-step gradients after the loop; same numbers).
            step.params, step.grads = cell.params, cell.grads
            self.cells.append(step)
        self.stateful = stateful
        self.h = None  # the state the last window ended in

    def forward(self, xs: np.ndarray) -> np.ndarray:
        """``xs`` (T, B, D) -> ``hs`` (T, B, H); the state carries over if stateful."""
        T, B, _ = xs.shape
        if not self.stateful or self.h is None:
            self.h = np.zeros((B, self.cell.hidden_size), dtype=xs.dtype)
        hs = np.empty((T, B, self.cell.hidden_size), dtype=xs.dtype)
        for t in range(T):
            self.h = self.cells[t].forward(xs[t], self.h)
            hs[t] = self.h
        return hs

    def backward(self, dhs: np.ndarray) -> np.ndarray:
        """``dL/dhs`` (T, B, H) -> ``dL/dxs`` (T, B, D); adds into the weight gradients.

        The gradient reaching the window's initial state is dropped: that is the truncation.
        """
        dxs = np.empty((dhs.shape[0], dhs.shape[1], self.cell.input_size), dtype=dhs.dtype)
        dh = np.zeros_like(dhs[0])  # nothing flows back from beyond the window's end
        for t in reversed(range(len(dhs))):  # the last window may be shorter than T
            # h_t feeds both the output (dhs[t]) and the next step (dh): the gradients add.
            dxs[t], dh = self.cells[t].backward(dhs[t] + dh)
        return dxs


def one_step_by_hand(cell: RNNCell, x: np.ndarray, h_prev: np.ndarray, dh: np.ndarray):
    """One step's forward and backward written out in NumPy: (h, dx, dh_prev, dW_hh)."""
    p = cell.params
    h = np.tanh(x @ p["weight_ih"].T + p["bias_ih"] + h_prev @ p["weight_hh"].T + p["bias_hh"])
    da = dh * (1 - h**2)
    return h, da @ p["weight_ih"], da @ p["weight_hh"], da.T @ h_prev


def run(
    length: int = 20,
    time_steps: int = 5,
    batch: int = 2,
    input_size: int = 3,
    hidden_size: int = 4,
    seed: int = 0,
) -> float:
    """Compare the hand-built Time RNN with ``rnnkit.nn.RNN``; return the largest gap."""
    rng = np.random.default_rng(seed)
    xs = rng.standard_normal((length, batch, input_size))
    # A made-up loss L = sum(hs * weights): its gradient dL/dhs is just the weights.
    dhs = rng.standard_normal((length, batch, hidden_size))

    # 1. One step by hand against the cell.
    cell = RNNCell(input_size, hidden_size, dtype=np.float64, rng=seed)
    h0 = rng.standard_normal((batch, hidden_size))
    h, dx, dh_prev, dw_hh = one_step_by_hand(cell, xs[0], h0, dhs[0])
    gaps = [np.abs(cell.forward(xs[0], h0) - h).max()]
    cell_dx, cell_dh_prev = cell.backward(dhs[0])
    gaps += [np.abs(cell_dx - dx).max(), np.abs(cell_dh_prev - dh_prev).max()]
    gaps.append(np.abs(cell.grads["weight_hh"] - dw_hh).max())
    print(f"one step by hand vs RNNCell: largest difference {max(gaps):.1e}")
    cell.zero_grad()

    # 2. The Time RNN over the sequence, window by window, and rnnkit's RNN beside it.
    time_rnn = TimeRNN(cell, time_steps)
    rnn = RNN(input_size, hidden_size, dtype=np.float64)
    rnn.load_state_dict({f"{name}_l0": value for name, value in cell.params.items()})
    h_rnn = None
    windows = range(0, length, time_steps)
    for start in windows:
        window = slice(start, start + time_steps)
        hs = time_rnn.forward(xs[window])
        dxs = time_rnn.backward(dhs[window])

        out, h_rnn = rnn.forward(xs[window], h_rnn)  # the state carried, as in TimeRNN
        rnn_dxs, _ = rnn.backward(dhs[window])  # the gradient of h_rnn is dropped: truncation
        gap = max(np.abs(hs - out).max(), np.abs(dxs - rnn_dxs).max())
        steps = f"{start:2d}-{min(start + time_steps, length) - 1:2d}"
        print(f"steps {steps}: outputs and dL/dx agree to {gap:.1e}")
        gaps.append(gap)

    # Gradients summed over all windows, under PyTorch's names in rnn.grads.
    summed = f"{len(windows)} window{'s' if len(windows) > 1 else ''}"
    for name, grad in cell.grads.items():
        gap = np.abs(grad - rnn.grads[f"{name}_l0"]).max()
        print(f"d{name:<10} summed over {summed} agrees to {gap:.1e}")
        gaps.append(gap)

    # Truncation changes the gradients (not the outputs): full BPTT over all steps differs.
    full = RNN(input_size, hidden_size, dtype=np.float64)
    full.load_state_dict(rnn.state_dict())
    full.forward(xs)
    full.backward(dhs)
    change = np.abs(full.grads["weight_hh_l0"] - rnn.grads["weight_hh_l0"]).max()
    print(f"(full BPTT through all {length} steps would change dweight_hh by {change:.2f})")
    return float(max(gaps))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--length", type=int, default=20, help="steps in the whole sequence")
    parser.add_argument("--time-steps", type=int, default=5, help="steps per window, T")
    args = parser.parse_args()
    for flag, value in [("--length", args.length), ("--time-steps", args.time_steps)]:
        if value < 1:
            parser.exit(2, f"time_rnn.py: {flag} must be 1 or more, got {value}\n")
    print("A Time RNN from RNNCells, with truncated BPTT, against rnnkit.nn.RNN (float64).")
    gap = run(args.length, args.time_steps)
    print(f"largest difference {gap:.1e}: the same numbers, to float64 round-off")


if __name__ == "__main__":
    stop_quietly_on_ctrl_c(main)
