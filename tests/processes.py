"""Python programs started for the tests as a shell in a terminal starts a command, and
stopped by a signal."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def default_signals() -> None:
    """SIGINT, SIGTERM and SIGHUP at their defaults and unblocked, whatever earlier tests left
    in this process (both are inherited across exec); a shell's background job would ignore
    SIGINT."""
    for signum in STOP_SIGNALS:
        signal.signal(signum, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_SETMASK, set())


def start_python(*args: str, stdout: int = subprocess.PIPE) -> subprocess.Popen[str]:
    """``python ARGS`` with its output unbuffered, stderr piped, text, the signals at their
    defaults."""
    return subprocess.Popen(
        [sys.executable, *args],
        stdout=stdout,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        preexec_fn=default_signals,
    )


def signal_and_wait(
    process: subprocess.Popen[str], signum: int, timeout: float
) -> tuple[str | None, str]:
    """Send SIGNUM to PROCESS and wait up to TIMEOUT seconds for its end: its stdout and
    stderr. The process is killed if it is still running after that."""
    try:
        process.send_signal(signum)
        return process.communicate(timeout=timeout)
    finally:
        if process.poll() is None:
            process.kill()
