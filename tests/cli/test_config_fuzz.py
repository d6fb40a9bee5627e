"""An edited, damaged or old config.json: every command that reads a run folder (``sample``,
``eval``, ``predict``, ``info``, ``train --resume``) answers in one line with exit status 2,
never a traceback. Named cases first (a wrong type, a negative size, an unknown key, a
missing key, null, an old format), then a hypothesis-driven fuzz over every field."""

from __future__ import annotations

import contextlib
import copy
import json
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.cli.cli_helpers import assert_one_line_error, folder_bytes, run_cli, write_corpus
from tests.cli.test_classifier_cli import write_tsv

Edit = Callable[[dict[str, Any]], None]

LM_FLAGS = [
    "--embedding-size", "8", "--hidden-size", "16", "--batch-size", "4", "--seq-len", "16",
    "--eval-every", "3", "--max-steps", "3",
]  # fmt: skip
CLASSIFIER_FLAGS = [
    "--embedding-size", "8", "--hidden-size", "12", "--batch-size", "16", "--eval-every", "2",
    "--max-steps", "2",
]  # fmt: skip


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Path]]:
    """``{task: (run folder, its data)}``: a finished run of each task, never written to."""
    folder = tmp_path_factory.mktemp("runs")
    corpus = write_corpus(folder)
    status, _, err = run_cli("train", "--data", corpus, "--out", folder / "lm", *LM_FLAGS)
    assert status == 0, err
    table = write_tsv(folder / "t.tsv", 60)
    status, _, err = run_cli(
        "train-classifier", "--train", table, "--out", folder / "classify", *CLASSIFIER_FLAGS
    )
    assert status == 0, err
    return {"lm": (folder / "lm", corpus), "classify": (folder / "classify", table)}


def commands(task: str, run: Path, data: Path) -> list[list[object]]:
    """Every command that reads the run folder RUN of TASK, trained on DATA (train: a resume
    with a budget of the steps it has taken, so an edit that is still a valid run trains no
    step)."""
    return [*model_commands(task, run, data), *progress_commands(task, run)]


def model_commands(task: str, run: Path, data: Path) -> list[list[object]]:
    """The commands that load the model of RUN (tests/cli/test_config_fuzz_tasks.py's
    tiny data for tag, seq2seq, forecast and generate)."""
    return {
        "lm": [["sample", run, "--length", "5"]],
        "classify": [["predict", run, "good film"]],
        "tag": [["predict", run, "Anna saw Bob"], ["predict", "--json", run, "Eve left"]],
        "seq2seq": [["predict", run, "ABC"], ["predict", run, "BAD", "--beam", "2", "--json"]],
        "forecast": [["predict", run, "--data", data, "--json"]],
        "generate": [["sample", run, "--condition", "Ant", "--count", "2", "--seed", "0"]],
    }[task] + [
        ["eval", run, "--data", data]
        + (["--backtest", "--start", "2005-01"] if task == "forecast" else [])
    ]


# The steps of the tag, seq2seq, forecast and generate runs (test_config_fuzz_tasks.py).
TASK_STEPS = "2"
STEPS = {"lm": LM_FLAGS[-1], "classify": CLASSIFIER_FLAGS[-1]}


def progress_commands(task: str, run: Path) -> list[list[object]]:
    """The commands that read the run's progress too."""
    train = "train-classifier" if task == "classify" else "train"
    resume = [train, "--out", run, "--resume", "--max-steps", STEPS.get(task, TASK_STEPS)]
    return [["info", run], ["info", "--json", run], resume]


@contextlib.contextmanager
def edited_copy(run: Path, edit: Edit) -> Iterator[Path]:
    """A copy of RUN whose config.json, and its best model's, went through EDIT."""
    with tempfile.TemporaryDirectory() as scratch:
        copy_ = Path(scratch) / run.name
        shutil.copytree(run, copy_)
        for config_file in (copy_ / "config.json", copy_ / "best" / "config.json"):
            config = json.loads(config_file.read_text())
            edit(config)
            config_file.write_text(json.dumps(config))
        yield copy_


