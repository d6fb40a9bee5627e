"""examples/hello.py ends predicting "ello" from "hell"."""

import pytest

from tests.examples.loader import assert_refused, load_example, run_example


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_hello_ends_predicting_ello(seed, capsys):
    predicted = load_example("hello").train(steps=300, seed=seed)
    assert predicted == "ello"
    out = capsys.readouterr().out
    assert "hell -> ello" in out.splitlines()[-1]


def test_no_steps_is_one_line_and_status_2():
    assert_refused(run_example("hello", "--steps", 0), "hello.py: --steps must be 1 or more, got 0")
