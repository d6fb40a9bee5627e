"""Ctrl-C ends a program with one line and exit status 130, not a traceback.

A user who presses Ctrl-C asked the program to stop; Python's traceback of wherever the
KeyboardInterrupt happened to land speaks to developers and reads as a crash. A script ends
its own way::

    if __name__ == "__main__":
        stop_quietly_on_ctrl_c(main)

as the scripts in ``examples/`` do. The ``rnnkit`` command (``rnnkit.__main__``) prints its
own line with the same rules. This module imports nothing but the standard library, so that
``rnnkit.__main__`` can use it before NumPy loads.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

INTERRUPTED = 130  # the shell's convention: 128 + SIGINT


def interrupted(error: BaseException | None) -> bool:
    """Whether ERROR is a KeyboardInterrupt or was raised because of one: Python 3.11 wraps
    one raised inside ``__set_name__`` (a class being made) in a RuntimeError."""
    seen = set()
    while error is not None and id(error) not in seen:
        if isinstance(error, KeyboardInterrupt):
            return True
        seen.add(id(error))
        error = error.__cause__ or error.__context__
    return False


def forget_interrupt() -> None:
    """Tell CPython that the interrupt was handled. A KeyboardInterrupt raised inside
    ``exec`` of a string (dataclasses make their methods so) marks the run as ended by Ctrl-C
    even when it was caught, and the process then kills itself with SIGINT at exit instead
    of returning its status; running a string again clears the mark."""
    exec("None")


def stop_quietly_on_ctrl_c(main: Callable[[], object], message: str = "stopped") -> None:
    """Run MAIN; on Ctrl-C print MESSAGE on stderr and exit with status 130.

    Inputs:
        main: the program, called without arguments; any other exception propagates.
        message: the one line printed instead of a traceback.
    """
    try:
        main()
    except BaseException as error:
        if not interrupted(error):
            raise
        print(message, file=sys.stderr)
        forget_interrupt()
        sys.exit(INTERRUPTED)
