"""The training loop every trainer shares, whatever the model and the data.

A step: zero the gradients, let the subclass compute the loss and gradients of its next
batch, stop if the loss is not finite, clip the global gradient norm, take an optimizer
step, let the subclass move its data position on. Every ``eval_every`` steps: validate,
lower the learning rate on a plateau of the ``plateau_measure``, keep the best model, save
a checkpoint. The loop ends when the ``Budget`` is spent, a ``StopRequest`` (Ctrl-C)
comes or validation has stopped improving (``stopped_early``: ``early_stop``,
``stop_lr_ratio``), with a final checkpoint.

A subclass provides::

    compute_step() -> (loss, tokens)   loss and gradients of the next batch (gradients are
                                       zeroed before); tokens read (or the ``speed_unit``
                                       it counts), for the speed shown
    advance()                          move the data position past that batch
    validate() -> dict | None          measures on the validation data, "loss" among them;
                                       None when there is no validation data
    describe(measures) -> str          one line for the log, e.g. "loss 1.23 (1.77 bits/char)"
    config() -> dict                   config.json, built on ``base_config()``

and may set ``watched`` (the measure that decides "best" and, by default, the plateau;
default "loss"), ``higher_is_better`` and ``tie_breaker`` (a measure that decides between
equal watched values), override ``plateau_measure`` to lower the
learning rate on another measure, ``extra_arrays`` / ``restore_extra`` to keep more state
in the checkpoint, and ``lower_lr_on_plateau`` for another schedule (with
``plateaus_lower_lr`` False for a fixed one, whose low rates say nothing of validation).

The run folder::

    DIR/config.json, DIR/<group>.safetensors    the last checkpoint (``checkpoint``): the
                                                model, the optimizer with the scheduler's
                                                state, and any ``extra_arrays``
    DIR/ema.safetensors                         with ``ema``: the averaged weights, which
                                                validation measures and best/ keeps
    DIR/best/config.json, model.safetensors     the best model so far (without validation
                                                data: the last model, saved at the end)
    DIR/metrics.jsonl                           training and validation records
    DIR/learning_curve.png                      if matplotlib is installed: drawn at the
                                                first validation, then at most a tenth of
                                                the run's time (a drawing takes ~0.3 s),
                                                and at the end

Exact resume: a checkpoint holds the weights (and their average), optimizer and scheduler
state, the RNG state and the ``progress`` (a dataclass: step, data position, best measures,
elapsed time), so N steps, a stop and N more steps give the same weights as 2N steps in
one go. The evaluation at the end of a run, off the ``eval_every`` schedule, is reported
and may update ``best/`` but leaves the learning-rate schedule alone, so stopping does not
change the run.
"""

from __future__ import annotations

import math
import os
import sys
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np

from rnnkit.config import ConfigError, to_dict, validate
from rnnkit.errors import SettingError, UserError
from rnnkit.optim import ReduceLROnPlateau, clip_grad_norm, decay_factor
from rnnkit.train import distributed as mpi
from rnnkit.train.averaging import averaged_weights, restored_average, update_average
from rnnkit.train.budget import Budget
from rnnkit.train.checkpoint import Checkpoint, load_weights_into, save_checkpoint
from rnnkit.train.interrupt import StopRequest
from rnnkit.train.metrics import MetricsLog
from rnnkit.train.optimizers import make_optimizer
from rnnkit.train.plot import plot_learning_curve
from rnnkit.train.progress import ProgressBar
from rnnkit.train.rng import restore_rng, rng_state
from rnnkit.train.run_config import (
    BEST_FOLDER,
    RUN_FORMAT,
    RUN_VERSION,
    damaged,
    saved_progress,
)
from rnnkit.train.settings import TrainingSettings

