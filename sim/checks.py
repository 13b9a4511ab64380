"""The one checks module: every argument and config check, and the one message style.

A value that cannot be simulated raises :class:`ConfigError`, whose text is one line::

    KEY=VALUE what is allowed

``KEY`` is the key as the user typed it (``api_models.gpt_4o_mini.usd_per_mtok_input``)
when the check runs on the config, or the argument name when a constructor is called
from Python. The command line prints ``configuration error: <that line>`` and exits 2.

Two layers use the same functions:

* **Config rules.** Fields of the typed schema (:mod:`sim.config`) declare their rule in
  the field's metadata with :func:`knob`; :func:`check_tree` walks a composed config
  against the schema, checks every value with its full key, and rejects keys the schema
  does not know (also those added with ``+key=value``). Every float is finite unless
  its rule says otherwise, so NaN and infinity never reach the simulation.
* **Argument checks.** Constructors (``__init__`` only stores and checks) call
  :func:`number`, :func:`choice` and friends on their arguments, so objects built from
  Python get the same protection and the same messages.

Checks that involve two keys (``warmup_s`` and ``horizon_s``) name both (:func:`both`).
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import re
import types
import typing
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NoReturn

import numpy as np

RULE = "sim.rule"  # key of a field's metadata that holds its Rule


class ConfigError(ValueError):
    """A value that cannot be simulated; ``str()`` is one line naming key, value and what is allowed."""

    def __init__(self, message: str, *, key: str | None = None) -> None:
        super().__init__(message)
        self.key = key


class InputFileError(ConfigError):
    """An input file (a trace) that cannot be used: names the file, the line and the problem."""

    def __init__(self, path: str, line: int | None, problem: str, *, key: str | None = None):
        where = f"{path}" + (f", line {line}" if line is not None else "")
        super().__init__(f"{where}: {problem}", key=key)
        self.path = path
        self.line = line
        self.problem = problem


# -- message pieces ------------------------------------------------------------------------
def show(value: Any) -> str:
    """A value as a user would type it: ``0.5``, ``'gamma'``, ``null``, ``[1, 2]``, ``nan``."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (float, np.floating)):
        v = float(value)
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return repr(v)
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{k}: {show(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple, np.ndarray)) or _is_list_config(value):
        return "[" + ", ".join(show(v) for v in value) + "]"
    return repr(value)


def _is_list_config(value: Any) -> bool:
    return type(value).__name__ == "ListConfig"


def fail(key: str, value: Any, what: str) -> NoReturn:
    """Raise ``ConfigError("KEY=VALUE what")``."""
    raise ConfigError(f"{key}={show(value)} {what}", key=key)


def both(key_a: str, a: Any, key_b: str, b: Any, what: str) -> NoReturn:
    """Raise for a combination: ``KEY_A=A and KEY_B=B what``."""
    raise ConfigError(f"{key_a}={show(a)} and {key_b}={show(b)} {what}", key=key_a)


