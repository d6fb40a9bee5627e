"""``rnnkit export DIR --onnx FILE`` on trained runs, and its one-line refusals."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

import rnnkit.atomic
from rnnkit.train.tasks.language_model import load_language_model
from tests.cli.cli_helpers import TINY, assert_one_line_error, run_cli, write_corpus
from tests.train.test_generate_task import write_folder
from tests.train.test_tagging_task import NAMES, write_sentences

ort = pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")


def test_export_of_a_language_model_run(tmp_path: Path) -> None:
    data = write_corpus(tmp_path, count=100)
    run = tmp_path / "run"
    status, _, err = run_cli("train", "--data", data, "--out", run, "--max-steps", "3", *TINY)
    assert status == 0, err
    status, out, err = run_cli("export", run, "--onnx", tmp_path / "lm.onnx")
    assert status == 0, err
    assert out.startswith("wrote the language model of ")  # the task's title, not "lm"
    assert "lm.onnx" in out and (tmp_path / "lm.onnx").is_file()
    model, tokenizer, _ = load_language_model(run / "best")
    ids = tokenizer.encode("the cat sat on a mat")[None]
    zeros = np.zeros((1, 1, 16), np.float32)
    sess = ort.InferenceSession(str(tmp_path / "lm.onnx"))
    logits = sess.run(["logits"], {"ids": ids, "h0": zeros, "c0": zeros})[0]
    np.testing.assert_allclose(logits, model.forward(ids)[0], rtol=1e-5, atol=1e-5)


def test_export_refuses_a_crf_tagger_naming_the_flag(tmp_path: Path) -> None:
    train = write_sentences(tmp_path / "train.txt", 40, 0, NAMES)
    run = tmp_path / "tagger"
    status, _, err = run_cli(
        "train", "--task", "tag", "--train", train, "--out", run, "--crf", "--max-steps", "2",
        "--embedding-size", "6", "--hidden-size", "6", "--char-hidden-size", "0",
    )  # fmt: skip
    assert status == 0, err
    status, _, err = run_cli("export", run, "--onnx", tmp_path / "tagger.onnx")
    assert_one_line_error(status, err, "--crf", "ONNX")
    assert not (tmp_path / "tagger.onnx").exists()


def test_export_into_a_missing_folder_is_one_line_and_creates_nothing(tmp_path: Path) -> None:
    data = write_corpus(tmp_path, count=100)
    run = tmp_path / "run"
    status, _, err = run_cli("train", "--data", data, "--out", run, "--max-steps", "1", *TINY)
    assert status == 0, err
    target = tmp_path / "missing" / "deeper" / "lm.onnx"
    status, _, err = run_cli("export", run, "--onnx", target)
    # as predict's --csv: the path named, what to check, and no folder made on a typo
    assert_one_line_error(status, err, f"{target}: no such file or directory", "folder exists")
    assert not (tmp_path / "missing").exists()


def test_export_of_a_folder_without_a_run_is_one_line(tmp_path: Path) -> None:
    status, _, err = run_cli("export", tmp_path, "--onnx", tmp_path / "x.onnx")
    assert_one_line_error(status, err, str(tmp_path))


def test_export_refuses_a_generator_run_by_its_task(tmp_path: Path) -> None:
    run = tmp_path / "names"
    status, _, err = run_cli(
        "train", "--task", "generate", "--train", write_folder(tmp_path / "train", 10),
        "--out", run, "--max-steps", "1", "--hidden-size", "4",
    )  # fmt: skip
    assert status == 0, err
    status, _, err = run_cli("export", run, "--onnx", tmp_path / "names.onnx")
    assert_one_line_error(
        status, err, "holds a conditioned-generator run, which has no ONNX export"
    )
    assert "ConditionedLanguageModel" not in err
    assert not (tmp_path / "names.onnx").exists()


def test_an_export_that_fails_while_writing_leaves_no_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = write_corpus(tmp_path, count=100)
    run = tmp_path / "run"
    status, _, err = run_cli("train", "--data", data, "--out", run, "--max-steps", "1", *TINY)
    assert status == 0, err

    def disk_full(descriptor: int) -> None:
        raise OSError(28, "No space left on device")

    # The disk fills up as the model is flushed: no half-written model may remain.
    monkeypatch.setattr(rnnkit.atomic.os, "fsync", disk_full)
    (tmp_path / "out").mkdir()
    status, _, err = run_cli("export", run, "--onnx", tmp_path / "out" / "lm.onnx")
    assert_one_line_error(status, err, "lm.onnx: no space left on device")
    assert list((tmp_path / "out").iterdir()) == []


@pytest.mark.parametrize("target", ["", "."])
def test_export_to_no_file_name_is_one_line(tmp_path: Path, target: str) -> None:
    data = write_corpus(tmp_path, count=100)
    run = tmp_path / "run"
    status, _, err = run_cli("train", "--data", data, "--out", run, "--max-steps", "1", *TINY)
    assert status == 0, err
    status, _, err = run_cli("export", run, "--onnx", target)
    assert_one_line_error(status, err, "names no file", "e.g. model.onnx")


def seq2seq_run(tmp_path: Path) -> Path:
    pairs = tmp_path / "pairs.tsv"
    words = ["abc", "acb", "bac", "bca", "cab", "cba"]
    pairs.write_text("".join(f"{w}\t{w[::-1]}\n" for w in words * 3))
    run = tmp_path / "s2s"
    status, _, err = run_cli(
        "train", "--task", "seq2seq", "--train", pairs, "--out", run, "--max-steps", "1",
        "--hidden-size", "4", "--embedding-size", "4", "--threads", "1",
    )  # fmt: skip
    assert status == 0, err
    return run


def test_a_seq2seq_export_writes_both_files_or_neither(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = seq2seq_run(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    # The decoder's file cannot be written (a folder is in the way): told before the
    # encoder's is written.
    (out / "m.decoder.onnx").mkdir()
    status, _, err = run_cli("export", run, "--onnx", out / "m.onnx")
    assert_one_line_error(status, err, "m.decoder.onnx: is a directory")
    assert sorted(p.name for p in out.iterdir()) == ["m.decoder.onnx"]
    (out / "m.decoder.onnx").rmdir()

    # The disk fills up as the decoder is flushed: the encoder written before goes too.
    fill_the_disk_at_the_decoder(monkeypatch)
    status, _, err = run_cli("export", run, "--onnx", out / "m.onnx")
    assert_one_line_error(status, err, "m.decoder.onnx: no space left on device")
    assert list(out.iterdir()) == []


def test_a_failed_seq2seq_export_keeps_an_earlier_pair_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Exporting again over an earlier pair, the disk fills up at the new decoder: the new
    # encoder must not replace the old one (a pair that does not fit), nor be removed with
    # it (a decoder without an encoder).
    run, out = seq2seq_run(tmp_path), tmp_path / "out"
    out.mkdir()
    old = {name: b"an earlier export's " + name.encode() for name in ENCODER_DECODER}
    for name, content in old.items():
        (out / name).write_bytes(content)
    fill_the_disk_at_the_decoder(monkeypatch)
    status, _, err = run_cli("export", run, "--onnx", out / "m.onnx")
    assert_one_line_error(status, err, "m.decoder.onnx: no space left on device")
    assert {path.name: path.read_bytes() for path in out.iterdir()} == old


ENCODER_DECODER = ("m.encoder.onnx", "m.decoder.onnx")


def fill_the_disk_at_the_decoder(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make flushing a seq2seq decoder's file fail as a full disk does (Linux: the file
    flushed is named by /proc/self/fd)."""
    fsync = os.fsync

    def full_at_the_decoder(descriptor: int) -> None:
        if ".decoder.onnx." in Path(os.readlink(f"/proc/self/fd/{descriptor}")).name:
            raise OSError(28, "No space left on device")
        fsync(descriptor)

    monkeypatch.setattr(rnnkit.atomic.os, "fsync", full_at_the_decoder)
