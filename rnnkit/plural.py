"""A count with its noun, in the singular or the plural: ``1 gap``, ``2 gaps``; and the
verb that agrees with it: ``1 source was``, ``2 sources were``."""

from __future__ import annotations


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
