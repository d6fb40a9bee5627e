"""Ctrl-C while an example trains: the line "stopped" and exit status 130, no traceback."""

from __future__ import annotations

import signal

import pytest

from tests.examples.loader import EXAMPLES
from tests.processes import signal_and_wait, start_python

# Each runs until stopped: far more steps than it takes in the test, and nothing to converge
# on (next_char cannot reach its text at learning rate 0).
ENDLESS = {
    "next_char": ["--steps", "1000000000", "--lr", "0", "--log-every", "1"],
    "min_char_rnn": ["--iterations", "1000000000", "--threads", "1"],
}


@pytest.mark.parametrize("name", ENDLESS)
def test_ctrl_c_stops_an_example_with_one_line_and_status_130(name: str) -> None:
    process = start_python(str(EXAMPLES / f"{name}.py"), *ENDLESS[name])
    first = process.stdout.readline()  # printed once the imports are done and it trains
    _, err = signal_and_wait(process, signal.SIGINT, timeout=60)
    assert first, err
    assert "Traceback" not in err
    assert err == "stopped\n"
    assert process.returncode == 130
