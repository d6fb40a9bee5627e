"""examples/hello.py ends predicting "ello" from "hell"."""

import pytest

from tests.examples.loader import load_example


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_hello_ends_predicting_ello(seed, capsys):
    predicted = load_example("hello").train(steps=300, seed=seed)
    assert predicted == "ello"
    out = capsys.readouterr().out
    assert "hell -> ello" in out.splitlines()[-1]
