"""Checkpoint folders: round trip, and a crash at every point of a save leaves a loadable
checkpoint (the old one or the new one, never a mixture)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from rnnkit.errors import UserError
from rnnkit.train.checkpoint import (
    PENDING,
    has_checkpoint,
    load_checkpoint,
    save_checkpoint,
)


def arrays_for(value: float) -> dict[str, dict[str, np.ndarray]]:
    return {
        "model": {"embedding.weight": np.full((3, 2), value, np.float32)},
        "optimizer": {"lr": np.array(value), "step": np.array(int(value))},
    }


def assert_is_save(folder: Path, value: float) -> None:
    """The checkpoint in FOLDER is, in every file, the one saved with VALUE."""
    checkpoint = load_checkpoint(folder)
    assert checkpoint.config == {"value": value}
    np.testing.assert_array_equal(checkpoint.arrays["model"]["embedding.weight"], value)
    assert float(checkpoint.arrays["optimizer"]["lr"]) == value


def test_round_trip(tmp_path: Path) -> None:
    config = {"value": 1.0}
    assert not has_checkpoint(tmp_path / "run")
    save_checkpoint(tmp_path / "run", config, arrays_for(1.0))
    assert has_checkpoint(tmp_path / "run")
    assert_is_save(tmp_path / "run", 1.0)
    names = sorted(p.name for p in (tmp_path / "run").iterdir())
    assert names == ["config.json", "model.safetensors", "optimizer.safetensors"]
    written = json.loads((tmp_path / "run" / "config.json").read_text())
    assert written["files"] == ["model.safetensors", "optimizer.safetensors"]


def test_a_later_save_replaces_and_drops_groups(tmp_path: Path) -> None:
    save_checkpoint(tmp_path, {"value": 1.0}, {**arrays_for(1.0), "extra": {"x": np.ones(2)}})
    save_checkpoint(tmp_path, {"value": 2.0}, arrays_for(2.0))
    assert_is_save(tmp_path, 2.0)
    assert "extra" not in load_checkpoint(tmp_path).arrays


class CrashError(Exception):
    """Stands for the process dying at this point."""


@pytest.mark.parametrize("crash_at", range(8))
def test_a_crash_anywhere_in_a_save_leaves_a_whole_checkpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, crash_at: int
) -> None:
    # A save renames files 6 times (3 atomic writes into staging, the commit, 3 moves
    # out of .pending) plus the final cleanup; crash before each of them in turn.
    save_checkpoint(tmp_path, {"value": 1.0}, arrays_for(1.0))
    calls = {"count": 0}
    real_replace, real_rename = os.replace, os.rename

    def counting(real):
        def wrapper(*args, **kwargs):
            if calls["count"] == crash_at:
                raise CrashError
            calls["count"] += 1
            return real(*args, **kwargs)

        return wrapper

    monkeypatch.setattr(os, "replace", counting(real_replace))
    monkeypatch.setattr(os, "rename", counting(real_rename))
    try:
        save_checkpoint(tmp_path, {"value": 2.0}, arrays_for(2.0))
        crashed = False
    except CrashError:
        crashed = True
    monkeypatch.undo()

    # The 4th rename is the commit: from there on the new checkpoint is the one.
    committed = calls["count"] > 3
    assert crashed or committed
    assert (tmp_path / PENDING).exists() == (crashed and committed)
    assert_is_save(tmp_path, 2.0 if committed else 1.0)
    # The next save finishes or sweeps away whatever the crash left.
    save_checkpoint(tmp_path, {"value": 3.0}, arrays_for(3.0))
    assert_is_save(tmp_path, 3.0)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "config.json",
        "model.safetensors",
        "optimizer.safetensors",
    ]


def test_files_from_two_saves_are_refused(tmp_path: Path) -> None:
    save_checkpoint(tmp_path / "a", {"value": 1.0}, arrays_for(1.0))
    save_checkpoint(tmp_path / "b", {"value": 2.0}, arrays_for(2.0))
    os.replace(tmp_path / "b" / "model.safetensors", tmp_path / "a" / "model.safetensors")
    with pytest.raises(UserError, match="damaged .*another save"):
        load_checkpoint(tmp_path / "a")


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda d: (d / "model.safetensors").write_bytes(b"\x00" * 5), "model.safetensors"),
        (lambda d: (d / "model.safetensors").unlink(), "model.safetensors is missing"),
        (lambda d: (d / "config.json").write_text("{not json"), "not valid JSON"),
        (lambda d: (d / "config.json").write_text("{}"), "lacks"),
        # weights left without their config.json: not "holds no checkpoint"
        (lambda d: (d / "config.json").unlink(), r"damaged \(config.json is missing\)"),
    ],
)
def test_damaged_checkpoints_give_one_line_errors(tmp_path: Path, damage, message: str) -> None:
    save_checkpoint(tmp_path, {"value": 1.0}, arrays_for(1.0))
    damage(tmp_path)
    with pytest.raises(UserError, match=message) as error:
        load_checkpoint(tmp_path)
    assert "\n" not in str(error.value)


def test_no_checkpoint(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="holds no checkpoint"):
        load_checkpoint(tmp_path)
    with pytest.raises(UserError, match="is not a folder"):
        load_checkpoint(tmp_path / "missing")
