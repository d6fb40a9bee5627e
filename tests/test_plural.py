"""A count with its noun: singular for one, plural otherwise."""

from rnnkit.plural import counted


def test_one_is_singular_and_every_other_count_plural() -> None:
    assert counted(1, "gap") == "1 gap"
    assert [counted(n, "step") for n in (0, 2, 1200)] == ["0 steps", "2 steps", "1,200 steps"]
    assert counted(3, "series", "series") == "3 series"
