"""``rnnkit eval``: measure a trained language model on a text."""

from __future__ import annotations

import argparse
import json

from rnnkit.cli import evaluate_classifier
from rnnkit.cli.arguments import add_model_folder_argument
from rnnkit.data.text import read_text
from rnnkit.train.lm_checkpoint import load_language_model, model_folder
from rnnkit.train.lm_evaluation import describe_loss, evaluate_language_model, loss_measures

NAME = "eval"


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        NAME,
        help="measure a trained language model on a text",
        description="Print the model's mean loss on a text (nats per token), with bits per "
        "character (char and jamo models) or perplexity (word models).",
    )
    add_model_folder_argument(parser)
    parser.add_argument(
        "--data", metavar="PATH", required=True, help="a text file, or a folder of them"
    )
    parser.add_argument("--encoding", default="utf-8", help="the text's encoding (default utf-8)")
    parser.add_argument(
        "--json",
        action="store_true",
        help="print one JSON object: loss, bits_per_char or perplexity, tokens",
    )
    evaluate_classifier.add_arguments(parser)
    return parser


def run(args: argparse.Namespace) -> int:
    folder = model_folder(args.folder)
    if evaluate_classifier.holds_classifier(folder):
        return evaluate_classifier.run(args, folder)
    model, tokenizer, config = load_language_model(folder)
    ids = tokenizer.encode(read_text(args.data, args.encoding))
    settings = config["settings"]
    loss, tokens = evaluate_language_model(model, ids, settings["batch_size"], settings["seq_len"])
    if args.json:
        print(json.dumps({**loss_measures(loss, tokenizer.kind), "tokens": tokens}))
    else:
        print(
            f"{folder} on {args.data}: {describe_loss(loss, tokenizer.kind)} over {tokens:,} tokens"
        )
    return 0
