"""examples/sentiment.py: a bi-LSTM on a slice of SST-2 beats the majority class."""

import pytest

from tests.examples.loader import assert_refused, load_example, run_example


def test_sentiment_beats_the_majority_class_on_held_out_sentences(shared_data, capsys):
    sst2 = shared_data / "sst2"
    result = load_example("sentiment").run(sst2, train_size=2000, epochs=3, seed=0)
    assert result["accuracy"] > result["majority"] + 0.05
    assert "held-out accuracy" in capsys.readouterr().out


@pytest.mark.parametrize(
    "args, message",
    [
        (["--data", "absent"], "absent holds no stsa.binary.train; give --data SST-2's folder"),
        (["--data", ".", "--epochs", "0"], "--epochs must be 1 or more, got 0"),
        (["--data", ".", "--train-size", "0"], "--train-size must be 1 or more, got 0"),
    ],
    ids=["no-data", "no-epochs", "no-sentences"],
)
def test_settings_it_cannot_train_with_are_one_line_and_status_2(tmp_path, args, message):
    # A FileNotFoundError and an UnboundLocalError traceback; no sentences trained on NaNs.
    for name in ("stsa.binary.train", "stsa.binary.dev"):
        (tmp_path / name).write_text("1 a fine film\n0 a dull one\n", "utf-8")
    assert_refused(run_example("sentiment", *args, cwd=tmp_path), f"sentiment.py: {message}")
