"""The progress bar's text: loss, speed and time left."""

from __future__ import annotations

import pytest

from rnnkit.train.progress import ProgressBar, format_duration


def test_format_duration() -> None:
    assert format_duration(75) == "1:15"
    assert format_duration(3725) == "1:02:05"
    assert format_duration(0.4) == "0:00"


def test_bar_shows_loss_speed_and_eta(capsys: pytest.CaptureFixture[str]) -> None:
    bar = ProgressBar(total_steps=100, initial_step=40, enabled=True)
    bar.update(41, loss=1.23456, tokens_per_second=12345.0, eta_seconds=90)
    bar.write("a message")
    bar.close()
    captured = capsys.readouterr()
    assert "loss 1.235" in captured.err
    assert "12,345 tok/s" in captured.err
    assert "eta 1:30" in captured.err
    assert "41/100" in captured.err
    assert captured.out == "a message\n"
