"""What a run's settings do through the command line: ``rnnkit info``, what a resume may
change (learning rate, data path) and what it may not (architecture), save/eval/log
frequencies apart, plateau patience in steps whatever ``--eval-every`` is, early stop, the
stop once plateaus have lowered the learning rate far enough."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from rnnkit.cli.info import setting_text
from rnnkit.train import load_checkpoint
from rnnkit.train.lm_trainer import LMTrainer
from rnnkit.train.trainer import Trainer
from tests.cli.cli_helpers import (
    TINY,
    assert_one_line_error,
    folder_bytes,
    run_cli,
    write_corpus,
)
from tests.cli.test_classifier_cli import write_tsv


def metrics(folder: Path) -> list[dict]:
    return [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines()]


def train_lm(tmp_path: Path, out: str, *flags: object) -> tuple[int, str, str]:
    data = tmp_path / "corpus.txt"
    if not data.exists():
        write_corpus(tmp_path, count=200)
    return run_cli("train", "--data", data, "--out", tmp_path / out, *TINY, *flags)


@pytest.fixture
def constant_validation(monkeypatch: pytest.MonkeyPatch) -> None:
    """Language-model validation whose loss never improves on the first one."""
    validate = LMTrainer.validate

    def constant(self: LMTrainer) -> dict[str, float]:
        return {**validate(self), "loss": 1.0}

    monkeypatch.setattr(LMTrainer, "validate", constant)


# -- rnnkit info --------------------------------------------------------------------------


def test_info_describes_a_language_model_run_in_text_and_json(tmp_path: Path) -> None:
    assert train_lm(tmp_path, "run", "--max-steps", "6")[0] == 0
    run = tmp_path / "run"
    saved = load_checkpoint(run).config
    status, out, err = run_cli("info", run)
    assert status == 0, err
    first, *rest = out.splitlines()
    assert first.startswith(f"{run}: a language-model run at step 6, ")
    assert "  model: " in out and "hidden_size=16" in out and "cell=lstm" in out
    assert "  training: " in out and "max_steps=6" in out and "eval_every=3" in out
    # as config.json writes them, to be found there: no Python None or False
    assert "max_time=null" in out and "tie_weights=false" in out and "None" not in out
    assert f"  data sha256: {saved['data_sha256']}" in rest
    best = saved["progress"]["best_step"]
    assert any(line.startswith(f"  best at step {best}: loss ") for line in rest)

    status, out, err = run_cli("info", run, "--json")
    assert status == 0, err
    record = json.loads(out)
    assert (record["task"], record["step"], record["folder"]) == ("lm", 6, str(run))
    assert record["config"] == saved["config"]
    assert record["data_sha256"] == saved["data_sha256"]
    assert record["best"] == saved["progress"]["best"] and record["best_step"] == best
    assert record["lr"] == pytest.approx(0.002)


def test_info_writes_a_list_of_names_with_their_own_letters() -> None:
    # a forecast's target=["Température"]: the \u00e9 that json.dumps writes is no name
    assert setting_text(["Température", "Niederschlag"]) == '["Température", "Niederschlag"]'
    assert setting_text("Température") == "Température" and setting_text(None) == "null"


def test_info_describes_a_classifier_run_and_refuses_a_folder_without_one(
    tmp_path: Path,
) -> None:
    status, _, err = run_cli(
        "train-classifier", "--train", write_tsv(tmp_path / "t.tsv"), "--out", tmp_path / "run",
        "--max-steps", "4", "--eval-every", "2", "--hidden-size", "12", "--embedding-size", "8",
    )  # fmt: skip
    assert status == 0, err
    status, out, err = run_cli("info", "--json", tmp_path / "run")
    assert status == 0, err
    record = json.loads(out)
    assert (record["task"], record["step"]) == ("classify", 4)
    assert record["config"]["model"]["hidden_size"] == 12
    assert set(record["best"]) == {"loss", "accuracy", "balanced_accuracy", "macro_f1"}
    status, out, _ = run_cli("info", tmp_path / "run")
    assert "a sequence-classifier run at step 4" in out and "accuracy" in out

    (tmp_path / "empty").mkdir()
    status, _, err = run_cli("info", tmp_path / "empty")
    assert_one_line_error(status, err, "empty holds no training run")


# -- what a resume may change -------------------------------------------------------------


def test_a_resume_takes_a_new_learning_rate_and_refuses_a_new_hidden_size(
    tmp_path: Path,
) -> None:
    run = tmp_path / "run"
    assert train_lm(tmp_path, "run", "--max-steps", "4", "--log-every", "1")[0] == 0
    before = folder_bytes(run)
    status, _, err = run_cli("train", "--out", run, "--resume", "--hidden-size", "32")
    assert_one_line_error(
        status, err, "--hidden-size 32 differs from the run", "(--hidden-size 16)"
    )
    assert folder_bytes(run) == before

    status, out, err = run_cli(
        "train", "--out", run, "--resume", "--lr", "0.0005", "--max-steps", "8"
    )
    assert status == 0, err
    assert "at step 4" in out
    # Every step after the resume took the new rate, and the checkpoint keeps it.
    rates = {record["step"]: record["lr"] for record in metrics(run) if "train_loss" in record}
    assert [rates[step] for step in range(1, 9)] == [0.002] * 4 + [0.0005] * 4
    config = load_checkpoint(run).config
    assert config["progress"]["lr"] == 0.0005
    assert config["config"]["training"]["lr"] == 0.0005
    # A resume that says nothing of the rate keeps the one it was given.
    status, _, err = run_cli("train", "--out", run, "--resume", "--max-steps", "9")
    assert status == 0, err
    assert load_checkpoint(run).config["progress"]["lr"] == 0.0005


def test_a_resume_reads_moved_data_by_its_fingerprint(tmp_path: Path) -> None:
    run = tmp_path / "run"
    assert train_lm(tmp_path, "run", "--max-steps", "3")[0] == 0
    moved = tmp_path / "moved.txt"
    shutil.move(tmp_path / "corpus.txt", moved)
    status, _, err = run_cli("train", "--out", run, "--resume", "--max-steps", "5")
    assert_one_line_error(status, err, "corpus.txt does not exist")
    status, _, err = run_cli("train", "--out", run, "--resume", "--max-steps", "5", "--data", moved)
    assert status == 0, err
    config = load_checkpoint(run).config
    assert config["progress"]["step"] == 5
    assert config["config"]["data"]["data"] == str(moved.resolve())
    # Other text at the same path is refused.
    moved.write_text("quite another text\n" * 200)
    status, _, err = run_cli("train", "--out", run, "--resume", "--max-steps", "7")
    assert_one_line_error(status, err, "differs from the text the run in")


# -- frequencies, patience, early stop ----------------------------------------------------


def test_save_eval_and_log_frequencies_are_independent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    saved_at: list[int] = []
    save = Trainer.save

    def recording_save(self: Trainer) -> None:
        saved_at.append(self.progress.step)
        save(self)

    monkeypatch.setattr(Trainer, "save", recording_save)
    status, out, err = train_lm(
        tmp_path, "run", "--max-steps", "12", "--eval-every", "4", "--save-every", "3",
        "--log-every", "2",
    )  # fmt: skip
    assert status == 0, err
    assert saved_at == [0, 3, 6, 9, 12]
    records = metrics(tmp_path / "run")
    assert [r["step"] for r in records if "train_loss" in r] == [2, 4, 6, 8, 10, 12]
    assert [r["step"] for r in records if "val_loss" in r] == [4, 8, 12]
    # Output that is not a terminal (here: captured) gets a line per log_every.
    logged = [line.split(":")[0] for line in out.splitlines() if "training loss" in line]
    assert logged == [f"step {step}" for step in (2, 4, 6, 8, 10, 12)]

    # Without --save-every, a checkpoint follows each validation.
    saved_at.clear()
    assert train_lm(tmp_path, "other", "--max-steps", "8", "--eval-every", "4")[0] == 0
    assert saved_at == [0, 4, 8]


@pytest.mark.parametrize("eval_every", [2, 4, 5, 7])
def test_plateau_patience_is_in_steps_whatever_eval_every(
    tmp_path: Path, eval_every: int, constant_validation: None
) -> None:
    """Validation never improves on the first one (at step EVAL_EVERY): the learning rate
    halves at the first validation more than 12 steps after it, however often that is."""
    status, _, err = train_lm(
        tmp_path, "run", "--max-steps", "40", "--eval-every", str(eval_every),
        "--plateau-patience", "12", "--log-every", "1",
    )  # fmt: skip
    assert status == 0, err
    records = metrics(tmp_path / "run")
    halved = min(r["step"] for r in records if "val_loss" in r and r["lr"] < 0.002)
    assert 12 < halved - eval_every <= 12 + eval_every
    assert halved == min(step for step in range(0, 41, eval_every) if step - eval_every > 12)


def test_early_stop_ends_a_run_whose_validation_stopped_improving(
    tmp_path: Path, constant_validation: None
) -> None:
    run = tmp_path / "run"
    status, out, err = train_lm(
        tmp_path, "run", "--max-steps", "100", "--eval-every", "2", "--early-stop", "6"
    )
    assert status == 0, err
    # Best at step 2; no better validation at 4, 6, 8: six steps without improvement.
    assert "stopped at step 8, " in out and "(early stop: no better validation for 6 steps)" in out
    assert load_checkpoint(run).config["progress"]["step"] == 8
    # The patience may change on resume: a longer one trains on.
    status, out, err = run_cli("train", "--out", run, "--resume", "--early-stop", "10")
    assert status == 0, err
    assert "stopped at step 12, " in out and "no better validation for 10 steps" in out
    status, _, err = run_cli("train", "--out", run, "--resume", "--early-stop", "0")
    assert_one_line_error(status, err, "--early-stop: must be at least 1, got 0")


def test_a_run_stops_once_plateaus_have_lowered_the_learning_rate_below_its_ratio(
    tmp_path: Path, constant_validation: None
) -> None:
    """Validation never improves: the rate falls tenfold every 4 steps, and the run ends at
    the first step where it is below stop_lr_ratio of its start (0.002 * 1e-3), not at
    max_steps; a resume that changes neither trains no further."""
    run = tmp_path / "run"
    plateaus = ["--eval-every", "2", "--plateau-patience", "2", "--plateau-factor", "0.1"]
    status, out, err = train_lm(
        tmp_path, "run", "--max-steps", "200", *plateaus, "--log-every", "1"
    )
    assert status == 0, err
    records = metrics(run)
    low = min(r["step"] for r in records if "val_loss" in r and r["lr"] < 0.002 * 1e-3)
    assert 0 < low < 200 and max(r["step"] for r in records) == low
    assert f"stopped at step {low}, " in out
    assert (
        "(converged: plateaus lowered the learning rate to 2e-07, below stop_lr_ratio 0.001" in out
    )
    status, out, err = run_cli("train", "--out", run, "--resume")
    assert status == 0, err
    assert f"stopped at step {low}, " in out and "converged" in out
    hint = f"to train on: rnnkit train --out {run} --resume with a new --lr, or --stop-lr-ratio 0"
    assert hint in out
    # A ratio of 0 never stops; a new learning rate starts the count again.
    status, out, err = run_cli(
        "train", "--out", run, "--resume", "--stop-lr-ratio", "0", "--max-steps", str(low + 4)
    )
    assert status == 0, err
    assert f"stopped at step {low + 4}, " in out and f"reached max_steps {low + 4}" in out
    status, out, err = run_cli(
        "train", "--out", run, "--resume", "--stop-lr-ratio", "0.001", "--lr", "0.001",
        "--max-steps", str(low + 8),
    )  # fmt: skip
    assert status == 0, err
    assert f"stopped at step {low + 8}, " in out and f"reached max_steps {low + 8}" in out
    status, _, err = run_cli("train", "--out", run, "--resume", "--stop-lr-ratio", "1")
    assert_one_line_error(status, err, "--stop-lr-ratio: must be below 1, got 1")


def test_a_fixed_schedule_is_not_a_plateau_and_does_not_stop_the_run(tmp_path: Path) -> None:
    """A language model's fixed decay lowers the rate whatever validation does: a run on
    it ends at its budget even where the rate falls below stop_lr_ratio of its start."""
    status, out, err = train_lm(
        tmp_path, "run", "--epochs", "6", "--decay-after-epoch", "1", "--epoch-decay", "0.01",
        "--stop-lr-ratio", "0.5",
    )  # fmt: skip
    assert status == 0, err
    assert "6 full epochs (reached max_steps" in out
    assert metrics(tmp_path / "run")[-1]["lr"] < 0.002 * 0.5


def test_a_run_saved_before_stop_lr_ratio_existed_resumes_as_it_trained(
    tmp_path: Path, constant_validation: None
) -> None:
    run = tmp_path / "run"
    plateaus = ["--eval-every", "2", "--plateau-patience", "2", "--plateau-factor", "0.1"]
    assert train_lm(tmp_path, "run", "--max-steps", "4", *plateaus)[0] == 0
    config_file = run / "config.json"
    config = json.loads(config_file.read_text())
    del config["config"]["training"]["stop_lr_ratio"]  # as an older rnnkit wrote it
    config_file.write_text(json.dumps(config))
    status, out, err = run_cli("train", "--out", run, "--resume", "--max-steps", "40")
    assert status == 0, err
    assert "stopped at step 40, " in out  # never stopped by its rate, as before
    assert load_checkpoint(run).config["config"]["training"]["stop_lr_ratio"] == 0


def test_a_boolean_setting_has_a_flag_and_its_negation(tmp_path: Path) -> None:
    tied = ["--tie-weights", "--embedding-size", "16", "--max-steps", "2"]
    assert train_lm(tmp_path, "run", *tied)[0] == 0
    run = tmp_path / "run"
    assert load_checkpoint(run).config["config"]["model"]["tie_weights"] is True
    status, _, err = run_cli("train", "--out", run, "--resume", "--no-tie-weights")
    assert_one_line_error(status, err, "--no-tie-weights differs from the run", "(--tie-weights);")
    status, _, err = run_cli("train", "--out", run, "--resume", "--tie-weights", "--max-steps", "3")
    assert status == 0, err  # repeating the run's own value agrees with it
    assert train_lm(tmp_path, "untied", "--no-tie-weights", "--max-steps", "1")[0] == 0
    assert load_checkpoint(tmp_path / "untied").config["config"]["model"]["tie_weights"] is False
    status, out, _ = run_cli("train", "--help")
    assert "--tie-weights, --no-tie-weights" in out and "--cell {" in out and "--model {" in out


def test_epochs_set_the_budget_of_a_language_model_and_a_resume_may_raise_it(
    tmp_path: Path,
) -> None:
    run = tmp_path / "run"
    status, out, err = train_lm(tmp_path, "run", "--epochs", "1")
    assert status == 0, err
    per_epoch = load_checkpoint(run).config["progress"]["step"]
    assert (
        per_epoch > 0
        and f"stopped at step {per_epoch}, 1 full epoch (reached max_steps {per_epoch})" in out
    )
    status, out, err = run_cli("train", "--out", run, "--resume", "--epochs", "2")
    assert status == 0, err
    assert f"stopped at step {2 * per_epoch}, 2 full epochs" in out


def test_the_default_learning_rate_follows_the_optimizer(tmp_path: Path) -> None:
    for optimizer, rate in (("sgd", 1.0), ("adam", 0.002)):
        status, _, err = train_lm(tmp_path, optimizer, "--optimizer", optimizer, "--max-steps", "1")
        assert status == 0, err
        saved = load_checkpoint(tmp_path / optimizer).config
        assert saved["config"]["training"]["lr"] == rate and saved["progress"]["lr"] == rate
    status, _, err = run_cli(
        "train-classifier", "--train", write_tsv(tmp_path / "t.tsv"), "--out", tmp_path / "c",
        "--optimizer", "sgd", "--max-steps", "1", "--hidden-size", "12",
    )  # fmt: skip
    assert status == 0, err
    assert load_checkpoint(tmp_path / "c").config["config"]["training"]["lr"] == 0.1
