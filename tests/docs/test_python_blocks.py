"""Every Python block of the documentation runs as shown (in a folder of its own), and the
values its comments give (``output.shape  # (7, 4, 32)``) are the values it computes. The
blocks that cannot run here are listed in NOT_RUN with the reason, and checked for what
they can be."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest

from rnnkit.threads import limit_threads
from tests.docs.markdown import ROOT, Code, fenced_blocks

# (page, text the block holds): why it is not run, and what is checked instead.
NOT_RUN = {
    ("docs/examples.md", '--8<-- "examples/hello.py"'): "includes examples/hello.py, which "
    "tests/examples/test_hello.py runs; checked: the file and that test exist",
    ("docs/concepts/seq2seq-attention.md", "load_ensemble"): "needs two trained seq2seq runs "
    "(run-a, run-b); checked: its imports, and that the calls fit the functions' parameters",
    ("docs/concepts/tasks.md", "class TaggingTask"): "an outline, with ... for the bodies; "
    "checked: the class line, attributes and methods are the real TaggingTask's",
}
# (page, text the block holds): blocks that go on from the page's Python block before them.
CONTINUED = {
    ("docs/getting-started.md", "Adam(lstm.params"): "uses the layer made above",
    ("docs/getting-started.md", "save_weights("): "saves the layer made above",
}
BLOCKS = [block for block in fenced_blocks() if block.language == "python"]


def reason(block: Code) -> str | None:
    found = [
        why for (page, text), why in NOT_RUN.items() if page == block.page and text in block.text
    ]
    return found[0] if found else None


def test_not_run_blocks_are_there() -> None:
    for page, text in [*NOT_RUN, *CONTINUED]:
        assert any(b.page == page and text in b.text for b in BLOCKS), f"{page}: no block {text!r}"


RUN = [block for block in BLOCKS if reason(block) is None]


@pytest.mark.parametrize("block", RUN, ids=[block.where for block in RUN])
def test_block_runs(block: Code, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if "matplotlib" in block.text:
        pytest.importorskip("matplotlib")
    if "torch" in block.text.replace("torch.nn", ""):
        pytest.importorskip("torch")
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "__docs__"}
    with limit_threads(1):
        for part in [*before(block), block]:
            exec(compile(part.text, part.where, "exec"), namespace)
        for expression, expected in commented_values(block.text):
            value = eval(expression, namespace)
            assert shapes(value) == expected, f"{block.where}: {expression} is {value}"


def before(block: Code) -> list[Code]:
    """The block BLOCK goes on from, if it is one of CONTINUED (and what that one goes on from)."""
    if not any(page == block.page and text in block.text for page, text in CONTINUED):
        return []
    earlier = [b for b in BLOCKS if b.page == block.page and b.line < block.line]
    return [*before(earlier[-1]), earlier[-1]]


def commented_values(text: str) -> list[tuple[str, object]]:
    """(expression, value) for each statement whose comment starts with a Python value:
    an expression's own value, or the value an assignment gives its one name."""
    found = []
    for node in ast.parse(text).body:
        line = ast.get_source_segment(text, node) or ""
        comment = text.splitlines()[node.end_lineno - 1].partition("  # ")[2]
        try:  # the value may be followed by words: "# (4, 4, 16): layers x directions first"
            expected = ast.literal_eval(comment.partition(": ")[0].strip())
        except (ValueError, SyntaxError):
            continue
        if isinstance(node, ast.Expr):
            found.append((line, expected))
        elif isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
            found.append((node.targets[0].id, expected))
    return found


def shapes(value: object) -> object:
    """VALUE as a comment writes it: an array as its shape, a tuple item by item."""
    if hasattr(value, "shape"):
        return tuple(value.shape)
    if isinstance(value, tuple):
        return tuple(shapes(item) for item in value)
    return value


def block_with(text: str) -> Code:
    (block,) = [b for b in BLOCKS if text in b.text]
    return block


def test_included_example_is_run_elsewhere() -> None:
    assert (ROOT / "examples/hello.py").is_file()
    assert (ROOT / "tests/examples/test_hello.py").is_file()


def test_ensemble_calls_fit() -> None:
    block = block_with("load_ensemble")
    tree = ast.parse(block.text)
    namespace: dict = {}
    for node in tree.body:
        if isinstance(node, ast.ImportFrom | ast.Import):
            exec(compile(ast.Module([node], []), block.where, "exec"), namespace)
    for call in (n for n in ast.walk(tree) if isinstance(n, ast.Call)):
        function = namespace.get(getattr(call.func, "id", None))
        if function is None:
            continue
        keywords = {k.arg: None for k in call.keywords}
        inspect.signature(function).bind(*call.args, **keywords)  # TypeError if not


def test_task_outline_is_the_real_class() -> None:
    from rnnkit.train.tasks import tagging

    outline = class_of(ast.parse(block_with("class TaggingTask").text))
    real = class_of(ast.parse(Path(tagging.__file__).read_text()), outline.name)
    assert ast.dump(ast.Module(outline.bases + outline.keywords, [])) == ast.dump(
        ast.Module(real.bases + real.keywords, [])
    ), "the class line differs"
    for node in outline.body:
        if isinstance(node, ast.Assign):
            name = node.targets[0].id
            assert getattr(tagging.TaggingTask, name) == ast.literal_eval(node.value), name
        elif isinstance(node, ast.FunctionDef):
            method = getattr(tagging.TaggingTask, node.name)
            assert list(inspect.signature(method).parameters) == [a.arg for a in node.args.args]


def class_of(tree: ast.Module, name: str | None = None) -> ast.ClassDef:
    return next(n for n in ast.walk(tree) if isinstance(n, ast.ClassDef) and name in (None, n.name))
