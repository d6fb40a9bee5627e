"""Data-parallel training on MPI (``rnnkit.train.distributed``), run with ``mpiexec -n 2``
on this machine; skipped only when mpi4py or mpiexec is not installed
(``pip install -e ".[mpi]"``)."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from safetensors.numpy import load_file

from rnnkit.train import distributed
from rnnkit.train.tasks import TASKS
from tests.cli.cli_helpers import run_cli, sentences
from tests.cli.test_forecast_cli import monthly, write_csv
from tests.train.test_generate_task import write_features, write_folder
from tests.train.test_tagging_task import NAMES, write_sentences

MPIEXEC = shutil.which("mpiexec")
needs_mpi = pytest.mark.skipif(
    MPIEXEC is None or importlib.util.find_spec("mpi4py") is None,
    reason='mpi4py or mpiexec not installed (pip install -e ".[mpi]")',
)
LM = [
    "--embedding-size", "8", "--hidden-size", "16", "--num-layers", "1",
    "--batch-size", "6", "--seq-len", "12", "--eval-every", "5", "--threads", "1",
]  # fmt: skip
# 43 training windows of monthly(): in batches of 7, an epoch ends in a batch of one.
FORECAST = ["--task", "forecast", "--date-column", "Month", "--target", "Sales",
            "--lookback", 12, "--horizon", 6, "--valid-size", 12, "--hidden-size", 8,
            "--batch-size", 7, "--eval-every", 7, "--num-samples", 20, "--threads", 1]  # fmt: skip
TOLERANCE = 2e-5  # float32 sums in another order, over 20 Adam steps


def mpirun(ranks: int, *argv: object, timeout: float = 300, **env: str) -> Any:
    return subprocess.run(
        [MPIEXEC, "-n", str(ranks), sys.executable, "-m", "rnnkit", *map(str, argv)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **env},
    )


def assert_same_run(one: Path, two: Path) -> None:
    """Runs ONE and TWO hold the same last weights and the same best model, chosen at the
    same step."""
    assert_same_weights(one, two)
    assert_same_weights(one / "best", two / "best")
    steps = [json.loads((run / "config.json").read_text())["progress"] for run in (one, two)]
    assert steps[0]["best_step"] == steps[1]["best_step"] is not None


def assert_same_weights(a: Path, b: Path, tolerance: float = TOLERANCE) -> None:
    first, second = load_file(a / "model.safetensors"), load_file(b / "model.safetensors")
    assert first.keys() == second.keys()
    for name in first:
        np.testing.assert_allclose(first[name], second[name], rtol=0, atol=tolerance, err_msg=name)


def one_and_two_ranks(tmp_path: Path, *flags: object) -> None:
    """Train FLAGS as one process and on two ranks, and compare the two runs."""
    status, _, err = run_cli("train", *flags, "--out", tmp_path / "one")
    assert status == 0, err
    done = mpirun(2, "train", *flags, "--out", tmp_path / "two")
    assert done.returncode == 0, done.stderr
    assert_same_run(tmp_path / "one", tmp_path / "two")


def training_records(run: Path) -> int:
    return sum("train_loss" in line for line in (run / "metrics.jsonl").read_text().splitlines())


def corpus(tmp_path: Path) -> Path:
    path = tmp_path / "corpus.txt"
    path.write_text(sentences(400), encoding="utf-8")
    return path


def test_one_process_is_no_world(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in distributed.SIZE_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    assert distributed.launched_ranks() == 1
    monkeypatch.setenv("PMI_SIZE", "1")
    assert distributed.launched_ranks() == 1
    assert distributed.is_writer()


def test_every_task_splits_its_batches() -> None:
    assert set(distributed.SPLIT_TASKS) == set(TASKS)


def test_a_task_without_a_splitter_is_refused() -> None:
    ranks = SimpleNamespace(size=2)  # the check needs the number of ranks only
    distributed.Distributed.check(ranks, "tag", 2)  # type: ignore[arg-type]
    with pytest.raises(distributed.EveryRankError, match="the poem task cannot yet train"):
        distributed.Distributed.check(ranks, "poem", 2)  # type: ignore[arg-type]
    with pytest.raises(distributed.EveryRankError, match="batch_size 1 is smaller than the 2"):
        distributed.Distributed.check(ranks, "tag", 1)  # type: ignore[arg-type]


@needs_mpi
def test_two_ranks_train_the_weights_of_one_process(tmp_path: Path) -> None:
    data = corpus(tmp_path)
    one, two = tmp_path / "one", tmp_path / "two"
    status, _, err = run_cli("train", "--data", data, "--out", one, "--max-steps", 20, *LM)
    assert status == 0, err
    done = mpirun(2, "train", "--data", data, "--out", two, "--max-steps", 20, *LM)
    assert done.returncode == 0, done.stderr
    assert_same_weights(one, two)
    # The checkpoint holds the hidden state of every row of the global batch.
    states = load_file(two / "hidden_state.safetensors")
    expected = load_file(one / "hidden_state.safetensors")
    for name in expected:
        assert states[name].shape == expected[name].shape
        np.testing.assert_allclose(states[name], expected[name], atol=1e-4)
    # Rank 0 alone wrote: one record per step logged, one sample printed.
    assert done.stdout.count("--- sample") == 1
    assert training_records(two) == training_records(one)


@needs_mpi
@pytest.mark.parametrize(
    "weights", [[], ["--class-weights", "balanced"]], ids=["plain", "balanced"]
)
def test_a_classifier_splits_its_batches(tmp_path: Path, weights: list[str]) -> None:
    # Classes of unequal sizes: with balanced class weights the loss is a mean over the
    # batch's summed weights, so each rank's share follows its rows' weights.
    rng = np.random.default_rng(0)
    lines = ["label\ttext"]
    for _ in range(300):
        label = rng.choice(["pos", "neg", "neg", "neg"])
        words = ["good" if label == "pos" else "bad", "fine" if label == "pos" else "poor"]
        words += ["the", "film"]
        lines.append(f"{label}\t{' '.join(rng.choice(words, size=rng.integers(2, 12)))}")
    data = tmp_path / "texts.tsv"
    data.write_text("\n".join(lines) + "\n", encoding="utf-8")
    # No dropout: a rank draws the masks of its half of a batch, not those of the whole.
    flags = ["--task", "classify", "--train", data, "--max-steps", 20, "--batch-size", 5,
             "--hidden-size", 8, "--embedding-size", 8, "--threads", 1, "--dropout", 0,
             *weights]  # fmt: skip
    one_and_two_ranks(tmp_path, *flags)


@needs_mpi
@pytest.mark.parametrize("smoothing", [[], ["--label-smoothing", "0.1"]], ids=["plain", "smoothed"])
def test_seq2seq_splits_its_pairs_weighted_by_target_tokens(
    tmp_path: Path, smoothing: list[str]
) -> None:
    # Targets of different lengths: each rank's mean loss weighs by its share of the
    # batch's target tokens, so two ranks train the weights one process trains (with
    # label smoothing too: it is still a mean over the target tokens).
    rng = np.random.default_rng(0)
    letters = list("abcdefgh")
    lines = []
    for _ in range(200):
        word = "".join(rng.choice(letters, size=rng.integers(2, 9)))
        lines.append(f"{word}\t{word[::-1]}{'x' * int(rng.integers(0, 4))}")
    data = tmp_path / "pairs.tsv"
    data.write_text("\n".join(lines) + "\n", encoding="utf-8")
    flags = ["--task", "seq2seq", "--train", data, "--max-steps", 15, "--batch-size", 7,
             "--hidden-size", 8, "--embedding-size", 6, "--threads", 1,
             "--eval-every", 1000, *smoothing]  # fmt: skip
    one_and_two_ranks(tmp_path, *flags)


@needs_mpi
@pytest.mark.parametrize(
    "options",
    [["--char-hidden-size", 0], ["--crf", "--char-hidden-size", 4, "--char-embedding-size", 4]],
    ids=["words", "crf-chars"],
)
def test_a_tagger_splits_its_sentences_weighted_by_tokens(
    tmp_path: Path, options: list[object]
) -> None:
    # Sentences of 2 to 12 words: a rank's mean loss weighs by its share of the batch's
    # tokens (with the CRF's too), and its sentences' words' characters go with them.
    train = write_sentences(tmp_path / "train.txt", 80, 0, NAMES[:7])
    valid = write_sentences(tmp_path / "valid.txt", 20, 1, NAMES)
    one_and_two_ranks(
        tmp_path, "--task", "tag", "--train", train, "--valid", valid, "--max-steps", 20,
        "--batch-size", 7, "--embedding-size", 6, "--hidden-size", 6, "--num-layers", 1,
        "--dropout", 0, "--threads", 1, "--eval-every", 7, *options,
    )  # fmt: skip


@needs_mpi
@pytest.mark.parametrize("condition", ["category", "vector"])
def test_a_generator_splits_its_texts_with_their_conditions(tmp_path: Path, condition: str) -> None:
    if condition == "category":
        data = ["--train", write_folder(tmp_path / "train", count=40)]
    else:
        text, features = write_features(tmp_path)
        data = ["--train", text, "--features", features, "--condition", "vector"]
    one_and_two_ranks(
        tmp_path, "--task", "generate", *data, "--max-steps", 20, "--batch-size", 7,
        "--embedding-size", 6, "--hidden-size", 8, "--condition-size", 3, "--dropout", 0,
        "--threads", 1, "--eval-every", 7,
    )  # fmt: skip


@needs_mpi
@pytest.mark.parametrize(
    "head", [["--loss", "gaussian"], ["--loss", "studentt", "--decoder", "autoregressive"]],
    ids=["gaussian", "studentt-autoregressive"],
)  # fmt: skip
def test_a_forecaster_splits_its_windows(tmp_path: Path, head: list[str]) -> None:
    # An epoch's last batch, of one window, leaves one rank without any.
    data = write_csv(tmp_path / "sales.csv", *monthly())
    one_and_two_ranks(tmp_path, "--data", data, "--max-steps", 20, *FORECAST, *head)


@needs_mpi
def test_a_forecast_on_two_ranks_resumes_on_one(tmp_path: Path) -> None:
    data = write_csv(tmp_path / "sales.csv", *monthly())
    whole, split = tmp_path / "whole", tmp_path / "split"
    status, _, err = run_cli("train", "--data", data, "--out", whole, "--max-steps", 20, *FORECAST)
    assert status == 0, err
    done = mpirun(2, "train", "--data", data, "--out", split, "--max-steps", 10, *FORECAST)
    assert done.returncode == 0, done.stderr
    status, _, err = run_cli("train", "--out", split, "--resume", "--max-steps", 20)
    assert status == 0, err
    assert_same_run(whole, split)


@needs_mpi
def test_a_run_on_two_ranks_resumes_on_one(tmp_path: Path) -> None:
    data = corpus(tmp_path)
    whole, split = tmp_path / "whole", tmp_path / "split"
    status, _, err = run_cli("train", "--data", data, "--out", whole, "--max-steps", 20, *LM)
    assert status == 0, err
    done = mpirun(2, "train", "--data", data, "--out", split, "--max-steps", 10, *LM)
    assert done.returncode == 0, done.stderr
    status, _, err = run_cli("train", "--out", split, "--resume", "--max-steps", 20)
    assert status == 0, err
    assert_same_weights(whole, split)


@needs_mpi
def test_more_ranks_than_batch_rows_is_one_line(tmp_path: Path) -> None:
    done = mpirun(3, "train", "--data", corpus(tmp_path), "--out", tmp_path / "run",
                  "--max-steps", 5, *LM, "--batch-size", 2)  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr, done.stderr
    assert "--batch-size 2 is smaller than the 3 MPI ranks" in done.stderr
    assert not (tmp_path / "run").exists()


@needs_mpi
@pytest.mark.parametrize("differ", ["data", "settings"])
def test_ranks_that_read_different_runs_are_one_line(tmp_path: Path, differ: str) -> None:
    # Each rank reads its own data with its own arguments: the same text backwards (the
    # same vocabulary, so the same shapes) or another hidden size must not train as one run.
    data = corpus(tmp_path)
    other = tmp_path / "other.txt"
    other.write_text(data.read_text(encoding="utf-8")[::-1], encoding="utf-8")
    rank = [sys.executable, "-m", "rnnkit", "train", "--out", str(tmp_path / "run"),
            "--max-steps", "5", *map(str, LM)]  # fmt: skip
    second = ["--data", str(other)] if differ == "data" else ["--data", str(data)]
    second += ["--hidden-size", "12"] if differ == "settings" else []
    done = subprocess.run(
        [MPIEXEC, "-n", "1", *rank, "--data", str(data), ":", "-n", "1", *rank, *second],
        capture_output=True, text=True, timeout=300,
        env={**os.environ, "RNNKIT_MPI_TIMEOUT": "20"},
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr, done.stderr
    assert "the 2 MPI ranks do not train the same run" in done.stderr
    assert not (tmp_path / "run").exists()


@needs_mpi
@pytest.mark.parametrize("failing", [0, 1])
def test_one_rank_that_fails_ends_every_rank_at_once(tmp_path: Path, failing: int) -> None:
    # One rank's data is missing: it says so, and the job ends with it, not when the other
    # ranks give up waiting for it (the timeout here is far longer than the test allows).
    data, missing = corpus(tmp_path), tmp_path / "missing.txt"
    rank = [sys.executable, "-m", "rnnkit", "train", "--out", str(tmp_path / "run"),
            "--max-steps", "5", *map(str, LM)]  # fmt: skip
    paths = [data, data]
    paths[failing] = missing
    started = time.monotonic()
    done = subprocess.run(
        [MPIEXEC, "-n", "1", *rank, "--data", str(paths[0]), ":",
         "-n", "1", *rank, "--data", str(paths[1])],
        capture_output=True, text=True, timeout=200,
        env={**os.environ, "RNNKIT_MPI_TIMEOUT": "600"},
    )  # fmt: skip
    assert time.monotonic() - started < 100
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr, done.stderr
    assert f"{missing} does not exist" in done.stderr


@needs_mpi
def test_an_error_every_rank_meets_is_said_once(tmp_path: Path) -> None:
    missing = tmp_path / "missing.txt"
    done = mpirun(3, "train", "--data", missing, "--out", tmp_path / "run", *LM, timeout=200)
    assert done.returncode == 2, done.stderr
    assert done.stderr == f"rnnkit: error: {missing} does not exist; check the path\n"


def rank_processes(root: int) -> dict[int, int]:
    """{rank: pid} of the processes below ROOT that an MPI launcher started."""
    found, queue = {}, [root]
    while queue:
        parent = queue.pop()
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                if int(fields[1]) != parent:
                    continue
                queue.append(int(entry.name))
                environ = (entry / "environ").read_bytes().split(b"\0")
            except OSError:
                continue
            for item in environ:
                if item.startswith(b"PMI_RANK="):
                    found[int(item.split(b"=")[1])] = int(entry.name)
    return found


def finish(process: subprocess.Popen) -> str:
    """PROCESS's standard error once it ends (killed if it runs past two minutes)."""
    try:
        return process.communicate(timeout=120)[1]
    finally:
        if process.poll() is None:
            process.kill()