def check_all_refused(task: str, runs: dict, edit: Edit, *fragments: str, progress_only=False):
    """Every command reading a copy of the run of TASK in RUNS, edited by EDIT, is refused in
    one line holding every fragment, and leaves the run folder as it was."""
    run, data = runs[task]
    with edited_copy(run, edit) as copy_:
        argvs = progress_commands(task, copy_) if progress_only else commands(task, copy_, data)
        for argv in argvs:
            before = folder_bytes(copy_)
            status, _, err = run_cli(*argv)
            try:
                assert_one_line_error(status, err, *fragments)
                assert err.count("edited or damaged") <= 1, err  # not one inside another
                assert folder_bytes(copy_) == before, "the run folder was written"
            except AssertionError as error:
                raise AssertionError(f"rnnkit {' '.join(map(str, argv))}: {error}") from None


def setter(path: str, value: Any) -> Edit:
    """An edit that sets the dotted PATH (e.g. "config.model.hidden_size", or
    "vocabulary.tags.0": a list's item) to VALUE."""

    def edit(config: dict[str, Any]) -> None:
        parent, key = walk(config, path)
        parent[key] = copy.deepcopy(value)

    return edit


def deleter(path: str) -> Edit:
    def edit(config: dict[str, Any]) -> None:
        parent, key = walk(config, path)
        del parent[key]

    return edit


def walk(config: Any, path: str) -> tuple[Any, Any]:
    """The object or list that holds the dotted PATH's last step in CONFIG, and that step
    (a list's index as a number)."""
    *parents, key = path.split(".")
    for name in parents:
        config = config[int(name) if isinstance(config, list) else name]
    return config, int(key) if isinstance(config, list) else key


# -- named cases ----------------------------------------------------------------------------


@pytest.mark.parametrize("task", ["lm", "classify"])
@pytest.mark.parametrize(
    ("edit", "named"),
    [
        (setter("config.model.hidden_size", "16"), "model.hidden_size: expected an integer"),
        (setter("config.model.hidden_size", 16.5), "model.hidden_size: expected an integer"),
        (setter("config.model.hidden_size", -16), "model.hidden_size: must be at least 1"),
        (setter("config.model.num_layers", 10**9), "model.num_layers: must be at most 64"),
        # a valid size that the saved weights do not have: refused by info and resume too
        (setter("config.model.hidden_size", 24), "do not fit the model settings in its config"),
        (setter("config.model.cell", "transformer"), "model.cell: expected one of"),
        (setter("config.model.dropout", None), "model.dropout: expected a number, got null"),
        (setter("config.model.colour", "blue"), "model.colour: unknown setting"),
        (deleter("config.model.num_layers"), "model.num_layers: missing"),
        (setter("config.training.batch_size", 0), "training.batch_size: must be at least 1"),
        (setter("config.training.lr", "fast"), "training.lr: expected a number"),
        (setter("config.training.ema", 1.0), "training.ema: must be above 0 and below 1"),
        (setter("config.data.encoding", "no-such-codec"), "data.encoding: no such text encoding"),
        (setter("config.data.tokenizer", 3), "data.tokenizer: expected a string"),
        (setter("config.model.vocab_size", 10**10), "for a model of 10000000000"),
        (setter("config.model", []), "model: expected an object"),
        (deleter("config"), "it has no 'config'"),
        (setter("config", None), "its 'config' is not an object"),
        (deleter("tokenizer"), "it has no 'tokenizer'"),
        (setter("tokenizer", {"kind": "char"}), "tokenizer does not load"),
        (setter("task", "translate"), "translate"),
        (setter("task", 5), "config.json was edited or damaged: its 'task' is not a task name"),
        (deleter("task"), "config.json was edited or damaged: it has no 'task'"),
    ],
    ids=lambda value: value if isinstance(value, str) else "",
)
def test_an_edited_config_is_one_line_for_every_command(
    runs: dict, task: str, edit: Edit, named: str
) -> None:
    check_all_refused(task, runs, edit, named)


