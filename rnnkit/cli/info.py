"""``rnnkit info DIR``: what a run folder holds: its task, settings, data, progress, best."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from rnnkit.cli.arguments import add_json_flag, add_model_command
from rnnkit.config import to_dict
from rnnkit.train.progress import format_duration
from rnnkit.train.run import read_run
from rnnkit.train.run_config import is_number, model_folder, saved_entry, saved_progress
from rnnkit.train.tasks import TASKS, a_run_of
from rnnkit.train.trainer import TrainingProgress

NAME = "info"
HELP = "describe a run folder: task, settings, data fingerprint, progress, best figures"
DESCRIPTION = (
    "Describe the run in DIR. Its models are loaded as sample, predict and export load "
    "them, so a folder they refuse (say, a config.json edited until the weights no longer "
    "fit) is refused here too."
)


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = add_model_command(subparsers, NAME, HELP, DESCRIPTION)
    add_json_flag(parser)
    return parser


def run(args: argparse.Namespace) -> int:
    folder = Path(args.folder)
    task, config, checkpoint = read_run(folder, TASKS)
    task.check_saved(checkpoint, folder, config)
    # Loaded by the code the other commands load with, rather than a check of its own, so
    # that info passes exactly the folders they accept: the run's last model, and the one
    # they use (its best/) when that is another checkpoint.
    task.restore(checkpoint, folder, config)
    if model_folder(folder) != folder:
        task.load(model_folder(folder))
    progress = saved_progress(checkpoint, folder, TrainingProgress)
    lr = checkpoint.config["progress"].get("lr")
    record = {
        "folder": str(folder),
        "task": task.name,
        "config": to_dict(config),
        "data_sha256": saved_entry(checkpoint, folder, "data_sha256"),
        "step": progress.step,
        "epoch": progress.epoch,
        "elapsed": progress.elapsed,
        "lr": lr if is_number(lr, float) else None,
        "validation": progress.val,
        "validation_step": progress.val_step,
        "best": progress.best,
        "best_step": progress.best_step,
    }
    if args.json:
        print(json.dumps(record))
        return 0
    print(
        f"{folder}: {a_run_of(task.name)} at step {progress.step}, {progress.epoch} full "
        f"epoch{'' if progress.epoch == 1 else 's'}, {format_duration(progress.elapsed)} of "
        "training"
    )
    for section, values in record["config"].items():
        listed = ", ".join(f"{name}={setting_text(value)}" for name, value in values.items())
        print(f"  {section}: {listed}")
    print(f"  data sha256: {record['data_sha256']}")
    if progress.val is not None:
        print(f"  validation at step {progress.val_step}: {describe(progress.val)}")
    if progress.best is not None:
        print(f"  best at step {progress.best_step}: {describe(progress.best)}")
    return 0


def setting_text(value: object) -> str:
    """VALUE as config.json writes it (null, true, [0.1, 0.9]), but a string as it is and
    letters outside ASCII unescaped: a column named Température reads as itself."""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def describe(measures: dict[str, float]) -> str:
    return ", ".join(f"{name} {value:.4g}" for name, value in measures.items())