def start_long_run(tmp_path: Path, **env: str) -> tuple[subprocess.Popen, dict[int, int]]:
    run = tmp_path / "run"
    process = subprocess.Popen(
        [MPIEXEC, "-n", "2", sys.executable, "-m", "rnnkit", "train", "--data",
         str(corpus(tmp_path)), "--out", str(run), "--max-steps", "1000000", *LM],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, **env},
    )  # fmt: skip
    # Training has begun once the first step is logged.
    while not (run / "metrics.jsonl").exists():
        assert process.poll() is None, process.communicate()
        time.sleep(0.1)
    ranks = rank_processes(process.pid)
    assert sorted(ranks) == [0, 1]
    return process, ranks


@needs_mpi
@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="needs /proc")
def test_a_rank_that_hangs_stops_the_others_with_an_error(tmp_path: Path) -> None:
    process, ranks = start_long_run(tmp_path, RNNKIT_MPI_TIMEOUT="3")
    os.kill(ranks[1], signal.SIGSTOP)
    try:
        err = finish(process)
    finally:  # the stopped rank does not end with the job
        os.kill(ranks[1], signal.SIGKILL) if Path(f"/proc/{ranks[1]}").exists() else None
    assert process.returncode != 0
    assert "rank 0 of 2: the other ranks did not join" in err, err
    assert err.count("\n") == 1 and "Traceback" not in err, err


