"""``python -m rnnkit``, and the installed ``rnnkit`` command (``run``).

The command line is imported here, under the same handling of Ctrl-C as the command
itself: a SIGINT while NumPy and the commands load (half a second) is "rnnkit:
interrupted" and exit status 130, not a traceback.
"""

import os
import sys
import warnings
from typing import TextIO

from rnnkit.ctrl_c import INTERRUPTED, forget_interrupt, interrupted


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
