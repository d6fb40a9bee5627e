"""``rnnkit train``: a run folder, exact resume through the command line, defaults."""

from __future__ import annotations

import gzip
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from rnnkit import load_weights
from rnnkit.cli import train as train_command
from rnnkit.train import load_checkpoint
from rnnkit.train.run import make_budget, start_run
from rnnkit.train.tasks import TASKS
from rnnkit.train.tasks import language_model as language_model_task
from tests.cli.cli_helpers import (
    TINY,
    assert_one_line_error,
    folder_bytes,
    run_cli,
    write_corpus,
)


def test_a_run_writes_checkpoints_metrics_and_a_sample(tmp_path: Path) -> None:
    data = write_corpus(tmp_path)
    status, out, err = run_cli(
        "train", "--data", data, "--out", tmp_path / "run", "--max-steps", "7", *TINY
    )
    assert status == 0, err
    run = tmp_path / "run"
    for name in ("config.json", "model.safetensors", "optimizer.safetensors", "metrics.jsonl"):
        assert (run / name).is_file(), name
    assert (run / "best" / "model.safetensors").is_file()
    config = json.loads((run / "config.json").read_text())
    assert (config["format"], config["version"], config["task"]) == ("rnnkit.run", 2, "lm")
    assert config["progress"]["step"] == 7
    assert config["config"]["model"]["hidden_size"] == 16
    assert config["config"]["data"]["data"] == str(data.resolve())
    assert "stopped at step 7, " in out and "(reached max_steps 7)" in out
    assert f"saved in {run}" in out
    sample = out.split("--- sample (temperature 0.8) ---\n")[1]
    assert len(sample) >= train_command.SAMPLE_LENGTH
    # Torch's names, so the weights load into torch.nn modules.
    assert {"embedding.weight", "rnn.weight_ih_l0", "decoder.bias"} <= set(
        load_weights(run / "model.safetensors")
    )


def test_resume_continues_exactly(tmp_path: Path) -> None:
    data = write_corpus(tmp_path, count=120)
    # Weight decay too: the resumed half must rebuild AdamW from the saved settings.
    options = [*TINY, "--dropout", "0.3", "--num-layers", "2", "--weight-decay", "0.1"]
    options += ["--data", data]
    assert run_cli("train", "--out", tmp_path / "whole", "--max-steps", "14", *options)[0] == 0
    assert run_cli("train", "--out", tmp_path / "split", "--max-steps", "5", *options)[0] == 0
    # Flags that describe the run may be repeated on resume, as long as they agree.
    status, out, err = run_cli(
        "train", "--out", tmp_path / "split", "--resume", "--max-steps", "14", "--dropout", "0.3"
    )
    assert status == 0, err
    # The settings that change are said; --dropout 0.3, as saved, is not a change.
    assert "resuming" in out and "at step 5" in out
    assert out.splitlines()[0].endswith(" with --max-steps 14 (was 5)")
    for group in ("model", "optimizer"):
        whole = load_weights(tmp_path / "whole" / f"{group}.safetensors")
        split = load_weights(tmp_path / "split" / f"{group}.safetensors")
        assert whole.keys() == split.keys()
        for name in whole:
            np.testing.assert_array_equal(whole[name], split[name], err_msg=name)


def test_a_resume_skips_edited_lines_of_metrics_jsonl(tmp_path: Path) -> None:
    # an edited step stopped the resume ("the checkpoint ... is damaged; start a new run"),
    # and a record without a step, or with a loss that is no number, with a traceback
    data, run = write_corpus(tmp_path), tmp_path / "run"
    assert run_cli("train", "--data", data, "--out", run, "--max-steps", "3", *TINY)[0] == 0
    for edit in ['{"step": "2", "val_loss": 1}', '{"val_loss": 1}', '{"step": 2, "val_loss": [1]}']:
        with open(run / "metrics.jsonl", "a") as file:
            file.write(edit + "\n")
        steps = json.loads((run / "config.json").read_text())["progress"]["step"] + 3
        status, out, err = run_cli("train", "--out", run, "--resume", "--max-steps", steps)
        assert status == 0, err
        assert json.loads((run / "metrics.jsonl").read_text().splitlines()[-1])["step"] == steps


