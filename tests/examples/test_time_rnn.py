"""examples/time_rnn.py: the hand-built Time RNN gives rnnkit.nn.RNN's numbers."""

from tests.examples.loader import load_example


def test_time_rnn_matches_rnn_to_round_off(capsys):
    gap = load_example("time_rnn").run(length=20, time_steps=5)
    assert gap < 1e-12
    out = capsys.readouterr().out
    assert out.count("outputs and dL/dx agree") == 4  # four windows, the state carried


def test_time_rnn_other_shapes():
    example = load_example("time_rnn")
    gap = example.run(length=12, time_steps=3, batch=4, input_size=2, hidden_size=7, seed=3)
    assert gap < 1e-12
