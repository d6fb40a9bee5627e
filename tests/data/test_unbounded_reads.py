"""Reads that cannot run away: devices, pipes and sockets are refused unless asked for, a
binary file is refused at the chunk holding its first NUL byte, embeddings lines are bounded."""

from __future__ import annotations

import os
import socket
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from rnnkit.data.classification import read_labelled_texts
from rnnkit.data.embeddings_file import MAX_LINE_CHARS, read_word_vectors
from rnnkit.data.text import CHUNK_BYTES, read_text
from tests.data.test_text import user_error

WRITER_LIMIT = 30  # seconds a pipe writer waits for a reader before giving up


def one_line_error(call, *args, **kwargs) -> str:
    """``user_error``, whose message also names no ``--flag`` before its advice."""
    message = user_error(call, *args, **kwargs)
    assert "--" not in message.split(";")[0]
    return message


class PipeWriter(threading.Thread):
    """Opens the named pipe PATH for writing once a reader has it open, writes DATA, and
    closes it when ``release`` is set (or after ``WRITER_LIMIT`` seconds)."""

    def __init__(self, path: Path, data: bytes, hold: bool = False) -> None:
        super().__init__(daemon=True)
        self.path, self.data, self.hold = path, data, hold
        self.release = threading.Event()
        self.closed = threading.Event()

    def run(self) -> None:
        deadline = time.monotonic() + WRITER_LIMIT
        while True:
            try:  # non-blocking: fails (ENXIO) while no reader has the pipe open
                descriptor = os.open(self.path, os.O_WRONLY | os.O_NONBLOCK)
                break
            except OSError:
                if time.monotonic() > deadline:
                    return
                time.sleep(0.01)
        os.set_blocking(descriptor, True)
        try:
            os.write(descriptor, self.data)
            if self.hold:
                self.release.wait(WRITER_LIMIT)
        except OSError:
            pass  # the reader went away
        finally:
            self.closed.set()
            os.close(descriptor)


@pytest.fixture
def fifo(tmp_path: Path) -> Path:
    path = tmp_path / "pipe.txt"
    os.mkfifo(path)
    return path


def test_dev_zero_is_refused_in_one_line() -> None:
    message = one_line_error(read_text, "/dev/zero")
    assert "/dev/zero" in message and "character device" in message


def test_dev_zero_when_asked_for_stops_at_its_first_chunk() -> None:
    message = one_line_error(read_text, "/dev/zero", allow_special=True)
    assert "looks binary" in message and "offset 0" in message


def test_a_named_pipe_is_refused_without_waiting_for_a_writer(fifo: Path) -> None:
    writer = PipeWriter(fifo, b"text from a pipe\n")
    writer.start()
    message = one_line_error(read_text, fifo)
    assert str(fifo) in message and "named pipe" in message
    # the fix a command-line user can apply (no flag asks for a pipe)
    assert message.endswith("give a regular text file (a pipe's output saved to a file first)")


def test_a_named_pipe_is_read_when_asked_for(fifo: Path) -> None:
    writer = PipeWriter(fifo, b"text from a pipe\n")
    writer.start()
    assert read_text(fifo, allow_special=True) == "text from a pipe\n"


def test_a_binary_stream_is_refused_before_it_ends(fifo: Path) -> None:
    # The writer keeps the pipe open: a reader that waited for the end would wait for good.
    writer = PipeWriter(fifo, b"text\x00" + b"x" * 1000, hold=True)
    writer.start()
    try:
        message = one_line_error(read_text, fifo, allow_special=True)
        assert not writer.closed.is_set()  # refused while the stream was still open
    finally:
        writer.release.set()
    assert "looks binary" in message and "offset 4" in message


def test_a_socket_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "s.txt"
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(str(path))
        assert "socket" in one_line_error(read_text, path)


def test_a_folder_skips_pipes_and_devices(tmp_path: Path, fifo: Path) -> None:
    writer = PipeWriter(fifo, b"from the pipe\n")
    writer.start()
    (tmp_path / "a.txt").write_text("a file\n")
    assert read_text(tmp_path) == "a file\n"


def test_a_binary_file_is_refused_at_its_first_chunk(tmp_path: Path) -> None:
    path = tmp_path / "big.txt"
    path.write_bytes(b"x" * 10 + b"\x00" + b"y" * (3 * CHUNK_BYTES))
    assert "offset 10" in one_line_error(read_text, path)
    late = tmp_path / "late.txt"
    late.write_bytes(b"y" * (2 * CHUNK_BYTES + 5) + b"\x00")
    assert f"offset {2 * CHUNK_BYTES + 5}" in one_line_error(read_text, late)


def test_a_text_longer_than_a_chunk_reads_whole(tmp_path: Path) -> None:
    text = "é" * CHUNK_BYTES + "\n"  # two bytes each: chunks end inside characters
    (tmp_path / "a.txt").write_text(text, encoding="utf-8")
    assert read_text(tmp_path / "a.txt") == text


def test_labelled_texts_refuse_dev_zero_and_pipes(fifo: Path) -> None:
    assert "character device" in one_line_error(read_labelled_texts, "/dev/zero")
    assert "character device" in one_line_error(read_labelled_texts, "/dev/zero", "tsv")
    writer = PipeWriter(fifo, b"pos\tgood\n")
    writer.start()
    assert "named pipe" in one_line_error(read_labelled_texts, fifo, "tsv")


def test_embeddings_refuse_devices_folders_and_pipes(tmp_path: Path, fifo: Path) -> None:
    assert "character device" in one_line_error(read_word_vectors, "/dev/zero", ["a"])
    assert "folder" in one_line_error(read_word_vectors, tmp_path, ["a"])
    writer = PipeWriter(fifo, b"a 1 2\n")
    writer.start()
    assert "named pipe" in one_line_error(read_word_vectors, fifo, ["a"])


def test_embeddings_when_asked_read_a_pipe(fifo: Path) -> None:
    writer = PipeWriter(fifo, b"a 1 2\nb 3 4\n")
    writer.start()
    vectors, found = read_word_vectors(fifo, ["b"], allow_special=True)
    np.testing.assert_array_equal(vectors, [[3.0, 4.0]])
    assert found.all()


def test_embeddings_refuse_a_binary_file_and_an_endless_line(tmp_path: Path) -> None:
    binary = tmp_path / "vectors.bin"
    binary.write_bytes(b"2 3\n\x00\x01\x02 binary vectors\n")
    long = tmp_path / "long.txt"
    long.write_text("a 1 2\n" + "b" * (MAX_LINE_CHARS + 10) + "\n")
    assert "looks binary" in one_line_error(read_word_vectors, binary, ["a"])
    assert "long.txt:2 is longer than" in one_line_error(read_word_vectors, long, ["a"])