def test_ema_keeps_the_average_as_best_and_resumes_exactly(tmp_path: Path) -> None:
    data = write_corpus(tmp_path, count=120)
    options = [*TINY, "--dropout", "0.3", "--ema", "0.9", "--data", data]
    assert run_cli("train", "--out", tmp_path / "whole", "--max-steps", "14", *options)[0] == 0
    assert run_cli("train", "--out", tmp_path / "split", "--max-steps", "5", *options)[0] == 0
    status, _, err = run_cli("train", "--out", tmp_path / "split", "--resume", "--max-steps", "14")
    assert status == 0, err
    for group in ("model", "optimizer", "ema", "best/model"):
        whole = load_weights(tmp_path / "whole" / f"{group}.safetensors")
        split = load_weights(tmp_path / "split" / f"{group}.safetensors")
        assert whole.keys() == split.keys()
        for name in whole:
            np.testing.assert_array_equal(whole[name], split[name], err_msg=f"{group} {name}")
    # The final evaluation (step 14, off the schedule of 3) validated the average and
    # found it best or not; either way best/ holds an average, never the raw weights.
    raw = load_weights(tmp_path / "whole" / "model.safetensors")
    best = load_weights(tmp_path / "whole" / "best" / "model.safetensors")
    assert not any(np.array_equal(raw[name], best[name]) for name in raw if "weight" in name)
    config = load_checkpoint(tmp_path / "whole").config
    assert config["config"]["training"]["ema"] == 0.9
    status, _, err = run_cli("train", "--out", tmp_path / "whole", "--resume", "--ema", "0.5")
    assert status == 2
    assert "--ema 0.5 differs from the run" in err


def test_ema_needs_validation_text(tmp_path: Path) -> None:
    data = write_corpus(tmp_path)
    status, _, err = run_cli(
        "train", "--data", data, "--out", tmp_path / "run", *TINY, "--ema", "0.99",
        "--val-fraction", "0",
    )  # fmt: skip
    assert status == 2
    assert "--ema needs validation text" in err
    assert not (tmp_path / "run").exists()


def test_resume_with_a_spent_budget_has_nothing_to_do(tmp_path: Path) -> None:
    data = write_corpus(tmp_path)
    run_cli("train", "--data", data, "--out", tmp_path / "run", "--max-steps", "3", *TINY)
    status, out, _ = run_cli("train", "--out", tmp_path / "run", "--resume")
    assert status == 0
    assert "nothing to do" in out and "--max-steps 3" in out
    assert load_checkpoint(tmp_path / "run").config["progress"]["step"] == 3


def test_word_model_reports_perplexity(tmp_path: Path) -> None:
    data = write_corpus(tmp_path, count=200)
    status, out, err = run_cli(
        "train", "--data", data, "--out", tmp_path / "run", "--tokenizer", "word",
        "--max-vocab", "8", "--max-steps", "3", *TINY,
    )  # fmt: skip
    assert status == 0, err
    assert "perplexity" in out
    tokenizer = load_checkpoint(tmp_path / "run").config["tokenizer"]
    assert tokenizer["kind"] == "word" and len(tokenizer["vocab"]) == 8


def test_without_data_trains_on_the_default_corpus_into_a_dated_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(language_model_task, "DEFAULT_CORPUS_CHARS", 20_000)
    status, out, err = run_cli("train", "--max-steps", "2", *TINY)
    assert status == 0, err
    (run,) = Path("runs").iterdir()
    assert run.name.startswith("lm-")
    assert f"run folder: {run}" in out
    config = load_checkpoint(run).config["config"]
    assert config["data"]["data"] is None  # the default corpus
    assert config["training"]["max_steps"] == 2
    assert "the default corpus (python-stdlib)" in out


def test_default_budget_is_two_minutes(tmp_path: Path) -> None:
    # Set up, not waited for: start_run returns the trainer, whose budget is the run's.
    data = write_corpus(tmp_path, count=400)
    task = TASKS["lm"]
    config = task.config_class()
    config.data.data = str(data)
    trainer = start_run(task, config, tmp_path / "r")
    budget = make_budget(trainer)
    assert (budget.max_steps, budget.max_time) == (None, 120)
    assert trainer.settings.max_time == 120
    assert trainer.config()["config"]["training"]["max_time"] == 120  # saved as such
    assert "default 120" in " ".join(run_cli("train", "--help")[1].split())


def test_help_lists_every_flag_of_the_issue() -> None:
    status, out, _ = run_cli("train", "--help")
    assert status == 0
    flags = (
        "--data --out --tokenizer --model --embedding-size --hidden-size --num-layers "
        "--dropout --tie-weights --seq-len --batch-size --lr --optimizer --clip --max-steps "
        "--max-time --eval-every --val-fraction --seed --resume --encoding --max-vocab --min-count"
    )
    for flag in flags.split():
        assert flag in out, flag


def test_the_command_list_names_every_task_train_has() -> None:
    status, out, _ = run_cli("--help")
    assert status == 0
    line = " ".join(out.split()).split(" train ")[1].split(" train-classifier ")[0]
    for name in TASKS:
        assert name in line, name


