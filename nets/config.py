"""Settings dataclasses: one way to check their fields, to write and read them, and to flag them.

Every algorithm's settings are a frozen dataclass next to it (``DQNConfig``, ``DKTConfig``, ...)
whose fields carry a one-line ``help`` in their metadata. ``Settings`` is the mixin they share:

- ``to_dict()`` / ``from_dict(values)``: JSON-able dicts (tuples as lists, nested settings as
  dicts) and back, refusing unknown keys;
- ``check`` and its shorthands for ``__post_init__``: a bad value raises ``SettingsError``, a
  ``ValueError`` that names the class, the field, the value and what is allowed, so a script
  can point at the flag (``flag_of``);
- ``add_arguments`` / ``given_arguments``: one ``--field-name`` flag per field for a script, whose
  ``--help`` is the field's help and default.

Example:
    >>> from dataclasses import dataclass, field
    >>> @dataclass(frozen=True)
    ... class Example(Settings):
    ...     width: int = field(default=4, metadata={"help": "units"})
    ...     def __post_init__(self):
    ...         self.check_at_least(["width"], 1)
    >>> Example.from_dict({"width": 8}).to_dict()
    {'width': 8}
    >>> Example(width=0)
    Traceback (most recent call last):
    ...
    riley_gym.nets.config.SettingsError: Example.width must be an integer >= 1, got 0
"""

from __future__ import annotations

import argparse
import dataclasses
import numbers
from collections.abc import Iterable
from typing import Any

from riley_gym.nets.cli import parse_bool

__all__ = ["Settings", "SettingsError", "add_arguments", "given_arguments", "flag_of", "is_integer"]


class SettingsError(ValueError):
    """A settings field has a value that is not allowed.

    Attributes:
        owner: the settings class's name.
        field: the field's name.
        value: the value given.
        allowed: what is allowed, in words ("an integer >= 1", "in [0, 1)").
    """

    def __init__(self, owner: str, field: str, value: Any, allowed: str) -> None:
        self.owner, self.field, self.value, self.allowed = owner, field, value, allowed
        super().__init__(f"{owner}.{field} must be {allowed}, got {value!r}")

    def flag_message(self) -> str:
        """The error as a script's user reads it, naming the flag they typed:
        ``--hidden-size must be an integer >= 1, got 0``."""
        return f"{flag_of(self.field)} must be {self.allowed}, got {self.value!r}"


def flag_of(field: str) -> str:
    """The command-line flag of a settings field: ``hidden_size`` -> ``--hidden-size``."""
    return "--" + field.replace("_", "-")


def _is_settings_class(value: Any) -> bool:
    return (
        isinstance(value, type) and issubclass(value, Settings) and dataclasses.is_dataclass(value)
    )


def _plain(value: Any) -> Any:
    if isinstance(value, tuple | list):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    return value


