"""Silent garbage refused on load: a weights file whose bytes changed since it was saved
(checked against the SHA-256 in config.json), and weights that are NaN or infinite."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from safetensors import safe_open
from safetensors.numpy import load_file, save_file

from rnnkit import load_weights, save_weights
from rnnkit.errors import UserError
from rnnkit.train.checkpoint import load_checkpoint, save_checkpoint
from tests.cli.cli_helpers import TINY, assert_one_line_error, run_cli, write_corpus

WEIGHT = "encoder.weight_hh_l0"


def arrays() -> dict[str, dict[str, np.ndarray]]:
    rng = np.random.default_rng(0)
    return {
        "model": {WEIGHT: rng.standard_normal((64, 16)), "decoder.bias": np.zeros(5)},
        # The scheduler's best value is infinite before the first validation.
        "optimizer": {"lr": np.array(1e-3), "scheduler.best": np.array(np.inf)},
    }


def flip_bits(path: Path, count: int = 50) -> None:
    """Flip COUNT bits in the tensor data (past the header), as a failing disk might."""
    data = bytearray(path.read_bytes())
    header_end = 8 + int.from_bytes(data[:8], "little")
    rng = np.random.default_rng(1)
    for offset in rng.choice(np.arange(header_end, len(data)), size=count, replace=False):
        data[offset] ^= 1 << int(rng.integers(8))
    path.write_bytes(bytes(data))


def poison(folder: Path, name: str = "model.safetensors", fill: float = np.nan) -> None:
    """Rewrite FOLDER's NAME with every float value FILL, keeping its metadata (the save's
    id) and updating the checksum in config.json to match: only the finiteness check is left
    to catch it."""
    path = folder / name
    with safe_open(path, framework="numpy") as file:
        metadata = file.metadata()
    state = {k: np.full_like(v, fill) for k, v in load_file(path).items()}
    save_file(state, path, metadata=metadata)
    config = json.loads((folder / "config.json").read_text())
    config.setdefault("sha256", {})[name] = hashlib.sha256(path.read_bytes()).hexdigest()
    (folder / "config.json").write_text(json.dumps(config))


def test_flipped_bits_are_refused_naming_the_file(tmp_path: Path) -> None:
    save_checkpoint(tmp_path, {"value": 1}, arrays())
    flip_bits(tmp_path / "model.safetensors")
    with pytest.raises(UserError) as error:
        load_checkpoint(tmp_path)
    message = str(error.value)
    assert "model.safetensors" in message and "SHA-256" in message and "\n" not in message
    assert "--" not in message


def test_nan_weights_are_refused_naming_the_file_and_the_tensor(tmp_path: Path) -> None:
    save_checkpoint(tmp_path, {"value": 1}, arrays())
    load_checkpoint(tmp_path)  # the infinite scheduler value is fine
    poison(tmp_path)
    with pytest.raises(UserError) as error:
        load_checkpoint(tmp_path)
    message = str(error.value)
    assert "model.safetensors" in message and "NaN" in message and "\n" not in message
    assert WEIGHT in message or "decoder.bias" in message


def test_infinite_weights_are_refused(tmp_path: Path) -> None:
    save_checkpoint(tmp_path, {"value": 1}, {"model": arrays()["model"]})
    poison(tmp_path, fill=-np.inf)
    with pytest.raises(UserError, match="model.safetensors.*infinite"):
        load_checkpoint(tmp_path)


def test_a_checkpoint_saved_before_checksums_still_loads(tmp_path: Path) -> None:
    save_checkpoint(tmp_path, {"value": 1}, arrays())
    config = json.loads((tmp_path / "config.json").read_text())
    del config["sha256"]
    (tmp_path / "config.json").write_text(json.dumps(config))
    checkpoint = load_checkpoint(tmp_path)
    assert checkpoint.config == {"value": 1}
    np.testing.assert_array_equal(checkpoint.arrays["model"][WEIGHT], arrays()["model"][WEIGHT])


def test_load_weights_verifies_a_checksum(tmp_path: Path) -> None:
    path = tmp_path / "w.safetensors"
    checksum = save_weights(path, arrays()["model"])
    np.testing.assert_array_equal(
        load_weights(path, sha256=checksum)[WEIGHT], arrays()["model"][WEIGHT]
    )
    flip_bits(path, count=1)
    load_weights(path)  # without a checksum: the flip goes unseen
    with pytest.raises(ValueError, match="w.safetensors.*SHA-256"):
        load_weights(path, sha256=checksum)


@pytest.mark.parametrize("damage", ["flip", "nan"])
def test_sample_and_eval_refuse_a_damaged_run_in_one_line(tmp_path: Path, damage: str) -> None:
    data = write_corpus(tmp_path, count=200)
    run = tmp_path / "run"
    status, _, err = run_cli("train", "--data", data, "--out", run, *TINY, "--max-steps", "3")
    assert status == 0, err
    for folder in (run, run / "best"):
        flip_bits(folder / "model.safetensors") if damage == "flip" else poison(folder)
    status, _, err = run_cli("sample", run, "--length", "20")
    assert_one_line_error(status, err, "model.safetensors")
    status, _, err = run_cli("eval", run, "--data", data)
    assert_one_line_error(status, err, "model.safetensors")