def test_tied_gru_run(tmp_path: Path) -> None:
    data = write_corpus(tmp_path)
    status, _, err = run_cli(
        "train", "--data", data, "--out", tmp_path / "run", "--max-steps", "2", *TINY,
        "--model", "gru", "--tie-weights", "--embedding-size", "16",
    )  # fmt: skip
    assert status == 0, err
    weights = load_weights(tmp_path / "run" / "model.safetensors")
    np.testing.assert_array_equal(weights["decoder.weight"], weights["embedding.weight"])
    assert os.path.exists(tmp_path / "run" / "best" / "config.json")


def test_weight_decay_is_saved_and_a_contradicting_resume_refused(tmp_path: Path) -> None:
    data = write_corpus(tmp_path)
    out = tmp_path / "run"
    common = ["--data", data, "--out", out, *TINY]
    assert run_cli("train", *common, "--max-steps", "2", "--weight-decay", "0.01")[0] == 0
    config = json.loads((out / "config.json").read_text())
    assert config["config"]["training"]["weight_decay"] == 0.01
    status, _, err = run_cli("train", "--out", out, "--resume", "--weight-decay", "0.5")
    assert status == 2
    assert "--weight-decay 0.5 differs from the run" in err


def test_a_config_without_a_setting_is_refused_in_one_line(tmp_path: Path) -> None:
    """A config.json without ``weight_decay`` (edited, or from another version of the format)
    is refused by name, whatever the flags say, and the run folder is left as it was."""
    data = write_corpus(tmp_path)
    out = tmp_path / "run"
    assert run_cli("train", "--data", data, "--out", out, "--max-steps", "2", *TINY)[0] == 0
    config_path = out / "config.json"
    config = json.loads(config_path.read_text())
    del config["config"]["training"]["weight_decay"]
    config_path.write_text(json.dumps(config))
    before = folder_bytes(out)
    for flags in (["--weight-decay", "0"], ["--weight-decay", "0.1"], []):
        status, _, err = run_cli("train", "--out", out, "--resume", "--max-steps", "3", *flags)
        assert_one_line_error(
            status, err, "config.json was edited or damaged", "training.weight_decay: missing"
        )
    assert folder_bytes(out) == before


def test_lr_decay_lowers_the_rate_over_max_steps_and_needs_a_step_count(tmp_path: Path) -> None:
    data = write_corpus(tmp_path)
    options = ["--data", data, *TINY, "--lr", "0.01", "--lr-decay", "linear", "--log-every", "1"]
    status, _, err = run_cli("train", "--out", tmp_path / "run", "--max-steps", "10", *options)
    assert status == 0, err
    records = (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()
    rates = [json.loads(line)["lr"] for line in records if "train_loss" in line]
    # after step k the next step's rate, 0.01 (1 - k / 10); the last record repeats step 10's
    assert rates == pytest.approx([0.01 * (1 - min(k, 9) / 10) for k in range(1, 11)])

    status, _, err = run_cli("train", "--out", tmp_path / "timed", "--max-time", "5", *options)
    assert status == 2
    assert err.strip().splitlines() == [
        "rnnkit: error: --lr-decay linear needs --max-steps or --epochs: the steps to lower the "
        "learning rate over (a time limit alone does not say how many there will be)"
    ]
    assert not (tmp_path / "timed").exists()


def test_a_run_saved_before_lr_decay_existed_resumes_without_it(tmp_path: Path) -> None:
    data = write_corpus(tmp_path)
    options = ["--data", data, *TINY, "--out", tmp_path / "run"]
    assert run_cli("train", "--max-steps", "3", *options)[0] == 0
    config_file = tmp_path / "run" / "config.json"
    config = json.loads(config_file.read_text())
    del config["config"]["training"]["lr_decay"]  # as an older rnnkit wrote it
    config_file.write_text(json.dumps(config))
    status, out, err = run_cli("train", "--out", tmp_path / "run", "--resume", "--max-steps", "5")
    assert status == 0, err
    assert "at step 3" in out
    resumed = load_checkpoint(tmp_path / "run").config
    assert resumed["config"]["training"]["lr_decay"] == "none"
    assert resumed["progress"]["step"] == 5


def test_a_best_model_of_another_run_is_refused_before_any_work(tmp_path: Path) -> None:
    for name, seed in (("run", 0), ("other", 1)):
        data = write_corpus(tmp_path, f"{name}.txt", seed=seed)
        status, _, err = run_cli(
            "train", "--data", data, "--out", tmp_path / name, "--max-steps", "3", *TINY
        )
        assert status == 0, err
    run = tmp_path / "run"
    shutil.rmtree(run / "best")
    shutil.copytree(tmp_path / "other" / "best", run / "best")
    before = folder_bytes(run)
    named = f"{run / 'best'} was trained on other data than the run in {run}"
    for argv in (
        ["train", "--out", run, "--resume", "--max-steps", "6"],
        ["sample", run, "--length", "5"],
        ["eval", run, "--data", tmp_path / "run.txt"],
        ["info", run],
    ):
        status, _, err = run_cli(*argv)
        assert_one_line_error(status, err, named)
    assert folder_bytes(run) == before


def test_a_folder_of_compressed_files_says_they_were_skipped(tmp_path: Path) -> None:
    """The Penn Treebank's folder holds .txt.gz files and a licence: training on it reads
    the licence alone, so the run says which files it skipped and how to read them."""
    folder = tmp_path / "ptb"
    folder.mkdir()
    write_corpus(folder, "LICENSE")
    (folder / "ptb.train.txt.gz").write_bytes(gzip.compress(b"the corpus\n" * 50))
    status, _, err = run_cli(
        "train", "--data", folder, "--out", tmp_path / "run", "--max-steps", "1", *TINY
    )
    assert status == 0, err
    assert (
        f"rnnkit: note: 1 file in {folder} is not text and was skipped: 'ptb.train.txt.gz'; "
        "unpack the compressed ones (gunzip -k) to read them\n"
    ) in err


def test_a_fresh_run_replaces_the_log_of_a_run_killed_before_its_first_checkpoint(
    tmp_path: Path,
) -> None:
    data = write_corpus(tmp_path)
    out = tmp_path / "run"
    out.mkdir()
    stale = [{"step": step, "loss": 99.0, "lr": 1.0} for step in range(1, 8)]
    (out / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in stale))
    status, _, err = run_cli("train", "--data", data, "--out", out, "--max-steps", "3", *TINY)
    assert status == 0, err
    assert "held the records of an earlier run that saved no checkpoint" in err
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert records and max(r.get("step", 0) for r in records) == 3
    assert all(r.get("loss") != 99.0 for r in records)


