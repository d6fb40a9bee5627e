"""Reading labelled texts in every format, label vocabularies, held-out splits, encoding."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rnnkit.data.classification import (
    LabelledTexts,
    LabelVocabulary,
    detect_format,
    encode_texts,
    read_labelled_texts,
)
from rnnkit.data.tokenizers import make_tokenizer
from rnnkit.errors import UserError


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode(encoding))
    return path


def test_label_first_lines(tmp_path: Path) -> None:
    file = write(tmp_path / "train.txt", "1 a fine film .\n0  dull ,  dull\n")
    data = read_labelled_texts(file)
    assert data.labels == ["1", "0"]
    assert data.texts == ["a fine film .", "dull ,  dull"]
    assert data.origins == [f"{file}:1", f"{file}:2"]


def test_tsv_with_header_in_any_column_order(tmp_path: Path) -> None:
    file = write(tmp_path / "d.tsv", 'id\ttext\tlabel\n7\tsaid "hi, there\tgreet\n8\tbye\tpart\n')
    data = read_labelled_texts(file)
    # TSV fields are literal: the unmatched quote stays part of the text.
    assert data.texts == ['said "hi, there', "bye"]
    assert data.labels == ["greet", "part"]


def test_csv_quoting_and_named_columns(tmp_path: Path) -> None:
    file = write(tmp_path / "d.csv", 'Sentence,Category\n"one, two",a\n"say ""x""",b\n')
    data = read_labelled_texts(file, label_col="category", text_col="sentence")
    assert data.texts == ["one, two", 'say "x"']
    assert data.labels == ["a", "b"]


def test_numbered_columns_mean_no_header(tmp_path: Path) -> None:
    file = write(tmp_path / "d.tsv", "pos\tgood\nneg\tbad\n")
    data = read_labelled_texts(file, label_col="1", text_col="2")
    assert data.labels == ["pos", "neg"]
    assert data.texts == ["good", "bad"]


def test_folder_of_class_files_and_class_subfolders(tmp_path: Path) -> None:
    write(tmp_path / "names" / "Greek.txt", "Papadopoulos\nAnthoy\n")
    write(tmp_path / "names" / "Irish.txt", "O'Brien\n")
    write(tmp_path / "names" / ".hidden", "ignored\n")
    write(tmp_path / "names" / "Czech" / "a.txt", "Novak\nthe end\n")
    data = read_labelled_texts(tmp_path / "names")
    assert sorted(zip(data.labels, data.texts, strict=True)) == [
        ("Czech", "Novak the end"),
        ("Greek", "Anthoy"),
        ("Greek", "Papadopoulos"),
        ("Irish", "O'Brien"),
    ]


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("a.tsv", "label\ttext\n", "tsv"),
        ("a.csv", "label,text\n", "csv"),
        ("a.txt", "x\ty\n", "tsv"),
        ("TREC.train.all", "0 How ?\n", "label-first"),
    ],
)
def test_auto_detection(tmp_path: Path, name: str, content: str, expected: str) -> None:
    assert detect_format(write(tmp_path / name, content)) == expected
    assert detect_format(tmp_path) == "folders"


@pytest.mark.parametrize("name", ["en.conllu", "en.conll", "en.txt"])
@pytest.mark.parametrize("comment", ["# sent_id = 1\n", ""])
def test_a_conllu_file_is_named_tagging_data(tmp_path: Path, name: str, comment: str) -> None:
    # read as label-first it failed at the first blank line, telling to remove it, or (no
    # blank line) made classes of the word IDs; as TSV it lacked a label column
    words = "1\tYes\tyes\tINTJ\tUH\t_\t0\troot\t_\t_\n2\t!\t!\tPUNCT\t.\t_\t1\tpunct\t_\t_\n"
    path = write(tmp_path / name, comment + words + "\n" + words)
    named = r"is CoNLL-U \(.*\): data for a tagger, not labelled texts; train a tagger on it"
    with pytest.raises(UserError, match=named + r" \(task tag\)") as info:
        read_labelled_texts(path)
    assert str(info.value).endswith("(if it is a table, set format tsv)")
    assert info.value.settings == ("task", "format")


