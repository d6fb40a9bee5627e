"""``rnnkit train-classifier``, ``rnnkit predict`` and ``rnnkit eval`` on a classifier run:
formats, outputs, exact resume, Ctrl-C, and one-line errors for bad input."""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from rnnkit import load_weights
from rnnkit.train import StopRequest, load_checkpoint, save_checkpoint
from rnnkit.train import run as run_module
from tests.cli.cli_helpers import assert_one_line_error, folder_bytes, run_cli
from tests.train.test_classifier_trainer import keyword_examples

TINY = ["--embedding-size", "8", "--hidden-size", "12", "--batch-size", "16", "--lr", "0.01"]


def write_tsv(path: Path, count: int = 200, seed: int = 0, neg_share: int = 1) -> Path:
    """COUNT keyword examples as a TSV file; with NEG_SHARE = k, only every k-th "neg"
    example is kept (classes made unequal)."""
    data = keyword_examples(count, seed)
    pairs = zip(data.texts, data.labels, strict=True)
    kept = [(t, y) for i, (t, y) in enumerate(pairs) if y == "pos" or i % neg_share == 0]
    rows = "".join(f"{t}\t{label}\n" for t, label in kept)
    path.write_text("text\tlabel\n" + rows, encoding="utf-8")
    return path


def train(*argv: object) -> tuple[int, str, str]:
    return run_cli("train-classifier", *argv, *TINY)


def trained_whole_and_split(tmp_path: Path, options: list, steps: int, stop: int) -> dict:
    """Train STEPS in one run ("whole") and in two ("split": STOP steps, then a resume);
    assert the two give the same weights, and return the whole run's."""
    assert train("--out", tmp_path / "whole", "--max-steps", steps, *options)[0] == 0
    assert train("--out", tmp_path / "split", "--max-steps", stop, *options)[0] == 0
    status, _, err = run_cli(
        "train-classifier", "--out", tmp_path / "split", "--resume", "--max-steps", steps
    )
    assert status == 0, err
    whole = load_weights(tmp_path / "whole" / "model.safetensors")
    split = load_weights(tmp_path / "split" / "model.safetensors")
    for name in whole:
        np.testing.assert_array_equal(whole[name], split[name], err_msg=name)
    return whole


