"""save_weights / load_weights: round trips, atomic writes, clear errors, torch interop."""

import json
import os
import struct

import numpy as np
import pytest
from safetensors import safe_open

import rnnkit.weights
from rnnkit import load_weights, save_weights

# torch.nn.LSTM(3, 5, num_layers=2).state_dict(): names and shapes (4 gates * 5 = 20 rows).
LSTM_SHAPES = {
    "weight_ih_l0": (20, 3),
    "weight_hh_l0": (20, 5),
    "bias_ih_l0": (20,),
    "bias_hh_l0": (20,),
    "weight_ih_l1": (20, 5),
    "weight_hh_l1": (20, 5),
    "bias_ih_l1": (20,),
    "bias_hh_l1": (20,),
}


def lstm_state(dtype: type = np.float32) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    return {name: rng.standard_normal(shape).astype(dtype) for name, shape in LSTM_SHAPES.items()}


def test_round_trip_keeps_names_shapes_dtypes_and_values(tmp_path):
    state = lstm_state(np.float64)
    state["step"] = np.array(7, dtype=np.int64)  # 0-d arrays stay 0-d
    state["lr"] = np.array(0.01)
    state["transposed"] = np.arange(6, dtype=np.float32).reshape(2, 3).T  # not C-contiguous
    save_weights(tmp_path / "w.safetensors", state)
    loaded = load_weights(tmp_path / "w.safetensors")
    assert set(loaded) == set(state)
    for name, value in state.items():
        assert loaded[name].shape == value.shape
        assert loaded[name].dtype == value.dtype
        np.testing.assert_array_equal(loaded[name], value)
    loaded["weight_ih_l0"][0, 0] = 1.0  # usable as ordinary arrays


def test_metadata_is_stored(tmp_path):
    path = tmp_path / "w.safetensors"
    save_weights(path, lstm_state(), metadata={"model": "lstm", "hidden": "5"})
    with safe_open(path, framework="np") as file:
        assert file.metadata() == {"model": "lstm", "hidden": "5"}


def test_overwrites_and_leaves_no_temporary_file(tmp_path):
    path = tmp_path / "w.safetensors"
    save_weights(path, {"a": np.zeros(2)})
    save_weights(path, {"b": np.ones(3)})
    assert list(load_weights(path)) == ["b"]
    assert os.listdir(tmp_path) == ["w.safetensors"]


def test_refused_array_leaves_the_target_unchanged(tmp_path):
    path = tmp_path / "w.safetensors"
    save_weights(path, {"a": np.arange(3.0)})
    before = path.read_bytes()
    with pytest.raises(Exception, match="object"):
        save_weights(path, {"a": np.arange(3.0), "bad": np.array([object()])})
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["w.safetensors"]


@pytest.mark.parametrize("failing", ["fsync", "replace"])
def test_crash_midway_leaves_the_target_unchanged(tmp_path, monkeypatch, failing):
    # The data is already written to the temporary file when fsync or the rename fails.
    path = tmp_path / "w.safetensors"
    save_weights(path, {"a": np.arange(3.0)})
    before = path.read_bytes()

    def crash(*args):
        raise OSError("simulated crash")

    monkeypatch.setattr(rnnkit.weights.os, failing, crash)
    with pytest.raises(OSError, match="simulated crash"):
        save_weights(path, {"a": np.arange(1000.0)})
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["w.safetensors"]


def test_missing_file_is_a_clear_error(tmp_path):
    path = tmp_path / "nowhere.safetensors"
    with pytest.raises(ValueError, match="no such file") as info:
        load_weights(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)


@pytest.mark.parametrize(
    "content",
    [b"", b"this is not a safetensors file", b"\x08\x00\x00\x00\x00\x00\x00\x00{garbage"],
    ids=["empty", "text", "bad-header"],
)
def test_corrupted_file_is_a_clear_error(tmp_path, content):
    path = tmp_path / "bad.safetensors"
    path.write_bytes(content)
    with pytest.raises(ValueError, match="not a valid safetensors file") as info:
        load_weights(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_truncated_file_is_a_clear_error(tmp_path):
    path = tmp_path / "w.safetensors"
    save_weights(path, lstm_state())
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(ValueError, match=r"w\.safetensors.*not a valid safetensors file"):
        load_weights(path)


def test_dtype_numpy_cannot_hold_is_a_clear_error(tmp_path):
    # A well-formed file holding one bfloat16 value, which NumPy has no dtype for.
    header = json.dumps({"x": {"dtype": "BF16", "shape": [1], "data_offsets": [0, 2]}})
    path = tmp_path / "bf16.safetensors"
    path.write_bytes(struct.pack("<Q", len(header)) + header.encode() + b"\x80\x3f")
    with pytest.raises(ValueError, match=r"bf16\.safetensors: not readable as NumPy arrays"):
        load_weights(path)


def test_folder_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="not a regular file"):
        load_weights(tmp_path)


def test_rnnkit_file_loads_into_torch_lstm(torch, tmp_path):
    # The ``torch`` fixture (tests/conftest.py) skips this test alone without torch.
    safetensors_torch = pytest.importorskip("safetensors.torch")

    state = lstm_state()
    save_weights(tmp_path / "lstm.safetensors", state)
    lstm = torch.nn.LSTM(3, 5, num_layers=2)
    assert {k: tuple(v.shape) for k, v in lstm.state_dict().items()} == LSTM_SHAPES
    lstm.load_state_dict(safetensors_torch.load_file(tmp_path / "lstm.safetensors"))  # strict
    for name, value in lstm.state_dict().items():
        np.testing.assert_array_equal(value.numpy(), state[name])


def test_torch_file_loads_with_load_weights(torch, tmp_path):
    safetensors_torch = pytest.importorskip("safetensors.torch")

    lstm = torch.nn.LSTM(3, 5, num_layers=2)
    safetensors_torch.save_file(lstm.state_dict(), tmp_path / "lstm.safetensors")
    loaded = load_weights(tmp_path / "lstm.safetensors")
    assert set(loaded) == set(LSTM_SHAPES)
    for name, tensor in lstm.state_dict().items():
        assert loaded[name].dtype == np.float32
        np.testing.assert_array_equal(loaded[name], tensor.numpy())


def test_arguments_in_torch_order_are_a_clear_error(tmp_path):
    # torch.save(obj, f) and safetensors' save_file(tensors, f) take the arrays first
    path = tmp_path / "w.safetensors"
    with pytest.raises(TypeError, match=r"the file path comes first, got dict"):
        save_weights(lstm_state(), path)
    assert not path.exists()
