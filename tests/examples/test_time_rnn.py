"""examples/time_rnn.py: the hand-built Time RNN gives rnnkit.nn.RNN's numbers."""

from tests.examples.loader import assert_refused, load_example, run_example


def test_time_rnn_matches_rnn_to_round_off(capsys):
    gap = load_example("time_rnn").run(length=20, time_steps=5)
    assert gap < 1e-12
    out = capsys.readouterr().out
    assert out.count("outputs and dL/dx agree") == 4  # four windows, the state carried


def test_time_rnn_other_shapes():
    example = load_example("time_rnn")
    gap = example.run(length=12, time_steps=3, batch=4, input_size=2, hidden_size=7, seed=3)
    assert gap < 1e-12


def test_a_last_window_shorter_than_t_is_carried_and_checked(capsys):
    # 7 steps in windows of 5: the second window has 2 steps. TimeRNN.backward ran over all
    # T cells and ended in an IndexError.
    gap = load_example("time_rnn").run(length=7, time_steps=5)
    assert gap < 1e-12
    out = capsys.readouterr().out
    assert "steps  5- 6: outputs and dL/dx agree" in out
    assert "summed over 2 windows" in out


def test_a_window_of_no_steps_is_one_line_and_status_2():
    done = run_example("time_rnn", "--time-steps", 0)
    assert_refused(done, "time_rnn.py: --time-steps must be 1 or more, got 0")