@needs_mpi
@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="needs /proc")
def test_a_rank_that_dies_stops_the_others(tmp_path: Path) -> None:
    process, ranks = start_long_run(tmp_path, RNNKIT_MPI_TIMEOUT="3")
    os.kill(ranks[1], signal.SIGKILL)
    finish(process)
    assert process.returncode != 0
    assert not Path(f"/proc/{ranks[0]}").exists() or process.poll() is not None


@needs_mpi
@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="needs /proc")
def test_a_signal_to_one_rank_stops_every_rank_with_a_checkpoint(tmp_path: Path) -> None:
    process, ranks = start_long_run(tmp_path)
    os.kill(ranks[1], signal.SIGTERM)
    err = finish(process)
    assert process.returncode == 128 + signal.SIGTERM, err
    assert "interrupted at step" in err and "Traceback" not in err, err
    assert (tmp_path / "run" / "model.safetensors").exists()


@needs_mpi
@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="needs /proc")
def test_a_second_signal_to_one_rank_ends_the_job_at_once(tmp_path: Path) -> None:
    # The wait for a lost rank is long here: the job must end because the stopped rank
    # ends it, not because the other gives up waiting.
    process, ranks = start_long_run(tmp_path, RNNKIT_MPI_TIMEOUT="600")
    started = time.monotonic()
    os.kill(ranks[1], signal.SIGINT)
    os.kill(ranks[1], signal.SIGINT)
    err = finish(process)
    assert time.monotonic() - started < 60
    assert process.returncode == 128 + signal.SIGINT
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert load_file(tmp_path / "run" / "model.safetensors")  # the last checkpoint loads
    deadline = time.monotonic() + 10
    while any(map(running, ranks.values())) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(map(running, ranks.values()))


def running(pid: int) -> bool:
    """Whether process PID is alive (not gone, not a zombie)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"
