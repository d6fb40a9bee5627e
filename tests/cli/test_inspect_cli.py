"""rnnkit inspect: ranking, heatmaps and the coloured page of a trained model; errors."""

import json
import sys
from html.parser import HTMLParser

import pytest

from tests.cli.cli_helpers import TINY, assert_one_line_error, run_cli, write_corpus

TEXT = 'the "cat" sat (on [a] mat)\nand "dog" ran .'


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("inspect")
    corpus = folder / "corpus.txt"
    corpus.write_text(
        write_corpus(folder, count=120).read_text().replace("cat", '"cat" (a)'), "utf-8"
    )
    status, _, err = run_cli(
        "train", "--data", corpus, "--out", folder / "run", *TINY, "--max-steps", "6"
    )
    assert status == 0, err
    return folder / "run"


def test_inspect_writes_a_png_and_a_well_formed_page(run_folder, tmp_path):
    pytest.importorskip("matplotlib")
    png, page = tmp_path / "units.png", tmp_path / "unit.html"
    status, out, err = run_cli("inspect", run_folder, "--text", TEXT, "--png", png, "--html", page)
    assert status == 0, err
    for feature in ("inside quotes", "position in line", "bracket depth"):
        assert f"{feature}: layer 0 " in out
    assert png.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    html = page.read_text("utf-8")
    parser = HTMLParser()
    parser.feed(html)
    parser.close()
    assert html.startswith("<!DOCTYPE html>") and html.rstrip().endswith("</html>")
    assert html.count("<span ") == len(TEXT)


def test_inspect_json_ranking(run_folder):
    status, out, err = run_cli("inspect", run_folder, "--text", TEXT, "--json", "--top", "2")
    assert status == 0, err
    ranking = json.loads(out)
    assert set(ranking) == {"inside quotes", "position in line", "bracket depth"}
    scores = ranking["inside quotes"]
    assert len(scores) == 2 and abs(scores[0]["correlation"]) >= abs(scores[1]["correlation"])


def test_inspect_text_from_a_file(run_folder, tmp_path):
    source = tmp_path / "text.txt"
    source.write_text(TEXT, "utf-8")
    status, out, err = run_cli("inspect", run_folder, "--text-file", source, "--units", "0,3")
    assert status == 0, err
    assert "inside quotes:" in out


@pytest.mark.parametrize(
    "arguments, fragment",
    [
        (["--text", ""], "text is empty"),
        (["--text", TEXT, "--layer", "3"], "--layer 3"),
        (["--text", TEXT, "--units", "0,99"], "--units 0,99"),
        (["--text", TEXT, "--units", "a,b"], "--units a,b"),
        (["--text", TEXT, "--unit", "-1", "--html", "x.html"], "--unit -1"),
        (["--text-file", "/no/such/file.txt"], "file.txt"),
        ([], "--text"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(run_folder, arguments, fragment):
    status, _, err = run_cli("inspect", run_folder, *arguments)
    assert_one_line_error(status, err, fragment)


def test_not_a_run_folder(tmp_path):
    status, _, err = run_cli("inspect", tmp_path, "--text", TEXT)
    assert_one_line_error(status, err)


@pytest.mark.parametrize("flag", ["--png", "--html"])
def test_an_output_that_cannot_be_written_is_refused_before_the_ranking(run_folder, tmp_path, flag):
    # a file on the way: the write would fail; it is told before anything is printed
    (tmp_path / "file").write_text("x")
    target = tmp_path / "file" / "out"
    status, out, err = run_cli("inspect", run_folder, "--text", TEXT, flag, target)
    assert_one_line_error(status, err, f"{target}: not a directory")
    assert out == ""


def test_a_one_character_text_is_counted_in_the_singular(run_folder):
    status, out, err = run_cli("inspect", run_folder, "--text", "a")
    assert status == 0, err
    assert "the text (1 character) has no quotes" in out


def test_png_without_matplotlib_is_refused_before_the_ranking(run_folder, tmp_path, monkeypatch):
    # the ranking was printed and then the command failed, with no --html page written
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # makes the import fail
    page = tmp_path / "unit.html"
    status, out, err = run_cli(
        "inspect", run_folder, "--text", TEXT, "--png", tmp_path / "u.png", "--html", page
    )
    assert_one_line_error(status, err, "--png needs matplotlib", "rnnkit[plot]")
    assert out == "" and not page.exists()
