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
from pathlib import Path

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
        with open(args.input, "rb") as file:
            yield from decoded_lines(file, encoding, args.input)
        return
    buffer = getattr(sys.stdin, "buffer", None)
    if buffer is None:  # a text stream put in place of stdin: already decoded
        yield from stream_lines(sys.stdin, "stdin")
        return
    yield from decoded_lines(buffer, encoding, "stdin")  # sys.stdin's buffer stays open


class CountingReader(io.BufferedIOBase):
    """The binary stream RAW, counting the bytes read from it: a decoder's error offset
    counts from the start of the last chunk it was given, not from the start of the input."""

    def __init__(self, raw: io.BufferedIOBase) -> None:
        super().__init__()
        self.raw = raw
        self.count = 0

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        return self._counted(self.raw.read(size))

    def read1(self, size: int = -1) -> bytes:
        return self._counted(self.raw.read1(size))

    def _counted(self, data: bytes) -> bytes:
        self.count += len(data)
        return data


def decoded_lines(raw: io.BufferedIOBase, encoding: str, where: str) -> Iterator[tuple[str, str]]:
    """``stream_lines`` of the bytes of RAW read as ENCODING; RAW is left open."""
    counting = CountingReader(raw)
    stream = io.TextIOWrapper(counting, encoding=encoding, errors="strict", newline="")
    try:
        yield from stream_lines(stream, where, counting)
    finally:
        stream.detach()


def stream_lines(
    stream, where: str, counting: CountingReader | None = None
) -> Iterator[tuple[str, str]]:
    """``(origin, line)`` of each line of the text STREAM, read from WHERE; COUNTING, the
    bytes under STREAM, lets a decoding error say where in them it is."""
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
            reason = error.reason
            if counting is not None:
                # the decoder was given the bytes it held back, then the last chunk read
                offset = counting.count - len(error.object) + error.start
                reason += f": byte 0x{error.object[error.start]:02x} at byte offset {offset}"
        else:
            reason = str(error)
        raise UserError(
            f"{where} is not valid {stream.encoding} ({reason}); "
            "pass --encoding with its real encoding"
        ) from None
    if not any_line:
        raise UserError(f"no texts in {where}: give them as arguments or one per line")


def check_pretokenized(args: argparse.Namespace, folder: Path, reads_words: bool) -> None:
    """Refuse ``--pretokenized`` for a model that reads characters: it would change nothing."""
    if args.pretokenized and not reads_words:
        raise UserError(
            f"--pretokenized: for models that read words; {folder} holds one that reads "
            "characters, which splits no text into words"
        )
