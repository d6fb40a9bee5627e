"""rnnkit: recurrent neural networks in NumPy with PyTorch's semantics."""

__version__ = "0.1.0"
