"""Flags made from settings dataclasses, and library errors put in the flags' words.

Every option field of a task's settings (``rnnkit.config``) becomes one flag: the field
``hidden_size`` of the ``model`` section is ``--hidden-size``, with the field's type,
choices and help, and the default read off the field. The parser's own default is None,
so ``given_settings`` can tell a flag given from one left alone: a resumed run changes
only what was given.

This is also the one place where a parameter's name becomes a flag's: ``as_flags`` turns
``hidden_size`` into ``--hidden-size`` in an error from below the command line.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Iterable
from typing import Any

from rnnkit.cli.arguments import integer, number
from rnnkit.config import base_type, default_of, is_section, number_text, settings
from rnnkit.errors import UserError

# Older or shorter names people type, beside a field's own flag. ``--data`` is how the
# tasks that read one file (lm, forecast) and every eval and predict name the data, so the
# tasks with separate training, validation and test files take it for the training file.
ALIASES = {"cell": ["--model"], "train": ["--data"]}
# Single-word setting names that are safe to translate inside free text.
PLAIN_NAMES = ("lr", "clip", "ema", "epochs")
SEPARATOR = "__"  # between the section and the field in an argparse ``dest``


def refuse_aliases_together(argv: list[str]) -> None:
    """Refuse ARGV naming one setting by its flag and an alias (``--train A --data B``):
    argparse would keep the last without a word. One flag given twice stays allowed (a
    later value overrides an earlier one, as in a shell alias)."""
    given = {word.split("=", 1)[0] for word in argv if word.startswith("--")}
    for name, aliases in ALIASES.items():
        names = [flag for flag in (flag_name(name), *aliases) if flag in given]
        if len(names) > 1:
            raise UserError(f"{' and '.join(names)} are one setting; give one of them")


def flag_name(name: str) -> str:
    return "--" + name.replace("_", "-")


def add_settings_flags(parser: argparse.ArgumentParser, config_class: type) -> None:
    """One flag per option field of each section of CONFIG_CLASS, grouped by section."""
    for section, section_kind in settings(config_class):
        if not is_section(section_kind):
            continue
        group = parser.add_argument_group(section.name)
        for field, kind in settings(section_kind):
            if field.metadata.get("derived") or "help" not in field.metadata:
                continue
            add_flag(group, section.name, field, kind)


def add_flag(group: Any, section: str, field: Any, kind: Any) -> None:
    meta = field.metadata
    value_kind, _ = base_type(kind)
    default = default_of(field)
    help_text = meta["help"]
    if default is not None and default != [] and value_kind is not bool:
        help_text += f" (default {default})"
    names = [flag_name(field.name), *ALIASES.get(field.name, [])]
    common = {"dest": section + SEPARATOR + field.name, "default": None, "help": help_text}
    if value_kind is bool:
        group.add_argument(*names, action=argparse.BooleanOptionalAction, **common)
        return
    nargs = None
    if getattr(value_kind, "__origin__", None) in (list, tuple):
        (value_kind,) = value_kind.__args__[:1]
        nargs = "+"
    group.add_argument(
        *names,
        type=converter(value_kind),
        nargs=nargs,
        choices=meta.get("choices"),
        metavar=meta.get("metavar") or (None if meta.get("choices") else field.name.upper()),
        **common,
    )


def converter(kind: Any) -> Any:
    """The text-to-value function for a flag of type KIND (bounds come later, by name)."""
    if kind is float:
        return number
    if kind is int:
        return integer
    return str


def given_settings(args: argparse.Namespace) -> dict[tuple[str, str], Any]:
    """``{(section, field): value}`` of the settings flags given on the command line."""
    given = {}
    for dest, value in vars(args).items():
        if SEPARATOR in dest and value is not None:
            section, name = dest.split(SEPARATOR, 1)
            given[(section, name)] = value
    return given


def new_settings(config_class: type, given: dict[tuple[str, str], Any]) -> Any:
    """CONFIG_CLASS with the GIVEN values (checked later, with everything else).

    Each section is made with its given values, so a default that depends on another
    setting follows it: ``--optimizer sgd`` alone trains at sgd's default learning rate.
    """
    sections = {}
    for section, kind in settings(config_class):
        if is_section(kind):
            values = {
                name: value for (where, name), value in given.items() if where == section.name
            }
            sections[section.name] = kind(**values)
    return config_class(**sections)


def apply_settings(config: Any, given: dict[tuple[str, str], Any]) -> None:
    """Set the GIVEN values on CONFIG, a run's saved settings (checked later)."""
    for (section, name), value in given.items():
        setattr(getattr(config, section), name, value)


def changed_settings(
    saved: Any,
    config: Any,
    given: dict[tuple[str, str], Any],
    in_effect: dict[str, Any] | None = None,
) -> list[str]:
    """The GIVEN settings whose value in CONFIG differs from SAVED's, as the flags a user
    would type, each with the value it replaces: ``["--lr 0.01 (was 0.002)"]``.

    IN_EFFECT holds the values the run was using when it stopped where training changed
    them from the setting (the learning rate plateaus lowered), by setting name:
    ``["--lr 0.01 (was 0.002, lowered to 0.0005)"]``."""
    in_effect = in_effect or {}
    changes = []
    for section, name in given:
        old, new = getattr(getattr(saved, section), name), getattr(getattr(config, section), name)
        if old != new:
            was = _shown(old)
            if name in in_effect and in_effect[name] != old:
                was += f", lowered to {_shown(in_effect[name])}"
            changes.append(f"{flag_name(name)} {_shown(new)} (was {was})")
    return changes


def _shown(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, (list, tuple)):
        return " ".join(map(_shown, value))
    return number_text(value) if isinstance(value, (int, float)) else str(value)


def as_flags(message: str, names: set[str], named: Iterable[str] = ()) -> str:
    """MESSAGE with each setting name in NAMES written as its flag (``--hidden-size``).

    Names with an underscore cannot be mistaken for words; of the one-word names only
    PLAIN_NAMES are translated, and NAMED: the settings the error says it names
    (``SettingError.settings``).
    """
    wanted = {name for name in names if "_" in name} | set(PLAIN_NAMES) | set(named)

    def replace(match: re.Match[str]) -> str:
        word = match.group(0)
        return flag_name(word) if word in wanted else word

    # Not inside a dotted name (training.ema, a config.json key), a path (/data/train) or
    # a file name (train.tsv).
    message = re.sub(r"(?<![\w./-])[a-z][a-z0-9_]*(?![\w/-]|\.\w)", replace, message)
    # A boolean setting with its value ("tie_weights False") is its flag or the flag's
    # negation on the command line: "--tie-weights False" is no flag a user could type.
    return re.sub(
        r"--([a-z][a-z0-9-]*) (True|False)\b",
        lambda match: f"--{match[1]}" if match[2] == "True" else f"--no-{match[1]}",
        message,
    )


def setting_names(config_class: type) -> set[str]:
    """The names of every section of CONFIG_CLASS's settings that have a flag (not those
    the program derives, such as ``pad_id``, which no flag sets)."""
    names = set()
    for _section, kind in settings(config_class):
        if is_section(kind):
            names |= {
                field.name for field, _ in settings(kind) if not field.metadata.get("derived")
            }
    return names
