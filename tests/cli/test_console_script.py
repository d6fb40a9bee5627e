"""The installed ``rnnkit`` console script in a real process, stopped with Ctrl-C; and
``python -m rnnkit``."""

from __future__ import annotations

import os
import runpy
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rnnkit import __version__
from rnnkit.train import load_checkpoint
from tests.cli.cli_helpers import TINY, run_cli, write_corpus

STARTUP_LIMIT = 120  # seconds to wait for training to get going before giving up


def test_ctrl_c_saves_a_checkpoint_that_resumes(tmp_path: Path) -> None:
    script = shutil.which("rnnkit")
    if script is None:
        pytest.skip("the rnnkit console script is not installed: pip install -e .")
    data = write_corpus(tmp_path, count=400)
    run = tmp_path / "run"
    process = subprocess.Popen(
        [script, "train", "--data", str(data), "--out", str(run), *TINY,
         "--eval-every", "100000", "--max-steps", "100000000"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    try:
        # The metrics log gets its first record after 10 steps: training is under way.
        metrics = run / "metrics.jsonl"
        deadline = time.monotonic() + STARTUP_LIMIT
        while not (metrics.exists() and metrics.stat().st_size > 0):
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "training did not start"
            time.sleep(0.05)
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=STARTUP_LIMIT)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130, err
    assert "Traceback" not in err
    assert "interrupted at step" in err and f"--out {run} --resume" in err
    assert err.count("\n") == 1

    step = load_checkpoint(run).config["progress"]["step"]
    assert step >= 10
    status, _, err = run_cli("train", "--out", run, "--resume", "--max-steps", str(step + 3))
    assert status == 0, err
    assert load_checkpoint(run).config["progress"]["step"] == step + 3


def test_python_dash_m_runs_the_command_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "argv", ["rnnkit", "--version"])
    with pytest.raises(SystemExit) as exit_info:
        runpy.run_module("rnnkit", run_name="__main__")
    assert exit_info.value.code == 0
    assert capsys.readouterr().out == f"rnnkit {__version__}\n"


def test_ctrl_c_while_the_console_script_loads_is_one_line(tmp_path: Path) -> None:
    # The installed script starts where ``python -m rnnkit`` does (``rnnkit.__main__.run``),
    # so an interrupt while NumPy and the commands load is one line and status 130.
    script = shutil.which("rnnkit")
    if script is None:
        pytest.skip("the rnnkit console script is not installed: pip install -e .")
    data = write_corpus(tmp_path, count=50)
    start = time.monotonic()
    subprocess.run([sys.executable, "-c", "pass"], check=True)
    interpreter = time.monotonic() - start  # before this, Python's own default handles SIGINT
    # Each delay is past the interpreter's own start-up even on a busy machine, where a
    # fixed 0.25 s can fall inside it (the site module's import, which no program handles).
    for index, extra in enumerate((0.0, 0.25, 0.5)):
        delay = 3 * interpreter + extra
        process = subprocess.Popen(
            [script, "train", "--data", str(data), "--out", str(tmp_path / f"run{index}"),
             *TINY, "--max-steps", "100000000"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        try:
            time.sleep(delay)
            process.send_signal(signal.SIGINT)
            _, err = process.communicate(timeout=STARTUP_LIMIT)
        finally:
            if process.poll() is None:
                process.kill()
        assert "Traceback" not in err, (delay, err)
        assert process.returncode == 130, (delay, process.returncode, err)
        assert err.count("\n") == 1 and "interrupted" in err, (delay, err)


def test_a_warning_is_one_line_without_pythons_source_lines() -> None:
    environment = {**os.environ, "RNNKIT_KERNEL": "sse9"}  # a kernel no machine has
    result = subprocess.run(
        [sys.executable, "-m", "rnnkit", "info", "--help"], env=environment,
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0 and result.stdout.startswith("usage: rnnkit info")
    warning = result.stderr.strip()
    assert warning.startswith("rnnkit: warning: RNNKIT_KERNEL=sse9: not one this machine runs")
    assert "\n" not in warning and ".py:" not in warning and "Warning" not in warning
