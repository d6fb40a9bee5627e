"""A digest of training data, to tell whether a resumed run reads the same data."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any


def fingerprint(text: Any) -> str:
    """The SHA-256 of TEXT (lone surrogates from odd files included); TEXT may also be a
    ``TextStream``, hashed in a streaming pass as it is read."""
    if not isinstance(text, str):
        return text.fingerprint()
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def fingerprint_lines(lines: Iterable[str]) -> str:
    """The SHA-256 of LINES joined by newlines (``fingerprint("\\n".join(lines))``), hashed as
    they come, so that no copy of the whole data is made."""
    digest = hashlib.sha256()
    for i, line in enumerate(lines):
        digest.update(("\n" if i else "").encode() + line.encode("utf-8", "surrogatepass"))
    return digest.hexdigest()
