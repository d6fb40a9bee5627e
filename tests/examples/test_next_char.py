"""The first example must end by predicting the exact string."""

import importlib.util
from pathlib import Path

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
