"""``rnnkit sample`` and ``rnnkit eval`` on a trained run; the streaming decoder."""

from __future__ import annotations

import io
import json
import math
import unicodedata
from pathlib import Path

import pytest

from rnnkit.cli.sample import TextStream, prime_tokens, write_sample
from rnnkit.data.tokenizers import make_tokenizer, tokenizer_from_dict
from rnnkit.errors import UserError
from rnnkit.models import LanguageModel
from rnnkit.train import evaluate_language_model
from rnnkit.train.tasks.language_model import load_language_model
from tests.cli.cli_helpers import TINY, run_cli, sentences, write_corpus


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A char run and a word run, a few steps each."""
    folder = tmp_path_factory.mktemp("runs")
    data = write_corpus(folder, count=200)
    made = {}
    for kind in ("char", "word"):
        made[kind] = folder / kind
        status, _, err = run_cli(
            "train", "--data", data, "--out", made[kind], "--tokenizer", kind,
            "--max-steps", "6", *TINY,
        )  # fmt: skip
        assert status == 0, err
    made["data"] = data
    return made


def test_sample_streams_the_prime_then_length_characters(runs: dict[str, Path]) -> None:
    status, out, _ = run_cli("sample", runs["char"], "--prime", "the cat", "--length", "40")
    assert status == 0
    assert out.startswith("the cat")
    # One character per token, and a final line break if the text did not end with one.
    body = out[len("the cat") :]
    assert len(body) in (40, 41) and out.endswith("\n")


def test_sample_is_reproducible_with_a_seed(runs: dict[str, Path]) -> None:
    def sample(*flags: str) -> str:
        return run_cli("sample", runs["char"], "--length", "60", *flags)[1]

    assert sample("--seed", "3") == sample("--seed", "3")
    assert sample("--seed", "3") != sample("--seed", "4")
    greedy = sample("--temperature", "0", "--seed", "1")
    assert greedy == sample("--temperature", "0", "--seed", "2")
    assert sample("--top-k", "1", "--seed", "5") == greedy


def test_word_sample_reads_unknown_prime_words_as_unk(runs: dict[str, Path]) -> None:
    status, out, err = run_cli(
        "sample", runs["word"], "--prime", "the zebra sat", "--length", "5", "--seed", "0"
    )
    assert status == 0
    assert err == "rnnkit: note: --prime words read as <unk>: 'zebra'\n"
    assert out.startswith("the <unk> sat")
    # Five tokens: words of the vocabulary, or <eos> shown as line breaks.
    generated = out[len("the <unk> sat") :].split()
    vocab = load_language_model(runs["word"] / "best")[1].vocab
    assert len(generated) <= 5 and all(word in vocab for word in generated)


def test_eval_json_and_text(runs: dict[str, Path]) -> None:
    status, out, _ = run_cli("eval", runs["char"], "--data", runs["data"], "--json")
    assert status == 0
    report = json.loads(out)
    assert set(report) == {
        "loss", "bits_per_char", "tokens", "characters", "unknown_tokens", "unknown_rate",
        "comparable",
    }  # fmt: skip
    assert (report["unknown_tokens"], report["unknown_rate"], report["comparable"]) == (0, 0, True)
    # A character model's tokens are the characters: bits per token and per character agree.
    assert report["characters"] == report["tokens"]
    assert report["bits_per_char"] == pytest.approx(report["loss"] / math.log(2))
    # The same number the library computes with the run's best model and settings.
    model, tokenizer, config = load_language_model(runs["char"] / "best")
    ids = tokenizer.encode(runs["data"].read_text())
    loss, tokens = evaluate_language_model(model, ids, 4, 16)
    assert (report["loss"], report["tokens"]) == (pytest.approx(loss), tokens)

    status, out, _ = run_cli("eval", runs["word"], "--data", runs["data"], "--json")
    report = json.loads(out)
    assert set(report) == {
        "loss", "perplexity", "tokens", "unknown_tokens", "unknown_rate", "comparable",
    }  # fmt: skip
    assert report["perplexity"] == pytest.approx(math.exp(report["loss"]))

    status, out, err = run_cli("eval", runs["char"], "--data", runs["data"])
    assert status == 0 and out.count("\n") == 1 and err == ""
    assert "bits/char" in out and f"{tokens:,} tokens, 0 unknown (0.00%)" in out


def test_eval_max_tokens_scores_the_first_steps_of_every_stream(runs: dict[str, Path]) -> None:
    status, out, _ = run_cli(
        "eval", runs["char"], "--data", runs["data"], "--max-tokens", "100", "--json"
    )
    assert status == 0
    report = json.loads(out)
    model, tokenizer, _ = load_language_model(runs["char"] / "best")
    ids = tokenizer.encode(runs["data"].read_text())
    loss, tokens = evaluate_language_model(model, ids, 4, 16, max_tokens=100)
    assert 100 <= tokens < 100 + 4  # 4 streams, each read for ceil(100 / 4) steps
    assert (report["loss"], report["tokens"]) == (pytest.approx(loss), tokens)


def test_eval_scores_unseen_characters_as_unk(runs: dict[str, Path], tmp_path: Path) -> None:
    # Held-out text with characters the model never saw ('%', '@', '$'), once refused.
    text = runs["data"].read_text()
    few, many = tmp_path / "few.txt", tmp_path / "many.txt"
    few.write_text(text.replace("cat", "c@t", 3).replace("mat", "m$t%", 2))
    many.write_text(text.replace("a", "@"))
    status, out, err = run_cli("eval", runs["char"], "--data", few, "--json")
    assert status == 0, err
    report = json.loads(out)
    assert report["unknown_tokens"] == 7
    assert report["unknown_rate"] == pytest.approx(7 / report["tokens"])
    assert report["comparable"] is True and "note" not in report

    status, out, err = run_cli("eval", runs["char"], "--data", many, "--json")
    assert status == 0, err
    report = json.loads(out)
    assert report["unknown_rate"] > 0.05 and report["comparable"] is False
    assert "not comparable" in report["note"]
    status, out, err = run_cli("eval", runs["char"], "--data", many)
    assert status == 0 and out.count("\n") == 1
    assert f"{report['unknown_tokens']:,} unknown ({report['unknown_rate']:.2%})" in out
    assert err.startswith("rnnkit: note: not comparable: ") and err.count("\n") == 1


def test_eval_counts_unseen_words_not_the_texts_own_unk(
    runs: dict[str, Path], tmp_path: Path
) -> None:
    text = runs["data"].read_text()
    marked, unseen = tmp_path / "marked.txt", tmp_path / "unseen.txt"
    marked.write_text(text.replace("cat", "<unk>"))  # as the Penn Treebank files do
    unseen.write_text(text.replace("cat", "zebra"))
    status, out, err = run_cli("eval", runs["word"], "--data", marked, "--json")
    assert status == 0, err
    report = json.loads(out)
    assert (report["unknown_tokens"], report["comparable"]) == (0, True)
    status, out, err = run_cli("eval", runs["word"], "--data", unseen, "--json")
    zebras = json.loads(out)["unknown_tokens"]
    assert 0 < zebras <= text.count("cat")
    # The same loss either way: zebra and a literal <unk> are both read as <unk>.
    assert json.loads(out)["loss"] == report["loss"]


def test_sample_reads_unseen_prime_characters_as_unk(runs: dict[str, Path]) -> None:
    status, out, err = run_cli(
        "sample", runs["char"], "--prime", "the \u00e9t\u00e9 Z", "--length", "10", "--seed", "0"
    )
    assert status == 0, err
    assert err == "rnnkit: note: --prime characters read as <unk>: '\u00e9', 'Z'\n"
    # The prime as the model read it: <unk> shows as U+FFFD.
    assert out.startswith("the \ufffdt\ufffd \ufffd")
    assert len(out) in (len("the \u00e9t\u00e9 Z") + 10, len("the \u00e9t\u00e9 Z") + 11)


def test_a_prime_the_vocabulary_of_an_old_run_cannot_read_is_refused() -> None:
    # A character vocabulary saved before <unk> was reserved has nothing to read it as.
    old = tokenizer_from_dict({"kind": "char", "vocab": [" ", "a", "t"]})
    with pytest.raises(UserError) as info:
        prime_tokens(old, "a tZ")
    assert str(info.value).startswith("--prime: 1 character is not in the vocabulary: 'Z'")
    assert "retrain" in str(info.value)
    assert prime_tokens(old, "a t") == ([1, 0, 2], True)


@pytest.mark.parametrize("kind", ["char", "word", "jamo"])
def test_text_stream_writes_exactly_the_decoded_text(kind: str) -> None:
    # Token by token, what has been written must always be a prefix of the final text
    # (nothing written is ever taken back), and in the end it is all of it.
    text = (
        sentences(count=5)
        + "\ud55c\uad6d\uc5b4 \ud14d\uc2a4\ud2b8\uc785\ub2c8\ub2e4 \uac01\n\uac00\ub098"
    )
    tokenizer = make_tokenizer(kind).fit(text)
    ids = list(tokenizer.encode(text))
    out = io.StringIO()
    stream = TextStream(tokenizer, out, ids[:3], echo=True)
    expected = tokenizer.decode(ids)
    for token in ids[3:]:
        stream.push(token)
        assert expected.startswith(out.getvalue())
    stream.close()
    assert out.getvalue() == expected + ("" if expected.endswith("\n") else "\n")
    if kind == "jamo":
        assert out.getvalue() == unicodedata.normalize("NFC", out.getvalue())


def test_a_sample_never_holds_the_characters_unk() -> None:
    """A barely trained model may favour ``<unk>`` (written U+FFFD): no training text holds
    it, so it is never drawn; a word vocabulary's ``<unk>`` is a word and may be."""
    tokenizer = make_tokenizer("char").fit("a cat sat")
    model = LanguageModel(tokenizer.vocab_size, embedding_size=4, hidden_size=4, rng=0)
    model.decoder.params["bias"][tokenizer.unknown_id] += 50.0
    out = io.StringIO()
    write_sample(model, tokenizer, 40, prime="a", seed=0, out=out)
    assert len(out.getvalue()) == 42 and "\ufffd" not in out.getvalue()
