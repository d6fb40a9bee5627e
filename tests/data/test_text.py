"""read_text: files, folders, and one clear error for each kind of bad input."""

from __future__ import annotations

import bz2
import gzip
import lzma
from pathlib import Path

import pytest

from rnnkit.data.text import files_below, read_text, skipped_note
from rnnkit.data.text_stream import TextStream
from rnnkit.errors import UserError


def user_error(call, *args, **kwargs) -> str:
    """The message of the UserError CALL raises, checked to be a single line."""
    with pytest.raises(UserError) as info:
        call(*args, **kwargs)
    message = str(info.value)
    assert "\n" not in message
    return message


def test_reads_a_file_and_normalises_line_endings(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_bytes(b"\xef\xbb\xbfone\r\ntwo\rthree\n")
    assert read_text(tmp_path / "a.txt") == "one\ntwo\nthree\n"


def test_reads_a_folder_recursively_in_relative_path_order(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "a.txt").write_text("sub-a")
    (tmp_path / "b.txt").write_text("b")
    (tmp_path / "a.txt").write_text("a")
    (tmp_path / "sub-z.txt").write_text("sub-z")
    # "sub" sorts before "sub-z" as a path part, whatever order the file system lists them in.
    assert read_text(tmp_path) == "a\nb\nsub-a\nsub-z"


def test_folder_skips_hidden_and_binary_files(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "config").write_text("hidden folder")
    (tmp_path / ".hidden.txt").write_text("hidden file")
    (tmp_path / "image.png").write_bytes(b"\x89PNG\x00\x01")
    (tmp_path / "story.txt").write_text("kept")
    assert read_text(tmp_path) == "kept"
    assert [p.name for p in files_below(tmp_path)] == ["image.png", "story.txt"]


def test_files_below_skips_named_folders(tmp_path: Path) -> None:
    for folder in ("tests", "lib"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "x.py").write_text("x")
    assert files_below(tmp_path, skip_dirs=["tests"]) == [tmp_path / "lib" / "x.py"]


def test_missing_path(tmp_path: Path) -> None:
    message = user_error(read_text, tmp_path / "nope.txt")
    assert "nope.txt does not exist" in message


@pytest.mark.parametrize("content", [b"", b" \n\t\n"])
def test_empty_or_blank_file(tmp_path: Path, content: bytes) -> None:
    (tmp_path / "blank.txt").write_bytes(content)
    assert "blank.txt holds no text" in user_error(read_text, tmp_path / "blank.txt")


def test_folder_without_text_files(tmp_path: Path) -> None:
    (tmp_path / "data.bin").write_bytes(b"ab\x00cd")
    (tmp_path / ".notes.txt").write_text("hidden")
    assert "holds no text files" in user_error(read_text, tmp_path)


def test_binary_file_names_file_and_offset(tmp_path: Path) -> None:
    (tmp_path / "model.bin").write_bytes(b"abc\x00def")
    message = user_error(read_text, tmp_path / "model.bin")
    assert "model.bin" in message
    assert "byte offset 3" in message


@pytest.mark.parametrize(
    ("name", "compress", "kind", "command"),
    [
        ("ptb.txt.gz", gzip.compress, "gzip", "gunzip -k"),
        ("ptb.txt.bz2", bz2.compress, "bzip2", "bunzip2 -k"),
        ("ptb.txt.xz", lzma.compress, "xz", "unxz -k"),
    ],
)
def test_a_compressed_file_is_named_so_with_the_command_that_unpacks_it(
    tmp_path: Path, name: str, compress, kind: str, command: str
) -> None:
    # it said "looks binary ... (if it is UTF-16 text, pass encoding utf-16)"
    path = tmp_path / name
    path.write_bytes(compress(b"the cat sat on the mat .\n" * 200))
    for read in (read_text, lambda p: list(TextStream(p))):
        message = user_error(read, path)
        assert f"{path} is {kind}-compressed, not text; decompress it ({command} {path})" in message
        assert "utf-16" not in message


def test_undecodable_byte_names_file_offset_byte_and_fix(tmp_path: Path) -> None:
    (tmp_path / "latin.txt").write_bytes("café au lait".encode("latin-1"))
    message = user_error(read_text, tmp_path / "latin.txt")
    assert "latin.txt" in message
    assert "0xe9" in message
    assert "byte offset 3" in message
    # The library names its parameter (the command line writes it as --encoding).
    assert "pass encoding latin-1" in message
    assert read_text(tmp_path / "latin.txt", encoding="latin-1") == "café au lait"


def test_undecodable_file_in_a_folder_is_an_error_not_skipped(tmp_path: Path) -> None:
    (tmp_path / "good.txt").write_text("fine")
    (tmp_path / "bad.txt").write_bytes(b"ok \xff")
    assert "bad.txt" in user_error(read_text, tmp_path)


def test_utf16_text_is_not_taken_for_binary(tmp_path: Path) -> None:
    (tmp_path / "wide.txt").write_text("hello", encoding="utf-16")
    assert "utf-16" in user_error(read_text, tmp_path / "wide.txt")
    assert read_text(tmp_path / "wide.txt", encoding="utf-16") == "hello"


def test_unknown_encoding(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("a")
    assert "'klingon'" in user_error(read_text, tmp_path / "a.txt", encoding="klingon")


def test_tiny_shakespeare_has_65_characters(shared_data: Path) -> None:
    text = read_text(shared_data / "tinyshakespeare" / "input.txt")
    assert len(text) == 1_115_394
    assert len(set(text)) == 65


def test_trec_non_utf8_byte(shared_data: Path) -> None:
    path = shared_data / "trec" / "TREC.train.all"
    message = user_error(read_text, path)
    assert "TREC.train.all" in message
    assert "0xf0 at byte offset 3173" in message
    text = read_text(path, encoding="latin-1")
    assert text.count("\n") == 5452


def test_a_streamed_folder_lists_what_it_skipped_and_the_note_says_how_to_read_it(
    tmp_path: Path,
) -> None:
    (tmp_path / "LICENSE").write_text("a licence")
    (tmp_path / "train.txt.gz").write_bytes(gzip.compress(b"the corpus\n" * 50))
    (tmp_path / "valid.txt.bz2").write_bytes(bz2.compress(b"more\n" * 50))
    (tmp_path / "nul-first.bin").write_bytes(b"\x00abc")  # a NUL at offset 0 is binary too
    stream = TextStream(tmp_path)
    assert [f.name for f in stream.files] == ["LICENSE"]
    assert [f.name for f in stream.skipped] == ["nul-first.bin", "train.txt.gz", "valid.txt.bz2"]
    note = skipped_note(tmp_path, stream.skipped)
    assert note == (
        f"3 files in {tmp_path} are not text and were skipped: 'nul-first.bin', "
        "'train.txt.gz', 'valid.txt.bz2'; unpack the compressed ones (bunzip2 -k, gunzip -k) "
        "to read them"
    )
    assert skipped_note(tmp_path, []) is None
    assert skipped_note(tmp_path, stream.skipped[:1]) == (
        f"1 file in {tmp_path} is not text and was skipped: 'nul-first.bin'"
    )


@pytest.mark.parametrize("read", [read_text, TextStream], ids=["whole", "streamed"])
def test_a_folder_of_compressed_files_only_says_how_to_unpack_them(tmp_path: Path, read) -> None:
    # The Penn Treebank's files without their licences: "binary files are skipped" alone
    # leaves the user nothing to do.
    (tmp_path / "ptb.train.txt.gz").write_bytes(gzip.compress(b"the corpus\n" * 50))
    (tmp_path / "ptb.valid.txt.xz").write_bytes(lzma.compress(b"more\n" * 50))
    message = user_error(read, tmp_path)
    assert message.startswith(f"{tmp_path} holds no text files: 2 files in {tmp_path} are not")
    assert message.endswith("'ptb.train.txt.gz', 'ptb.valid.txt.xz'; unpack the compressed "
                            "ones (gunzip -k, unxz -k) to read them")  # fmt: skip
    # Binary files that are not compressed keep the plain message.
    for file in tmp_path.iterdir():
        file.unlink()
    (tmp_path / "data.bin").write_bytes(b"ab\x00cd")
    assert "binary files are skipped); point to a folder" in user_error(read, tmp_path)
