"""CoNLL-U and column files: words, tags, skipped lines, errors that name file and line;
span scheme detection; the UD English-LinES files when the shared data is there."""

from __future__ import annotations

from pathlib import Path

import pytest

from rnnkit.data.conll import TaggedSentences, read_columns, read_conllu, read_tagged, tag_scheme
from rnnkit.errors import SettingError, UserError

CONLLU = """# newdoc id = 1
# sent_id = 1
# text = I don't know.
1\tI\tI\tPRON\tPRP\tCase=Nom\t3\tnsubj\t_\t_
2-3\tdon't\t_\t_\t_\t_\t_\t_\t_\t_
2\tdo\tdo\tAUX\tVBP\t_\t4\taux\t_\t_
3\tn't\tnot\tPART\tRB\t_\t4\tadvmod\t_\t_
4\tknow\tknow\tVERB\t_\t_\t0\troot\t_\t_
4.1\tknows\tknow\tVERB\tVBZ\t_\t_\t_\t0:root\t_
5\t.\t.\tPUNCT\t.\t_\t4\tpunct\t_\t_

# sent_id = 2
1\tYes\tyes\tINTJ\tUH\t_\t0\troot\t_\t_
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_conllu_words_and_each_column(tmp_path: Path) -> None:
    path = write(tmp_path, "a.conllu", CONLLU)  # no blank line after the last sentence
    upos = read_conllu(path)
    assert upos.tokens == [["I", "do", "n't", "know", "."], ["Yes"]]
    assert upos.tags == [["PRON", "AUX", "PART", "VERB", "PUNCT"], ["INTJ"]]
    assert upos.origins == [f"{path}:4", f"{path}:13"]
    assert read_conllu(path, "xpos").tags[0] == ["PRP", "VBP", "RB", "_", "."]
    assert read_conllu(path, "deprel").tags[1] == ["root"]
    assert read_tagged(path).tags == upos.tags  # .conllu: auto picks conllu


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("1\tI\tI\tPRON", "has 4 tab-separated fields"),
        ("2\tI\tI\tPRON\tPRP\t_\t0\troot\t_\t_", "word ID '2' where 1 was expected"),
        ("x\tI\tI\tPRON\tPRP\t_\t0\troot\t_\t_", "word ID 'x'"),
        ("1\t\tI\tPRON\tPRP\t_\t0\troot\t_\t_", "no word form"),
    ],
)
def test_a_malformed_conllu_line_names_file_and_line(
    tmp_path: Path, line: str, message: str
) -> None:
    path = write(
        tmp_path, "bad.conllu", "# ok\n1\tA\ta\tDET\tDT\t_\t0\troot\t_\t_\n\n" + line + "\n"
    )
    with pytest.raises(UserError, match=r"bad\.conllu:4 ") as error:
        read_conllu(path)
    assert message in str(error.value) and "--" not in str(error.value)


def test_conllu_column_errors(tmp_path: Path) -> None:
    path = write(tmp_path, "a.conllu", "1\tA\ta\tDET\t_\t_\t0\troot\t_\t_\n")
    with pytest.raises(UserError, match="no xpos annotation"):
        read_conllu(path, "xpos")
    with pytest.raises(UserError, match="column: expected one of upos, xpos, deprel"):
        read_conllu(path, "lemma")
    with pytest.raises(UserError, match="no tagged sentence"):
        read_conllu(write(tmp_path, "c.conllu", "# only a comment\n"))


def test_column_files_as_conll_2003(tmp_path: Path) -> None:
    text = (
        "-DOCSTART- -X- -X- O\n\n"
        "EU NNP B-NP B-ORG\nrejects VBZ B-VP O\nGerman JJ B-NP B-MISC\n\n\n"
        "Peter NNP B-NP B-PER\nBlackburn NNP I-NP I-PER\n"
    )
    data = read_tagged(write(tmp_path, "train.txt", text))
    assert data.tokens == [["EU", "rejects", "German"], ["Peter", "Blackburn"]]
    assert data.tags == [["B-ORG", "O", "B-MISC"], ["B-PER", "I-PER"]]
    assert data.origins[1].endswith("train.txt:8")
    assert tag_scheme(data.tags) == "BIO"


@pytest.mark.parametrize("name", ["en.conll", "en.txt"])
@pytest.mark.parametrize("comments", [True, False])
def test_auto_reads_a_conllu_file_by_its_lines_whatever_its_name(
    tmp_path: Path, name: str, comments: bool
) -> None:
    # read as columns, it failed on a comment line's field count or, without comments,
    # took the word IDs for words and the MISC field for tags
    text = (
        CONLLU
        if comments
        else "".join(line + "\n" for line in CONLLU.splitlines() if not line.startswith("#"))
    )
    data = read_tagged(write(tmp_path, name, text))
    assert data.tokens == [["I", "do", "n't", "know", "."], ["Yes"]]
    assert data.tags == [["PRON", "AUX", "PART", "VERB", "PUNCT"], ["INTJ"]]
    columns = "# NN\n1 B-NP\n2 I-NP\n"  # "#" and numbers are tokens like any
    assert read_tagged(write(tmp_path, "numbers.txt", columns)).tokens == [["#", "1", "2"]]


def test_column_file_errors_name_the_line(tmp_path: Path) -> None:
    with pytest.raises(UserError, match=r"a.txt:2 has one field"):
        read_columns(write(tmp_path, "a.txt", "He PRP B-NP\nruns\n"))
    with pytest.raises(UserError, match=r"b.txt:3 has 2 fields, the lines before it 3"):
        read_columns(write(tmp_path, "b.txt", "He PRP B-NP\n\nruns B-VP\n"))
    with pytest.raises(UserError, match="format: expected one of"):
        read_tagged(tmp_path / "b.txt", format="json")


@pytest.mark.parametrize(
    ("tags", "scheme"),
    [
        ([["B-NP", "I-NP", "O", "B-VP"]], "BIO"),
        ([["I-PER", "I-PER", "O", "I-LOC", "B-LOC"]], "IOB1"),  # spans opened by I-
        ([["B-PER", "I-PER", "I-LOC"]], "IOB1"),  # I- after another type opens a span
        ([["S-PER", "O", "B-LOC", "E-LOC"]], "BIOES"),
        ([["NOUN", "VERB"]], None),
        ([["O", "O"]], None),  # no span at all
        ([["B-NP", "NOUN"]], None),  # a tag outside the scheme
    ],
)
def test_tag_scheme(tags: list[list[str]], scheme: str | None) -> None:
    assert tag_scheme(tags) == scheme


def test_ud_english_lines_reads_as_published(shared_data: Path) -> None:
    folder = shared_data / "ud_english_lines"
    counts = {"train": (3457, 64684), "dev": (1118, 21637), "test": (1121, 19984)}
    for split, (sentences, words) in counts.items():
        data = read_conllu(folder / f"en_lines-ud-{split}.conllu")
        assert (len(data), sum(len(s) for s in data.tokens)) == (sentences, words)
        assert tag_scheme(data.tags) is None
    tags = {
        tag
        for sentence in read_conllu(folder / "en_lines-ud-train.conllu").tags
        for tag in sentence
    }
    assert len(tags) == 17 and "NOUN" in tags


def test_holding_out_nothing_names_the_valid_setting_as_seq2seq_does() -> None:
    """Tagging keeps its best model by validation: a fraction of 0 says to give one above
    0 or a valid file, both named as settings (the command line writes their flags)."""
    sentences = TaggedSentences()
    for k in range(5):
        sentences.add(["a", "b"], ["X", "Y"], f"line {k}")
    with pytest.raises(
        SettingError, match="give val_fraction above 0 or a separate valid"
    ) as error:
        sentences.hold_out(0.0, 0)
    assert set(error.value.settings) == {"val_fraction", "valid"}
    with pytest.raises(SettingError, match="too few to hold out") as error:
        sentences.hold_out(0.01, 0)
    assert "valid" in error.value.settings
    one = TaggedSentences()
    one.add(["a"], ["X"], "line 1")
    with pytest.raises(SettingError, match="^1 sentence is too few to hold out 10%"):
        one.hold_out(0.1, 0)  # it said "1 sentences are"
