"""Command-line flags from settings dataclasses, and the dataclasses back from parsed arguments.

The fields declare their flags (components/common/settings.py); this module is the only code
that turns them into argparse arguments. Nested settings (PipelineConfig.training.
augmentation) become dotted argparse destinations ("training.augmentation.zoom").
"""

from __future__ import annotations

import argparse
import dataclasses
from typing import Any

from components.common.settings import default_of, flag_of

_NO_DEFAULT_SUFFIX = ("store_true", "store_false", argparse.BooleanOptionalAction)


def add_settings(parser: argparse.ArgumentParser, cls: type, command: str,
                 groups: set[str] | None = None, _prefix: str = "",
                 _titled: dict[str, Any] | None = None) -> None:
    """Adds a flag for every flagged field of cls (and its nested settings) to parser.

    command: the sub-command being built (fields may be limited to some commands);
    groups: only fields of these groups, when given.
    """
    titled = {"": parser} if _titled is None else _titled
    for field in dataclasses.fields(cls):
        default, flag = default_of(field), flag_of(field)
        destination = _prefix + field.name
        if flag is None:
            if dataclasses.is_dataclass(default):
                add_settings(parser, type(default), command, groups, destination + ".", titled)
            continue
        if (flag.commands and command not in flag.commands) or (
                groups is not None and flag.group not in groups):
            continue
        kwargs = {key: value() if callable(value) and key == "choices" else value
                  for key, value in flag.argparse.items()}
        text = flag.help() if callable(flag.help) else flag.help
        if default is dataclasses.MISSING:
            kwargs["required"] = True
        else:
            # append collects into a list of its own; the field's default applies when absent.
            kwargs["default"] = None if kwargs.get("action") == "append" else default
            if default not in (None, (), "") and kwargs.get("action") not in _NO_DEFAULT_SUFFIX:
                text = f"{text} (default: {default})" if text else f"default: {default}"
        if kwargs.get("action") in (None, "append") and "metavar" not in kwargs and (
                "choices" not in kwargs):
            kwargs["metavar"] = flag.name.lstrip("-").upper().replace("-", "_")
        if flag.group not in titled:
            titled[flag.group] = parser.add_argument_group(flag.group)
        titled[flag.group].add_argument(flag.name, dest=destination, help=text, **kwargs)
        for alias in flag.hidden_aliases:
            titled[flag.group].add_argument(alias, dest=destination, help=argparse.SUPPRESS,
                                            **kwargs)


def settings_from(args: argparse.Namespace, cls: type, _prefix: str = "") -> Any:
    """cls built from the parsed arguments; fields without a flag on this command keep defaults."""
    given = vars(args)
    kwargs = {}
    for field in dataclasses.fields(cls):
        default, destination = default_of(field), _prefix + field.name
        if flag_of(field) is not None and destination in given:
            value = given[destination]
            if value is None and flag_of(field).argparse.get("action") == "append":
                value = default
            kwargs[field.name] = tuple(value) if isinstance(value, list) else value
        elif dataclasses.is_dataclass(default) and any(
                key.startswith(destination + ".") for key in given):
            kwargs[field.name] = settings_from(args, type(default), destination + ".")
    return cls(**kwargs)
