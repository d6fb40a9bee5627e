"""Settings as dataclasses: the one place where a setting's name, type, default and help live.

A model, a data reader and a training run each describe their settings as a dataclass
whose fields are made with ``option``::

    @dataclass
    class LanguageModelConfig:
        vocab_size: int = derived(0, "tokens in the vocabulary (set from the data)")
        hidden_size: int = option(256, "units per recurrent layer", minimum=1)

Everything else is read off those fields: the command line builds its flags from them
(``rnnkit.cli.flags``), ``config.json`` is ``to_dict`` of them, a run folder is read back
with ``from_dict`` (which checks every value against its type and bounds, so an edited or
damaged file is one clear error), and a resumed run refuses a new value for any field that
is not ``on_resume=CHANGEABLE`` (``fixed_differences``).

Errors are ``ConfigError``s naming the parameter (``hidden_size``), never a flag: a library
user sees the name they passed, the command line translates it to ``--hidden-size``.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from collections.abc import Callable
from typing import Any, TypeVar

from rnnkit.errors import UserError

FIXED = "fixed"  # what a run is: changing it on resume would make another run
CHANGEABLE = "changeable"  # how a run proceeds: may be changed when it resumes

T = TypeVar("T")


class ConfigError(UserError, ValueError):
    """A setting with a value it cannot take. ``parameter`` names it (dotted in sections);
    ``settings`` lists the one-word setting names MESSAGE uses as settings (``bidirectional``),
    as ``SettingError`` does, so that the command line can write them as flags."""

    def __init__(self, parameter: str, message: str, *settings: str) -> None:
        super().__init__(f"{parameter}: {message}")
        self.parameter = parameter
        self.reason = message
        self.settings = settings


# ``option(older_runs=...)`` not given: every saved run has the setting.
NOT_SAVED = object()


def option(
    default: Any,
    help: str,
    *,
    choices: tuple[Any, ...] | None = None,
    minimum: float | None = None,
    maximum: float | None = None,
    below: float | None = None,
    on_resume: str = FIXED,
    metavar: str | None = None,
    check: Callable[[Any], str | None] | None = None,
    path: bool = False,
    older_runs: Any = NOT_SAVED,
) -> Any:
    """A dataclass field that is a user setting (a command-line flag of its own).

    Args:
        default: the value when none is given (lists are copied per instance).
        help: one phrase for ``--help``; the default is appended there.
        choices: the only values allowed.
        minimum, maximum: inclusive bounds of a number; ``below``: an exclusive upper bound.
        on_resume: ``FIXED`` (a resume must keep it) or ``CHANGEABLE``.
        metavar: the flag's placeholder in the command line's help.
        check: more checks; returns a reason the value is wrong, or None.
        path: a file or folder to read, made absolute before the run saves it (a task's
            ``resolve_paths``).
        older_runs: for a setting added after runs were saved without it, the value those
            runs trained with; ``from_dict`` reads it where the key is missing (by default
            a missing key is an error).
    """
    metadata = {
        "help": help,
        "choices": choices,
        "minimum": minimum,
        "maximum": maximum,
        "below": below,
        "on_resume": on_resume,
        "metavar": metavar,
        "check": check,
        "path": path,
        "derived": False,
        "older_runs": older_runs,
    }
    if isinstance(default, list):
        return dataclasses.field(default_factory=lambda: list(default), metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


def derived(default: Any, help: str, *, minimum: float | None = None) -> Any:
    """A field set by the program (a vocabulary size, a path resolved): no flag of its own."""
    field = option(default, help, minimum=minimum)
    field.metadata = types.MappingProxyType({**field.metadata, "derived": True})
    return field


# -- reading the fields ----------------------------------------------------------------------


def settings(cls: type) -> list[tuple[dataclasses.Field, Any]]:
    """The fields of the dataclass CLS with their resolved types, in declaration order."""
    hints = typing.get_type_hints(cls)
    return [(field, hints[field.name]) for field in dataclasses.fields(cls)]


def is_section(kind: Any) -> bool:
    """Whether a field of this type is a nested settings dataclass."""
    return isinstance(kind, type) and dataclasses.is_dataclass(kind)


def base_type(kind: Any) -> tuple[Any, bool]:
    """``(type, optional)``: ``int | None`` -> ``(int, True)``."""
    args = typing.get_args(kind)
    if typing.get_origin(kind) in (typing.Union, types.UnionType) and type(None) in args:
        rest = [arg for arg in args if arg is not type(None)]
        return rest[0], True
    return kind, False


def default_of(field: dataclasses.Field) -> Any:
    if field.default_factory is not dataclasses.MISSING:
        return field.default_factory()
    return field.default


# -- checking values -------------------------------------------------------------------------


INT64_MAX = 2**63 - 1


def check_value(name: str, value: Any, kind: Any, field: dataclasses.Field | None = None) -> Any:
    """VALUE converted to KIND (an int that JSON wrote as 3.0 stays refused), or ConfigError."""
    kind, optional = base_type(kind)
    if value is None:
        if optional:
            return None
        raise ConfigError(name, f"expected {describe_type(kind)}, got null")
    meta = field.metadata if field is not None else {}
    if typing.get_origin(kind) in (list, tuple):
        (item_kind, *_) = typing.get_args(kind) or (Any,)
        if not isinstance(value, (list, tuple)):
            raise ConfigError(name, f"expected a list, got {value!r}")
        value = [check_value(name, item, item_kind) for item in value]
    elif kind is bool:
        if not isinstance(value, bool):
            raise ConfigError(name, f"expected true or false, got {value!r}")
    elif kind is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(name, f"expected an integer, got {value!r}")
        if abs(value) > INT64_MAX:
            # past int64, NumPy keeps it as a Python object: a traceback in the first array
            # that holds it (a checkpoint's scheduler state, a window index)
            raise ConfigError(name, f"must be at most {INT64_MAX} in size, got {value!r}")
    elif kind is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(name, f"expected a number, got {value!r}")
        value = float(value)
        if not math.isfinite(value):
            raise ConfigError(name, f"expected a finite number, got {value!r}")
    elif kind is str and not isinstance(value, str):
        raise ConfigError(name, f"expected a string, got {value!r}")
    if meta:
        check_bounds(name, value, meta)
    return value


def number_text(value: float) -> str:
    """VALUE as a message writes it: an integer in full (``1048576``, where ``:g`` wrote
    ``1.04858e+06``), a float short (``1e-12``) unless six digits would change it
    (``0.0012345679``, which ``:g`` writes as ``0.00123457``)."""
    if not isinstance(value, float):
        return str(value)
    short = f"{value:g}"
    return short if float(short) == value else repr(value)


def check_bounds(name: str, value: Any, meta: typing.Mapping[str, Any]) -> None:
    choices = meta.get("choices")
    values = value if isinstance(value, list) else [value]
    for item in values:
        if choices is not None and item not in choices:
            listed = ", ".join(str(choice) for choice in choices)
            raise ConfigError(name, f"expected one of {listed}, got {item!r}")
        if meta.get("minimum") is not None and item < meta["minimum"]:
            raise ConfigError(
                name, f"must be at least {number_text(meta['minimum'])}, got {item!r}"
            )
        if meta.get("maximum") is not None and item > meta["maximum"]:
            raise ConfigError(name, f"must be at most {number_text(meta['maximum'])}, got {item!r}")
        if meta.get("below") is not None and not item < meta["below"]:
            raise ConfigError(name, f"must be below {number_text(meta['below'])}, got {item!r}")
    check = meta.get("check")
    if check is not None:
        reason = check(value)
        if reason:
            raise ConfigError(name, reason)


def describe_type(kind: Any) -> str:
    return {int: "an integer", float: "a number", bool: "true or false", str: "a string"}.get(
        kind, "a value"
    )


def validate(config: Any, prefix: str = "") -> None:
    """Check every field of the settings dataclass CONFIG (and its sections); ConfigError."""
    for field, kind in settings(type(config)):
        value = getattr(config, field.name)
        name = prefix + field.name
        if is_section(kind):
            validate(value, name + ".")
        else:
            setattr(config, field.name, check_value(name, value, kind, field))


# -- to and from JSON ------------------------------------------------------------------------


def to_dict(config: Any) -> dict[str, Any]:
    """CONFIG as JSON-ready data (sections as nested dicts)."""
    return dataclasses.asdict(config)


def from_dict(cls: type[T], data: Any, prefix: str = "") -> T:
    """Rebuild the settings dataclass CLS from ``to_dict`` output, checking every value.

    Unknown and missing keys are errors: a file from another version of the format is
    refused by name rather than half understood. The exception is a setting added later
    with ``older_runs``: a run saved before it gets the value it trained with.
    """
    if not isinstance(data, dict):
        raise ConfigError(prefix.rstrip(".") or cls.__name__, f"expected an object, got {data!r}")
    known = {field.name for field in dataclasses.fields(cls)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ConfigError(prefix + unknown[0], "unknown setting")
    values = {}
    for field, kind in settings(cls):
        name = prefix + field.name
        if field.name not in data:
            if field.metadata.get("older_runs", NOT_SAVED) is NOT_SAVED:
                raise ConfigError(name, "missing")
            values[field.name] = field.metadata["older_runs"]
            continue
        if is_section(kind):
            values[field.name] = from_dict(kind, data[field.name], name + ".")
        else:
            values[field.name] = check_value(name, data[field.name], kind, field)
    return cls(**values)


def keep_auto_choices(saved: Any, given: Any) -> None:
    """Set on GIVEN the SAVED value of every FIXED setting that GIVEN leaves to ``"auto"``
    and SAVED holds as the choice auto made when the run started (a classifier's
    tokenizer): auto given again on resume asks for that choice, not for another run."""
    for field, kind in settings(type(saved)):
        old, new = getattr(saved, field.name), getattr(given, field.name)
        if is_section(kind):
            keep_auto_choices(old, new)
        elif (
            field.metadata.get("on_resume", FIXED) == FIXED
            and new == "auto" != old
            and "auto" in (field.metadata.get("choices") or ())
        ):
            setattr(given, field.name, old)


def fixed_differences(saved: Any, given: Any, prefix: str = "") -> list[tuple[str, Any, Any]]:
    """``(name, saved value, given value)`` of every FIXED field where GIVEN differs."""
    differences = []
    for field, kind in settings(type(saved)):
        name = prefix + field.name
        old, new = getattr(saved, field.name), getattr(given, field.name)
        if is_section(kind):
            differences += fixed_differences(old, new, name + ".")
        elif field.metadata.get("on_resume", FIXED) == FIXED and old != new:
            differences.append((name, old, new))
    return differences
