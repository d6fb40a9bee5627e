"""Models built from the layers: each with ``params``, ``grads``, ``forward`` and ``backward``,
and those built from settings with a settings dataclass (``LanguageModelConfig``, ...) and
``from_config``."""

from rnnkit.models.conditioned_language_model import (
    ConditionedLanguageModel,
    ConditionedLanguageModelConfig,
)
from rnnkit.models.encoder_language_model import EncoderLanguageModel
from rnnkit.models.forecaster import Forecaster, ForecasterConfig
from rnnkit.models.language_model import LanguageModel, LanguageModelConfig, sample_token
from rnnkit.models.seq2seq import Seq2Seq, Seq2SeqConfig
from rnnkit.models.sequence_classifier import SequenceClassifier, SequenceClassifierConfig
from rnnkit.models.sequence_tagger import SequenceTagger, SequenceTaggerConfig

__all__ = [
    "ConditionedLanguageModel",
    "ConditionedLanguageModelConfig",
    "EncoderLanguageModel",
    "Forecaster",
    "ForecasterConfig",
    "LanguageModel",
    "LanguageModelConfig",
    "Seq2Seq",
    "Seq2SeqConfig",
    "SequenceClassifier",
    "SequenceClassifierConfig",
    "SequenceTagger",
    "SequenceTaggerConfig",
    "sample_token",
]
