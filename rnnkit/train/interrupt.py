"""Ctrl-C, SIGTERM and SIGHUP as a request to stop at the next safe point, so the run saves.

A KeyboardInterrupt raised in the middle of an optimizer step would leave some parameters
updated and others not; a checkpoint of that state would not resume exactly. Inside
``stop_on_interrupt()`` the first of SIGINT (Ctrl-C), SIGTERM (``kill``, ``timeout``, batch
schedulers, ``docker stop``) or SIGHUP (a closed terminal or dropped SSH session) only sets
``requested`` and records the signal: the training loop checks it between steps, saves and
returns, and the command exits with ``exit_status`` (128 + the signal's number: 130, 143,
129, the shell's convention). A second of these signals raises KeyboardInterrupt at once,
for a user who does not want to wait.

A signal that was ignored when the block began stays ignored: a shell starts a background job
(``rnnkit train ... &`` in a script) with SIGINT ignored, and ``nohup`` ignores SIGHUP, so that
a Ctrl-C meant for the foreground, or a closed terminal, does not stop the run.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

# The signals that ask a run to stop and save; SIGHUP does not exist on Windows.
STOP_SIGNALS: tuple[signal.Signals, ...] = tuple(
    getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name)
)


class StopRequest:
    """Set ``requested`` to ask a training loop to stop after its current step.

    ``signum`` is the signal that asked (SIGINT when ``request`` is called without one).
    """

    def __init__(self) -> None:
        self.requested = False
        self.signum: int | None = None

    def request(self, signum: int = signal.SIGINT) -> None:
        self.requested = True
        self.signum = int(signum)

    @property
    def signal_name(self) -> str:
        """E.g. ``"SIGTERM"`` (``"SIGINT"`` when nothing was requested yet)."""
        return signal.Signals(self.signum or signal.SIGINT).name

    @property
    def exit_status(self) -> int:
        """The status to exit with after stopping: 128 + the signal's number (130 for Ctrl-C)."""
        return 128 + int(self.signum or signal.SIGINT)


@contextmanager
def stop_on_interrupt() -> Iterator[StopRequest]:
    """A ``StopRequest`` that SIGINT, SIGTERM or SIGHUP sets, for the duration of the block.

    Signal handlers can only be installed from the main thread; elsewhere the request is
    returned but the signals keep their default behaviour. A signal ignored (``SIG_IGN``)
    when the block begins is left ignored. The previous handlers come back when the block
    ends.
    """
    stop = StopRequest()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return

    def on_signal(signum: int, frame: object) -> None:
        if stop.requested:
            raise KeyboardInterrupt
        stop.request(signum)

    # Whoever started the process ignored these on purpose (see module): leave them so.
    answered = [s for s in STOP_SIGNALS if signal.getsignal(s) is not signal.SIG_IGN]
    previous = {signum: signal.signal(signum, on_signal) for signum in answered}
    try:
        yield stop
    finally:
        for signum, handler in previous.items():
            # None: a handler installed outside Python, which cannot be put back.
            signal.signal(signum, signal.SIG_DFL if handler is None else handler)
