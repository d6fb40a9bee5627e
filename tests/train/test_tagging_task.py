"""The tagging task through the generic run: it learns a toy tag set (spans and unseen
words included), resumes exactly, and its trained model tags and is evaluated; bad input
is one clear error."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pytest

from rnnkit.data.conll import read_tagged
from rnnkit.errors import UserError
from rnnkit.train import load_checkpoint
from rnnkit.train.run import read_run, resume_run, start_run, train_run
from rnnkit.train.tasks import TASKS
from rnnkit.train.tasks.tagging import TaggingRun, evaluate_tagged, load_tagger, tag_sentences

NAMES = ["anna", "bob", "carla", "dmitri", "eve", "farid", "gita", "hana", "ivan", "jo"]
FILLER = ["saw", "met", "and", "then", "left", "with", "today", "quickly"]


def write_sentences(path: Path, count: int, seed: int, names: list[str], rare: float = 0.0) -> Path:
    """Column-format sentences of filler words and names: a capitalised name is B-PER,
    or I-PER right after another name; a filler word always follows a name, and is a word
    seen nowhere else with probability RARE."""
    rng = np.random.default_rng(seed)
    lines = []
    for _ in range(count):
        for _ in range(int(rng.integers(2, 6))):
            if rng.random() < 0.4:
                lines.append(f"{str(rng.choice(names)).capitalize()} B-PER")
                if rng.random() < 0.3:
                    lines.append(f"{str(rng.choice(names)).capitalize()} I-PER")
            filler = f"w{len(lines)}" if rng.random() < rare else rng.choice(FILLER)
            lines.append(f"{filler} O")
        lines.append("")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def config(tmp_path: Path, rare: float = 0.0, **training: object) -> TaggingRun:
    run = TaggingRun()
    run.data.train = str(write_sentences(tmp_path / "train.txt", 120, 0, NAMES[:7], rare))
    run.data.valid = str(write_sentences(tmp_path / "valid.txt", 30, 1, NAMES))
    run.model.embedding_size, run.model.hidden_size = 8, 12
    run.model.char_embedding_size, run.model.char_hidden_size = 6, 6
    run.model.dropout, run.model.num_layers = 0.1, 1
    options = {
        "batch_size": 8, "lr": 0.02, "eval_every": 15, "log_every": 5, "seed": 0, "unk_rate": 0.0,
    }  # fmt: skip
    for name, value in {**options, **training}.items():
        setattr(run.training, name, value)
    return run


def test_the_task_learns_spans_of_unseen_names(tmp_path: Path) -> None:
    pytest.importorskip("seqeval")
    trainer = start_run(TASKS["tag"], config(tmp_path, max_steps=90), tmp_path / "run")
    assert train_run(TASKS["tag"], trainer, fresh=True).status == 0
    assert trainer.progress.best["accuracy"] > 0.95
    assert trainer.progress.best["span_f1"] > 0.8  # valid has names never seen in training
    trained = load_tagger(tmp_path / "run" / "best")
    tagged = tag_sentences(trained, [["Anna", "met", "Bob", "Carla", "today"]])
    assert tagged == [["B-PER", "O", "B-PER", "I-PER", "O"]]
    report = evaluate_tagged(trained, read_tagged(tmp_path / "valid.txt"), "valid.txt")
    assert report["scheme"] == "BIO" and report["spans"]["f1"] > 0.8
    assert report["token_accuracy"] == pytest.approx(trainer.progress.best["accuracy"])


def test_resume_gives_the_same_weights_as_one_run(tmp_path: Path) -> None:
    task = TASKS["tag"]
    options = {"unk_rate": 0.5, "ema": 0.9, "rare": 0.2}  # rare words: <unk> draws matter
    straight = start_run(task, config(tmp_path, max_steps=24, **options), tmp_path / "a")
    train_run(task, straight, fresh=True)
    first = start_run(task, config(tmp_path, max_steps=10, **options), tmp_path / "b")
    train_run(task, first, fresh=True)
    _, saved, checkpoint = read_run(tmp_path / "b", TASKS)
    resumed = copy.deepcopy(saved)
    resumed.training.max_steps = 24
    second = resume_run(task, resumed, saved, checkpoint, tmp_path / "b")
    assert (second.progress.epoch, second.progress.batch) == (0, 10)  # 15 batches an epoch
    train_run(task, second, fresh=False)
    for name, value in straight.model.params.items():
        assert np.array_equal(value, second.model.params[name]), name
    for folder in ("a", "b"):
        assert load_checkpoint(tmp_path / folder).config["progress"]["step"] == 24


def test_bad_input_is_one_clear_error(tmp_path: Path) -> None:
    task = TASKS["tag"]
    trainer = start_run(task, config(tmp_path, max_steps=1), tmp_path / "run")
    train_run(task, trainer, fresh=True)
    trained = load_tagger(tmp_path / "run")
    other = tmp_path / "other.txt"
    other.write_text("Anna B-ORG\n", encoding="utf-8")
    with pytest.raises(UserError, match=r"other.txt has tags the model was not trained on"):
        evaluate_tagged(trained, read_tagged(other), "other.txt")
    long = config(tmp_path, max_steps=1)
    long.data.max_length = 3
    with pytest.raises(UserError, match=r"train.txt:\d+: a sentence of \d+ words, longer than"):
        start_run(task, long, tmp_path / "long")
    _, saved, checkpoint = read_run(tmp_path / "run", TASKS)
    write_sentences(Path(saved.data.train), 120, 5, NAMES[:7])  # other sentences
    with pytest.raises(UserError, match="differ from those the run"):
        resume_run(task, copy.deepcopy(saved), saved, checkpoint, tmp_path / "run")
    with pytest.raises(UserError, match="not a sequence tagger"):
        lm = start_run(TASKS["lm"], TASKS["lm"].config_class(), tmp_path / "lm")
        lm.save()
        load_tagger(tmp_path / "lm")


def test_an_edited_vocabulary_is_one_error_that_names_it(tmp_path: Path) -> None:
    task = TASKS["tag"]
    train_run(task, start_run(task, config(tmp_path, max_steps=1), tmp_path / "run"), fresh=True)
    config_file = tmp_path / "run" / "config.json"
    saved = json.loads(config_file.read_text())
    for vocabulary, named in [
        (None, "config.json was edited or damaged: it has no 'vocabulary'; restore it"),
        ({**saved["vocabulary"], "tags": "OB"}, "expected a list of label names, got 'OB'"),
        ({**saved["vocabulary"], "tags": ["O", "O", "B-PER"]}, "a label is named twice"),
    ]:
        edited = {key: value for key, value in saved.items() if key != "vocabulary"}
        if vocabulary is not None:
            edited["vocabulary"] = vocabulary
        config_file.write_text(json.dumps(edited))
        with pytest.raises(UserError) as caught:
            load_tagger(tmp_path / "run")
        message = str(caught.value)
        assert named in message and message.count("edited or damaged") == 1, message


def test_a_resume_refuses_a_vocabulary_edited_past_the_model(tmp_path: Path) -> None:
    # no characters for the character encoder: the model's ValueError was a traceback
    task = TASKS["tag"]
    train_run(task, start_run(task, config(tmp_path, max_steps=2), tmp_path / "run"), fresh=True)
    config_file = tmp_path / "run" / "config.json"
    saved = json.loads(config_file.read_text())
    saved["vocabulary"]["chars"] = []
    config_file.write_text(json.dumps(saved))
    _, settings, checkpoint = read_run(tmp_path / "run", TASKS)
    named = "run/config.json was edited or damaged: vocabulary.chars: expected <unk>, then"
    with pytest.raises(UserError, match=named):
        resume_run(task, settings, copy.deepcopy(settings), checkpoint, tmp_path / "run")
