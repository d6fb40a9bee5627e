"""``rnnkit.cli.flags``: the one place where a setting's name becomes a flag."""

from __future__ import annotations

import pytest

from rnnkit.cli.flags import as_flags, changed_settings, given_settings, setting_names
from rnnkit.cli.main import SETTING_NAMES, ArgumentParser
from rnnkit.cli.train import build_parser
from rnnkit.errors import SettingError, UserError
from rnnkit.train.tasks import TASKS
from tests.cli.cli_helpers import run_cli


@pytest.mark.parametrize(
    ("message", "named", "expected"),
    [
        # Names with an underscore, and the plain names lr, clip, ema, epochs, always.
        ("lower batch_size or seq_len", (), "lower --batch-size or --seq-len"),
        ("diverged; lower lr or set clip", (), "diverged; lower --lr or set --clip"),
        # Other one-word names only when the error says it names them.
        ("pass encoding latin-1", (), "pass encoding latin-1"),
        ("pass encoding latin-1", ("encoding",), "pass --encoding latin-1"),
        # Never inside a config.json key, a path or a file name.
        ("setting training.max_steps: missing", (), "setting training.max_steps: missing"),
        ("/data/train/x.tsv: give train", ("train",), "/data/train/x.tsv: give --train"),
        (
            "train.tsv lacks labels; check train",
            ("train",),
            "train.tsv lacks labels; check --train",
        ),
        ("a word like seq_lens or max_stepsize", (), "a word like seq_lens or max_stepsize"),
        # A boolean setting's value is its flag or the negation ("--tie-weights False" was
        # printed, which no command line takes).
        (
            "tie_weights False differs from the run (tie_weights True)",
            (),
            "--no-tie-weights differs from the run (--tie-weights)",
        ),
        ("lowercase True differs", ("lowercase",), "--lowercase differs"),
        ("True or False is a word", (), "True or False is a word"),
    ],
)
def test_as_flags(message: str, named: tuple[str, ...], expected: str) -> None:
    assert as_flags(message, SETTING_NAMES, named) == expected


def test_every_task_setting_is_known_to_the_command_line() -> None:
    for task in TASKS.values():
        assert setting_names(task.config_class) <= SETTING_NAMES


def test_settings_the_program_derives_are_not_written_as_flags() -> None:
    # "config.json was edited or damaged: --pad-id: ..." named a flag that does not exist
    names = setting_names(TASKS["seq2seq"].config_class)
    assert "hidden_size" in names and "max_time" in names
    assert not {"pad_id", "bos_id", "eos_id", "source_vocab_size"} & names
    message = "run/config.json was edited or damaged: pad_id: expected an id"
    assert as_flags(message, SETTING_NAMES) == message


def test_a_setting_error_from_below_is_one_line_in_flags(monkeypatch: pytest.MonkeyPatch) -> None:
    from rnnkit.cli import info

    def failing(args: object) -> int:
        raise SettingError(
            "format folders needs a folder, and max_vocab a word tokenizer", "format"
        )

    monkeypatch.setattr(info, "run", failing)
    status, _, err = run_cli("info", "somewhere")
    assert status == 2
    assert err == (
        "rnnkit: error: --format folders needs a folder, and --max-vocab a word tokenizer\n"
    )


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        # A library error names the setting it is about first: that one word is the flag.
        ("fill: 2 missing values", "--fill: 2 missing values"),
        # The same word later on is a column or a path the user gave, not the setting.
        ("target: no column 'target' in the file", "--target: no column 'target' in the file"),
        ("data: data is a folder; give a file", "--data: data is a folder; give a file"),
        # A file named like a setting, given before its line number, is not the setting.
        ("test:2: the line is empty", "test:2: the line is empty"),
    ],
)
def test_only_the_leading_setting_of_an_error_becomes_a_flag(
    monkeypatch: pytest.MonkeyPatch, message: str, expected: str
) -> None:
    from rnnkit.cli import info

    def failing(args: object) -> int:
        raise UserError(message)

    monkeypatch.setattr(info, "run", failing)
    status, _, err = run_cli("info", "somewhere")
    assert (status, err) == (2, f"rnnkit: error: {expected}\n")


@pytest.mark.parametrize("task", ["classify", "tag", "seq2seq", "generate"])
def test_data_names_the_training_file_of_tasks_with_separate_files(task: str) -> None:
    parser = build_parser(TASKS[task], ArgumentParser)
    given = given_settings(parser.parse_args(["--data", "pairs.tsv"]))
    assert given == {("data", "train"): "pairs.tsv"}


@pytest.mark.parametrize(
    "argv",
    [
        ["train", "--task", "seq2seq", "--train", "a.tsv", "--data", "b.tsv"],
        ["train", "--task", "tag", "--data=a.conllu", "--train", "b.conllu"],
        ["train", "--cell", "gru", "--model", "lstm"],
    ],
)
def test_a_flag_and_its_alias_together_are_refused(argv: list[str]) -> None:
    # argparse would keep the last of the two without a word
    status, _, err = run_cli(*argv)
    assert status == 2 and err.count("\n") == 1 and "are one setting; give one of them" in err


def test_one_flag_given_twice_still_overrides() -> None:
    parser = build_parser(TASKS["seq2seq"], ArgumentParser)
    argv = ["--peeky", "--no-peeky", "--data", "a", "--data", "b"]
    given = given_settings(parser.parse_args(argv))
    assert given[("model", "peeky")] is False and given[("data", "train")] == "b"


@pytest.mark.parametrize("name", sorted(TASKS))
def test_train_help_gives_each_task_s_own_defaults(name: str) -> None:
    # tag, seq2seq and generate said "(default: the task's, e.g. 0.002 with adam)" and
    # "(default: the task's)" for patience; forecast alone said "at least every 1000"
    settings = type(TASKS[name].config_class().training)
    helps = {
        action.option_strings[0]: " ".join(action.help.split())
        for action in build_parser(TASKS[name], ArgumentParser)._actions
        if action.option_strings and action.help
    }
    for optimizer, rate in settings.default_lr.items():
        assert f"{rate:g} with {optimizer}" in helps["--lr"]
    assert "the task's" not in helps["--lr"] + helps["--plateau-patience"]
    intervals = getattr(settings, "plateau_intervals", None)
    if intervals is not None:  # a batched task: validation once an epoch by default
        assert f"(default: {intervals} validation intervals)" in helps["--plateau-patience"]
        assert "once per epoch, at most every 1000" in helps["--eval-every"]


def test_a_changed_setting_is_shown_with_every_digit_that_tells_it_apart() -> None:
    # Rates that differ past the sixth digit read as one value in six significant digits
    # ('--lr 0.00123457 (was 0.00123457)'); round numbers stay short.
    saved, config = TASKS["lm"].config_class(), TASKS["lm"].config_class()
    saved.training.lr, config.training.lr = 0.0012345678, 0.0012345679
    saved.training.clip, config.training.clip = 5.0, 1e9
    given = {("training", "lr"): None, ("training", "clip"): None}
    assert changed_settings(saved, config, given) == [
        "--lr 0.0012345679 (was 0.0012345678)",
        "--clip 1e+09 (was 5)",
    ]
