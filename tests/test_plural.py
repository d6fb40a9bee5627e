"""A count with its noun: singular for one, plural otherwise."""

from rnnkit.plural import counted, were


def test_one_is_singular_and_every_other_count_plural() -> None:
    assert counted(1, "gap") == "1 gap"
    assert [counted(n, "step") for n in (0, 2, 1200)] == ["0 steps", "2 steps", "1,200 steps"]
    assert counted(3, "series", "series") == "3 series"


def test_the_verb_agrees_with_the_count() -> None:
    assert [were(n) for n in (0, 1, 2)] == ["were", "was", "were"]
