"""What a task is: the one thing that differs between training a language model, a
classifier, or any other model; everything else is the generic run (``rnnkit.train.run``).

A task is a ``Task`` subclass with:

    name, title          its name for ``rnnkit train --task NAME`` and for people
    config_class         a dataclass with three sections, ``data``, ``model`` and
                         ``training`` (a ``TrainingSettings``), made of ``rnnkit.config``
                         options: the single source of the task's flags, defaults and
                         config.json
    build(config, folder, checkpoint) -> Trainer
                         read and check the data, fit (or, resuming, reload) what is fitted
                         to it, build the model and the task's ``Trainer``; with a
                         checkpoint, refuse data that is not the data the run started on
    load(folder)         a trained model back from a checkpoint folder, for eval/predict

and may override ``before_training`` (work before the first checkpoint, such as
pretraining, which ``preparation`` names for messages), ``resolve_paths`` (make the
settings that are paths absolute, as ``build`` saves them, so that a resume given a
relative path compares like with like), ``check_saved`` (refuse a checkpoint whose
tokenizer or labels do not fit its settings, for ``rnnkit info``), ``summary`` (the line
printed when training starts) and ``report`` (lines printed when it ends).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rnnkit.train.checkpoint import Checkpoint
from rnnkit.train.interrupt import StopRequest
from rnnkit.train.trainer import Trainer


class Task:
    """The base of every task; see the module docstring."""

    name: str = ""
    title: str = ""
    config_class: type = object

    def build(self, config: Any, folder: Path, checkpoint: Checkpoint | None) -> Trainer:
        raise NotImplementedError

    def load(self, folder: Path) -> Any:
        raise NotImplementedError

    def before_training(self, trainer: Trainer, stop: StopRequest) -> bool:
        """Work before the first step of a fresh run; False when STOP cut it short."""
        return True

    def preparation(self, trainer: Trainer) -> str:
        """What ``before_training`` does, for a message: "pretraining the encoder"."""
        return "preparing the run"

    def check_saved(self, checkpoint: Checkpoint, folder: Path, config: Any) -> None:
        """Refuse (UserError) a checkpoint whose entries besides its settings (a tokenizer,
        labels) are damaged or do not fit CONFIG, its checked settings."""

    def resolve_paths(self, config: Any) -> None:
        """Make CONFIG's path settings absolute, as ``build`` does before saving them."""

    def summary(self, trainer: Trainer) -> str:
        return f"training a {self.title} ({trainer.model.num_parameters():,} parameters)"

    def report(self, trainer: Trainer) -> list[str]:
        return []