def test_non_utf8_byte_is_refused_with_the_fix_and_reads_as_latin1(tmp_path: Path) -> None:
    # As TREC's training file: one 0xF0 byte in otherwise ASCII text.
    file = tmp_path / "trec.txt"
    file.write_bytes(b"0 What ?\n4 Which sister\xf0city ?\n")
    # The library names its parameter, the command line writes it as --encoding.
    with pytest.raises(UserError, match=r"byte offset 23 .*pass encoding latin-1") as info:
        read_labelled_texts(file)
    assert info.value.settings == ("encoding",)
    assert read_labelled_texts(file, encoding="latin-1").texts[1] == "Which sister\u00f0city ?"


@pytest.mark.parametrize(
    ("name", "content", "options", "message"),
    [
        ("a.txt", "1 good\n\n0 bad\n", {}, r"a.txt:2 is an empty line"),
        ("a.txt", "1 good\n0\n", {}, r"a.txt:2 has a label but no text"),
        ("a.tsv", "label\ttext\n1\tgood\n \t\n", {}, r"a.tsv:3 is an empty line"),
        ("a.tsv", "label\ttext\n\tgood\n", {}, r"a.tsv:2 has an empty label"),
        ("a.tsv", "label\ttext\n1\n", {}, r"a.tsv:2 has 1 columns"),
        ("a.tsv", "label\tsentence\n1\tx\n", {}, r"no text column 'text'.*text_col"),
        ("a.csv", "y,x\n1,a\n", {"label_col": "tag", "text_col": "x"}, r"no label column 'tag'"),
        ("a.tsv", "1\tx\n", {"label_col": "1"}, r"both as header names or both as column"),
        ("a.tsv", "1\tx\n", {"label_col": "1", "text_col": "1"}, r"the same column"),
        ("a.tsv", "label\ttext\n", {}, r"no examples"),
        ("a.txt", "", {}, r"holds no text"),
        ("a.txt", "1 \x00\x01", {}, r"looks binary"),
    ],
)
def test_bad_input_is_one_line_naming_the_place(
    tmp_path: Path, name: str, content: str, options: dict, message: str
) -> None:
    file = write(tmp_path / name, content)
    with pytest.raises(UserError, match=message) as caught:
        read_labelled_texts(file, **options)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    ("name", "content", "place"),
    [
        ("a.tsv", "label\ttext\n1\t" + "a " * 70_000 + "\n", "a.tsv:2"),
        ("a.csv", 'label,text\n1,ok\n0,"a quote never closed\n' + "1,a\n" * 40_000, "a.csv:"),
    ],
    ids=["long-tsv-field", "unclosed-csv-quote"],
)
def test_a_field_past_the_csv_size_limit_is_one_line_naming_the_place(
    tmp_path: Path, name: str, content: str, place: str
) -> None:
    # csv.Error ended the command in a traceback
    file = write(tmp_path / name, content)
    with pytest.raises(UserError, match=f"{place}.*: a field is longer than") as caught:
        read_labelled_texts(file)
    assert "\n" not in str(caught.value)


def test_missing_path_and_wrong_kind_of_path(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="does not exist"):
        read_labelled_texts(tmp_path / "nope.tsv")
    with pytest.raises(UserError, match="is a folder"):
        read_labelled_texts(tmp_path, format="tsv")
    with pytest.raises(UserError, match="needs a folder"):
        read_labelled_texts(write(tmp_path / "a.txt", "1 x\n"), format="folders")
    with pytest.raises(UserError, match="unknown format"):
        read_labelled_texts(tmp_path, format="json")
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="holds no examples"):
        read_labelled_texts(tmp_path / "empty")


def test_label_vocabulary_sorts_naturally_and_refuses_unseen_labels() -> None:
    data = LabelledTexts(["a"] * 4, ["10", "2", "neg", "2"], ["x"] * 4)
    labels = LabelVocabulary.fit(data.labels, "train.txt")
    assert labels.labels == ["2", "10", "neg"]
    assert labels.encode(["neg", "2"], "eval.txt").tolist() == [2, 0]
    with pytest.raises(UserError, match=r"eval.txt has labels the model was not trained on: 'x'"):
        labels.encode(["2", "x", "x"], "eval.txt")
    # and the fix, for a --valid or --test file at training as for eval
    with pytest.raises(UserError, match=r"'x'; it knows 2, 10, neg; leave out what has them, or"):
        labels.encode(["x"], "valid.txt")


