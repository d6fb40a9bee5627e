"""Absurd sizes on the command line (``--hidden-size 20000``) are refused for every task
before a weight is allocated: one line with the estimate, the memory available and the
settings to lower, exit status 2, and no checkpoint written. The same for a saved run whose
config.json was edited to such a size, for the commands that load its model.

The machine's available memory is fixed at 16 GiB here, so the outcome does not depend on
the machine the tests run on (a 20000-unit LSTM needs tens of GiB to train)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rnnkit.train import memory
from tests.cli.cli_helpers import assert_one_line_error, run_cli, write_corpus
from tests.cli.test_classifier_cli import write_tsv
from tests.cli.test_forecast_cli import monthly, write_csv
from tests.train.test_generate_task import write_folder
from tests.train.test_seq2seq_task import write_dictionary
from tests.train.test_tagging_task import NAMES, write_sentences

AVAILABLE = 16 * 2**30


@pytest.fixture(autouse=True)
def sixteen_gibibytes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(memory, "available_memory", lambda: AVAILABLE)


def task_arguments(task: str, folder: Path) -> list[object]:
    """``train`` arguments for a small TASK run on data written into FOLDER."""
    if task == "lm":
        return ["--data", write_corpus(folder), "--batch-size", "4", "--seq-len", "16"]
    if task == "classify":
        return ["--task", "classify", "--train", write_tsv(folder / "t.tsv", 60)]
    if task == "tag":
        return ["--task", "tag", "--train", write_sentences(folder / "s.txt", 40, 0, NAMES)]
    if task == "seq2seq":
        return ["--task", "seq2seq", "--train", write_dictionary(folder / "d.dict", 40, 0)]
    if task == "forecast":
        data = write_csv(folder / "sales.csv", *monthly())
        return ["--task", "forecast", "--data", data, "--date-column", "Month", "--target",
                "Sales", "--lookback", "12", "--horizon", "6"]  # fmt: skip
    assert task == "generate"
    return ["--task", "generate", "--train", write_folder(folder / "names", 20)]


TASKS = ["lm", "classify", "tag", "seq2seq", "forecast", "generate"]
WHAT = {
    "lm": "training this language model",
    "classify": "training this classifier",
    "tag": "training this tagger",
    "seq2seq": "training this sequence-to-sequence model",
    "forecast": "training this forecaster",
    "generate": "training this generator",
}


@pytest.mark.parametrize("task", TASKS)
def test_a_huge_hidden_size_is_one_line_for_every_task(tmp_path: Path, task: str) -> None:
    run = tmp_path / "run"
    status, _, err = run_cli(
        "train", *task_arguments(task, tmp_path), "--hidden-size", "20000", "--out", run,
        "--max-steps", "1",
    )  # fmt: skip
    assert_one_line_error(
        status, err, f"{WHAT[task]} needs about ", "but this machine has 16.00 GiB available; "
        "lower --hidden-size",
    )  # fmt: skip
    assert not (run / "config.json").exists()


@pytest.mark.parametrize(
    ("task", "flags"),
    [
        ("tag", ["--num-layers", "64", "--hidden-size", "4096"]),
        ("seq2seq", ["--embedding-size", "65536", "--hidden-size", "8192"]),
        ("forecast", ["--num-layers", "64", "--hidden-size", "8192"]),
        ("generate", ["--num-layers", "64", "--hidden-size", "8192"]),
    ],
)
def test_other_huge_sizes_are_one_line(tmp_path: Path, task: str, flags: list[str]) -> None:
    status, _, err = run_cli(
        "train", *task_arguments(task, tmp_path), *flags, "--out", tmp_path / "run"
    )
    assert_one_line_error(status, err, f"{WHAT[task]} needs about ", "GiB available; lower ")


SMALL = ["--hidden-size", "8", "--embedding-size", "8", "--batch-size", "8", "--max-steps", "2",
         "--eval-every", "2"]  # fmt: skip


@pytest.mark.parametrize("task", ["tag", "seq2seq", "generate"])
def test_a_saved_model_edited_to_a_huge_size_is_one_line(tmp_path: Path, task: str) -> None:
    run = tmp_path / "run"
    status, _, err = run_cli("train", *task_arguments(task, tmp_path), *SMALL, "--out", run)
    assert status == 0, err
    config_file = run / "best" / "config.json"
    config = json.loads(config_file.read_text())
    config["config"]["model"]["hidden_size"] = 40000  # 51 GiB to load a generator
    config_file.write_text(json.dumps(config))
    argv = {
        "tag": ["predict", run / "best", "anna saw bob"],
        "seq2seq": ["predict", run / "best", "abc"],
        "generate": ["sample", run / "best", "--condition", "Ant"],
    }[task]
    status, _, err = run_cli(*argv)
    assert_one_line_error(
        status, err, f"the model in {run / 'best'} needs about ", "config.json may have been edited"
    )
