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


def a_run_of(name: str) -> str:
    """How a message names a run of the task NAME: ``"a language-model run"``, by the
    task's title, since its short name (``lm``) does not read as words; a name this rnnkit
    does not know as itself."""
    task = TASKS.get(name)
    if task is None:
        return f"a run of task {name!r}"
    return f"{article(task.title)} {task.title.replace(' ', '-')} run"


def article(words: str) -> str:
    """The indefinite article before WORDS (a task title: none starts with a silent h)."""
    return "an" if words[:1].lower() in ("a", "e", "i", "o", "u") else "a"


__all__ = ["TASKS", "a_run_of", "article"]