@contextlib.contextmanager
def pressed() -> Iterator[StopRequest]:
    """A ``stop_on_interrupt`` in which Ctrl-C has already been pressed."""
    stop = StopRequest()
    stop.request()
    yield stop


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A bidirectional LSTM trained for 60 steps on the keyword task, shared by this module."""
    folder = tmp_path_factory.mktemp("classifier")
    status, _, err = train(
        "--train", write_tsv(folder / "train.tsv"), "--valid",
        write_tsv(folder / "valid.tsv", 60, seed=1), "--out", folder / "run",
        "--max-steps", "60", "--eval-every", "20", "--bidirectional", "--pooling", "max",
    )  # fmt: skip
    assert status == 0, err
    return folder / "run"


def test_a_run_writes_a_run_folder_and_reports(run_folder: Path) -> None:
    for name in ("config.json", "model.safetensors", "optimizer.safetensors", "metrics.jsonl"):
        assert (run_folder / name).is_file(), name
    config = load_checkpoint(run_folder / "best").config
    assert (config["format"], config["version"], config["task"]) == ("rnnkit.run", 2, "classify")
    assert config["config"]["model"]["bidirectional"] is True
    assert config["labels"] == ["neg", "pos"]
    assert config["progress"]["best"]["accuracy"] >= 0.9
    assert {"embedding.weight", "encoder.weight_hh_l0_reverse", "classifier.bias"} <= set(
        load_weights(run_folder / "model.safetensors")
    )
    records = [json.loads(line) for line in (run_folder / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records if "val_accuracy" in r] == [20, 40, 60]


def test_predict_splits_raw_text_into_the_training_words(run_folder: Path) -> None:
    def probabilities(*argv: str) -> list[dict]:
        status, out, err = run_cli("predict", "--json", run_folder, *argv)
        assert status == 0, err
        return [json.loads(line)["probabilities"] for line in out.splitlines()]

    # "great!" is not a training word: raw text reads it as "great" and an unknown "!",
    # pretokenized text as one unknown word ("zzz" stands for an unknown word).
    split, whole = probabilities("the film was great!", "the film was great zzz")
    assert split == whole
    unsplit, unknown = probabilities("--pretokenized", "the film was great!", "the film was zzz")
    assert unsplit == unknown and unsplit != split


def test_pretokenized_is_refused_for_a_classifier_that_reads_characters(tmp_path: Path) -> None:
    table = write_tsv(tmp_path / "t.tsv", 40)
    status, _, err = train("--train", table, "--tokenizer", "char", "--out", tmp_path / "run",
                           "--max-steps", "2")  # fmt: skip
    assert status == 0, err
    status, _, err = run_cli("predict", "--pretokenized", tmp_path / "run", "good film")
    assert_one_line_error(status, err, "--pretokenized: for models that read words", "characters")


def test_predict_arguments_json_and_stdin(run_folder: Path, monkeypatch) -> None:
    status, out, err = run_cli("predict", run_folder, "the film was great", "a dull plot")
    assert status == 0, err
    lines = [line.split("\t") for line in out.splitlines()]
    assert [(label, text) for label, _, text in lines] == [
        ("pos", "the film was great"),
        ("neg", "a dull plot"),
    ]
    assert all(0.5 < float(p) <= 1 for _, p, _ in lines)

    status, out, _ = run_cli("predict", "--json", run_folder, "so good")
    record = json.loads(out)
    assert record["label"] == "pos" and record["text"] == "so good"
    assert record["probability"] == max(record["probabilities"].values())
    assert sum(record["probabilities"].values()) == pytest.approx(1.0)

    monkeypatch.setattr("sys.stdin", io.StringIO("awful story\nfine film\n"))
    status, out, _ = run_cli("predict", run_folder)
    assert [line.split("\t")[0] for line in out.splitlines()] == ["neg", "pos"]


def test_eval_reports_and_json(run_folder: Path, tmp_path: Path) -> None:
    test = write_tsv(tmp_path / "test.tsv", 50, seed=2)
    before = folder_bytes(run_folder)
    status, out, err = run_cli("eval", run_folder, "--data", test)
    assert status == 0, err
    assert "accuracy" in out and "macro-F1" in out and "confusion" in out
    assert folder_bytes(run_folder) == before  # no picture unless asked, never in the run

    status, out, err = run_cli("eval", run_folder, "--data", test, "--json")
    assert status == 0, err
    report = json.loads(out)
    assert {"accuracy", "macro_f1", "per_class", "confusion"} <= set(report)
    assert 0.8 <= report["accuracy"] <= 1.0
    assert set(report["per_class"]) == {"neg", "pos"}
    assert np.sum(report["confusion"]) == 50


def test_eval_json_holds_the_figures_of_predicts_answers_worked_out_by_hand(
    run_folder: Path, tmp_path: Path
) -> None:
    rows = [line.split("\t") for line in write_tsv(tmp_path / "t.tsv", 50, seed=2).read_text()
            .splitlines()[1:]]  # fmt: skip
    # Every fifth label flipped: the model (right on nearly all of them) makes mistakes.
    flip = {"pos": "neg", "neg": "pos"}
    rows = [(text, flip[y] if i % 5 == 0 else y) for i, (text, y) in enumerate(rows)]
    test = tmp_path / "test.tsv"
    test.write_text("text\tlabel\n" + "".join(f"{t}\t{y}\n" for t, y in rows))
    texts = tmp_path / "texts.txt"
    texts.write_text("".join(text + "\n" for text, _ in rows))
    status, out, err = run_cli("predict", run_folder, "--input", texts, "--json")
    assert status == 0, err
    answers = [json.loads(line) for line in out.splitlines()]
    truth = [label for _, label in rows]
    guess = [answer["label"] for answer in answers]
    labels = ["neg", "pos"]
    pairs = list(zip(truth, guess, strict=True))
    confusion = [[pairs.count((a, b)) for b in labels] for a in labels]
    f1 = []
    for i in range(2):
        precision = confusion[i][i] / (confusion[0][i] + confusion[1][i])
        recall = confusion[i][i] / sum(confusion[i])
        f1.append(2 * precision * recall / (precision + recall))
    loss = -np.mean([np.log(a["probabilities"][t]) for a, t in zip(answers, truth, strict=True)])

    status, out, err = run_cli("eval", run_folder, "--data", test, "--json")
    assert status == 0, err
    report = json.loads(out)
    assert report["confusion"] == confusion and report["labels"] == labels
    assert confusion[0][1] + confusion[1][0] > 0  # some mistakes: the figures are not all 1
    assert report["accuracy"] == pytest.approx(np.mean([t == g for t, g in pairs]))
    assert report["macro_f1"] == pytest.approx(np.mean(f1))
    assert report["per_class"]["pos"]["f1"] == pytest.approx(f1[1])
    assert report["loss"] == pytest.approx(loss)
    status, out, _ = run_cli("eval", "--help")
    assert "for a classifier accuracy (a fraction), balanced_accuracy, macro_f1" in " ".join(
        out.split()
    )


def test_eval_draws_the_confusion_matrix_only_where_asked(run_folder: Path, tmp_path: Path) -> None:
    test = write_tsv(tmp_path / "test.tsv", 50, seed=2)
    picture = tmp_path / "confusion.png"
    status, out, err = run_cli("eval", run_folder, "--data", test, "--json", "--png", picture)
    assert status == 0, err
    assert json.loads(out)["accuracy"] >= 0.8  # stdout stays one JSON object
    pytest.importorskip("matplotlib")
    assert f"confusion matrix drawn in {picture}" in err
    assert picture.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # A picture that cannot be written is a note: the figures are reported all the same.
    for where in (tmp_path / "no" / "such" / "folder" / "c.png", tmp_path):
        status, out, err = run_cli("eval", run_folder, "--data", test, "--json", "--png", where)
        assert status == 0, err
        assert json.loads(out)["accuracy"] >= 0.8
        assert err.startswith(f"rnnkit: note: no confusion matrix drawn in {where}: ")
        assert err.count("\n") == 1 and "Errno" not in err  # the reason, not Python's repr


def test_eval_reads_files_in_the_training_encoding(tmp_path: Path) -> None:
    # A Latin-1 file (its "é" is byte 0xe9, not valid UTF-8): trained with --encoding latin-1,
    # evaluated without the flag.
    data = tmp_path / "latin.tsv"
    data.write_bytes(
        write_tsv(tmp_path / "t.tsv").read_bytes() + "café au lait\tpos\n".encode("latin-1")
    )
    status, _, err = train(
        "--train", data, "--encoding", "latin-1", "--out", tmp_path / "run", "--max-steps", "2"
    )
    assert status == 0, err
    status, out, err = run_cli("eval", tmp_path / "run", "--data", data, "--json")
    assert status == 0, err
    assert np.sum(json.loads(out)["confusion"]) == 201
    # A flag given still wins.
    status, _, err = run_cli("eval", tmp_path / "run", "--data", data, "--encoding", "utf-8")
    assert_one_line_error(status, err, "latin.tsv", "not valid utf-8")


@pytest.mark.parametrize("layout", ["label-first", "folders", "csv-numbered"])
def test_other_formats(tmp_path: Path, layout: str) -> None:
    data = keyword_examples(80)
    pairs = list(zip(data.labels, data.texts, strict=True))
    options: list[object] = []
    if layout == "label-first":
        path = tmp_path / "train.txt"
        path.write_text("".join(f"{label} {text}\n" for label, text in pairs))
    elif layout == "folders":
        path = tmp_path / "classes"
        path.mkdir()
        for name in ("neg", "pos"):
            (path / f"{name}.txt").write_text("".join(t + "\n" for lab, t in pairs if lab == name))
    else:
        path = tmp_path / "train.csv"
        path.write_text("".join(f'"{text}",{label}\n' for label, text in pairs))
        options = ["--label-col", "2", "--text-col", "1"]
    status, out, err = train(
        "--train", path, "--out", tmp_path / "run", "--max-steps", "2", *options
    )
    assert status == 0, err
    # No --valid: a seeded 10% of the 80 examples is held out.
    assert "72 training and 8 validation examples of 2 classes" in out


def test_char_tokenizer_and_test_set(tmp_path: Path) -> None:
    status, out, err = train(
        "--train", write_tsv(tmp_path / "train.tsv"), "--test",
        write_tsv(tmp_path / "test.tsv", 30, seed=3), "--tokenizer", "char",
        "--out", tmp_path / "run", "--max-steps", "3",
    )  # fmt: skip
    assert status == 0, err
    assert "char vocabulary" in out
    assert "test accuracy" in out and "(30 examples)" in out


def write_names(path: Path, count: int = 60) -> Path:
    """COUNT one-word "names" of two made-up languages as a TSV file (one in 20 of them,
    below auto's share, with a second word)."""
    rng = np.random.default_rng(0)
    rows = []
    for i in range(count):
        language = ("Ka", "Zu")[i % 2]
        name = language + "".join(rng.choice(list("aeiourst"), size=4))
        rows.append(f"{name}{' Jr' if i % 20 == 19 else ''}\t{language}\n")
    path.write_text("text\tlabel\n" + "".join(rows), encoding="utf-8")
    return path


def test_auto_tokenizer_reads_characters_of_single_words_and_words_of_sentences(
    tmp_path: Path,
) -> None:
    names = write_names(tmp_path / "names.tsv")
    status, out, err = train("--train", names, "--out", tmp_path / "names", "--max-steps", "1")
    assert status == 0, err
    assert "char vocabulary" in out
    assert "rnnkit: note: tokenizer auto reads characters: the training texts are single" in err
    assert load_checkpoint(tmp_path / "names").config["config"]["data"]["tokenizer"] == "char"
    # Sentences are read as words, and so are single words under a word-vocabulary limit.
    sentences = write_tsv(tmp_path / "sentences.tsv")
    for data, out_name, extra in (
        (sentences, "sentences", []),
        (names, "limited", ["--min-count", "1"]),
    ):
        status, out, err = train(
            "--train", data, "--out", tmp_path / out_name, "--max-steps", "1", *extra
        )
        assert status == 0, err
        assert "word vocabulary" in out and "tokenizer auto" not in err
        saved = load_checkpoint(tmp_path / out_name).config["config"]["data"]["tokenizer"]
        assert saved == "word"
    # The saved kind is the run's: predict and a resume read characters again.
    status, out, err = run_cli("predict", tmp_path / "names", "Kaoeu")
    assert status == 0, err
    assert out.split("\t")[0] in ("Ka", "Zu")
    status, _, err = run_cli("train", "--out", tmp_path / "names", "--resume", "--max-steps", "2")
    assert status == 0, err


def test_a_resume_given_tokenizer_auto_again_keeps_the_kind_auto_chose(tmp_path: Path) -> None:
    """The starting command again with --resume: auto chose characters when the run
    started, and auto on resume is that choice, not a changed setting; another kind is."""
    names, run = write_names(tmp_path / "names.tsv"), tmp_path / "names"
    given = ["--train", names, "--out", run, "--tokenizer", "auto"]
    assert train(*given, "--max-steps", "1")[0] == 0
    status, out, err = train(*given, "--resume", "--max-steps", "2")
    assert status == 0, err
    assert "stopped at step 2, " in out
    assert load_checkpoint(run).config["config"]["data"]["tokenizer"] == "char"
    status, _, err = train(*given[:-1], "word", "--resume", "--max-steps", "3")
    assert_one_line_error(status, err, "--tokenizer word differs from the run")


def test_embeddings_file(tmp_path: Path) -> None:
    vectors = tmp_path / "glove.txt"
    vectors.write_text("good 1 2 3 4 5\nbad -1 -2 -3 -4 -5\nnotaword 0 0 0 0 0\n")
    status, out, err = run_cli(
        "train-classifier", "--train", write_tsv(tmp_path / "train.tsv"), "--embeddings",
        vectors, "--out", tmp_path / "run", "--max-steps", "1", "--lr", "1e-9",
    )  # fmt: skip
    assert status == 0, err
    assert "rnnkit: note: embeddings: 2 of" in err
    config = load_checkpoint(tmp_path / "run").config
    vocab = config["tokenizer"]["vocab"]
    weight = load_weights(tmp_path / "run" / "model.safetensors")["embedding.weight"]
    assert config["config"]["model"]["embedding_size"] == 5
    np.testing.assert_allclose(weight[vocab.index("good")], [1, 2, 3, 4, 5], atol=1e-6)


def test_resume_continues_exactly(tmp_path: Path) -> None:
    options = [
        "--train", write_tsv(tmp_path / "train.tsv"), "--dropout", "0.3",
        "--embedding-dropout", "0.2", "--word-dropout", "0.1", "--weight-decay", "0.01",
        "--eval-every", "7", "--num-layers", "2",
    ]  # fmt: skip
    assert train("--out", tmp_path / "whole", "--max-steps", "30", *options)[0] == 0
    assert train("--out", tmp_path / "split", "--max-steps", "17", *options)[0] == 0
    status, out, err = run_cli(
        "train-classifier", "--out", tmp_path / "split", "--resume", "--max-steps", "30",
        "--dropout", "0.3",
    )  # fmt: skip
    assert status == 0, err
    assert "resuming" in out and "at step 17" in out
    for group in ("model", "optimizer"):
        whole = load_weights(tmp_path / "whole" / f"{group}.safetensors")
        split = load_weights(tmp_path / "split" / f"{group}.safetensors")
        assert whole.keys() == split.keys()
        for name in whole:
            np.testing.assert_array_equal(whole[name], split[name], err_msg=name)


def test_ema_is_saved_resumes_exactly_and_is_what_eval_measures(tmp_path: Path) -> None:
    valid = write_tsv(tmp_path / "valid.tsv", 60, seed=1)
    options = ["--train", write_tsv(tmp_path / "train.tsv"), "--valid", valid, "--ema", "0.9"]
    options += ["--dropout", "0.3", "--eval-every", "7"]
    assert train("--out", tmp_path / "whole", "--max-steps", "30", *options)[0] == 0
    assert train("--out", tmp_path / "split", "--max-steps", "17", *options)[0] == 0
    status, out, err = run_cli(
        "train-classifier", "--out", tmp_path / "split", "--resume", "--max-steps", "30",
        "--ema", "0.9",
    )  # fmt: skip
    assert status == 0, err
    assert "at step 17" in out
    for group in ("model", "optimizer", "ema", "best/model"):
        whole = load_weights(tmp_path / "whole" / f"{group}.safetensors")
        split = load_weights(tmp_path / "split" / f"{group}.safetensors")
        assert whole.keys() == split.keys()
        for name in whole:
            np.testing.assert_array_equal(whole[name], split[name], err_msg=f"{group} {name}")
    config = load_checkpoint(tmp_path / "whole").config
    assert config["config"]["training"]["ema"] == 0.9
    # eval reads best/, the average as validated: the loss it saw, not the raw weights'.
    status, out, err = run_cli("eval", tmp_path / "whole", "--data", valid, "--json")
    assert status == 0, err
    best = load_checkpoint(tmp_path / "whole" / "best").config["progress"]["best"]
    assert json.loads(out)["loss"] == pytest.approx(best["loss"], rel=1e-6)
    raw = load_weights(tmp_path / "whole" / "model.safetensors")
    averaged = load_weights(tmp_path / "whole" / "best" / "model.safetensors")
    assert not all(np.array_equal(raw[name], averaged[name]) for name in raw)

    status, _, err = run_cli(
        "train-classifier", "--out", tmp_path / "whole", "--resume", "--ema", "0.5"
    )
    assert_one_line_error(status, err, "--ema 0.5 differs from the run")


@pytest.mark.parametrize("name", ["ema", "plateau_on"])
def test_a_config_without_a_setting_is_refused_in_one_line(tmp_path: Path, name: str) -> None:
    """A config.json without ``ema`` or ``plateau_on`` (edited, or from another version of
    the format) is refused by name, whatever the flags say; the folder is left as it was."""
    out = tmp_path / "run"
    assert train("--train", write_tsv(tmp_path / "t.tsv"), "--out", out, "--max-steps", "2")[0] == 0
    config_path = out / "config.json"
    config = json.loads(config_path.read_text())
    value = config["config"]["training"].pop(name)
    config_path.write_text(json.dumps(config))
    before = folder_bytes(out)
    for flags in ([], [f"--{name.replace('_', '-')}", str(value)]):
        status, _, err = run_cli(
            "train-classifier", "--out", out, "--resume", "--max-steps", "3", *flags
        )
        assert_one_line_error(
            status, err, "config.json was edited or damaged", f"training.{name}: missing"
        )
    assert folder_bytes(out) == before


@pytest.mark.parametrize("value", ["1", "1.5", "-0.1", "nan", "often"])
def test_ema_must_be_a_decay_below_1(tmp_path: Path, value: str) -> None:
    status, _, err = train("--train", write_tsv(tmp_path / "t.tsv"), "--ema", value)
    message = {"often": "must be a number", "nan": "expected a finite number, got nan"}.get(
        value, "must be above 0 and below 1"
    )
    assert_one_line_error(status, err, f"--ema: {message}")


def test_epochs_set_the_step_budget(tmp_path: Path) -> None:
    # 180 training examples in batches of 16: 12 batches per epoch.
    status, out, err = train(
        "--train", write_tsv(tmp_path / "train.tsv"), "--out", tmp_path / "run", "--epochs", "2"
    )
    assert status == 0, err
    assert "stopped at step 24, 2 full epochs (reached max_steps 24)" in out


def test_val_fraction_0_trains_on_every_example_and_keeps_the_last_average(
    tmp_path: Path,
) -> None:
    """The refit on all the data: no example is held out (200 in batches of 16 make 13
    batches an epoch, against 12 for the 180 left by the default 10%), nothing is
    validated, and best/ is the last model, the average with --ema; a resume to more
    epochs continues exactly."""
    options = ["--train", write_tsv(tmp_path / "train.tsv"), "--val-fraction", "0"]
    options += ["--ema", "0.9", "--eval-every", "5"]
    status, out, err = train("--out", tmp_path / "whole", "--epochs", "2", *options)
    assert status == 0, err
    assert "200 training and 0 validation examples" in out
    assert "stopped at step 26, 2 full epochs" in out
    run = tmp_path / "whole"
    assert load_checkpoint(run).config["progress"]["best"] is None
    averaged = load_weights(run / "ema.safetensors")
    best = load_weights(run / "best" / "model.safetensors")
    raw = load_weights(run / "model.safetensors")
    assert averaged.keys() == best.keys()
    for name in averaged:
        np.testing.assert_array_equal(averaged[name], best[name], err_msg=name)
    assert not all(np.array_equal(raw[name], best[name]) for name in raw)
    status, out, err = run_cli("eval", run, "--data", tmp_path / "train.tsv", "--json")
    assert status == 0, err
    assert json.loads(out)["examples"] == 200

    assert train("--out", tmp_path / "split", "--epochs", "1", *options)[0] == 0
    status, _, err = run_cli(
        "train-classifier", "--out", tmp_path / "split", "--resume", "--epochs", "2"
    )
    assert status == 0, err
    for group in ("model", "ema", "best/model"):
        whole = load_weights(run / f"{group}.safetensors")
        split = load_weights(tmp_path / "split" / f"{group}.safetensors")
        for name in whole:
            np.testing.assert_array_equal(whole[name], split[name], err_msg=f"{group} {name}")


def test_ctrl_c_saves_a_checkpoint_and_says_how_to_resume(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(run_module, "stop_on_interrupt", pressed)
    status, _, err = train("--train", write_tsv(tmp_path / "t.tsv"), "--out", tmp_path / "run")
    assert status == 130
    assert f"rnnkit train-classifier --out {tmp_path / 'run'} --resume" in err
    assert load_checkpoint(tmp_path / "run").config["progress"]["step"] == 0


def test_pretraining_trains_the_encoder_as_a_language_model_first(tmp_path: Path) -> None:
    options = ["--train", write_tsv(tmp_path / "train.tsv"), "--bidirectional", "--eval-every", "6"]
    options += ["--valid", write_tsv(tmp_path / "valid.tsv", 60, seed=1)]
    status, out, err = train("--out", tmp_path / "run", "--max-steps", "12", *options,
                             "--pretrain-epochs", "3")  # fmt: skip
    assert status == 0, err
    epochs = [line for line in out.splitlines() if line.startswith("pretraining epoch")]
    assert [line.split(":")[0] for line in epochs] == [
        f"pretraining epoch {k}/3" for k in (1, 2, 3)
    ]
    config = load_checkpoint(tmp_path / "run").config
    assert config["config"]["training"]["pretrain_epochs"] == 3
    record = config["pretraining"]
    # 200 examples in batches of 16: 13 pretraining steps per epoch, then 12 steps.
    assert "(39 steps)" in out and "stopped at step 12" in out
    # The language model learns: its validation loss falls from epoch 1 to epoch 3.
    losses = [float(line.split("validation loss ")[1].split()[0]) for line in epochs]
    assert losses[2] < losses[0]
    assert record["epochs"] == 3 and record["valid_loss"] == pytest.approx(losses[2], abs=1e-4)

    assert train("--out", tmp_path / "plain", "--max-steps", "12", *options)[0] == 0
    pretrained = load_weights(tmp_path / "run" / "model.safetensors")
    plain = load_weights(tmp_path / "plain" / "model.safetensors")
    assert not np.allclose(pretrained["encoder.weight_hh_l0"], plain["encoder.weight_hh_l0"])
    assert set(pretrained) == set(plain)  # the softmax layers of pretraining are not kept


def test_a_pretrained_run_resumes_exactly_without_pretraining_again(tmp_path: Path) -> None:
    options = ["--train", write_tsv(tmp_path / "train.tsv"), "--pretrain-epochs", "1"]
    options += ["--dropout", "0.3", "--eval-every", "7"]
    assert train("--out", tmp_path / "whole", "--max-steps", "20", *options)[0] == 0
    assert train("--out", tmp_path / "split", "--max-steps", "9", *options)[0] == 0
    status, out, err = run_cli(
        "train-classifier", "--out", tmp_path / "split", "--resume", "--max-steps", "20"
    )
    assert status == 0, err
    assert "pretraining" not in out
    for group in ("model", "optimizer"):
        whole = load_weights(tmp_path / "whole" / f"{group}.safetensors")
        split = load_weights(tmp_path / "split" / f"{group}.safetensors")
        for name in whole:
            np.testing.assert_array_equal(whole[name], split[name], err_msg=f"{group} {name}")
    status, _, err = run_cli(
        "train-classifier", "--out", tmp_path / "whole", "--resume", "--pretrain-epochs", "2"
    )
    assert_one_line_error(status, err, "--pretrain-epochs 2 differs from the run")


def test_ctrl_c_while_pretraining_saves_nothing(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(run_module, "stop_on_interrupt", pressed)
    status, _, err = train(
        "--train",
        write_tsv(tmp_path / "t.tsv"),
        "--out",
        tmp_path / "run",
        "--pretrain-epochs",
        "2",
    )
    assert status == 130
    assert "interrupted while pretraining the encoder, before anything was saved" in err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "run").exists()


def test_pretraining_a_stacked_bidirectional_encoder_is_refused(tmp_path: Path) -> None:
    status, _, err = train(
        "--train", write_tsv(tmp_path / "t.tsv"), "--out", tmp_path / "run", "--pretrain-epochs",
        "1", "--bidirectional", "--num-layers", "2",
    )  # fmt: skip
    assert_one_line_error(
        status, err, "--pretrain-epochs needs --num-layers 1 with --bidirectional"
    )
    assert not (tmp_path / "run").exists()


# -- bad input ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("flag", "value", "saved", "other", "refused", "bad"),
    [
        ("--adversarial", "0.5", 0.5, "1", "--adversarial 1.0 differs from the run", "-1"),
        (
            "--class-weights", "balanced", "balanced", "none",
            "--class-weights none differs from the run", "inverse",
        ),
    ],
)  # fmt: skip
def test_a_loss_setting_is_recorded_resumes_exactly_and_is_held(
    tmp_path: Path, flag: str, value: str, saved: object, other: str, refused: str, bad: str
) -> None:
    options = ["--train", write_tsv(tmp_path / "train.tsv", neg_share=3), flag, value]
    options += ["--dropout", "0.3", "--embedding-dropout", "0.2", "--eval-every", "7"]
    whole = trained_whole_and_split(tmp_path, options, 20, 9)
    config = load_checkpoint(tmp_path / "whole").config
    assert config["config"]["training"][flag[2:].replace("-", "_")] == saved

    plain_options = [o for o in options if o not in (flag, value)]
    assert train("--out", tmp_path / "plain", "--max-steps", "20", *plain_options)[0] == 0
    plain = load_weights(tmp_path / "plain" / "model.safetensors")
    assert not np.array_equal(plain["encoder.weight_hh_l0"], whole["encoder.weight_hh_l0"])

    status, _, err = run_cli(
        "train-classifier", "--out", tmp_path / "whole", "--resume", flag, other
    )
    assert_one_line_error(status, err, refused)
    status, _, err = train("--train", tmp_path / "train.tsv", flag, bad)
    assert_one_line_error(status, err, flag)


def test_balanced_class_weights_choose_the_best_model_by_balanced_accuracy(
    tmp_path: Path,
) -> None:
    train_file = write_tsv(tmp_path / "train.tsv", neg_share=3)
    options = ["--train", train_file, "--class-weights", "balanced"]
    status, out, err = train(
        "--out", tmp_path / "run", "--max-steps", "12", "--eval-every", "4", *options
    )
    assert status == 0, err
    progress = load_checkpoint(tmp_path / "run").config["progress"]
    records = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").open()]
    validated = [r for r in records if "val_balanced_accuracy" in r]
    best = max(validated, key=lambda r: r["val_balanced_accuracy"])  # the first of equals
    assert progress["best_step"] == best["step"]
    # The final report names both figures of the best model.
    figures = f"{best['val_accuracy']:.2%} (balanced {best['val_balanced_accuracy']:.2%})"
    assert f"; best {figures} at step {best['step']}" in out


def test_the_plateau_schedule_is_recorded_and_held_on_resume(tmp_path: Path) -> None:
    options = ["--train", write_tsv(tmp_path / "train.tsv"), "--eval-every", "4"]
    schedule = ["--plateau-on", "loss", "--plateau-patience", "0"]
    assert train("--out", tmp_path / "whole", "--max-steps", "30", *schedule, *options)[0] == 0
    assert train("--out", tmp_path / "split", "--max-steps", "12", *schedule, *options)[0] == 0
    status, _, err = run_cli(
        "train-classifier", "--out", tmp_path / "split", "--resume", "--max-steps", "30"
    )
    assert status == 0, err
    settings = load_checkpoint(tmp_path / "split").config["config"]["training"]
    assert (settings["plateau_on"], settings["plateau_patience"]) == ("loss", 0)
    whole = load_weights(tmp_path / "whole" / "model.safetensors")
    split = load_weights(tmp_path / "split" / "model.safetensors")
    for name in whole:
        np.testing.assert_array_equal(whole[name], split[name], err_msg=name)
    # The schedule matters here, so a resume that lost it would have shown above.
    accuracy_schedule = ["--plateau-on", "accuracy", "--plateau-patience", "0"]
    assert (
        train("--out", tmp_path / "acc", "--max-steps", "30", *accuracy_schedule, *options)[0] == 0
    )
    other = load_weights(tmp_path / "acc" / "model.safetensors")
    assert not np.array_equal(other["encoder.weight_hh_l0"], whole["encoder.weight_hh_l0"])

    # What the schedule follows makes the run what it is; its patience may change.
    before = folder_bytes(tmp_path / "whole")
    status, _, err = run_cli(
        "train-classifier", "--out", tmp_path / "whole", "--resume", "--plateau-on", "accuracy"
    )
    assert_one_line_error(status, err, "--plateau-on accuracy differs from the run")
    assert folder_bytes(tmp_path / "whole") == before
    status, _, err = run_cli(
        "train-classifier", "--out", tmp_path / "whole", "--resume", "--plateau-patience", "8",
        "--max-steps", "34",
    )  # fmt: skip
    assert status == 0, err
    settings = load_checkpoint(tmp_path / "whole").config["config"]["training"]
    assert (settings["plateau_on"], settings["plateau_patience"]) == ("loss", 8)
    status, _, err = train("--train", tmp_path / "train.tsv", "--plateau-patience", "-1")
    assert_one_line_error(status, err, "--plateau-patience")


def test_bad_data_files(tmp_path: Path) -> None:
    cases = {
        "missing.tsv": (None, "missing.tsv does not exist"),
        "empty.tsv": ("", "empty.tsv holds no text"),
        "binary.tsv": ("text\tlabel\n\x00\x01", "binary.tsv looks binary"),
        "gap.tsv": ("text\tlabel\ngood\tpos\n\nbad\tneg\n", "gap.tsv:3 is an empty line"),
        "nocol.tsv": ("sentence\tlabel\ngood\tpos\n", "no text column 'text'"),
        "one.tsv": ("text\tlabel\ngood\tpos\nfine\tpos\n", "one class only ('pos')"),
    }
    for name, (content, message) in cases.items():
        if content is not None:
            (tmp_path / name).write_text(content)
        status, _, err = train("--train", tmp_path / name, "--valid", tmp_path / name)
        assert_one_line_error(status, err, message)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "holds no text"),
        (b"text\tlabel\n", "has a header line but no examples"),
        ("text\tlabel\ncaf\u00e9 film\tpos\n".encode("latin-1"), "byte offset 14"),
    ],
)
def test_bad_data_files_leave_no_run_and_are_refused_by_eval(
    tmp_path: Path, run_folder: Path, content: bytes, message: str
) -> None:
    bad = tmp_path / "bad.tsv"
    bad.write_bytes(content)
    status, _, err = train("--train", bad, "--out", tmp_path / "run")
    assert_one_line_error(status, err, "bad.tsv", message)
    assert not (tmp_path / "run").exists()
    before = folder_bytes(run_folder)
    status, _, err = run_cli("eval", run_folder, "--data", bad, "--json")
    assert_one_line_error(status, err, "bad.tsv", message)
    assert folder_bytes(run_folder) == before


