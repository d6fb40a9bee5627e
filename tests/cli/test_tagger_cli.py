"""The tagging task on the command line: train, predict (words/tags and --json), eval
(--json with span F1, --png), and one-line errors for bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.cli_helpers import assert_one_line_error, run_cli
from tests.train.test_tagging_task import NAMES, write_sentences

TINY = [
    "--embedding-size", "8", "--hidden-size", "12", "--char-embedding-size", "6",
    "--char-hidden-size", "6", "--batch-size", "8", "--lr", "0.02", "--eval-every", "15",
    "--num-layers", "1", "--dropout", "0.3", "--unk-rate", "0",
]  # fmt: skip


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("tagger")
    train = write_sentences(folder / "train.txt", 120, 0, NAMES[:7])
    valid = write_sentences(folder / "valid.txt", 30, 1, NAMES)
    status, _, err = run_cli(
        "train", "--task", "tag", "--train", train, "--valid", valid, "--out", folder / "run",
        "--max-steps", "60", *TINY,
    )  # fmt: skip
    assert status == 0, err
    return folder


def test_predict_prints_word_tag_pairs(run_folder: Path) -> None:
    status, out, _ = run_cli("predict", run_folder / "run", "Anna met Bob Carla today")
    assert status == 0
    assert out == "Anna/B-PER met/O Bob/B-PER Carla/I-PER today/O\n"
    status, out, _ = run_cli("predict", "--json", run_folder / "run", "saw Eve")
    assert json.loads(out) == {"text": "saw Eve", "tokens": ["saw", "Eve"], "tags": ["O", "B-PER"]}
    status, out, _ = run_cli("predict", "--json", run_folder / "run", "  Anna  saw", " ")
    first, blank = map(json.loads, out.splitlines())
    assert (first["text"], first["tokens"]) == ("  Anna  saw", ["Anna", "saw"])
    assert blank == {"text": " ", "tokens": [], "tags": []}


def test_predict_splits_punctuation_from_words_unless_pretokenized(run_folder: Path) -> None:
    status, out, err = run_cli("predict", "--json", run_folder / "run", "Anna met Bob.")
    assert status == 0, err
    assert json.loads(out)["tokens"] == ["Anna", "met", "Bob", "."]
    status, out, err = run_cli(
        "predict", "--json", "--pretokenized", run_folder / "run", "Anna met Bob."
    )
    assert status == 0, err
    assert json.loads(out)["tokens"] == ["Anna", "met", "Bob."]


def test_eval_reports_tokens_and_spans(run_folder: Path) -> None:
    pytest.importorskip("seqeval")
    status, out, _ = run_cli(
        "eval", run_folder / "run", "--data", run_folder / "valid.txt", "--json"
    )
    assert status == 0
    report = json.loads(out)
    assert report["token_accuracy"] > 0.9 and report["scheme"] == "BIO"
    assert report["spans"]["f1"] > 0.7 and set(report["per_tag"]) == {"B-PER", "I-PER", "O"}
    status, out, _ = run_cli("eval", run_folder / "run", "--data", run_folder / "valid.txt")
    assert status == 0 and "span F1" in out and "token accuracy" in out


def test_bad_input_is_one_line(run_folder: Path, tmp_path: Path) -> None:
    other = tmp_path / "other.txt"
    other.write_text("Anna B-ORG\nsaw O\n", encoding="utf-8")
    status, _, err = run_cli("eval", run_folder / "run", "--data", other)
    assert_one_line_error(status, err, "other.txt has tags the model was not trained on", "B-ORG")
    assert "labels" not in err  # a tagger's classes are its tags
    broken = tmp_path / "broken.conllu"
    broken.write_text("1\tA\ta\tDET\n", encoding="utf-8")
    status, _, err = run_cli(
        "train", "--task", "tag", "--train", broken, "--out", tmp_path / "run", "--max-steps", "1"
    )
    assert_one_line_error(status, err, "broken.conllu:1", "4 tab-separated fields")
    # A blank sentence is answered with no tags and a note, not an abort of the others.
    status, out, err = run_cli("predict", run_folder / "run", "Anna", "  ")
    assert status == 0 and "text 2 is empty" in err
    assert out.splitlines()[0].startswith("Anna/") and out.splitlines()[1] == ""


def test_eval_tags_a_sentence_longer_than_the_runs_max_length(
    run_folder: Path, tmp_path: Path
) -> None:
    # max_length bounds the training data; eval, like predict, tags a sentence of any length
    # (eval has no --max-length to raise, so refusing one left no way to measure the file).
    long = tmp_path / "long.txt"
    long.write_text("Anna B-PER\n" + "saw O\n" * 500, encoding="utf-8")  # 501 words; max 500
    status, out, err = run_cli("eval", run_folder / "run", "--data", long, "--json")
    assert status == 0, err
    assert json.loads(out)["tokens"] == 501


def test_a_crf_run_tags_and_eval_draws_its_confusion_matrix(
    run_folder: Path, tmp_path: Path
) -> None:
    pytest.importorskip("matplotlib")
    status, out, err = run_cli(
        "train", "--task", "tag", "--train", run_folder / "train.txt", "--valid",
        run_folder / "valid.txt", "--out", tmp_path / "crf", "--crf", "--max-steps", "30", *TINY,
    )  # fmt: skip
    assert status == 0 and "with a CRF" in out, err
    status, out, _ = run_cli("predict", "--json", tmp_path / "crf", "saw Eve today")
    assert status == 0 and len(json.loads(out)["tags"]) == 3
    picture = tmp_path / "confusion.png"
    status, out, err = run_cli(
        "eval", tmp_path / "crf", "--data", run_folder / "valid.txt", "--json", "--png", picture
    )
    assert status == 0, err
    assert json.loads(out)["tokens"] > 0  # stdout stays JSON; the drawing's note goes to stderr
    assert picture.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and "confusion.png" in err


def test_eval_reads_another_format_than_training_with_tag_format(tmp_path: Path) -> None:
    train = write_sentences(tmp_path / "train.txt", 40, 0, NAMES)
    conllu = tmp_path / "train.conllu"
    lines = []
    for sentence in train.read_text(encoding="utf-8").split("\n\n"):
        pairs = [line.split() for line in sentence.splitlines() if line.strip()]
        lines += [f"{i}\t{w}\t_\t{t}\t_\t_\t_\t_\t_\t_" for i, (w, t) in enumerate(pairs, 1)]
        lines.append("")
    conllu.write_text("\n".join(lines), encoding="utf-8")
    status, _, err = run_cli(
        "train", "--task", "tag", "--train", train, "--format", "columns", "--out",
        tmp_path / "run", "--max-steps", "2", *TINY,
    )  # fmt: skip
    assert status == 0, err
    # Read as columns, as in training, the CoNLL-U file's last column "_" is its tags.
    status, _, err = run_cli("eval", tmp_path / "run", "--data", conllu)
    assert_one_line_error(status, err, "read as columns, as the training sentences", "--tag-format")
    reports = []
    for data, flags in ((conllu, ["--tag-format", "conllu"]), (train, [])):
        status, out, err = run_cli("eval", tmp_path / "run", "--data", data, "--json", *flags)
        assert status == 0, err
        reports.append(json.loads(out))
    assert reports[0]["tokens"] == reports[1]["tokens"] > 100
    assert reports[0]["loss"] == pytest.approx(reports[1]["loss"])
