"""examples/vanishing_gradients.py: the numbers behind the picture, and the picture."""

import pytest

from tests.examples.loader import assert_refused, load_example, run_example


def test_rnn_gradient_vanishes_over_50_steps_while_the_lstms_does_not(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    png = tmp_path / "gradients.png"
    panels = load_example("vanishing_gradients").run(steps=60, png=str(png))
    rnn, lstm, gru = panels["PyTorch's initialisation"][:3]
    assert rnn.ratio(50) < 1e-6  # many orders of magnitude
    assert lstm.ratio(50) > 0.1  # less than one
    assert gru.ratio(50) > 0.01
    assert png.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert "figure:" in capsys.readouterr().out


def test_clipping_caps_the_exploding_gradient_only():
    panels = load_example("vanishing_gradients").run(steps=60, png=None, clip=1.0)
    large = {flow.label: flow for flow in panels["recurrent weights x3"]}
    assert large["RNN"].norms.max() > 5  # explodes
    assert large["RNN, clipped at 1"].norms.max() <= 1 + 1e-9
    default = {flow.label: flow for flow in panels["PyTorch's initialisation"]}
    # A vanished gradient is far below the threshold: clipping leaves it as it was.
    assert (default["RNN, clipped at 1"].norms == default["RNN"].norms).all()


def test_fewer_steps_than_the_table_reads_is_one_line_and_status_2(tmp_path):
    # The table reads the gradient 50 steps back: --steps 30 ended in an IndexError.
    done = run_example("vanishing_gradients", "--steps", 30, cwd=tmp_path)
    assert_refused(done, "vanishing_gradients.py: --steps must be 50 or more, got 30")
    assert not list(tmp_path.iterdir())  # no picture drawn


def test_a_picture_without_matplotlib_is_one_line_before_measuring(tmp_path):
    # It measured, printed the table, then ended in a UserError traceback at the picture.
    done = run_example(
        "vanishing_gradients", "--png", tmp_path / "g.png", without_matplotlib=tmp_path
    )
    message = "vanishing_gradients.py: --png needs matplotlib: pip install 'rnnkit[plot]'"
    assert_refused(done, message)


def test_without_png_it_measures_and_says_how_to_draw(tmp_path):
    done = run_example("vanishing_gradients", cwd=tmp_path, without_matplotlib=tmp_path / "lib")
    assert done.returncode == 0, done.stderr
    assert "the RNN's has vanished, the LSTM's has not" in done.stdout
    assert done.stdout.splitlines()[-1] == "(--png FILE draws the two panels)"
    assert [path.name for path in tmp_path.iterdir()] == ["lib"]  # no picture written
