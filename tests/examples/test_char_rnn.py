"""examples/char_rnn.py: learns, samples at three temperatures, resumes exactly."""

import subprocess
import sys

import numpy as np

from rnnkit import load_weights
from tests.examples.loader import EXAMPLES, assert_refused, load_example, run_example

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


def test_a_quick_run_resumes_with_its_own_settings_exactly(tmp_path):
    # Resuming a --quick run without --quick loaded its 64-unit weights into a 256-unit
    # model: a ValueError traceback. The run now keeps its settings and resumes with them.
    data = tmp_path / "text.txt"
    data.write_text(load_example("char_rnn").EMBEDDED * 2, "utf-8")
    for out, steps, how in [("straight", 6, "--quick"), ("stopped", 3, "--quick"),
                            ("stopped", 6, "--resume")]:  # fmt: skip
        done = run_example(
            "char_rnn", "--data", data, "--out", tmp_path / out, "--steps", steps, how
        )
        assert done.returncode == 0, done.stderr
    straight = load_weights(tmp_path / "straight" / "model.safetensors")
    resumed = load_weights(tmp_path / "stopped" / "model.safetensors")
    assert straight.keys() == resumed.keys() and straight["rnn.weight_hh_l0"].shape == (256, 64)
    for name, value in straight.items():
        np.testing.assert_array_equal(resumed[name], value, err_msg=name)


def test_a_data_file_that_is_not_there_is_one_line_and_status_2(tmp_path):
    # It trained on the embedded passage instead, without a word.
    missing = tmp_path / "absent.txt"
    done = run_example("char_rnn", "--data", missing, "--out", tmp_path / "run", "--quick")
    assert_refused(done, f"char_rnn.py: {missing} not found; give --data a text file")
    assert not (tmp_path / "run").exists()
