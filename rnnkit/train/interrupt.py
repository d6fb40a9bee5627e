"""Ctrl-C as a request to stop at the next safe point, so the run can save a checkpoint.

A KeyboardInterrupt raised in the middle of an optimizer step would leave some parameters
updated and others not; a checkpoint of that state would not resume exactly. Inside
``stop_on_interrupt()`` the first Ctrl-C (SIGINT) only sets ``requested``: the training
loop checks it between steps, saves and returns. A second Ctrl-C raises KeyboardInterrupt
at once, for a user who does not want to wait.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager


class StopRequest:
    """Set ``requested`` to ask a training loop to stop after its current step."""

    def __init__(self) -> None:
        self.requested = False

    def request(self) -> None:
        self.requested = True


@contextmanager
def stop_on_interrupt() -> Iterator[StopRequest]:
    """A ``StopRequest`` that Ctrl-C sets, for the duration of the block.

    Signal handlers can only be installed from the main thread; elsewhere the request is
    returned but Ctrl-C keeps its default behaviour.
    """
    stop = StopRequest()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return

    def on_interrupt(signum: int, frame: object) -> None:
        if stop.requested:
            raise KeyboardInterrupt
        stop.request()

    previous = signal.signal(signal.SIGINT, on_interrupt)
    try:
        yield stop
    finally:
        signal.signal(signal.SIGINT, previous)
