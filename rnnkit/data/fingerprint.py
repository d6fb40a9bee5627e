"""A digest of training data, to tell whether a resumed run reads the same data."""

from __future__ import annotations

import hashlib


def fingerprint(text: str) -> str:
    """The SHA-256 of TEXT (lone surrogates from odd files included)."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
