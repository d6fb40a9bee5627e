"""Token ids of a large text in a memory-mapped file, cached by the data's fingerprint.

``token_ids(text, tokenizer)`` is ``tokenizer.encode(text)`` for a string; for a
``TextStream`` (a file or folder read in chunks) it is the same ids in a read-only
``numpy.memmap`` of ``uint8``, ``uint16`` or ``uint32`` (the smallest that holds every id
of the vocabulary), written in one streaming pass and kept in the cache folder::

    $RNNKIT_CACHE (default $XDG_CACHE_HOME/rnnkit or ~/.cache/rnnkit)/tokens/
        <data sha256>-<tokenizer sha256>.ids     the ids, raw, in that dtype
        <data sha256>-<tokenizer sha256>.json    what they are: data and tokenizer
                                                 fingerprints, dtype, count
        <data sha256>-<tokenizer sha256>.unknown for a word tokenizer, which ids stand for
                                                 words it lacks (``unknown_flags``)
        <data sha256>-<spec sha256>.vocab.json   the vocabulary a tokenizer of that kind
                                                 and options fits to that data

An entry is used only when its record names the same data fingerprint, the same
tokenizer and a file of the recorded size whose ids are all in the vocabulary; a stale,
foreign, truncated or overwritten entry is built again (written beside, then renamed
into place, so a reader never sees half a file).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np

from rnnkit.data.tokenizers import Tokenizer
from rnnkit.errors import UserError

CACHE_VARIABLE = "RNNKIT_CACHE"
FORMAT = "rnnkit-token-ids"
VERSION = 1
CHECK_ENTRIES = 1 << 24  # entries of a reused file checked at a time


def cache_folder() -> Path:
    """Where token ids are cached: ``$RNNKIT_CACHE/tokens``, or the user's cache folder."""
    root = os.environ.get(CACHE_VARIABLE)
    if not root:
        root = os.path.join(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache", "rnnkit")
    return Path(root) / "tokens"


def token_dtype(vocab_size: int) -> np.dtype:
    """The smallest unsigned integer type that holds ids below VOCAB_SIZE."""
    for dtype in (np.uint8, np.uint16, np.uint32):
        if vocab_size <= np.iinfo(dtype).max + 1:
            return np.dtype(dtype)
    raise ValueError(f"a vocabulary of {vocab_size} tokens needs more than 32-bit ids")


def _sha(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()


def token_ids(text: Any, tokenizer: Tokenizer, folder: Path | None = None) -> np.ndarray:
    """``tokenizer.encode`` of TEXT: a string, or a ``TextStream`` whose ids come from (or
    go into) the cache FOLDER (default ``cache_folder()``); see the module docstring."""
    if isinstance(text, str):
        return tokenizer.encode(text)
    return cached_ids(text, tokenizer, folder)[0]


def cached_ids(
    stream: Any, tokenizer: Tokenizer, folder: Path | None = None
) -> tuple[np.ndarray, Path, bool]:
    """The ids of STREAM as a memmap, the file that holds them, and whether it was reused."""
    dtype = token_dtype(tokenizer.vocab_size)
    return _cached_array(
        stream, tokenizer, folder, "ids", dtype, tokenizer.encode_pieces, tokenizer.vocab_size
    )


def unknown_flags(stream: Any, tokenizer: Tokenizer, folder: Path | None = None) -> Any:
    """``tokenizer.unknown_mask`` of STREAM's text as a memmap of 0/1 bytes, cached beside
    its ids, for a word tokenizer, where a literal ``<unk>`` of the text is no unknown word;
    None for the others, whose unknown tokens are exactly their ``<unk>`` ids."""
    if tokenizer.kind != "word":
        return None
    flags = tokenizer.unknown_mask_pieces  # type: ignore[attr-defined]
    return _cached_array(stream, tokenizer, folder, "unknown", np.dtype(np.uint8), flags, 2)[0]


def _cached_array(
    stream: Any,
    tokenizer: Tokenizer,
    folder: Path | None,
    what: str,
    dtype: np.dtype,
    pieces: Callable[[Any], Iterable[np.ndarray]],
    limit: int,
) -> tuple[np.ndarray, Path, bool]:
    """The arrays PIECES makes of STREAM, joined in a memmap of DTYPE kept in the cache
    FOLDER as WHAT (``ids``), the file that holds them, and whether it was reused. Every
    entry is below LIMIT (a reused file with one that is not was damaged: built again)."""
    folder = folder or cache_folder()
    data = stream.fingerprint()
    tokenizer_sha = _sha(tokenizer.to_dict())
    stem = folder / f"{data[:32]}-{tokenizer_sha[:16]}"
    if what == "ids":
        path, record_path = stem.with_suffix(".ids"), stem.with_suffix(".json")
    else:
        path, record_path = stem.with_suffix(f".{what}"), stem.with_suffix(f".{what}.json")
    expected = {
        "format": FORMAT,
        "version": VERSION,
        "data_sha256": data,
        "tokenizer_sha256": tokenizer_sha,
        "dtype": dtype.name,
    }
    record = _read_record(record_path)
    reused = (
        record is not None
        and {key: record.get(key) for key in expected} == expected
        and isinstance(record.get("tokens"), int)
        and path.is_file()
        and path.stat().st_size == record["tokens"] * dtype.itemsize
        and _below(path, dtype, record["tokens"], limit)
    )
    if not reused:
        count = _write_ids(pieces(stream), dtype, path, folder)
        _write_json(record_path, {**expected, "tokens": count}, folder)
    else:
        count = record["tokens"]
    if count == 0:
        return np.zeros(0, dtype=dtype), path, reused
    return np.memmap(path, dtype=dtype, mode="r", shape=(count,)), path, reused


def _below(path: Path, dtype: np.dtype, count: int, limit: int) -> bool:
    """Whether the COUNT entries of DTYPE in PATH are all below LIMIT; read a slice at a
    time, so that a corpus larger than memory is never held whole."""
    values = np.memmap(path, dtype=dtype, mode="r", shape=(count,)) if count else []
    return all(
        int(values[i : i + CHECK_ENTRIES].max()) < limit for i in range(0, count, CHECK_ENTRIES)
    )


def cached_vocabulary(stream: Any, tokenizer: Tokenizer, folder: Path | None = None) -> list[str]:
    """The vocabulary TOKENIZER's kind and options fit to STREAM, cached by fingerprint."""
    folder = folder or cache_folder()
    data = stream.fingerprint()
    spec = {key: value for key, value in tokenizer.to_dict().items() if key != "vocab"}
    path = folder / f"{data[:32]}-{_sha(spec)[:16]}.vocab.json"
    record = _read_record(path)
    if (
        record is not None
        and record.get("data_sha256") == data
        and record.get("tokenizer") == spec
        and isinstance(record.get("vocab"), list)
    ):
        return record["vocab"]
    vocab = tokenizer.vocab_of_pieces(stream)
    _write_json(path, {"data_sha256": data, "tokenizer": spec, "vocab": vocab}, folder)
    return vocab


def _read_record(path: Path) -> dict[str, Any] | None:
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def _temporary(path: Path) -> Path:
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")


def _make_folder(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise UserError(
            f"cannot make the token cache folder {folder}: {error.strerror}; set "
            f"{CACHE_VARIABLE} to a folder you can write"
        ) from None


def _write_json(path: Path, record: dict[str, Any], folder: Path) -> None:
    _make_folder(folder)
    temporary = _temporary(path)
    temporary.write_text(json.dumps(record, ensure_ascii=False), encoding="utf-8")
    os.replace(temporary, path)


def _write_ids(pieces: Iterable[np.ndarray], dtype: np.dtype, path: Path, folder: Path) -> int:
    """PIECES, as DTYPE, into PATH (through a temporary file); the number of entries."""
    _make_folder(folder)
    temporary = _temporary(path)
    count = 0
    try:
        with open(temporary, "wb") as file:
            for ids in pieces:
                file.write(ids.astype(dtype, copy=False).tobytes())
                count += ids.size
        os.replace(temporary, path)
    except OSError as error:
        temporary.unlink(missing_ok=True)
        raise UserError(
            f"cannot write the token cache {path}: {error.strerror}; free some space or set "
            f"{CACHE_VARIABLE} to another folder"
        ) from None
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return count
