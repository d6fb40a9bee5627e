"""mkdocs hook: the command-line reference, written from ``rnnkit ... --help`` at build time.

A page that holds the line ``<!-- rnnkit-help -->`` gets, in its place, one section per
command (and per training task) with that command's help text, so the reference always
says what the installed command line says.
"""

from __future__ import annotations

import contextlib
import io

MARKER = "<!-- rnnkit-help -->"


def help_text(*argv: str) -> str:
    from rnnkit.cli.main import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main([*argv, "--help"])
    if status != 0 or not out.getvalue().strip():
        raise RuntimeError(f"rnnkit {' '.join(argv)} --help failed: {err.getvalue().strip()}")
    return out.getvalue().rstrip()


def reference() -> str:
    from rnnkit.cli.main import COMMANDS
    from rnnkit.train.tasks import TASKS

    sections = [("rnnkit", ())]
    sections += [(f"rnnkit train --task {name}", ("train", "--task", name)) for name in TASKS]
    sections += [(f"rnnkit {command.NAME}", (command.NAME,)) for command in COMMANDS]
    return "\n\n".join(
        f"## `{title}`\n\n```text\n{help_text(*argv)}\n```" for title, argv in sections
    )


def on_page_markdown(markdown: str, page, config, files) -> str:
    if MARKER not in markdown:
        return markdown
    return markdown.replace(MARKER, reference())
