"""``rnnkit train``: train a model for a task, or resume a run exactly.

``--task`` chooses the task (``lm``, the default: a language model on a text; ``classify``:
a classifier on labelled texts); its flags are made from the task's settings
(``rnnkit train --task classify --help`` lists them). ``--resume --out DIR`` continues the
run in DIR with its own settings: flags may change the budget, the learning rate,
clipping, frequencies and patience, and any other flag that contradicts the run is
refused. ``rnnkit train-classifier ...`` is ``rnnkit train --task classify ...``.

With no arguments at all it trains a small character LSTM on the Python standard library's
own sources for two minutes, then prints a sample.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from rnnkit.cli.arguments import add_threads_argument
from rnnkit.cli.flags import (
    add_settings_flags,
    apply_settings,
    as_flags,
    changed_settings,
    given_settings,
    new_settings,
    refuse_aliases_together,
    setting_names,
)
from rnnkit.cli.sample import write_sample
from rnnkit.errors import UserError
from rnnkit.threads import limit_threads
from rnnkit.train import distributed as mpi
from rnnkit.train.progress import format_duration
from rnnkit.train.run import (
    Outcome,
    RunExistsError,
    new_run_folder,
    read_run,
    read_run_task,
    resume_run,
    start_run,
    train_run,
)
from rnnkit.train.run_config import model_folder
from rnnkit.train.run_lock import hold_run_lock
from rnnkit.train.task import Task
from rnnkit.train.tasks import TASKS
from rnnkit.train.tasks.language_model import load_language_model
from rnnkit.train.trainer import CONVERGED, Trainer

NAME = "train"
ALIAS = "train-classifier"  # rnnkit train-classifier: rnnkit train --task classify
DEFAULT_TASK = "lm"
SAMPLE_LENGTH = 300
SAMPLE_TEMPERATURE = 0.8
BUDGET_FIELDS = ("max_steps", "max_time", "epochs")


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Only for ``rnnkit --help``: the command parses its own arguments (``run_command``)."""
    subparsers.add_parser(
        NAME,
        help="train a model; --task chooses it: "
        + ", ".join(f"{name} (default)" if name == DEFAULT_TASK else name for name in TASKS),
        add_help=False,
    )
    subparsers.add_parser(ALIAS, help="rnnkit train --task classify", add_help=False)


def build_parser(
    task: Task, parser_class: type[argparse.ArgumentParser]
) -> argparse.ArgumentParser:
    parser = parser_class(
        prog=f"rnnkit {NAME}",
        description=f"Train a {task.title}. (--task chooses the task: "
        f"{', '.join(TASKS)}; --task NAME --help lists its flags.)",
        epilog="The run folder holds the last checkpoint (config.json, model.safetensors under "
        "PyTorch's parameter names, optimizer.safetensors), the best model so far in "
        "DIR/best, metrics.jsonl and learning_curve.png (with matplotlib). SIGINT (Ctrl-C), "
        "SIGTERM and SIGHUP save a checkpoint and stop; --resume continues it exactly.",
    )
    parser.add_argument("--task", choices=sorted(TASKS), default=task.name, help="the task")
    parser.add_argument(
        "--out", metavar="DIR", help="run folder to write (default runs/<task>-<date>-<time>)"
    )
    parser.add_argument(
        "--resume",
        action="store_true",
        help="continue the run in --out DIR exactly where its last checkpoint left off",
    )
    add_threads_argument(parser)
    add_settings_flags(parser, task.config_class)
    parser.help_command = f"rnnkit {NAME} --task {task.name} --help"  # type: ignore[attr-defined]
    return parser


def run_command(
    argv: Sequence[str], parser_class: type[argparse.ArgumentParser], command: str = NAME
) -> int:
    """``rnnkit train ARGV`` (COMMAND: how the user called it, for the messages that say
    how to resume); returns the exit status."""
    first = parser_class(add_help=False)
    first.add_argument("--task", choices=sorted(TASKS))
    first.add_argument("--resume", action="store_true")
    first.add_argument("--out")
    known, _ = first.parse_known_args(argv)
    if known.resume:
        if known.out is None:
            raise UserError("--resume needs --out DIR, the run folder to continue")
        task, _ = read_run_task(Path(known.out), TASKS)
        if known.task is not None and known.task != task.name:
            asked = f"rnnkit {ALIAS}" if command == ALIAS else f"--task {known.task}"
            raise UserError(
                f"{asked} is for another task than the run in {known.out} (task "
                f"{task.name}); continue it with rnnkit {NAME} --out {known.out} --resume"
            )
    else:
        task = TASKS[known.task or DEFAULT_TASK]
    refuse_aliases_together(list(argv))
    args = build_parser(task, parser_class).parse_args(argv)
    try:
        if mpi.is_writer():
            with limit_threads(args.threads):
                if args.resume:
                    return resume(task, args, command)
                return start(task, args, command)
        # Under mpiexec, ranks after the first train their share and write nothing.
        with (
            open(os.devnull, "w") as quiet,
            contextlib.redirect_stdout(quiet),
            limit_threads(args.threads),
        ):
            return resume(task, args, command) if args.resume else start(task, args, command)
    except mpi.EveryRankError:
        if mpi.is_writer():
            raise
        return 2  # rank 0 says it
    except Exception as error:
        # One rank's failure (its data missing, a bug) ends every rank now: the others
        # would wait for it at their next collective until the MPI timeout.
        world = mpi.world()
        if world is not None:
            world.fail(2 if isinstance(error, (UserError, OSError)) else 1)
        raise


