"""SIGINT, SIGTERM and SIGHUP inside stop_on_interrupt(): the first requests a stop and
records which signal (for the exit status), a second of any of them raises."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator

import pytest

from rnnkit.train.interrupt import StopRequest, stop_on_interrupt

SIGNALS = [signal.SIGINT, signal.SIGTERM, signal.SIGHUP]
STATUS = {signal.SIGINT: 130, signal.SIGTERM: 143, signal.SIGHUP: 129}


@pytest.fixture(autouse=True)
def answered_signals() -> Iterator[None]:
    """The stop signals not ignored, as in a terminal: pytest run under ``nohup`` (SIGHUP
    ignored) or as a script's background job (SIGINT ignored) would have stop_on_interrupt
    leave them ignored, and the tests that send them would fail."""
    before = {signum: signal.getsignal(signum) for signum in SIGNALS}
    for signum, handler in before.items():
        if handler is signal.SIG_IGN:
            default = signal.default_int_handler if signum == signal.SIGINT else signal.SIG_DFL
            signal.signal(signum, default)
    yield
    for signum, handler in before.items():
        if handler is not None:  # None: a handler set outside Python, which stays
            signal.signal(signum, handler)


def test_first_interrupt_requests_a_stop_second_one_raises() -> None:
    before = signal.getsignal(signal.SIGINT)
    with stop_on_interrupt() as stop:
        assert not stop.requested
        signal.raise_signal(signal.SIGINT)
        assert stop.requested
        with pytest.raises(KeyboardInterrupt):
            signal.raise_signal(signal.SIGINT)
    assert signal.getsignal(signal.SIGINT) is before


def run_until_stopped(stop: StopRequest, signum: int, send_at: int = 5) -> int:
    """A small loop that sends SIGNUM to this process at step SEND_AT and stops when asked;
    returns the step it stopped after."""
    for step in range(1, 10_000):
        if step == send_at:
            os.kill(os.getpid(), signum)
        if stop.requested:
            return step
    raise AssertionError("the signal did not stop the loop")


@pytest.mark.parametrize("signum", SIGNALS, ids=lambda s: signal.Signals(s).name)
def test_a_signal_stops_the_loop_at_the_next_step_and_sets_the_exit_status(signum: int) -> None:
    before = {s: signal.getsignal(s) for s in SIGNALS}
    with stop_on_interrupt() as stop:
        stopped_at = run_until_stopped(stop, signum)
        assert stopped_at == 5
        assert stop.signum == signum
        assert stop.signal_name == signal.Signals(signum).name
        assert stop.exit_status == STATUS[signum]
    assert {s: signal.getsignal(s) for s in SIGNALS} == before


@pytest.mark.parametrize(
    ("first", "second"),
    [
        (signal.SIGTERM, signal.SIGTERM),
        (signal.SIGHUP, signal.SIGINT),
        (signal.SIGINT, signal.SIGTERM),
    ],
    ids=["TERM-TERM", "HUP-INT", "INT-TERM"],
)
def test_a_second_signal_of_any_kind_raises_at_once(first: int, second: int) -> None:
    with stop_on_interrupt() as stop:
        os.kill(os.getpid(), first)
        assert stop.requested
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), second)
            for _ in range(1000):  # the handler runs between bytecodes, well within this
                pass
        assert stop.signum == first  # the first signal decides the exit status


def test_a_request_without_a_signal_is_ctrl_c() -> None:
    stop = StopRequest()
    assert not stop.requested
    stop.request()
    assert stop.requested and stop.exit_status == 130 and stop.signal_name == "SIGINT"


def test_a_signal_ignored_before_the_block_stays_ignored() -> None:
    # As under ``nohup``: SIGHUP ignored; SIGTERM is still answered.
    before = signal.signal(signal.SIGHUP, signal.SIG_IGN)
    try:
        with stop_on_interrupt() as stop:
            assert signal.getsignal(signal.SIGHUP) is signal.SIG_IGN
            os.kill(os.getpid(), signal.SIGHUP)
            for _ in range(1000):  # the handler would run between bytecodes, well within this
                pass
            assert not stop.requested
            os.kill(os.getpid(), signal.SIGTERM)
            assert stop.requested and stop.signum == signal.SIGTERM
        assert signal.getsignal(signal.SIGHUP) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGHUP, before)
