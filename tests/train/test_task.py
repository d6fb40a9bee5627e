"""The Task base: what every task shares."""

from __future__ import annotations

import numpy as np
import pytest

from rnnkit.data.parallel import ParallelExamples
from rnnkit.nn import GRU, LSTM, Layer
from rnnkit.nn.dispatch import engine
from rnnkit.train.task import Task, time_loops
from rnnkit.train.tasks import TASKS, a_run_of, article


def test_a_task_names_itself_in_its_class_statement() -> None:
    class EchoTask(Task, name="echo", title="echo model", examples="echoes"):
        pass

    assert (EchoTask.name, EchoTask.title, EchoTask.examples) == ("echo", "echo model", "echoes")
    assert Task.name == ""  # the base is left as it was


def test_an_unknown_task_attribute_is_refused() -> None:
    with pytest.raises(TypeError, match="tittle"):

        class Misspelled(Task, name="x", tittle="typo"):
            pass


def test_every_registered_task_has_a_name_title_and_settings() -> None:
    for name, task in TASKS.items():
        assert task.name == name
        assert task.title
        assert task.config_class is not object


def test_a_run_is_named_by_its_task_title_with_its_article() -> None:
    # Every task, so that a new one is read here once: its short name ("lm", "classify")
    # does not read as words in a message.
    expected = {
        "lm": "a language-model run",
        "classify": "a sequence-classifier run",
        "tag": "a sequence-tagger run",
        "seq2seq": "a sequence-to-sequence-model run",
        "forecast": "a forecaster run",
        "generate": "a conditioned-generator run",
    }
    assert {name: a_run_of(name) for name in TASKS} == expected
    assert a_run_of("echo") == "a run of task 'echo'"  # a task this rnnkit does not know
    assert (article("encoder"), article("Ordinal model"), article("tagger")) == ("an", "an", "a")


def test_the_fingerprint_covers_both_parts_and_their_order() -> None:
    task = Task()
    a = ParallelExamples(["x"], ["y"], ["f:1"])
    b = ParallelExamples(["u"], ["v"], ["f:2"])
    assert task.data_fingerprint(a, b) != task.data_fingerprint(b, a)
    assert task.data_fingerprint(a, b) == Task().data_fingerprint(a.subset([0]), b)


def test_time_loops_names_where_every_recurrent_layer_of_a_model_runs() -> None:
    model, inner = Layer(), Layer()
    model.add_layer("encoder", LSTM(4, 16))
    inner.add_layer("chars", GRU(4, 20))  # a sub-layer's sub-layer counts too
    model.add_layer("words", inner)
    assert time_loops(model) == f"{engine(np.float32, 16)} and {engine(np.float32, 20)}"
    assert time_loops(LSTM(4, 16, dtype=np.float64)) == "NumPy"
    assert time_loops(Layer()) == "NumPy"
