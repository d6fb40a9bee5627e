"""``rnnkit eval``: measure a trained model on held-out data (the classifier's part is in
``evaluate_classifier``)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from rnnkit.cli import (
    evaluate_classifier,
    evaluate_forecast,
    evaluate_generate,
    evaluate_seq2seq,
    evaluate_tagger,
)
from rnnkit.cli.arguments import (
    add_json_flag,
    add_model_command,
    add_part_arguments,
    mark_task_flags,
    positive_int,
    run_part,
)
from rnnkit.data.text_stream import TextStream
from rnnkit.data.token_cache import token_ids, unknown_flags
from rnnkit.train.lm_evaluation import describe_measures, describe_unknown, evaluation_report
from rnnkit.train.tasks.language_model import LanguageModelRun, load_language_model

NAME = "eval"
HELP = "measure a trained model on held-out data"
DESCRIPTION = (
    "Measure a trained model on data: a language model's mean loss on a "
    "text (nats per token) with bits per character (char and jamo models) or perplexity "
    "(word models); a classifier's accuracy, macro-F1 and confusion matrix; a "
    "sequence-to-sequence model's exact match, token accuracy, token error rate (PER, CER "
    "or WER) and, for word targets, BLEU; a tagger's token accuracy, per-tag figures and "
    "confusion matrix; a forecaster's backtest against naive baselines; a conditioned "
    "generator's bits per character, each text under its own condition. A flag for "
    "another task's runs than DIR's is refused."
)
# The module that evaluates each task's runs but the language model's (``run_language_model``).
PARTS = {
    "classify": evaluate_classifier,
    "seq2seq": evaluate_seq2seq,
    "tag": evaluate_tagger,
    "forecast": evaluate_forecast,
    "generate": evaluate_generate,
}


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = add_model_command(subparsers, NAME, HELP, DESCRIPTION)
    parser.add_argument(
        "--data",
        metavar="PATH",
        required=True,
        help="a text file or a folder of them (language models); labelled examples "
        "(classifiers); source and target pairs (seq2seq); tagged sentences (taggers); the "
        "CSV of the series (forecasters); texts under their conditions (generators)",
    )
    parser.add_argument(
        "--encoding",
        help="the text's encoding (default: the training data's, as saved in the run)",
    )
    max_tokens = parser.add_argument(
        "--max-tokens",
        type=positive_int,
        metavar="N",
        help="language models: score about N tokens, the first steps of every stream read "
        "across the text (default: the whole text)",
    )
    add_json_flag(
        parser,
        "print one JSON object: for a language model loss, bits_per_char or perplexity, "
        "tokens, characters (char and jamo models), unknown_tokens, unknown_rate, comparable "
        "(false when over 5%% of the tokens are unknown) with a note saying why; for a "
        "classifier accuracy (a fraction), balanced_accuracy, macro_f1, examples, per_class "
        "(precision, recall, f1, support), labels, confusion (rows: true class) and loss; for "
        "other tasks the figures of their text report",
    )
    add_part_arguments(parser, PARTS)
    mark_task_flags(parser, "lm", [max_tokens])
    return parser


def data_encoding(args: argparse.Namespace, config: LanguageModelRun) -> str:
    """``--encoding`` if given, else the encoding the run was trained with.

    A model trained on Latin-1 files is most likely measured on Latin-1 files too, so
    the flag need not be repeated.
    """
    if args.encoding is not None:
        return args.encoding
    return config.data.encoding


def run(args: argparse.Namespace) -> int:
    return run_part(args, PARTS, run_language_model)


def run_language_model(args: argparse.Namespace, folder: Path, task: str) -> int:
    """Evaluate the language model in FOLDER (a run of another TASK is refused)."""
    model, tokenizer, config = load_language_model(folder)
    # The text is read in chunks into the token cache, as training reads it: a text of
    # any size is measured with the memory of one window.
    text = TextStream(args.data, data_encoding(args, config))
    ids, unknown = token_ids(text, tokenizer), unknown_flags(text, tokenizer)
    settings = config.training
    report = evaluation_report(
        model, tokenizer, ids, settings.batch_size, settings.seq_len, args.max_tokens, unknown
    )
    if args.json:
        print(json.dumps(report))
    else:
        print(
            f"{folder} on {args.data}: {describe_measures(report)} over {describe_size(report)}, "
            f"{describe_unknown(report)}"
        )
        if "note" in report:
            print(f"rnnkit: note: {report['note']}", file=sys.stderr)
    return 0


def describe_size(report: dict[str, float]) -> str:
    """E.g. ``"1,200 tokens"``, or ``"1,200 tokens (480 characters)"`` for a jamo model."""
    size = f"{report['tokens']:,} tokens"
    if report.get("characters", report["tokens"]) != report["tokens"]:
        size += f" ({report['characters']:,} characters)"
    return size
