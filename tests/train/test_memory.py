"""The memory estimate: counted parameters equal the built model's (every task's model), and
too-large runs are refused with the estimate and what the machine has."""

import pytest

from rnnkit.errors import UserError
from rnnkit.models.conditioned_language_model import (
    ConditionedLanguageModel,
    ConditionedLanguageModelConfig,
)
from rnnkit.models.forecaster import Forecaster, ForecasterConfig
from rnnkit.models.language_model import LanguageModel, LanguageModelConfig
from rnnkit.models.seq2seq import Seq2Seq, Seq2SeqConfig
from rnnkit.models.sequence_classifier import SequenceClassifier, SequenceClassifierConfig
from rnnkit.models.sequence_tagger import SequenceTagger, SequenceTaggerConfig
from rnnkit.nn import GRU, LSTM, RNN
from rnnkit.nn.recurrent import recurrent_parameter_count
from rnnkit.train.memory import available_memory, check_fits, training_bytes
from rnnkit.train.tasks.classifier import parameter_count as classifier_parameter_count
from rnnkit.train.tasks.forecast import parameter_count as forecast_parameter_count
from rnnkit.train.tasks.generate import parameter_count as generate_parameter_count
from rnnkit.train.tasks.language_model import parameter_count
from rnnkit.train.tasks.seq2seq import parameter_count as seq2seq_parameter_count
from rnnkit.train.tasks.tagging import parameter_count as tagger_parameter_count


@pytest.mark.parametrize(("cell", "layer"), [("lstm", LSTM), ("gru", GRU), ("rnn", RNN)])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_recurrent_parameters_are_counted_without_building(cell, layer, bidirectional):
    built = layer(5, 7, num_layers=3, bidirectional=bidirectional)
    assert recurrent_parameter_count(cell, 5, 7, 3, bidirectional) == built.num_parameters()


@pytest.mark.parametrize("tie", [False, True])
def test_language_model_parameters_are_counted(tie):
    config = LanguageModelConfig(vocab_size=11, embedding_size=6, hidden_size=6, num_layers=2,
                                 cell="gru", tie_weights=tie)  # fmt: skip
    assert parameter_count(config) == LanguageModel.from_config(config).num_parameters()


def test_a_run_larger_than_the_machine_is_refused_with_both_figures():
    huge = training_bytes(
        parameter_count(LanguageModelConfig(vocab_size=100, hidden_size=20000)), 0
    )
    with pytest.raises(UserError, match=r"needs about \d+\.\d\d GiB .* has 1\.00 GiB available"):
        check_fits(huge, "training this", "hidden_size", available=2**30)
    check_fits(2**20, "training this", "hidden_size", available=2**30)  # fits: no error
    assert available_memory() is None or available_memory() > 0


@pytest.mark.parametrize("pooling", ["last", "mean-max"])
def test_classifier_parameters_are_counted(pooling):
    config = SequenceClassifierConfig(vocab_size=13, num_classes=4, embedding_size=5,
                                      hidden_size=6, num_layers=2, bidirectional=True,
                                      pooling=pooling)  # fmt: skip
    built = SequenceClassifier.from_config(config)
    assert classifier_parameter_count(config) == built.num_parameters()


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"char_hidden_size": 0, "bidirectional": False, "cell": "gru"},
        {"num_layers": 2, "crf": True, "cell": "rnn"},
    ],
    ids=["chars", "words-only", "crf"],
)
def test_tagger_parameters_are_counted(options):
    sizes = {"vocab_size": 17, "num_tags": 5, "char_vocab_size": 9, "embedding_size": 6,
             "char_embedding_size": 4, "char_hidden_size": 3, "hidden_size": 7}  # fmt: skip
    config = SequenceTaggerConfig(**{**sizes, **options})
    built = SequenceTagger.from_config(config)
    assert tagger_parameter_count(config) == built.num_parameters()


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"bidirectional": True, "attention": "general", "input_feeding": True, "num_layers": 2},
        {"bidirectional": True, "bridge": "linear", "attention": "additive", "cell": "gru"},
        {"attention": "dot", "peeky": True, "cell": "rnn", "bridge": "zero"},
        {"share_vocabulary": True, "tie_embeddings": True, "embedding_size": 7},
        {"peeky": True, "bidirectional": True, "tie_embeddings": True, "embedding_size": 21},
    ],
    ids=["plain", "general-feeding", "additive-linear", "dot-peeky", "shared-tied", "peeky-tied"],
)
def test_seq2seq_parameters_are_counted(options):
    sizes = {"source_vocab_size": 11, "target_vocab_size": 11 if options.get("share_vocabulary")
             else 13, "embedding_size": 6, "hidden_size": 7, "bidirectional": False,
             "attention": "none"}  # fmt: skip
    config = Seq2SeqConfig(**{**sizes, **options})
    assert seq2seq_parameter_count(config) == Seq2Seq.from_config(config).num_parameters()


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"decoder": "autoregressive", "loss": "quantile", "quantiles": [0.2, 0.5, 0.8]},
        {"num_layers": 2, "cell": "gru", "loss": "studentt"},
        {"decoder": "autoregressive", "cell": "rnn", "loss": "mse", "num_layers": 3},
        {"skip": True, "normalize": "season", "season": 3},
        {"skip": True, "decoder": "autoregressive", "loss": "studentt"},
    ],
    ids=["direct", "autoregressive-quantile", "gru-studentt", "rnn-mse", "skip-season",
         "skip-autoregressive"],
)
def test_forecaster_parameters_are_counted(options):
    config = ForecasterConfig(num_targets=2, num_past_covariates=3, num_future_covariates=4,
                              lookback=5, horizon=6, hidden_size=7, **options)  # fmt: skip
    assert forecast_parameter_count(config) == Forecaster.from_config(config).num_parameters()


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"condition": "vector", "feature_size": 5, "num_categories": 0, "cell": "gru"},
        {"feed_condition": False, "num_layers": 2, "cell": "rnn"},
    ],
    ids=["category", "vector", "not-fed"],
)
def test_generator_parameters_are_counted(options):
    config = ConditionedLanguageModelConfig(**{"vocab_size": 12, "num_categories": 3,
                                               "condition_size": 4, "embedding_size": 6,
                                               "hidden_size": 7, **options})  # fmt: skip
    built = ConditionedLanguageModel.from_config(config)
    assert generate_parameter_count(config) == built.num_parameters()
