"""Training a ``LanguageModel`` with truncated BPTT, and resuming it exactly.

One step trains on one window of ``StreamBatcher``: the mean cross-entropy over every
position, gradients clipped to a global norm, one optimizer step. The hidden state flows
from window to window and starts from zeros at each epoch. Every ``eval_every`` steps
the model is measured on the validation stream, the learning rate is lowered when that
stops improving (``ReduceLROnPlateau``, or a fixed per-epoch decay), the best model so far
is kept and a checkpoint is saved.

The run folder::

    DIR/config.json                 the last checkpoint: architecture, tokenizer with its
    DIR/model.safetensors           vocabulary, settings, step, data position, RNG state,
    DIR/optimizer.safetensors       best validation loss, learning rate, elapsed time;
    DIR/hidden_state.safetensors    optimizer (and scheduler) state; the carried state
    DIR/best/config.json            the model with the best validation loss so far
    DIR/best/model.safetensors      (what ``rnnkit sample`` and ``rnnkit eval`` use)
    DIR/metrics.jsonl               one record per log interval and per evaluation
    DIR/learning_curve.png          training and validation loss (if matplotlib is there)

A resumed run restores every piece of that state, so N steps, a stop, and N more steps
give the same weights, bit for bit, as 2N steps in one go. An evaluation that is not on
the ``eval_every`` schedule (the one at the end of a run) is reported and may update
``best/``, but does not touch the learning-rate schedule, so stopping does not change
the run either.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np

from rnnkit.data.lm_batches import StreamBatcher
from rnnkit.data.tokenizers import Tokenizer
from rnnkit.errors import UserError
from rnnkit.models import LanguageModel
from rnnkit.optim import ReduceLROnPlateau, clip_grad_norm
from rnnkit.train.budget import Budget
from rnnkit.train.checkpoint import Checkpoint, save_checkpoint
from rnnkit.train.interrupt import StopRequest
from rnnkit.train.lm_evaluation import describe_loss, evaluate_language_model, loss_measures
from rnnkit.train.metrics import MetricsLog
from rnnkit.train.optimizers import make_optimizer
from rnnkit.train.plot import plot_learning_curve
from rnnkit.train.progress import ProgressBar
from rnnkit.train.rng import restore_rng, rng_state

FORMAT = "rnnkit.language_model"
BEST_FOLDER = "best"
METRICS_FILE = "metrics.jsonl"
PLOT_FILE = "learning_curve.png"
LOG_EVERY = 10  # steps per training record in metrics.jsonl
SCHEDULER_PREFIX = "scheduler."  # the scheduler's state rides in optimizer.safetensors
INTERRUPTED = "interrupted"


@dataclass
class LMSettings:
    """How to train; saved in config.json and fixed for the life of a run.

    ``clip`` 0 means no clipping. The learning rate is halved (``plateau_factor``) when
    the validation loss has not improved for more than ``plateau_patience`` evaluations,
    unless ``decay_after_epoch`` is set: then, as in Zaremba et al. (2014), epoch ``e``
    (counted from 1) trains at ``lr * epoch_decay ** max(e - decay_after_epoch, 0)``.
    """

    batch_size: int = 32
    seq_len: int = 64
    lr: float = 2e-3
    optimizer: str = "adam"
    clip: float = 5.0
    eval_every: int = 250
    plateau_factor: float = 0.5
    plateau_patience: int = 1
    decay_after_epoch: int | None = None
    epoch_decay: float = 0.5


@dataclass
class LMProgress:
    """Where a run is; saved in config.json and restored on resume."""

    step: int = 0
    epoch: int = 0  # completed passes over the training stream
    window: int = 0  # the next window of the current epoch
    tokens: int = 0  # training tokens predicted so far
    elapsed: float = 0.0  # seconds of training, over every process of the run
    best_val_loss: float | None = None
    best_step: int | None = None
    val_loss: float | None = None  # the latest evaluation
    val_step: int | None = None


class TrainingDivergedError(UserError):
    """The loss (or a weight) stopped being a finite number."""


def check_settings(settings: LMSettings) -> None:
    """Raise ``UserError`` for settings no run can use."""
    for name in ("batch_size", "seq_len", "eval_every"):
        if getattr(settings, name) < 1:
            flag = "--" + name.replace("_", "-")
            raise UserError(f"{flag} must be at least 1, got {getattr(settings, name)}")
    if not settings.lr > 0 or not math.isfinite(settings.lr):
        raise UserError(f"--lr must be a positive number, got {settings.lr}")
    if not settings.clip >= 0:
        raise UserError(f"--clip must be 0 (no clipping) or positive, got {settings.clip}")


class LMTrainer:
    """Trains MODEL on TRAIN_IDS, evaluating on VAL_IDS (may be empty), saving into FOLDER.

    ``info`` is JSON-ready data stored in config.json as it is (the command line keeps the
    data source, the budget and the seed there). Call ``restore`` to continue a
    checkpoint, then ``train``.
    """

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
        check_settings(settings)
        self.model = model
        self.tokenizer = tokenizer
        self.val_ids = np.asarray(val_ids)
        self.settings = settings
        self.folder = Path(folder)
        self.info = dict(info or {})
        self.batcher = StreamBatcher(train_ids, settings.batch_size, settings.seq_len)
        self.optimizer = make_optimizer(settings.optimizer, model.params, model.grads, settings.lr)
        self.scheduler = ReduceLROnPlateau(
            self.optimizer, factor=settings.plateau_factor, patience=settings.plateau_patience
        )
        self.progress = LMProgress()
        self.state: Any = None  # the hidden state carried into the next window
        self.metrics = MetricsLog(self.folder / METRICS_FILE)
        self.saved_step: int | None = None
        self._window_losses: list[float] = []
        self._window_tokens = 0
        self._seconds_per_step: float | None = None

    # -- checkpoints -------------------------------------------------------------------------

    def config(self) -> dict[str, Any]:
        """Everything config.json records about this run, as of now."""
        return {
            "format": FORMAT,
            "model": self.model.config(),
            "tokenizer": self.tokenizer.to_dict(),
            "settings": asdict(self.settings),
            **self.info,
            "progress": {**asdict(self.progress), "lr": self.optimizer.lr},
            "rng": rng_state(self.model.rng),
        }

    def save(self) -> None:
        """Save the last checkpoint (refusing weights that are no longer finite)."""
        self._check_finite_weights()
        optimizer_state = self.optimizer.state_dict()
        for key, value in self.scheduler.state_dict().items():
            optimizer_state[SCHEDULER_PREFIX + key] = np.array(value)
        arrays = {"model": self.model.state_dict(), "optimizer": optimizer_state}
        if self.state is not None:
            arrays["hidden_state"] = dict(zip("hc", _state_arrays(self.state), strict=False))
        self.progress.elapsed = self._elapsed()
        save_checkpoint(self.folder, self.config(), arrays)
        self.saved_step = self.progress.step

    def restore(self, checkpoint: Checkpoint) -> None:
        """Continue from CHECKPOINT (of this architecture and these settings)."""
        arrays = checkpoint.arrays
        self.model.load_state_dict(arrays["model"])
        optimizer_state = {
            k: v for k, v in arrays["optimizer"].items() if not k.startswith(SCHEDULER_PREFIX)
        }
        self.optimizer.load_state_dict(optimizer_state)
        self.scheduler.load_state_dict(
            {
                k.removeprefix(SCHEDULER_PREFIX): v
                for k, v in arrays["optimizer"].items()
                if k.startswith(SCHEDULER_PREFIX)
            }
        )
        saved = checkpoint.config["progress"]
        self.progress = LMProgress(**{f.name: saved[f.name] for f in fields(LMProgress)})
        restore_rng(self.model.rng, checkpoint.config["rng"])
        hidden = arrays.get("hidden_state")
        if hidden is None:
            self.state = None
        elif self.model.cell == "lstm":
            self.state = (hidden["h"], hidden["c"])
        else:
            self.state = hidden["h"]
        self.saved_step = self.progress.step
        # A run killed after its last checkpoint logged steps that will now be redone.
        if self.metrics.path.exists():
            self.metrics.truncate_after(self.progress.step)

    def _save_best(self) -> None:
        save_checkpoint(
            self.folder / BEST_FOLDER, self.config(), {"model": self.model.state_dict()}
        )

    def _check_finite_weights(self) -> None:
        for name, value in self.model.params.items():
            if not np.all(np.isfinite(value)):
                raise self._diverged(self.progress.step, f"weight {name} is no longer finite")

    def _diverged(self, step: int, what: str) -> TrainingDivergedError:
        kept = (
            f"the last good checkpoint (step {self.saved_step}) is kept in {self.folder}"
            if self.saved_step is not None
            else "no checkpoint was saved"
        )
        return TrainingDivergedError(
            f"training diverged at step {step}: {what}; stopped, {kept}; lower --lr or set --clip"
        )

    # -- the loop ----------------------------------------------------------------------------

    def train(
        self, budget: Budget, stop: StopRequest | None = None, bar: ProgressBar | None = None
    ) -> str:
        """Train until BUDGET runs out or STOP is requested; return why it stopped.

        The reason is the budget's (e.g. ``"reached --max-steps 1000"``) or
        ``"interrupted"``. A checkpoint is saved before returning. Raises
        ``TrainingDivergedError`` when the loss turns NaN or infinite, without saving.
        """
        stop = stop or StopRequest()
        self._budget = budget
        self._bar = bar
        if self.saved_step is None:
            self.save()  # step 0: so there is a good checkpoint whatever happens next
        self.model.train()
        # Overflow in a diverging run is caught by the loss check below, not by warnings.
        with np.errstate(over="ignore", invalid="ignore"):
            while True:
                reason = budget.exhausted(self.progress.step)
                if reason is None and stop.requested:
                    reason = INTERRUPTED
                if reason is not None:
                    break
                self._train_step()
                if self.progress.step % self.settings.eval_every == 0:
                    self._evaluate(scheduled=True)
                    self.save()
            if reason != INTERRUPTED and self.progress.val_step != self.progress.step:
                self._evaluate(scheduled=False)
        if self.saved_step != self.progress.step:
            self.save()
        return reason

    def _train_step(self) -> None:
        if self.progress.window == 0:
            self._start_epoch()
        started = time.perf_counter()
        inputs, targets = self.batcher.window(self.progress.window)
        self.model.zero_grad()
        loss, state = self.model.loss_and_backward(inputs, targets, self.state)
        if not math.isfinite(loss):
            raise self._diverged(self.progress.step + 1, f"the loss became {loss}")
        if self.settings.clip > 0:
            clip_grad_norm(self.model.grads, self.settings.clip)
        self.optimizer.step()

        progress = self.progress
        self.state = state
        progress.step += 1
        progress.tokens += targets.size
        progress.window += 1
        if progress.window == self.batcher.num_windows:
            progress.epoch += 1
            progress.window = 0
            self.state = None  # each epoch starts from a zero state
        self._log_step(loss, targets.size, time.perf_counter() - started)

    def _start_epoch(self) -> None:
        after = self.settings.decay_after_epoch
        if after is not None:
            epoch = self.progress.epoch + 1
            self.optimizer.lr = self.settings.lr * self.settings.epoch_decay ** max(
                epoch - after, 0
            )

    def _log_step(self, loss: float, tokens: int, seconds: float) -> None:
        self._window_losses.append(loss)
        self._window_tokens += tokens
        # A moving average, so the speed and time left do not jump about.
        previous = self._seconds_per_step
        self._seconds_per_step = seconds if previous is None else 0.9 * previous + 0.1 * seconds
        step = self.progress.step
        tokens_per_second = tokens / max(self._seconds_per_step, 1e-9)
        if self._bar is not None:
            eta = self._budget.eta(step, self._seconds_per_step)
            self._bar.update(step, loss, tokens_per_second, eta)
        if step % LOG_EVERY == 0:
            self.metrics.append(
                {
                    "step": step,
                    "epoch": self.progress.epoch,
                    "train_loss": float(np.mean(self._window_losses)),
                    "lr": self.optimizer.lr,
                    "tokens_per_second": round(tokens_per_second, 1),
                    "elapsed": round(self._elapsed(), 3),
                }
            )
            self._window_losses = []

    def _evaluate(self, scheduled: bool) -> None:
        progress = self.progress
        if len(self.val_ids) == 0:
            return
        loss, _ = evaluate_language_model(
            self.model, self.val_ids, self.settings.batch_size, self.settings.seq_len
        )
        if not math.isfinite(loss):
            raise self._diverged(progress.step, f"the validation loss became {loss}")
        progress.val_loss, progress.val_step = loss, progress.step
        if scheduled and self.settings.decay_after_epoch is None:
            self.scheduler.step(loss)
        improved = progress.best_val_loss is None or loss < progress.best_val_loss
        if improved:
            progress.best_val_loss, progress.best_step = loss, progress.step
            self._save_best()
        measures = loss_measures(loss, self.tokenizer.kind)
        self.metrics.append(
            {
                "step": progress.step,
                "epoch": progress.epoch,
                **{f"val_{name}": value for name, value in measures.items()},
                "lr": self.optimizer.lr,
                "elapsed": round(self._elapsed(), 3),
            }
        )
        plot_learning_curve(self.metrics.read(), self.folder / PLOT_FILE, title=self.folder.name)
        if self._bar is not None:
            best = " (best so far)" if improved else ""
            self._bar.write(
                f"step {progress.step}: validation {describe_loss(loss, self.tokenizer.kind)}"
                f"{best}, lr {self.optimizer.lr:.3g}"
            )

    def _elapsed(self) -> float:
        budget = getattr(self, "_budget", None)
        return budget.elapsed if budget is not None else self.progress.elapsed


def _state_arrays(state: Any) -> tuple[np.ndarray, ...]:
    return tuple(state) if isinstance(state, tuple) else (state,)
