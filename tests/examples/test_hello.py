"""examples/hello.py ends predicting "ello" from "hell"."""

import subprocess
import sys

import pytest

from tests.examples.loader import EXAMPLES, load_example


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_hello_ends_predicting_ello(seed, capsys):
    predicted = load_example("hello").train(steps=300, seed=seed)
    assert predicted == "ello"
    out = capsys.readouterr().out
    assert "hell -> ello" in out.splitlines()[-1]


def test_no_steps_is_one_line_and_status_2():
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / "hello.py"), "--steps", "0"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr == "hello.py: --steps must be 1 or more, got 0\n" and done.stdout == ""