def test_validation_or_eval_labels_unseen_in_training(tmp_path: Path, run_folder: Path) -> None:
    odd = tmp_path / "odd.tsv"
    odd.write_text("text\tlabel\ngood\tpos\nmeh\tneutral\n")
    status, _, err = train("--train", write_tsv(tmp_path / "t.tsv"), "--valid", odd)
    assert_one_line_error(status, err, "labels the model was not trained on: 'neutral'")
    status, _, err = run_cli("eval", run_folder, "--data", odd)
    assert_one_line_error(status, err, "odd.tsv has labels the model was not trained on")


def test_bad_runs_and_flags(tmp_path: Path, run_folder: Path) -> None:
    before = folder_bytes(run_folder)
    data = write_tsv(tmp_path / "t.tsv")
    language_model = tmp_path / "lm"
    save_checkpoint(language_model, {"format": "rnnkit.run", "version": 2, "task": "lm"}, {})
    old = tmp_path / "old"  # a classifier run folder of an earlier rnnkit
    save_checkpoint(old, {"format": "rnnkit.sequence_classifier", "version": 1}, {})
    cases = [
        (["train-classifier", *TINY], "--train is needed"),
        (["train-classifier", "--out", tmp_path, "--resume"], "holds no training run"),
        (["train-classifier", "--out", language_model, "--resume"],
         "rnnkit train-classifier is for another task than the run in"),
        (["train-classifier", "--out", old, "--resume"],
         "rnnkit.sequence_classifier version 1, which this version of rnnkit does not read"),
        (["predict", old, "text"], "which this version of rnnkit does not read"),
        (["train-classifier", "--out", run_folder, "--resume", "--hidden-size", "32"],
         "--hidden-size 32 differs from the run"),
        (["train-classifier", "--train", data, "--out", run_folder], "already holds a training"),
        (["train-classifier", "--train", data, "--embeddings", tmp_path / "no.txt"], "not a file"),
        (["predict", language_model, "text"], "holds a language-model run, which generates"),
        (["eval", tmp_path / "none", "--data", data], "is not a folder"),
    ]  # fmt: skip
    for argv, message in cases:
        status, _, err = run_cli(*argv)
        assert_one_line_error(status, err, message)
    assert folder_bytes(run_folder) == before


@pytest.mark.parametrize("file", ["model.safetensors", "optimizer.safetensors", "config.json"])
def test_resume_from_a_corrupted_checkpoint(tmp_path: Path, file: str) -> None:
    status, _, err = train(
        "--train", write_tsv(tmp_path / "t.tsv"), "--out", tmp_path / "run", "--max-steps", "2"
    )
    assert status == 0, err
    path = tmp_path / "run" / file
    path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])  # a write cut short
    before = folder_bytes(tmp_path / "run")
    status, _, err = run_cli(
        "train-classifier", "--out", tmp_path / "run", "--resume", "--max-steps", "4"
    )
    assert_one_line_error(status, err, "damaged", file)
    assert folder_bytes(tmp_path / "run") == before
