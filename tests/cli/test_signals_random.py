"""SIGINT, SIGTERM and SIGHUP at random moments of a real ``python -m rnnkit train`` (language
model) and ``train --task classify``: while the interpreter loads NumPy and the commands,
while the data is read and the model built, and during training, where validation and a
checkpoint save every 2 steps take most of the time, so a signal often lands inside one.

Whatever the moment: no traceback; exit status 128 + the signal, or 0, or 2 with one line;
and the run folder either holds no checkpoint (then a new run starts there) or one that
``rnnkit info`` reads and ``--resume`` continues. A SIGTERM or SIGHUP before the command has
installed its handlers ends the process as the signal does by default (the shell shows
128 + the signal); it has written no checkpoint then.

The moments come from a seeded generator. The interpreter's own startup, before any rnnkit
code runs, is out of rnnkit's hands, so the earliest moment is three times what ``python -c
pass`` takes on this machine (measured here)."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rnnkit.train.checkpoint import has_checkpoint, load_checkpoint
from tests.cli.cli_helpers import run_cli, write_corpus
from tests.cli.test_classifier_cli import write_tsv
from tests.processes import signal_and_wait, start_python

SIGNALS = [signal.SIGINT, signal.SIGTERM, signal.SIGHUP]
WAIT_LIMIT = 60  # seconds for a signalled process to end before the test gives up
# Never stopped by a learning rate that plateaus lowered: validating every 2 steps, a tiny
# classifier can converge before the signal, and then its resume would take no steps.
OFTEN = ["--eval-every", "2", "--save-every", "2", "--max-steps", "100000", "--threads", "1",
         "--stop-lr-ratio", "0"]  # fmt: skip
COMMANDS = {
    "lm": ["train", "--embedding-size", "8", "--hidden-size", "16", "--batch-size", "4",
           "--seq-len", "16"],
    "classify": ["train", "--task", "classify", "--embedding-size", "8", "--hidden-size", "12",
                 "--batch-size", "16"],
}  # fmt: skip


def interpreter_startup() -> float:
    """Seconds from starting ``python -c pass`` to its end: the part of startup before
    rnnkit's own code can answer a signal (the fastest of three)."""
    times = []
    for _ in range(3):
        start = time.monotonic()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        times.append(time.monotonic() - start)
    return min(times)


def moments(seed: int, earliest: float) -> list[tuple[str, signal.Signals, float]]:
    """``(command, signal, delay)``: per command, two delays in startup (SIGINT, and SIGTERM
    or SIGHUP) and three spread over the first seconds of training (each signal once)."""
    rng = random.Random(seed)
    drawn = []
    for command in COMMANDS:
        startup = [signal.SIGINT, rng.choice(SIGNALS[1:])]
        drawn += [(command, signum, rng.uniform(earliest, 0.6)) for signum in startup]
        drawn += [(command, signum, rng.uniform(0.6, 2.5)) for signum in rng.sample(SIGNALS, 3)]
    return drawn


def check_folder(command: str, run: Path, data: Path) -> None:
    """RUN holds no checkpoint and a new run starts there, or one that loads and resumes."""
    if not has_checkpoint(run):
        status, _, err = run_cli(*COMMANDS[command], data_flag(command), data, "--out", run,
                                 "--max-steps", "2")  # fmt: skip
        assert status == 0, err
        return
    status, _, err = run_cli("info", run)
    assert status == 0, err
    step = load_checkpoint(run).config["progress"]["step"]
    status, _, err = run_cli("train", "--out", run, "--resume", "--max-steps", str(step + 2))
    assert status == 0, err
    assert load_checkpoint(run).config["progress"]["step"] == step + 2


def data_flag(command: str) -> str:
    return "--data" if command == "lm" else "--train"


@pytest.mark.parametrize("seed", [14])
def test_signals_at_random_moments_never_lose_a_run(tmp_path: Path, seed: int) -> None:
    data = {"lm": write_corpus(tmp_path, count=400), "classify": write_tsv(tmp_path / "t.tsv")}
    earliest = 3 * interpreter_startup()
    for index, (command, signum, delay) in enumerate(moments(seed, earliest)):
        run = tmp_path / f"run{index}"
        argv = [*COMMANDS[command], data_flag(command), data[command], "--out", run, *OFTEN]
        process = start_python("-m", "rnnkit", *map(str, argv), stdout=subprocess.DEVNULL)
        time.sleep(delay)
        _, err = signal_and_wait(process, signum, WAIT_LIMIT)
        case = f"{command} {signum.name} after {delay:.2f} s: status {process.returncode}, {err!r}"
        assert "Traceback" not in err, case
        status = process.returncode
        if status == -signum and signum != signal.SIGINT:
            assert not has_checkpoint(run), case  # killed before the handlers were set
        elif status == 2:
            assert err.count("\n") == 1 and err.startswith("rnnkit: error: "), case
        else:
            assert status in (0, 128 + signum), case
            if status:
                assert err.count("\n") == 1 and err.startswith("rnnkit: interrupted"), case
        check_folder(command, run, data[command])
