"""The sequence-to-sequence half of ``rnnkit eval``: how well a trained encoder-decoder
transduces held-out pairs.

``rnnkit eval`` (``rnnkit.cli.evaluate``) adds these flags to its parser and hands a run
folder that holds a seq2seq model to ``run``. The pairs are read as in training (the same
format and encoding unless ``--pair-format`` or ``--encoding`` say otherwise); each distinct
source is decoded once (greedy, or ``--beam K``; outputs cut at ``--max-length-ratio`` times
the source's length, default the run's) and its best output scored against all of
its targets (``rnnkit.train.seq2seq_metrics``): exact match (right if equal to any
reference, the G2P protocol for a word with several pronunciations), token accuracy, token
error rate (PER for phonemes, CER for characters, WER for words) and, for word targets,
sacreBLEU's corpus BLEU. Source tokens never seen in training are read as ``<unk>`` and
counted in a note. ``--ensemble RUN`` (repeatable) decodes with more runs' models as one
(``rnnkit.cli.ensemble``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from rnnkit.cli.arguments import non_negative_float, positive_int, read_as_in_training
from rnnkit.cli.ensemble import add_ensemble_flag, load_models
from rnnkit.cli.predict_seq2seq import add_max_length_flag
from rnnkit.data.parallel import FORMATS, MalformedLineError, UnclearFormatError, read_parallel
from rnnkit.data.parallel_batches import split_tokens
from rnnkit.errors import UserError
from rnnkit.plural import counted, were
from rnnkit.train.seq2seq_metrics import missing_scores
from rnnkit.train.tasks.seq2seq import cut_note, evaluate_pairs

ERROR_RATES = {"char": "CER", "word": "WER"}  # dictionary targets: PER


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(
        "sequence-to-sequence models",
        "for a run of rnnkit train --task seq2seq (defaults: as in training)",
    )
    group.add_argument(
        "--pair-format", choices=FORMATS, help="the pairs' format (tsv, dlfs2, dictionary)"
    )
    group.add_argument(
        "--beam", type=positive_int, default=1, metavar="K", help="beam width (default 1: greedy)"
    )
    add_ensemble_flag(group)
    group.add_argument(
        "--alpha",
        type=non_negative_float,
        default=0.0,
        help="beam search's length penalty exponent (default 0)",
    )
    add_max_length_flag(group)


def error_rate_name(format: str, target_tokens: str, sources: list[str]) -> str:
    """PER for a pronouncing dictionary (given, or ``auto`` with one-word sources and
    word targets, as training reads it), else CER or WER by the target's tokens."""
    single_words = all(" " not in s for s in sources[:100])
    if format == "dictionary" or (format == "auto" and target_tokens == "word" and single_words):
        return "PER"
    return ERROR_RATES[target_tokens]


def run(args: argparse.Namespace, folder: Path) -> int:
    """Evaluate the seq2seq model in FOLDER on the pairs of ``args.data``."""
    trained = load_models(folder, args)
    saved = trained.config.data
    format = args.pair_format or saved.format
    try:
        examples = read_parallel(args.data, format, args.encoding or saved.encoding)
    except UnclearFormatError as error:
        raise UserError(
            f"{error.finding}; fix the odd line, or give --pair-format tsv, dlfs2 or dictionary"
        ) from None
    except MalformedLineError as error:
        if args.pair_format or format == "auto":
            raise
        raise MalformedLineError(
            read_as_in_training(error, format, "pairs", "--pair-format")
        ) from None
    source_kind, target_kind = trained.tokenizations
    unknown = trained.source.unknown(
        t for s in examples.sources for t in split_tokens(s, source_kind)
    )
    cutting = cut_note(trained, list(dict.fromkeys(examples.sources)))
    scores = evaluate_pairs(trained, examples, args.beam, args.alpha, None, args.max_length_ratio)
    rate = error_rate_name(format, target_kind, examples.sources)
    report = {
        **scores,
        "sequence_error_rate": 1.0 - scores["exact_match"],
        "error_rate_name": rate,
        "pairs": len(examples),
        "unknown_source_tokens": len(unknown),
    }
    if args.json:
        print(json.dumps(report))
    else:
        figures = [f"exact match {scores['exact_match']:.2%}"]
        if "token_accuracy" in scores:
            figures.append(f"token accuracy {scores['token_accuracy']:.2%}")
            figures.append(f"token error rate ({rate}) {scores['token_error_rate']:.2%}")
        if "bleu" in scores:
            figures.append(f"BLEU {scores['bleu']:.2f}")
        print(
            f"{folder} on {args.data}: {', '.join(figures)} over {scores['sources']:,} "
            f"sources ({len(examples):,} pairs)"
        )
    missing = missing_scores(bleu=target_kind == "word")
    if missing:
        print(f"rnnkit: note: {missing}", file=sys.stderr)
    if cutting:
        print(f"rnnkit: note: {cutting}", file=sys.stderr)
    if unknown:
        print(
            f"rnnkit: note: {counted(len(unknown), 'distinct source token')} not seen in "
            f"training {were(len(unknown))} read as <unk>",
            file=sys.stderr,
        )
    return 0
