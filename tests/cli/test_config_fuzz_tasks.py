"""test_config_fuzz.py's guarantee for the tagger, sequence-to-sequence, forecasting and
generation runs: whatever the edit of config.json (a model or data setting of the wrong type,
out of range, unknown, missing, or a valid size the weights do not have; the task's own
entries: vocabularies, tokenizations, scalings, calendar, categories), every command that
reads the run answers in one line with exit status 2, never a traceback, and writes nothing.
Named cases first, then a hypothesis-driven fuzz that reaches into the task's entries too."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.cli.cli_helpers import assert_one_line_error, run_cli
from tests.cli.test_config_fuzz import (
    FUZZ,
    TASK_STEPS,
    Edit,
    check_all_refused,
    deleter,
    edited_copy,
    fuzz,
    leaves,
    model_commands,
    setter,
)
from tests.cli.test_forecast_cli import monthly, write_csv
from tests.train.test_generate_task import write_folder
from tests.train.test_seq2seq_task import write_dictionary
from tests.train.test_tagging_task import NAMES, write_sentences

TASKS = ["tag", "seq2seq", "forecast", "generate"]
FLAGS = {
    "tag": ["--embedding-size", "8", "--hidden-size", "12", "--char-embedding-size", "6",
            "--char-hidden-size", "6", "--batch-size", "8", "--eval-every", "2"],
    "seq2seq": ["--embedding-size", "8", "--hidden-size", "16", "--batch-size", "8",
                "--eval-every", "2"],
    "forecast": ["--date-column", "Month", "--target", "Sales", "--lookback", "12",
                 "--horizon", "6", "--hidden-size", "8", "--batch-size", "16",
                 "--eval-every", "2", "--valid-size", "12"],
    "generate": ["--embedding-size", "8", "--hidden-size", "12", "--condition-size", "4",
                 "--batch-size", "16", "--eval-every", "2"],
}  # fmt: skip


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Path]]:
    """``{task: (run folder, its data)}``: a finished tiny run of each task, never written to."""
    folder = tmp_path_factory.mktemp("runs")
    data = {
        "tag": write_sentences(folder / "s.txt", 40, 0, NAMES),
        "seq2seq": write_dictionary(folder / "d.dict", 40, 0),
        "forecast": write_csv(folder / "sales.csv", *monthly()),
        "generate": write_folder(folder / "names", 20),
    }
    for task in TASKS:
        where = "--data" if task == "forecast" else "--train"
        status, _, err = run_cli(
            "train", "--task", task, where, data[task], "--out", folder / task,
            "--max-steps", TASK_STEPS, "--threads", "1", *FLAGS[task],
        )  # fmt: skip
        assert status == 0, err
    return {task: (folder / task, data[task]) for task in TASKS}


def refused(task: str, edit: Edit, named: str) -> Any:
    return pytest.param(task, edit, named, id=f"{task}: {named}")


# A valid size the weights do not have is refused by info and resume too.
WEIGHTS = "do not fit the model settings in its config.json"

EDITS = [
    # the tagger: its settings, its tag set and format, its vocabularies
    refused("tag", setter("config.model.char_hidden_size", "6"),
            "model.char_hidden_size: expected an integer"),
    refused("tag", setter("config.model.char_hidden_size", -1),
            "model.char_hidden_size: must be at least 0"),
    refused("tag", setter("config.model.char_hidden_size", 7), WEIGHTS),
    refused("tag", setter("config.model.crf", True), WEIGHTS),
    refused("tag", setter("config.model.crf", "yes"), "model.crf: expected true or false"),
    refused("tag", setter("config.model.num_tags", 4),
            "3 tags for a model of 19 words, 32 characters and 4 tags"),
    refused("tag", setter("config.model.char_vocab_size", 40),
            "32 characters and 3 tags for a model of 19 words, 40 characters"),
    refused("tag", setter("config.model.spans", True), "model.spans: unknown setting"),
    refused("tag", deleter("config.model.bidirectional"), "model.bidirectional: missing"),
    refused("tag", setter("config.data.format", "xml"), "data.format: expected one of"),
    refused("tag", setter("config.data.column", "lemma"), "data.column: expected one of"),
    refused("tag", setter("config.training.unk_rate", 2), "training.unk_rate: must be at most 1"),
    refused("tag", setter("vocabulary.tags", "O"),
            "vocabulary.tags: expected a list of label names, got 'O'"),
    refused("tag", setter("vocabulary.tags", ["B-PER", "B-PER", "O"]),
            "vocabulary.tags: a label is named twice"),
    refused("tag", setter("vocabulary.tags", ["B-PER", "O"]), "2 tags for a model of"),
    refused("tag", deleter("vocabulary.tags"), "vocabulary.tags: missing"),
    refused("tag", setter("vocabulary.words", "anna"),
            "vocabulary.words: expected a list of distinct words"),
    refused("tag", setter("vocabulary.words.3", "met"),
            "vocabulary.words: expected a list of distinct words"),
    refused("tag", setter("vocabulary.words.0", 0),
            "vocabulary.words: expected a list of distinct words"),
    refused("tag", setter("vocabulary.chars.1", "th"),
            "vocabulary.chars: expected <unk>, then distinct single characters"),
    refused("tag", setter("vocabulary.chars.1", "a"),
            "vocabulary.chars: expected <unk>, then distinct single characters"),
    # a character less: info and predict took it, resume refused it
    refused("tag", lambda config: config["vocabulary"]["chars"].pop(),
            "31 characters and 3 tags for a model of 19 words, 32 characters"),
    refused("tag", setter("vocabulary.lowercase", "yes"),
            "vocabulary.lowercase: expected true or false, got 'yes'"),
    refused("tag", setter("vocabulary.singletons", [99]),
            "vocabulary.singletons: expected ids of words"),
    refused("tag", setter("vocabulary.singletons", "1"),
            "vocabulary.singletons: expected ids of words"),
    refused("tag", setter("vocabulary", ["anna"]), "vocabulary: expected an object"),
    refused("tag", deleter("vocabulary"), "it has no 'vocabulary'"),
    # sequence to sequence: settings, vocabularies, attention, tokenizations
    refused("seq2seq", setter("config.model.attention", "luong"),
            "model.attention: expected one of none, dot, general, additive"),
    refused("seq2seq", setter("config.model.attention", "none"), WEIGHTS),
    refused("seq2seq", setter("config.model.attention", "dot"), "model.attention: dot scores need"),
    refused("seq2seq", setter("config.model.input_feeding", True), WEIGHTS),
    refused("seq2seq", setter("config.model.teacher_forcing", 2),
            "model.teacher_forcing: must be at most 1"),
    refused("seq2seq", setter("config.model.hidden_size", 24), WEIGHTS),
    refused("seq2seq", setter("config.model.source_vocab_size", 12),
            "vocabularies of 9 and 10 tokens for a model of 12 and 10 (model.source_vocab_size, "
            "model.target_vocab_size); restore it or retrain"),
    refused("seq2seq", setter("config.model.pad_id", 50),
            "model.pad_id: expected 0, the id of <pad> in the vocabularies, got 50"),
    refused("seq2seq", setter("config.model.eos_id", 1),
            "model.eos_id: expected 2, the id of </s>"),
    refused("seq2seq", setter("config.data.source_tokenizer", "bpe"),
            "data.source_tokenizer: expected one of char, word"),
    refused("seq2seq", setter("config.data.max_source_length", 0),
            "data.max_source_length: must be at least 1"),
    refused("seq2seq", setter("config.training.label_smoothing", 1),
            "training.label_smoothing: must be below 1"),
    refused("seq2seq", setter("tokenizations", "char"),
            "tokenizations: expected the source's and the target's, each one of char, word, got "
            "'char'; restore it or retrain"),
    refused("seq2seq", setter("tokenizations", ["char", "bpe"]),
            "tokenizations: expected the source's and the target's"),
    refused("seq2seq", deleter("tokenizations"), "it has no 'tokenizations'"),
    refused("seq2seq", setter("vocabularies.source.tokens", "abc"),
            "vocabularies.source.tokens: expected <pad>, <s>, </s>, <unk> first"),
    refused("seq2seq", setter("vocabularies.target.tokens.5", "D"),
            "vocabularies.target.tokens: expected <pad>, <s>, </s>, <unk> first and no repeats, "
            "got"),
    refused("seq2seq", setter("vocabularies.target.tokens.5", 5),
            "vocabularies.target.tokens: expected <pad>, <s>, </s>, <unk> first"),
    refused("seq2seq", setter("vocabularies.source.tokens.0", "<s>"),
            "vocabularies.source.tokens: expected <pad>, <s>, </s>, <unk> first"),
    refused("seq2seq", lambda config: config["vocabularies"]["target"]["tokens"].append("QQ"),
            "vocabularies of 9 and 11 tokens for a model of 9 and 10"),
    refused("seq2seq", deleter("vocabularies.source"), "vocabularies.source: missing"),
    refused("seq2seq", deleter("vocabularies.target.tokens"),
            "vocabularies.target.tokens: missing"),
    refused("seq2seq", setter("vocabularies.source", ["a"]),
            "vocabularies.source: expected an object"),
    refused("seq2seq", setter("vocabularies", []), "vocabularies: expected an object"),
    refused("seq2seq", deleter("vocabularies"), "it has no 'vocabularies'"),
    # forecasting: the window, the outputs, the scalings and their statistics, the dates
    refused("forecast", setter("config.model.lookback", "12"),
            "model.lookback: expected an integer"),
    refused("forecast", setter("config.model.lookback", 0), "model.lookback: must be at least 1"),
    refused("forecast", setter("config.model.lookback", 24), WEIGHTS),
    refused("forecast", setter("config.model.horizon", 3), WEIGHTS),
    refused("forecast", deleter("config.model.horizon"), "model.horizon: missing"),
    refused("forecast", setter("config.model.quantiles", "0.5"),
            "model.quantiles: expected a list"),
    refused("forecast", setter("config.model.quantiles", [0.1, 1.5]),
            "model.quantiles: every level must be in (0, 1)"),
    refused("forecast", setter("config.model.quantiles", [0.9, 0.1]),
            "model.quantiles: expected increasing levels"),
    refused("forecast", setter("config.model.loss", "quantile"), WEIGHTS),
    refused("forecast", setter("config.model.num_targets", 2), WEIGHTS),
    refused("forecast", setter("config.data.scaler", "robust"),
            "data.scaler: expected one of standard, mean, none"),
    refused("forecast", setter("config.data.target", "Sales"), "data.target: expected a list"),
    refused("forecast", setter("config.data.target", ["Sales", "Sales"]),
            "transforms.target: series '': expected a shift and a scale for each of 2 columns"),
    refused("forecast", setter("config.data.stride", 0), "data.stride: must be at least 1"),
    refused("forecast", setter("config.training.num_samples", 0),
            "training.num_samples: must be at least 1"),
    refused("forecast", setter("transforms.target.scaler", "robust"),
            "transforms.target: scaler: expected one of standard, mean, none, got 'robust'; "
            "restore it or retrain"),
    refused("forecast", setter("transforms.target.log", "yes"),
            "transforms.target: log: expected true or false, got 'yes'"),
    refused("forecast", setter("transforms.target.difference", -1),
            "transforms.target: difference: expected a lag >= 0, got -1"),
    refused("forecast", deleter("transforms.target.difference"),
            "transforms.target: difference: missing"),
    refused("forecast", setter("transforms.target.series", []),
            "transforms.target: series: expected an object of series"),
    refused("forecast", setter("transforms.target.series..shift", ["x"]),
            "transforms.target: series '': expected a shift and a scale for each of 1 column"),
    refused("forecast", setter("transforms.target.series..shift", [1.0, 2.0]),
            "transforms.target: series '': expected a shift and a scale for each of 1 column"),
    refused("forecast", setter("transforms.target.series..scale", [0]),
            "transforms.target: series '': expected finite shifts and scales above 0, got "
            "[114.75] and [0.0]"),
    refused("forecast", deleter("transforms.target.series..scale"),
            "transforms.target: series '': expected an object of its shift and scale"),
    refused("forecast", setter("transforms.covariates", None),
            "transforms.covariates: expected an object"),
    refused("forecast", deleter("transforms.target"), "transforms.target: missing"),
    refused("forecast", setter("transforms", []), "transforms: expected an object"),
    refused("forecast", setter("calendar", ["weekday"]),
            "calendar: ['weekday'] are not the features of the dates' frequency"),
    refused("forecast", setter("calendar", []), "calendar: expected 1 feature name, got []"),
    refused("forecast", setter("frequency.unit", "fortnight"),
            "frequency: not a spacing of dates"),
    refused("forecast", setter("held_out", {"": "soon"}), "held_out: not a date of each series"),
    refused("forecast", deleter("transforms"), "it has no 'transforms'"),
    # generation: its condition, categories and tokenizer
    refused("generate", setter("config.model.condition", "features"),
            "model.condition: expected one of category, vector"),
    refused("generate", setter("config.model.condition", "vector"),
            "feature_size: expected at least 1 with condition='vector'"),
    refused("generate", setter("config.model.num_categories", "3"),
            "model.num_categories: expected an integer"),
    refused("generate", setter("config.model.num_categories", 4), "3 categories for a model of 4"),
    refused("generate", setter("config.model.condition_size", 0),
            "model.condition_size: must be at least 1"),
    refused("generate", setter("config.model.condition_size", 5), WEIGHTS),
    refused("generate", setter("config.model.feed_condition", False), WEIGHTS),
    refused("generate", setter("config.model.vocab_size", 20),
            "a tokenizer of 14 tokens for a model of 20"),
    refused("generate", deleter("config.model.condition"), "model.condition: missing"),
    refused("generate", setter("config.data.max_length", 0), "data.max_length: must be at least 1"),
    refused("generate", setter("categories", "Ant"),
            "categories: expected a list of distinct names, got 'Ant'"),
    refused("generate", setter("categories", ["Ant", "Ant", "Cat"]),
            "categories: expected a list of distinct names"),
    refused("generate", setter("categories", [1, 2, 3]),
            "categories: expected a list of distinct names"),
    refused("generate", setter("categories", ["Ant", "Bee"]), "2 categories for a model of 3"),
    refused("generate", deleter("categories"), "it has no 'categories'"),
    refused("generate", setter("tokenizer.vocab.1", "q"), "its tokenizer does not load"),
    refused("generate", lambda config: config["tokenizer"]["vocab"].pop(),
            "a tokenizer of 13 tokens for a model of 14"),
    refused("generate", deleter("tokenizer"), "it has no 'tokenizer'"),
]  # fmt: skip


@pytest.mark.parametrize(("task", "edit", "named"), EDITS)
def test_an_edited_config_is_one_line_for_every_command(
    runs: dict, task: str, edit: Edit, named: str
) -> None:
    check_all_refused(task, runs, edit, named)


@pytest.mark.parametrize("task", TASKS)
@pytest.mark.parametrize(
    ("edit", "named"),
    [
        (setter("config.model.hidden_size", 16.5), "model.hidden_size: expected an integer"),
        (setter("config.model.num_layers", 10**9), "model.num_layers: must be at most 64"),
        (setter("config.model.cell", "transformer"), "model.cell: expected one of"),
        (setter("config.model.dropout", None), "model.dropout: expected a number, got null"),
        (setter("config.model.colour", "blue"), "model.colour: unknown setting"),
        (deleter("config.model.num_layers"), "model.num_layers: missing"),
        (setter("config.model.hidden_size", 40), WEIGHTS),
        (setter("config.training.batch_size", 0), "training.batch_size: must be at least 1"),
        (setter("config.data.encoding", "no-such-codec"), "data.encoding: no such text encoding"),
        (setter("config", None), "its 'config' is not an object"),
    ],
    ids=lambda value: value if isinstance(value, str) else "",
)
def test_settings_every_task_has_are_one_line_for_every_command(
    runs: dict, task: str, edit: Edit, named: str
) -> None:
    check_all_refused(task, runs, edit, named)


@pytest.mark.parametrize("task", TASKS)
def test_an_edited_progress_is_one_line_for_info_and_resume(runs: dict, task: str) -> None:
    named = "progress.step: expected a whole number from 0, got -1"
    check_all_refused(task, runs, setter("progress.step", -1), named, progress_only=True)


@pytest.mark.parametrize(
    "edit",
    [setter("transforms.target.series..shift", [1e308]),
     setter("transforms.target.series..scale", [1e-320])],
    ids=["shift", "scale"],
)  # fmt: skip
def test_a_saved_scaling_the_data_overflows_is_one_line(runs: dict, edit: Edit) -> None:
    # the model read the scaled window as infinities: a ValueError traceback
    run, data = runs["forecast"]
    with edited_copy(run, edit) as copy_:
        for argv in model_commands("forecast", copy_, data):
            status, _, err = run_cli(*argv)
            assert_one_line_error(
                status, err, "series '': scaled as in training, its values reach",
                "restore the run's config.json if its scaling (transforms) was edited",
            )  # fmt: skip


def test_data_far_outside_the_training_datas_is_one_line(runs: dict, tmp_path: Path) -> None:
    run, _ = runs["forecast"]
    dates, values = monthly()
    values[-1] = 1e40  # read by the model as float32: an infinity
    data = write_csv(tmp_path / "far.csv", dates, values)
    status, _, err = run_cli("predict", run, "--data", data)
    assert_one_line_error(status, err, "series '': scaled as in training, its values reach 6")


# -- the fuzz -------------------------------------------------------------------------------

OWN_ENTRIES = {
    "tag": ["vocabulary"],
    "seq2seq": ["vocabularies", "tokenizations"],
    "forecast": ["transforms", "frequency", "calendar", "held_out"],
    "generate": ["tokenizer", "categories"],
}


def task_leaves(config: dict[str, Any]) -> list[str]:
    """test_config_fuzz's fields, and every field inside the task's own entries (of a list,
    its first and last item)."""
    paths = []

    def walk(value: Any, path: str) -> None:
        paths.append(path)
        if isinstance(value, dict):
            for key, item in value.items():
                walk(item, f"{path}.{key}")
        elif isinstance(value, list) and value:
            for index in sorted({0, len(value) - 1}):
                walk(value[index], f"{path}.{index}")

    for entry in OWN_ENTRIES[config["task"]]:
        walk(config[entry], entry)
    return leaves(config) + paths


@pytest.mark.parametrize("task", TASKS)
@settings(FUZZ, max_examples=40)
@given(data=st.data())
def test_fuzzed_configs_never_end_in_a_traceback(runs: dict, task: str, data) -> None:
    fuzz(task, runs, data, task_leaves)
