"""Save and load weights as safetensors files, readable by ``safetensors.torch`` too.

A state dict saved under PyTorch's parameter names (``weight_ih_l0``, ...) loads into the
matching ``torch.nn`` module after ``safetensors.torch.load_file``, and a torch state dict
saved with ``safetensors.torch.save_file`` loads back here as NumPy arrays.

Writes are atomic (``rnnkit.atomic``): a crash or an error leaves either the old file or
the new one, never a truncated one.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from safetensors import SafetensorError
from safetensors.numpy import load_file, save

from rnnkit.atomic import write_atomic


def save_weights(
    path: str | os.PathLike[str],
    state_dict: dict[str, np.ndarray],
    metadata: dict[str, str] | None = None,
) -> None:
    """Write ``state_dict`` (name -> array) and optional string ``metadata`` to ``path``."""
    path = Path(path)
    # safetensors stores raw C-order bytes, so transposes and slices are copied first.
    # (Not np.ascontiguousarray: it turns 0-d arrays, e.g. an optimizer's "lr", into 1-d.)
    arrays = {name: np.asarray(value, order="C") for name, value in state_dict.items()}
    # Serialize first: an array safetensors refuses fails here, before any file exists.
    data = save(arrays, metadata=metadata)
    write_atomic(path, data)


def load_weights(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """Read a safetensors file into a dict of (writable) arrays.

    Raises ValueError, with one line naming the file and the problem, when the file is
    missing, unreadable, or not a safetensors file NumPy can hold (e.g. bfloat16).
    """
    path = Path(path)
    if not path.exists():
        raise ValueError(f"cannot load weights from {path}: no such file")
    if not path.is_file():
        raise ValueError(f"cannot load weights from {path}: not a regular file")
    try:
        return load_file(path)
    except OSError as error:
        raise ValueError(f"cannot load weights from {path}: {error.strerror or error}") from error
    except SafetensorError as error:
        # e.g. "header too large" (not safetensors), "incomplete metadata" (truncated)
        raise ValueError(
            f"cannot load weights from {path}: not a valid safetensors file ({_first_line(error)})"
        ) from error
    except (TypeError, ValueError) as error:
        # A valid file whose dtype NumPy has no type for, such as bfloat16.
        raise ValueError(
            f"cannot load weights from {path}: not readable as NumPy arrays ({_first_line(error)})"
        ) from error


def _first_line(error: Exception) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
