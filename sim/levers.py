"""Levers: ``levers.cache=exact`` switches a scenario's components the same way everywhere.

A scenario says what each value of a lever means for it, as settings of its own keys::

    lever_options:
      cache:
        off: {path: [llm]}        # the scenario as it is
        exact: {path: [cache]}    # the same requests behind the response cache

:func:`apply_levers` returns a copy of the config with the chosen values' settings
applied (a lever left null changes nothing). A value the scenario does not offer, or a
lever it does not have, is refused naming the scenario and what it offers. The summary's
``config`` shows the settings that ran, and ``levers`` what was asked.
"""

from __future__ import annotations

import copy
from typing import Any

from sim import checks
from sim.checks import ConfigError

_MISSING = object()  # OmegaConf.select's default for a key that is not there


def apply_levers(cfg: Any) -> Any:
    """``cfg`` with every lever that is set applied (a copy when one is set)."""
    from omegaconf import OmegaConf

    chosen = {k: v for k, v in cfg.levers.items() if v is not None}
    if not chosen:
        return cfg
    out = copy.deepcopy(cfg)
    for lever, value in chosen.items():
        options = cfg.lever_options.get(lever) or {}
        if not options:
            offered = ", ".join(f"levers.{k}" for k, v in cfg.lever_options.items() if v)
            raise ConfigError(
                f"levers.{lever}={value!r} does not apply to scenario {cfg.name!r}: it has no "
                f"{lever} lever" + (f" (it offers {offered})" if offered else " (it offers none)"),
                key=f"levers.{lever}",
            )
        if value not in options:
            checks.fail(
                f"levers.{lever}",
                value,
                f"is not offered by scenario {cfg.name!r}; choose one of: {', '.join(options)}",
            )
        for key, setting in (options[value] or {}).items():
            if OmegaConf.select(out, key, default=_MISSING) is _MISSING:
                checks.fail(
                    f"lever_options.{lever}.{value}.{key}",
                    setting,
                    "names no key of the scenario",
                )
            OmegaConf.update(out, key, setting, merge=False)
    return out
