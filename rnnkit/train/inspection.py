"""Inside a trained language model: what its units and gates do over a text.

``trace`` runs a ``LanguageModel`` over a text and keeps, for every layer and every
character, the hidden state ``h``, the LSTM's memory ``c`` and its gates (input, forget,
output; for a GRU reset and update). ``text_features`` describes each character by
features a person can read (inside quotes, position in the line, bracket depth), and
``rank_units`` lists the units whose activation follows each feature most closely
(Pearson correlation), the search for interpretable cells of Karpathy, Johnson and
Fei-Fei, "Visualizing and understanding recurrent networks" (2015). ``plot_inspection``
draws heatmaps of chosen units and gates over the characters; ``html_page`` colours the
text by one unit's activation.

The trace recomputes each layer from its own weights in float64 (a one-layer ``LSTM``,
``GRU`` or ``RNN`` from ``rnnkit.nn`` with the layer's parameters), then the gates from
each step's input and previous state with the cell's equations::

    LSTM  [i, f, g, o] = [sigmoid, sigmoid, tanh, sigmoid](W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)
          c_t = f * c_{t-1} + i * g
    GRU   [r, z] = sigmoid(W_i[rz] x_t + b_i[rz] + W_h[rz] h_{t-1} + b_h[rz])
"""

from __future__ import annotations

import html
import os
from dataclasses import dataclass, field

import numpy as np

from rnnkit.models.language_model import LanguageModel
from rnnkit.nn.recurrent import parameter_names
from rnnkit.train.figures import pyplot, save_figure

FEATURES = ("inside quotes", "position in line", "bracket depth")
GATE_NAMES = {"lstm": ("input", "forget", "output"), "gru": ("reset", "update"), "rnn": ()}
OPENING, CLOSING = "([{", ")]}"


@dataclass
class LayerTrace:
    """One layer's activations over the text, each ``(T, hidden_size)``."""

    hidden: np.ndarray
    cell: np.ndarray | None = None  # the LSTM's memory c
    gates: dict[str, np.ndarray] = field(default_factory=dict)

    def states(self) -> dict[str, np.ndarray]:
        """The activations a unit can be ranked by: ``hidden``, and ``cell`` for an LSTM."""
        return {"hidden": self.hidden} | ({} if self.cell is None else {"cell": self.cell})


@dataclass
class UnitScore:
    """How closely one unit's activation follows a feature."""

    layer: int
    unit: int
    state: str  # "hidden" or "cell"
    correlation: float

    @property
    def name(self) -> str:
        return f"layer {self.layer} {self.state} unit {self.unit}"


def _sigmoid(a: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * a))


def trace(model: LanguageModel, ids: np.ndarray) -> list[LayerTrace]:
    """Every layer's activations while MODEL reads the token IDS (one sequence)."""
    ids = np.asarray(ids, dtype=np.int64).ravel()
    if ids.size == 0:
        raise ValueError("ids: expected at least one token")
    rnn = model.rnn
    x = model.embedding.params["weight"][ids].astype(np.float64)
    layers = []
    for layer in range(rnn.num_layers):
        names = parameter_names(layer, False, True)
        weight_ih, weight_hh, bias_ih, bias_hh = (
            rnn.params[name].astype(np.float64) for name in names
        )
        single = type(rnn)(x.shape[1], rnn.hidden_size, dtype=np.float64).eval()
        single.load_state_dict(
            dict(
                zip(
                    parameter_names(0, False, True),
                    (weight_ih, weight_hh, bias_ih, bias_hh),
                    strict=True,
                )
            )
        )
        output, _ = single.forward(x[:, None, :])
        hidden = output[:, 0]
        previous = np.vstack([np.zeros((1, rnn.hidden_size)), hidden[:-1]])
        pre = x @ weight_ih.T + bias_ih + previous @ weight_hh.T + bias_hh
        layers.append(_gates(model.cell, hidden, pre))
        x = hidden
    return layers


def _gates(cell: str, hidden: np.ndarray, pre: np.ndarray) -> LayerTrace:
    if cell == "rnn":
        return LayerTrace(hidden)
    if cell == "gru":
        r, z, _ = np.split(pre, 3, axis=1)  # n needs r * (W_hn h + b_hn): not shown
        return LayerTrace(hidden, gates={"reset": _sigmoid(r), "update": _sigmoid(z)})
    a_i, a_f, a_g, a_o = np.split(pre, 4, axis=1)
    i, f, g, o = _sigmoid(a_i), _sigmoid(a_f), np.tanh(a_g), _sigmoid(a_o)
    memory = np.empty_like(hidden)
    c = np.zeros(hidden.shape[1])
    for t in range(len(hidden)):
        c = f[t] * c + i[t] * g[t]
        memory[t] = c
    return LayerTrace(hidden, memory, {"input": i, "forget": f, "output": o})


