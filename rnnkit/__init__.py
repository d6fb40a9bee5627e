"""rnnkit: recurrent neural networks in NumPy with PyTorch's semantics."""

from rnnkit.weights import load_weights, save_weights

__version__ = "0.1.0"

__all__ = ["load_weights", "save_weights"]
