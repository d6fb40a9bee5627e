"""``rnnkit sample``: generate text from a trained language model, streamed to stdout.

Text is printed as it is generated, through the tokenizer's stream decoder: each token
costs the same however long the line, and only the letters of an unfinished Korean
syllable wait for the next token.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TextIO

from rnnkit.cli import sample_generate
from rnnkit.cli.arguments import (
    add_model_command,
    add_part_arguments,
    non_negative_float,
    non_negative_int,
    positive_int,
    run_part,
)
from rnnkit.cli.prime_note import note_unknown_prime
from rnnkit.data.tokenizers import EOS, UNK, Tokenizer
from rnnkit.errors import UserError
from rnnkit.models import LanguageModel
from rnnkit.train.tasks import TASKS, a_run_of
from rnnkit.train.tasks.language_model import load_language_model

NAME = "sample"
HELP = "generate text from a trained language model or conditioned generator"
DESCRIPTION = (
    "Generate text from a trained language model and stream it to stdout; "
    "or texts from a conditioned generator, one a line."
)
# The module that samples each task's runs but the language model's (``run_language_model``).
PARTS = {"generate": sample_generate}


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = add_model_command(subparsers, NAME, HELP, DESCRIPTION)
    parser.add_argument(
        "--length", type=non_negative_int, default=500, help="tokens to generate (default 500)"
    )
    parser.add_argument(
        "--temperature",
        type=non_negative_float,
        default=1.0,
        help="below 1: safer, above 1: wilder, 0: always the most likely token (default 1)",
    )
    parser.add_argument(
        "--top-k", type=positive_int, metavar="K", help="draw only from the K most likely tokens"
    )
    parser.add_argument(
        "--prime", metavar="TEXT", help="text to start from, printed first (default: a new line)"
    )
    parser.add_argument(
        "--seed", type=non_negative_int, metavar="S", help="random seed (default: a fresh one)"
    )
    add_part_arguments(parser, PARTS)
    return parser


def run(args: argparse.Namespace) -> int:
    return run_part(args, PARTS, run_language_model)


def run_language_model(args: argparse.Namespace, folder: Path, task: str) -> int:
    """Stream a sample of the language model in FOLDER (a run of another TASK is refused)."""
    if task != "lm" and task in TASKS:  # a model that answers inputs: what predict does
        raise UserError(
            f"{folder} holds {a_run_of(task)}, which answers inputs rather than generating "
            f"text; use rnnkit predict {folder}"
        )
    model, tokenizer, _ = load_language_model(folder)
    write_sample(model, tokenizer, args.length, args.temperature, args.top_k, args.prime, args.seed)
    return 0


def write_sample(
    model: LanguageModel,
    tokenizer: Tokenizer,
    length: int,
    temperature: float = 1.0,
    top_k: int | None = None,
    prime: str | None = None,
    seed: int | None = None,
    out: TextIO | None = None,
) -> None:
    """Stream PRIME and LENGTH generated tokens to OUT (stdout), ending with a newline."""
    prime_ids, echo = prime_tokens(tokenizer, prime)
    stream = TextStream(tokenizer, out or sys.stdout, prime_ids, echo)
    never = tokenizer.never_sampled
    for token in model.generate(prime_ids, length, temperature, top_k, rng=seed, exclude=never):
        stream.push(token)
    stream.close()


def prime_tokens(tokenizer: Tokenizer, prime: str | None) -> tuple[list[int], bool]:
    """The ids to start from, and whether they are the user's (to be printed).

    Words or characters the model never saw are read as ``<unk>``, with a note.
    """
    if prime:
        note_unknown_prime(tokenizer, prime)
        try:
            ids = list(tokenizer.encode(prime))
        except UserError as error:  # an old character vocabulary, without <unk>
            raise UserError(f"--prime: {error}") from None
        # The word tokenizer ends every line with <eos>; a prime that does not end with a
        # new line is a sentence to continue, not a finished one.
        ends_line = ids[-1:] == [tokenizer.vocab.index(EOS)] if tokenizer.kind == "word" else False
        if ends_line and not prime.endswith("\n"):
            ids.pop()
        if ids:
            return ids, True
    return [start_token(tokenizer)], False


def start_token(tokenizer: Tokenizer) -> int:
    """Without a prime, start as after a line break (or a space, or the first character)."""
    for token in (EOS, "\n", " "):
        if token in tokenizer.vocab:
            return tokenizer.vocab.index(token)
    return next(i for i, token in enumerate(tokenizer.vocab) if token != UNK)


class TextStream:
    """Writes the text of a growing token sequence as soon as it can no longer change.

    The tokenizer's stream decoder settles each token in constant time (a Korean jamo
    is held back only until its syllable is complete), so a sample of any length, with or
    without line breaks, is written in time linear in its length. Prime tokens that are
    not the user's (the default start) are read by the model but not shown: the text
    written is the decoding of the shown tokens alone.
    """

    def __init__(self, tokenizer: Tokenizer, out: TextIO, prime: list[int], echo: bool) -> None:
        self.decoder = tokenizer.stream_decoder()
        self.out = out
        self.ended_line = True
        if echo:
            for token in prime:
                self.push(token)

    def push(self, token: int) -> None:
        self._write(self.decoder.push(token))

    def close(self) -> None:
        self._write(self.decoder.flush())
        if not self.ended_line:
            self._write("\n")
        self.out.flush()

    def _write(self, text: str) -> None:
        if text:
            self.out.write(text)
            self.out.flush()
            self.ended_line = text.endswith("\n")
