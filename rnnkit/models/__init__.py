"""Models built from the layers: each with ``params``, ``grads``, ``forward`` and ``backward``."""

from rnnkit.models.conditioned_language_model import ConditionedLanguageModel
from rnnkit.models.encoder_language_model import EncoderLanguageModel
from rnnkit.models.language_model import LanguageModel, sample_token
from rnnkit.models.sequence_classifier import SequenceClassifier
from rnnkit.models.sequence_tagger import SequenceTagger

__all__ = [
    "ConditionedLanguageModel",
    "EncoderLanguageModel",
    "LanguageModel",
    "SequenceClassifier",
    "SequenceTagger",
    "sample_token",
]
