"""The memory estimate: counted parameters equal the built model's, and too-large runs are
refused with the estimate and what the machine has."""

import pytest

from rnnkit.errors import UserError
from rnnkit.models.language_model import LanguageModel, LanguageModelConfig
from rnnkit.models.sequence_classifier import SequenceClassifier, SequenceClassifierConfig
from rnnkit.nn import GRU, LSTM, RNN
from rnnkit.nn.recurrent import recurrent_parameter_count
from rnnkit.train.memory import available_memory, check_fits, training_bytes
from rnnkit.train.tasks.classifier import parameter_count as classifier_parameter_count
from rnnkit.train.tasks.language_model import parameter_count


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
