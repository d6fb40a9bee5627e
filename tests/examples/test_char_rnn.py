"""examples/char_rnn.py: learns, samples at three temperatures, resumes exactly."""

import subprocess
import sys

import numpy as np

from tests.examples.loader import EXAMPLES, load_example

SMALL = {"hidden_size": 32, "num_layers": 2, "batch_size": 4, "seq_len": 16, "log_every": 10}


def test_char_rnn_learns_and_samples(tmp_path, capsys):
    example = load_example("char_rnn")
    text = example.EMBEDDED * 4
    settings = SMALL | {"hidden_size": 64, "seq_len": 32, "log_every": 50}
    result = example.train(text, 200, tmp_path / "run", lr=1e-2, **settings)
    losses = result["losses"]
    assert losses[0] > 3.5  # about log(vocabulary size): uniform guessing
    assert np.mean(losses[-10:]) < 2.0
    assert sorted(result["samples"]) == [0.5, 1.0, 1.5]
    assert all(len(sample) == 200 for sample in result["samples"].values())
    assert "--- temperature 0.5 ---" in capsys.readouterr().out


def test_char_rnn_resumes_exactly(tmp_path):
    example = load_example("char_rnn")
    text = example.EMBEDDED * 2
    straight = example.train(text, 12, tmp_path / "straight", **SMALL)["model"]
    example.train(text, 6, tmp_path / "stopped", **SMALL)
    resumed = example.train(text, 12, tmp_path / "stopped", resume=True, **SMALL)
    assert len(resumed["losses"]) == 6
    for name, value in straight.params.items():
        np.testing.assert_array_equal(resumed["model"].params[name], value, err_msg=name)


def test_a_resume_with_nothing_to_do_says_so_in_one_line(tmp_path):
    # No run in --out, or one already at --steps: one line and status 2, not a traceback
    # or a run that trains nothing.
    example = load_example("char_rnn")
    example.train(example.EMBEDDED * 2, 6, tmp_path / "run", **SMALL)
    script = str(EXAMPLES / "char_rnn.py")
    for folder, steps, said in [
        (tmp_path / "none", "10", f"char_rnn.py: {tmp_path / 'none'} holds no run to resume"),
        (tmp_path / "run", "6", f"char_rnn.py: {tmp_path / 'run'} is at step 6; give --steps"),
    ]:
        result = subprocess.run(
            [sys.executable, script, "--out", str(folder), "--steps", steps, "--resume"],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert result.returncode == 2 and result.stderr.startswith(said), result.stderr
        assert result.stdout == ""