class Settings:
    """Mixin for frozen settings dataclasses (see the module docstring)."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-able plain values: nested settings as dicts, tuples as lists."""
        return _plain(dataclasses.asdict(self))

    @classmethod
    def from_dict(cls, values: dict[str, Any]):
        """Inverse of ``to_dict``: nested settings from dicts, tuple fields from lists.

        Raises:
            ValueError: naming the unknown keys and the allowed ones.
        """
        specs = {spec.name: spec for spec in dataclasses.fields(cls)}
        unknown = sorted(set(values) - set(specs))
        if unknown:
            raise ValueError(
                f"{cls.__name__} got unknown field(s) {unknown}; allowed: {sorted(specs)}"
            )
        converted = {}
        for name, value in values.items():
            spec = specs[name]
            nested = spec.default_factory if _is_settings_class(spec.default_factory) else None
            if nested is not None and isinstance(value, dict):
                value = nested.from_dict(value)
            elif isinstance(spec.default, tuple) and isinstance(value, list):
                value = tuple(value)
            converted[name] = value
        return cls(**converted)

    def check(self, name: str, ok: bool, allowed: str) -> None:
        """Raise ``SettingsError`` for field ``name`` unless ``ok``;
        ``allowed`` says what is allowed."""
        if not ok:
            raise SettingsError(type(self).__name__, name, getattr(self, name), allowed)

    def check_at_least(self, names: Iterable[str], minimum: float, integer: bool = True) -> None:
        """Each field in ``names`` is >= ``minimum`` (and an integer, not a bool,
        when ``integer``)."""
        for name in names:
            value = getattr(self, name)
            if integer:
                self.check(name, is_integer(value) and value >= minimum, f"an integer >= {minimum}")
            else:
                self.check(name, _is_number(value) and value >= minimum, f">= {minimum}")

    def check_above(self, names: Iterable[str], bound: float) -> None:
        """Each field in ``names`` is a number > ``bound`` (NaN refused)."""
        for name in names:
            value = getattr(self, name)
            self.check(name, _is_number(value) and value > bound, f"> {bound}")

    def check_interval(
        self,
        names: Iterable[str],
        low: float,
        high: float,
        low_open: bool = False,
        high_open: bool = False,
    ) -> None:
        """Each field in ``names`` is a number in the interval
        (``[``/``(`` by ``low_open``, etc.)."""
        text = f"in {'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"
        for name in names:
            value = getattr(self, name)
            inside = _is_number(value) and (value > low if low_open else value >= low)
            inside = inside and (value < high if high_open else value <= high)
            self.check(name, inside, text)

    def check_choice(self, name: str, choices: Iterable[Any]) -> None:
        """Field ``name`` is one of ``choices``."""
        choices = tuple(choices)
        self.check(name, getattr(self, name) in choices, f"one of {list(choices)}")


def _is_number(value: Any) -> bool:
    # NaN fails every comparison, so it is refused by the range checks that use this.
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def is_integer(value: Any) -> bool:
    """An integer (Python or numpy), not a bool."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def add_arguments(
    parser: argparse.ArgumentParser | argparse._ArgumentGroup,
    settings: type,
    skip: Iterable[str] = (),
) -> None:
    """Add one ``--field-name`` flag per field of ``settings`` (default None:
    keep the field's default).

    Booleans take true/false, tuples take one or more values, a field whose metadata has
    ``choices`` takes one of them; nested settings fields are skipped (add them with their own
    call).
    """
    skip = set(skip)
    for spec in dataclasses.fields(settings):
        if spec.name in skip or _is_settings_class(spec.default_factory):
            continue
        default = spec.default
        if default is dataclasses.MISSING and spec.default_factory is not dataclasses.MISSING:
            default = spec.default_factory()
        # argparse %-formats help strings; a literal "10%" must reach it as "10%%".
        help_text = f"{spec.metadata.get('help', '')} (default {_plain(default)})".replace(
            "%", "%%"
        )
        if isinstance(default, bool):
            parser.add_argument(
                flag_of(spec.name), type=parse_bool, default=None, metavar="BOOL", help=help_text
            )
        elif isinstance(default, tuple):
            element = type(default[0]) if default else str
            parser.add_argument(
                flag_of(spec.name), type=element, nargs="+", default=None, help=help_text
            )
        else:
            choices = spec.metadata.get("choices")
            parser.add_argument(
                flag_of(spec.name),
                type=type(default),
                default=None,
                choices=choices,
                help=help_text,
            )


def given_arguments(
    args: argparse.Namespace, settings: type, skip: Iterable[str] = ()
) -> dict[str, Any]:
    """The fields of ``settings`` whose flag was given (not None) in ``args``, tuples as tuples.

    A list of names may be given either way: ``--policies a b`` or ``--policies a,b``.
    """
    skip = set(skip)
    given = {}
    for spec in dataclasses.fields(settings):
        value = getattr(args, spec.name, None)
        if spec.name in skip or value is None:
            continue
        if isinstance(value, list) and value and all(isinstance(item, str) for item in value):
            value = [part.strip() for item in value for part in item.split(",") if part.strip()]
        given[spec.name] = tuple(value) if isinstance(value, list) else value
    return given
