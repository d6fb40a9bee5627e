"""One run skeleton for every task: start or resume a run folder, train it under its
budget with a progress bar, stop cleanly on a signal.

    folder = new_run_folder(out, task)                 # or an existing run to resume
    with hold_run_lock(folder):                        # one writer per run folder
        trainer = start_run(task, config, folder)      # or resume_run(task, config, ...)
        outcome = train_run(task, trainer, fresh=True)

``new_run_folder`` only names the folder: ``start_run``, called under the lock, refuses
one that already holds a run (``RunExistsError``), so a second writer is told about the
first one's lock rather than about its checkpoint; ``resume_run`` rebuilds the
trainer from the run's saved settings with the CHANGEABLE ones the caller changed, and
restores the checkpoint. ``train_run`` does what every run does: the task's work before
the first checkpoint (pretraining), the budget (``max_steps``, ``max_time``, ``epochs``),
the progress bar, validation, best model, learning-rate schedule, EMA, checkpoints and
metrics (all in ``Trainer``), and SIGINT/SIGTERM/SIGHUP as a request to save and stop.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rnnkit.config import fixed_differences, keep_auto_choices, validate
from rnnkit.errors import SettingError, UserError
from rnnkit.plural import some_of
from rnnkit.train import distributed as mpi
from rnnkit.train.budget import Budget
from rnnkit.train.checkpoint import (
    CONFIG_FILE,
    Checkpoint,
    has_checkpoint,
    load_checkpoint,
    lost_config,
)
from rnnkit.train.interrupt import stop_on_interrupt
from rnnkit.train.progress import ProgressBar
from rnnkit.train.run_config import BEST_FOLDER, saved_config, saved_task
from rnnkit.train.settings import DEFAULT_SECONDS, TrainingSettings
from rnnkit.train.task import Task
from rnnkit.train.trainer import INTERRUPTED, Trainer


@dataclass
class Outcome:
    """How ``train_run`` ended: ``status`` 0, or 128 + the signal that stopped it.

    ``reason`` is why training stopped (a budget, an early stop, "interrupted"), or None
    when the budget was spent before this process took a step (``spent`` then says how,
    e.g. "reached max_steps 1000"); ``signal`` names the signal of an interruption
    (``SIGINT``, ...); ``before_first_checkpoint`` says that it came before anything was
    saved, while the task's ``before_training`` work (``Task.preparation`` names it).
    """

    status: int
    reason: str | None
    signal: str | None = None
    before_first_checkpoint: bool = False
    spent: str | None = None


class RunExistsError(UserError):
    """The folder given to a fresh run already holds a run (``folder``)."""

    def __init__(self, folder: Path) -> None:
        super().__init__(
            f"{folder} already holds a training run; resume it, or choose another run folder"
        )
        self.folder = folder


def new_run_folder(out: str | None, task: Task) -> Path:
    """OUT, or ``runs/<task>-<date>-<time>``: the folder of a fresh run, to lock (start_run
    refuses it, under the lock, if it already holds a run)."""
    return Path(out) if out else Path("runs") / time.strftime(f"{task.name}-%Y%m%d-%H%M%S")


def read_run(folder: Path, tasks: dict[str, Task]) -> tuple[Task, Any, Checkpoint]:
    """The task, saved settings and last checkpoint of the run in FOLDER."""
    task, checkpoint = read_run_task(folder, tasks)
    return task, saved_config(checkpoint, folder, task.config_class), checkpoint


def read_run_task(folder: Path, tasks: dict[str, Task]) -> tuple[Task, Checkpoint]:
    """The task and last checkpoint of the run in FOLDER, its settings not yet read."""
    if lost_config(folder):
        load_checkpoint(folder)  # says it is damaged: not "holds no training run"
    if not has_checkpoint(folder):
        problem = (
            "does not exist"
            if not folder.exists()
            else "holds no training run (no checkpoint)"
            if folder.is_dir()
            else "is a file, not a run folder"
        )
        raise UserError(f"{folder} {problem}; give the run folder that training wrote")
    checkpoint = load_checkpoint(folder)
    name = saved_task(checkpoint, folder)
    if name not in tasks:
        raise UserError(f"{folder} holds a run of task {name!r}, which this rnnkit does not know")
    return tasks[name], checkpoint


def build_trainer(task: Task, config: Any, folder: Path, checkpoint: Checkpoint | None) -> Trainer:
    """TASK's trainer (``build``) that runs with CONFIG, which config.json will hold."""
    trainer = task.build(config, folder, checkpoint)
    trainer.run_config = config
    return trainer


