"""Training a ``LanguageModel`` with truncated BPTT (the loop itself is ``trainer.Trainer``).

One step trains on one window of ``StreamBatcher``: the mean cross-entropy over every
position of every stream. The hidden state flows from window to window and starts from
zeros at each epoch; the checkpoint keeps it (``hidden_state.safetensors``), with the
epoch and window, so a resumed run reads on exactly where it stopped. Validation is the
mean loss over the validation stream, with bits per character (of the text: a syllable a
jamo model reads as 3 tokens is one character) or perplexity; the best model is the one
with the lowest validation loss.

The learning rate is lowered on plateaus of the validation loss, or, with
``decay_after_epoch`` set, on a fixed schedule as in Zaremba et al. (2014): epoch ``e``
(counted from 1) trains at ``lr * epoch_decay ** max(e - decay_after_epoch, 0)``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from rnnkit.config import CHANGEABLE, option
from rnnkit.data.lm_batches import StreamBatcher
from rnnkit.data.tokenizers import Tokenizer
from rnnkit.models import LanguageModel
from rnnkit.train.lm_evaluation import describe_measures, measure_language_model
from rnnkit.train.settings import (
    TrainingSettings,
    batch_size_option,
    eval_every_option,
    lr_option,
    patience_option,
)
from rnnkit.train.trainer import (
    BEST_FOLDER,
    INTERRUPTED,
    Trainer,
    TrainingDivergedError,
    TrainingProgress,
)

# Sizes in the report of measure_language_model, not measures of how good the model is.
COUNTS = ("tokens", "characters")

# Re-exported: they were first defined here, and other modules import them from here.
__all__ = [
    "BEST_FOLDER",
    "INTERRUPTED",
    "LMProgress",
    "LMSettings",
    "LMTrainer",
    "TrainingDivergedError",
]


@dataclass
class LMSettings(TrainingSettings):
    """How to train a language model: ``TrainingSettings`` with the language model's
    defaults, plus the shape of a window and an optional fixed decay schedule."""

    default_lr: ClassVar[dict[str, float]] = {"adam": 2e-3, "sgd": 1.0}

    lr: float | None = lr_option(default_lr)
    eval_every: int | None = eval_every_option(
        500, "validate and keep the best model every N steps"
    )
    plateau_patience: int | None = patience_option(
        500, "steps without a better validation loss before the learning rate is lowered"
    )
    batch_size: int = batch_size_option(32, "streams read side by side")
    seq_len: int = option(64, "steps per window (truncated BPTT)", minimum=1, maximum=1 << 20)
    eval_tokens: int | None = option(
        None,
        "validate on at most N tokens, spread over the validation text (default: all), so "
        "a large corpus does not spend minutes validating",
        minimum=1,
        on_resume=CHANGEABLE,
        metavar="N",
    )
    decay_after_epoch: int | None = option(
        None,
        "a fixed schedule instead of plateaus: from this epoch on, multiply the "
        "learning rate by epoch_decay every epoch",
        minimum=1,
    )
    epoch_decay: float = option(
        0.5, "the fixed schedule's factor per epoch", minimum=1e-6, maximum=1
    )


@dataclass
class LMProgress(TrainingProgress):
    window: int = 0  # the next window of the current epoch


class LMTrainer(Trainer):
    """Trains MODEL on TRAIN_IDS, validating on VAL_IDS (may be empty), saving into FOLDER.

    Call ``restore`` to continue a checkpoint, then ``train``; see ``Trainer``.
    """

    task_name = "lm"

    def __init__(
        self,
        model: LanguageModel,
        tokenizer: Tokenizer,
        train_ids: np.ndarray,
        val_ids: np.ndarray,
        settings: LMSettings,
        folder: str | os.PathLike[str],
        info: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(model, settings, LMProgress(), folder, info)
        self.tokenizer = tokenizer
        self.val_ids = np.asarray(val_ids)
        self.batcher = StreamBatcher(train_ids, settings.batch_size, settings.seq_len)
        self.state: Any = None  # the hidden state carried into the next window

    def config(self) -> dict[str, Any]:
        return {
            **self.base_config(),
            "tokenizer": self.tokenizer.to_dict(),
        }

    def steps_per_epoch(self) -> int:
        return self.batcher.num_windows

    def extra_arrays(self) -> dict[str, dict[str, np.ndarray]]:
        if self.state is None:
            return {}
        states = self.state if isinstance(self.state, tuple) else (self.state,)
        return {"hidden_state": dict(zip("hc", states, strict=False))}

    def restore_extra(self, arrays: dict[str, dict[str, np.ndarray]]) -> None:
        hidden = arrays.get("hidden_state")
        if hidden is None:
            self.state = None
        elif self.model.cell == "lstm":
            self.state = (hidden["h"], hidden["c"])
        else:
            self.state = hidden["h"]

    def compute_step(self) -> tuple[float, int]:
        settings = self.settings
        if self.progress.window == 0 and settings.decay_after_epoch is not None:
            epoch = self.progress.epoch + 1
            exponent = max(epoch - settings.decay_after_epoch, 0)
            self.optimizer.lr = settings.lr * settings.epoch_decay**exponent
        inputs, targets = self.batcher.window(self.progress.window)
        loss, self._next_state = self.model.loss_and_backward(inputs, targets, self.state)
        return loss, targets.size

    def advance(self) -> None:
        progress = self.progress
        self.state = self._next_state
        progress.window += 1
        if progress.window == self.batcher.num_windows:
            progress.epoch += 1
            progress.window = 0
            self.state = None  # each epoch starts from a zero state

    def validate(self) -> dict[str, float] | None:
        if len(self.val_ids) == 0:
            return None
        report = measure_language_model(
            self.model,
            self.tokenizer,
            self.val_ids,
            self.settings.batch_size,
            self.settings.seq_len,
            max_tokens=self.settings.eval_tokens,
        )
        # The counts are the same at every evaluation: the log keeps the measures only.
        return {name: value for name, value in report.items() if name not in COUNTS}

    def describe(self, measures: dict[str, float]) -> str:
        return describe_measures(measures)

    def lower_lr_on_plateau(self, value: float, improved: bool | None = None) -> None:
        if self.plateaus_lower_lr():
            super().lower_lr_on_plateau(value, improved)

    def plateaus_lower_lr(self) -> bool:
        return self.settings.decay_after_epoch is None