def start(task: Task, args: argparse.Namespace, command: str) -> int:
    config = new_settings(task.config_class, given_settings(args))
    folder = new_run_folder(args.out, task)
    # One writer per run folder: locked before anything is looked at or written, so a
    # second writer beside a live run is told about that run's lock.
    with run_lock(folder):
        try:
            trainer = start_run(task, config, folder)
        except RunExistsError:
            raise UserError(
                f"{folder} already holds a training run; continue it with rnnkit {command} "
                f"--out {folder} --resume, or choose another --out"
            ) from None
        print(task.summary(trainer))
        for note in trainer.notes:
            print(f"rnnkit: note: {note}", file=sys.stderr)
        print(f"run folder: {folder}", flush=True)
        outcome = train_run(task, trainer, fresh=True)
    return finish(task, trainer, outcome, command)


def resume(task: Task, args: argparse.Namespace, command: str) -> int:
    folder = Path(args.out)
    with run_lock(folder):
        # Read again under the lock: the run may have moved on since the first look.
        task, saved, checkpoint = read_run(folder, TASKS)
        check_best(task, folder)
        config = copy.deepcopy(saved)
        given = given_settings(args)
        changed = dict(given)
        if any(("training", name) in given for name in BUDGET_FIELDS):
            # A new budget replaces the old one whole: --max-steps 2000 alone means no
            # time limit, as it would for a fresh run.
            for name in BUDGET_FIELDS:
                setattr(config.training, name, None)
                changed.setdefault(("training", name), None)
        apply_settings(config, given)
        trainer = resume_run(task, config, saved, checkpoint, folder)
        progress = trainer.progress
        lowered = {"lr": checkpoint.config["progress"].get("lr", saved.training.lr)}
        changes = changed_settings(saved, config, changed, lowered)
        with_changes = f" with {', '.join(changes)}" if changes else ""
        print(
            f"resuming {folder} at step {progress.step} (epoch {progress.epoch + 1}){with_changes}",
            flush=True,
        )
        outcome = train_run(task, trainer, fresh=False)
    return finish(task, trainer, outcome, command)


def check_best(task: Task, folder: Path) -> None:
    """Refuse, before any step, a best model of FOLDER's run that does not load (another
    run's, or damaged): the run would train on, then fail on it at its end (the report of
    its test data, an lm's sample), or leave it as the run's best."""
    best = model_folder(folder)
    if best == folder:
        return
    try:
        task.load(best)
    except UserError as error:
        raise UserError(
            f"{error}; to resume the run without its best model, move {best} out of {folder}"
        ) from None


def run_lock(folder: Path) -> contextlib.AbstractContextManager:
    """The run folder's lock; under mpiexec, rank 0 holds it for every rank."""
    return hold_run_lock(folder) if mpi.is_writer() else contextlib.nullcontext()


def finish(task: Task, trainer: Trainer, outcome: Outcome, command: str = NAME) -> int:
    """Report how the run ended; the exit status."""
    folder, progress = trainer.folder, trainer.progress
    if outcome.status != 0:
        if outcome.before_first_checkpoint:
            print(
                f"rnnkit: interrupted while {task.preparation(trainer)}, before anything was "
                f"saved ({outcome.signal}); run the command again to start over",
                file=sys.stderr,
            )
        else:
            print(
                f"rnnkit: interrupted at step {progress.step} ({outcome.signal}); checkpoint "
                f"saved in {folder}; continue with: rnnkit {command} --out {folder} --resume",
                file=sys.stderr,
            )
        return outcome.status
    if outcome.reason is None:
        spent = as_flags(outcome.spent or "spent its budget", setting_names(task.config_class))
        print(
            f"nothing to do: the run in {folder} has already {spent} (step {progress.step}); "
            "raise --max-steps, --epochs or --max-time to train longer"
        )
        return 0
    epochs = f"{progress.epoch} full epoch{'' if progress.epoch == 1 else 's'}"
    print(
        f"stopped at step {progress.step}, {epochs} ({outcome.reason}) after "
        f"{format_duration(trainer.elapsed())}"
    )
    if outcome.reason.startswith(CONVERGED):
        print(
            f"to train on: rnnkit {command} --out {folder} --resume with a new --lr, or "
            "--stop-lr-ratio 0 to go on at this rate"
        )
    for line in task.report(trainer):
        print(line)
    best = model_folder(folder)
    print(f"saved in {folder}" + (f" (best model in {best})" if best != folder else ""))
    if task.name == "lm" and mpi.is_writer():
        model, tokenizer, _ = load_language_model(best)
        print(f"--- sample (temperature {SAMPLE_TEMPERATURE}) ---", flush=True)
        write_sample(model, tokenizer, SAMPLE_LENGTH, temperature=SAMPLE_TEMPERATURE, seed=0)
    return 0
