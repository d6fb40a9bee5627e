"""Layer: sub-layer registration, tied parameters, train/eval propagation."""

import numpy as np
import pytest

from rnnkit.nn import LSTM, Dropout, Embedding, Layer, Linear
from rnnkit.nn.layer import check_sizes, make_rng


class Tiny(Layer):
    def __init__(self, tie: bool) -> None:
        super().__init__()
        self.add_layer("embedding", Embedding(5, 4, rng=0))
        self.add_layer("inner", Outer())
        self.add_layer("decoder", Linear(4, 5, rng=1))
        if tie:
            self.tie("decoder.weight", "embedding.weight")


class Outer(Layer):
    def __init__(self) -> None:
        super().__init__()
        self.add_layer("rnn", LSTM(4, 4, rng=2))
        self.add_layer("dropout", Dropout(0.5, rng=3))


def test_sub_layer_arrays_are_shared_under_prefixed_names():
    model = Tiny(tie=False)
    assert model.params["inner.rnn.weight_ih_l0"] is model.inner.rnn.params["weight_ih_l0"]
    assert model.grads["decoder.bias"] is model.decoder.grads["bias"]
    assert list(model.layers) == ["embedding", "inner", "decoder"]
    assert model.num_parameters() == sum(layer.num_parameters() for layer in model.layers.values())


def test_train_and_eval_reach_nested_layers():
    model = Tiny(tie=False)
    model.eval()
    assert not model.inner.dropout.training and not model.inner.rnn.training
    model.train()
    assert model.inner.dropout.training and model.decoder.training


def test_tied_parameter_is_listed_once_and_saved_under_both_names():
    model = Tiny(tie=True)
    assert "decoder.weight" not in model.params
    assert model.decoder.params["weight"] is model.params["embedding.weight"]
    assert model.decoder.grads["weight"] is model.grads["embedding.weight"]
    state = model.state_dict()
    np.testing.assert_array_equal(state["decoder.weight"], state["embedding.weight"])
    state["embedding.weight"] = state["embedding.weight"] + 1.0
    state.pop("decoder.weight")
    model.load_state_dict(state)  # the alias may be left out
    np.testing.assert_array_equal(model.decoder.params["weight"], state["embedding.weight"])


def test_tie_refuses_different_shapes_and_add_layer_refuses_reuse():
    model = Tiny(tie=False)
    with pytest.raises(ValueError, match="shape"):
        model.tie("decoder.bias", "embedding.weight")
    with pytest.raises(ValueError, match="name"):
        model.add_layer("decoder", Linear(2, 2))


def test_check_sizes_and_make_rng():
    with pytest.raises(ValueError, match="hidden_size"):
        check_sizes(hidden_size=0)
    with pytest.raises(ValueError, match="num_layers"):
        check_sizes(num_layers=True)
    generator = np.random.default_rng(0)
    assert make_rng(generator) is generator
