"""The seq2seq task through the generic run: it learns a toy transduction, resumes exactly,
and its trained model transduces (greedy and beam) and is evaluated with the G2P protocol;
bad input is one clear error."""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path

import numpy as np
import pytest

from rnnkit.data.parallel import ParallelExamples, read_parallel, references
from rnnkit.data.parallel_batches import UNK_ID, Vocabulary
from rnnkit.errors import SettingError, UserError
from rnnkit.models.seq2seq import Seq2Seq
from rnnkit.train import load_checkpoint
from rnnkit.train.run import read_run, resume_run, start_run, train_run
from rnnkit.train.tasks.seq2seq import (
    Seq2SeqData,
    Seq2SeqRun,
    Seq2SeqTask,
    TrainedSeq2Seq,
    evaluate_pairs,
    fit_vocabularies,
    load_seq2seq,
    tokenizations,
    transduce,
)

TASK = Seq2SeqTask()
TASKS = {TASK.name: TASK}
LETTERS = "abcde"
SOUNDS = {"a": "AH", "b": "B", "c": "K", "d": "D", "e": "IY"}


def write_dictionary(path: Path, count: int, seed: int) -> Path:
    """Words of 2-4 letters, each letter one phoneme (a dictionary in CMUdict's format);
    every fifth word has a second pronunciation ending in Z."""
    rng = np.random.default_rng(seed)
    lines = []
    for index in range(count):
        word = "".join(rng.choice(list(LETTERS), int(rng.integers(2, 5))))
        phonemes = " ".join(SOUNDS[c] for c in word)
        lines.append(f"{word.upper()}  {phonemes}")
        if index % 5 == 0:
            lines.append(f"{word.upper()}  {phonemes} Z")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def unknown_writer() -> TrainedSeq2Seq:
    """A character model over x and y (dot attention) that writes ``<unk>`` at every step,
    as a model trained with min_count above 1 may: outputs as long as their source (the
    length limit, unfinished)."""
    source, target = Vocabulary.build([list("xy")]), Vocabulary.build([list("xy")])
    model = Seq2Seq(
        len(source), len(target), embedding_size=4, hidden_size=16, attention="dot",
        bidirectional=False, rng=0,
    )  # fmt: skip
    model.params["output.bias"][UNK_ID] = 100.0
    run = Seq2SeqRun()
    run.training.max_length_ratio = 1.0
    return TrainedSeq2Seq(model.eval(), source, target, run, ("char", "char"))


def config(tmp_path: Path, **training: object) -> Seq2SeqRun:
    run = Seq2SeqRun()
    run.data.train = str(write_dictionary(tmp_path / "train.dict", 300, 0))
    run.data.valid = str(write_dictionary(tmp_path / "valid.dict", 40, 1))
    run.model.embedding_size, run.model.hidden_size = 12, 24
    run.model.attention, run.model.input_feeding = "general", True
    options = {"batch_size": 16, "lr": 0.02, "eval_every": 40, "log_every": 10, "seed": 0}
    for name, value in {**options, **training}.items():
        setattr(run.training, name, value)
    return run


