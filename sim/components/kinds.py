"""Component kinds: each kind registers its config section, typed config and builder.

A kind is one module of ``sim/components/`` (or a package) that calls :func:`register`
at import::

    @dataclass
    class CacheConfig:                       # typed config, rules with knob(...)
        capacity: int = knob(10_000, ge=1, integer=True)
        miss: list[str] = field(default_factory=list)   # a sub-path, by component names

    @register("caches", CacheConfig)
    def build_cache(b: Builder, name: str, cfg: Any) -> Stage:
        return LruCache(name, b.ctx, capacity=cfg.capacity, miss=b.path(cfg.miss, f"caches.{name}.miss"))

The schema gains a section ``caches: dict[str, CacheConfig]`` (so a scenario declares
``caches.NAME``), the config checks apply its rules with full keys, and
:class:`sim.build.Builder` builds every component a path names from its section. Adding
a kind touches its module, its scenario/catalog entries and its tests — not ``build.py``
nor ``config.py``. Kinds are found by importing every module of ``sim.components``.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

BuildFn = Callable[[Any, str, Any], Any]  # (builder, component name, its config) -> component


@dataclass(frozen=True)
class Kind:
    """One kind of component: where it is declared and how it is built."""

    section: str  # config section holding components of this kind, e.g. "pools"
    schema: type  # dataclass of one component's config
    build: BuildFn
    summary: str = ""  # one line for --help


_KINDS: dict[str, Kind] = {}
_discovered = False


def register(section: str, schema: type) -> Callable[[BuildFn], BuildFn]:
    """Register ``build`` as the builder of components declared under ``section``."""

    def deco(build: BuildFn) -> BuildFn:
        doc = (build.__doc__ or "").strip().splitlines()
        _KINDS[section] = Kind(section, schema, build, doc[0] if doc else "")
        return build

    return deco


def unregister(section: str) -> None:
    """Forget a kind (tests register kinds of their own)."""
    _KINDS.pop(section, None)


def kinds() -> dict[str, Kind]:
    """Every registered kind by section, after importing the modules of ``sim.components``."""
    global _discovered
    if not _discovered:
        import sim.components as package

        for info in pkgutil.iter_modules(package.__path__):
            importlib.import_module(f"{package.__name__}.{info.name}")
        _discovered = True
    return dict(_KINDS)
