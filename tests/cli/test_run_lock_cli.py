"""One writer per run folder: a second ``rnnkit train`` into a folder a live run writes is
refused in one line naming the holder's PID, while readers (``rnnkit sample``) keep working."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

from rnnkit.train import load_checkpoint
from tests.cli.cli_helpers import TINY, assert_one_line_error, run_cli, write_corpus
from tests.cli.test_signals import STARTUP_LIMIT, start_training, stop, wait_until_training


def second_writer(*argv: object) -> tuple[int, str]:
    done = subprocess.run(
        [sys.executable, "-m", "rnnkit", *map(str, argv)],
        capture_output=True,
        text=True,
        timeout=STARTUP_LIMIT,
    )
    return done.returncode, done.stderr


def test_a_second_writer_is_refused_and_readers_keep_working(tmp_path: Path) -> None:
    data = write_corpus(tmp_path, count=400)
    run = tmp_path / "run"
    first = start_training(data, run)
    try:
        wait_until_training(first, run)
        # A resume beside the live run, in this process: refused as well.
        status, _, err = run_cli("train", "--out", run, "--resume", "--max-steps", "5")
        assert_one_line_error(status, err, f"PID {first.pid}")
        # Readers never take the lock.
        status, out, err = run_cli("sample", run, "--length", "20")
        assert status == 0, err
        assert out
        # A fresh run into the same folder, in another process: refused by the lock (the
        # folder is being written), before it writes anything.
        status, err = second_writer("train", "--data", data, "--out", run, *TINY)
        assert_one_line_error(status, err, f"PID {first.pid}", str(run))
        # A fresh classifier run into it too.
        table = tmp_path / "t.tsv"
        table.write_text("label\ttext\npos\tgood fun\nneg\tbad dull\n" * 20, encoding="utf-8")
        status, _, err = run_cli("train-classifier", "--train", table, "--out", run)
        assert_one_line_error(status, err, f"PID {first.pid}")
        assert first.poll() is None  # the first run went on all along
    finally:
        _, err = stop(first, signal.SIGTERM)
    assert first.returncode == 143, err
    step = load_checkpoint(run).config["progress"]["step"]
    assert step >= 10
    # The lock died with its holder: the run resumes.
    status, _, err = run_cli("train", "--out", run, "--resume", "--max-steps", str(step + 2))
    assert status == 0, err
    assert load_checkpoint(run).config["progress"]["step"] == step + 2