@pytest.mark.parametrize("damaged", ["model.safetensors", "config.json"])
def test_a_resume_refuses_a_damaged_best_model_before_any_step(
    tmp_path: Path, damaged: str
) -> None:
    # the resume trained on and failed only at its end, loading best/ for the sample, or,
    # with no sample to print, ended leaving the damaged file as the run's best model
    data, run = write_corpus(tmp_path), tmp_path / "run"
    assert run_cli("train", "--data", data, "--out", run, "--max-steps", "3", *TINY)[0] == 0
    path = run / "best" / damaged
    path.write_bytes(path.read_bytes()[:-9])
    before = folder_bytes(run)
    status, out, err = run_cli("train", "--out", run, "--resume", "--max-steps", "6")
    assert_one_line_error(
        status, err, f"{run / 'best'} is damaged", f"move {run / 'best'} out of {run}"
    )
    assert "resuming" not in out
    assert folder_bytes(run) == before
    shutil.rmtree(run / "best")  # the way out the message names
    status, _, err = run_cli("train", "--out", run, "--resume", "--max-steps", "6")
    assert status == 0, err


def test_a_resume_says_what_rate_plateaus_had_lowered_a_replaced_rate_to(tmp_path: Path) -> None:
    data, run = write_corpus(tmp_path), tmp_path / "run"
    # A rate this high makes validation worse at once, so each evaluation halves it.
    diverging = ["--optimizer", "sgd", "--lr", "1000", "--clip", "0", "--plateau-patience", "1"]
    flags = [*TINY, "--eval-every", "1", *diverging]
    assert run_cli("train", "--data", data, "--out", run, "--max-steps", "4", *flags)[0] == 0
    lowered = json.loads((run / "config.json").read_text())["progress"]["lr"]
    assert lowered < 1000
    status, out, err = run_cli("train", "--out", run, "--resume", "--lr", "0.01")
    assert status == 0, err
    assert f"with --lr 0.01 (was 1000, lowered to {lowered:g})" in out.splitlines()[0]


def test_a_resume_says_which_settings_it_changes(tmp_path: Path) -> None:
    data, run = write_corpus(tmp_path), tmp_path / "run"
    assert run_cli("train", "--data", data, "--out", run, "--max-steps", "3", *TINY)[0] == 0
    status, out, err = run_cli(
        "train", "--out", run, "--resume", "--max-time", "60", "--lr", "0.01", "--clip", "1e9"
    )
    assert status == 0, err
    # A new budget replaces the old one whole: max_steps is gone with it.
    assert out.splitlines()[0] == (
        f"resuming {run} at step 3 (epoch 1) with --lr 0.01 (was 0.002), --clip 1e+09 "
        "(was 5), --max-time 60 (was none), --max-steps none (was 3)"
    )
