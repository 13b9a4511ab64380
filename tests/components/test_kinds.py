"""Component kinds plug in by registering; paths branch into sub-paths walked as one chain.

A kind defined here, in the test, joins the schema, the checks and the builder without
any change to ``sim/build.py`` or ``sim/config.py``.
"""

from __future__ import annotations

import math
from collections.abc import Generator
from dataclasses import dataclass, field
from typing import Any

import pytest
import simpy
from omegaconf import OmegaConf, open_dict

from sim.build import build
from sim.checks import ConfigError, knob
from sim.components import kinds
from sim.components.request import Request
from sim.components.stage import SubPath
from sim.compose import compose
from sim.config import schema
from sim.run import run


@dataclass
class SplitConfig:
    """Send even request ids down one sub-path and odd ones down another."""

    even: list[str] = field(default_factory=list)
    odd: list[str] = field(default_factory=list)
    delay_s: float = knob(0.0, ge=0)


class Split:
    """A stage that holds two sub-paths and takes one per request."""

    def __init__(self, name: str, env: simpy.Environment, even: SubPath, odd: SubPath, delay_s):
        self.name, self.env, self.even, self.odd, self.delay_s = name, env, even, odd, delay_s
        self.taken = {"even": 0, "odd": 0}

    def handle(self, req: Request) -> Generator[simpy.Event, Any, None]:
        if self.delay_s:
            yield self.env.timeout(self.delay_s)
        branch = "even" if req.id % 2 == 0 else "odd"
        self.taken[branch] += 1
        yield from (self.even if branch == "even" else self.odd).handle(req)


@pytest.fixture
def splits():
    @kinds.register("splits", SplitConfig)
    def build_split(b, name, c):
        """A test kind with two sub-paths."""
        return Split(
            name,
            b.ctx.env,
            b.path(c.even, f"splits.{name}.even"),
            b.path(c.odd, f"splits.{name}.odd"),
            c.delay_s,
        )

    yield
    kinds.unregister("splits")


def _config(even, odd, **split):
    """demo with two APIs (cheap and dear) behind a split, as a scenario file would say."""
    cfg = compose("demo", ["workload.arrival=poisson", "workload.rate_rps=5", "horizon_s=600"])
    with open_dict(cfg):  # new entries, as a scenario file declares them
        cfg.apis["dear"] = OmegaConf.merge(cfg.apis["llm"], {"model": "gpt_4o"})
        cfg.splits["s"] = OmegaConf.structured(SplitConfig(even=even, odd=odd, **split))
    cfg.path = ["s"]
    return cfg


def test_a_registered_kind_joins_the_schema(splits):
    fields = schema().__dataclass_fields__
    assert {"pools", "apis", "splits"} <= set(fields)
    kinds.unregister("splits")
    assert "splits" not in schema().__dataclass_fields__


def test_a_request_walks_only_the_branch_it_takes(splits):
    result = run(_config(["llm"], ["dear"]))
    s = result.summary
    req = s["requests"]
    assert req["arrived"] > 2000
    assert req["arrived"] == req["completed"] + req["failed"] + req["dropped"] + req["in_flight"]
    by_comp = s["cost_usd"]["by_component"]
    assert by_comp["llm"]["inference"] > 0 and by_comp["dear"]["inference"] > 0
    # gpt_4o costs ~16x gpt_4o_mini per token: the odd half costs far more than the even half
    assert by_comp["dear"]["inference"] > 8 * by_comp["llm"]["inference"]
    total = sum(v for c in by_comp.values() for v in c.values())
    assert math.isclose(total, s["cost_usd"]["total"], rel_tol=1e-12)


def test_each_branch_is_called_exactly_for_its_requests(splits):
    cfg = _config(["llm"], ["dear"], delay_s=0.01)
    built = build(cfg)
    from sim.workload.source import RequestSource

    RequestSource(built.ctx, built.arrivals, built.tokens, built.path).start()
    built.ctx.env.run(until=cfg.horizon_s)
    split, cheap, dear = (built.components[n] for n in ("s", "llm", "dear"))
    assert split.taken["even"] == cheap.calls and split.taken["odd"] == dear.calls
    assert cheap.calls > 0 and dear.calls > 0


def test_a_component_on_two_paths_is_one_object(splits):
    built = build(_config(["llm"], ["llm"]))
    split = built.components["s"]
    assert split.even.stages[0] is split.odd.stages[0] is built.components["llm"]


def test_a_cycle_is_refused_with_its_key(splits):
    with pytest.raises(ConfigError, match=r"^splits.s.odd\[0\]='s' makes a cycle \(s -> s\)"):
        build(_config(["llm"], ["s"]))


def test_an_unknown_name_in_a_sub_path_is_refused_with_its_key(splits):
    with pytest.raises(ConfigError, match=r"^splits.s.even\[0\]='lm' names no component"):
        build(_config(["lm"], ["llm"]))


def test_the_new_kind_gets_the_rules_and_unknown_key_checks(splits):
    with pytest.raises(ConfigError, match=r"^splits.s.delay_s=-1.0 must be a finite number >= 0"):
        build(_config(["llm"], ["dear"], delay_s=-1.0))
    cfg = _config(["llm"], ["dear"])
    with open_dict(cfg.splits.s):  # what +splits.s.weight=2 does
        cfg.splits.s.weight = 2
    with pytest.raises(ConfigError, match=r"^splits.s.weight=2 is not a known key"):
        build(cfg)


def test_names_are_unique_across_sections(splits):
    cfg = _config(["llm"], ["dear"])
    with open_dict(cfg):
        cfg.splits["llm"] = OmegaConf.structured(SplitConfig(even=["dear"], odd=["dear"]))
    with pytest.raises(ConfigError, match=r"apis.llm and splits.llm share a name"):
        build(cfg)
