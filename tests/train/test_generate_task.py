"""The generation task through the generic run: it learns what each category's texts are
made of, resumes exactly, trains on feature vectors too, and its trained model is
evaluated and samples; bad input is one clear error."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pytest

from rnnkit.data.conditioned_text import read_category_folder, read_text_with_features
from rnnkit.data.tokenizers import CharTokenizer
from rnnkit.errors import UserError
from rnnkit.models import ConditionedLanguageModel
from rnnkit.train import load_checkpoint
from rnnkit.train.run import read_run, resume_run, start_run, train_run
from rnnkit.train.tasks import TASKS
from rnnkit.train.tasks.generate import (
    BOUNDARY,
    GenerateRun,
    TrainedGenerator,
    evaluate_generator,
    generate_texts,
    load_generator,
)

# Each category's names: its initial, then letters of its own alphabet only.
ALPHABETS = {"Ant": "abc", "Bee": "xyz", "Cat": "mno"}


def names(category: str, count: int, rng: np.random.Generator) -> list[str]:
    letters = list(ALPHABETS[category])
    return [
        category[0] + "".join(rng.choice(letters, size=int(rng.integers(2, 6))))
        for _ in range(count)
    ]


def write_folder(folder: Path, count: int = 60, seed: int = 0) -> Path:
    """A folder of one file per category, COUNT names each."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for category in ALPHABETS:
        lines = names(category, count, rng)
        (folder / f"{category}.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


def config(train: Path, **training: object) -> GenerateRun:
    run = GenerateRun()
    run.data.train = str(train)
    run.model.embedding_size, run.model.hidden_size, run.model.condition_size = 8, 24, 4
    options = {"batch_size": 16, "lr": 0.02, "eval_every": 20, "log_every": 5, "seed": 0}
    for name, value in {**options, **training}.items():
        setattr(run.training, name, value)
    return run


def test_the_task_learns_each_categorys_alphabet(tmp_path: Path) -> None:
    task = TASKS["generate"]
    train = write_folder(tmp_path / "train")
    trainer = start_run(task, config(train, max_steps=200), tmp_path / "run")
    assert train_run(task, trainer, fresh=True).status == 0
    trained = load_generator(tmp_path / "run" / "best")
    assert trained.categories == sorted(ALPHABETS)
    for index, category in enumerate(trained.categories):
        texts = list(generate_texts(trained, index, 20, temperature=0.5, rng=index))
        body = "".join(text[1:] for text in texts)
        assert all(text[:1] == category[0] for text in texts), texts
        assert body and set(body) <= set(ALPHABETS[category]), texts
    # Held-out names of the same kinds, measured as validation measured them.
    held_out = read_category_folder(write_folder(tmp_path / "test", 20, seed=1))
    report = evaluate_generator(trained, held_out, "test")
    assert report["texts"] == 60 and report["unknown_characters"] == 0
    # Under its own condition a name costs little: an initial known for sure, then
    # about log2(3) bits per letter and a few for its end, far below a uniform guess.
    assert report["bits_per_char"] < 2.0 < np.log2(trained.tokenizer.vocab_size)
    best = trainer.progress.best["bits_per_char"]
    assert report["bits_per_char"] == pytest.approx(best, abs=0.3)


def test_resume_gives_the_same_weights_as_one_run(tmp_path: Path) -> None:
    task = TASKS["generate"]
    train = write_folder(tmp_path / "train")
    options = {"ema": 0.9}
    run_config = config(train, max_steps=24, **options)
    run_config.model.dropout = 0.2  # dropout draws must resume too
    straight = start_run(task, copy.deepcopy(run_config), tmp_path / "a")
    train_run(task, straight, fresh=True)
    short = copy.deepcopy(run_config)
    short.training.max_steps = 14
    first = start_run(task, short, tmp_path / "b")
    train_run(task, first, fresh=True)
    _, saved, checkpoint = read_run(tmp_path / "b", TASKS)
    resumed = copy.deepcopy(saved)
    resumed.training.max_steps = 24
    second = resume_run(task, resumed, saved, checkpoint, tmp_path / "b")
    assert (second.progress.epoch, second.progress.batch) == (1, 3)  # 11 batches an epoch
    train_run(task, second, fresh=False)
    for name, value in straight.model.params.items():
        assert np.array_equal(value, second.model.params[name]), name
    for folder in ("a", "b"):
        assert load_checkpoint(tmp_path / folder).config["progress"]["step"] == 24


def write_features(tmp_path: Path, count: int = 90) -> tuple[Path, Path]:
    """Lines whose letters follow their feature row: a one-hot choice of an alphabet."""
    rng = np.random.default_rng(2)
    chosen = rng.integers(0, 3, size=count)
    categories = sorted(ALPHABETS)
    lines = [names(categories[c], 1, rng)[0].lower() for c in chosen]
    text = tmp_path / "texts.txt"
    text.write_text("\n".join(lines) + "\n", encoding="utf-8")
    features = tmp_path / "features.npy"
    np.save(features, np.eye(3)[chosen])
    return text, features


def test_feature_vectors_condition_the_texts(tmp_path: Path) -> None:
    task = TASKS["generate"]
    text, features = write_features(tmp_path)
    run_config = config(text, max_steps=150)
    run_config.data.features = str(features)
    run_config.model.condition = "vector"
    trainer = start_run(task, run_config, tmp_path / "run")
    train_run(task, trainer, fresh=True)
    trained = load_generator(tmp_path / "run")
    assert trained.categories == [] and trained.model.feature_size == 3
    for index, category in enumerate(sorted(ALPHABETS)):
        texts = list(generate_texts(trained, np.eye(3)[index], 10, temperature=0.3, rng=0))
        assert all(text[:1] == category[0].lower() for text in texts), texts
    report = evaluate_generator(trained, read_text_with_features(text, features), "texts.txt")
    assert report["texts"] == 90


def test_bad_input_is_one_clear_error(tmp_path: Path) -> None:
    task = TASKS["generate"]
    train = write_folder(tmp_path / "train")
    trainer = start_run(task, config(train, max_steps=1), tmp_path / "run")
    train_run(task, trainer, fresh=True)
    trained = load_generator(tmp_path / "run")
    other = tmp_path / "other"
    other.mkdir()
    (other / "Dog.txt").write_text("Dabc\n", encoding="utf-8")
    with pytest.raises(UserError, match=r"unknown condition 'Dog'; known: Ant, Bee, Cat"):
        evaluate_generator(trained, read_category_folder(other), str(other))
    text, features = write_features(tmp_path)
    np.save(features, np.zeros((5, 3)))  # 5 rows for 90 lines
    vector = config(text, max_steps=1)
    vector.data.features, vector.model.condition = str(features), "vector"
    with pytest.raises(UserError, match=r"features.npy has 5 feature rows but .*texts.txt has 90"):
        start_run(task, vector, tmp_path / "vector")
    vector.model.condition = "category"
    with pytest.raises(UserError, match="features needs condition vector"):
        start_run(task, vector, tmp_path / "vector")
    folder_as_vectors = config(train, max_steps=1)
    folder_as_vectors.model.condition = "vector"
    with pytest.raises(UserError, match="folder of one file per category: it needs condition"):
        start_run(task, folder_as_vectors, tmp_path / "folder")
    _, saved, checkpoint = read_run(tmp_path / "run", TASKS)
    write_folder(train, seed=5)  # other names
    with pytest.raises(UserError, match="differ from those the run"):
        resume_run(task, copy.deepcopy(saved), saved, checkpoint, tmp_path / "run")
    with pytest.raises(UserError, match="holds a language-model run, not a conditioned generator"):
        lm = start_run(TASKS["lm"], TASKS["lm"].config_class(), tmp_path / "lm")
        lm.save()
        load_generator(tmp_path / "lm")


def test_generated_texts_never_hold_the_characters_unk() -> None:
    """A barely trained generator may favour ``<unk>`` (U+FFFD when written): no training
    text holds it, so it is never drawn."""
    tokenizer = CharTokenizer().fit(BOUNDARY + "abc")
    model = ConditionedLanguageModel(tokenizer.vocab_size, num_categories=2, rng=0)
    model.decoder.params["bias"][tokenizer.unknown_id] += 50.0
    trained = TrainedGenerator(model, tokenizer, ["x", "y"], GenerateRun())
    texts = list(generate_texts(trained, 0, 5, length=20, rng=0))
    assert len(texts) == 5 and not any("\ufffd" in text for text in texts), texts
    assert sum(map(len, texts)) > 0


def test_edited_categories_are_one_error_that_says_what_is_wrong(tmp_path: Path) -> None:
    task = TASKS["generate"]
    trainer = start_run(
        task, config(write_folder(tmp_path / "train"), max_steps=1), tmp_path / "run"
    )
    train_run(task, trainer, fresh=True)
    config_file = tmp_path / "run" / "config.json"
    saved = json.loads(config_file.read_text())
    for categories in (["Ant", "Ant", "Cat"], [1, 2, 3], "Ant"):
        config_file.write_text(json.dumps({**saved, "categories": categories}))
        with pytest.raises(UserError, match="categories: expected a list of distinct names, got"):
            load_generator(tmp_path / "run")
