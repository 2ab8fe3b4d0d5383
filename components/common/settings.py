"""Settings that carry their command-line flag: one field holds the default, the flag and its help.

A new option is one `setting(...)` field in a settings dataclass (PipelineConfig,
IngestOptions, TrainingConfig, Augmentation); `pipeline/cli/flags.py` turns the fields into
argparse arguments and the parsed arguments back into the dataclasses, so nothing
else repeats the option. Written here rather than with a dataclass-to-CLI library:
the flags keep their established spellings (`--patience` for
`early_stopping_patience`), and the whole mechanism is two small functions.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

FLAG = "flag"


@dataclasses.dataclass(frozen=True)
class Flag:
    """How a setting appears on the command line."""

    name: str  # e.g. "--patience"
    help: str | Callable[[], str] = ""  # a callable is read when the parser is built
    group: str = ""  # the argparse group it is listed under; "" = the command's own options
    # type, choices (a callable is read when the parser is built), action, nargs, metavar...
    argparse: dict[str, Any] = dataclasses.field(default_factory=dict)
    hidden_aliases: tuple[str, ...] = ()  # old spellings, accepted for one release
    commands: tuple[str, ...] = ()  # () = every command that takes the settings; else only these


def setting(default: Any = dataclasses.MISSING, flag: str | None = None,
            help: str | Callable[[], str] = "",  # noqa: A002 - argparse's word
            *, group: str = "", hidden_aliases: tuple[str, ...] = (),
            commands: tuple[str, ...] = (), default_factory: Any = dataclasses.MISSING,
            **argparse: Any) -> Any:
    """A dataclass field; with flag, also a command-line option (argparse keywords pass through)."""
    metadata = {FLAG: Flag(flag, help, group, argparse, hidden_aliases, commands)} if flag else {}
    if default_factory is not dataclasses.MISSING:
        return dataclasses.field(default_factory=default_factory, metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


def flag_of(field: dataclasses.Field) -> Flag | None:
    """The field's command-line flag, if it has one."""
    return field.metadata.get(FLAG)


def default_of(field: dataclasses.Field) -> Any:
    """The field's default value (dataclasses.MISSING for a required field)."""
    if field.default is not dataclasses.MISSING:
        return field.default
    if field.default_factory is not dataclasses.MISSING:  # type: ignore[misc]
        return field.default_factory()  # type: ignore[misc]
    return dataclasses.MISSING


def from_dict(cls: type, values: dict[str, Any]) -> Any:
    """Rebuilds a settings dataclass from its asdict() form (JSON), nested settings included.

    Keys that are not fields are ignored (a custom_config carries other components' keys).
    """
    kwargs = {}
    for field in dataclasses.fields(cls):
        if field.name not in values or not field.init:
            continue
        value, default = values[field.name], default_of(field)
        if dataclasses.is_dataclass(default) and isinstance(value, dict):
            value = from_dict(type(default), value)
        elif isinstance(default, tuple) and isinstance(value, list):
            value = tuple(value)
        kwargs[field.name] = value
    return cls(**kwargs)
