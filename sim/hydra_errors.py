"""Hydra's and OmegaConf's errors, said in the one message style of :mod:`sim.checks`.

Hydra reports a typo, a wrong type or an unknown scenario in several lines with
internal type names (``Key 'userz' not in 'WorkloadConfig'``, ``reference_type=...``).
:func:`explain` turns each into one line naming the key as the user typed it, the
value as typed on the command line, and what is allowed.
"""

from __future__ import annotations

import dataclasses
import re
import typing
from collections.abc import Sequence
from typing import Any

from sim import checks

_CONVERT = re.compile(r"could not be converted to (\w+)")
_TYPE_WORDS = {
    "Integer": "an integer",
    "Float": "a number",
    "Boolean": "true or false",
    "String": "a string",
}


def typed_value(key: str, argv: Sequence[str]) -> str | None:
    """The value the user typed for ``key`` on the command line (last one wins)."""
    found = None
    for arg in argv:
        body = arg.lstrip("+~")
        if "=" in body and body.split("=", 1)[0] == key:
            found = body.split("=", 1)[1]
    return found


def section_fields(key: str) -> list[str]:
    """Field names of the schema section that holds ``key`` (``workload.userz`` -> workload's)."""
    from sim.config import schema as full_schema

    schema: Any = full_schema()
    parts = key.split(".")[:-1]
    i = 0
    while i < len(parts):
        hints = typing.get_type_hints(schema)
        hint = checks.strip_optional(hints.get(parts[i], type(None)))
        if dataclasses.is_dataclass(hint):
            schema = hint
        elif typing.get_origin(hint) is dict:
            schema = checks.strip_optional(typing.get_args(hint)[1])
            i += 1  # skip the entry name (pools.<name>)
            if not dataclasses.is_dataclass(schema):
                return []
        else:
            return []
        i += 1
    return [f.name for f in dataclasses.fields(schema)]


_CATALOGS = {
    "hardware": "configs/hardware/*.yaml",
    "models": "configs/models/*.yaml",
    "api_models": "configs/api_models/*.yaml",
}


def _new_catalog_entry(key: str, argv: Sequence[str]) -> str | None:
    """An override that names a catalog or component entry the config does not have."""
    from sim.components.kinds import kinds

    sections = {**_CATALOGS, **dict.fromkeys(kinds(), "the scenario file")}
    for arg in argv:
        name = arg.lstrip("+~").split("=", 1)[0]
        parts = name.split(".")
        if len(parts) >= 2 and parts[0] in sections and parts[1] in (key, key.split(".")[-1]):
            if parts[0] in ("hardware", "models", "api_models"):
                from sim.helptext import catalog_entries

                known = [n for n, _ in catalog_entries(parts[0])]
            else:
                known = []
            hint = checks.did_you_mean(parts[1], known)
            return (
                f"{parts[0]}.{parts[1]} is not an entry of {parts[0]}{hint}; entries are "
                f"declared in {sections[parts[0]]} (the command line can change an entry, "
                "not add one)"
            )
    return None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _list_paths(schema: Any, element: type, prefix: str = "") -> list[str]:
    """Dotted paths of the schema's lists of ``element`` (``pools.*.x`` for a kind's entries)."""
    out: list[str] = []
    for name, hint in typing.get_type_hints(schema).items():
        hint = checks.strip_optional(hint)
        origin, args = typing.get_origin(hint), typing.get_args(hint)
        if origin is list and args and args[0] is element:
            out.append(prefix + name)
        elif origin is dict and args and dataclasses.is_dataclass(args[1]):
            out.extend(_list_paths(args[1], element, f"{prefix}{name}.*."))
        elif dataclasses.is_dataclass(hint):
            out.extend(_list_paths(hint, element, f"{prefix}{name}."))
    return out


def list_element_key(cause: Any, argv: Sequence[str]) -> tuple[str, str, list[str]] | None:
    """``(full key, value as typed, its fields)`` for an error inside one element of a list
    of sections (``workload.growth.price_changes[1].at_day``), which OmegaConf reports by
    the field's name alone; None when ``cause`` is not about such an element."""
    import fnmatch

    import yaml

    from sim.config import schema as full_schema

    element, name = getattr(cause, "object_type", None), getattr(cause, "key", None)
    if not (dataclasses.is_dataclass(element) and isinstance(name, str)):
        return None
    paths = _list_paths(full_schema(), element)
    if not paths:
        return None
    fields = [f.name for f in dataclasses.fields(element)]
    for arg in reversed(argv):
        body = arg.lstrip("+~")
        if "=" not in body:
            continue
        key, text = body.split("=", 1)
        if not any(fnmatch.fnmatchcase(key, p) for p in paths):
            continue
        try:
            items = yaml.safe_load(text)
        except yaml.YAMLError:
            items = None
        if isinstance(items, list):
            bad = re.search(r"Value '([^']*)'", getattr(cause, "msg", "") or "")
            hits = [i for i, it in enumerate(items) if isinstance(it, dict) and name in it]
            if bad:  # a value that did not convert: the element that holds it
                hits = [i for i in hits if str(items[i][name]) == bad.group(1)] or hits
            if hits:
                return f"{key}[{hits[0]}].{name}", str(items[hits[0]][name]), fields
        return f"{key}[].{name}", "?", fields
    return f"{paths[0].replace('*', '<name>')}[].{name}", "?", fields


