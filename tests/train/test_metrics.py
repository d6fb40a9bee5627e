"""metrics.jsonl (append, torn last line, truncation) and the learning-curve PNG."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from rnnkit.train.metrics import MetricsLog
from rnnkit.train.plot import plot_learning_curve

RECORDS = [
    {"step": 10, "train_loss": 3.0},
    {"step": 20, "train_loss": 2.5},
    {"step": 20, "val_loss": 2.6},
    {"step": 30, "train_loss": 2.2},
]


def test_append_read_and_truncate(tmp_path: Path) -> None:
    log = MetricsLog(tmp_path / "metrics.jsonl")
    assert log.read() == []
    for record in RECORDS:
        log.append(record)
    with open(log.path, "a") as file:
        file.write('{"step": 40, "train_lo')  # a process killed mid-line
    assert log.read() == RECORDS
    log.truncate_after(20)
    assert log.read() == RECORDS[:3]


def test_a_last_line_torn_inside_a_character_or_of_junk_bytes_is_skipped(tmp_path: Path) -> None:
    # a resume read it as UTF-8 strictly and called the checkpoint damaged
    log = MetricsLog(tmp_path / "metrics.jsonl")
    for record in RECORDS:
        log.append(record)
    with open(log.path, "ab") as file:
        file.write('{"note": "caf\u00e9'.encode()[:-1] + b"\xff\xfe\x00")
    assert log.read() == RECORDS
    log.truncate_after(30)
    assert log.read() == RECORDS and log.path.read_bytes().endswith(b"}\n")


EDITED = ['{"step": "40", "val_loss": 1.0}', '{"step": null}', '{"val_loss": 1.0}', "[40]"]


def test_an_edited_line_whose_step_is_no_whole_number_is_skipped(tmp_path: Path) -> None:
    # a resume's truncation compared "40" with the checkpoint's step: "the checkpoint is
    # damaged ... start a new run"; a line without a step stopped the plot with a KeyError
    log = MetricsLog(tmp_path / "metrics.jsonl")
    for record in RECORDS:
        log.append(record)
    with open(log.path, "a") as file:
        file.write("".join(line + "\n" for line in EDITED))
    assert log.read() == RECORDS
    log.truncate_after(20)
    assert log.read() == RECORDS[:3]


def test_learning_curve_is_a_png(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    path = tmp_path / "curve.png"
    assert plot_learning_curve(RECORDS, path, title="run")
    assert path.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert [p.name for p in tmp_path.iterdir()] == ["curve.png"]  # no temporary left


def test_a_loss_that_is_no_number_is_no_point_of_the_curve(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    path = tmp_path / "curve.png"
    edited = [{"step": 25, "val_loss": [1, 2]}, {"step": 26, "train_loss": {"a": 1}}]
    assert plot_learning_curve(RECORDS + edited, path)
    assert path.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


def test_without_matplotlib_nothing_is_drawn(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # makes the import fail
    assert not plot_learning_curve(RECORDS, tmp_path / "curve.png")
    assert not (tmp_path / "curve.png").exists()
