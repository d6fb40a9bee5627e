"""The language-model trainer: exact resume, Ctrl-C, divergence, best model, schedules."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from rnnkit.data.lm_batches import split_train_val
from rnnkit.data.tokenizers import CharTokenizer
from rnnkit.models import LanguageModel
from rnnkit.train import (
    Budget,
    LMSettings,
    LMTrainer,
    StopRequest,
    TrainingDivergedError,
    evaluate_language_model,
    load_checkpoint,
    loss_measures,
)
from rnnkit.train.lm_evaluation import measure_language_model
from rnnkit.train.settings import TrainingSettings
from rnnkit.train.trainer import BEST_FOLDER

LOG_EVERY = TrainingSettings().log_every


def corpus(chars: int = 900, seed: int = 0) -> str:
    """Random words over a small alphabet: learnable, different every seed."""
    rng = np.random.default_rng(seed)
    words = ["".join(rng.choice(list("abcdefgh"), size=rng.integers(2, 6))) for _ in range(30)]
    text = ""
    while len(text) < chars:
        text += " ".join(rng.choice(words, size=8)) + ".\n"
    return text[:chars]


def make_trainer(folder: Path, settings: LMSettings | None = None, **model_options):
    text = corpus()
    tokenizer = CharTokenizer().fit(text)
    train_ids, val_ids = split_train_val(tokenizer.encode(text), 0.2)
    options = dict(embedding_size=8, hidden_size=16, num_layers=2, dropout=0.3, rng=1)
    options.update(model_options)
    model = LanguageModel(tokenizer.vocab_size, **options)
    # 720 training tokens in 4 streams of 180: 12 windows of 15 per epoch.
    settings = settings or LMSettings(batch_size=4, seq_len=15, lr=1e-2, eval_every=7)
    return LMTrainer(model, tokenizer, train_ids, val_ids, settings, folder)


def resumed_trainer(folder: Path) -> LMTrainer:
    # A fresh model with another seed: everything must come from the checkpoint.
    trainer = make_trainer(folder, rng=99)
    trainer.restore(load_checkpoint(folder))
    return trainer


def assert_same_run(a: Path, b: Path) -> None:
    for group in ("model", "optimizer"):
        first, second = load_checkpoint(a).arrays[group], load_checkpoint(b).arrays[group]
        assert first.keys() == second.keys()
        for name in first:
            np.testing.assert_array_equal(first[name], second[name], err_msg=f"{group} {name}")


def test_resume_gives_the_same_weights_as_one_run(tmp_path: Path) -> None:
    # 30 steps cross two epoch ends (12 windows each) and evaluations at 7, 14, 21, 28;
    # the stop at 17 is mid-epoch with a carried hidden state, dropout draws and Adam state.
    make_trainer(tmp_path / "whole").train(Budget(max_steps=30))
    first = make_trainer(tmp_path / "split")
    assert first.train(Budget(max_steps=17)) == "reached max_steps 17"
    assert load_checkpoint(tmp_path / "split").arrays.get("hidden_state") is not None
    resumed_trainer(tmp_path / "split").train(Budget(max_steps=30))
    assert_same_run(tmp_path / "whole", tmp_path / "split")
    whole = load_checkpoint(tmp_path / "whole").config["progress"]
    split = load_checkpoint(tmp_path / "split").config["progress"]
    assert (whole["step"], whole["epoch"], whole["window"]) == (30, 2, 6)
    assert (split["step"], split["epoch"], split["window"]) == (30, 2, 6)
    assert split["lr"] == whole["lr"]


class StopAfter(StopRequest):
    """Requests a stop after N checks, as a Ctrl-C between two steps would."""

    def __init__(self, checks: int) -> None:
        super().__init__()
        self.checks = checks

    @property
    def requested(self) -> bool:
        self.checks -= 1
        return self.checks < 0

    @requested.setter
    def requested(self, value: bool) -> None:
        pass


def test_an_interrupted_run_saves_and_resumes_exactly(tmp_path: Path) -> None:
    make_trainer(tmp_path / "whole").train(Budget(max_steps=20))
    interrupted = make_trainer(tmp_path / "split")
    assert interrupted.train(Budget(max_steps=20), stop=StopAfter(9)) == "interrupted"
    assert load_checkpoint(tmp_path / "split").config["progress"]["step"] == 9
    resumed_trainer(tmp_path / "split").train(Budget(max_steps=20))
    assert_same_run(tmp_path / "whole", tmp_path / "split")


def test_a_diverging_run_stops_and_keeps_the_last_good_checkpoint(tmp_path: Path) -> None:
    settings = LMSettings(batch_size=4, seq_len=15, lr=1e38, optimizer="sgd", clip=0, eval_every=1)
    trainer = make_trainer(tmp_path, settings, dropout=0.0)
    with pytest.raises(TrainingDivergedError, match="diverged at step") as error:
        trainer.train(Budget(max_steps=50))
    message = str(error.value)
    assert "\n" not in message
    kept = load_checkpoint(tmp_path)
    assert f"last good checkpoint (step {kept.config['progress']['step']})" in message
    for value in kept.arrays["model"].values():
        assert np.all(np.isfinite(value))


def test_best_model_and_metrics(tmp_path: Path) -> None:
    trainer = make_trainer(tmp_path)
    trainer.train(Budget(max_steps=30))
    records = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    val = [r for r in records if "val_loss" in r]
    # Evaluations at 7, 14, 21, 28 on schedule, and at 30 when the run ends.
    assert [r["step"] for r in val] == [7, 14, 21, 28, 30]
    assert [r["step"] for r in records if "train_loss" in r] == list(
        range(LOG_EVERY, 31, LOG_EVERY)
    )
    best = min(val, key=lambda r: r["val_loss"])
    progress = load_checkpoint(tmp_path).config["progress"]
    assert (progress["best_step"], progress["best"]["loss"]) == (best["step"], best["val_loss"])
    # best/ holds exactly that model: evaluating it gives that loss again.
    saved = load_checkpoint(tmp_path / BEST_FOLDER)
    trainer.model.load_state_dict(saved.arrays["model"])
    loss, _ = evaluate_language_model(trainer.model, trainer.val_ids, 4, 15)
    assert loss == pytest.approx(best["val_loss"], rel=1e-6)
    assert val[-1]["val_bits_per_char"] == pytest.approx(val[-1]["val_loss"] / math.log(2))


def test_resume_drops_metrics_past_the_checkpoint(tmp_path: Path) -> None:
    make_trainer(tmp_path).train(Budget(max_steps=10))
    with open(tmp_path / "metrics.jsonl", "a") as file:
        file.write(json.dumps({"step": 15, "train_loss": 9.9}) + "\n")  # logged, never saved
    resumed_trainer(tmp_path)
    steps = [
        json.loads(line)["step"] for line in (tmp_path / "metrics.jsonl").read_text().splitlines()
    ]
    assert max(steps) == 10


def test_epoch_decay_schedule(tmp_path: Path) -> None:
    settings = LMSettings(
        batch_size=4, seq_len=15, lr=1.0, optimizer="sgd", eval_every=100, decay_after_epoch=1
    )
    trainer = make_trainer(tmp_path, settings)
    lrs = []
    for steps in (12, 24, 36):  # one epoch each
        trainer.train(Budget(max_steps=steps))
        lrs.append(trainer.optimizer.lr)
    assert lrs == [1.0, 0.5, 0.25]


def test_time_budget_includes_time_before_the_resume(tmp_path: Path) -> None:
    ticks = iter(range(10**6))
    trainer = make_trainer(tmp_path)
    reason = trainer.train(Budget(max_time=1e6, elapsed_before=1e6 - 5, clock=lambda: next(ticks)))
    assert reason == "reached max_time 1e+06 s"
    assert 0 < trainer.progress.step < 5


def test_evaluation_counts_every_predicted_token() -> None:
    trainer = make_trainer(Path("unused"))
    ids = trainer.val_ids
    loss, tokens = evaluate_language_model(trainer.model, ids, batch_size=4, seq_len=15)
    assert tokens == len(ids) - 1  # every token but the first, in any number of streams
    # One stream read window by window gives the mean of the per-token losses.
    single, count = evaluate_language_model(trainer.model, ids, batch_size=1, seq_len=len(ids))
    logits = trainer.model.eval().forward(ids[None, :-1])[0][0].astype(np.float64)
    shifted = logits - logits.max(axis=-1, keepdims=True)
    per_token = np.log(np.exp(shifted).sum(-1)) - shifted[np.arange(len(ids) - 1), ids[1:]]
    assert count == len(ids) - 1
    assert single == pytest.approx(float(per_token.mean()), rel=1e-5)
    assert loss_measures(2.0, "word") == {"loss": 2.0, "perplexity": pytest.approx(math.exp(2))}


def test_eval_tokens_caps_what_validation_reads(tmp_path: Path) -> None:
    settings = LMSettings(batch_size=4, seq_len=15, eval_every=7, eval_tokens=40)
    capped = make_trainer(tmp_path / "capped", settings)
    full = make_trainer(tmp_path / "full")
    model, tokenizer, val_ids = capped.model, capped.tokenizer, capped.val_ids
    expected = measure_language_model(model, tokenizer, val_ids, 4, 15, max_tokens=40)
    assert expected["tokens"] <= 40 < len(val_ids) - 1
    assert capped.validate()["loss"] == expected["loss"]
    assert full.validate()["loss"] != expected["loss"]  # the same weights, every token read
