"""What every training command does around its trainer (``rnnkit train`` and the others).

- ``new_run_folder`` / ``resumed_run_folder``: where a run goes, never over another run;
  ``locked_run_folder``: that folder, for ``hold_run_lock`` (one writer per run folder).
- ``check_flags_match``: a ``--resume`` whose flags describe another run is refused.
- ``restore_run``: a checkpoint that does not fit its trainer is a one-line error.
- ``train_in_foreground``: the budget check, the progress bar, Ctrl-C, SIGTERM or SIGHUP
  as a stop request that saves a checkpoint and exits with status 130, 143 or 129.
- ``fingerprint``: a hash of the training data, to refuse resuming on other data.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import time
from pathlib import Path
from typing import Any

from rnnkit.errors import UserError
from rnnkit.train import Budget, ProgressBar, Trainer, stop_on_interrupt
from rnnkit.train.checkpoint import Checkpoint, has_checkpoint
from rnnkit.train.trainer import INTERRUPTED

INTERRUPTED_STATUS = 130  # the shell's convention: 128 + SIGINT


def locked_run_folder(args: argparse.Namespace, kind: str) -> Path:
    """The folder this run writes, to lock before anything is written (``hold_run_lock``).

    ``--out``, or for a fresh run without it ``runs/<kind>-<date>-<time>``, which is then
    put in ``args.out`` so that ``new_run_folder`` checks that very folder, under the lock.
    """
    if args.resume:
        return resumed_run_folder(args.out)
    if not args.out:
        args.out = str(Path("runs") / time.strftime(f"{kind}-%Y%m%d-%H%M%S"))
    return Path(args.out)


def new_run_folder(out: str | None, kind: str) -> Path:
    """OUT, or ``runs/<kind>-<date>-<time>``; refused if it already holds a run."""
    folder = Path(out) if out else Path("runs") / time.strftime(f"{kind}-%Y%m%d-%H%M%S")
    if has_checkpoint(folder):
        raise UserError(
            f"{folder} already holds a training run; pass --resume to continue it, "
            "or choose another --out"
        )
    return folder


def resumed_run_folder(out: str | None) -> Path:
    if out is None:
        raise UserError("--resume needs --out DIR, the run folder to continue")
    return Path(out)


def check_flags_match(
    args: argparse.Namespace,
    config: dict[str, Any],
    folder: Path,
    saved_as: dict[str, tuple[str, str]],
    path_flags: tuple[str, ...] = (),
    defaults: dict[str, Any] | None = None,
) -> None:
    """Refuse a resume whose flags describe another run than the checkpoint's.

    SAVED_AS maps a flag's ``args`` name to where config.json keeps its value:
    ``(section, key)``. Flags not given (None) are not checked; PATH_FLAGS are compared
    as absolute paths. A key the config lacks (a run saved before its option existed)
    holds the option's value in DEFAULTS, which is what that run trained with.
    """
    defaults = defaults or {}
    for name, (section, key) in saved_as.items():
        given = getattr(args, name)
        if given is None:
            continue
        if name in path_flags:
            given = str(Path(given).resolve())
        saved = config.get(section, {}).get(key, defaults.get(name))
        if given != saved:
            flag = "--" + name.replace("_", "-")
            raise UserError(
                f"{flag} {given} differs from the run in {folder} ({key} {saved}); "
                "drop the flag to resume that run, or start a new run with another --out"
            )


def restore_run(trainer: Trainer, checkpoint: Checkpoint, folder: Path) -> None:
    """``trainer.restore(checkpoint)``, with a checkpoint that does not fit as a UserError."""
    try:
        trainer.restore(checkpoint)
    except (KeyError, ValueError) as error:
        raise UserError(
            f"the checkpoint in {folder} is damaged ({' '.join(str(error).split())}); "
            "start a new run"
        ) from None
    progress = trainer.progress
    print(f"resuming {folder} at step {progress.step} (epoch {progress.epoch + 1})", flush=True)


def train_in_foreground(
    trainer: Trainer, budget: Budget, command: str, budget_flags: str = "--max-steps or --max-time"
) -> int | None:
    """Train under a progress bar, with Ctrl-C as a request to stop and save.

    Returns None when training ran to the end of its budget (the caller reports; the
    reason is ``budget.exhausted(trainer.progress.step)``), or the exit status to end the
    command with: 0 when the budget was already spent, 130 after a Ctrl-C, 143 after a
    SIGTERM, 129 after a SIGHUP (a message on stderr says how to resume).
    """
    folder = trainer.folder
    spent = budget.exhausted(trainer.progress.step)
    if spent:
        print(
            f"nothing to do: the run in {folder} has already {spent}; raise {budget_flags} "
            "to train longer"
        )
        return 0
    with stop_on_interrupt() as stop:
        bar = ProgressBar(budget.max_steps, trainer.progress.step)
        try:
            reason = trainer.train(budget, stop, bar)
        finally:
            bar.close()
    if reason == INTERRUPTED:
        print(
            f"rnnkit: interrupted at step {trainer.progress.step}; checkpoint saved in "
            f"{folder}; continue with: rnnkit {command} --out {folder} --resume",
            file=sys.stderr,
        )
        return stop.exit_status  # 130 after Ctrl-C, 143 after SIGTERM, 129 after SIGHUP
    return None


def fingerprint(text: str) -> str:
    """The SHA-256 of TEXT, to tell whether a resumed run would read the same data."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