def did_you_mean(word: str, options: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for a close match, else empty."""
    close = difflib.get_close_matches(str(word), [str(o) for o in options], n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def _bounds_text(gt: Any, ge: Any, lt: Any, le: Any) -> str:
    lo = f"{'(' if gt is not None else '['}{gt if gt is not None else ge}"
    hi = f"{lt if lt is not None else le}{')' if lt is not None else ']'}"
    if (gt is not None or ge is not None) and (lt is not None or le is not None):
        return f"in {lo}, {hi}"
    if gt is not None:
        return f"> {gt}"
    if ge is not None:
        return f">= {ge}"
    if lt is not None:
        return f"< {lt}"
    if le is not None:
        return f"<= {le}"
    return ""


# -- argument checks -----------------------------------------------------------------------
def number(
    key: str,
    value: Any,
    *,
    gt: float | None = None,
    ge: float | None = None,
    lt: float | None = None,
    le: float | None = None,
    integer: bool = False,
    none_ok: bool = False,
    finite: bool = True,
) -> Any:
    """``value`` as a float (an int with ``integer``), if it is a number within the bounds.

    Rejects booleans, strings, NaN, and infinity unless ``finite=False``; ``None`` only
    with ``none_ok``. An integral float passes ``integer`` (``4.0`` -> ``4``).
    """
    rule = Rule(gt=gt, ge=ge, lt=lt, le=le, integer=integer, none_ok=none_ok, finite=finite)
    return rule.number(key, value)


def positive(key: str, value: Any, **kw: Any) -> Any:
    """A finite number > 0."""
    return number(key, value, gt=0, **kw)


def non_negative(key: str, value: Any, **kw: Any) -> Any:
    """A finite number >= 0."""
    return number(key, value, ge=0, **kw)


def integer(key: str, value: Any, low: int = 0, **kw: Any) -> int:
    """An integer >= ``low``."""
    return number(key, value, ge=low, integer=True, **kw)


def probability(key: str, value: Any) -> float:
    """A number in [0, 1]."""
    return number(key, value, ge=0, le=1)


def fraction(key: str, value: Any) -> float:
    """A share in (0, 1]."""
    return number(key, value, gt=0, le=1)


def choice(key: str, value: Any, allowed: Iterable[Any]) -> Any:
    """``value`` if it is one of ``allowed``."""
    allowed = list(allowed)
    if value not in allowed:
        fail(
            key,
            value,
            f"is not allowed{did_you_mean(value, allowed)}; choose one of: "
            + ", ".join(map(str, allowed)),
        )
    return value


def lookup(key: str, name: Any, catalog: Mapping[str, Any], catalog_key: str) -> Any:
    """The entry ``name`` of ``catalog`` (config key ``catalog_key``)."""
    if name not in catalog:
        fail(
            key,
            name,
            f"is not in the {catalog_key} catalog{did_you_mean(name, catalog)}; available: "
            + ", ".join(sorted(map(str, catalog))),
        )
    return catalog[name]


def profile(key: str, values: Sequence[float], length: int | None = None) -> np.ndarray:
    """A float64 array of finite values >= 0 with a positive sum (and ``length`` values)."""
    try:
        a = np.asarray(list(values), dtype=np.float64)
    except (TypeError, ValueError):
        fail(key, values, "must be a list of numbers")
    if a.ndim != 1 or (length is not None and a.shape[0] != length):
        want = f"{length} values" if length is not None else "a flat list of numbers"
        fail(key, values, f"must have {want} (got {a.size})")
    if a.shape[0] == 0 or not np.all(np.isfinite(a)) or np.any(a < 0) or not a.sum() > 0:
        fail(key, values, "must be finite numbers >= 0, not all zero")
    return a


def rng(key: str, value: Any) -> np.random.Generator:
    """``value`` if it is a ``numpy.random.Generator`` (a programming error otherwise)."""
    if not isinstance(value, np.random.Generator):
        raise TypeError(f"{key} must be a numpy.random.Generator, got {type(value).__name__}")
    return value


# -- config rules --------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Rule:
    """What one config field allows. Numbers are finite unless ``finite=False``."""

    gt: float | None = None
    ge: float | None = None
    lt: float | None = None
    le: float | None = None
    integer: bool = False
    none_ok: bool = False
    finite: bool = True
    choices: tuple[str, ...] | None = None
    length: int | None = None  # lists: exact length
    min_length: int | None = None
    profile: bool = False  # lists: values >= 0 with a positive sum

    def check(self, key: str, value: Any) -> None:
        """Raise :class:`ConfigError` if ``value`` breaks the rule."""
        if value is None and self.none_ok:
            return
        if self.choices is not None:
            choice(key, value, self.choices)
            return
        if isinstance(value, (list, tuple)) or _is_list_config(value):
            self._check_list(key, list(value))
            return
        self.number(key, value)

    def number(self, key: str, value: Any) -> Any:
        """``value`` as a float (an int with ``integer``) if this numeric rule allows it."""
        if value is None and self.none_ok:
            return None
        if (
            value is None
            or isinstance(value, (bool, np.bool_))
            or not isinstance(value, (int, float, np.integer, np.floating))
        ):
            fail(key, value, f"must be {self.describe()}")
        v = float(value)
        if math.isnan(v) or (self.finite and math.isinf(v)):
            fail(key, value, f"must be {self.describe()}")
        if self.integer and not (math.isfinite(v) and v == int(v)):
            fail(key, value, f"must be {self.describe()}")
        if (
            (self.gt is not None and not v > self.gt)
            or (self.ge is not None and not v >= self.ge)
            or (self.lt is not None and not v < self.lt)
            or (self.le is not None and not v <= self.le)
        ):
            fail(key, value, f"must be {self.describe()}")
        return int(value) if self.integer else v

    def _check_list(self, key: str, values: list[Any]) -> None:
        if self.length is not None and len(values) != self.length:
            fail(key, values, f"must have {self.length} values (got {len(values)})")
        if self.min_length is not None and len(values) < self.min_length:
            fail(key, values, f"must have at least {self.min_length} values (got {len(values)})")
        if self.profile:
            profile(key, values, self.length)
            return
        for i, v in enumerate(values):
            Rule(self.gt, self.ge, self.lt, self.le, self.integer, False, self.finite).check(
                f"{key}[{i}]", v
            )

    def describe(self) -> str:
        """The rule in words, for messages, ``--help`` and the README."""
        if self.choices is not None:
            return "one of: " + ", ".join(self.choices)
        kind = "an integer" if self.integer else ("a finite number" if self.finite else "a number")
        text = f"{kind} {_bounds_text(self.gt, self.ge, self.lt, self.le)}".strip()
        text += " or null" if self.none_ok else ""
        if self.length is not None:
            text = f"{self.length} values, each {text}"
        if self.profile:
            text += ", not all zero"
        return text


def knob(default: Any = dataclasses.MISSING, *, factory: Any = None, **rule: Any) -> Any:
    """A schema field with its rule: ``replicas: int = knob(1, ge=1, integer=True)``."""
    meta = {RULE: Rule(**rule)}
    if factory is not None:
        return dataclasses.field(default_factory=factory, metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


_FLOAT_DEFAULT = Rule()  # every float field: finite


def _hints(schema: type) -> dict[str, Any]:
    return typing.get_type_hints(schema)


def strip_optional(hint: Any) -> Any:
    """``X`` for ``X | None`` (or ``Optional[X]``); other hints unchanged."""
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return args[0] if len(args) == 1 else hint
    return hint


def _raw(node: Any, name: str) -> str:
    """The unresolved text of ``node.name`` (an interpolation such as ``${ceil_div:...}``)."""
    try:
        return str(node._get_node(name)._value())
    except Exception:  # pragma: no cover - best effort for messages only
        return "?"


def _get(node: Any, name: str, key: str) -> Any:
    """``node[name]``, resolving interpolations; a resolver error becomes one line."""
    from omegaconf.errors import OmegaConfBaseException

    try:
        return node[name]
    except OmegaConfBaseException as exc:
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        msg = re.sub(r"^\w+ raised while resolving interpolation: ", "", msg)
        if type(exc).__name__ == "MissingMandatoryValue":
            raise ConfigError(f"{key} is missing: it needs a value", key=key) from None
        raise ConfigError(f"{key}={_raw(node, name)} cannot be resolved: {msg}", key=key) from None


def check_tree(cfg: Any, schema: type, prefix: str = "") -> None:
    """Check a composed config against ``schema`` (a dataclass), naming every key in full.

    Unknown keys (typos, ``+key=value`` additions) fail like a misspelt key; each field's
    :class:`Rule` (from :func:`knob`) is applied, and every float is finite.
    """
    fields = {f.name: f for f in dataclasses.fields(schema)}
    hints = _hints(schema)
    for name in list(cfg.keys()):
        if name not in fields:
            key = f"{prefix}{name}"
            where = prefix[:-1] or "the config"
            raise ConfigError(
                f"{key}={show(_get(cfg, name, key))} is not a known key"
                f"{did_you_mean(name, fields)} ({where} has: {', '.join(fields)})",
                key=key,
            )
    for name, f in fields.items():
        key = f"{prefix}{name}"
        value = _get(cfg, name, key)
        hint = strip_optional(hints[name])
        rule = f.metadata.get(RULE)
        if dataclasses.is_dataclass(hint):
            if value is not None:
                check_tree(value, hint, key + ".")
            continue
        if typing.get_origin(hint) is dict:
            inner = strip_optional(typing.get_args(hint)[1])
            for k in list(value.keys()):
                v = _get(value, k, f"{key}.{k}")
                if dataclasses.is_dataclass(inner):
                    check_tree(v, inner, f"{key}.{k}.")
                elif rule is not None or inner is float:
                    (rule or _FLOAT_DEFAULT).check(f"{key}.{k}", v)
            continue
        if rule is not None:
            rule.check(key, value)
        elif isinstance(value, float) or (
            typing.get_origin(hint) is list and typing.get_args(hint)[0] is float
        ):
            _FLOAT_DEFAULT.check(key, value)


def rules(schema: type, prefix: str = "") -> list[tuple[str, Rule]]:
    """Every ``(key, rule)`` of a schema, nested sections flattened (for help and docs)."""
    out: list[tuple[str, Rule]] = []
    hints = _hints(schema)
    for f in dataclasses.fields(schema):
        hint = strip_optional(hints[f.name])
        if dataclasses.is_dataclass(hint):
            out += rules(hint, f"{prefix}{f.name}.")
        elif RULE in f.metadata:
            out.append((f"{prefix}{f.name}", f.metadata[RULE]))
    return out