def start_run(task: Task, config: Any, folder: Path) -> Trainer:
    """A fresh run of TASK with CONFIG (checked first) into FOLDER."""
    if has_checkpoint(folder):
        raise RunExistsError(folder)
    best = folder / BEST_FOLDER
    if lost_config(folder) or lost_config(best) or has_checkpoint(best):
        # a run whose config.json was deleted (or weights of something else, which the
        # message names): a new run would mix its files (its log, its best model) with them
        found = sorted(p.name for p in folder.glob("*.safetensors")) or [BEST_FOLDER]
        raise UserError(
            f"{folder} holds the files of a damaged run or of something else "
            f"({some_of(found, 3)}, but no {CONFIG_FILE}); choose another run folder, or "
            "move those files out first"
        )
    validate(config)
    task.resolve_paths(config)
    check_ranks(task, config)
    resolve_budget(config.training)
    trainer = build_trainer(task, config, folder, None)
    if trainer.writer and trainer.metrics.path.exists():
        # the log of a run killed before its first checkpoint: nothing can resume it, and
        # appending to it would draw two runs as one learning curve
        trainer.metrics.path.unlink()
        trainer.notes.append(
            f"{trainer.metrics.path} held the records of an earlier run that saved no "
            "checkpoint; this run's replace them"
        )
    return trainer


def resume_run(
    task: Task, config: Any, saved: Any, checkpoint: Checkpoint, folder: Path
) -> Trainer:
    """The run in FOLDER, continued with CONFIG: SAVED with some CHANGEABLE settings changed.

    A change to any other setting is refused: it would make another run.
    """
    validate(config)
    task.resolve_paths(config)
    keep_auto_choices(saved, config)
    changed = fixed_differences(saved, config)
    if changed:
        name, old, new = changed[0]
        name = name.rsplit(".", 1)[-1]
        raise SettingError(
            f"{name} {new} differs from the run in {folder} ({name} {old}); leave it as it "
            "was to resume that run, or start a new run in another folder",
            name,
        )
    check_ranks(task, config)
    resolve_budget(config.training)
    trainer = build_trainer(task, config, folder, checkpoint)
    try:
        trainer.restore(checkpoint)
    except UserError:
        raise  # names what is wrong already
    except (KeyError, ValueError, TypeError, AttributeError) as error:
        raise UserError(
            f"the checkpoint in {folder} is damaged ({' '.join(str(error).split())}); "
            "start a new run"
        ) from None
    return trainer


def check_ranks(task: Task, config: Any) -> None:
    """Under mpiexec: refuse, before the data is read, a task or a batch the ranks cannot
    split (``rnnkit.train.distributed``)."""
    distributed = mpi.world()
    if distributed is not None:
        distributed.check(task.name, getattr(config.training, "batch_size", None))


def resolve_budget(settings: TrainingSettings) -> None:
    """Check the limits; with none at all, train for DEFAULT_SECONDS."""
    if settings.epochs is not None and settings.max_steps is not None:
        raise SettingError("epochs sets max_steps; give one of them, not both", "epochs")
    if settings.max_steps is None and settings.max_time is None and settings.epochs is None:
        settings.max_time = DEFAULT_SECONDS


def make_budget(trainer: Trainer) -> Budget:
    settings = trainer.settings
    max_steps = settings.max_steps
    if settings.epochs is not None:
        max_steps = settings.epochs * trainer.steps_per_epoch()
    return Budget(max_steps, settings.max_time, trainer.progress.elapsed)


def train_run(task: Task, trainer: Trainer, fresh: bool) -> Outcome:
    """Train TRAINER until its budget is spent or a signal asks it to stop (see module)."""
    with stop_on_interrupt() as stop:
        if fresh and not task.before_training(trainer, stop):
            return Outcome(stop.exit_status, INTERRUPTED, stop.signal_name, True)
        # The budget starts now: time spent before the first step (pretraining) is apart.
        budget = make_budget(trainer)
        trainer.budget = budget
        spent = budget.exhausted(trainer.progress.step)
        if spent:
            return Outcome(0, None, spent=spent)
        bar = ProgressBar(budget.max_steps, trainer.progress.step)
        try:
            reason = trainer.train(budget, stop, bar)
        finally:
            bar.close()
    if reason == INTERRUPTED:
        return Outcome(stop.exit_status, reason, stop.signal_name)
    return Outcome(0, reason)
