"""A count with its noun, in the singular or the plural: ``1 gap``, ``2 gaps``; the verb
that agrees with it: ``1 source was``, ``2 sources were``; and a list cut short with the
rest counted: ``'a', 'b' and 3 more``."""

from __future__ import annotations

from collections.abc import Iterable


def counted(number: int, noun: str, plural: str | None = None) -> str:
    """``"1 step"``, ``"3 steps"``, ``"1,200 steps"``: NUMBER and NOUN, plural unless 1.

    Args:
        number: how many.
        noun: the singular.
        plural: the plural where it is not NOUN + "s".
    """
    return f"{number:,} {noun if number == 1 else plural or noun + 's'}"


def were(number: int) -> str:
    """The verb that agrees with NUMBER things: ``"was"`` for 1, ``"were"`` otherwise."""
    return "was" if number == 1 else "were"


def some_of(items: Iterable[object], most: int) -> str:
    """The first MOST of ITEMS as their reprs joined with commas, the rest counted:
    ``"'a', 'b' and 3 more"``; ``""`` for none.

    Args:
        items: what to name, in order.
        most: how many to name at most (at least 1).
    """
    items = list(items)
    named = ", ".join(repr(item) for item in items[:most])
    rest = len(items) - most
    return named + (f" and {rest} more" if rest > 0 else "")
