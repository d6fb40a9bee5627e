"""``rnnkit predict`` reads its inputs as they come: stdin line by line, a byte-order mark
dropped, ``--encoding``, and blank or unreadable lines answered with a note, not an abort."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli.cli_helpers import assert_one_line_error, run_cli
from tests.cli.test_classifier_cli import TINY, write_tsv


@pytest.fixture(scope="module")
def char_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("predict")
    train = write_tsv(folder / "train.tsv")
    status, _, err = run_cli(
        "train-classifier", "--train", train, "--tokenizer", "char", "--out", folder / "run",
        "--max-steps", "20", *TINY,
    )  # fmt: skip
    assert status == 0, err
    return folder / "run"


def test_a_blank_line_and_an_unreadable_text_get_an_empty_answer(char_run: Path, tmp_path: Path):
    path = tmp_path / "texts.txt"
    path.write_text("great film\n\n\u4e2d\u6587\nawful plot\n", encoding="utf-8")
    status, out, err = run_cli("predict", char_run, "--input", path, "--json")
    assert status == 0, err
    records = [json.loads(line) for line in out.splitlines()]
    assert [r["label"] is None for r in records] == [False, True, True, False]
    assert [r["text"] for r in records] == ["great film", "", "\u4e2d\u6587", "awful plot"]
    assert "line 2" in err and "line 3" in err


def test_a_byte_order_mark_is_dropped_and_encoding_is_honoured(char_run: Path, tmp_path: Path):
    path = tmp_path / "bom.txt"
    path.write_bytes("\ufeffgreat film\n".encode())
    status, out, _ = run_cli("predict", char_run, "--input", path, "--json")
    assert status == 0 and json.loads(out)["text"] == "great film"
    latin = tmp_path / "latin.txt"
    latin.write_bytes("caf\xe9 film\n".encode("latin-1"))
    status, _, err = run_cli("predict", char_run, "--input", latin)
    assert_one_line_error(status, err, "is not valid utf-8")
    status, out, err = run_cli("predict", char_run, "--input", latin, "--encoding", "latin-1")
    assert status == 0, err
    assert out.split("\t")[2].strip() == "caf\xe9 film"
    status, _, err = run_cli("predict", char_run, "--input", latin, "--encoding", "klingon")
    assert_one_line_error(status, err, "--encoding klingon")


def test_stdin_is_answered_line_by_line(char_run: Path):
    process = subprocess.Popen(
        [sys.executable, "-m", "rnnkit", "predict", str(char_run)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        process.stdin.write("great film\n")
        process.stdin.flush()
        # The answer comes while stdin is still open: no read-everything-first.
        first = process.stdout.readline()
        assert first.endswith("\tgreat film\n")
        process.stdin.write("awful plot\n")
        process.stdin.close()
        assert process.stdout.readline().endswith("\tawful plot\n")
        assert process.wait(timeout=60) == 0
    finally:
        process.kill()


def test_an_input_file_that_cannot_be_read_is_named_in_one_line(char_run: Path, tmp_path: Path):
    for path, reason in [(tmp_path / "nowhere.txt", "no such file"), (tmp_path, "is a dir")]:
        status, _, err = run_cli("predict", char_run, "--input", path)
        assert_one_line_error(status, err, f"{path}: {reason}", "check the path")
        assert "Errno" not in err


def test_text_that_its_encoding_refuses_is_one_line(char_run: Path, tmp_path: Path):
    """UTF-16 without a byte-order mark is refused by the codec itself (a UnicodeError that
    is not a UnicodeDecodeError), which must not escape as a traceback."""
    path = tmp_path / "no_bom.txt"
    path.write_bytes(b"great film\n")
    status, _, err = run_cli("predict", char_run, "--input", path, "--encoding", "utf-16")
    assert_one_line_error(status, err, "is not valid utf-16", "does not start with BOM")


def test_unseen_characters_left_out_are_counted_with_their_noun(char_run: Path, tmp_path: Path):
    # "\u4e2d" and "\u6587" are never in the keyword texts the run was trained on.
    status, _, err = run_cli("predict", char_run, "great film \u4e2d", "awful \u4e2d\u6587 plot")
    assert status == 0, err
    assert err.splitlines() == [
        "rnnkit: note: text 1: 1 character not seen in training was left out",
        "rnnkit: note: text 2: 2 characters not seen in training were left out",
    ]
    # eval says the same, after its report (on stderr with --json).
    data = tmp_path / "test.tsv"
    data.write_text("text\tlabel\ngreat film \u4e2d\tpos\nawful plot\tneg\n", encoding="utf-8")
    status, out, err = run_cli("eval", char_run, "--data", data)
    assert status == 0, err
    assert out.splitlines()[-1] == "1 character not seen in training was left out"
    status, out, err = run_cli("eval", char_run, "--data", data, "--json")
    assert status == 0 and json.loads(out)["examples"] == 2
    assert err == "1 character not seen in training was left out\n"


def test_a_byte_its_encoding_refuses_is_placed_in_the_whole_input(char_run: Path, tmp_path: Path):
    # The decoder counts from the start of the chunk it was given: a bad byte at offset
    # 20,000 was said to be "at byte 3616".
    path = tmp_path / "latin.txt"
    path.write_bytes(b"great film\n" * 1818 + b"caf\xe9 film\n")  # 0xe9 at offset 20001
    status, out, err = run_cli("predict", char_run, "--input", path)
    assert_one_line_error(
        status, err, f"{path} is not valid utf-8", "byte 0xe9 at byte offset 20001", "--encoding"
    )
    assert 0 < len(out.splitlines()) <= 1818  # lines before its chunk were answered
    stdin = subprocess.run(
        [sys.executable, "-m", "rnnkit", "predict", str(char_run)],
        input=path.read_bytes(),
        capture_output=True,
        timeout=120,
    )
    assert stdin.returncode == 2
    assert b"stdin is not valid utf-8" in stdin.stderr
    assert b"byte 0xe9 at byte offset 20001" in stdin.stderr
