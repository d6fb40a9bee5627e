"""A text file or folder read in chunks, for corpora larger than memory.

``TextStream(path, encoding)`` is the text ``read_text`` returns, as an iterable of pieces
(strings of about ``CHUNK_BYTES`` bytes' worth): iterate it as often as needed, and the
pieces joined are exactly ``read_text(path, encoding)``, which is never held whole. The
same input is refused with the same one-line errors: a folder skips hidden, binary and
special files (a first pass over the bytes finds the NUL bytes), a file that holds one is
refused; bytes invalid in the encoding name their offset; a text of whitespace alone is
refused.

``fingerprint()`` is the SHA-256 of the text (``rnnkit.data.fingerprint``), computed in
the first full pass; ``vocabulary(tokenizer)`` is what ``Tokenizer.fit`` builds from it,
kept in the token cache (``rnnkit.data.token_cache``) so that a second run on the same
data does not count again.
"""

from __future__ import annotations

import codecs
import hashlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from rnnkit.data.text import (
    _binary,
    _check_encoding,
    files_below,
    no_text_files,
    open_regular_file,
)
from rnnkit.errors import SettingError, UserError

CHUNK_BYTES = 4 << 20  # bytes read and decoded at a time


class TextStream:
    """The text of PATH (a file or a folder) in ENCODING, read a chunk at a time."""

    def __init__(
        self, path: str | os.PathLike[str], encoding: str = "utf-8", chunk_bytes: int = CHUNK_BYTES
    ) -> None:
        _check_encoding(encoding)
        self.path = Path(path)
        self.encoding = encoding
        self.chunk_bytes = chunk_bytes
        self._digest: str | None = None
        self._look_for_nul = "a".encode(encoding) == b"a"
        self.skipped: list[Path] = []  # a folder's binary and special files, not read
        if self.path.is_dir():
            self.files = []
            for file in files_below(self.path):
                readable = file.is_file() and self._nul(file) is None
                (self.files if readable else self.skipped).append(file)
            if not self.files:
                raise no_text_files(self.path, self.skipped)
        elif self.path.exists():
            self.files = [self.path]
            nul = self._nul(self.path)
            if nul is not None:
                raise _binary(self.path, nul)
        else:
            raise UserError(f"{self.path} does not exist; check the path")
        self.size = sum(file.stat().st_size for file in self.files)  # bytes to read

    def _chunks(self, file: Path) -> Iterator[bytes]:
        try:
            with open(open_regular_file(file), "rb", buffering=0) as stream:
                while chunk := stream.read(self.chunk_bytes):
                    yield chunk
        except OSError as error:
            raise UserError(f"cannot read {file}: {error.strerror}; check the file") from None

    def _nul(self, file: Path) -> int | None:
        """The byte offset of FILE's first NUL (the mark of a binary file), or None."""
        if not self._look_for_nul:
            return None
        offset = 0
        for chunk in self._chunks(file):
            found = chunk.find(b"\x00")
            if found >= 0:
                return offset + found
            offset += len(chunk)
        return None

    def __iter__(self) -> Iterator[str]:
        hasher = hashlib.sha256() if self._digest is None else None
        blank = True
        for index, file in enumerate(self.files):
            if index:
                yield from self._hashed("\n", hasher)
            for piece in self._file_pieces(file):
                blank = blank and not piece.strip()
                yield from self._hashed(piece, hasher)
        if blank:
            raise UserError(
                f"{self.path} holds no text (it is empty or only whitespace); give it some text"
            )
        if hasher is not None:
            self._digest = hasher.hexdigest()

    @staticmethod
    def _hashed(piece: str, hasher: Any) -> Iterator[str]:
        if hasher is not None:
            hasher.update(piece.encode("utf-8", "surrogatepass"))
        yield piece

    def _file_pieces(self, file: Path) -> Iterator[str]:
        """FILE's text as ``read_text`` makes it: decoded, without a byte-order mark, line
        endings as "\\n" (a "\\r" at the end of a piece waits for the next one)."""
        decoder = codecs.getincrementaldecoder(self.encoding)("strict")
        offset, start, held = 0, True, ""
        chunks = self._chunks(file)
        chunk = next(chunks, b"")
        while True:
            following = next(chunks, None)
            pending = len(decoder.getstate()[0])
            try:
                text = decoder.decode(chunk, final=following is None)
            except UnicodeDecodeError as error:
                bad = error.object[error.start]
                raise SettingError(
                    f"{file}: byte 0x{bad:02x} at byte offset {offset - pending + error.start} "
                    f"is not valid {self.encoding}; pass encoding latin-1, or the one the file "
                    "was written in",
                    "encoding",
                ) from None
            offset += len(chunk)
            text = held + text
            if start and text:
                # An editor's byte-order mark is not part of the text.
                text, start = text.removeprefix("\ufeff"), False
            held = ""
            if following is not None and text.endswith("\r"):
                text, held = text[:-1], "\r"
            if "\r" in text:  # the test is a scan; the replacements are two copies
                text = text.replace("\r\n", "\n").replace("\r", "\n")
            if text:
                yield text
            if following is None:
                return
            chunk = following

    def fingerprint(self) -> str:
        """The SHA-256 of the text, as ``rnnkit.data.fingerprint.fingerprint`` of it."""
        if self._digest is None:
            for _ in self:
                pass
        assert self._digest is not None
        return self._digest

    def vocabulary(self, tokenizer: Any) -> list[str]:
        """The vocabulary TOKENIZER (unfitted, with its options) builds from the text,
        from the token cache when an earlier run built it."""
        from rnnkit.data.token_cache import cached_vocabulary

        return cached_vocabulary(self, tokenizer)