@pytest.mark.parametrize(
    ("edit", "named"),
    [
        (deleter("labels"), "it has no 'labels'; restore it or retrain"),
        (setter("labels", "np"), "labels: expected a list of label names, got 'np'"),
        (setter("labels", [0, 1]), "labels: expected a list of label names"),
        (setter("labels", ["neg", "neg"]), "labels: a label is named twice"),
    ],
    ids=lambda value: value if isinstance(value, str) else "",
)
def test_edited_labels_are_one_line_for_every_command(runs: dict, edit: Edit, named: str) -> None:
    check_all_refused("classify", runs, edit, named)


def test_info_refuses_a_best_model_that_sample_refuses(runs: dict) -> None:
    run, _ = runs["lm"]
    with tempfile.TemporaryDirectory() as scratch:
        copy_ = Path(scratch) / run.name
        shutil.copytree(run, copy_)
        # only the model the other commands use is edited: the run's last one still fits
        config_file = copy_ / "best" / "config.json"
        config = json.loads(config_file.read_text())
        setter("config.model.hidden_size", 24)(config)
        config_file.write_text(json.dumps(config))
        for argv in (["sample", copy_, "--length", "5"], ["info", copy_]):
            status, _, err = run_cli(*argv)
            assert_one_line_error(status, err, f"{copy_ / 'best'} is damaged", "expected shape")


def test_an_edited_config_is_named_by_its_keys_not_by_flags(runs: dict) -> None:
    # The setting is config.json's key: a flag would send the user to the command line.
    check_all_refused(
        "lm", runs, setter("config.model.tie_weights", True),
        "config.json was edited or damaged: tie_weights: the embedding size must equal",
    )  # fmt: skip


@pytest.mark.parametrize("task", ["lm", "classify"])
def test_resume_names_model_settings_the_last_weights_do_not_fit(runs: dict, task: str) -> None:
    run, _ = runs[task]
    with tempfile.TemporaryDirectory() as scratch:
        copy_ = Path(scratch) / run.name
        shutil.copytree(run, copy_)
        # only the run's last model is edited: its best model still fits
        config_file = copy_ / "config.json"
        config = json.loads(config_file.read_text())
        setter("config.model.hidden_size", 24)(config)
        config_file.write_text(json.dumps(config))
        status, _, err = run_cli(*progress_commands(task, copy_)[-1])
        assert_one_line_error(
            status, err, "do not fit the model settings in its config.json", "expected shape"
        )


@pytest.mark.parametrize("task", ["lm", "classify"])
@pytest.mark.parametrize(
    ("edit", "named"),
    [
        (setter("progress.step", -1), "progress.step: expected a whole number from 0, got -1"),
        (setter("progress.step", "3"), "progress.step: expected a whole number from 0"),
        (setter("progress.elapsed", None), "progress.elapsed: expected a number from 0"),
        (setter("progress.best", [1, 2]), "progress.best: expected an object of numbers"),
        (setter("progress.best", {"loss": "low"}), "progress.best: expected an object of numbers"),
        (deleter("progress.epoch"), "progress.epoch: missing"),
        (setter("progress", "done"), "progress: expected an object"),
        (deleter("progress"), "it has no 'progress'"),
    ],
    ids=lambda value: value if isinstance(value, str) else "",
)
def test_an_edited_progress_is_one_line_for_info_and_resume(
    runs: dict, task: str, edit: Edit, named: str
) -> None:
    check_all_refused(task, runs, edit, named, progress_only=True)


@pytest.mark.parametrize("task", ["lm", "classify"])
def test_a_data_position_past_the_epoch_is_refused_on_resume(runs: dict, task: str) -> None:
    position = "window" if task == "lm" else "batch"
    run, _ = runs[task]
    with edited_copy(run, setter(f"progress.{position}", 10**6)) as copy_:
        train = "train" if task == "lm" else "train-classifier"
        status, _, err = run_cli(train, "--out", copy_, "--resume", "--max-steps", "5")
        assert_one_line_error(
            status, err, f"progress.{position} 1000000 is past the end of an epoch"
        )


