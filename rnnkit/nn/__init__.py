"""Layers and losses: each with ``params``, ``grads``, ``forward`` and ``backward``."""

from rnnkit.nn.layer import Layer

__all__ = ["Layer"]
