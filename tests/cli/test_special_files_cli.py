"""``--data /dev/zero`` (and the classifier's ``--train``, ``--embeddings``): one line and
exit status 2, at once, and no run folder left behind."""

from __future__ import annotations

import resource
import subprocess
import sys
from pathlib import Path

from tests.cli.cli_helpers import TINY, assert_one_line_error, run_cli

SMALL_CLASSIFIER = ["--embedding-size", "8", "--hidden-size", "16", "--max-steps", "2"]
LIMIT = 120  # seconds; a hang guard only
MEMORY = 4 << 30  # bytes: a process that reads /dev/zero whole dies here, not at 24 GB


def limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY, MEMORY))


def test_train_on_dev_zero_is_one_line_in_a_real_process(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "rnnkit", "train", "--data", "/dev/zero", "--out",
         str(tmp_path / "run"), *TINY],
        capture_output=True,
        text=True,
        timeout=LIMIT,
        preexec_fn=limit_memory,
    )  # fmt: skip
    assert_one_line_error(done.returncode, done.stderr, "/dev/zero", "character device")
    assert not (tmp_path / "run").exists()  # nothing written, not even the lock


def test_classifier_inputs_that_are_devices_are_one_line(tmp_path: Path) -> None:
    table = tmp_path / "t.tsv"
    table.write_text("label\ttext\n" + "pos\tgood fun\nneg\tbad dull\n" * 10)
    status, _, err = run_cli("train-classifier", "--train", "/dev/zero", *SMALL_CLASSIFIER)
    assert_one_line_error(status, err, "/dev/zero", "character device")
    status, _, err = run_cli(
        "train-classifier", "--train", table, "--embeddings", "/dev/zero", "--out",
        tmp_path / "run", *SMALL_CLASSIFIER
    )  # fmt: skip
    assert_one_line_error(status, err, "/dev/zero", "character device")
