"""Corpora larger than memory: a text streamed in chunks (``TextStream``), its token ids in a
memory-mapped cache file (``token_cache``), and training on them."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from rnnkit.data.fingerprint import fingerprint
from rnnkit.data.lm_batches import StreamBatcher, split_train_val
from rnnkit.data.text import read_text
from rnnkit.data.text_stream import TextStream
from rnnkit.data.token_cache import (
    cached_ids,
    cached_vocabulary,
    token_dtype,
    token_ids,
    unknown_flags,
)
from rnnkit.data.tokenizers import make_tokenizer
from rnnkit.errors import UserError
from rnnkit.models import LanguageModel
from rnnkit.train import Budget, LMSettings, LMTrainer, load_checkpoint
from tests.cli.cli_helpers import run_cli, sentences

# Chunks of a few bytes, so every boundary case (a "\r\n" cut in two, a character's bytes
# cut in two, a line cut in two) happens many times in a small text.
SMALL_CHUNKS = 7
ODD_TEXT = (
    "\ufeffL\u00e9t\u00e9 \u00e0 Paris\r\nhello\r\rw\u00f6rld  \n"
    "\ud55c\uad6d\uc5b4 \ud14d\uc2a4\ud2b8\r\n\n tail"
)


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding, "surrogatepass"))
    return path


@pytest.mark.parametrize("chunk", [1, 2, 3, SMALL_CHUNKS, 1 << 20])
@pytest.mark.parametrize("encoding", ["utf-8", "utf-16", "latin-1"])
def test_the_pieces_joined_are_read_text(tmp_path: Path, chunk: int, encoding: str) -> None:
    text = ODD_TEXT if encoding != "latin-1" else ODD_TEXT.encode("latin-1", "replace").decode(
        "latin-1"
    )
    path = write(tmp_path / "a.txt", text, encoding)
    stream = TextStream(path, encoding, chunk_bytes=chunk)
    assert "".join(stream) == read_text(path, encoding)
    assert stream.fingerprint() == fingerprint(read_text(path, encoding))


def test_a_folder_streams_as_read_text_reads_it(tmp_path: Path) -> None:
    write(tmp_path / "b.txt", "second\r\nfile")
    write(tmp_path / "a.txt", ODD_TEXT)
    (tmp_path / "c.bin").write_bytes(b"binary\x00data")
    (tmp_path / ".hidden.txt").write_text("hidden")
    (tmp_path / "sub").mkdir()
    write(tmp_path / "sub" / "d.txt", "deeper\n")
    stream = TextStream(tmp_path, chunk_bytes=SMALL_CHUNKS)
    assert "".join(stream) == read_text(tmp_path)


def error_of(call) -> str:
    with pytest.raises(UserError) as caught:
        call()
    return str(caught.value)


@pytest.mark.parametrize(
    "content",
    [b"", b"  \n\t ", b"text\x00more", b"abc\xffdef", b"ok " * 10 + b"\xc3", b"\xe9t\xe9"],
)
def test_bad_input_is_refused_as_read_text_refuses_it(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "bad.txt"
    path.write_bytes(content)
    expected = error_of(lambda: read_text(path))
    assert error_of(lambda: "".join(TextStream(path, chunk_bytes=SMALL_CHUNKS))) == expected


def test_a_missing_path_and_an_empty_folder_are_refused(tmp_path: Path) -> None:
    assert "does not exist" in error_of(lambda: TextStream(tmp_path / "nothing"))
    (tmp_path / "empty").mkdir()
    assert "holds no text files" in error_of(lambda: TextStream(tmp_path / "empty"))


@pytest.mark.parametrize("kind", ["char", "word", "jamo"])
def test_cached_ids_are_the_ids_of_the_text(tmp_path: Path, kind: str) -> None:
    path = write(tmp_path / "a.txt", (ODD_TEXT + "\n") * 20 + "\u2028 last line")
    text = read_text(path)
    stream = TextStream(path, chunk_bytes=SMALL_CHUNKS)
    tokenizer = make_tokenizer(kind).fit(stream)
    assert tokenizer.vocab == make_tokenizer(kind).fit(text).vocab
    ids, file, reused = cached_ids(stream, tokenizer, tmp_path / "cache")
    assert not reused and isinstance(ids, np.memmap) and ids.dtype == np.uint8
    np.testing.assert_array_equal(ids, tokenizer.encode(text))


def test_the_dtype_follows_the_vocabulary() -> None:
    assert token_dtype(256) == np.uint8
    assert token_dtype(257) == np.uint16
    assert token_dtype(65536) == np.uint16
    assert token_dtype(65537) == np.uint32


def test_a_large_vocabulary_takes_uint16(tmp_path: Path) -> None:
    text = "".join(chr(0x4E00 + i) for i in range(600)) * 3
    path = write(tmp_path / "a.txt", text)
    stream = TextStream(path)
    tokenizer = make_tokenizer("char").fit(stream)
    ids = token_ids(stream, tokenizer, tmp_path / "cache")
    assert ids.dtype == np.uint16
    np.testing.assert_array_equal(ids, tokenizer.encode(text))


def test_the_cache_is_reused_and_rebuilt_when_stale(tmp_path: Path) -> None:
    path = write(tmp_path / "a.txt", sentences(200))
    cache = tmp_path / "cache"
    tokenizer = make_tokenizer("word").fit(TextStream(path))
    first, file, reused = cached_ids(TextStream(path), tokenizer, cache)
    assert not reused
    expected = np.array(first)
    again, same_file, reused = cached_ids(TextStream(path), tokenizer, cache)
    assert reused and same_file == file
    np.testing.assert_array_equal(again, expected)
    record_path = file.with_suffix(".json")
    record = json.loads(record_path.read_text())

    # A foreign record (another text's fingerprint), a truncated ids file, a damaged record,
    # ids overwritten in place past the vocabulary (training would index past the table):
    # each is found out and the entry built again.
    assert tokenizer.vocab_size < 0xFF and expected.dtype == np.uint8
    for spoil in (
        lambda: record_path.write_text(json.dumps({**record, "data_sha256": "0" * 64})),
        lambda: file.write_bytes(file.read_bytes()[:-3]),
        lambda: record_path.write_text("{not json"),
        lambda: file.write_bytes(file.read_bytes()[:-1] + b"\xff"),
    ):
        spoil()
        rebuilt, _, reused = cached_ids(TextStream(path), tokenizer, cache)
        assert not reused
        np.testing.assert_array_equal(rebuilt, expected)

    # Other text: another fingerprint, another entry.
    write(path, sentences(200, seed=1))
    other, other_file, reused = cached_ids(TextStream(path), tokenizer, cache)
    assert not reused and other_file != file


def test_the_vocabulary_is_cached_too(tmp_path: Path) -> None:
    path = write(tmp_path / "a.txt", sentences(50))
    cache = tmp_path / "cache"
    tokenizer = make_tokenizer("word", max_vocab=5)
    vocab = cached_vocabulary(TextStream(path), tokenizer, cache)
    (record,) = cache.glob("*.vocab.json")
    saved = json.loads(record.read_text())
    record.write_text(json.dumps({**saved, "vocab": ["<eos>", "<unk>", "cached"]}))
    assert cached_vocabulary(TextStream(path), tokenizer, cache)[2] == "cached"
    record.write_text(json.dumps({**saved, "data_sha256": "f" * 64}))  # foreign: rebuilt
    assert cached_vocabulary(TextStream(path), tokenizer, cache) == vocab


def test_a_memory_map_gives_the_windows_of_the_array(tmp_path: Path) -> None:
    path = write(tmp_path / "a.txt", sentences(100))
    stream = TextStream(path)
    tokenizer = make_tokenizer("char").fit(stream)
    mapped = token_ids(stream, tokenizer, tmp_path / "cache")
    array = tokenizer.encode(read_text(path))
    for batcher_args in ((4, 16), (7, 5), (1, 1000)):
        a, b = StreamBatcher(mapped, *batcher_args), StreamBatcher(array, *batcher_args)
        assert a.num_windows == b.num_windows
        for (x1, y1), (x2, y2) in zip(a, b, strict=True):
            assert x1.dtype == x2.dtype == np.int64
            np.testing.assert_array_equal(x1, x2)
            np.testing.assert_array_equal(y1, y2)


def train(folder: Path, ids: np.ndarray, tokenizer, steps: int) -> dict[str, np.ndarray]:
    train_ids, val_ids = split_train_val(ids, 0.2)
    model = LanguageModel(tokenizer.vocab_size, 8, 16, num_layers=1, dropout=0.2, rng=3)
    settings = LMSettings(batch_size=4, seq_len=12, eval_every=5)
    trainer = LMTrainer(model, tokenizer, train_ids, val_ids, settings, folder)
    trainer.train(Budget(max_steps=steps))
    return load_checkpoint(folder).arrays["model"]


def test_training_on_the_memory_map_gives_the_weights_of_the_array(tmp_path: Path) -> None:
    path = write(tmp_path / "a.txt", sentences(200))
    stream = TextStream(path)
    tokenizer = make_tokenizer("char").fit(stream)
    mapped = token_ids(stream, tokenizer, tmp_path / "cache")
    in_memory = train(tmp_path / "memory", tokenizer.encode(read_text(path)), tokenizer, 25)
    streamed = train(tmp_path / "mapped", mapped, tokenizer, 25)
    for name, weight in in_memory.items():
        np.testing.assert_array_equal(streamed[name], weight, err_msg=name)


def test_rnnkit_train_reuses_the_cache_and_resumes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RNNKIT_CACHE", str(tmp_path / "cache"))
    token_cache = tmp_path / "cache" / "tokens"
    data = write(tmp_path / "corpus.txt", sentences(300))
    flags = ["--embedding-size", "8", "--hidden-size", "16", "--batch-size", "4",
             "--seq-len", "16", "--eval-every", "5", "--tokenizer", "word"]  # fmt: skip
    status, _, err = run_cli("train", "--data", data, "--out", tmp_path / "a", "--max-steps", 6,
                             *flags)  # fmt: skip
    assert status == 0, err
    entries = sorted(token_cache.glob("*.ids"))
    assert len(entries) == 1
    built = entries[0].stat().st_mtime_ns
    # The run's fingerprint is that of the text read whole, as runs made before had it.
    config = json.loads((tmp_path / "a" / "config.json").read_text())
    assert config["data_sha256"] == fingerprint(read_text(data))
    status, _, err = run_cli("train", "--data", data, "--out", tmp_path / "b", "--max-steps", 6,
                             *flags)  # fmt: skip
    assert status == 0, err
    assert sorted(token_cache.glob("*.ids")) == entries
    assert entries[0].stat().st_mtime_ns == built  # reused, not written again
    status, _, err = run_cli("train", "--out", tmp_path / "a", "--resume", "--max-steps", 12)
    assert status == 0, err
    write(data, sentences(300, seed=5))
    status, _, err = run_cli("train", "--out", tmp_path / "a", "--resume", "--max-steps", 18)
    assert status == 2 and "differs from the text the run" in err


def test_unknown_flags_of_a_stream_are_the_unknown_mask_of_its_text(tmp_path: Path) -> None:
    # A literal <unk> of the text is a word of the vocabulary, not an unknown one.
    text = "the cat <unk> sat\n" * 30 + "a zebra sat on the <unk> mat\n"
    path = write(tmp_path / "test.txt", text)
    word = make_tokenizer("word").fit("the cat <unk> sat\non a mat\n")
    stream = TextStream(path, chunk_bytes=64)
    flags = unknown_flags(stream, word, tmp_path / "cache")
    np.testing.assert_array_equal(np.asarray(flags, dtype=bool), word.unknown_mask(text))
    assert int(np.asarray(flags).sum()) == 1  # zebra alone
    again = unknown_flags(TextStream(path), word, tmp_path / "cache")
    assert isinstance(again, np.memmap) and again.filename == flags.filename
    # A character model's unknown tokens are its <unk> ids: no flags file.
    assert unknown_flags(stream, make_tokenizer("char").fit("abc"), tmp_path / "cache") is None
