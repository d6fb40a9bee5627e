"""A digest of training data, to tell whether a resumed run reads the same data."""

from __future__ import annotations

import hashlib
from typing import Any


def fingerprint(text: Any) -> str:
    """The SHA-256 of TEXT (lone surrogates from odd files included); TEXT may also be a
    ``TextStream``, hashed in a streaming pass as it is read."""
    if not isinstance(text, str):
        return text.fingerprint()
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
