"""Models built from the layers: each with ``params``, ``grads``, ``forward`` and ``backward``."""

from rnnkit.models.encoder_language_model import EncoderLanguageModel
from rnnkit.models.language_model import LanguageModel, sample_token
from rnnkit.models.sequence_classifier import SequenceClassifier

__all__ = ["EncoderLanguageModel", "LanguageModel", "SequenceClassifier", "sample_token"]
