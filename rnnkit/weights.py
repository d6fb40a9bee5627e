"""Save and load weights as safetensors files, readable by ``safetensors.torch`` too.

A state dict saved under PyTorch's parameter names (``weight_ih_l0``, ...) loads into the
matching ``torch.nn`` module after ``safetensors.torch.load_file``, and a torch state dict
saved with ``safetensors.torch.save_file`` loads back here as NumPy arrays.

Writes are atomic (``rnnkit.atomic``): a crash or an error leaves either the old file or
the new one, never a truncated one. ``save_weights`` returns the SHA-256 of the bytes it
wrote, and ``load_weights(path, sha256=...)`` verifies it, so a file changed or corrupted
since (flipped bits included) is refused; ``check_finite`` refuses NaN and infinite values,
naming the file and the tensor. Training checkpoints use both (``rnnkit.train.checkpoint``).
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
from pathlib import Path

import numpy as np
from safetensors import SafetensorError
from safetensors.numpy import load, save

from rnnkit.atomic import write_atomic


def save_weights(
    path: str | os.PathLike[str],
    state_dict: dict[str, np.ndarray],
    metadata: dict[str, str] | None = None,
) -> str:
    """Write ``state_dict`` (name -> array) and optional string ``metadata`` to ``path``.

    Returns the SHA-256 (hex) of the file's bytes, for ``load_weights(path, sha256=...)``.
    Raises TypeError when the arguments come in ``torch.save``'s order (arrays, then path).
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(
            f"save_weights(path, state_dict): the file path comes first, got "
            f"{type(path).__name__}; call save_weights(path, layer.state_dict())"
        )
    path = Path(path)
    # safetensors stores raw C-order bytes, so transposes and slices are copied first.
    # (Not np.ascontiguousarray: it turns 0-d arrays, e.g. an optimizer's "lr", into 1-d.)
    arrays = {name: np.asarray(value, order="C") for name, value in state_dict.items()}
    # Serialize first: an array safetensors refuses fails here, before any file exists.
    data = save(arrays, metadata=metadata)
    write_atomic(path, data)
    return sha256_hex(data)


def sha256_hex(data: bytes) -> str:
    """The SHA-256 of DATA in hex: the checksum ``save_weights`` returns."""
    return hashlib.sha256(data).hexdigest()


def load_weights(
    path: str | os.PathLike[str], sha256: str | None = None
) -> dict[str, np.ndarray]:
    """Read a safetensors file into a dict of (writable) arrays.

    With SHA256 (what ``save_weights`` returned), the file's bytes must still have that
    checksum. Raises ValueError, with one line naming the file and the problem, when the
    file is missing, unreadable, changed since it was saved (checksum), or not a
    safetensors file NumPy can hold (e.g. bfloat16).
    """
    path = Path(path)
    data = read_weights_file(path)
    if sha256 is not None and sha256_hex(data) != sha256:
        raise ChecksumError(
            f"cannot load weights from {path}: its bytes do not match the SHA-256 checksum "
            "recorded when it was saved (the file was changed or corrupted)"
        )
    return weights_from_bytes(data, path)


class ChecksumError(ValueError):
    """A weights file whose bytes are not the ones saved."""


def read_weights_file(path: Path) -> bytes:
    """The bytes of the weights file PATH; ValueError (one line) if it cannot be read."""
    if not path.exists():
        raise ValueError(f"cannot load weights from {path}: no such file")
    if not path.is_file():
        raise ValueError(f"cannot load weights from {path}: not a regular file")
    try:
        return path.read_bytes()
    except OSError as error:
        raise ValueError(f"cannot load weights from {path}: {error.strerror or error}") from error


def weights_from_bytes(data: bytes, path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """The arrays of a safetensors file's bytes DATA (read from PATH, named in errors)."""
    try:
        return load(data)
    except SafetensorError as error:
        # e.g. "header too large" (not safetensors), "incomplete metadata" (truncated)
        raise ValueError(
            f"cannot load weights from {path}: not a valid safetensors file ({_first_line(error)})"
        ) from error
    except (KeyError, TypeError, ValueError) as error:
        # A valid file whose dtype NumPy has no type for, such as bfloat16 (KeyError: 'BF16').
        raise ValueError(
            f"cannot load weights from {path}: not readable as NumPy arrays ({_first_line(error)})"
        ) from error


def metadata_from_bytes(data: bytes) -> dict[str, str] | None:
    """The string metadata in a safetensors file's header, or None if it has none or the
    header cannot be read (the file's arrays are not parsed)."""
    try:
        (size,) = struct.unpack("<Q", data[:8])
        header = json.loads(data[8 : 8 + size])
        metadata = header.get("__metadata__")
    except (struct.error, ValueError, AttributeError):
        return None
    return metadata if isinstance(metadata, dict) else None


def check_finite(state_dict: dict[str, np.ndarray], path: str | os.PathLike[str]) -> None:
    """ValueError (one line naming PATH and the tensor) if a float array holds NaN or inf."""
    for name, value in state_dict.items():
        if np.issubdtype(value.dtype, np.inexact) and not np.all(np.isfinite(value)):
            what = "NaN" if np.any(np.isnan(value)) else "infinite values"
            raise ValueError(
                f"the weights in {path} are not finite: tensor {name} holds {what} (a diverged "
                "or corrupted run)"
            )


def _first_line(error: Exception) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
