"""The generation task on the command line: train, sample under a category or a feature
vector (--count, --prime), eval (bits per character, --json), and one-line errors for bad
conditions and a feature matrix whose rows do not match the lines."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.cli.cli_helpers import TINY, assert_one_line_error, run_cli, write_corpus
from tests.train.test_generate_task import ALPHABETS, write_features, write_folder

SMALL = [
    "--embedding-size", "8", "--hidden-size", "24", "--condition-size", "4",
    "--batch-size", "16", "--lr", "0.02", "--eval-every", "20",
]  # fmt: skip


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("generate")
    train = write_folder(folder / "train")
    status, out, err = run_cli(
        "train", "--task", "generate", "--train", train, "--out", folder / "run",
        "--max-steps", "200", *SMALL,
    )  # fmt: skip
    assert status == 0, err
    assert "bits/char" in out
    return folder


def test_sample_writes_count_texts_under_the_condition(run_folder: Path) -> None:
    args = ("sample", run_folder / "run", "--condition", "Bee", "--temperature", "0.5")
    status, out, _ = run_cli(*args, "--count", "10", "--seed", "1")
    assert status == 0
    lines = out.splitlines()
    assert len(lines) == 10
    assert all(line[:1] == "B" and set(line[1:]) <= set(ALPHABETS["Bee"]) for line in lines)
    assert run_cli(*args, "--count", "10", "--seed", "1")[1] == out  # seeded
    status, out, _ = run_cli(*args, "--prime", "Bzz", "--count", "3", "--seed", "2")
    assert status == 0 and len(out.splitlines()) == 3
    assert all(line.startswith("Bzz") for line in out.splitlines())


def test_a_prime_is_one_line_and_its_unseen_characters_get_a_note(run_folder: Path) -> None:
    args = ("sample", run_folder / "run", "--condition", "Bee", "--count", "2", "--seed", "0")
    status, out, err = run_cli(*args, "--prime", "Bq§")
    assert status == 0 and [line[:3] for line in out.splitlines()] == ["Bq§"] * 2
    assert err == "rnnkit: note: --prime characters read as <unk>: 'q', '§'\n"
    status, out, err = run_cli(*args, "--prime", "Bx\nB")  # would end the text it starts
    assert_one_line_error(status, err, "--prime", "without a line break")
    assert out == ""


def test_bad_conditions_are_one_line(run_folder: Path) -> None:
    status, _, err = run_cli("sample", run_folder / "run", "--condition", "Dog")
    assert_one_line_error(status, err, "--condition", "unknown condition 'Dog'", "Ant, Bee, Cat")
    status, _, err = run_cli("sample", run_folder / "run")
    assert_one_line_error(status, err, "--condition is needed", "Ant, Bee, Cat")
    status, _, err = run_cli("sample", run_folder / "run", "--condition-vector", "1,0,0")
    assert_one_line_error(status, err, "--condition-vector", "categories")


def test_sample_without_a_condition_lists_a_few_of_many(tmp_path: Path) -> None:
    data = tmp_path / "many.tsv"
    data.write_text("".join(f"c{i}\tab{i % 7}c\n" for i in range(200)), encoding="utf-8")
    status, _, err = run_cli(
        "train", "--task", "generate", "--train", data, "--out", tmp_path / "run",
        "--max-steps", "1", "--hidden-size", "8", "--embedding-size", "4",
    )  # fmt: skip
    assert status == 0, err
    status, _, err = run_cli("sample", tmp_path / "run")
    assert_one_line_error(status, err, "--condition is needed: one of c0, c1, ", " ...")
    assert "c199" not in err and len(err) < 400  # it listed all 200


def test_features_without_condition_vector_name_both_flags(tmp_path: Path) -> None:
    texts = tmp_path / "texts.txt"
    texts.write_text("abc\nbcd\n" * 10, encoding="utf-8")
    features = tmp_path / "features.npy"
    np.save(features, np.eye(2)[[0, 1] * 10])
    status, _, err = run_cli(
        "train", "--task", "generate", "--train", texts, "--features", features,
        "--out", tmp_path / "run",
    )  # fmt: skip
    assert_one_line_error(status, err, "--features needs --condition vector")
    assert not (tmp_path / "run").exists()


def test_eval_with_data_of_the_other_kind_of_condition_says_so_in_evals_flags(
    run_folder: Path, tmp_path: Path
) -> None:
    texts = tmp_path / "texts.txt"
    texts.write_text("Aabc\nBbcd\n" * 10, encoding="utf-8")
    features = tmp_path / "features.npy"
    np.save(features, np.eye(2)[[0, 1] * 10])
    # a category model: eval has no --condition, which the message used to name
    status, _, err = run_cli("eval", run_folder / "run", "--data", texts, "--features", features)
    assert_one_line_error(status, err, "--features gives feature vectors, but", "categories")
    assert "--condition" not in err
    status, _, err = run_cli(
        "train", "--task", "generate", "--train", texts, "--features", features,
        "--condition", "vector", "--out", tmp_path / "vector", "--max-steps", "1",
        "--hidden-size", "8", "--embedding-size", "4",
    )  # fmt: skip
    assert status == 0, err
    status, _, err = run_cli("eval", tmp_path / "vector", "--data", run_folder / "train")
    assert_one_line_error(status, err, "is a folder of one file per category, but", "--features")
    assert "--condition" not in err
    status, _, err = run_cli("eval", tmp_path / "vector", "--data", texts)  # no --features
    assert_one_line_error(status, err, "texts.txt:1 is not 'condition<TAB>text'", "in --features")


def test_eval_of_a_tsv_with_a_header_names_the_file_and_line(
    run_folder: Path, tmp_path: Path
) -> None:
    data = tmp_path / "names.tsv"
    data.write_text("label\ttext\nAnt\tAabc\n", encoding="utf-8")
    status, _, err = run_cli("eval", run_folder / "run", "--data", data)
    assert_one_line_error(status, err, f"{data}:1: unknown condition 'label'", "Ant, Bee, Cat")
    data.write_text("Ant\tAabc\nDog\tDabc\n", encoding="utf-8")
    status, _, err = run_cli("eval", run_folder / "run", "--data", data)
    assert_one_line_error(status, err, f"{data}:2: unknown condition 'Dog'")


def test_eval_reports_conditioned_bits_per_char(run_folder: Path, tmp_path: Path) -> None:
    test = write_folder(tmp_path / "test", 20, seed=1)
    status, out, _ = run_cli("eval", run_folder / "run", "--data", test, "--json")
    assert status == 0
    report = json.loads(out)
    assert report["texts"] == 60 and report["bits_per_char"] < 2.0
    assert report["characters"] == sum(len(line) + 1 for f in test.iterdir() for line in
                                       f.read_text().splitlines())  # fmt: skip
    status, out, _ = run_cli("eval", run_folder / "run", "--data", test)
    assert status == 0 and "bits per character" in out and "each under its own condition" in out
    other = tmp_path / "other"
    other.mkdir()
    (other / "Dog.txt").write_text("Dabc\n", encoding="utf-8")
    status, _, err = run_cli("eval", run_folder / "run", "--data", other)
    assert_one_line_error(status, err, "unknown condition 'Dog'", "known: Ant, Bee, Cat")


def test_predict_on_a_generator_run_points_to_sample(run_folder: Path) -> None:
    folder = run_folder / "run" / "best"
    status, _, err = run_cli("predict", run_folder / "run", "text")
    # named by the task's title: not "a generate run", nor a task "this rnnkit does not know"
    assert_one_line_error(
        status, err, f"{folder} holds a conditioned-generator run", f"use rnnkit sample {folder}"
    )


def test_feature_conditioned_run(tmp_path: Path) -> None:
    text, features = write_features(tmp_path)
    status, _, err = run_cli(
        "train", "--task", "generate", "--train", text, "--features", features,
        "--condition", "vector", "--out", tmp_path / "run", "--max-steps", "150", *SMALL,
    )  # fmt: skip
    assert status == 0, err
    args = ("sample", tmp_path / "run", "--count", "5", "--temperature", "0.3", "--seed", "0")
    status, out, _ = run_cli(*args, "--condition-vector", "0,0,1")
    assert status == 0 and [line[:1] for line in out.splitlines()] == ["c"] * 5
    status, _, err = run_cli(*args, "--condition-vector", "0,1")
    assert_one_line_error(status, err, "--condition-vector", "expected 3 finite numbers, got 2")
    # the right count with a NaN: the NaN is the problem, not the count
    status, _, err = run_cli(*args, "--condition-vector", "0,nan,1")
    assert_one_line_error(status, err, "--condition-vector: number 2 of '0,nan,1' is not finite")
    status, _, err = run_cli(*args, "--condition", "Ant")
    assert_one_line_error(status, err, "--condition", "vectors of 3 numbers")
    status, out, _ = run_cli("eval", tmp_path / "run", "--data", text, "--features", features)
    assert status == 0 and "90 texts" in out
    np.save(tmp_path / "short.npy", np.zeros((5, 3)))
    status, _, err = run_cli(
        "eval", tmp_path / "run", "--data", text, "--features", tmp_path / "short.npy"
    )
    assert_one_line_error(status, err, "short.npy has 5 feature rows", "90 lines")
    # Vectors of another width: the error names the matrix they came from, not the text.
    np.save(tmp_path / "wide.npy", np.zeros((90, 4)))
    status, _, err = run_cli(
        "eval", tmp_path / "run", "--data", text, "--features", tmp_path / "wide.npy"
    )
    assert_one_line_error(status, err, "wide.npy gives conditions of 4 numbers", "3 numbers")
    status, _, err = run_cli(
        "train", "--task", "generate", "--train", text, "--features", features,
        "--valid", text, "--valid-features", tmp_path / "wide.npy", "--condition", "vector",
        "--out", tmp_path / "wide", "--max-steps", "1",
    )  # fmt: skip
    assert_one_line_error(status, err, "wide.npy gives conditions of 4 numbers", "that size")
    assert not (tmp_path / "wide").exists()
    status, _, err = run_cli(
        "train", "--task", "generate", "--train", text, "--features", tmp_path / "short.npy",
        "--condition", "vector", "--out", tmp_path / "bad", "--max-steps", "1",
    )  # fmt: skip
    assert_one_line_error(status, err, "short.npy has 5 feature rows", "90 lines")


def test_language_model_sampling_is_unchanged_and_refuses_conditions(tmp_path: Path) -> None:
    corpus = write_corpus(tmp_path)
    status, _, err = run_cli(
        "train", "--data", corpus, "--out", tmp_path / "lm", "--max-steps", "3", *TINY
    )
    assert status == 0, err
    status, out, _ = run_cli("sample", tmp_path / "lm", "--length", "20", "--seed", "0")
    assert status == 0 and out.endswith("\n")
    status, _, err = run_cli("sample", tmp_path / "lm", "--condition", "Ant", "--count", "2")
    assert_one_line_error(status, err, "--condition, --count", "holds a language-model run")


def test_a_text_longer_than_max_length_is_one_line_naming_it(
    run_folder: Path, tmp_path: Path
) -> None:
    # One line of a million characters padded its batch to that length: training took all
    # of the machine's 24 GiB until the kernel killed it, leaving a half-made run folder.
    train = write_folder(tmp_path / "train")
    with (train / "Bee.txt").open("a", encoding="utf-8") as file:
        file.write("B" + "x" * 1000 + "\n")
    args = ("train", "--task", "generate", "--train", train, "--max-steps", "2", *SMALL)
    status, _, err = run_cli(*args, "--out", tmp_path / "run")
    assert_one_line_error(
        status, err, f"{train / 'Bee.txt'}:61: a text of 1,001 characters, longer than "
        "--max-length 1000; raise --max-length, or split the text",
    )  # fmt: skip
    assert not (tmp_path / "run").exists()
    status, _, err = run_cli(*args, "--out", tmp_path / "run", "--max-length", "1001")
    assert status == 0, err
    status, _, err = run_cli("eval", run_folder / "run", "--data", train)
    assert_one_line_error(
        status, err, "Bee.txt:61: a text of 1,001 characters, longer than the 1,000 "
        "characters this model was trained to accept; split the text, or leave it out",
    )  # fmt: skip
