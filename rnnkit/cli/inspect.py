"""``rnnkit inspect DIR --text TEXT``: what a character language model's units and gates do.

Prints, for each readable feature of the text (inside quotes, position in line, bracket
depth), the units whose activation follows it most closely; ``--png`` draws heatmaps of
chosen units and of the LSTM's gates over the characters, and ``--html`` writes a page
with the text coloured by one unit's activation (see ``rnnkit.train.inspection``).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from rnnkit.atomic import check_writable, write_atomic
from rnnkit.cli.arguments import add_json_flag, add_model_command, positive_int
from rnnkit.data.text import read_text
from rnnkit.errors import UserError
from rnnkit.plural import counted
from rnnkit.train.figures import pyplot
from rnnkit.train.inspection import (
    html_page,
    plot_inspection,
    rank_units,
    text_features,
    trace,
)
from rnnkit.train.run_config import model_folder
from rnnkit.train.tasks.language_model import load_language_model

NAME = "inspect"
HELP = "show what a character language model's units and gates do over a text"
DESCRIPTION = (
    "Run a trained character language model over a text; rank its units by "
    "how closely they follow readable features (inside quotes, position in line, bracket "
    "depth), draw heatmaps of units and gates (--png) and colour the text by one unit "
    "(--html)."
)
DEFAULT_UNITS = 8  # units drawn when --units is not given


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = add_model_command(subparsers, NAME, HELP, DESCRIPTION)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--text", help="the text to read")
    source.add_argument("--text-file", metavar="PATH", help="read the text from a file")
    parser.add_argument(
        "--png", metavar="PATH", help="write heatmaps of units and gates here (needs matplotlib)"
    )
    parser.add_argument("--html", metavar="PATH", help="write the text coloured by a unit here")
    parser.add_argument(
        "--layer", type=int, metavar="L", help="the layer to draw (default: the last)"
    )
    parser.add_argument(
        "--units",
        metavar="U,U,...",
        help=f"units to draw (default: the best-ranked, then the most active, {DEFAULT_UNITS})",
    )
    parser.add_argument(
        "--unit",
        type=int,
        metavar="U",
        help="the unit --html colours by, in --layer (default: the best-ranked unit)",
    )
    parser.add_argument(
        "--top", type=positive_int, default=5, help="units listed per feature (default 5)"
    )
    add_json_flag(parser, "print the ranking as JSON")
    return parser


def run(args: argparse.Namespace) -> int:
    text = args.text if args.text is not None else read_text(args.text_file)
    if not text:
        raise UserError("the text is empty; give some characters to read")
    for output in (args.png, args.html):
        if output:
            check_writable(output)  # told before the ranking is printed, not after
    if args.png:
        pyplot("--png")  # matplotlib missing: said before the ranking too
    model, tokenizer, _ = load_language_model(model_folder(args.folder))
    if tokenizer.kind != "char":
        raise UserError(
            f"{args.folder} holds a model of {tokenizer.kind} tokens; inspect reads a "
            "character language model"
        )
    layers = trace(model, tokenizer.encode(text))
    layer = len(layers) - 1 if args.layer is None else args.layer
    if not 0 <= layer < len(layers):
        raise UserError(f"--layer {layer}: the model has layers 0 to {len(layers) - 1}")
    ranking = rank_units(layers, text_features(text), args.top)
    units = chosen_units(args.units, ranking, layers[layer], layer, model.hidden_size)
    shown = html_unit(args.unit, ranking, layers, layer, model.hidden_size) if args.html else None

    if args.json:
        print(json.dumps(ranking_record(ranking)))
    else:
        print_ranking(ranking, len(text))
    if args.png:
        title = f"{Path(args.folder).name}: layer {layer}, units {', '.join(map(str, units))}"
        plot_inspection(text, layers[layer], units, args.png, title)
        if not args.json:
            print(f"heatmaps: {args.png}")
    if shown is not None:
        state, unit, layer_shown = shown
        values = layers[layer_shown].states()[state][:, unit]
        if state == "cell":
            values = np.tanh(values)
        title = f"layer {layer_shown} {state} unit {unit}"
        write_atomic(args.html, html_page(text, values, title).encode("utf-8"))
        if not args.json:
            print(f"text coloured by {title}: {args.html}")
    return 0


def chosen_units(spec, ranking, layer_trace, layer: int, hidden_size: int) -> list[int]:
    """The units of --units, or the best-ranked of LAYER, then its most active ones."""
    if spec is not None:
        try:
            units = [int(part) for part in spec.split(",") if part.strip()]
        except ValueError:
            raise UserError(f"--units {spec}: expected unit numbers separated by commas") from None
        bad = [unit for unit in units if not 0 <= unit < hidden_size]
        if not units or bad:
            raise UserError(
                f"--units {spec}: expected units from 0 to {hidden_size - 1} separated by commas"
            )
        return units
    units = []
    for scores in ranking.values():
        for score in scores:
            if score.layer == layer and score.unit not in units:
                units.append(score.unit)
                break
    for unit in np.argsort(-layer_trace.hidden.std(axis=0)):
        if len(units) >= min(DEFAULT_UNITS, hidden_size):
            break
        if int(unit) not in units:
            units.append(int(unit))
    return units


def html_unit(unit, ranking, layers, layer: int, hidden_size: int) -> tuple[str, int, int]:
    """``(state, unit, layer)`` that --html colours by."""
    if unit is not None:
        if not 0 <= unit < hidden_size:
            raise UserError(f"--unit {unit}: expected a unit from 0 to {hidden_size - 1}")
        return ("cell" if layers[layer].cell is not None else "hidden"), unit, layer
    best = [scores[0] for scores in ranking.values() if scores]
    if not best:
        return "hidden", int(np.argmax(layers[layer].hidden.std(axis=0))), layer
    return best[0].state, best[0].unit, best[0].layer


def print_ranking(ranking, length: int) -> None:
    if not ranking:
        print(
            f"the text ({counted(length, 'character')}) has no quotes, lines or brackets to follow"
        )
    for feature, scores in ranking.items():
        listed = ", ".join(f"{s.name} (r={s.correlation:+.2f})" for s in scores)
        print(f"{feature}: {listed}")


def ranking_record(ranking) -> dict:
    return {
        feature: [
            {"layer": s.layer, "unit": s.unit, "state": s.state, "correlation": s.correlation}
            for s in scores
        ]
        for feature, scores in ranking.items()
    }
