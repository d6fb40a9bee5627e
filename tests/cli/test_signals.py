"""SIGTERM and SIGHUP stop a real ``rnnkit train`` process as Ctrl-C does: a checkpoint is
saved at the next safe point, the run resumes, and the exit status is 128 + the signal. A
signal ignored when the process started (a shell's background job ignores SIGINT) stays
ignored."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from rnnkit.train import load_checkpoint
from tests.cli.cli_helpers import TINY, run_cli, write_corpus
from tests.processes import default_signals

STARTUP_LIMIT = 120  # seconds to wait for training to get going before giving up


def start_training(
    data: Path, run: Path, preexec_fn: Callable[[], object] = default_signals
) -> subprocess.Popen[str]:
    """``python -m rnnkit train`` into RUN, with a budget it will not reach on its own;
    PREEXEC_FN runs in the child before the interpreter starts (by default it sets the stop
    signals to their defaults, which pytest run under ``nohup`` or in the background would
    otherwise pass on ignored)."""
    return subprocess.Popen(
        [sys.executable, "-m", "rnnkit", "train", "--data", str(data), "--out", str(run),
         *TINY, "--max-steps", "100000", "--eval-every", "1000000", "--threads", "1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        preexec_fn=preexec_fn,
    )  # fmt: skip


def wait_until_training(process: subprocess.Popen[str], run: Path) -> None:
    """Until RUN has its config.json and metrics.jsonl its first record (10 steps done)."""
    metrics = run / "metrics.jsonl"
    deadline = time.monotonic() + STARTUP_LIMIT
    while not ((run / "config.json").exists() and metrics.exists() and metrics.stat().st_size):
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "training did not start"
        time.sleep(0.05)


def stop(process: subprocess.Popen[str], signum: int) -> tuple[str, str]:
    process.send_signal(signum)
    try:
        return process.communicate(timeout=STARTUP_LIMIT)
    finally:
        if process.poll() is None:
            process.kill()


@pytest.mark.parametrize(
    ("signum", "status"), [(signal.SIGTERM, 143), (signal.SIGHUP, 129)], ids=["TERM", "HUP"]
)
def test_a_signal_saves_a_checkpoint_that_resumes(tmp_path: Path, signum: int, status: int) -> None:
    data = write_corpus(tmp_path, count=400)
    run = tmp_path / "run"
    process = start_training(data, run)
    try:
        wait_until_training(process, run)
    except BaseException:
        process.kill()
        raise
    _, err = stop(process, signum)
    assert process.returncode == status, err
    assert "Traceback" not in err
    step = load_checkpoint(run).config["progress"]["step"]
    # The step it stopped at, the signal, and how to continue, in one line.
    assert err.count("\n") == 1, err
    assert f"interrupted at step {step} ({signal.Signals(signum).name})" in err
    assert f"continue with: rnnkit train --out {run} --resume" in err

    assert step >= 10  # not the step-0 checkpoint: the work since then was saved
    code, _, err = run_cli("train", "--out", run, "--resume", "--max-steps", str(step + 3))
    assert code == 0, err
    assert load_checkpoint(run).config["progress"]["step"] == step + 3


def ignore_sigint() -> None:
    """As ``sh`` starts ``cmd &`` in a script: SIGINT ignored (this survives exec), the
    other stop signals at their defaults."""
    default_signals()
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def test_a_sigint_ignored_at_start_stays_ignored(tmp_path: Path) -> None:
    run = tmp_path / "run"
    process = start_training(write_corpus(tmp_path, count=400), run, preexec_fn=ignore_sigint)
    try:
        wait_until_training(process, run)
        process.send_signal(signal.SIGINT)
        # Taken as a stop, the SIGINT would end the run within a step; it trains on for two
        # more metrics records (10 steps each).
        metrics = run / "metrics.jsonl"
        records = metrics.read_text().count("\n")
        deadline = time.monotonic() + STARTUP_LIMIT
        while metrics.read_text().count("\n") < records + 2:
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "training made no progress"
            time.sleep(0.05)
    except BaseException:
        process.kill()
        raise
    _, err = stop(process, signal.SIGTERM)  # the other signals still stop it as usual
    assert process.returncode == 143, err
    assert "(SIGTERM)" in err and "Traceback" not in err
