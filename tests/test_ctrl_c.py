"""stop_quietly_on_ctrl_c: a KeyboardInterrupt is one line and status 130; other errors pass."""

from __future__ import annotations

import pytest

from rnnkit.ctrl_c import stop_quietly_on_ctrl_c


def ctrl_c() -> None:
    raise KeyboardInterrupt


def ctrl_c_inside_set_name() -> None:
    # Python 3.11 wraps a KeyboardInterrupt raised in __set_name__ in a RuntimeError.
    try:
        ctrl_c()
    except KeyboardInterrupt as error:
        raise RuntimeError("Error calling __set_name__") from error


@pytest.mark.parametrize("main", [ctrl_c, ctrl_c_inside_set_name])
def test_ctrl_c_is_one_line_and_status_130(main, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as ended:
        stop_quietly_on_ctrl_c(main)
    assert ended.value.code == 130
    assert capsys.readouterr().err == "stopped\n"


def test_other_errors_and_a_normal_end_pass_through(capsys: pytest.CaptureFixture[str]) -> None:
    def broken() -> None:
        raise ValueError("a bug")

    with pytest.raises(ValueError, match="a bug"):
        stop_quietly_on_ctrl_c(broken)
    assert stop_quietly_on_ctrl_c(lambda: None) is None
    assert capsys.readouterr().err == ""
