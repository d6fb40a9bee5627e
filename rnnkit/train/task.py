"""What a task is: the one thing that differs between training a language model, a
classifier, or any other model; everything else is the generic run (``rnnkit.train.run``).

A task is a ``Task`` subclass with:

    name, title          its name for ``rnnkit train --task NAME``, and for people
                         ("sequence classifier")
    config_class         a dataclass with three sections, ``data``, ``model`` and
                         ``training`` (a ``TrainingSettings``), made of ``rnnkit.config``
                         options: the single source of the task's flags, defaults and
                         config.json (``run_config_class`` makes it)
    build(config, folder, checkpoint) -> Trainer
                         read and check the data (CONFIG's paths made absolute already:
                         ``resolve_paths``), fit (or, resuming, reload) what is fitted to
                         it, build the model and the task's ``Trainer``; with a
                         checkpoint, refuse data that is not the data the run started on
    restore(checkpoint, folder, config)
                         the trained model back from a checkpoint of the task (CONFIG: its
                         settings, read and checked), with what feeds it; ``load(folder)``
                         opens the checkpoint folder and calls it, for eval/predict

and may override ``before_training`` (work before the first checkpoint, such as pretraining, which
``preparation`` names for messages), ``check_saved`` (refuse a checkpoint whose tokenizer
or labels do not fit its settings, for ``rnnkit info``), ``summary`` (the line printed
when training starts), and for the lines printed when it ends (``report``): ``figure`` or
``validation_figure`` (the validation figure of the latest and the best model) and
``test_report`` (the best model on the test data that ``build`` left in
``trainer.test_data``).

A task whose data section has ``train``, ``valid``, ``val_fraction`` (and maybe ``test``)
starts ``build`` with ``read_data``: it says how to read one of those files
(``read_examples``) and what its examples are called (``examples``: "tagged sentences",
for the messages). The examples read hold out their own validation part when there is no
``valid`` (their ``hold_out(fraction, seed)``) and give the lines the data fingerprint
reads (their ``lines()``). A task that sets ``trains_without_validation`` takes
``val_fraction`` 0 as "train on every training example, validate on none" (the refit on
all the data after the settings were chosen on validation); its ``validate`` returns None
on the empty validation part, and the run's last model becomes its ``best/``.

The data settings that are paths (``option(path=True)``, as ``path_option``) are made
absolute by ``resolve_paths`` (the runner calls it before ``build``), as the run saves
them, so that a resume given a relative path compares like with like.

``load`` starts from ``open_saved_run`` (the checkpoint and its settings, refused unless
the folder holds a run of the task); a ``restore`` ends with ``saved_model`` (the model
built from its settings, with the checkpoint's weights, in evaluation mode).
"""

from __future__ import annotations

import dataclasses
import itertools
import os
from pathlib import Path
from typing import Any

from rnnkit.config import ConfigError
from rnnkit.data.fingerprint import fingerprint_lines
from rnnkit.errors import SettingError, UserError
from rnnkit.train.checkpoint import Checkpoint, load_checkpoint, load_weights_into
from rnnkit.train.interrupt import StopRequest
from rnnkit.train.run_config import (
    damaged,
    model_folder,
    saved_config,
    saved_entry,
    saved_task,
)
from rnnkit.train.trainer import Trainer


