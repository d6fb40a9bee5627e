"""The sequence-to-sequence half of ``rnnkit predict``: transduce texts with a trained
encoder-decoder, greedily or with beam search.

``rnnkit predict`` (``rnnkit.cli.predict``) adds these flags to its parser and hands a run
folder that holds a seq2seq model to ``run``. Texts come from the command line, from
``--input FILE`` (one per line) or else from the lines of stdin. Each text gets its
``--nbest`` outputs, best first, one line each: ``<output><TAB><score><TAB><text>`` (the
score is the log-probability divided by the length penalty, ``rnnkit.models.beam_search``);
with ``--json`` one object per text with every output's text, score, log-probability and
whether it ended with the end token (else it was cut at the length limit).

Behaviour on odd input: a blank text (or blank line) gets a note on stderr naming it and an
empty answer (a blank line, or with ``--json`` a record with no outputs), so the answers
keep the order of the texts (``--nbest`` lines a text), as the classifier's and the
tagger's do; a word-level source is raw text split as the training sources were
(``rnnkit.data.word_split``; with ``--pretokenized`` at whitespace alone); source tokens
never seen in training are read as ``<unk>``, said once on stderr for the whole call;
``--beam`` and ``--nbest`` must be positive, ``--nbest`` at most ``--beam`` (without
``--beam`` the beam is as wide as ``--nbest``). ``--max-length-ratio R``
cuts outputs at R times their source's length (default: the run's); a note on stderr counts
the texts whose best output reached that limit unfinished. ``--plot-attention FILE`` draws
the best output's attention over the source (one file per text: ``out-2.png`` for the
second, ...; none for a blank text; a PNG, or PDF or SVG for a name that ends so:
``rnnkit.train.figures``); it needs a model with attention. Files that cannot be written
(their folder missing, a file on the way, a folder of that name) are one-line errors
before any text is transduced; a picture that still cannot be drawn is a note, never a
failed prediction. ``--ensemble RUN`` (repeatable) decodes with more runs' models as one
(``rnnkit.cli.ensemble``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from rnnkit.atomic import check_writable
from rnnkit.cli.arguments import add_png_flag, non_negative_float, positive_float, positive_int
from rnnkit.cli.ensemble import add_ensemble_flag, load_models
from rnnkit.cli.inputs import check_pretokenized, input_texts
from rnnkit.data.parallel_batches import split_tokens
from rnnkit.data.word_split import split_words
from rnnkit.errors import UserError
from rnnkit.plural import counted, some_of, were
from rnnkit.train.figures import pyplot, save_figure
from rnnkit.train.seq2seq_trainer import MOST_RATIO
from rnnkit.train.tasks.seq2seq import TrainedSeq2Seq, cut_note, transduce

MOST_UNKNOWN_SHOWN = 10


SHARED_FLAGS = ("pretokenized",)  # the taggers' flag: word-level sources read it too


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(
        "sequence-to-sequence models", "for a run of rnnkit train --task seq2seq"
    )
    group.add_argument(
        "--beam",
        type=positive_int,
        metavar="K",
        help="beam search keeping K hypotheses per text (default: greedy, or --nbest wide)",
    )
    group.add_argument(
        "--nbest",
        type=positive_int,
        default=1,
        metavar="N",
        help="print the N best outputs of each text, best first (N <= K; default 1)",
    )
    group.add_argument(
        "--alpha",
        type=non_negative_float,
        default=0.0,
        help="beam search's length penalty exponent, ((5 + length) / 6) ** alpha (GNMT); "
        "larger favours longer outputs (default 0: plain log-probability)",
    )
    add_max_length_flag(group)
    add_ensemble_flag(group)
    add_png_flag(
        group,
        "--plot-attention",
        "the best output's attention over the source",
        "matplotlib and a model with attention",
        "; several texts: one file each, out-2.png, out-3.png, ... beside out.png",
    )


def add_max_length_flag(group: Any) -> None:
    """``--max-length-ratio R`` in GROUP, an argument group of a parser."""
    group.add_argument(
        "--max-length-ratio",
        type=length_ratio,
        metavar="R",
        help="cut outputs at R times their source's length in tokens (at least one token; "
        f"R up to {MOST_RATIO:g}; default: the run's --max-length-ratio, 3 unless trained "
        "with another)",
    )


def length_ratio(text: str) -> float:
    """``--max-length-ratio``: a positive number up to ``MOST_RATIO``."""
    value = positive_float(text)
    if value > MOST_RATIO:
        raise argparse.ArgumentTypeError(
            f"must be at most {MOST_RATIO:g} (outputs of up to {MOST_RATIO:g} times their "
            f"source), got {text}"
        )
    return value


def read_inputs(args: argparse.Namespace) -> tuple[list[str], list[str]]:
    """``(texts, origins)``: the arguments, the lines of ``--input`` or of stdin (read whole:
    beam search steps every text's hypotheses as rows of one batch)."""
    pairs = list(input_texts(args))
    return [text for _, text in pairs], [origin for origin, _ in pairs]


def beam_width(args: argparse.Namespace) -> int:
    if args.beam is None:
        return args.nbest
    if args.nbest > args.beam:
        raise UserError(f"--nbest {args.nbest} needs --beam of at least {args.nbest}")
    return args.beam


def run(args: argparse.Namespace, folder: Path) -> int:
    """Transduce the texts with the seq2seq model in FOLDER."""
    plot = Path(args.plot_attention) if args.plot_attention else None
    if plot is not None:
        check_writable(plot)
    trained = load_models(folder, args)
    check_pretokenized(args, folder, trained.tokenizations[0] == "word")
    beam = beam_width(args)
    if plot is not None and all(m.attention_kind == "none" for m in trained.models):
        raise UserError(
            f"--plot-attention needs a model with attention; {folder} was trained with "
            "--attention none"
        )
    texts, origins = read_inputs(args)
    read = texts
    if trained.tokenizations[0] == "word" and not args.pretokenized:
        # Raw text read as the training sources were written ("Hello," as Hello ,).
        knows = trained.source.index.__contains__
        read = [" ".join(split_words(text, knows)) if text.strip() else text for text in texts]
    if plot is not None:
        for number in range(2, len(texts) + 1):
            check_writable(picture_path(plot, number))
    outputs, unknown = answer_texts(trained, read, origins, args, beam)
    for text, origin in zip(texts, origins, strict=True):
        if not text.strip():
            print(f"rnnkit: note: {origin} is empty; no output", file=sys.stderr)
    cutting = cut_note(trained, [text for text in read if text.strip()])
    if cutting:
        print(f"rnnkit: note: {cutting}", file=sys.stderr)
    if unknown:
        print(
            f"rnnkit: note: {counted(len(unknown), 'source token')} not seen in training "
            f"{were(len(unknown))} read as <unk>: {some_of(unknown, MOST_UNKNOWN_SHOWN)}",
            file=sys.stderr,
        )
    print_answers(texts, outputs, args.json, args.nbest)
    answered = [answers for answers in outputs if answers]
    unfinished = sum(not answers[0]["finished"] for answers in answered)
    if unfinished:
        print(
            f"rnnkit: note: the best output of {unfinished} of {counted(len(answered), 'text')} "
            "reached the length limit before its end token and may be cut short; a larger "
            "--max-length-ratio lets outputs run longer",
            file=sys.stderr,
        )
    if plot is not None:
        plot_all(trained, read, outputs, plot, args.json, shown=texts)
    return 0


def answer_texts(
    trained: TrainedSeq2Seq,
    texts: list[str],
    origins: list[str],
    args: argparse.Namespace,
    beam: int,
) -> tuple[list[list[dict[str, Any]]], list[str]]:
    """The outputs of each of TEXTS (``transduce``), none for a blank one, so that output i
    stays that of text i; and the source tokens not seen in training."""
    kept = [i for i, text in enumerate(texts) if text.strip()]
    outputs: list[list[dict[str, Any]]] = [[] for _ in texts]
    if not kept:
        return outputs, []
    found, unknown = transduce(
        trained, [texts[i] for i in kept], beam, args.alpha, args.nbest, None,
        [origins[i] for i in kept], args.max_length_ratio,
    )  # fmt: skip
    for i, hypotheses in zip(kept, found, strict=True):
        outputs[i] = hypotheses
    return outputs, unknown


def print_answers(
    texts: list[str], outputs: list[list[dict[str, Any]]], as_json: bool, nbest: int = 1
) -> None:
    """Each text's outputs, one line each (``<output><TAB><score><TAB><text>``), or one JSON
    record per text with AS_JSON; a text without outputs (blank) gets NBEST blank lines, so
    that a reader taking NBEST lines a text stays in step."""
    for text, answers in zip(texts, outputs, strict=True):
        if as_json:
            record = {
                "text": text,
                "outputs": [
                    {key: h[key] for key in ("text", "score", "log_prob", "finished")}
                    for h in answers
                ],
            }
            print(json.dumps(record, ensure_ascii=False))
            continue
        if not answers:
            print("\n" * (nbest - 1))
        for hypothesis in answers:
            print(f"{hypothesis['text']}\t{hypothesis['score']:.4f}\t{text}")


def picture_path(path: Path, number: int) -> Path:
    """The file of the NUMBERth text's attention: PATH for the first, ``out-2.png`` beside
    ``out.png`` for the second, ..."""
    return path if number == 1 else path.with_name(f"{path.stem}-{number}{path.suffix}")


def plot_all(
    trained: TrainedSeq2Seq,
    texts: list[str],
    outputs: list[list[dict[str, Any]]],
    path: Path,
    quiet: bool,
    shown: list[str] | None = None,
) -> None:
    """The attention of each of TEXTS (as the model read them) in its own file; SHOWN, the
    texts as given, name them in the notes (default: TEXTS)."""
    notes = sys.stderr if quiet else sys.stdout
    names = texts if shown is None else shown
    for number, (text, name, found) in enumerate(zip(texts, names, outputs, strict=True), 1):
        if not found:  # a blank text: no attention, and no file in its place
            continue
        target = picture_path(path, number)
        best = found[0]
        try:
            draw_attention(trained, text, best, target)
        except (OSError, UserError) as error:
            reason = getattr(error, "strerror", None) or str(error)
            print(f"rnnkit: note: no attention drawn in {target}: {reason}", file=sys.stderr)
            return
        print(f"attention of {name!r} drawn in {target}", file=notes)


def draw_attention(trained: TrainedSeq2Seq, text: str, output: dict[str, Any], path: Path) -> None:
    """Output tokens (rows, the end token last when the output ended) against source tokens
    (columns), each row an output step's attention weights."""
    plt = pyplot("--plot-attention")
    source_kind = trained.tokenizations[0]
    weights = np.asarray(output["attention"], dtype=np.float64)
    source = split_tokens(text, source_kind)[: weights.shape[1]]
    rows = list(output["tokens"]) + (["</s>"] if output["finished"] else [])
    figure, axes = plt.subplots(
        figsize=(min(2.0 + 0.35 * len(source), 30.0), min(1.5 + 0.35 * len(rows), 30.0))
    )
    axes.imshow(weights[: len(rows)], cmap="Greys", vmin=0.0, vmax=1.0, aspect="auto")
    axes.set_xticks(range(len(source)), [shown(t) for t in source], rotation=90)
    axes.set_yticks(range(len(rows)), [shown(t) for t in rows])
    axes.set_xlabel("source")
    axes.set_ylabel("output")
    axes.set_title(f"attention, score {output['score']:.3f}")
    figure.tight_layout()
    save_figure(figure, path)


def shown(token: str) -> str:
    """A token as a tick label: a space is shown as the open-box sign."""
    return "\u2423" if token == " " else token