def test_the_task_learns_and_its_model_transduces(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("rapidfuzz")
    trainer = start_run(TASK, config(tmp_path, max_steps=200), tmp_path / "run")
    assert train_run(TASK, trainer, fresh=True).status == 0
    assert trainer.progress.best["exact_match"] > 0.9
    trained = load_seq2seq(tmp_path / "run" / "best")
    assert trained.tokenizations == ("char", "word")
    outputs, unknown = transduce(trained, ["BAD", "CAB"], beam_size=3, nbest=2)
    assert [found[0]["text"] for found in outputs] == ["B AH D", "K AH B"]
    assert len(outputs[0]) == 2 and outputs[0][0]["score"] >= outputs[0][1]["score"]
    assert outputs[0][0]["attention"].shape == (4, 3)  # 3 phonemes and the end, 3 letters
    assert unknown == []
    _, unknown = transduce(trained, ["BAX"])
    assert unknown == ["X"]
    valid = read_parallel(tmp_path / "valid.dict")
    capsys.readouterr()
    scores = evaluate_pairs(trained, valid)
    assert scores["sources"] == len(references(valid)[0]) and scores["exact_match"] > 0.9
    assert scores["token_error_rate"] < 0.05 and "bleu" in scores
    assert capsys.readouterr().err == ""  # no bar unless asked (or on a terminal)
    # Asked, a bar counts the sources on stderr; the scores are the same.
    assert evaluate_pairs(trained, valid, progress=True) == scores
    assert f"/{scores['sources']} [" in capsys.readouterr().err


def test_an_unknown_output_token_is_one_token_in_the_scores() -> None:
    # Its text "<unk><unk>" split into characters again would be 10 tokens against the 2
    # of "yx", a token error rate of 5 instead of 1.
    pytest.importorskip("rapidfuzz")
    trained = unknown_writer()
    outputs, _ = transduce(trained, ["xy"])
    assert outputs[0][0]["tokens"] == ["<unk>", "<unk>"]
    assert outputs[0][0]["text"] == "<unk><unk>"
    pairs = ParallelExamples(["xy", "yxy"], ["yx", "xyy"], ["a:1", "a:2"])
    scores = evaluate_pairs(trained, pairs)
    assert scores["token_error_rate"] == 1.0 and scores["token_accuracy"] == 0.0


def test_each_side_is_cut_as_its_tokenizer_says_and_auto_reads_the_file() -> None:
    sentences = ParallelExamples(["the cat", "a dog"], ["cat the", "dog a"], ["f:1", "f:2"], "tsv")
    words = ParallelExamples(["CAT", "READ"], ["K AE T", "R EH D"], ["d:1", "d:2"], "dictionary")
    data = Seq2SeqData()
    assert tokenizations(data, sentences) == ("char", "char")
    assert tokenizations(data, words) == ("char", "word")  # a dictionary's phonemes
    data.source_tokenizer, data.target_tokenizer = "word", "char"
    assert tokenizations(data, words) == ("word", "char")
    source, target = fit_vocabularies(sentences, ("word", "char"), data, shared=False)
    assert source.tokens[4:] == ["a", "cat", "dog", "the"]
    assert set(target.tokens[4:]) == set("cat the dog a")
    shared, same = fit_vocabularies(sentences, ("word", "word"), data, shared=True)
    assert shared is same and shared.tokens[4:] == ["a", "cat", "dog", "the"]
    source, target = fit_vocabularies(words, ("char", "word"), data, shared=True)
    assert source is target and {"C", "K", "AE", "EH"} <= set(source.tokens)


def test_a_falling_loss_keeps_the_rate_while_no_output_is_right_yet(tmp_path: Path) -> None:
    """Exact match is 0 at every validation of a short, slow start; the validation loss
    decides between them, so the best model moves on and plateaus do not halve the rate."""
    run = config(tmp_path, max_steps=30, lr=0.003, eval_every=5, plateau_patience=5)
    trainer = start_run(TASK, run, tmp_path / "run")
    train_run(TASK, trainer, fresh=True)
    records = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").open()]
    validations = [r for r in records if "val_exact_match" in r]
    assert len(validations) >= 6 and all(r["val_exact_match"] == 0 for r in validations)
    assert validations[-1]["val_loss"] < validations[0]["val_loss"]
    assert trainer.progress.best_step == 30
    assert trainer.optimizer.lr == pytest.approx(0.003)


def test_resume_gives_the_same_weights_as_one_run(tmp_path: Path) -> None:
    options = {"ema": 0.9}
    straight = start_run(TASK, config(tmp_path, max_steps=24, **options), tmp_path / "a")
    train_run(TASK, straight, fresh=True)
    first = start_run(TASK, config(tmp_path, max_steps=10, **options), tmp_path / "b")
    train_run(TASK, first, fresh=True)
    _, saved, checkpoint = read_run(tmp_path / "b", TASKS)
    resumed = copy.deepcopy(saved)
    resumed.training.max_steps = 24
    second = resume_run(TASK, resumed, saved, checkpoint, tmp_path / "b")
    train_run(TASK, second, fresh=False)
    one, two = load_checkpoint(tmp_path / "a"), load_checkpoint(tmp_path / "b")
    for group in ("model", "ema"):
        for name, value in one.arrays[group].items():
            np.testing.assert_array_equal(two.arrays[group][name], value)


@pytest.mark.parametrize(
    ("edit", "named"),
    [
        ({"pad_id": -1}, "model.pad_id: expected 0, the id of <pad> in the vocabularies"),
        # in range, but not the id of </s>: it was taken
        ({"eos_id": 1}, "model.eos_id: expected 2, the id of </s> in the vocabularies"),
        ({"share_vocabulary": True}, "share_vocabulary: the source"),
    ],
)
def test_a_resume_refuses_model_settings_edited_past_the_model(
    tmp_path: Path, edit: dict, named: str
) -> None:
    # valid settings one by one, which the model refuses together: a ValueError traceback
    train_run(TASK, start_run(TASK, config(tmp_path, max_steps=2), tmp_path / "run"), fresh=True)
    config_file = tmp_path / "run" / "config.json"
    saved = json.loads(config_file.read_text())
    saved["config"]["model"].update(edit)
    config_file.write_text(json.dumps(saved))
    _, settings, checkpoint = read_run(tmp_path / "run", TASKS)
    with pytest.raises(UserError, match=f"run/config.json was edited or damaged: {named}"):
        resume_run(TASK, settings, copy.deepcopy(settings), checkpoint, tmp_path / "run")


def test_tokenizations_edited_into_lists_are_one_line(tmp_path: Path) -> None:
    # a list inside them ended predict, eval and info in "TypeError: unhashable type"
    train_run(TASK, start_run(TASK, config(tmp_path, max_steps=2), tmp_path / "run"), fresh=True)
    config_file = tmp_path / "run" / "config.json"
    saved = json.loads(config_file.read_text())
    saved["tokenizations"] = [["char"], "char"]
    config_file.write_text(json.dumps(saved))
    named = r"edited or damaged: tokenizations: expected .*, got \"\[\['char'\]"
    with pytest.raises(UserError, match=named):
        load_seq2seq(tmp_path / "run")


def test_label_smoothing_reaches_the_loss_and_older_runs_read_without_it(
    tmp_path: Path,
) -> None:
    runs = {}
    for name, smoothing in (("plain", 0.0), ("smoothed", 0.1)):
        settings = config(tmp_path, max_steps=6, label_smoothing=smoothing)
        train_run(TASK, start_run(TASK, settings, tmp_path / name), fresh=True)
        runs[name] = load_checkpoint(tmp_path / name).arrays["model"]
    assert any(
        not np.array_equal(value, runs["smoothed"][name]) for name, value in runs["plain"].items()
    )
    _, saved, _ = read_run(tmp_path / "smoothed", TASKS)
    assert saved.training.label_smoothing == 0.1
    # A run saved before the setting existed trained without smoothing.
    path = tmp_path / "plain" / "config.json"
    written = json.loads(path.read_text(encoding="utf-8"))
    del written["config"]["training"]["label_smoothing"]
    path.write_text(json.dumps(written), encoding="utf-8")
    _, saved, _ = read_run(tmp_path / "plain", TASKS)
    assert saved.training.label_smoothing == 0.0
    assert load_seq2seq(tmp_path / "plain").config.training.label_smoothing == 0.0


def test_scheduled_sampling_resumes_exactly_too(tmp_path: Path) -> None:
    def run(folder: str, steps: int) -> Path:
        settings = config(tmp_path, max_steps=steps)
        settings.model.teacher_forcing, settings.model.dropout = 0.5, 0.2
        train_run(TASK, start_run(TASK, settings, tmp_path / folder), fresh=True)
        return tmp_path / folder

    one = load_checkpoint(run("a", 12))
    run("b", 5)
    _, saved, checkpoint = read_run(tmp_path / "b", TASKS)
    resumed = copy.deepcopy(saved)
    resumed.training.max_steps = 12
    train_run(TASK, resume_run(TASK, resumed, saved, checkpoint, tmp_path / "b"), fresh=False)
    two = load_checkpoint(tmp_path / "b")
    for name, value in one.arrays["model"].items():
        np.testing.assert_array_equal(two.arrays["model"][name], value)


def test_bad_input_is_one_line(tmp_path: Path) -> None:
    settings = config(tmp_path, max_steps=1)
    bad = tmp_path / "bad.tsv"
    bad.write_text("abc\tcba\nno tab\n", encoding="utf-8")
    settings.data.train, settings.data.valid = str(bad), None
    with pytest.raises(UserError, match=r"bad.tsv:2: expected source<TAB>target"):
        start_run(TASK, settings, tmp_path / "run")
    settings = config(tmp_path, max_steps=1)
    settings.data.max_source_length = 3
    with pytest.raises(UserError, match=r"train.dict:\d+: the source has 4 tokens"):
        start_run(TASK, settings, tmp_path / "run2")
    settings.data.truncate_source = True
    trainer = start_run(TASK, settings, tmp_path / "run3")
    assert any("cut to that length" in note for note in trainer.notes)


@pytest.mark.parametrize(
    "missing, kept",
    [
        (("rapidfuzz", "rapidfuzz.distance"), {"exact_match", "bleu", "sources"}),
        (("sacrebleu",), {"exact_match", "token_error_rate", "token_accuracy", "sources"}),
    ],
)
def test_without_a_scoring_package_the_test_pairs_get_the_figures_it_leaves(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, missing: tuple[str, ...], kept: set
) -> None:
    # Exact match needs neither rapidfuzz nor sacrebleu; a dictionary's phonemes are word
    # tokens, so they get BLEU too. The report at the end of training gives no BLEU.
    pytest.importorskip("rapidfuzz")
    pytest.importorskip("sacrebleu")
    trainer = start_run(TASK, config(tmp_path, max_steps=1), tmp_path / "trained")
    train_run(TASK, trainer, fresh=True)
    for name in missing:
        monkeypatch.setitem(sys.modules, name, None)
    model = load_seq2seq(tmp_path / "trained")
    pairs = read_parallel(tmp_path / "valid.dict")
    assert set(evaluate_pairs(model, pairs)) == kept
    (line,) = TASK.test_report(model, pairs, trainer)
    assert line.startswith("test exact match ")
    assert ("token error rate" in line) == ("token_error_rate" in kept)
    # A run with test pairs says at its start what their report will leave out.
    settings = config(tmp_path, max_steps=1)
    settings.data.test = settings.data.valid
    notes = start_run(TASK, settings, tmp_path / "with-test").notes
    said = [n for n in notes if n.startswith("the test pairs are scored when training ends")]
    assert len(said) == ("token_error_rate" not in kept)


@pytest.mark.parametrize(
    "part, text, found",
    [
        ("valid", "ABC_CBA\nBAD_DAB\n", "dlfs2 pairs (source_target)"),
        ("test", "ABC\tAH B K\n", "tsv pairs (source<TAB>target)"),
    ],
)
def test_held_out_files_in_another_format_than_the_training_file_are_refused(
    tmp_path: Path, part: str, text: str, found: str
) -> None:
    # Each read as it looks (format auto), they would be tokenized unlike the training pairs.
    settings = config(tmp_path, max_steps=1)
    other = tmp_path / "other.txt"
    other.write_text(text, encoding="utf-8")
    setattr(settings.data, part, str(other))
    with pytest.raises(SettingError) as error:
        start_run(TASK, settings, tmp_path / "run")
    message = str(error.value)
    assert message.startswith(f"{other} looks like {found} but {settings.data.train} like ")
    assert "dictionary (WORD  PH ON EMES)" in message and "set format to" in message
    assert error.value.settings == ("format",)
    assert not (tmp_path / "run").exists()
