"""The one checks module: argument checks, schema rules, unknown keys, one-line messages."""

from __future__ import annotations

import math

import pytest
from omegaconf import OmegaConf

from sim import checks
from sim.build import check
from sim.checks import ConfigError
from sim.compose import compose
from sim.config import SimConfig


@pytest.mark.parametrize(
    ("value", "kw", "text"),
    [
        (math.nan, {"gt": 0}, "x=nan must be a finite number > 0"),
        (math.inf, {"ge": 0}, "x=inf must be a finite number >= 0"),
        (-math.inf, {}, "x=-inf must be a finite number"),
        (True, {}, "x=true must be a finite number"),
        ("3", {}, "x='3' must be a finite number"),
        (None, {"gt": 0}, "x=null must be a finite number > 0"),
        (1.5, {"integer": True, "ge": 1}, "x=1.5 must be an integer >= 1"),
        (0, {"gt": 0, "le": 1}, "x=0 must be a finite number in (0, 1]"),
        (1.0, {"ge": 0, "lt": 1}, "x=1.0 must be a finite number in [0, 1)"),
    ],
)
def test_number_refuses_with_one_line(value, kw, text):
    with pytest.raises(ConfigError) as err:
        checks.number("x", value, **kw)
    assert str(err.value) == text
    assert err.value.key == "x"


def test_number_accepts_and_converts():
    assert checks.integer("n", 4.0, 1) == 4 and isinstance(checks.integer("n", 4.0, 1), int)
    assert checks.number("x", None, none_ok=True) is None
    assert checks.number("x", math.inf, finite=False) == math.inf
    assert checks.probability("p", 1) == 1.0


def test_choice_and_lookup_suggest_the_close_one():
    with pytest.raises(
        ConfigError, match=r"did you mean 'poisson'\?; choose one of: poisson, trace"
    ):
        checks.choice("workload.arrival", "poison", ["poisson", "trace"])
    with pytest.raises(
        ConfigError, match=r"is not in the models catalog; did you mean 'llama3_8b'"
    ):
        checks.lookup("pools.gpu.model", "llama3-8b", {"llama3_8b": 1, "mistral_7b": 2}, "models")


def test_every_scenario_passes_every_rule():
    for name in ("demo", "copilot_like"):
        check(compose(name))


def _float_keys(cfg) -> list[str]:
    """Every float knob of a composed config, catalog entries included, by full key."""
    keys = [k for k, r in checks.rules(SimConfig) if not r.integer and r.choices is None]
    keys = [k for k in keys if isinstance(OmegaConf.select(cfg, k), float)]
    for group in ("hardware", "models", "api_models"):
        for entry, spec in cfg[group].items():
            for field, value in spec.items():
                if isinstance(value, float):
                    keys.append(f"{group}.{entry}.{field}")
    for pool in cfg.pools:
        keys += [f"pools.{pool}.{f}" for f, v in cfg.pools[pool].items() if isinstance(v, float)]
    for api in cfg.apis:
        keys += [f"apis.{api}.{f}" for f, v in cfg.apis[api].items() if isinstance(v, float)]
    return keys


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_every_float_knob_refuses_nan_and_infinity(bad):
    base = compose("copilot_like")
    keys = _float_keys(base)
    assert len(keys) > 60  # the workload, the pool, the API and every catalog entry
    for key in keys:
        cfg = base.copy()
        OmegaConf.update(cfg, key, bad)
        with pytest.raises(ConfigError) as err:
            checks.check_tree(cfg, SimConfig)
        assert str(err.value).startswith(f"{key}={checks.show(bad)} "), (key, str(err.value))


@pytest.mark.parametrize(
    "key",
    [
        "bogus",
        "workload.userz",
        "workload.sessions.lunch_h",
        "pools.gpu.replica",
        "hardware.l4_24gb.fp16",
    ],
)
def test_keys_added_with_plus_fail_like_a_typo(key):
    cfg = compose("copilot_like", [f"+{key}=5"])
    with pytest.raises(ConfigError, match=rf"^{key}=5 is not a known key"):
        check(cfg)


def test_values_that_fail_together_name_both_keys():
    with pytest.raises(ConfigError, match=r"warmup_s=10.0 and horizon_s=10.0"):
        check(compose("demo", ["horizon_s=10", "warmup_s=10"]))


def test_interpolation_errors_name_the_key():
    with pytest.raises(ConfigError, match=r"^pools.gpu.replicas=\$\{ceil_div:10,0\} cannot be resolved: "
                       r"ceil_div:10,0 divides by 0"):  # fmt: skip
        check(compose("copilot_like", ["pools.gpu.replicas=${ceil_div:10,0}"]))


def test_rules_describe_themselves():
    described = dict(checks.rules(SimConfig))
    assert described["workload.sessions.workday_start_h"].describe() == "a finite number in [0, 24)"
    assert described["seed"].describe() == "an integer >= 0"
    assert described["workload.arrival"].describe().startswith("one of: poisson")
