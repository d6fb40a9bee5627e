"""The tasks a run can train, by name (see ``rnnkit.train.task``); the command line's
``train`` chooses one of them by that name."""

from rnnkit.train.task import Task
from rnnkit.train.tasks.classifier import ClassifierTask
from rnnkit.train.tasks.forecast import ForecastTask
from rnnkit.train.tasks.generate import GenerateTask
from rnnkit.train.tasks.language_model import LanguageModelTask
from rnnkit.train.tasks.seq2seq import Seq2SeqTask
from rnnkit.train.tasks.tagging import TaggingTask

TASKS: dict[str, Task] = {
    task.name: task
    for task in (
        LanguageModelTask(),
        ClassifierTask(),
        TaggingTask(),
        Seq2SeqTask(),
        ForecastTask(),
        GenerateTask(),
    )
}

__all__ = ["TASKS"]
