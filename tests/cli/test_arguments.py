"""``rnnkit.cli.arguments``: a flag of eval, predict or sample is refused for a run of a
task it is not for, instead of being left unread."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.cli_helpers import TINY, assert_one_line_error, run_cli, write_corpus
from tests.cli.test_classifier_cli import write_tsv

CLASSIFIER = ["--embedding-size", "8", "--hidden-size", "16", "--batch-size", "8"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Path]]:
    """``{task: (run folder, its data)}`` of a tiny language model and classifier."""
    folder = tmp_path_factory.mktemp("runs")
    corpus, table = write_corpus(folder), write_tsv(folder / "t.tsv", 40)
    for task, data, size in (("lm", corpus, TINY), ("classify", table, CLASSIFIER)):
        status, _, err = run_cli(
            "train", "--task", task, "--data", data, "--out", folder / task, "--max-steps", "2",
            *size,
        )  # fmt: skip
        assert status == 0, err
    return {"lm": (folder / "lm", corpus), "classify": (folder / "classify", table)}


HOLDS = {"lm": "a language-model run", "classify": "a sequence-classifier run"}
SEQ2SEQ, FORECAST = "a sequence-to-sequence-model run", "a forecaster run"


@pytest.mark.parametrize(
    ("task", "argv", "named"),
    [
        # each was left unread: the figures printed were those without it
        ("lm", ["eval", "--beam", "3"], f"--beam: for {SEQ2SEQ}"),
        ("lm", ["eval", "--backtest", "--start", "2000"], f"--backtest, --start: for {FORECAST}"),
        ("classify", ["eval", "--max-tokens", "5"], f"--max-tokens: for {HOLDS['lm']}"),
        ("classify", ["eval", "--tag-format", "conllu"], "--tag-format: for a sequence-tagger run"),
        ("classify", ["predict", "good film", "--nbest", "2"], f"--nbest: for {SEQ2SEQ}"),
        ("classify", ["predict", "a film", "--quantiles", "0.5"], f"--quantiles: for {FORECAST}"),
        ("lm", ["sample", "--condition", "A", "--count", "2"], "--condition, --count: for a cond"),
    ],
)  # fmt: skip
def test_a_flag_for_another_task_is_refused(
    runs: dict, task: str, argv: list[str], named: str
) -> None:
    run, data = runs[task]
    command, *flags = argv
    data_flag = ["--data", data] if command == "eval" else []
    status, out, err = run_cli(command, run, *flags, *data_flag)
    assert_one_line_error(status, err, named, f"holds {HOLDS[task]}")
    assert out == ""


def test_flags_of_the_run_s_own_task_and_shared_ones_still_work(runs: dict) -> None:
    run, data = runs["lm"]
    status, _, err = run_cli("eval", run, "--data", data, "--max-tokens", "20", "--json")
    assert status == 0, err
    run, data = runs["classify"]
    status, _, err = run_cli("eval", run, "--data", data, "--format", "tsv", "--encoding", "utf-8")
    assert status == 0, err


def test_sample_of_a_model_that_answers_inputs_points_to_predict(runs: dict) -> None:
    # it said "not a language model; give the run folder of a language model (task lm)",
    # though sample takes a conditioned generator's run too
    run, _ = runs["classify"]
    status, _, err = run_cli("sample", run)
    assert_one_line_error(
        status, err, "holds a sequence-classifier run", f"use rnnkit predict {run}"
    )
