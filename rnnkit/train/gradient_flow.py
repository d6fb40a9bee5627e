"""How far back the gradient reaches: ``||dL/dh_t||`` against the distance from the loss.

The task is the same for every cell: a batch of random input sequences, a linear readout
of the last hidden state, and a softmax cross-entropy loss at the last step only (the label
is the sign of the first input's first feature: an answer that lies ``steps - 1`` steps
back). Nothing is trained; the weights are those a training run would start from.

The gradient is carried back one step at a time through rnnkit's own cells
(``RNNCell``, ``LSTMCell``, ``GRUCell``, one per step, sharing one set of weights), so
every step's state gradient can be measured, and optionally clipped, on its way::

    g_T = dL/dh_T                       (from the readout)
    g_{t-1} = cell_t.backward(g_t)      (the state gradient one step further back)

For the LSTM the state is the pair ``(h_t, c_t)`` and its norm is that of both gradients
together: the memory ``c`` is where the LSTM keeps what it has to carry.

- A vanilla RNN multiplies ``g`` (a row) by ``diag(1 - h_t^2) W_hh`` at every step: with the
  usual initialisation the norm falls geometrically (vanishing gradients); with large
  recurrent weights (``recurrent_gain`` > 1) it can grow instead (exploding gradients).
- An LSTM carries ``dc_{t-1} = dc_t * f``: with the forget gate near 1 the gradient passes
  almost unchanged. A GRU's update gate plays that part (``dh_{t-1}`` gains ``dh_t * z``).
  ``keep_bias`` is added to those gates' biases so that they start open, as practitioners
  initialise them (Gers et al. 2000; Jozefowicz et al. 2015; Tallec & Ollivier 2018);
  with ``keep_bias=0`` the gates start half open and the gradient vanishes as ``0.5^t``.
- ``clip`` rescales each step's state gradient to a norm of at most ``clip`` (per-step
  clipping, as in Mikolov's RNNLM): it tames exploding gradients and does nothing for
  vanishing ones.

The weights are PyTorch's default for every cell (uniform in ``±1/sqrt(hidden_size)``,
drawn from the same seed), the recurrent weights multiplied by ``recurrent_gain``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from rnnkit.nn import GRU, LSTM, RNN, GRUCell, Linear, LSTMCell, RNNCell, softmax_cross_entropy
from rnnkit.train.figures import pyplot, save_figure

CELLS = {"rnn": (RNN, RNNCell), "lstm": (LSTM, LSTMCell), "gru": (GRU, GRUCell)}
# The gate whose bias keep_bias raises: its block of rows (PyTorch's gate order).
KEEP_GATE = {"lstm": 1, "gru": 1}  # LSTM i, f, g, o: forget; GRU r, z, n: update


@dataclass
class GradientFlow:
    """One cell's measurement: ``norms[d]`` is the norm of ``dL/dh_{T-d}``, the state
    gradient ``d`` steps back from the loss (``d = 0``: the last step; ``d = T``: the
    initial state)."""

    cell: str
    norms: np.ndarray
    recurrent_gain: float
    keep_bias: float
    clip: float | None

    def ratio(self, distance: int) -> float:
        """``norms[distance] / norms[0]``: how much of the gradient reaches that far back."""
        return float(self.norms[distance] / self.norms[0])

    @property
    def label(self) -> str:
        name = self.cell.upper()
        return name if self.clip is None else f"{name}, clipped at {self.clip:g}"


def gradient_flow(
    cell: str,
    steps: int = 60,
    hidden_size: int = 32,
    input_size: int = 8,
    batch: int = 16,
    recurrent_gain: float = 1.0,
    keep_bias: float = 3.0,
    clip: float | None = None,
    seed: int = 0,
) -> GradientFlow:
    """Measure ``||dL/dh_t||`` for ``t = T, T-1, ..., 0`` for one CELL (``rnn``, ``lstm``
    or ``gru``); see the module docstring for the task and the options."""
    if cell not in CELLS:
        raise ValueError(f"cell: expected one of {sorted(CELLS)}, got {cell!r}")
    if steps < 1:
        raise ValueError(f"steps: expected a positive integer, got {steps}")
    if clip is not None and not clip > 0:
        raise ValueError(f"clip: expected a positive number or None, got {clip}")
    layer_class, cell_class = CELLS[cell]
    data = np.random.default_rng(seed)
    x = data.standard_normal((steps, batch, input_size))
    labels = (x[0, :, 0] > 0).astype(np.int64)

    # The initial weights of a one-layer network, as the full layer draws them.
    layer = layer_class(input_size, hidden_size, dtype=np.float64, rng=seed)
    weights = {name.removesuffix("_l0"): value for name, value in layer.params.items()}
    weights["weight_hh"] *= recurrent_gain
    if cell in KEEP_GATE:
        gate = KEEP_GATE[cell]
        weights["bias_ih"][gate * hidden_size : (gate + 1) * hidden_size] += keep_bias

    # One cell per step, all reading the same weights (each keeps its own step's cache).
    cells = []
    for _ in range(steps):
        step = cell_class(input_size, hidden_size, dtype=np.float64)
        step.params = weights
        step.grads = {name: np.zeros_like(value) for name, value in weights.items()}
        cells.append(step)
    state = None
    for t in range(steps):
        state = cells[t].forward(x[t], state)

    readout = Linear(hidden_size, 2, dtype=np.float64, rng=seed + 1)
    last_h = state[0] if cell == "lstm" else state
    _, grad_logits = softmax_cross_entropy(readout.forward(last_h), labels)
    grad_h = readout.backward(grad_logits)
    grad = (grad_h, np.zeros_like(grad_h)) if cell == "lstm" else grad_h

    norms = np.empty(steps + 1)  # h_T (distance 0) back to the initial state h_0
    for distance in range(steps + 1):
        parts = grad if cell == "lstm" else (grad,)
        norm = float(np.sqrt(sum(np.sum(part**2) for part in parts)))
        if clip is not None and norm > clip:
            parts = tuple(part * (clip / norm) for part in parts)
            grad = parts if cell == "lstm" else parts[0]
            norm = clip
        norms[distance] = norm
        if distance < steps:
            _, grad = cells[steps - 1 - distance].backward(grad)
    return GradientFlow(cell, norms, recurrent_gain, keep_bias, clip)


def compare_cells(
    cells: Sequence[str] = ("rnn", "lstm", "gru"), clip: float | None = None, **options
) -> list[GradientFlow]:
    """``gradient_flow`` for each of CELLS on the same task and seed, without clipping and,
    if CLIP is given, with it too."""
    flows = [gradient_flow(cell, **options) for cell in cells]
    if clip is not None:
        flows += [gradient_flow(cell, clip=clip, **options) for cell in cells]
    return flows


def plot_gradient_flow(
    panels: Sequence[tuple[str, Sequence[GradientFlow]]], path: str | os.PathLike[str]
) -> None:
    """Draw each panel's curves (log scale) side by side into PATH (``save_figure``).

    PANELS is a list of ``(title, flows)``; matplotlib must be installed (``[plot]``).
    """
    plt = pyplot("the gradient-flow figure")
    figure, axes = plt.subplots(
        1, len(panels), figsize=(5.5 * len(panels), 4.2), dpi=100, squeeze=False
    )
    colours = {"rnn": "tab:red", "lstm": "tab:blue", "gru": "tab:green"}
    for ax, (title, flows) in zip(axes[0], panels, strict=True):
        for flow in flows:
            ax.semilogy(
                np.arange(len(flow.norms)),
                flow.norms,
                color=colours[flow.cell],
                linestyle="--" if flow.clip is not None else "-",
                label=flow.label,
            )
        ax.set_title(title)
        ax.set_xlabel("distance from the loss (steps)")
        ax.set_ylabel("||dL/dh_t||")
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize="small")
    figure.tight_layout()
    save_figure(figure, path)
