"""Shared test helpers: the PyTorch oracle is optional, the shared data sets too."""

from __future__ import annotations

import signal
from pathlib import Path
from types import ModuleType

import pytest

from tests.oracle import import_torch

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"

# A shell starts a background job (`pytest &`, `nohup`) with SIGINT ignored, and Python then
# installs no KeyboardInterrupt handler; the Ctrl-C tests need one here and in the programs
# they start, which a handled (not ignored) SIGINT is reset to default for.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture(autouse=True)
def token_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Token ids cached by a test go to a folder of the test session, not the user's."""
    folder = tmp_path_factory.getbasetemp() / "token-cache"
    monkeypatch.setenv("RNNKIT_CACHE", str(folder))
    return folder


@pytest.fixture(scope="session")
def torch() -> ModuleType:
    """PyTorch, single-threaded, for the oracle tests: a test that takes this argument is
    skipped (with the reason in ``tests/oracle.py``) when torch is not installed."""
    return import_torch()


class SharedPath(type(Path())):  # type: ignore[misc]
    """A path into the shared data sets below ``root`` whose ``/`` skips the test when the
    data set's folder (or the whole root) is absent, so a copy of ``../shared/data`` without
    one data set skips that set's tests instead of failing them; a file missing from a data
    set that is there fails the test, since its name is then most likely mistyped.

    ``root`` is a class attribute so that a test can point it elsewhere (``monkeypatch``):
    the paths ``/`` makes are new objects, which keep no attribute of their own."""

    root: Path = SHARED_DATA

    def __truediv__(self, key: str | Path) -> SharedPath:
        joined = super().__truediv__(key)
        if joined.exists():
            return joined
        data_set = self.root / joined.relative_to(self.root).parts[0]
        if not data_set.is_dir():
            pytest.skip(f"shared data not found at {data_set}")
        pytest.fail(f"{joined} not found, although its data set {data_set} is there: a "
                    "mistyped path?", pytrace=False)  # fmt: skip


@pytest.fixture
def shared_data() -> Path:
    if not SharedPath.root.is_dir():
        pytest.skip(f"shared data sets not found at {SharedPath.root}")
    return SharedPath(SharedPath.root)