class Task:
    """The base of every task; see the module docstring."""

    name: str = ""
    title: str = ""
    config_class: type = object
    # The validation figure of the final report: its name, its measure and their format.
    figure: tuple[str, str, str] = ("loss", "loss", ".4f")
    # What the examples of ``train`` are called, for ``read_data``'s messages.
    examples: str = "examples"
    # Whether ``val_fraction`` 0 (without ``valid``) trains on every training example with
    # no validation (the trainer's ``validate`` then returns None) rather than being refused.
    trains_without_validation: bool = False

    def __init_subclass__(cls, **attributes: Any) -> None:
        """``class TaggingTask(Task, name="tag", title="sequence tagger", ...)``: a task
        names what it is in its class statement."""
        super().__init_subclass__()
        for key, value in attributes.items():
            if not hasattr(Task, key):
                raise TypeError(f"a Task has no attribute {key!r}")
            setattr(cls, key, value)

    def build(self, config: Any, folder: Path, checkpoint: Checkpoint | None) -> Trainer:
        raise NotImplementedError

    def restore(self, checkpoint: Checkpoint, folder: str | os.PathLike[str], config: Any) -> Any:
        raise NotImplementedError

    def load(self, folder: str | os.PathLike[str]) -> Any:
        """The trained model in FOLDER (a checkpoint folder such as ``RUN/best``)."""
        checkpoint, config = open_saved_run(folder, self)
        return self.restore(checkpoint, folder, config)

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
        """Make the path settings of CONFIG's data section (``option(path=True)``)
        absolute, as the run saves them; the runner calls it before ``build``."""
        for field in dataclasses.fields(config.data):
            if field.metadata.get("path"):
                setattr(config.data, field.name, absolute(getattr(config.data, field.name)))

    def read_data(
        self, config: Any, folder: Path, checkpoint: Checkpoint | None
    ) -> tuple[Any, Any, Any, str]:
        """``(train, valid, test, digest)``: the examples of CONFIG's data section (its paths
        made absolute already: ``resolve_paths``) and the fingerprint of the first two
        (``data_fingerprint``), refused when it is not that of CHECKPOINT's run in FOLDER.
        Without ``valid``, a seeded ``val_fraction`` of the training examples validates
        (``hold_out``); with ``val_fraction`` 0, a task that ``trains_without_validation`` validates
        on nothing (VALID is empty). TEST is None without ``test``."""
        data = config.data
        if data.train is None:
            raise SettingError(f"train is needed: the {self.examples} to learn from", "train")
        train = self.read_examples(config, "train")
        if data.valid is not None:
            valid = self.read_examples(config, "valid")
        elif data.val_fraction == 0 and self.trains_without_validation:
            valid = train.subset([])  # every training example trains; nothing validates
        else:
            train, valid = train.hold_out(data.val_fraction, config.training.seed)
        test = None if getattr(data, "test", None) is None else self.read_examples(config, "test")
        digest = self.data_fingerprint(train, valid)
        if checkpoint is not None:
            what = self.examples
            check_same_data(checkpoint, folder, digest, f"the {what} of {data.train}", what)
        return train, valid, test, digest

    def read_examples(self, config: Any, part: str) -> Any:
        """The examples of the file that CONFIG's data setting PART ("train", "valid" or
        "test") names, for ``read_data``."""
        raise NotImplementedError

    def data_fingerprint(self, train: Any, valid: Any) -> str:
        """A digest of the TRAIN and VALID examples, for ``read_data``: a resumed run must
        read the same. Examples are read as text lines (their ``lines()``)."""
        return fingerprint_lines(itertools.chain(train.lines(), valid.lines()))

    def summary(self, trainer: Trainer) -> str:
        return f"training a {self.title} ({trainer.model.num_parameters():,} parameters)"

    def report(self, trainer: Trainer) -> list[str]:
        """The lines printed when training ends: the latest and the best validation figure,
        and the best model's figures on the test data, if any."""
        progress, lines = trainer.progress, []
        if progress.best is not None:
            lines.append(
                f"validation {self.validation_figure(progress.val, named=True)}; best "
                f"{self.validation_figure(progress.best, named=False)} at step "
                f"{progress.best_step}"
            )
        test = getattr(trainer, "test_data", None)
        if test is not None:
            lines += self.test_report(self.best_model(trainer), test, trainer)
        return lines

    def validation_figure(self, measures: dict[str, float], named: bool) -> str:
        """The figure the report gives of validation MEASURES, with its name if NAMED:
        "accuracy 91.20%" or "91.20%" (``figure``)."""
        name, measure, spec = self.figure
        value = format(measures[measure], spec)
        return f"{name} {value}" if named else value

    def test_report(self, trained: Any, test: Any, trainer: Trainer) -> list[str]:
        """Lines on TRAINED, the best model of TRAINER's run (as ``load`` brings it back),
        measured on TEST."""
        return []

    def best_model(self, trainer: Trainer) -> Any:
        """The best model of TRAINER's run so far, as ``load`` brings it back."""
        return self.load(model_folder(trainer.folder))


def network(model: Any, noun: str) -> str:
    """MODEL's recurrent layers as a summary names them: "2-layer bidirectional LSTM tagger"
    (NOUN: "tagger")."""
    direction = "bidirectional " if getattr(model, "bidirectional", False) else ""
    return f"{model.num_layers}-layer {direction}{model.cell.upper()} {noun}"


