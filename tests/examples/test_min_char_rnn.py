"""examples/min_char_rnn.py: Karpathy's equations on rnnkit's parameters, learning, errors."""

import re
import subprocess
import sys

import numpy as np

from rnnkit.threads import limit_threads
from tests.examples.loader import EXAMPLES, load_example

SCRIPT = str(EXAMPLES / "min_char_rnn.py")


def run_script(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, SCRIPT, *args], capture_output=True, text=True, timeout=120
    )


def test_the_smooth_loss_falls_and_samples_are_printed():
    # Python's own sources by default, as a user running it without a file gets.
    result = run_script("--iterations", "600", "--sample-every", "200", "--threads", "1")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    smooth = {
        int(n): float(loss) for n, loss in re.findall(r"iter (\d+), smooth loss ([\d.]+)", out)
    }
    assert sorted(smooth) == [0, 200, 400, 599]
    losses = [smooth[n] for n in sorted(smooth)]
    # Measured (seed 0): 114.1 (25 ln 96: uniform guessing), 111.2, 107.5, 103.0.
    assert all(later < earlier for earlier, later in zip(losses, losses[1:], strict=False))
    assert losses[-1] < losses[0] - 5
    samples = re.findall(r"---- sample at iteration (\d+)\n(.*?)\n----\n", out, re.S)
    assert [int(n) for n, _ in samples] == [0, 200, 400]
    assert all(len(text) == 200 for _, text in samples)
    assert "at iteration 599 (per 25 characters" in out.splitlines()[-1]


def test_its_parameters_compute_karpathys_equations():
    # h = tanh(Wxh x + Whh h + bh), y = Why h + by, loss = -sum log softmax(y)[target],
    # written out with the arrays the docstring maps his names to.
    example = load_example("min_char_rnn")
    rng = np.random.default_rng(1)
    model = example.MinCharRNN(vocab_size=7, hidden_size=5, rng=rng)
    for value in model.params.values():  # his zero biases would hide a swapped bias
        value[...] = rng.normal(0.0, 0.5, value.shape)
    model.params[example.FROZEN][...] = 0.0
    p = model.params
    Wxh, Whh, bh = p["rnn.weight_ih_l0"], p["rnn.weight_hh_l0"], p["rnn.bias_ih_l0"]
    Why, by = p["out.weight"], p["out.bias"]
    inputs, targets = np.array([0, 3, 6, 2]), np.array([3, 6, 2, 5])
    h0 = rng.normal(0.0, 0.5, (1, 5))

    h, expected_loss = h0[0], 0.0
    for x_id, target in zip(inputs, targets, strict=True):
        h = np.tanh(Wxh[:, x_id] + Whh @ h + bh)
        y = Why @ h + by
        expected_loss -= y[target] - np.log(np.sum(np.exp(y)))

    with limit_threads(1):
        loss, h_last = model.loss_and_backward(inputs, targets, h0)
    np.testing.assert_allclose(loss, expected_loss, rtol=1e-12)
    np.testing.assert_allclose(h_last[0], h, rtol=1e-12)


def test_training_leaves_the_second_hidden_bias_at_zero():
    example = load_example("min_char_rnn")
    with limit_threads(1):
        result = example.train("abcd efgh " * 20, 40, sample_every=40)
    params = result["model"].params
    assert np.all(params[example.FROZEN] == 0)
    assert np.any(params["rnn.bias_ih_l0"] != 0)  # bh, which Adagrad did train


def test_a_missing_file_is_one_line_and_status_2(tmp_path):
    missing = tmp_path / "input.txt"
    result = run_script(str(missing))
    assert result.returncode == 2
    assert result.stderr == (
        f"min_char_rnn.py: {missing} not found; give a text file, or none for Python's sources\n"
    )
    assert result.stdout == ""


def test_a_text_shorter_than_a_window_is_refused(tmp_path):
    short = tmp_path / "short.txt"
    short.write_text("twenty-five characters!!", "utf-8")
    result = run_script(str(short))
    assert result.returncode == 2
    assert result.stderr == (
        f"min_char_rnn.py: {short} has 24 characters; give a text of 26 or more\n"
    )
