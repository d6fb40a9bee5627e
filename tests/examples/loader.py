"""Import an example program from ``examples/`` as a module, by file name, or run it."""

import importlib.util
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def load_example(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


def run_example(
    name: str, *args: object, cwd: Path | None = None, without_matplotlib: Path | None = None
) -> subprocess.CompletedProcess:
    """Run ``examples/NAME.py`` with ARGS in a child Python, its output captured as text.

    ``without_matplotlib``: a folder to make a stand-in matplotlib in, one that fails to
    import, as on a machine without the [plot] extra.
    """
    command = [sys.executable, str(EXAMPLES / f"{name}.py"), *map(str, args)]
    env = None
    if without_matplotlib is not None:
        package = without_matplotlib / "matplotlib"
        package.mkdir(parents=True)
        (package / "__init__.py").write_text("raise ImportError('no matplotlib')\n")
        path = os.pathsep.join(filter(None, [str(without_matplotlib), os.getenv("PYTHONPATH")]))
        env = os.environ | {"PYTHONPATH": path}
    return subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=cwd, env=env)


def assert_refused(done: subprocess.CompletedProcess, message: str) -> None:
    """The example stopped with MESSAGE as its one line, status 2, and printed nothing else."""
    assert done.returncode == 2, done.stderr
    assert done.stderr == f"{message}\n"
    assert done.stdout == ""
