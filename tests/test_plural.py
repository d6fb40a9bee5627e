"""A count with its noun: singular for one, plural otherwise."""

from rnnkit.plural import counted, were


def test_one_is_singular_and_every_other_count_plural() -> None:
    assert counted(1, "gap") == "1 gap"
    assert [counted(n, "step") for n in (0, 2, 1200)] == ["0 steps", "2 steps", "1,200 steps"]
    assert counted(3, "series", "series") == "3 series"


def test_the_verb_agrees_with_the_count() -> None:
    assert [were(n) for n in (0, 1, 2)] == ["were", "was", "were"]


def test_some_of_names_the_first_and_counts_the_rest() -> None:
    from rnnkit.plural import some_of

    assert some_of([], 3) == ""
    assert some_of(["a", "b"], 3) == "'a', 'b'"
    assert some_of(["a", "b", "c"], 3) == "'a', 'b', 'c'"
    assert some_of(["a", "b", "c", "d", "e"], 3) == "'a', 'b', 'c' and 2 more"
    assert some_of({"x": 1, "y": 2}, 1) == "'x' and 1 more"  # a dict: its keys, in order
