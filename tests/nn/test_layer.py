"""Layer: sub-layer registration, tied parameters, train/eval propagation; the argument
checks layers share."""

import re

import numpy as np
import pytest

from rnnkit.nn import LSTM, Dropout, Embedding, Layer, Linear
from rnnkit.nn.layer import check_dtype, check_sizes, make_rng, real_array


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


def test_make_rng_names_a_bad_seed():
    for bad in ("x", -1, 2.5):
        with pytest.raises(ValueError, match=r"^rng: expected a numpy Generator"):
            make_rng(bad)


@pytest.mark.parametrize(("dtype", "expected"), [(None, np.float32), ("float64", np.float64)])
def test_check_dtype_takes_none_as_the_default_float32(dtype, expected):
    # torch's dtype=None means its default dtype; np.dtype(None) would be float64.
    assert check_dtype(dtype) == np.dtype(expected)
    assert LSTM(3, 4, dtype=dtype).params["weight_ih_l0"].dtype == np.dtype(expected)


@pytest.mark.parametrize("dtype", ["bogus", object(), np.int32])
def test_check_dtype_names_a_dtype_it_cannot_use(dtype):
    with pytest.raises(ValueError, match=r"^dtype must be float32 or float64, got "):
        check_dtype(dtype)


@pytest.mark.parametrize(
    ("value", "got"),
    [
        (None, "got None"),
        ("zz", "dtype <U2"),
        ([[1, 2], [3]], "ragged"),
        (np.zeros(2, complex), "complex128"),
        (np.zeros(2, bool), "bool"),
    ],
)
def test_real_array_names_what_is_not_an_array_of_real_numbers(value, got):
    with pytest.raises(ValueError, match=rf"^h_0: expected .*{re.escape(got)}"):
        real_array("h_0", value)


def test_real_array_casts_real_numbers():
    assert real_array("x", [1, 2], np.float32).dtype == np.float32


def test_load_state_dict_refuses_what_is_not_a_mapping():
    layer = Linear(2, 2)
    for bad in (None, [("weight", np.zeros((2, 2)))]):
        with pytest.raises(TypeError, match=r"^state_dict: expected a mapping"):
            layer.load_state_dict(bad)