def time_loops(model: Any) -> str:
    """Where MODEL's recurrent layers run their time loops, for a summary: "C (avx2), 2
    threads", "NumPy", or both joined ("... and NumPy") when a layer's size leaves it out
    of the C loops (``RecurrentLayer.engine``)."""
    engines: list[str] = []
    layers = [model]
    while layers:
        layer = layers.pop(0)
        engine = getattr(layer, "engine", None)
        if isinstance(engine, str) and engine not in engines:
            engines.append(engine)
        layers += list(getattr(layer, "layers", {}).values())
    return " and ".join(engines) or "NumPy"


def data_sizes(trainer: Any, examples: str) -> str:
    """How much TRAINER learns from and validates on, for a summary: "900 training and 100
    validation sentences" (EXAMPLES: "sentences")."""
    train, valid = len(trainer.train_set), len(trainer.valid_set)
    return f"{train:,} training and {valid:,} validation {examples}"


def absolute(path: str | None) -> str | None:
    """PATH made absolute (None stays None)."""
    return None if path is None else str(Path(path).resolve())


def run_config_class(name: str, what: str, data: type, model: type, training: type) -> type:
    """The dataclass NAME of everything a WHAT run is, config.json's "config": the sections
    ``data``, ``model`` and ``training``, made of the dataclasses DATA, MODEL and TRAINING
    (each section's defaults by default)."""
    sections = {"data": data, "model": model, "training": training}
    cls = dataclasses.make_dataclass(
        name,
        [(key, kind, dataclasses.field(default_factory=kind)) for key, kind in sections.items()],
    )
    cls.__doc__ = f'Everything a {what} run is: config.json\'s "config".'
    cls.__module__ = data.__module__  # the task's module, where its data section is
    return cls


def check_same_data(
    checkpoint: Checkpoint,
    folder: str | os.PathLike[str],
    digest: str,
    data: str,
    same: str,
    differ: str = "differ from those",
) -> None:
    """Refuse to resume the run in FOLDER on other data than it started on: DIGEST, the
    fingerprint of the data read now, must be the checkpoint's ``data_sha256``. The error
    says that DATA ("the pairs of train.tsv") DIFFER and that resuming needs the SAME."""
    if digest != saved_entry(checkpoint, folder, "data_sha256"):
        raise UserError(
            f"{data} {differ} the run in {folder} started on; resuming needs the same {same}, "
            "so start a new run"
        )


def open_saved_run(
    folder: str | os.PathLike[str], task: type[Task] | Task
) -> tuple[Checkpoint, Any]:
    """The checkpoint in FOLDER and its settings (a ``task.config_class``), refused unless
    FOLDER holds a run of TASK."""
    # The table of tasks imports this module: read it only when a message needs it.
    from rnnkit.train.tasks import a_run_of, article

    checkpoint = load_checkpoint(folder)
    saved = saved_task(checkpoint, folder)
    if saved != task.name:
        a_task = f"{article(task.title)} {task.title}"
        raise UserError(
            f"{folder} holds {a_run_of(saved)}, not {a_task}; give the run folder of "
            f"{a_task} (task {task.name})"
        )
    return checkpoint, saved_config(checkpoint, folder, task.config_class)


def build_model(kind: Any, config: Any, seed: int | None = None, folder: Any = None) -> Any:
    """``kind.from_config(config)``, with a model's refusal of its settings as a UserError
    (FOLDER: the run folder whose config.json they came from, or None for a new run)."""
    try:
        return kind.from_config(config, rng=seed)
    except ConfigError as error:
        if folder is None:
            raise  # names the setting: the command line writes it as its flag
        raise damaged(folder, f"setting model.{error}") from None
    except (ValueError, TypeError) as error:
        reason = " ".join(str(error).split())
        if folder is None:
            raise UserError(reason) from None
        raise damaged(folder, reason) from None


def saved_model(
    kind: Any, config: Any, checkpoint: Checkpoint, folder: str | os.PathLike[str]
) -> Any:
    """The model of KIND built from CONFIG (the run's model settings) with the weights of
    CHECKPOINT (from FOLDER), in evaluation mode."""
    model = build_model(kind, config, folder=folder)
    load_weights_into(model, checkpoint, folder)
    return model.eval()
