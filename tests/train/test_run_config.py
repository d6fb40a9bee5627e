"""config.json of a run folder read back: which checkpoint of a run the commands use."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from rnnkit.errors import UserError
from rnnkit.train.checkpoint import save_checkpoint
from rnnkit.train.run_config import model_folder


def save(folder: Path, task: str = "lm", data: str = "aa") -> None:
    save_checkpoint(folder, {"task": task, "data_sha256": data}, {})


def test_the_best_model_is_used_when_the_run_has_one(tmp_path: Path) -> None:
    run = tmp_path / "run"
    save(run)
    assert model_folder(run) == run
    save(run / "best")
    assert model_folder(run) == run / "best"


@pytest.mark.parametrize(
    ("task", "data", "named"),
    [
        ("classify", "aa", "holds a model of task 'classify', not 'lm' as the run in"),
        ("lm", "bb", "was trained on other data than the run in"),
    ],
)
def test_a_best_model_of_another_run_is_refused(
    tmp_path: Path, task: str, data: str, named: str
) -> None:
    run = tmp_path / "run"
    save(run)
    save(tmp_path / "other", task, data)
    shutil.copytree(tmp_path / "other", run / "best")
    with pytest.raises(UserError, match=named) as caught:
        model_folder(run)
    assert f"give {run / 'best'} itself to use it" in str(caught.value)
    assert model_folder(run / "best") == run / "best"  # asked for by name: used


def test_a_best_model_without_its_config_is_not_passed_over_for_the_last_weights(
    tmp_path: Path,
) -> None:
    run = tmp_path / "run"
    save_checkpoint(run, {"task": "lm", "data_sha256": "aa"}, {"model": {"w": np.ones(2)}})
    shutil.copytree(run, run / "best")
    (run / "best" / "config.json").unlink()
    with pytest.raises(UserError, match=r"run/best is damaged \(config.json is missing\); move"):
        model_folder(run)


def test_a_config_that_does_not_read_is_left_to_the_loading(tmp_path: Path) -> None:
    run = tmp_path / "run"
    save(run)
    save(run / "best", "classify")
    (run / "best" / "config.json").write_text("{not json")
    assert model_folder(run) == run / "best"  # loading it says it is damaged
    (run / "best" / "config.json").write_text(json.dumps({"task": "classify"}))
    assert model_folder(run) == run / "best"