def text_features(text: str) -> dict[str, np.ndarray]:
    """For each character of TEXT (its state after reading it): whether it is inside double
    quotes (the opening quote counts as inside, the closing one as outside), its position in
    its line (0 at the first character after a newline) and the bracket depth of ``([{``.

    On a text of one line the position is all 0: there it is the time itself, which any unit
    that drifts follows (|r| near 1), so it would rank units for nothing."""
    inside, position, depth = (np.zeros(len(text)) for _ in range(3))
    quoted, column, level = False, 0, 0
    for index, char in enumerate(text):
        if char == '"':
            quoted = not quoted
        if char in OPENING:
            level += 1
        elif char in CLOSING:
            level = max(0, level - 1)
        inside[index], position[index], depth[index] = quoted, column, level
        column = 0 if char == "\n" else column + 1
    if "\n" not in text[:-1]:  # the position never returns to 0
        position[:] = 0
    return dict(zip(FEATURES, (inside, position, depth), strict=True))


def correlations(activations: np.ndarray, feature: np.ndarray) -> np.ndarray:
    """Pearson correlation of each column of ACTIVATIONS ``(T, H)`` with FEATURE ``(T,)``;
    0 for a column (or a feature) that does not vary."""
    a = activations - activations.mean(axis=0)
    f = feature - feature.mean()
    denominator = np.sqrt((a**2).sum(axis=0) * (f**2).sum())
    with np.errstate(invalid="ignore", divide="ignore"):
        r = (a * f[:, None]).sum(axis=0) / denominator
    return np.where(denominator > 1e-12, r, 0.0)


def rank_units(
    layers: list[LayerTrace], features: dict[str, np.ndarray], top: int = 5
) -> dict[str, list[UnitScore]]:
    """For each feature that varies over the text, the TOP units by |correlation|."""
    ranking = {}
    for name, feature in features.items():
        if np.ptp(feature) == 0:
            continue  # e.g. no quote in the text: nothing to follow
        scores = [
            UnitScore(layer, unit, state, float(r))
            for layer, trace_ in enumerate(layers)
            for state, values in trace_.states().items()
            for unit, r in enumerate(correlations(values, feature))
        ]
        scores.sort(key=lambda score: -abs(score.correlation))
        ranking[name] = scores[:top]
    return ranking


def plot_inspection(
    text: str,
    layer: LayerTrace,
    units: list[int],
    path: str | os.PathLike[str],
    title: str = "",
) -> None:
    """Heatmaps over the characters of TEXT: the chosen UNITS' hidden state, then (LSTM,
    GRU) each gate of the same units, one panel each; written to PATH (``save_figure``)."""
    plt = pyplot("the inspection figure")
    panels = [("hidden state h", layer.hidden, (-1, 1), "RdBu_r")]
    if layer.cell is not None:
        panels.append(("memory tanh(c)", np.tanh(layer.cell), (-1, 1), "RdBu_r"))
    panels += [(f"{name} gate", values, (0, 1), "viridis") for name, values in layer.gates.items()]
    width = min(40.0, 2.5 + 0.16 * len(text))
    height = 1.0 + len(panels) * (0.45 + 0.22 * len(units))
    figure, axes = plt.subplots(len(panels), 1, figsize=(width, height), dpi=100, squeeze=False)
    labels = [{"\n": "⏎", " ": "␣", "\t": "⇥"}.get(char, char) for char in text]
    for ax, (name, values, limits, colours) in zip(axes[:, 0], panels, strict=True):
        image = ax.imshow(
            values[:, units].T,
            aspect="auto",
            cmap=colours,
            vmin=limits[0],
            vmax=limits[1],
            interpolation="nearest",
        )
        ax.set_yticks(range(len(units)), [f"unit {u}" for u in units], fontsize="small")
        ax.set_xticks(range(len(text)), labels, fontsize="small", family="monospace")
        ax.set_title(name, fontsize="medium", loc="left")
        figure.colorbar(image, ax=ax, pad=0.01, fraction=0.02)
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    save_figure(figure, path)


def html_page(text: str, activation: np.ndarray, title: str) -> str:
    """A self-contained HTML page showing TEXT with each character's background coloured by
    ACTIVATION ``(T,)`` in [-1, 1]: blue negative, white 0, red positive."""
    spans = []
    for char, value in zip(text, np.clip(activation, -1.0, 1.0), strict=True):
        shade = int(round(255 * (1 - abs(value))))
        colour = f"rgb(255,{shade},{shade})" if value > 0 else f"rgb({shade},{shade},255)"
        shown = html.escape(char) if char != "\n" else "⏎\n"
        spans.append(f'<span style="background:{colour}" title="{value:+.3f}">{shown}</span>')
    heading = html.escape(title)
    style = (
        "body { font-family: sans-serif; margin: 2em; }\n"
        "pre { font-family: monospace; font-size: 15px; line-height: 1.5; "
        "white-space: pre-wrap; }\n"
    )
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{heading}</title>\n<style>\n{style}</style>\n</head>\n<body>\n"
        f"<h1>{heading}</h1>\n<p>Blue: negative, white: 0, red: positive; hover a character "
        f"for its value.</p>\n<pre>{''.join(spans)}</pre>\n</body>\n</html>\n"
    )
