"""examples/sentiment.py: a bi-LSTM on a slice of SST-2 beats the majority class."""

from tests.examples.loader import load_example


def test_sentiment_beats_the_majority_class_on_held_out_sentences(shared_data, capsys):
    sst2 = shared_data / "sst2"
    result = load_example("sentiment").run(sst2, train_size=2000, epochs=3, seed=0)
    assert result["accuracy"] > result["majority"] + 0.05
    assert "held-out accuracy" in capsys.readouterr().out
