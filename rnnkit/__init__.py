"""rnnkit: recurrent neural networks in NumPy with PyTorch's semantics."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rnnkit.weights import load_weights, save_weights

__version__ = "0.1.0"

__all__ = ["load_weights", "save_weights"]


def __getattr__(name: str) -> Any:
    # Imported on first use, not with the package: ``python -m rnnkit`` imports NumPy inside
    # ``rnnkit.__main__``, where a Ctrl-C during startup is one line, not a traceback.
    if name in __all__:
        from rnnkit import weights

        return getattr(weights, name)
    raise AttributeError(f"module 'rnnkit' has no attribute {name!r}")
