"""The texts ``rnnkit predict`` answers: the arguments, the lines of ``--input FILE``, or the
lines of stdin, read one at a time so that each is answered as soon as it arrives.

A byte-order mark at the start of a file or of stdin is dropped (it would otherwise stick to
the first word), and ``--encoding`` says how the bytes are to be read.
"""

from __future__ import annotations

import argparse
import io
import sys
from collections.abc import Iterator

from rnnkit.data.text import is_codec
from rnnkit.errors import UserError

BOM = "\ufeff"


def add_input_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--input", metavar="PATH", help="read the texts from this file, one per line"
    )
    parser.add_argument(
        "--encoding",
        help="how --input or stdin is encoded (default: as the training data, saved in the "
        "run)",
    )


def input_texts(args: argparse.Namespace, encoding: str = "utf-8") -> Iterator[tuple[str, str]]:
    """``(origin, text)`` for each text: the arguments, the lines of ``--input`` or of stdin.

    Lines keep their content but lose their line break and a leading byte-order mark.
    """
    if args.texts and args.input:
        raise UserError("give the texts as arguments or with --input, not both")
    encoding = args.encoding or encoding
    if not is_codec(encoding):
        raise UserError(f"--encoding {encoding} is not an encoding Python knows")
    if args.texts:
        for number, text in enumerate(args.texts, start=1):
            yield f"text {number}", text
        return
    if args.input:
        with open(args.input, encoding=encoding, errors="strict", newline="") as stream:
            yield from stream_lines(stream, args.input)
        return
    buffer = getattr(sys.stdin, "buffer", None)
    if buffer is None:  # a text stream put in place of stdin: already decoded
        yield from stream_lines(sys.stdin, "stdin")
        return
    stdin = io.TextIOWrapper(buffer, encoding=encoding, newline="")
    try:
        yield from stream_lines(stdin, "stdin")
    finally:
        stdin.detach()  # leave sys.stdin's buffer open


def stream_lines(stream, where: str) -> Iterator[tuple[str, str]]:
    any_line = False
    try:
        for number, line in enumerate(stream, start=1):
            any_line = True
            if number == 1:
                line = line.removeprefix(BOM)
            yield f"{where} line {number}", line.rstrip("\r\n")
    except UnicodeError as error:
        # A decoding error says where; a codec's own refusal (UTF-16 without its byte-order
        # mark) is a plain UnicodeError that only says why.
        if isinstance(error, UnicodeDecodeError):
            reason = f"{error.reason} at byte {error.start}"
        else:
            reason = str(error)
        raise UserError(
            f"{where} is not valid {stream.encoding} ({reason}); "
            "pass --encoding with its real encoding"
        ) from None
    if not any_line:
        raise UserError(f"no texts in {where}: give them as arguments or one per line")