METRICS_FILE = "metrics.jsonl"
PLOT_FILE = "learning_curve.png"
# The learning curve is redrawn once at least this many drawings' time has passed since the
# last: on a small data set validated every step, drawing at every validation took 80% of
# the run.
CURVE_SPACING = 10
SCHEDULER_PREFIX = "scheduler."  # the scheduler's state rides in optimizer.safetensors
AVERAGE_GROUP = "ema"  # the averaged weights' file in a checkpoint: ema.safetensors
INTERRUPTED = "interrupted"
CONVERGED = "converged"  # how a stop by stop_lr_ratio begins


@dataclass
class TrainingProgress:
    """Where a run is; saved in config.json. Subclasses add their data position."""

    step: int = 0
    epoch: int = 0  # completed passes over the training data
    tokens: int = 0  # training tokens read so far
    elapsed: float = 0.0  # seconds of training, over every process of the run
    val: dict[str, float] | None = None  # the latest validation measures
    val_step: int | None = None
    best: dict[str, float] | None = None  # the measures of the best model so far
    best_step: int | None = None


@dataclass
class TrainingRun:
    """The settings of a run that is no task's: training settings alone."""

    training: TrainingSettings


class TrainingDivergedError(UserError):
    """The loss (or a weight) stopped being a finite number."""


def check_settings(settings: TrainingSettings) -> None:
    """Raise ``ConfigError`` naming the first setting no run can use (``eval_every`` must
    be resolved from the task's default by now)."""
    validate(settings)
    if settings.eval_every is None:
        raise ConfigError("eval_every", "must be set before training")
    if settings.lr_decay != "none" and settings.max_steps is None and settings.epochs is None:
        raise SettingError(
            f"lr_decay {settings.lr_decay} needs max_steps or epochs: the steps to lower the "
            "learning rate over (a time limit alone does not say how many there will be)",
            "lr_decay",
            "max_steps",
            "epochs",
        )