def test_one_class_only_is_refused() -> None:
    with pytest.raises(UserError, match="one class only \\('pos'\\)"):
        LabelVocabulary.fit(["pos", "pos"], "t.tsv")


def test_hold_out_is_seeded_disjoint_and_complete() -> None:
    data = LabelledTexts([str(i) for i in range(50)], ["a", "b"] * 25, ["o"] * 50)
    rest, held = data.hold_out(0.1, seed=3)
    assert len(held) == 5 and len(rest) == 45
    assert sorted(rest.texts + held.texts, key=int) == data.texts
    assert data.hold_out(0.1, seed=3)[1].texts == held.texts
    assert data.hold_out(0.1, seed=4)[1].texts != held.texts
    with pytest.raises(UserError, match="too few"):
        data.subset([0, 1]).hold_out(0.1, seed=0)


def test_encode_texts_leaves_out_unseen_characters_and_counts_them() -> None:
    tokenizer = make_tokenizer("char").fit("abc")
    sequences, skipped = encode_texts(tokenizer, ["abz", "cé"])
    assert [s.tolist() for s in sequences] == [[1, 2], [3]]  # after <unk>, id 0
    assert skipped == 2
    with pytest.raises(UserError, match="names.txt:4 holds no text"):
        encode_texts(tokenizer, ["ab", "zz"], origins=["names.txt:1", "names.txt:4"])


@pytest.mark.parametrize("kind", ["word", "char"])
def test_encode_texts_refuses_a_text_of_whitespace_alone(kind: str) -> None:
    # a word tokenizer made it a lone <eos> and a character one a row of spaces: either
    # got a label, where an empty text gets none (and training refuses blank lines)
    tokenizer = make_tokenizer(kind).fit("good film\nbad film\n")
    for blank in ("   ", " \t "):
        with pytest.raises(UserError, match="text 1 holds no text"):
            encode_texts(tokenizer, [blank])


def test_encode_texts_maps_unseen_words_to_unk() -> None:
    tokenizer = make_tokenizer("word").fit("good film\nbad film\n")
    (ids,), skipped = encode_texts(tokenizer, ["good plot"])
    assert tokenizer.decode(ids) == "good <unk>\n"
    assert skipped == 0
    assert np.issubdtype(ids.dtype, np.integer)


def test_trec_reads_with_latin1_and_has_six_classes(shared_data: Path) -> None:
    data = read_labelled_texts(shared_data / "trec" / "TREC.train.all", encoding="latin-1")
    assert len(data) == 5452
    assert LabelVocabulary.fit(data.labels, "TREC").labels == ["0", "1", "2", "3", "4", "5"]


def test_names_folder_has_eighteen_classes(shared_data: Path) -> None:
    data = read_labelled_texts(shared_data / "names_18lang")
    assert len(data) == 20074
    assert len(LabelVocabulary.fit(data.labels, "names")) == 18


@pytest.mark.parametrize(
    ("name", "text", "format", "fix"),
    [
        ("d.csv", "label,text\npos,good\n", "tsv", "give format csv"),
        ("d.tsv", "label\ttext\npos\tgood\n", "csv", "give format tsv"),
    ],
)
def test_a_file_read_with_the_other_separator_names_the_format(
    tmp_path: Path, name: str, text: str, format: str, fix: str
) -> None:
    with pytest.raises(UserError) as info:
        read_labelled_texts(write(tmp_path / name, text), format=format)
    assert fix in str(info.value) and getattr(info.value, "settings", ()) == ("format",)


def test_columns_named_for_a_file_without_columns_are_refused(tmp_path: Path) -> None:
    file = write(tmp_path / "train.txt", "1 a fine film .\n0 dull\n")
    with pytest.raises(UserError) as info:
        read_labelled_texts(file, label_col="2")
    assert "label_col names a column of tsv and csv files" in str(info.value)
    assert info.value.settings == ("label_col", "format")
    write(tmp_path / "names" / "Greek.txt", "Papadopoulos\n")
    with pytest.raises(UserError) as info:
        read_labelled_texts(tmp_path / "names", label_col="label", text_col="text")
    assert "label_col and text_col name columns" in str(info.value)
    assert "a folder per class" in str(info.value)