@pytest.mark.parametrize("task", ["lm", "classify"])
@pytest.mark.parametrize(
    "edit", [setter("rng.state.inc", -1), setter("rng.uinteger", 2**40)], ids=["inc", "uinteger"]
)
def test_a_random_state_out_of_range_is_refused_on_resume(runs: dict, task: str, edit: Edit):
    # numpy's OverflowError ended the resume in a traceback
    run, _ = runs[task]
    with edited_copy(run, edit) as copy_:
        train = "train" if task == "lm" else "train-classifier"
        status, _, err = run_cli(train, "--out", copy_, "--resume", "--max-steps", "5")
        assert_one_line_error(status, err, f"the checkpoint in {copy_} is damaged (random state")


@pytest.mark.parametrize(
    ("task", "old_format"),
    [("lm", "rnnkit.language_model"), ("classify", "rnnkit.sequence_classifier")],
)
def test_a_run_folder_of_an_older_rnnkit_is_one_line_for_every_command(
    runs: dict, task: str, old_format: str
) -> None:
    """The layout before rnnkit.run version 2: sections at the top, no task."""

    def to_old(config: dict[str, Any]) -> None:
        sections = config.pop("config")
        for key in ("format", "version", "task"):
            config.pop(key)
        config.update(
            format=old_format, version=1, model=sections["model"], settings=sections["training"]
        )

    check_all_refused(
        task,
        runs,
        to_old,
        f"holds a checkpoint in {old_format} version 1, which this version of rnnkit does not "
        "read (rnnkit.run version 2); retrain",
    )


# -- the fuzz -------------------------------------------------------------------------------

ODD_VALUES = [None, "x", "", -1, 0, 1.5, 10**12, True, [], {}, [1], {"a": 1}]


def leaves(config: dict[str, Any]) -> list[str]:
    """Dotted paths of every field of the run's settings and progress, and of the top keys."""
    paths = [
        f"config.{section}.{name}"
        for section, values in config["config"].items()
        for name in values
    ]
    paths += [f"progress.{name}" for name in config["progress"]]
    return paths + [f"config.{section}" for section in config["config"]] + list(config)


def fuzz(task: str, runs: dict, data: st.DataObject, fields: Callable = leaves) -> None:
    """Sets one of the FIELDS of the run of TASK to an odd value, deletes it, or adds an
    unknown one beside it; then every command answers, or refuses in one line and leaves
    the run folder as it was."""
    run, corpus = runs[task]
    saved = json.loads((run / "config.json").read_text())
    path = data.draw(st.sampled_from(fields(saved)), label="field")
    action = data.draw(st.sampled_from(["set", "delete", "unknown"]), label="action")
    if action == "set":
        edit = setter(path, data.draw(st.sampled_from(ODD_VALUES), label="value"))
    elif action == "delete":
        edit = deleter(path)
    else:
        edit = surprise(path)
    with edited_copy(run, edit) as copy_:
        for argv in commands(task, copy_, corpus):
            before = folder_bytes(copy_)
            status, out, err = run_cli(*argv)
            assert "Traceback" not in err
            if status != 0:  # an edit may leave a valid run: then the command just works
                assert_one_line_error(status, err)
                assert folder_bytes(copy_) == before, (argv, "the run folder was written")


def surprise(path: str) -> Edit:
    """An edit that adds an unknown field beside PATH (an item, beside a list's item)."""

    def edit(config: dict[str, Any]) -> None:
        parent, _ = walk(config, path)
        if isinstance(parent, list):
            parent.append(1)
        else:
            parent["surprise"] = 1

    return edit


FUZZ = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@FUZZ
@given(data=st.data())
def test_fuzzed_language_model_configs_never_end_in_a_traceback(runs: dict, data) -> None:
    fuzz("lm", runs, data)


@FUZZ
@given(data=st.data())
def test_fuzzed_classifier_configs_never_end_in_a_traceback(runs: dict, data) -> None:
    fuzz("classify", runs, data)