class Trainer:
    """The shared loop; see the module docstring for what a subclass adds.

    MODEL has ``params``, ``grads``, ``zero_grad``, ``train``/``eval``, ``state_dict``,
    ``load_state_dict`` and ``rng`` (the generator of its dropout masks). PROGRESS is the
    subclass's ``TrainingProgress``. ``info`` is JSON-ready data stored in config.json as it
    is (the command line keeps the data source, the budget and the seed there).
    """

    watched = "loss"
    higher_is_better = False
    # A measure (lower is better) that decides between evaluations whose watched values
    # are equal, for the best model and for a plateau of the watched measure; None: a tie
    # is no improvement.
    tie_breaker: str | None = None
    task_name = ""
    speed_unit = "tokens"  # what compute_step counts, for the speed shown ("tokens/s")

    def __init__(
        self,
        model: Any,
        settings: TrainingSettings,
        progress: TrainingProgress,
        folder: str | os.PathLike[str],
        info: dict[str, Any] | None = None,
    ) -> None:
        check_settings(settings)
        self.model = model
        self.settings = settings
        self.progress = progress
        self.folder = Path(folder)
        self.info = dict(info or {})
        # The task's whole settings (data, model, training), saved in config.json; the
        # task sets it, and a trainer used on its own describes its data by default.
        self.run_config: Any = self.default_run_config()
        self.optimizer = make_optimizer(
            settings.optimizer, model.params, model.grads, settings.lr, settings.weight_decay
        )
        # plateau_measure() may read self.settings, which is set by now.
        _, plateau_higher_is_better = self.plateau_measure()
        self.scheduler = ReduceLROnPlateau(
            self.optimizer,
            factor=settings.plateau_factor,
            patience=settings.patience_in_evaluations(settings.plateau_patience),
            mode="max" if plateau_higher_is_better else "min",
        )
        # The averaged weights (ema > 0), or None. Step 1 overwrites this starting value.
        self.average = model.state_dict() if settings.ema > 0 else None
        self.metrics = MetricsLog(self.folder / METRICS_FILE)
        self.notes: list[str] = []  # lines for the user about how the run was set up
        self.saved_step: int | None = None
        self.budget: Budget | None = None
        self.bar: ProgressBar | None = None
        self._recent_losses: list[float] = []
        self._seconds_per_step: float | None = None
        self._validation_seconds = 0.0  # the last validation's, reserved from max_time
        self._curve_due = False  # validations not in the learning curve's picture yet
        self._curve_drawn_at: float | None = None  # perf_counter() after the last drawing
        self._curve_seconds = 0.0  # how long the last drawing took
        # Piped or redirected output has no bar to watch: print a line per log_every.
        self.print_log_lines = not sys.stderr.isatty()
        # Under mpiexec with several ranks: this rank's part (rnnkit.train.distributed).
        self.distributed = mpi.world()
        self.writer = self.distributed is None or self.distributed.rank == 0
        if self.distributed is not None:
            self.distributed.check(self.task_name, getattr(settings, "batch_size", None))

    # -- what subclasses provide -------------------------------------------------------------

    def default_run_config(self) -> Any:
        """The task's settings dataclass for this model and these training settings."""
        return TrainingRun(self.settings)

    def compute_step(self) -> tuple[float, int]:
        raise NotImplementedError

    def advance(self) -> None:
        raise NotImplementedError

    def validate(self) -> dict[str, float] | None:
        raise NotImplementedError

    def describe(self, measures: dict[str, float]) -> str:
        raise NotImplementedError

    def config(self) -> dict[str, Any]:
        return self.base_config()

    def extra_arrays(self) -> dict[str, dict[str, np.ndarray]]:
        """Array groups to checkpoint besides the model and the optimizer."""
        return {}

    def restore_extra(self, arrays: dict[str, dict[str, np.ndarray]]) -> None:
        """Take back what ``extra_arrays`` saved (a group may be missing)."""

    def plateau_measure(self) -> tuple[str, bool]:
        """The measure whose plateau lowers the learning rate, and whether higher is better."""
        return self.watched, self.higher_is_better

    def lower_lr_on_plateau(self, value: float, improved: bool | None = None) -> None:
        """Called with the ``plateau_measure`` after each scheduled evaluation; IMPROVED,
        when a ``tie_breaker`` judges the plateau of the watched measure, is the best
        model's verdict, which the schedule then follows instead of VALUE."""
        if improved is None:
            self.scheduler.step(value)
        else:
            self.scheduler.step_judged(improved)

    def better(self, measures: dict[str, float], best: dict[str, float]) -> bool:
        """Whether MEASURES beat BEST: by the watched measure in its direction, and where
        the two are equal, by a lower ``tie_breaker`` (when the task has one)."""
        value, previous = measures[self.watched], best[self.watched]
        if value != previous:
            return value > previous if self.higher_is_better else value < previous
        tie = self.tie_breaker
        return tie is not None and tie in best and measures[tie] < best[tie]

    # -- checkpoints -------------------------------------------------------------------------

    def base_config(self) -> dict[str, Any]:
        """The task and its settings, ``info``, progress (with the current learning rate)
        and RNG state (see ``rnnkit.train.run_config``)."""
        return {
            "format": RUN_FORMAT,
            "version": RUN_VERSION,
            "task": self.task_name,
            "config": to_dict(self.run_config),
            **self.info,
            "progress": {**asdict(self.progress), "lr": self.optimizer.lr},
            "rng": rng_state(self.model.rng),
        }

    def save(self) -> None:
        """Save the last checkpoint (refusing weights that are no longer finite)."""
        for name, value in self.model.params.items():
            if not np.all(np.isfinite(value)):
                raise self.diverged(self.progress.step, f"weight {name} is no longer finite")
        optimizer_state = self.optimizer.state_dict()
        for key, value in self.scheduler.state_dict().items():
            optimizer_state[SCHEDULER_PREFIX + key] = np.array(value)
        extra = self.extra_arrays()
        if self.distributed is not None:  # every rank's part of it (a collective)
            extra = self.distributed.full_arrays(extra, self.settings.batch_size)
        arrays = {"model": self.model.state_dict(), "optimizer": optimizer_state, **extra}
        if self.average is not None:
            arrays[AVERAGE_GROUP] = self.average
        self.progress.elapsed = self.elapsed()
        if self.writer:
            save_checkpoint(self.folder, self.config(), arrays)
        self.saved_step = self.progress.step

    def save_best(self) -> None:
        """Save the weights just validated: the average with ``ema``, else the raw ones."""
        if not self.writer:
            return
        weights = self.model.state_dict() if self.average is None else self.average
        save_checkpoint(self.folder / BEST_FOLDER, self.config(), {"model": weights})

    def restore(self, checkpoint: Checkpoint) -> None:
        """Continue from CHECKPOINT (of this architecture and these settings).

        Raises UserError when its weights do not fit the model (naming the settings in
        config.json), KeyError or ValueError when the rest of it does not fit.
        """
        arrays = checkpoint.arrays
        load_weights_into(self.model, checkpoint, self.folder)
        saved = arrays["optimizer"]
        scheduler = {k: v for k, v in saved.items() if k.startswith(SCHEDULER_PREFIX)}
        self.optimizer.load_state_dict({k: v for k, v in saved.items() if k not in scheduler})
        self.scheduler.load_state_dict(
            {k.removeprefix(SCHEDULER_PREFIX): v for k, v in scheduler.items()}
        )
        self.progress = saved_progress(checkpoint, self.folder, type(self.progress))
        self.check_position()
        restore_rng(self.model.rng, checkpoint.config["rng"])
        # The settings a resume may change take effect now (the scheduler's own state
        # came back with the old values).
        if self.settings.lr != checkpoint.config["config"]["training"]["lr"]:
            self.optimizer.lr = self.settings.lr
        self.scheduler.patience = self.settings.patience_in_evaluations(
            self.settings.plateau_patience
        )
        if self.average is not None:
            self.average = restored_average(self.average, arrays[AVERAGE_GROUP])
        self.restore_extra(arrays)
        self.saved_step = self.progress.step
        # A run killed after its last checkpoint logged steps that will now be redone.
        if self.writer and self.metrics.path.exists():
            self.metrics.truncate_after(self.progress.step)

    def check_position(self) -> None:
        """Refuse a restored data position past the end of an epoch (an edited config.json).

        The fields a subclass adds to ``TrainingProgress`` are its position within the
        current epoch (the next window or batch), below ``steps_per_epoch()``.
        """
        per_epoch = getattr(self, "steps_per_epoch", None)
        if per_epoch is None:
            return
        per_epoch = per_epoch()
        shared = {field.name for field in fields(TrainingProgress)}
        for field in fields(self.progress):
            value = getattr(self.progress, field.name)
            if field.name not in shared and isinstance(value, int) and value >= per_epoch:
                raise damaged(
                    self.folder,
                    f"progress.{field.name} {value} is past the end of an epoch of "
                    f"{per_epoch} steps",
                )

    def diverged(self, step: int, what: str) -> TrainingDivergedError:
        kept = (
            f"the last good checkpoint (step {self.saved_step}) is kept in {self.folder}"
            if self.saved_step is not None
            else "no checkpoint was saved"
        )
        return TrainingDivergedError(
            f"training diverged at step {step}: {what}; stopped, {kept}; lower lr or set clip"
        )

    def elapsed(self) -> float:
        """Seconds the run has trained, over all its processes."""
        return self.budget.elapsed if self.budget is not None else self.progress.elapsed

    # -- the loop ----------------------------------------------------------------------------

    def train(
        self, budget: Budget, stop: StopRequest | None = None, bar: ProgressBar | None = None
    ) -> str:
        """Train until BUDGET runs out or STOP is requested; return why it stopped.

        The reason is the budget's (e.g. ``"reached max_steps 1000"``), the early stop's,
        or ``"interrupted"``. A checkpoint is saved before returning. Raises
        ``TrainingDivergedError`` when the loss turns NaN or infinite, without saving.
        """
        stop = stop or StopRequest()
        self.budget, self.bar = budget, bar if self.writer else None
        if self.distributed is not None:
            self.distributed.attach(self)
        try:
            return self._train(budget, stop)
        except KeyboardInterrupt:
            # A second signal leaves this rank at once, wherever it was; its partners would
            # wait for it in their next collective, so the whole job ends with it.
            if self.distributed is not None:
                self.distributed.abandon(stop.exit_status)
            raise
        finally:
            if self.distributed is not None:
                self.distributed.detach(self)

    def _train(self, budget: Budget, stop: StopRequest) -> str:
        if self.saved_step is None:
            self.save()  # step 0: so there is a good checkpoint whatever happens next
        self.model.train()
        # Overflow in a diverging run is caught by the loss check, not by warnings.
        with np.errstate(over="ignore", invalid="ignore"):
            while True:
                reason = budget.exhausted(self.progress.step, self._validation_seconds)
                if reason is None and stop.requested:
                    reason = INTERRUPTED
                if reason is None:
                    reason = self.stopped_early()
                # Under MPI every rank takes the step or none does.
                distributed = self.distributed
                if distributed is not None and distributed.agree_to_stop(
                    reason, reason == INTERRUPTED
                ):
                    reason = reason or "another rank stopped"
                if reason is not None:
                    break
                self._step()
                step = self.progress.step
                evaluated = step % self.settings.eval_every == 0
                if evaluated:
                    self._evaluate(scheduled=True)
                save_every = self.settings.save_every
                if (evaluated and save_every is None) or (save_every and step % save_every == 0):
                    self.save()
            if reason != INTERRUPTED and self.progress.val_step != self.progress.step:
                self._evaluate(scheduled=False)
        if self.saved_step != self.progress.step:
            self.save()
        self._draw_curve(final=True)
        return reason

    def _draw_curve(self, final: bool) -> None:
        """Redraw ``learning_curve.png`` if validations came since the last drawing and, unless
        FINAL, CURVE_SPACING drawings' time has passed since it."""
        if not self._curve_due or not self.writer:
            return
        now = time.perf_counter()
        since = None if self._curve_drawn_at is None else now - self._curve_drawn_at
        if not final and since is not None and since < CURVE_SPACING * self._curve_seconds:
            return
        plot_learning_curve(self.metrics.read(), self.folder / PLOT_FILE, title=self.folder.name)
        self._curve_drawn_at = time.perf_counter()
        self._curve_seconds = self._curve_drawn_at - now
        self._curve_due = False

    def stopped_early(self) -> str | None:
        """Why the run stops early (``early_stop`` steps without a better validation, or a
        learning rate that plateaus lowered below ``stop_lr_ratio`` of its start)."""
        patience, progress = self.settings.early_stop, self.progress
        ratio = self.settings.stop_lr_ratio
        if ratio > 0 and self.plateaus_lower_lr() and self.optimizer.lr < ratio * self.settings.lr:
            return (
                f"{CONVERGED}: plateaus lowered the learning rate to {self.optimizer.lr:.3g}, "
                f"below stop_lr_ratio {ratio:g} of its start"
            )
        if patience is None or progress.best_step is None or progress.val_step is None:
            return None
        if progress.val_step - progress.best_step >= patience:
            return f"early stop: no better validation for {patience} steps"
        return None

    def plateaus_lower_lr(self) -> bool:
        """Whether the learning rate falls on plateaus of validation (not a fixed schedule),
        so that a rate far below its start means validation has long stopped improving."""
        return True

    def _step(self) -> None:
        started = time.perf_counter()
        self.model.zero_grad()
        loss, tokens = self.compute_step()
        if self.distributed is not None:  # the mean gradient and loss of the global batch
            loss = self.distributed.average_gradients(self.model.grads, loss)
        if not math.isfinite(loss):
            raise self.diverged(self.progress.step + 1, f"the loss became {loss}")
        if self.settings.clip > 0:
            clip_grad_norm(self.model.grads, self.settings.clip)
        base = self.optimizer.lr  # what plateaus lower, saved with the optimizer
        self.optimizer.lr = self.current_lr()
        try:
            self.optimizer.step()
        finally:
            self.optimizer.lr = base
        self.progress.step += 1
        if self.average is not None:
            update_average(self.average, self.model.params, self.settings.ema, self.progress.step)
        self.progress.tokens += tokens
        self.advance()
        self._log_step(loss, tokens, time.perf_counter() - started)

    def current_lr(self) -> float:
        """The learning rate of the next step: the optimizer's, which plateaus lower, times
        the ``lr_decay`` factor at this step (``decay_factor``)."""
        kind = self.settings.lr_decay
        if kind == "none":
            return self.optimizer.lr
        return self.optimizer.lr * decay_factor(kind, self.progress.step, self.decay_steps())

    def decay_steps(self) -> int:
        """The steps ``lr_decay`` spans: ``max_steps``, or ``epochs`` of steps, the fewer."""
        totals = [] if self.settings.max_steps is None else [self.settings.max_steps]
        per_epoch = getattr(self, "steps_per_epoch", None)
        if self.settings.epochs is not None and per_epoch is not None:
            totals.append(self.settings.epochs * per_epoch())
        return max(1, min(totals))

    def _log_step(self, loss: float, tokens: int, seconds: float) -> None:
        if not self.writer:
            return
        self._recent_losses.append(loss)
        # A moving average, so the speed and time left do not jump about.
        previous = self._seconds_per_step
        self._seconds_per_step = seconds if previous is None else 0.9 * previous + 0.1 * seconds
        step = self.progress.step
        tokens_per_second = tokens / max(self._seconds_per_step, 1e-9)
        if self.bar is not None and self.budget is not None:
            eta = self.budget.eta(step, self._seconds_per_step)
            self.bar.update(step, loss, tokens_per_second, eta, self.speed_unit)
        if step % self.settings.log_every == 0:
            record = {
                "step": step,
                "epoch": self.progress.epoch,
                "train_loss": float(np.mean(self._recent_losses)),
                "lr": self.current_lr(),
                "tokens_per_second": round(tokens_per_second, 1),
                "elapsed": round(self.elapsed(), 3),
            }
            self.metrics.append(record)
            self._recent_losses = []
            if self.print_log_lines and self.bar is not None:
                self.bar.write(
                    f"step {step}: training loss {record['train_loss']:.4f}, "
                    f"{tokens_per_second:,.0f} {self.speed_unit}/s, lr {self.current_lr():.3g}"
                )

    def _evaluate(self, scheduled: bool) -> None:
        started = time.perf_counter()
        with averaged_weights(self.model, self.average):
            measures = self.validate()
        self._validation_seconds = time.perf_counter() - started
        if measures is None:
            if not scheduled:  # no validation to choose by: the model is the last one
                self.save_best()
            return
        progress = self.progress
        if not math.isfinite(measures["loss"]):
            raise self.diverged(progress.step, f"the validation loss became {measures['loss']}")
        progress.val, progress.val_step = measures, progress.step
        best = progress.best
        improved = best is None or self.better(measures, best)
        if scheduled:
            plateau_name, _ = self.plateau_measure()
            judged = self.tie_breaker is not None and plateau_name == self.watched
            self.lower_lr_on_plateau(measures[plateau_name], improved if judged else None)
        if improved:
            progress.best, progress.best_step = measures, progress.step
            self.save_best()
        if not self.writer:
            return
        self.metrics.append(
            {
                "step": progress.step,
                "epoch": progress.epoch,
                **{f"val_{name}": number for name, number in measures.items()},
                "lr": self.current_lr(),
                "elapsed": round(self.elapsed(), 3),
            }
        )
        self._curve_due = True
        self._draw_curve(final=False)
        if self.bar is not None:
            self.bar.write(
                f"step {progress.step}: validation "
                f"{self.describe(measures)}{' (best so far)' if improved else ''}, "
                f"lr {self.current_lr():.3g}"
            )
