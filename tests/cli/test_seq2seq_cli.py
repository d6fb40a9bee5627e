"""``rnnkit predict`` and ``rnnkit eval`` on sequence-to-sequence runs: tiny models trained
through ``main`` in a temporary folder, then outputs with scores (greedy, beam, n-best,
JSON, stdin, a file), the attention drawn, the measures of held-out pairs (the G2P protocol
for a dictionary), and bad input as one line and exit status 2."""

from __future__ import annotations

import importlib.util
import io
import json
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.cli.cli_helpers import assert_one_line_error, run_cli
from tests.train.test_seq2seq_task import unknown_writer, write_dictionary

pytest.importorskip("rapidfuzz")

TINY = [
    "--embedding-size", "8", "--hidden-size", "16", "--batch-size", "8", "--lr", "0.02",
    "--max-steps", "30", "--eval-every", "15", "--threads", "1",
]  # fmt: skip


def write_reversals(path: Path, count: int, seed: int) -> Path:
    """``word<TAB>the word backwards``: a TSV a model with attention can start to learn."""
    rng = np.random.default_rng(seed)
    words = ["".join(rng.choice(list("abcdef"), int(rng.integers(2, 6)))) for _ in range(count)]
    path.write_text("".join(f"{w}\t{w[::-1]}\n" for w in words), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Three trained runs: ``reverse`` (TSV, characters, dot attention), the same with
    another seed, and ``g2p`` (a pronouncing dictionary, no attention), with their held-out
    files."""
    folder = tmp_path_factory.mktemp("seq2seq")
    train = write_reversals(folder / "train.tsv", 120, 0)
    valid = write_reversals(folder / "valid.tsv", 20, 1)
    status, _, err = run_cli(
        "train", "--task", "seq2seq", "--train", train, "--valid", valid, "--attention", "dot",
        "--no-bidirectional",
        "--out", folder / "reverse", *TINY,
    )  # fmt: skip
    assert status == 0, err
    status, _, err = run_cli(
        "train", "--task", "seq2seq", "--train", train, "--valid", valid, "--attention", "dot",
        "--no-bidirectional", "--seed", "1",
        "--out", folder / "reverse_seed_1", *TINY,
    )  # fmt: skip
    assert status == 0, err
    dictionary = write_dictionary(folder / "train.dict", 150, 0)
    held_out = write_dictionary(folder / "test.dict", 30, 1)
    status, _, err = run_cli(
        "train", "--task", "seq2seq", "--train", dictionary, "--val-fraction", "0.2",
        "--no-bidirectional", "--attention", "none", "--out", folder / "g2p", *TINY,
    )  # fmt: skip
    assert status == 0, err
    return {
        "reverse": folder / "reverse",
        "reverse_seed_1": folder / "reverse_seed_1",
        "g2p": folder / "g2p",
        "valid": valid,
        "held_out": held_out,
        "folder": folder,
    }


def test_predict_prints_an_output_and_its_score_per_text(runs) -> None:
    status, out, err = run_cli("predict", runs["reverse"], "abc", "fed")
    assert status == 0, err
    lines = out.splitlines()
    assert len(lines) == 2
    for line, text in zip(lines, ["abc", "fed"], strict=True):
        output, score, source = line.split("\t")
        assert source == text and set(output) <= set("abcdef")
        assert float(score) <= 0.0  # a log-probability (alpha 0)


def test_beam_nbest_json_gives_the_best_outputs_in_order(runs) -> None:
    status, out, err = run_cli("predict", runs["reverse"], "abca", "--beam", "5", "--nbest", "3",
                               "--json")  # fmt: skip
    assert status == 0, err
    record = json.loads(out)
    assert record["text"] == "abca"
    outputs = record["outputs"]
    assert len(outputs) == 3
    assert len({o["text"] for o in outputs}) == 3
    scores = [o["score"] for o in outputs]
    assert scores == sorted(scores, reverse=True)
    assert all(set(o) == {"text", "score", "log_prob", "finished"} for o in outputs)


def test_greedy_equals_a_beam_of_one(runs) -> None:
    greedy = run_cli("predict", runs["reverse"], "bead", "cafe")
    beam = run_cli("predict", runs["reverse"], "bead", "cafe", "--beam", "1")
    assert greedy[0] == beam[0] == 0
    assert greedy[1] == beam[1]


def test_texts_from_stdin_and_from_a_file(runs, monkeypatch: pytest.MonkeyPatch) -> None:
    expected = run_cli("predict", runs["reverse"], "abc", "de")[1]
    monkeypatch.setattr("sys.stdin", io.StringIO("abc\nde\n"))
    assert run_cli("predict", runs["reverse"])[1] == expected
    listed = runs["folder"] / "inputs.txt"
    listed.write_text("abc\nde\n", encoding="utf-8")
    assert run_cli("predict", runs["reverse"], "--input", listed)[1] == expected


def test_max_length_ratio_cuts_the_outputs_at_predict_and_eval(runs) -> None:
    # ceil(0.3 * 6) = 2 tokens at most; the run itself decodes up to 3 times the source.
    status, out, err = run_cli(
        "predict", runs["reverse"], "abcdef", "--beam", "3", "--nbest", "3", "--json",
        "--max-length-ratio", "0.3",
    )  # fmt: skip
    assert status == 0, err
    outputs = json.loads(out)["outputs"]
    assert all(len(o["text"]) <= 2 and (o["finished"] or len(o["text"]) == 2) for o in outputs)
    assert any(not o["finished"] for o in outputs)
    # The text output stays one tab-separated line per output; a note says what was cut.
    status, out, err = run_cli(
        "predict", runs["reverse"], "abcdef", "abc", "--max-length-ratio", "0.3"
    )  # fmt: skip
    assert status == 0, err
    assert [line.split("\t")[2] for line in out.splitlines()] == ["abcdef", "abc"]
    assert "rnnkit: note: the best output of 2 of 2 texts reached the length limit" in err
    status, out, err = run_cli("predict", runs["reverse"], "abcdef", "abc")
    assert status == 0 and "length limit" not in err
    status, out, err = run_cli(
        "eval", runs["reverse"], "--data", runs["valid"], "--json", "--max-length-ratio", "0.3"
    )
    assert status == 0, err
    assert json.loads(out)["exact_match"] == 0.0  # every reference is longer than the cut
    for ratio in ("0", "1e300", "101"):
        status, out, err = run_cli("predict", runs["reverse"], "abc", "--max-length-ratio", ratio)
        assert_one_line_error(status, err, "--max-length-ratio")
        assert out == ""
    assert "must be at most 100" in err


def test_unknown_tokens_are_read_as_unk_and_said_once(runs) -> None:
    status, out, err = run_cli("predict", runs["reverse"], "ab#", "#z")
    assert status == 0, err
    assert len(out.splitlines()) == 2
    assert err.count("\n") == 1 and "<unk>" in err and "'#'" in err and "'z'" in err
    assert "2 source tokens not seen in training were read as <unk>" in err
    status, _, err = run_cli("predict", runs["reverse"], "ab#")
    assert status == 0 and "1 source token not seen in training was read as <unk>: '#'" in err


@pytest.mark.parametrize(
    "flags, fragment",
    [
        (["--beam", "0"], "--beam"),
        (["--beam", "two"], "--beam"),
        (["--nbest", "3", "--beam", "2"], "--nbest 3 needs --beam"),
        (["--alpha", "-1"], "--alpha"),
    ],
)
def test_bad_search_flags_are_one_line(runs, flags: list[str], fragment: str) -> None:
    status, out, err = run_cli("predict", runs["reverse"], "abc", *flags)
    assert_one_line_error(status, err, fragment)
    assert out == ""


def test_a_blank_line_gets_a_blank_answer_in_its_place(
    runs, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As the classifier and the tagger answer: a note naming the line, an empty answer, so
    # that output line i stays that of input line i.
    alone = [run_cli("predict", runs["reverse"], text)[1] for text in ("abc", "de")]
    monkeypatch.setattr("sys.stdin", io.StringIO("abc\n\nde\n \t\n"))
    status, out, err = run_cli("predict", runs["reverse"])
    assert status == 0, err
    assert out == alone[0] + "\n" + alone[1] + "\n"
    assert "rnnkit: note: stdin line 2 is empty; no output\n" in err
    assert "rnnkit: note: stdin line 4 is empty; no output\n" in err
    listed = runs["folder"] / "with-blanks.txt"
    listed.write_text("abc\n\nde\n", encoding="utf-8")
    status, out, err = run_cli("predict", runs["reverse"], "--input", listed, "--json")
    assert status == 0, err
    records = [json.loads(line) for line in out.splitlines()]
    assert [r["text"] for r in records] == ["abc", "", "de"]
    assert records[1]["outputs"] == [] and all(r["outputs"] for r in records[::2])
    assert f"{listed} line 2 is empty" in err
    # --nbest N: N lines a text, blank ones for a blank text, so a reader stays in step.
    status, out, err = run_cli("predict", runs["reverse"], "--input", listed, "--beam", "3",
                               "--nbest", "2")  # fmt: skip
    assert status == 0, err
    lines = out.split("\n")[:-1]
    assert len(lines) == 6 and lines[2:4] == ["", ""] and all(lines[:2] + lines[4:]), out


def test_only_blank_lines_answer_blank_and_no_lines_is_one_line(
    runs, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("\n\n"))
    status, out, err = run_cli("predict", runs["reverse"])
    assert status == 0, err
    assert out == "\n\n" and err.count("is empty; no output") == 2
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    assert_one_line_error(*run_cli("predict", runs["reverse"])[::2], "no texts")


def test_plot_attention_draws_a_png_per_text(runs) -> None:
    pytest.importorskip("matplotlib")
    png = runs["folder"] / "attention.png"
    status, out, err = run_cli("predict", runs["reverse"], "abc", "fade", "--plot-attention", png)
    assert status == 0, err
    second = png.with_name("attention-2.png")
    for path in (png, second):
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert f"drawn in {png}" in out and f"drawn in {second}" in out


def test_attention_draws_source_across_and_one_output_token_a_row(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A <unk> output is one row, not the five characters of its text.
    pytest.importorskip("matplotlib")
    from rnnkit.cli import predict_seq2seq
    from rnnkit.train.tasks.seq2seq import transduce

    trained = unknown_writer()
    output = transduce(trained, ["xy"])[0][0][0]
    drawn = []
    monkeypatch.setattr(predict_seq2seq, "save_figure", lambda figure, path: drawn.append(figure))
    predict_seq2seq.draw_attention(trained, "xy", output, Path("unused.png"))
    (axes,) = drawn[0].axes
    assert [t.get_text() for t in axes.get_xticklabels()] == ["x", "y"]
    assert [t.get_text() for t in axes.get_yticklabels()] == ["<unk>", "<unk>"]
    assert axes.get_xlabel() == "source" and axes.get_ylabel() == "output"
    np.testing.assert_array_equal(axes.images[0].get_array(), output["attention"])


def test_plot_attention_needs_a_model_with_attention(runs) -> None:
    status, out, err = run_cli("predict", runs["g2p"], "abc", "--plot-attention", "x.png")
    assert_one_line_error(status, err, "--plot-attention needs a model with attention")


def test_eval_json_reports_the_measures(runs) -> None:
    status, out, err = run_cli("eval", runs["reverse"], "--data", runs["valid"], "--json")
    assert status == 0, err
    report = json.loads(out)
    for name in ("exact_match", "token_accuracy", "token_error_rate"):
        assert 0.0 <= report[name] <= 1.0 + (name == "token_error_rate") * 10
    assert report["error_rate_name"] == "CER"
    assert report["sources"] == report["pairs"] == 20
    assert "bleu" not in report  # character targets
    assert report["sequence_error_rate"] == pytest.approx(1 - report["exact_match"])
    status, text, err = run_cli("eval", runs["reverse"], "--data", runs["valid"], "--beam", "3")
    assert status == 0, err
    assert "exact match" in text and "token error rate (CER)" in text


def test_eval_without_rapidfuzz_gives_exact_match_and_says_what_is_missing(
    runs, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "rapidfuzz", None)
    monkeypatch.setitem(sys.modules, "rapidfuzz.distance", None)
    status, out, err = run_cli("eval", runs["reverse"], "--data", runs["valid"])
    assert status == 0, err
    assert "exact match" in out and "token" not in out
    assert err == (
        "rnnkit: note: token accuracy and the token error rate need rapidfuzz: "
        'pip install "rnnkit[seq2seq]"\n'
    )
    status, out, err = run_cli("eval", runs["reverse"], "--data", runs["valid"], "--json")
    assert status == 0 and set(json.loads(out)) >= {"exact_match", "sequence_error_rate"}


def test_eval_help_names_the_seq2seq_measures_and_data() -> None:
    status, out, _ = run_cli("eval", "--help")
    assert status == 0
    text = " ".join(out.split())
    assert "exact match, token accuracy, token error rate (PER, CER or WER)" in text
    assert "pairs (seq2seq)" in text


def test_eval_of_a_dictionary_follows_the_g2p_protocol(runs) -> None:
    status, out, err = run_cli("eval", runs["g2p"], "--data", runs["held_out"], "--json")
    assert status == 0, err
    report = json.loads(out)
    assert report["error_rate_name"] == "PER"
    assert "bleu" in report  # word (phoneme) targets
    # Every fifth word has two pronunciations: scored once per word, against both.
    assert report["pairs"] == 36 and report["sources"] <= 30


def test_eval_of_a_malformed_file_is_one_line(runs) -> None:
    bad = runs["folder"] / "bad.tsv"
    bad.write_text("abc\tcba\nno tab here\n", encoding="utf-8")
    status, _, err = run_cli("eval", runs["reverse"], "--data", bad, "--pair-format", "tsv")
    assert_one_line_error(status, err, "bad.tsv", "2")
    assert "--pair-format" not in err  # given: the format is the user's own choice


def test_pairs_in_another_format_than_trained_point_to_pair_format(runs, tmp_path) -> None:
    run = tmp_path / "tsv"
    status, _, err = run_cli(
        "train", "--task", "seq2seq", "--train", runs["folder"] / "train.tsv", "--valid",
        runs["valid"], "--format", "tsv", "--out", run, "--embedding-size", "8",
        "--hidden-size", "8", "--max-steps", "2", "--threads", "1",
    )  # fmt: skip
    assert status == 0, err
    dlfs2 = tmp_path / "valid.txt"
    dlfs2.write_text("abc_cba\nfed_def\n", encoding="utf-8")
    status, out, err = run_cli("eval", run, "--data", dlfs2)
    assert_one_line_error(status, err, "valid.txt:1", "read as tsv", "--pair-format")
    assert out == ""
    status, out, err = run_cli("eval", run, "--data", dlfs2, "--pair-format", "dlfs2", "--json")
    assert status == 0, err
    assert json.loads(out)["pairs"] == 2


def test_held_out_pairs_unlike_the_training_pairs_are_one_line(runs, tmp_path: Path) -> None:
    dlfs2 = tmp_path / "valid.txt"
    dlfs2.write_text("abc_cba\nfed_def\n", encoding="utf-8")
    train = runs["folder"] / "train.tsv"
    status, out, err = run_cli(
        "train", "--task", "seq2seq", "--train", train, "--valid", dlfs2, "--out",
        tmp_path / "run", "--max-steps", "1", "--threads", "1",
    )  # fmt: skip
    assert_one_line_error(
        status, err, f"{dlfs2} looks like dlfs2 pairs", f"but {train} like tsv", "--format"
    )
    assert out == "" and not (tmp_path / "run").exists()


def test_a_file_whose_lines_look_like_two_formats_names_them(runs, tmp_path: Path) -> None:
    mixed = tmp_path / "mixed.txt"
    mixed.write_text("abc cba\nabc_cba\n", encoding="utf-8")
    status, out, err = run_cli(
        "train", "--task", "seq2seq", "--train", mixed, "--out", tmp_path / "run",
        "--max-steps", "1", "--threads", "1",
    )  # fmt: skip
    assert_one_line_error(status, err, "mixed.txt: line 1 looks like dictionary", "line 2 like")
    assert "set --format to" in err
    status, out, err = run_cli("eval", runs["reverse"], "--data", mixed)
    assert_one_line_error(status, err, "mixed.txt: line 1", "give --pair-format")
    assert "--format" not in err  # the classifier's flag, not eval's for pairs


@pytest.mark.parametrize(
    "flags, fragment",
    [
        # the encoder is bidirectional by default: the fix is the flag a user types
        (["--attention", "dot"], "dot scores need the encoder's outputs as wide as the "
         "decoder's: a one-direction encoder (--no-bidirectional)"),  # fmt: skip
        (["--attention", "none", "--input-feeding"], "--input-feeding: needs attention"),
        (["--tie-embeddings"], "--tie-embeddings: --embedding-size must equal"),
    ],
)
def test_settings_that_do_not_fit_together_are_one_line(
    tmp_path: Path, flags: list[str], fragment: str
) -> None:
    # The model names the settings a conflict involves; the command line writes them as
    # the flags a user types, not "bidirectional False" or "embedding_size".
    train = write_reversals(tmp_path / "train.tsv", 20, 0)
    status, _, err = run_cli(
        "train", "--task", "seq2seq", "--train", train, "--valid", train, *flags,
        "--out", tmp_path / "run", "--max-steps", "1",
    )  # fmt: skip
    assert_one_line_error(status, err, fragment)


@pytest.mark.parametrize(
    "last_line, flags, fragments",
    [
        ("abc cba", [], ["train.tsv:21: expected source<TAB>target, found no tab"]),
        ("abc\t", [], ["train.tsv:21: the target is empty; fill it in or remove the line"]),
        ("\tcba", [], ["train.tsv:21: the source is empty"]),
        (
            "abcdefgh\thgfedcba",
            ["--max-source-length", "6"],
            ["train.tsv:21: the source has 8 tokens", "--truncate-source"],
        ),
    ],
)
def test_bad_training_pairs_are_one_line_and_write_no_run(
    tmp_path: Path, last_line: str, flags: list[str], fragments: list[str]
) -> None:
    train = write_reversals(tmp_path / "train.tsv", 20, 0)
    with train.open("a", encoding="utf-8") as file:
        file.write(last_line + "\n")
    status, out, err = run_cli(
        "train", "--task", "seq2seq", "--train", train, "--out", tmp_path / "run",
        "--max-steps", "1", "--threads", "1", *flags,
    )  # fmt: skip
    assert_one_line_error(status, err, *fragments)
    assert out == "" and not (tmp_path / "run").exists()


def test_no_validation_pairs_is_one_line_naming_the_flags(tmp_path: Path) -> None:
    """Seq2seq keeps its best model by validation: --val-fraction 0 without --valid is
    refused as such (not as "too few sources to hold out 0%"), and writes no run."""
    train = write_reversals(tmp_path / "train.tsv", 20, 0)
    status, _, err = run_cli(
        "train", "--task", "seq2seq", "--train", train, "--val-fraction", "0",
        "--out", tmp_path / "run", "--max-steps", "1",
    )  # fmt: skip
    assert_one_line_error(status, err, "--val-fraction 0 holds out no", "--valid file")
    assert not (tmp_path / "run").exists()


def test_texts_may_follow_the_flags(runs) -> None:
    expected = run_cli("predict", runs["reverse"], "abc", "de", "--beam", "3")
    status, out, err = run_cli("predict", runs["reverse"], "--beam", "3", "abc", "de")
    assert status == expected[0] == 0, err
    assert out == expected[1]
    status, out, err = run_cli("predict", runs["reverse"], "--beam", "3", "--", "-abc")
    assert status == 0, err
    assert out.split("\t")[-1] == "-abc\n"  # after "--", a text may start with a dash
    status, _, err = run_cli("predict", runs["reverse"], "--beam", "3", "abc", "--bogus")
    assert_one_line_error(status, err, "unrecognized arguments: --bogus")
    assert "abc" not in err  # the text is not named as unrecognized


def test_an_ensemble_decodes_with_the_mean_of_its_models(runs) -> None:
    from rnnkit.train.tasks.seq2seq import load_ensemble, load_seq2seq, transduce

    folders = [runs["reverse"] / "best", runs["reverse_seed_1"] / "best"]
    status, out, err = run_cli(
        "predict", runs["reverse"], "--ensemble", runs["reverse_seed_1"], "--beam", "3",
        "--nbest", "2", "--json", "abca", "fed",
    )  # fmt: skip
    assert status == 0, err
    records = [json.loads(line) for line in out.splitlines()]
    both, _ = transduce(load_ensemble(folders), ["abca", "fed"], 3, 0.0, 2)
    alone, _ = transduce(load_seq2seq(folders[0]), ["abca", "fed"], 3, 0.0, 2)
    for record, mine, first in zip(records, both, alone, strict=True):
        assert [o["text"] for o in record["outputs"]] == [h["text"] for h in mine]
        for output, hypothesis in zip(record["outputs"], mine, strict=True):
            assert output["log_prob"] == pytest.approx(hypothesis["log_prob"], rel=1e-6)
        assert [h["log_prob"] for h in mine] != [h["log_prob"] for h in first]
    status, out, err = run_cli(
        "eval", runs["reverse"], "--data", runs["valid"], "--ensemble", runs["reverse_seed_1"],
        "--json",
    )  # fmt: skip
    assert status == 0, err
    assert 0.0 <= json.loads(out)["exact_match"] <= 1.0


def test_an_ensemble_of_other_vocabularies_is_one_line(runs) -> None:
    status, _, err = run_cli("predict", runs["reverse"], "--ensemble", runs["g2p"], "abc")
    assert_one_line_error(status, err, "g2p", "vocabularies")
    status, _, err = run_cli(
        "eval", runs["reverse"], "--data", runs["valid"], "--ensemble", runs["folder"] / "none"
    )
    assert_one_line_error(status, err, "none")


def test_last_weights_decode_beside_the_best_model(runs, tmp_path: Path) -> None:
    from rnnkit.data.parallel import read_parallel
    from rnnkit.train.tasks.seq2seq import evaluate_pairs, load_ensemble, transduce

    # With a moving average, the best model holds averaged weights and the run folder the
    # raw ones training ended with, so the two members always differ.
    run = tmp_path / "averaged"
    status, _, err = run_cli(
        "train", "--task", "seq2seq", "--train", runs["folder"] / "train.tsv", "--valid",
        runs["valid"], "--attention", "dot", "--no-bidirectional", "--ema", "0.5",
        "--out", run, *TINY,
    )  # fmt: skip
    assert status == 0, err
    texts = ["abca", "fed"]
    outputs = {}
    for flags in ([], ["--last-weights"]):
        status, out, err = run_cli("predict", run, *flags, "--beam", "3", "--json", *texts)
        assert status == 0, err
        outputs[bool(flags)] = [json.loads(line)["outputs"][0] for line in out.splitlines()]
    both, _ = transduce(load_ensemble([run / "best", run]), texts, 3)
    for output, mine in zip(outputs[True], both, strict=True):
        assert output["text"] == mine[0]["text"]
        assert output["log_prob"] == pytest.approx(mine[0]["log_prob"], rel=1e-6)
    assert [o["log_prob"] for o in outputs[True]] != [o["log_prob"] for o in outputs[False]]
    # A checkpoint folder holds one model: --last-weights adds nothing for it, and says so.
    plain = run_cli("predict", run / "best", "--beam", "3", *texts)
    status, out, err = run_cli("predict", run / "best", "--last-weights", "--beam", "3", *texts)
    assert status == 0 and out == plain[1]
    assert f"--last-weights adds nothing for {run / 'best'}" in err
    # With --ensemble, every run gives its two members; a run given as its best folder one.
    status, out, err = run_cli(
        "eval", run, "--data", runs["valid"], "--ensemble", runs["reverse"], "--ensemble",
        run / "best", "--last-weights", "--json",
    )  # fmt: skip
    assert status == 0, err
    reverse = runs["reverse"]
    members = load_ensemble([run / "best", run, reverse / "best", reverse, run / "best"])
    expected = evaluate_pairs(members, read_parallel(runs["valid"]))
    assert json.loads(out)["exact_match"] == pytest.approx(expected["exact_match"])
    assert json.loads(out)["token_error_rate"] == pytest.approx(expected["token_error_rate"])


def test_a_source_past_the_models_limit_is_named_or_cut_with_a_note(runs, tmp_path: Path) -> None:
    long_text = "abc" * 80  # 240 tokens, past the default max_source_length of 200
    status, _, err = run_cli("predict", runs["reverse"], "ab", long_text)
    assert_one_line_error(status, err, "text 2", "240 tokens", "shorten it")
    assert long_text not in err
    data = tmp_path / "long.tsv"
    data.write_text(f"ab\tba\n{long_text}\t{long_text[::-1]}\n", encoding="utf-8")
    status, _, err = run_cli("eval", runs["reverse"], "--data", data)
    assert_one_line_error(status, err, "long.tsv:2", "240 tokens")
    # A model trained to cut its longer sources cuts them at predict and eval too, and says so.
    run = tmp_path / "cut"
    status, out, err = run_cli(
        "train", "--task", "seq2seq", "--train", runs["folder"] / "train.tsv", "--valid",
        runs["valid"], "--max-source-length", "3", "--truncate-source", "--out", run, *TINY,
    )  # fmt: skip
    assert status == 0, err
    status, out, err = run_cli("predict", run, "abcdef", "ab", "fedcba")
    assert status == 0, err
    assert len(out.splitlines()) == 3
    assert "rnnkit: note: 2 sources longer than 3 tokens were cut" in err
    status, out, err = run_cli("eval", run, "--data", data)
    assert status == 0, err
    assert "rnnkit: note: 1 source longer than 3 tokens was cut" in err


@pytest.mark.parametrize(
    "where, named, reason",
    [
        ("no such folder/attention.png", "no such folder/attention.png", "no such file"),
        ("a file/attention.png", "a file/attention.png", "not a directory"),
        ("a folder", "a folder", "is a directory"),
        ("texts.png", "texts-2.png", "is a directory"),  # the second text's picture
    ],
)
def test_an_attention_plot_that_cannot_be_written_is_refused_before_any_work(
    runs, tmp_path: Path, where: str, named: str, reason: str
) -> None:
    (tmp_path / "a file").write_text("mine\n", encoding="utf-8")
    (tmp_path / "a folder").mkdir()
    (tmp_path / "texts-2.png").mkdir()
    before = sorted(tmp_path.rglob("*"))
    target = tmp_path / where
    status, out, err = run_cli(
        "predict", runs["reverse"], "abc", "fade", "--plot-attention", target
    )
    assert_one_line_error(status, err, f"{tmp_path / named}: {reason}")
    assert out == ""
    assert sorted(tmp_path.rglob("*")) == before
    assert (tmp_path / "a file").read_text(encoding="utf-8") == "mine\n"


def test_a_blank_text_draws_no_attention_and_keeps_the_numbers(runs, tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    png = tmp_path / "attention.png"
    status, out, err = run_cli("predict", runs["reverse"], "abc", "", "fade", "--plot-attention",
                               png, "--json")  # fmt: skip
    assert status == 0, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["attention-3.png", "attention.png"]
    assert "text 2 is empty; no output" in err


def test_a_word_level_source_reads_raw_text_split_as_its_training_words(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    words = ["ab", "cd", "ef", ","]
    sources = [" ".join(rng.choice(words, int(rng.integers(2, 5)))) for _ in range(60)]
    train = tmp_path / "train.tsv"
    train.write_text("".join(f"{s}\t{' '.join(s.split()[::-1])}\n" for s in sources))
    status, _, err = run_cli(
        "train", "--task", "seq2seq", "--train", train, "--source-tokenizer", "word",
        "--target-tokenizer", "word", "--out", tmp_path / "run", *TINY,
    )  # fmt: skip
    assert status == 0, err
    status, out, err = run_cli("predict", tmp_path / "run", "ab, cd")
    assert status == 0, err
    assert out.split("\t")[-1] == "ab, cd\n"  # the text as given
    assert "<unk>" not in err  # "ab," read as ab and ,: words of the training sources
    status, out, err = run_cli("predict", "--pretokenized", tmp_path / "run", "ab, cd")
    assert status == 0, err
    assert "1 source token not seen in training was read as <unk>: 'ab,'" in err
    if importlib.util.find_spec("matplotlib") is not None:  # the picture's note too
        png = tmp_path / "a.png"
        status, out, err = run_cli("predict", tmp_path / "run", "ab, cd", "--plot-attention", png)
        assert status == 0, err
        assert f"attention of 'ab, cd' drawn in {png}" in out


def test_pretokenized_is_refused_for_a_model_that_reads_characters(runs) -> None:
    status, _, err = run_cli("predict", "--pretokenized", runs["reverse"], "abc")
    assert_one_line_error(status, err, "--pretokenized: for models that read words", "characters")