def _omegaconf_line(cause: Any, argv: Sequence[str]) -> str | None:
    from omegaconf.errors import ConfigAttributeError, ConfigKeyError, ValidationError

    key = getattr(cause, "full_key", None)
    if not key:
        return None
    value = typed_value(key, argv)
    shown = value if value is not None else "?"
    element = list_element_key(cause, argv) if "." not in key else None
    if element is not None:
        key, shown, fields = element
        value = shown
        if isinstance(cause, (ConfigKeyError, ConfigAttributeError)):
            name = key.rsplit(".", 1)[-1]
            return (
                f"{key}={shown} is not a known key{checks.did_you_mean(name, fields)} "
                f"(each element has: {', '.join(fields)})"
            )
    msg = getattr(cause, "msg", None) or _first_line(cause)
    added = _new_catalog_entry(key, argv)
    if added:
        return added
    if isinstance(cause, (ConfigKeyError, ConfigAttributeError)):
        name = key.rsplit(".", 1)[-1]
        fields = section_fields(key)
        where = key.rsplit(".", 1)[0] if "." in key else "the config"
        listing = f" ({where} has: {', '.join(fields)})" if fields else ""
        return f"{key}={shown} is not a known key{checks.did_you_mean(name, fields)}{listing}"
    if isinstance(cause, ValidationError):
        if "is not a valid bool" in msg:
            bad = re.search(r"Value '([^']*)'", msg)
            return f"{key}={bad.group(1) if bad else shown} must be true or false"
        if "is not a subclass of" in msg or "Cannot assign" in msg:
            fields = section_fields(key + ".x")
            example = f" (e.g. {key}.{fields[0]}=...)" if fields else ""
            return f"{key}={shown} is a section, not a value: set its keys instead{example}"
        if "is not a ListConfig" in msg:
            return f"{key}={shown} must be a list, e.g. {key}=[{shown}]"
        m = _CONVERT.search(msg)
        if m:
            want = _TYPE_WORDS.get(m.group(1), m.group(1).lower())
            hint = ""
            if want == "an integer" and value is not None:
                try:
                    f = float(value)
                    if f.is_integer() and abs(f) < 1e18:
                        hint = f" (write {int(f)})"
                except ValueError:
                    pass
            if value is not None and "," in value:  # one value of a sweep
                bad = re.search(r"Value '([^']*)'", msg)
                return f"{key}={shown}: {bad.group(1) if bad else 'a value'} must be {want}"
            return f"{key}={shown} must be {want}{hint}"
        if "is not Optional" in msg or "Non optional field" in msg:
            return f"{key}=null is not allowed: this key needs a value"
    return f"{key}={shown}: {msg.splitlines()[0]}"


def explain(exc: BaseException, argv: Sequence[str]) -> str | None:
    """One line for a known kind of error (``configuration error: ...``), else None."""
    from hydra.errors import (
        ConfigCompositionException,
        MissingConfigException,
        OverrideParseException,
    )
    from omegaconf.errors import OmegaConfBaseException

    if isinstance(exc, checks.ConfigError):
        return f"configuration error: {exc}"
    if isinstance(exc, MissingConfigException):
        missing = str(getattr(exc, "missing_cfg_file", "") or "")
        options = list(getattr(exc, "options", None) or [])
        if "/" in missing and options:
            group, name = missing.rsplit("/", 1)  # hydra/launcher/nope: group hydra/launcher
            return (
                f"configuration error: {group}={name!r} is not a {group}"
                f"{checks.did_you_mean(name, options)}; choose one of: {', '.join(options)}"
            )
        return f"configuration error: {_first_line(exc)}"
    if isinstance(exc, OverrideParseException):
        return (
            f"configuration error: cannot read the override {exc.override!r}: "
            f"{_first_line(exc)} (write key=value; lists as key=[a,b]; quote values with spaces)"
        )
    if isinstance(exc, ConfigCompositionException):
        cause = exc.__cause__
        if isinstance(cause, OmegaConfBaseException):
            line = _omegaconf_line(cause, argv)
            if line:
                return f"configuration error: {line}"
        return f"configuration error: {_first_line(exc)}"
    if isinstance(exc, OmegaConfBaseException):
        line = _omegaconf_line(exc, argv)
        return f"configuration error: {line or _first_line(exc)}"
    return None
