"""Bad input: each case prints one line on stderr, exits with status 2, shows no traceback
and leaves any existing run folder exactly as it was."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rnnkit.train import load_checkpoint
from tests.cli.cli_helpers import (
    TINY,
    assert_one_line_error,
    folder_bytes,
    run_cli,
    write_corpus,
)


def train(*argv: object) -> tuple[int, str, str]:
    return run_cli("train", *argv, "--max-steps", "3", *TINY)


@pytest.fixture
def run_folder(tmp_path: Path) -> Path:
    """A finished char-LSTM run (3 steps)."""
    data = write_corpus(tmp_path)
    status, _, err = train("--data", data, "--out", tmp_path / "run")
    assert status == 0, err
    return tmp_path / "run"


def test_missing_path(tmp_path: Path) -> None:
    status, _, err = train("--data", tmp_path / "nowhere.txt")
    assert_one_line_error(status, err, "nowhere.txt does not exist")


def test_empty_file(tmp_path: Path) -> None:
    (tmp_path / "empty.txt").write_text("")
    status, _, err = train("--data", tmp_path / "empty.txt")
    assert_one_line_error(status, err, "empty.txt holds no text")


def test_text_shorter_than_one_batch_window(tmp_path: Path) -> None:
    (tmp_path / "short.txt").write_text("just a few words\n" * 3)
    status, _, err = train("--data", tmp_path / "short.txt", "--val-fraction", "0")
    # 51 tokens; one window of 4 streams x (16 + 1) needs 68.
    assert_one_line_error(status, err, "short.txt is too short", "51 training tokens", "68")


def test_binary_file(tmp_path: Path) -> None:
    (tmp_path / "data.bin").write_bytes(b"text at first" + bytes(range(256)) * 4)
    status, _, err = train("--data", tmp_path / "data.bin")
    assert_one_line_error(status, err, "data.bin", "byte offset 13")


def test_file_in_another_encoding(tmp_path: Path) -> None:
    (tmp_path / "latin.txt").write_bytes("caf\u00e9 au lait\n".encode("latin-1") * 50)
    status, _, err = train("--data", tmp_path / "latin.txt")
    assert_one_line_error(status, err, "latin.txt", "byte offset 3", "--encoding")
    # ... and the suggested fix works.
    status, _, err = train(
        "--data", tmp_path / "latin.txt", "--encoding", "latin-1", "--out", tmp_path / "r"
    )
    assert status == 0, err
    # eval reads the text as the run was trained, unless told otherwise.
    status, _, err = run_cli("eval", tmp_path / "r", "--data", tmp_path / "latin.txt")
    assert status == 0, err
    status, _, err = run_cli(
        "eval", tmp_path / "r", "--data", tmp_path / "latin.txt", "--encoding", "utf-8"
    )
    assert_one_line_error(status, err, "latin.txt", "not valid utf-8")


def test_folder_without_text_files(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "image.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    (tmp_path / "data" / ".hidden.txt").write_text("hidden text\n")
    status, _, err = train("--data", tmp_path / "data")
    assert_one_line_error(status, err, "holds no text files")


def test_resume_without_a_checkpoint(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    status, _, err = train("--out", tmp_path / "empty", "--resume")
    assert_one_line_error(status, err, "empty holds no training run")
    status, _, err = train("--resume")
    assert_one_line_error(status, err, "--resume needs --out")


@pytest.mark.parametrize("file", ["model.safetensors", "optimizer.safetensors", "config.json"])
def test_resume_from_a_corrupted_checkpoint(run_folder: Path, file: str) -> None:
    path = run_folder / file
    path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])
    before = folder_bytes(run_folder)
    status, _, err = train("--out", run_folder, "--resume")
    assert_one_line_error(status, err, "damaged", file)
    assert folder_bytes(run_folder) == before


def test_a_damaged_model_read_by_sample_names_a_fix_for_sampling(run_folder: Path) -> None:
    path = run_folder / "best" / "model.safetensors"
    path.write_bytes(path.read_bytes()[:100])
    status, _, err = run_cli("sample", run_folder, "--length", "5")
    assert_one_line_error(status, err, "damaged", "use another run folder, or train again")
    assert "resume" not in err


@pytest.mark.parametrize(
    ("flags", "named"),
    [
        (["--tokenizer", "word"], "--tokenizer word differs"),
        (["--hidden-size", "32"], "--hidden-size 32 differs"),
        # --model is the old name of --cell: the error names the setting's own flag.
        (["--model", "gru"], "--cell gru differs"),
        (["--tie-weights"], "--tie-weights differs from the run"),
        (["--batch-size", "8"], "--batch-size 8 differs"),
    ],
)
def test_resume_with_another_tokenizer_or_architecture(
    run_folder: Path, flags: list[str], named: str
) -> None:
    before = folder_bytes(run_folder)
    status, _, err = run_cli("train", "--out", run_folder, "--resume", *flags)
    assert_one_line_error(status, err, named, str(run_folder))
    assert folder_bytes(run_folder) == before


def test_resume_after_the_text_changed(run_folder: Path, tmp_path: Path) -> None:
    write_corpus(tmp_path, seed=5)  # the run's data file, rewritten with other text
    before = folder_bytes(run_folder)
    status, _, err = run_cli("train", "--out", run_folder, "--resume", "--max-steps", "9")
    assert_one_line_error(status, err, "corpus.txt differs from the text the run in", "new run")
    assert folder_bytes(run_folder) == before


def test_a_new_run_does_not_overwrite_an_old_one(run_folder: Path, tmp_path: Path) -> None:
    before = folder_bytes(run_folder)
    status, _, err = train("--data", tmp_path / "corpus.txt", "--out", run_folder)
    assert_one_line_error(status, err, "already holds a training run", "--resume")
    assert folder_bytes(run_folder) == before


def test_loss_turning_nan(tmp_path: Path) -> None:
    data = write_corpus(tmp_path)
    status, _, err = run_cli(
        "train", "--data", data, "--out", tmp_path / "run", *TINY,
        "--optimizer", "sgd", "--lr", "1e38", "--clip", "0", "--max-steps", "20",
    )  # fmt: skip
    assert_one_line_error(status, err, "diverged", "last good checkpoint", "--lr")
    kept = load_checkpoint(tmp_path / "run")
    for value in kept.arrays["model"].values():
        assert np.all(np.isfinite(value))


@pytest.mark.parametrize(
    ("flags", "named"),
    [
        (["--hidden-size", "-3"], "--hidden-size: must be at least 1, got -3"),
        (["--embedding-size", "0"], "--embedding-size: must be at least 1, got 0"),
        (["--num-layers", "two"], "--num-layers: must be an integer, got 'two'"),
        (["--dropout", "1.5"], "--dropout: must be below 1, got 1.5"),
        (["--dropout", "-0.5"], "--dropout: must be at least 0, got -0.5"),
        (["--lr", "0"], "--lr: must be at least 1e-12, got 0.0"),
        (["--lr", "nan"], "--lr: expected a finite number, got nan"),
        (["--clip", "-1"], "--clip: must be at least 0, got -1.0"),
        (["--max-time", "-5"], "--max-time: must be at least 1e-09, got -5.0"),
        (["--max-steps", "0"], "--max-steps: must be at least 1, got 0"),
        (["--val-fraction", "1"], "--val-fraction: must be below 1, got 1.0"),
        (["--ema", "1"], "--ema: must be above 0 and below 1"),
        (["--seq-len", "1.5"], "--seq-len: must be an integer"),
        (["--tokenizer", "bytes"], "--tokenizer: invalid choice"),
        (
            ["--tie-weights", "--embedding-size", "8"],
            "--tie-weights needs --embedding-size equal to --hidden-size, got 8 and 16",
        ),
        (["--min-count", "2"], "--max-vocab and --min-count apply to the word tokenizer only"),
        (["--epochs", "2", "--max-steps", "3"], "--epochs sets --max-steps; give one of them"),
    ],
)
def test_bad_flags(tmp_path: Path, flags: list[str], named: str) -> None:
    data = write_corpus(tmp_path)
    status, _, err = run_cli("train", "--data", data, "--out", tmp_path / "run", *TINY, *flags)
    assert_one_line_error(status, err, named)
    assert not (tmp_path / "run").exists()


def test_sample_and_eval_errors(run_folder: Path, tmp_path: Path) -> None:
    status, _, err = run_cli("sample", tmp_path / "nowhere")
    assert_one_line_error(status, err, "nowhere is not a folder")
    status, _, err = run_cli("sample", run_folder, "--temperature", "-1")
    assert_one_line_error(status, err, "--temperature")
    status, _, err = run_cli("eval", run_folder)
    assert_one_line_error(status, err, "--data")


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("nowhere.txt", None, "nowhere.txt does not exist"),
        ("empty.txt", b"", "empty.txt holds no text"),
        ("blank.txt", b"  \n\n", "blank.txt holds no text"),
        ("data.bin", b"text" + bytes(range(256)), "data.bin looks binary"),
        ("latin.txt", "caf\u00e9\n".encode("latin-1"), "latin.txt: byte 0xe9 at byte offset 3"),
        ("folder", "folder", "folder holds no text files"),
    ],
)
def test_eval_refuses_bad_text_in_one_line_and_leaves_the_run_alone(
    run_folder: Path, tmp_path: Path, name: str, content: bytes | str | None, message: str
) -> None:
    path = tmp_path / name
    if content == "folder":
        path.mkdir()
        (path / "image.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    elif content is not None:
        path.write_bytes(content)
    before = folder_bytes(run_folder)
    for json_flag in ([], ["--json"]):
        status, out, err = run_cli("eval", run_folder, "--data", path, *json_flag)
        assert_one_line_error(status, err, message)
        assert out == ""
    assert folder_bytes(run_folder) == before


def test_resume_with_another_task(run_folder: Path) -> None:
    before = folder_bytes(run_folder)
    status, _, err = run_cli("train", "--task", "classify", "--out", run_folder, "--resume")
    assert_one_line_error(
        status, err, "--task classify is for another task than the run in", "(task lm)",
        f"rnnkit train --out {run_folder} --resume",
    )  # fmt: skip
    # Naming the run's own task agrees with it.
    status, _, err = run_cli("train", "--task", "lm", "--out", run_folder, "--resume")
    assert status == 0, err
    assert folder_bytes(run_folder) == before  # its budget was spent: nothing to do


@pytest.mark.parametrize(
    ("task", "named"),
    [
        ("classify", "has a label but no text"),
        ("tag", "has one field"),
        ("generate", "is not 'condition<TAB>text'"),
    ],
)
def test_a_malformed_long_line_is_quoted_short(tmp_path: Path, task: str, named: str) -> None:
    # A file of one 5,000-character word: the error names its line and quotes its start,
    # not all of it.
    (tmp_path / "long.txt").write_text("x" * 5000 + "\n")
    status, _, err = run_cli(
        "train", "--task", task, "--train", tmp_path / "long.txt", "--out", tmp_path / "run"
    )
    assert_one_line_error(status, err, "long.txt:1 ", named, "'xxxx", "'...")
    assert len(err) < 300, err
    assert not (tmp_path / "run").exists()


def test_a_system_error_on_a_file_names_it_and_advises_only_where_the_path_is_at_fault() -> None:
    import errno

    from rnnkit.cli.main import os_error_line

    missing = os_error_line(FileNotFoundError(errno.ENOENT, "No such file or directory", "/x/y"))
    assert missing.startswith("/x/y: no such file or directory; check the path")
    full = os_error_line(OSError(errno.ENOSPC, "No space left on device", "/x/y"))
    assert full == "/x/y: no space left on device"


@pytest.mark.parametrize(
    ("argv", "help_command"),
    [
        (["train", "--task", "seq2seq", "--bogus"], "rnnkit train --task seq2seq --help"),
        (["train", "--bogus"], "rnnkit train --task lm --help"),
        (["train-classifier", "--bogus"], "rnnkit train --task classify --help"),
        (["predict", "somewhere", "--bogus"], "rnnkit predict --help"),
    ],
)
def test_an_unknown_flag_points_to_the_help_that_lists_the_flags(
    argv: list[str], help_command: str
) -> None:
    status, _, err = run_cli(*argv)
    assert_one_line_error(status, err, f"unrecognized arguments: --bogus (see {help_command})")


@pytest.mark.parametrize("deleted", ["config.json", "config.json and weights"])
def test_a_run_without_its_config_is_damaged_and_no_new_run_starts_in_it(
    run_folder: Path, deleted: str
) -> None:
    (run_folder / "config.json").unlink()
    if deleted != "config.json":
        for weights in run_folder.glob("*.safetensors"):
            weights.unlink()  # best/ and metrics.jsonl are left of the run
    before = folder_bytes(run_folder)
    if deleted == "config.json":
        status, _, err = run_cli("train", "--out", run_folder, "--resume")
        assert_one_line_error(status, err, "damaged (config.json is missing)")
    # a new run would have mixed its log and best model with the old run's
    status, _, err = train(
        "--data", write_corpus(run_folder.parent, "new.txt"), "--out", run_folder
    )
    assert_one_line_error(status, err, f"{run_folder} holds the files of a damaged run")
    assert folder_bytes(run_folder) == before


def test_info_and_resume_name_a_path_that_is_no_run_folder(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("x")
    for path, problem in [
        (tmp_path / "missing", "does not exist"),
        (tmp_path / "notes.txt", "is a file, not a run folder"),
    ]:
        for argv in (["info", path], ["train", "--out", path, "--resume"]):
            status, _, err = run_cli(*argv)
            assert_one_line_error(
                status, err, f"{path} {problem}; give the run folder that training wrote"
            )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]  # nothing made


def test_a_new_run_into_a_folder_of_other_weights_says_what_it_found(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "model.safetensors").write_bytes(b"weights from elsewhere")
    status, _, err = train("--data", write_corpus(tmp_path), "--out", out)
    assert_one_line_error(
        status, err, "of a damaged run or of something else ('model.safetensors', but no "
        "config.json); choose another run folder, or move those files out first"
    )
    assert [p.name for p in out.iterdir() if not p.name.startswith(".")] == ["model.safetensors"]
    assert (out / "model.safetensors").read_bytes() == b"weights from elsewhere"
