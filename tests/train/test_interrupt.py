"""Ctrl-C inside stop_on_interrupt(): the first sets the request, the second raises."""

from __future__ import annotations

import signal

import pytest

from rnnkit.train.interrupt import stop_on_interrupt


def test_first_interrupt_requests_a_stop_second_one_raises() -> None:
    before = signal.getsignal(signal.SIGINT)
    with stop_on_interrupt() as stop:
        assert not stop.requested
        signal.raise_signal(signal.SIGINT)
        assert stop.requested
        with pytest.raises(KeyboardInterrupt):
            signal.raise_signal(signal.SIGINT)
    assert signal.getsignal(signal.SIGINT) is before
