"""Outage schedules: windows and random up/down periods, asked when a call arrives."""

from __future__ import annotations

import numpy as np
import pytest

from sim.checks import ConfigError
from sim.components.outages import OutageSchedule, OutagesConfig, check_windows, outage_schedule
from sim.engine.context import SimContext

H = 3600.0


def test_windows_are_half_open_hours_from_t0() -> None:
    s = OutageSchedule.build(100 * H, windows_h=[(30, 32)])
    assert not s.down(30 * H - 1e-6)
    assert s.down(30 * H) and s.down(31.5 * H)
    assert not s.down(32 * H)  # [start, end): up again at the end
    assert s.next_up(31 * H) == 32 * H
    assert s.next_up(10 * H) == 10 * H  # up: now
    assert s.downtime_s(0, 100 * H) == 2 * H
    assert s.downtime_s(31 * H, 100 * H) == 1 * H


def test_overlapping_and_touching_windows_merge() -> None:
    s = OutageSchedule.build(100 * H, windows_h=[(5, 6), (1, 2), (1.5, 3), (3, 4)])
    assert s.intervals() == [(1 * H, 4 * H), (5 * H, 6 * H)]
    assert s.next_up(1.2 * H) == 4 * H


def test_no_outage_is_never_down() -> None:
    s = OutageSchedule()
    assert len(s) == 0 and not s.down(0.0) and s.next_up(5.0) == 5.0


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_random_outages_are_down_mttr_over_mtbf_plus_mttr_of_the_time(seed: int) -> None:
    """Renewal-reward: the long-run down share is mttr / (mtbf + mttr); the number of
    outages is about horizon / (mtbf + mttr)."""
    mtbf_h, mttr_h, horizon = 20.0, 2.0, 20_000 * H
    s = OutageSchedule.build(horizon, mtbf_h=mtbf_h, mttr_h=mttr_h, rng=np.random.default_rng(seed))
    share = s.downtime_s(0, horizon) / horizon
    assert share == pytest.approx(mttr_h / (mtbf_h + mttr_h), rel=0.1)
    assert len(s) == pytest.approx(horizon / H / (mtbf_h + mttr_h), rel=0.1)
    assert all(a < b for a, b in s.intervals())
    starts = [a for a, _ in s.intervals()]
    assert starts == sorted(starts) and starts[0] > 0  # starts up at t=0


def test_same_stream_same_outages_and_windows_join_random_ones() -> None:
    def once() -> list[tuple[float, float]]:
        ctx = SimContext(seed=7, horizon_s=500 * H)
        oc = OutagesConfig(windows_h=[[1, 2]], mtbf_h=50.0, mttr_h=1.0)
        return outage_schedule("apis.llm.outages", oc, ctx).intervals()  # type: ignore[union-attr]

    a = once()
    assert a == once()
    assert a[0] == (1 * H, 2 * H) or a[0][0] < 1 * H  # the window is in the union
    assert len(a) > 3


def test_nothing_configured_is_no_schedule() -> None:
    ctx = SimContext(seed=0, horizon_s=10.0)
    assert outage_schedule("apis.llm.outages", OutagesConfig(), ctx) is None


@pytest.mark.parametrize(
    ("windows", "needle"),
    [
        ([[32, 30]], "apis.llm.outages.windows_h[0]=[32, 30] must end after it starts"),
        ([[1, 2], [5, 5]], "apis.llm.outages.windows_h[1]=[5, 5] must end after it starts"),
        ([[1, 2, 3]], "apis.llm.outages.windows_h[0]=[1, 2, 3] must be a pair"),
        ([30], "apis.llm.outages.windows_h[0]=30 must be a pair"),
    ],
)
def test_bad_windows_name_the_full_key(windows: list, needle: str) -> None:
    with pytest.raises(ConfigError) as err:
        check_windows("apis.llm.outages.windows_h", windows)
    assert needle in str(err.value)


def test_mtbf_needs_mttr() -> None:
    ctx = SimContext(seed=0, horizon_s=10.0)
    with pytest.raises(ConfigError, match=r"apis\.x\.outages\.mtbf_h=5\.0 and .*mttr_h=null"):
        outage_schedule("apis.x.outages", OutagesConfig(mtbf_h=5.0), ctx)
