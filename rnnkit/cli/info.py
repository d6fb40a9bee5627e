"""``rnnkit info DIR``: what a run folder holds: its task, settings, data, progress, best."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from rnnkit.cli.arguments import add_model_folder_argument
from rnnkit.train.run import read_run
from rnnkit.train.tasks import TASKS

NAME = "info"


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        NAME,
        help="describe a run folder: task, settings, data fingerprint, progress, best figures",
        description="Describe the run in DIR without loading its weights' values.",
    )
    add_model_folder_argument(parser)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    return parser


def run(args: argparse.Namespace) -> int:
    folder = Path(args.folder)
    task, _, checkpoint = read_run(folder, TASKS)
    saved = checkpoint.config
    progress = saved.get("progress", {})
    record = {
        "folder": str(folder),
        "task": task.name,
        "config": saved["config"],
        "data_sha256": saved.get("data_sha256"),
        "step": progress.get("step"),
        "epoch": progress.get("epoch"),
        "elapsed": progress.get("elapsed"),
        "lr": progress.get("lr"),
        "validation": progress.get("val"),
        "best": progress.get("best"),
        "best_step": progress.get("best_step"),
    }
    if args.json:
        print(json.dumps(record))
        return 0
    print(f"{folder}: a {task.title} run at step {record['step']} (epoch {record['epoch']})")
    for section, values in saved["config"].items():
        listed = ", ".join(f"{name}={value}" for name, value in values.items())
        print(f"  {section}: {listed}")
    print(f"  data sha256: {record['data_sha256']}")
    if record["best"] is not None:
        best = ", ".join(f"{name} {value:.4g}" for name, value in record["best"].items())
        print(f"  best at step {record['best_step']}: {best}")
    return 0
