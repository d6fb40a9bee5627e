"""Parallel data: the three formats, their one-line errors, references for G2P, the
vocabulary and the padded batches Seq2Seq takes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rnnkit.data.parallel import (
    SNIFF_LINES,
    ParallelExamples,
    UnclearFormatError,
    read_parallel,
    references,
)
from rnnkit.data.parallel_batches import (
    BOS_ID,
    EOS_ID,
    PAD_ID,
    UNK_ID,
    Vocabulary,
    batches,
    join_tokens,
    limit_source_lengths,
    make_batch,
    split_tokens,
)
from rnnkit.errors import UserError


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    "name, text, sources, targets",
    [
        (
            "pairs.tsv",
            "hello\tbonjour\nthe cat\tle chat\n",
            ["hello", "the cat"],
            ["bonjour", "le chat"],
        ),
        ("pairs.txt", "a b\tc\n", ["a b"], ["c"]),  # a tab on the first line: tsv
        ("add.txt", "16+75  _91  \n52+607 _659 \n", ["16+75", "52+607"], ["91", "659"]),
        (
            "dict.txt",
            ";;; comment\nABBY  AE B IY\nREAD  R IY D\nREAD(1)  R EH D\n",
            ["ABBY", "READ", "READ"],
            ["AE B IY", "R IY D", "R EH D"],
        ),
    ],
)
def test_formats_read_by_auto(tmp_path: Path, name, text, sources, targets) -> None:
    examples = read_parallel(write(tmp_path, name, text))
    assert examples.sources == sources and examples.targets == targets
    assert examples.origins[0].endswith(f"{name}:{2 if text.startswith(';;;') else 1}")


def test_auto_reads_the_format_from_several_lines_not_the_first_alone(tmp_path: Path) -> None:
    # A word with _ first: the first line alone would take the dictionary for dlfs2 pairs.
    odd_first = write(tmp_path, "odd.txt", "NEW_YORK  N UW Y AO R K\nABBY  AE B IY\n")
    with pytest.raises(UnclearFormatError) as error:
        read_parallel(odd_first)
    message = str(error.value)
    assert message.startswith(f"{odd_first}: line 1 looks like dlfs2 pairs")
    assert "but line 2 like dictionary" in message and "set format to" in message
    assert error.value.settings == ("format",) and "--" not in message and "\n" not in message
    assert read_parallel(odd_first, "dictionary").sources == ["NEW_YORK", "ABBY"]
    # A ;;; comment says nothing of the format (its _ is no dlfs2 pair): the lines agree.
    commented = write(tmp_path, "commented.txt", ";;; see read_me\nABBY  AE B IY\nREAD  R IY D\n")
    assert read_parallel(commented).targets == ["AE B IY", "R IY D"]


def test_auto_reads_the_format_from_the_first_sniff_lines(tmp_path: Path) -> None:
    pairs = "".join(f"{i}+1 _{i + 1}\n" for i in range(SNIFF_LINES))
    late = write(tmp_path, "late.txt", pairs + "no underscore\n")
    with pytest.raises(
        UserError, match=rf"late.txt:{SNIFF_LINES + 1}: expected the source, then _"
    ):
        read_parallel(late)  # dlfs2, from the first lines; the odd one is a malformed line
    early = write(tmp_path, "early.txt", pairs[: -len("99+1 _100\n")] + "no underscore\n")
    with pytest.raises(UnclearFormatError, match=rf"line 1 .* but line {SNIFF_LINES} like"):
        read_parallel(early)


@pytest.mark.parametrize(
    "format, text, message",
    [
        ("tsv", "a\tb\nno tab here\n", r"bad:2: expected source<TAB>target, found no tab"),
        ("tsv", "a\tb\tc\n", r"bad:1: expected source<TAB>target, found 2 tabs"),
        ("tsv", "a\t \n", r"bad:1: the target is empty; fill it in or remove the line"),
        ("dlfs2", "1+1  _2\n3+4 7\n", r"bad:2: expected the source, then _ and the target"),
        ("dlfs2", "   _2\n", r"bad:1: the source is empty; fill it in or remove the line"),
        ("dictionary", "ABBY  AE B IY\nLONELY\n", r"bad:2: expected a word, whitespace"),
        ("tsv", "a\tb\n\nc\td\n", r"bad:2: the line is empty; remove it"),
        ("csv", "a\tb\n", r"format: expected one of"),
    ],
)
def test_malformed_lines_are_one_line_errors_naming_file_and_line(
    tmp_path: Path, format: str, text: str, message: str
) -> None:
    path = write(tmp_path, "bad", text)
    with pytest.raises(UserError, match=message) as error:
        read_parallel(path, format)
    assert "\n" not in str(error.value) and "--" not in str(error.value)


def test_a_folder_is_refused_in_one_line_naming_it(tmp_path: Path) -> None:
    """Not read as its files joined, whose errors would point at a line of no file."""
    write(tmp_path, "a.tsv", "a\tb\n")
    write(tmp_path, "b.tsv", "c\td\n")
    with pytest.raises(UserError, match=r"is a folder; give a file of pairs") as error:
        read_parallel(tmp_path)
    assert str(tmp_path) in str(error.value) and "\n" not in str(error.value)


def test_references_group_alternatives_in_order() -> None:
    pairs = ParallelExamples(
        ["READ", "ABBY", "READ", "READ"], ["R IY D", "AE B IY", "R EH D", "R IY D"], ["x"] * 4
    )
    sources, targets = references(pairs)
    assert sources == ["READ", "ABBY"]
    assert targets == [["R IY D", "R EH D"], ["AE B IY"]]


def test_shared_data_files_read_as_documented(shared_data: Path) -> None:
    addition = read_parallel(shared_data / "dlfs2_seq2seq" / "addition.txt")
    assert len(addition) == 50_000 and (addition.sources[0], addition.targets[0]) == ("16+75", "91")
    dates = read_parallel(shared_data / "dlfs2_seq2seq" / "date.txt")
    assert (dates.sources[0], dates.targets[0]) == ("september 27, 1994", "1994-09-27")
    test = read_parallel(shared_data / "cmudict" / "cmudict-0.7b.test")
    assert len(test) == 12_855 and len(references(test)[0]) == 11_994
    assert (test.sources[0], test.targets[0]) == ("ABADI", "AH B AE D IY")


def test_tokens_and_vocabulary() -> None:
    assert split_tokens("ab c", "char") == ["a", "b", " ", "c"]
    assert split_tokens(" AE  B IY ", "word") == ["AE", "B", "IY"]
    assert join_tokens(["AE", "B"], "word") == "AE B" and join_tokens(["a", "b"], "char") == "ab"
    with pytest.raises(ValueError, match="tokenization"):
        split_tokens("x", "bpe")
    vocab = Vocabulary.build([["b", "a", "b"], ["c", "a", "b"]], min_count=2)
    assert vocab.tokens == ["<pad>", "<s>", "</s>", "<unk>", "b", "a"]
    assert vocab.encode(["a", "c", "b"]).tolist() == [5, UNK_ID, 4]
    assert vocab.unknown(["c", "a", "d", "c"]) == ["c", "d"]
    assert vocab.decode([4, 5]) == ["b", "a"]
    assert Vocabulary.from_dict(vocab.to_dict()).tokens == vocab.tokens
    assert len(Vocabulary.build([["a", "b", "c"]], max_size=5)) == 5
    with pytest.raises(ValueError, match=r"^tokens: expected <pad>, <s>, </s>, <unk> first"):
        Vocabulary.from_dict({"tokens": ["a"]})
    # read back from an edited config.json: a number is no token
    with pytest.raises(ValueError, match="^tokens: expected"):
        Vocabulary.from_dict({"tokens": [*vocab.tokens, 5]})
    with pytest.raises(ValueError, match="^tokens: missing"):
        Vocabulary.from_dict({})


def test_batch_layout_and_every_pair_once() -> None:
    sources = [np.array([5, 6, 7]), np.array([8]), np.array([5, 5])]
    targets = [np.array([9]), np.array([4, 4, 4]), np.array([6, 7])]
    batch = make_batch(sources, targets)
    assert batch.src.tolist() == [[5, 6, 7], [8, PAD_ID, PAD_ID], [5, 5, PAD_ID]]
    assert batch.src_lengths.tolist() == [3, 1, 2]
    assert batch.tgt_in[1].tolist() == [BOS_ID, 4, 4, 4]
    assert batch.tgt_out[1].tolist() == [4, 4, 4, EOS_ID]
    assert batch.tgt_in[0].tolist() == [BOS_ID, 9, PAD_ID, PAD_ID]
    assert batch.tgt_out[0].tolist() == [9, EOS_ID, PAD_ID, PAD_ID]
    assert batch.tgt_lengths.tolist() == [2, 4, 3] and len(batch.arrays()) == 5

    rng = np.random.default_rng(0)
    seen = np.concatenate([b.index for b in batches(sources, targets, 2, rng)])
    assert sorted(seen.tolist()) == [0, 1, 2]
    ordered = list(batches(sources, targets, 2))
    assert [b.index.tolist() for b in ordered] == [[1, 2], [0]]  # sorted by source length
    with pytest.raises(ValueError, match="batch_size"):
        next(batches(sources, targets, 0))


def test_long_sources_are_refused_or_cut() -> None:
    sources = [np.arange(5), np.arange(2)]
    with pytest.raises(UserError, match="a.tsv:1: the source has 5 tokens.*max_source_length=3"):
        limit_source_lengths(list(sources), 3, False, ["a.tsv:1", "a.tsv:2"])
    assert limit_source_lengths(sources, 3, True, ["a.tsv:1", "a.tsv:2"]) == 1
    assert sources[0].tolist() == [0, 1, 2]


def test_book_split_is_the_books_shuffle_with_the_last_tenth_held_out() -> None:
    from rnnkit.data.parallel import book_split

    sources = [f"q{i}" for i in range(103)]
    targets = [f"a{i}" for i in range(103)]
    order = np.arange(103)
    saved = np.random.get_state()
    try:
        np.random.seed(1984)  # the book's own calls, on NumPy's global generator
        np.random.shuffle(order)
    finally:
        np.random.set_state(saved)
    train_s, train_t, test_s, test_t = book_split(sources, targets)
    assert train_s == [sources[i] for i in order[:93]] and len(test_s) == 10
    assert test_s == [sources[i] for i in order[93:]]
    assert [s[1:] for s in train_s] == [t[1:] for t in train_t]  # pairs stay together
    assert [s[1:] for s in test_s] == [t[1:] for t in test_t]
    with pytest.raises(ValueError, match="targets: expected 103"):
        book_split(sources, targets[:-1])
