"""Models built from the layers: each with ``params``, ``grads``, ``forward`` and ``backward``."""

from rnnkit.models.sequence_classifier import SequenceClassifier

__all__ = ["SequenceClassifier"]
