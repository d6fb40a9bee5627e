"""The shared Trainer loop with a toy subclass: a linear regression whose batches cycle."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from rnnkit.errors import SettingError
from rnnkit.nn import Linear, mse
from rnnkit.train import Budget, Trainer, TrainingProgress, TrainingSettings, load_checkpoint
from rnnkit.train import trainer as trainer_module
from rnnkit.train.trainer import BEST_FOLDER


@dataclass
class ToyProgress(TrainingProgress):
    batch: int = 0


class ToyModel(Linear):
    def __init__(self) -> None:
        super().__init__(3, 1, dtype=np.float64, rng=0)
        self.rng = np.random.default_rng(0)


class ToyTrainer(Trainer):
    """Four batches per epoch; validation reports the loss and a score to maximise."""

    watched = "score"
    higher_is_better = True

    def __init__(self, folder: Path, with_validation: bool = True, **settings: float) -> None:
        super().__init__(ToyModel(), TrainingSettings(**settings), ToyProgress(), folder)
        rng = np.random.default_rng(1)
        self.x = rng.standard_normal((4, 8, 3))
        self.y = self.x @ np.array([[1.0], [-2.0], [0.5]])
        self.with_validation = with_validation
        self.scores: list[float] = []
        self.drawn = 0  # something to keep in extra_arrays

    def compute_step(self) -> tuple[float, int]:
        batch = self.progress.batch
        loss, grad = mse(self.model.forward(self.x[batch]), self.y[batch])
        self.model.backward(grad)
        self.drawn += 1
        return loss, 8

    def advance(self) -> None:
        self.progress.batch = (self.progress.batch + 1) % 4
        self.progress.epoch += self.progress.batch == 0

    def validate(self) -> dict[str, float] | None:
        if not self.with_validation:
            return None
        loss, _ = mse(self.model.forward(self.x[0]), self.y[0])
        # A score that peaks at step 6 and falls again, so "best" is not simply "last".
        score = -abs(self.progress.step - 6) - 0.001 * loss
        self.scores.append(score)
        return {"loss": loss, "score": score}

    def describe(self, measures: dict[str, float]) -> str:
        return f"score {measures['score']:.3f}"

    def extra_arrays(self) -> dict[str, dict[str, np.ndarray]]:
        return {"toy": {"drawn": np.array(self.drawn)}}

    def restore_extra(self, arrays: dict[str, dict[str, np.ndarray]]) -> None:
        self.drawn = int(arrays["toy"]["drawn"])


def test_best_follows_the_watched_measure_in_its_direction(tmp_path: Path) -> None:
    trainer = ToyTrainer(tmp_path, lr=0.05, eval_every=2)
    assert trainer.train(Budget(max_steps=11)) == "reached max_steps 11"
    progress = load_checkpoint(tmp_path).config["progress"]
    assert progress["best_step"] == 6
    assert progress["val_step"] == 11  # the final evaluation, off schedule
    assert load_checkpoint(tmp_path / BEST_FOLDER).config["progress"]["step"] == 6


def test_only_scheduled_evaluations_move_the_plateau_schedule(tmp_path: Path) -> None:
    trainer = ToyTrainer(tmp_path, lr=0.05, eval_every=2, plateau_patience=0)
    trainer.train(Budget(max_steps=11))
    # Evaluations at 2..10 on schedule (5 scheduler steps), and at 11 for the report.
    assert trainer.scheduler.last_epoch == 5
    # The score falls after step 6: the rate was halved at steps 8 and 10.
    assert trainer.optimizer.lr == pytest.approx(0.05 / 4)


class TiedTrainer(ToyTrainer):
    """A score stuck at 0 (as exact match is before any output is right) while the
    validation loss keeps falling."""

    def validate(self) -> dict[str, float] | None:
        measures = super().validate()
        return {"loss": measures["loss"], "score": 0.0}


@pytest.mark.parametrize("tie_breaker", [None, "loss"])
def test_a_tie_breaker_keeps_a_falling_loss_from_counting_as_a_plateau(
    tmp_path: Path, tie_breaker: str | None
) -> None:
    trainer = TiedTrainer(tmp_path, lr=0.05, eval_every=2, plateau_patience=0)
    trainer.tie_breaker = tie_breaker
    losses = []
    validate = trainer.validate

    def recording() -> dict[str, float]:
        measures = validate()
        losses.append(measures["loss"])
        return measures

    trainer.validate = recording
    trainer.train(Budget(max_steps=10))
    assert all(b < a for a, b in zip(losses, losses[1:], strict=False))  # it does learn
    progress = load_checkpoint(tmp_path).config["progress"]
    if tie_breaker is None:  # every tie is a bad evaluation: halved at steps 4, 6, 8, 10
        assert progress["best_step"] == 2
        assert trainer.optimizer.lr == pytest.approx(0.05 / 16)
    else:  # the lower loss decides: each evaluation is the best, the rate is kept
        assert progress["best_step"] == 10
        assert trainer.optimizer.lr == pytest.approx(0.05)


def test_without_validation_it_still_saves_on_schedule(tmp_path: Path) -> None:
    trainer = ToyTrainer(tmp_path, with_validation=False, eval_every=3)
    trainer.train(Budget(max_steps=7))
    checkpoint = load_checkpoint(tmp_path)
    assert checkpoint.config["progress"]["best"] is None
    # Nothing to choose by: best/ is the last model, saved when the run ends.
    best = load_checkpoint(tmp_path / BEST_FOLDER)
    assert best.config["progress"]["step"] == 7
    for name, value in checkpoint.arrays["model"].items():
        np.testing.assert_array_equal(best.arrays["model"][name], value, err_msg=name)
    assert int(checkpoint.arrays["toy"]["drawn"]) == 7

    resumed = ToyTrainer(tmp_path, with_validation=False, eval_every=3)
    resumed.restore(checkpoint)
    assert (resumed.drawn, resumed.progress.step, resumed.progress.batch) == (7, 7, 3)
    assert resumed.progress.epoch == 1


def test_lr_decay_sets_each_steps_rate_and_resumes_exactly(tmp_path: Path) -> None:
    settings = {"lr": 0.05, "eval_every": 100, "log_every": 1, "lr_decay": "cosine"}
    settings["max_steps"] = 8
    whole = ToyTrainer(tmp_path / "whole", **settings)
    rates = []
    optimizer_step = whole.optimizer.step

    def recording_step() -> None:
        rates.append(whole.optimizer.lr)
        optimizer_step()

    whole.optimizer.step = recording_step
    whole.train(Budget(max_steps=8))
    factor = [0.5 * (1 + np.cos(np.pi * t / 8)) for t in range(8)]
    np.testing.assert_allclose(rates, [0.05 * f for f in factor], rtol=1e-15)
    # The optimizer keeps the undecayed rate (what plateaus lower, and what a resume reads).
    assert whole.optimizer.lr == 0.05
    # Each record after step k gives the next step's rate (the last one's after the end).
    logged = [r["lr"] for r in whole.metrics.read() if "train_loss" in r]
    assert logged == pytest.approx([0.05 * factor[min(k, 7)] for k in range(1, 9)])

    first = ToyTrainer(tmp_path / "split", **settings)
    first.train(Budget(max_steps=5))
    second = ToyTrainer(tmp_path / "split", **settings)
    second.restore(load_checkpoint(tmp_path / "split"))
    second.train(Budget(max_steps=8))
    for name, value in whole.model.params.items():
        np.testing.assert_array_equal(second.model.params[name], value, err_msg=name)


def test_lr_decay_spans_max_steps_or_epochs_and_needs_one(tmp_path: Path) -> None:
    linear = ToyTrainer(tmp_path / "a", lr=0.1, eval_every=2, lr_decay="linear", max_steps=10)
    assert linear.current_lr() == 0.1
    linear.progress.step = 5
    assert linear.current_lr() == pytest.approx(0.05)
    linear.progress.step = 12  # past the end (a resume with a lower max_steps): the last rate
    assert linear.current_lr() == pytest.approx(0.01)
    with pytest.raises(SettingError, match="lr_decay linear needs max_steps or epochs"):
        ToyTrainer(tmp_path / "b", lr=0.1, eval_every=2, lr_decay="linear")


def test_the_learning_curve_is_redrawn_at_most_a_tenth_of_the_time_and_at_the_end(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A clock that moves 0.1 s a call and 1 s a drawing: drawing at every validation
    # (every step here) would take most of the run.
    clock = [0.0]

    def perf_counter() -> float:
        clock[0] += 0.1
        return clock[0]

    drawings: list[int] = []

    def draw(records: list[dict], path: Path, title: str = "") -> bool:
        clock[0] += 1.0
        drawings.append(max(r["step"] for r in records if "val_loss" in r))
        return True

    monkeypatch.setattr(trainer_module.time, "perf_counter", perf_counter)
    monkeypatch.setattr(trainer_module, "plot_learning_curve", draw)
    trainer = ToyTrainer(tmp_path, lr=0.05, eval_every=1, stop_lr_ratio=0)
    assert trainer.train(Budget(max_steps=40)) == "reached max_steps 40"
    assert drawings[0] == 1  # the first validation is drawn at once
    assert drawings[-1] == 40  # and the last, at the end
    assert len(drawings) < 10  # not 40
    spacing = np.diff(drawings[:-1])
    assert np.all(spacing >= 10 * 1.0 / (0.1 * 6))  # >= 10 drawings' time between them
