"""examples/rnnlm.py: the simple RNN language model of DLFS2 ch. 5 learns its 1,000 words."""

import gzip
import subprocess
import sys

import pytest

from rnnkit.threads import limit_threads
from tests.examples.loader import EXAMPLES, load_example


def test_perplexity_falls_on_the_first_thousand_ptb_words(shared_data, capsys):
    example = load_example("rnnlm")
    words = example.read_words(shared_data / "ptb" / "ptb.train.txt.gz", 1000)
    with limit_threads(1):
        perplexities = example.run(words, epochs=15, log_every=5)
    assert len(perplexities) == 15
    # Measured (seed 0): 402 after the first epoch (418 distinct words: guessing uniformly
    # scores 418), 195 after the tenth, 190 after the fifteenth; 40 after the book's 100.
    assert 300 < perplexities[0] < 418
    assert perplexities[-1] < perplexities[0] / 1.8
    out = capsys.readouterr().out
    assert "1000 words, 418 distinct" in out
    assert "epoch  15  perplexity" in out


def test_words_end_every_line_with_eos_and_stop_at_the_count(tmp_path):
    path = tmp_path / "ptb.txt.gz"
    with gzip.open(path, "wt", encoding="utf-8") as file:
        file.write(" a b c \n d e\n f g h\n")
    read_words = load_example("rnnlm").read_words
    assert read_words(path, 6) == ["a", "b", "c", "<eos>", "d", "e"]
    words = read_words(path, 100)
    assert words == ["a", "b", "c", "<eos>", "d", "e", "<eos>", "f", "g", "h", "<eos>"]


def test_a_missing_file_is_one_line_and_status_2(tmp_path):
    missing = tmp_path / "absent.txt.gz"
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / "rnnlm.py"), "--data", str(missing)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.strip() == f"rnnlm.py: {missing} not found; give --data ptb.train.txt.gz"
    assert result.stdout == ""


def run_script(*args):
    return subprocess.run(
        [sys.executable, str(EXAMPLES / "rnnlm.py"), *map(str, args)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip


@pytest.mark.parametrize(
    "args, message",
    [
        (["--epochs", "0"], "--epochs must be 1 or more, got 0"),
        (["--threads", "0"], "--threads must be 1 or more, got 0"),
        (
            ["--words", "0"],
            "0 words read, fewer than the 20 that 10 streams need; give --words 20 or more",
        ),
        (
            ["--words", "11"],
            "11 words read, fewer than the 20 that 10 streams need; give --words 20 or more",
        ),
    ],
    ids=["no-epochs", "no-threads", "no-words", "too-few-words"],
)
def test_settings_it_cannot_train_with_are_one_line_and_status_2(tmp_path, args, message):
    # they ended in an IndexError, a ValueError (twice) and a UserError traceback
    data = tmp_path / "ptb.txt.gz"
    with gzip.open(data, "wt", encoding="utf-8") as file:
        file.write("the cat sat on the mat\n" * 10)
    result = run_script("--data", data, *args)
    assert result.returncode == 2
    assert result.stderr.strip() == f"rnnlm.py: {message}"
    assert "\n" not in result.stderr.strip() and result.stdout == ""


def test_a_file_that_is_not_gzipped_is_one_line_and_status_2(tmp_path):
    data = tmp_path / "ptb.train.txt"
    data.write_text("the cat sat on the mat\n")
    result = run_script("--data", data)
    assert result.returncode == 2
    assert result.stderr.startswith(f"rnnlm.py: {data} does not read as gzipped text (")
    assert result.stderr.count("\n") == 1 and result.stdout == ""
