"""The first example must end by predicting the exact string."""

import importlib.util
from pathlib import Path

import pytest

from tests.examples.loader import assert_refused, run_example

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "next_char.py"


def load_example():
    spec = importlib.util.spec_from_file_location("next_char", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_next_char_learns_the_exact_string(capsys):
    predicted = load_example().train("if you want me", steps=200, lr=0.02, seed=0, log_every=50)
    assert predicted == "if you want me"
    assert "loss" in capsys.readouterr().out


def test_next_char_learns_another_string():
    predicted = load_example().train("hello world", steps=1000, lr=0.02, seed=1, log_every=100)
    assert predicted == "hello world"


def test_it_opens_with_the_exercise_and_ends_with_the_string():
    done = run_example("next_char")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("An RNN learns 'if you want me' one character at a time")
    assert lines[-1] == "predicted: if you want me"


@pytest.mark.parametrize(
    "args, message",
    [
        (["--text", "a"], "--text 'a' has no next character to learn"),
        (["--steps", "0"], "--steps must be 1 or more, got 0"),
        (["--log-every", "0"], "--log-every must be 1 or more, got 0"),
    ],
    ids=["one-character", "no-steps", "no-log"],
)
def test_settings_it_cannot_train_with_are_one_line_and_status_2(args, message):
    # a ValueError traceback for one character, a ZeroDivisionError for --log-every 0
    assert_refused(run_example("next_char", *args), f"next_char.py: {message}")
