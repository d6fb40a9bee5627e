"""ClassifierTrainer: it learns, keeps the best model by validation accuracy, orders its
batches by seed and epoch, and resumes exactly.

``keyword_examples`` is also the CLI tests' data: texts whose class is decided by one
keyword among filler words, so a tiny model learns them in a few dozen steps.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from rnnkit.data.classification import LabelledTexts, LabelVocabulary, encode_labelled_texts
from rnnkit.data.tokenizers import make_tokenizer
from rnnkit.errors import UserError
from rnnkit.models import SequenceClassifier
from rnnkit.optim import ReduceLROnPlateau
from rnnkit.train import Budget, StopRequest, TrainingDivergedError, load_checkpoint
from rnnkit.train.classifier_trainer import (
    ClassifierSettings,
    ClassifierTrainer,
    balanced_class_weights,
)

KEYWORDS = {"pos": ["good", "great", "fine"], "neg": ["bad", "awful", "dull"]}
TIMING = ("elapsed", "tokens_per_second")
FILLER = ["the", "film", "was", "a", "plot", "and", "story", "very"]


def keyword_examples(count: int, seed: int = 0) -> LabelledTexts:
    """COUNT texts of 2 to 9 words; the one keyword in each decides its label."""
    rng = np.random.default_rng(seed)
    texts, labels = [], []
    for _ in range(count):
        label = str(rng.choice(sorted(KEYWORDS)))
        words = list(rng.choice(FILLER, size=rng.integers(1, 9)))
        words.insert(int(rng.integers(len(words) + 1)), str(rng.choice(KEYWORDS[label])))
        texts.append(" ".join(words))
        labels.append(label)
    return LabelledTexts(texts, labels, [f"example {i}" for i in range(count)])


def make_trainer(folder: Path, **settings: object) -> ClassifierTrainer:
    train, valid = keyword_examples(200, seed=0), keyword_examples(60, seed=1)
    tokenizer = make_tokenizer("word").fit("\n".join(train.texts))
    labels = LabelVocabulary.fit(train.labels, "train")
    train_set, _ = encode_labelled_texts(train, tokenizer, labels, "train")
    valid_set, _ = encode_labelled_texts(valid, tokenizer, labels, "valid")
    model = SequenceClassifier(
        tokenizer.vocab_size,
        len(labels),
        embedding_size=8,
        hidden_size=12,
        bidirectional=True,
        pooling="max",
        dropout=0.2,
        rng=0,
    )
    options = {"batch_size": 16, "lr": 0.01, "eval_every": 10, "seed": 0, **settings}
    return ClassifierTrainer(
        model, tokenizer, labels.labels, train_set, valid_set, ClassifierSettings(**options), folder
    )


def test_it_learns_and_keeps_the_best_model_by_validation_accuracy(tmp_path: Path) -> None:
    trainer = make_trainer(tmp_path)
    assert trainer.train(Budget(max_steps=60)) == "reached max_steps 60"
    records = [r for r in trainer.metrics.read() if "val_accuracy" in r]
    assert [r["step"] for r in records] == [10, 20, 30, 40, 50, 60]
    best = max(records, key=lambda r: r["val_accuracy"])
    assert best["val_accuracy"] >= 0.9
    saved = load_checkpoint(tmp_path / "best")
    assert saved.config["progress"]["best"]["accuracy"] == best["val_accuracy"]
    assert saved.config["labels"] == ["neg", "pos"]
    assert (saved.config["format"], saved.config["task"]) == ("rnnkit.run", "classify")


def test_epoch_batches_depend_on_seed_and_epoch_only(tmp_path: Path) -> None:
    trainer = make_trainer(tmp_path)
    first = trainer.epoch_batches(0)
    assert sorted(np.concatenate(first).tolist()) == list(range(200))
    assert all(np.array_equal(a, b) for a, b in zip(first, trainer.epoch_batches(0), strict=True))
    assert not all(
        np.array_equal(a, b) for a, b in zip(first, trainer.epoch_batches(1), strict=False)
    )


def test_resume_gives_the_same_weights_as_one_run(tmp_path: Path) -> None:
    # 13 steps per epoch, so the stop at step 20 falls in the middle of the second epoch.
    straight = make_trainer(tmp_path / "straight")
    straight.train(Budget(max_steps=40))

    first = make_trainer(tmp_path / "resumed")
    first.train(Budget(max_steps=20))
    second = make_trainer(tmp_path / "resumed")
    second.restore(load_checkpoint(tmp_path / "resumed"))
    assert (second.progress.epoch, second.progress.batch) == (1, 7)
    second.train(Budget(max_steps=40))

    for name, value in straight.model.params.items():
        assert np.array_equal(value, second.model.params[name]), name
    assert straight.optimizer.lr == second.optimizer.lr

    def without_timing(records: list[dict]) -> list[dict]:
        return [{k: v for k, v in r.items() if k not in TIMING} for r in records]

    # The resumed run's log continues the first one's as if nothing had happened.
    assert without_timing(second.metrics.read()) == without_timing(straight.metrics.read())


def replayed_rates(records: list[dict], measure: str) -> list[float]:
    """The learning rates a fresh scheduler gives for the recorded values of MEASURE."""
    replay = SimpleNamespace(lr=0.01)
    mode = "min" if measure == "loss" else "max"
    scheduler = ReduceLROnPlateau(replay, factor=0.5, patience=0, mode=mode)
    rates = []
    for record in records:
        scheduler.step(record[f"val_{measure}"])
        rates.append(replay.lr)
    return rates


def test_the_learning_rate_follows_the_plateaus_of_the_chosen_measure(tmp_path: Path) -> None:
    # On this easy task accuracy soon stops rising while the loss keeps falling, so the
    # two measures give different schedules, and each run must follow its own.
    for plateau_on, other in (("accuracy", "loss"), ("loss", "accuracy")):
        trainer = make_trainer(tmp_path / plateau_on, plateau_on=plateau_on, plateau_patience=0)
        trainer.train(Budget(max_steps=120))
        records = [r for r in trainer.metrics.read() if "val_accuracy" in r]
        rates = [r["lr"] for r in records]
        assert rates == replayed_rates(records, plateau_on), plateau_on
        assert rates != replayed_rates(records, other), plateau_on


def test_a_rising_validation_loss_lowers_the_rate(tmp_path: Path) -> None:
    trainer = make_trainer(tmp_path, plateau_on="loss", plateau_patience=0)
    # A quarter of the validation labels flipped: as the model grows confident, its
    # validation loss rises again.
    trainer.valid_set.targets[::4] = 1 - trainer.valid_set.targets[::4]
    trainer.train(Budget(max_steps=120))
    records = [r for r in trainer.metrics.read() if "val_accuracy" in r]
    assert [r["lr"] for r in records] == replayed_rates(records, "loss")
    assert records[-1]["lr"] < 0.01


def test_an_unknown_plateau_measure_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="plateau_on: expected one of accuracy, loss"):
        make_trainer(tmp_path, plateau_on="f1")


def test_a_stop_request_saves_and_returns(tmp_path: Path) -> None:
    trainer = make_trainer(tmp_path)
    stop = StopRequest()
    stop.request()
    assert trainer.train(Budget(max_steps=50), stop) == "interrupted"
    assert load_checkpoint(tmp_path).config["progress"]["step"] == 0


def test_a_loss_that_is_not_finite_stops_the_run(tmp_path: Path) -> None:
    trainer = make_trainer(tmp_path)
    trainer.train(Budget(max_steps=5))
    trainer.model.params["classifier.bias"][0] = np.nan
    with pytest.raises(TrainingDivergedError, match="diverged at step 6.*step 5"):
        trainer.train(Budget(max_steps=10))


def test_ema_validates_and_keeps_the_average_while_training_the_raw_weights(
    tmp_path: Path,
) -> None:
    plain = make_trainer(tmp_path / "plain")
    plain.train(Budget(max_steps=20))
    averaged = make_trainer(tmp_path / "ema", ema=0.9)
    validated = []

    def validate() -> dict[str, float]:
        validated.append(averaged.model.state_dict())
        return type(averaged).validate(averaged)

    averaged.validate = validate
    averaged.train(Budget(max_steps=20))
    # The optimizer stepped the raw weights as if there were no average...
    for name, value in plain.model.params.items():
        assert np.array_equal(value, averaged.model.params[name]), name
    # ...which the average of steps 1-20 is not; validation at step 20 saw the average,
    # and the best model and the checkpoint keep it.
    assert len(validated) == 2
    best = load_checkpoint(tmp_path / "ema" / "best")
    last = load_checkpoint(tmp_path / "ema")
    assert best.config["progress"]["step"] == last.config["progress"]["best_step"]
    for name, value in averaged.average.items():
        assert not np.allclose(value, averaged.model.params[name]), name
        np.testing.assert_array_equal(validated[-1][name], value, err_msg=name)
        np.testing.assert_array_equal(last.arrays["ema"][name], value, err_msg=name)
        if best.config["progress"]["step"] == 20:
            np.testing.assert_array_equal(best.arrays["model"][name], value, err_msg=name)
    assert "ema" not in load_checkpoint(tmp_path / "plain").arrays


def test_the_best_model_with_ema_is_the_average_when_it_was_validated(tmp_path: Path) -> None:
    trainer = make_trainer(tmp_path, ema=0.95, eval_every=5)
    averages = {}

    def validate() -> dict[str, float]:
        averages[trainer.progress.step] = {k: v.copy() for k, v in trainer.average.items()}
        return type(trainer).validate(trainer)

    trainer.validate = validate
    trainer.train(Budget(max_steps=30))
    best = load_checkpoint(tmp_path / "best")
    kept = averages[best.config["progress"]["step"]]
    for name, value in best.arrays["model"].items():
        np.testing.assert_array_equal(value, kept[name], err_msg=name)


def test_resume_with_ema_gives_the_same_weights_and_average_as_one_run(tmp_path: Path) -> None:
    straight = make_trainer(tmp_path / "straight", ema=0.95)
    straight.train(Budget(max_steps=40))
    first = make_trainer(tmp_path / "resumed", ema=0.95)
    first.train(Budget(max_steps=20))
    second = make_trainer(tmp_path / "resumed", ema=0.95)
    second.restore(load_checkpoint(tmp_path / "resumed"))
    second.train(Budget(max_steps=40))
    for name, value in straight.model.params.items():
        assert np.array_equal(value, second.model.params[name]), name
        assert np.array_equal(straight.average[name], second.average[name]), name
    best = [load_checkpoint(tmp_path / run / "best") for run in ("straight", "resumed")]
    progress = [{k: v for k, v in b.config["progress"].items() if k not in TIMING} for b in best]
    assert progress[0] == progress[1]
    for name, value in best[0].arrays["model"].items():
        assert np.array_equal(value, best[1].arrays["model"][name]), name


def test_balanced_class_weights_give_every_class_the_same_total_weight() -> None:
    targets = np.array([0, 0, 0, 0, 0, 0, 1, 1, 3])  # class 2 has no examples
    weights = balanced_class_weights(targets, 4)
    # N / (K n_c) = 9 / (4 n_c)
    np.testing.assert_allclose(weights, [9 / 24, 9 / 8, 0.0, 9 / 4])
    totals = np.bincount(targets, weights=weights[targets], minlength=4)
    np.testing.assert_allclose(totals[[0, 1, 3]], 9 / 4)


def test_balanced_class_weights_weigh_the_loss_and_pick_the_best_by_balanced_accuracy(
    tmp_path: Path,
) -> None:
    trainer = make_trainer(tmp_path, class_weights="balanced")
    targets = trainer.train_set.targets
    expected = balanced_class_weights(targets, 2)
    np.testing.assert_allclose(trainer.class_weights, expected)
    assert trainer.watched == "balanced_accuracy"
    trainer.train(Budget(max_steps=30))
    records = [r for r in trainer.metrics.read() if "val_balanced_accuracy" in r]
    best = max(records, key=lambda r: r["val_balanced_accuracy"])
    saved = load_checkpoint(tmp_path / "best")
    assert saved.config["progress"]["best_step"] == best["step"]
    assert saved.config["config"]["training"]["class_weights"] == "balanced"
    assert make_trainer(tmp_path / "plain").class_weights is None
