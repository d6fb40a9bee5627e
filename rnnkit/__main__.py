"""``python -m rnnkit``, and the installed ``rnnkit`` command (``run``).

The command line is imported here, under the same handling of Ctrl-C as the command
itself: a SIGINT while NumPy and the commands load (half a second) is "rnnkit:
interrupted" and exit status 130, not a traceback.
"""

import os
import sys
import warnings
from typing import TextIO

INTERRUPTED = 130  # as rnnkit.cli.main's: 128 + SIGINT


def one_line_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: TextIO | None = None,
    line: str | None = None,
) -> None:
    """``warnings.showwarning`` for the command: a warning is one line like the command's
    notes, without Python's file, line number and source line (which speak to developers;
    the library keeps Python's default)."""
    text = " ".join(str(message).split()).removeprefix("rnnkit: ")
    print(f"rnnkit: warning: {text}", file=sys.stderr if file is None else file)


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


def run() -> int:
    """The ``rnnkit`` command: its exit status."""
    warnings.showwarning = one_line_warning  # before the imports, whose warnings it shows too
    try:
        from rnnkit.cli.main import main
    except BaseException as error:
        if not interrupted(error):
            raise
        print("rnnkit: interrupted", file=sys.stderr, flush=True)
        # Nothing was started, so nothing needs closing; an interpreter interrupted in the
        # middle of loading NumPy's BLAS (its threads half made) may not shut down cleanly.
        os._exit(INTERRUPTED)
    try:
        return main()
    except KeyboardInterrupt:  # between main's own handling and its return
        print("rnnkit: interrupted", file=sys.stderr)
        return INTERRUPTED
    finally:
        forget_interrupt()  # main answers a Ctrl-C with its own status


if __name__ == "__main__":
    sys.exit(run())
