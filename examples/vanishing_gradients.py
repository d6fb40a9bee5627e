"""Vanishing and exploding gradients: ||dL/dh_t|| against the distance from the loss.

The figure every RNN chapter draws, computed from rnnkit's own backward pass. A loss at the
last of 60 steps of random inputs (its label lies at the first step), a vanilla RNN, an
LSTM and a GRU with the same task and initialisation: how much gradient reaches each step
back? (See ``rnnkit.train.gradient_flow`` for the details.)

- Left: PyTorch's initialisation. The RNN's gradient shrinks by a constant factor per step
  and is gone, by many orders of magnitude, 50 steps back: it cannot learn what happened
  there. The LSTM's memory cell and the GRU's update gate pass it on, their keep gates
  opened by a bias of +3 at the start, as is usual.
- Right: the recurrent weights three times larger. Now the RNN's gradient grows instead
  (exploding); clipping each step's gradient to a norm of 1 (dashed) caps it. Clipping
  cannot bring back a gradient that has vanished.

    python examples/vanishing_gradients.py --png gradients.png
"""

from __future__ import annotations

import argparse

from rnnkit.ctrl_c import stop_quietly_on_ctrl_c
from rnnkit.errors import UserError
from rnnkit.train.figures import pyplot
from rnnkit.train.gradient_flow import compare_cells, gradient_flow, plot_gradient_flow

DISTANCES = (0, 10, 25, 50)


def show(title: str, flows) -> None:
    print(f"\n{title}: ||dL/dh_t|| at distances {', '.join(map(str, DISTANCES))} from the loss")
    for flow in flows:
        values = "  ".join(f"{flow.norms[d]:9.2e}" for d in DISTANCES)
        print(f"  {flow.label:<18} {values}   50 steps back: x{flow.ratio(50):.1e}")


def run(steps: int = 60, png: str | None = None, clip: float = 1.0) -> dict[str, list]:
    """Measure both panels, print them, draw them into PNG if given; return the flows."""
    panels = {
        "PyTorch's initialisation": compare_cells(steps=steps, clip=clip),
        "recurrent weights x3": compare_cells(steps=steps, clip=clip, recurrent_gain=3.0),
    }
    for title, flows in panels.items():
        show(title, flows)
    closed = gradient_flow("lstm", steps=steps, keep_bias=0.0)
    print(
        f"\n(an LSTM whose forget gate starts half open, keep_bias=0, keeps only "
        f"x{closed.ratio(50):.1e} of its gradient 50 steps back)"
    )
    if png:
        plot_gradient_flow(list(panels.items()), png)
        print(f"figure: {png}")
    return panels


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=60, help="the sequence length (50 or more)")
    parser.add_argument("--png", help="draw both panels into this file (needs matplotlib)")
    args = parser.parse_args()
    if args.steps < DISTANCES[-1]:  # the table reads the gradient 50 steps back
        parser.exit(
            2,
            f"vanishing_gradients.py: --steps must be {DISTANCES[-1]} or more, got {args.steps}\n",
        )
    if args.png:
        try:  # before measuring, not after it
            pyplot("--png")
        except UserError as error:
            parser.exit(2, f"vanishing_gradients.py: {error}\n")
    print("How much of the gradient of a loss at the last step reaches each step back?")
    panels = run(args.steps, args.png)
    rnn, lstm = panels["PyTorch's initialisation"][:2]
    print(
        f"\n50 steps back the RNN keeps x{rnn.ratio(50):.0e} of its gradient, "
        f"the LSTM x{lstm.ratio(50):.2f}: the RNN's has vanished, the LSTM's has not."
    )
    if not args.png:
        print("(--png FILE draws the two panels)")


if __name__ == "__main__":
    stop_quietly_on_ctrl_c(main)
