"""examples/dates.py: with attention the encoder-decoder learns the dates; without, it does not."""

import datetime
import importlib.util
import subprocess
import sys

import pytest

from rnnkit.threads import limit_threads
from tests.examples.loader import EXAMPLES, assert_refused, load_example, run_example


def test_attention_beats_no_attention_on_held_out_exact_match(capsys, tmp_path):
    example = load_example("dates")
    drawing = importlib.util.find_spec("matplotlib") is not None
    png = tmp_path / "attention.png" if drawing else None
    # The book's file when ../shared/data holds it, else the made-up dates. One thread: on
    # a shared 2-core machine a second one makes these small products slower.
    with limit_threads(1):
        result = example.run(example.DATES, seed=0, png=png, **example.QUICK)
    assert set(result) == {"no attention", "attention"}
    # Measured at these settings: on the book's dates 94.2% and 100.0% (seeds 0, 1) against
    # 0.0%; on the made-up dates (harder: 150 years, a dozen formats) 29.3% against 3.7%.
    assert result["attention"] > result["no attention"] + 0.2
    if example.DATES.is_file():
        assert result["attention"] >= 0.8
    out = capsys.readouterr().out
    assert "--- attention ---" in out and "held-out exact match" in out
    if drawing:
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert f"drawn in {png}" in out


def test_the_made_up_dates_are_the_same_days():
    written, iso = load_example("dates").made_up_dates(500, seed=3)
    assert len(written) == len(iso) == 500
    for text, answer in zip(written, iso, strict=True):
        day = datetime.date.fromisoformat(answer)
        assert 1900 <= day.year <= 2049
        # every format writes the day of the month and the year (two or four digits)
        assert str(day.day) in text and str(day.year)[2:] in text


def test_help_says_what_quick_runs():
    quick = load_example("dates").QUICK
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / "dates.py"), "--help"], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    text = " ".join(done.stdout.split())
    assert f"{quick['hidden_size']} hidden units" in text and f"{quick['epochs']} epochs" in text


def test_the_program_says_what_it_learns_and_ends_with_each_variants_result(monkeypatch, capsys):
    example = load_example("dates")
    # The training itself is tested above; here only what the program prints around it.
    monkeypatch.setattr(
        example, "run", lambda *args, **kwargs: {"no attention": 0.0, "attention": 0.942}
    )
    monkeypatch.setattr(sys, "argv", ["dates.py", "--quick"])
    example.main()
    lines = capsys.readouterr().out.strip().splitlines()
    assert "attention" in lines[0] and "ISO" in lines[0]
    assert lines[-2:] == [
        "no attention: held-out exact match 0.0%",
        "   attention: held-out exact match 94.2%",
    ]


@pytest.mark.parametrize("flag", ["--epochs", "--threads"])
def test_a_count_below_one_is_one_line_and_status_2(flag):
    # --epochs 0 ended in an UnboundLocalError traceback, --threads 0 in a ValueError one
    assert_refused(run_example("dates", flag, 0), f"dates.py: {flag} must be 1 or more, got 0")


def test_a_picture_without_matplotlib_is_one_line_before_training(tmp_path):
    # It trained both variants, then ended in a UserError traceback at the picture.
    done = run_example("dates", "--quick", "--png", tmp_path / "a.png", without_matplotlib=tmp_path)
    assert_refused(done, "dates.py: --png needs matplotlib: pip install 'rnnkit[plot]'")
