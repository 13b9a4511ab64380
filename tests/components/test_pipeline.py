"""The data pipeline: queueing against M/M/1, lag, backlog growth, exact bills, conservation."""

from __future__ import annotations

import copy
import functools
import math

import numpy as np
import pytest
import yaml
from omegaconf import OmegaConf, open_dict

from sim.build import build
from sim.checks import ConfigError
from sim.components.pipeline import SECONDS_PER_MONTH, PipelineConfig
from sim.compose import compose
from sim.metrics.queueing import mgc_mean_wait_s, mm1_mean_wait_s
from sim.run import bucket_edges, run

C6I_USD_PER_HOUR = 0.34  # configs/hardware/default.yaml: c6i_2xlarge
NO_PRICES = dict(
    embed_usd_per_mtok=0.0,
    usd_per_million_write_units=0.0,
    raw_usd_per_gb_month=0.0,
    index_usd_per_gb_month=0.0,
)


@functools.cache
def _demo() -> object:
    """demo with Poisson arrivals and a few requests (composed once: composing is slow)."""
    return compose(
        "demo",
        ["progress=false", "plots=false", "workload.arrival=poisson", "workload.rate_rps=0.05"],
    )


def _config(overrides: list[str], path=("llm",), **pipe) -> object:
    """demo with a pipeline declared beside the path (services), plus ``key=value`` overrides."""
    cfg = copy.deepcopy(_demo())
    for item in overrides:
        key, value = item.split("=", 1)
        OmegaConf.update(cfg, key, yaml.safe_load(value), merge=False)
    with open_dict(cfg):  # declared as a scenario file would
        cfg.pipelines["ingest"] = OmegaConf.structured(PipelineConfig(**pipe))
    cfg.services = ["ingest"]
    cfg.path = list(path)
    return cfg


def _drive(cfg, feed=None):
    """Build ``cfg`` and run only the pipeline (no requests), billing at every bucket edge."""
    built = build(cfg)
    ctx = built.ctx
    p = built.components["ingest"]
    p.start()
    if feed is not None:
        ctx.env.process(feed(ctx.env, p))
    edges = bucket_edges(ctx.horizon_s, ctx.warmup_s, ctx.bucket_s)
    for a, b in zip(edges[:-1], edges[1:]):
        ctx.env.run(until=b)
        p.bill(a, b)
    return p, ctx


def test_fast_workers_keep_the_backlog_bounded_and_the_lag_is_service_plus_half_a_refresh():
    lam, refresh = 0.5, 600.0
    s_mean, cv = 0.5 + 10 / 1000 / 1.0, 0.5  # overhead + 10 KB at 1 MB/s
    cfg = _config(
        ["horizon_s=14400", "warmup_s=1200", "bucket_s=300"],
        docs_per_day=lam * 86400,
        doc_kb_median=10.0,
        doc_kb_sigma=0.0,
        workers=2,
        overhead_s=0.5,
        mb_per_s=1.0,
        service_cv=cv,
        refresh_s=refresh,
    )
    result = run(cfg)
    rep = result.summary["components"]["ingest"]
    assert not rep["overloaded"] and "note" not in rep
    assert rep["offered_load"] == pytest.approx(lam * s_mean / 2, rel=1e-9)
    # each document waits for a worker, is processed, then waits for the next refresh:
    # on average half an interval (completions fall uniformly between refreshes)
    wait = mgc_mean_wait_s(lam, 1 / s_mean, 2, cv)
    expected = wait + s_mean + refresh / 2
    assert rep["lag_s"]["mean"] == pytest.approx(expected, rel=0.05), (rep["lag_s"], expected)
    assert rep["lag_s"]["max"] < refresh + 30  # never more than one interval + a busy spell
    backlog = result.timeseries["ingest.backlog"]
    assert max(backlog) < 10
    assert rep["worker_utilization"] == pytest.approx(lam * s_mean / 2, rel=0.1)
    n = rep["documents"]["arrived"]
    assert n == pytest.approx(lam * (14400 - 1200), rel=0.05)
    assert rep["refreshes"] == int((14400 - 1200) // refresh)  # the one at the horizon is not run


def test_too_few_workers_the_backlog_grows_linearly_and_so_does_the_lag():
    lam, horizon = 2.0, 2000.0  # documents/s against one worker of 1 s each: mu = 1/s
    cfg = _config(
        [f"horizon_s={horizon:g}", "bucket_s=100"],
        docs_per_day=lam * 86400,
        doc_kb_median=10.0,
        doc_kb_sigma=0.0,
        overhead_s=0.99,
        mb_per_s=1.0,
        service_cv=0.0,
        refresh_s=0.0,
    )
    result = run(cfg)
    rep = result.summary["components"]["ingest"]
    assert rep["overloaded"] and rep["offered_load"] == pytest.approx(2.0, rel=1e-9)
    assert "backlog and the lag grow" in rep["note"]
    # backlog(t) ~ (lambda - mu) t: 2,000 at the horizon, half of it halfway
    assert rep["backlog_at_end"] == pytest.approx((lam - 1) * horizon, rel=0.1)
    backlog = result.timeseries["ingest.backlog"]  # sampled at the end of each bucket
    at_s = [100.0 * (i + 1) for i in range(len(backlog))]
    slope, intercept = np.polyfit(at_s, backlog, 1)
    assert slope == pytest.approx(lam - 1, rel=0.1) and abs(intercept) < 150
    assert all(b2 > b1 for b1, b2 in zip(backlog, backlog[1:]))  # ~ +100 a bucket, every one
    # the document at the head of the queue arrived at ~ mu t / lambda: it is ~t/2 old
    assert rep["oldest_waiting_s"] == pytest.approx(horizon / 2, rel=0.15)
    assert rep["lag_s"]["max"] > 0.4 * horizon  # the lag grows with the run, not bounded
    assert rep["worker_utilization"] == pytest.approx(1.0, abs=1e-3)
    docs = rep["documents"]
    assert docs["processed"] == pytest.approx(horizon, abs=2)  # one per second


@pytest.mark.slow
def test_one_worker_waits_like_an_mm1_queue():
    """Poisson arrivals, fixed-size documents, exponential service: Wq = rho / (mu - lambda)."""
    lam, s_mean = 1.2, 0.5
    expected = mm1_mean_wait_s(lam, 1 / s_mean)  # 0.75 s at rho = 0.6
    waits = []
    for seed in range(3):
        cfg = _config(
            [f"seed={seed}", "horizon_s=20000", "warmup_s=500", "workload.rate_rps=0.001"],
            docs_per_day=lam * 86400,
            doc_kb_median=10.0,
            doc_kb_sigma=0.0,
            overhead_s=0.4,
            mb_per_s=0.1,  # + 10 KB at 0.1 MB/s = 0.5 s
            service="exponential",
            refresh_s=0.0,
        )
        waits.append(run(cfg).summary["components"]["ingest"]["mean_wait_s"])
    assert abs(np.mean(waits) / expected - 1) < 0.08, (waits, expected)


def test_instances_bill_workers_times_hours_times_price_busy_or_idle():
    cfg = _config(
        ["horizon_s=7200", "warmup_s=600", "bucket_s=300"],
        workers=3,
        enrich_median_s=0.0,
        **NO_PRICES,
    )
    s = run(cfg).summary
    expected = 3 * (7200 - 600) / 3600 * C6I_USD_PER_HOUR
    charged = s["cost_usd"]["by_component"]["ingest"]["data_pipeline"]
    assert charged == pytest.approx(expected, rel=1e-12)
    assert s["components"]["ingest"]["usd"]["instances"] == pytest.approx(expected, rel=1e-12)
    assert s["layers"]["data_pipeline"]["active"]
    assert s["components"]["ingest"]["worker_utilization"] < 0.1  # mostly idle, still paid


def test_embedding_and_writes_are_tokens_and_kilobytes_times_price():
    cfg = _config(
        ["horizon_s=3600", "bucket_s=300"],
        docs_per_day=20000,
        doc_kb_median=8.0,
        doc_kb_sigma=0.0,
        refresh_s=300.0,
    )
    s = run(cfg).summary
    rep = s["components"]["ingest"]
    tokens = 8 * 250  # 8 KB x 250 tokens per KB
    assert rep["embedding_tokens"] == rep["documents"]["processed"] * tokens
    assert rep["usd"]["embedding"] == pytest.approx(rep["embedding_tokens"] * 0.02e-6, rel=1e-12)
    record_kb = math.ceil(tokens / 300) * 7.14  # 7 chunks of 300 tokens, 7.14 KB each
    assert rep["write_units"] == pytest.approx(rep["documents"]["visible"] * record_kb, rel=1e-12)
    assert rep["usd"]["writes"] == pytest.approx(rep["write_units"] * 4e-6, rel=1e-12)
    # every cent of the ledger is one of the parts
    charged = s["cost_usd"]["by_component"]["ingest"]["data_pipeline"]
    assert sum(rep["usd"].values()) == pytest.approx(charged, rel=1e-12)


def test_storage_bills_the_integral_of_stored_gigabytes_over_time():
    """Two new documents and one edit at known times, each processed in exactly 6 s."""
    cfg = _config(
        ["horizon_s=3600", "bucket_s=600"],
        docs_per_day=0.0,
        overhead_s=5.0,
        mb_per_s=1.0,  # + 1 MB at 1 MB/s
        service_cv=0.0,
        refresh_s=0.0,
    )

    def feed(env, p):
        yield env.timeout(100)
        p.arrive(1000.0, new=True)
        yield env.timeout(900)
        p.arrive(1000.0, new=True)
        yield env.timeout(1000)
        p.arrive(1000.0, new=False)  # replaces a document of the same size: no growth

    p, ctx = _drive(cfg, feed)
    records_gb = math.ceil(1000 * 250 / 300) * 7.14 / 1e6  # 834 records of 7.14 KB
    raw_gb_s = 1000 / 1e6 * ((3600 - 100) + (3600 - 1000))  # stored from arrival
    index_gb_s = records_gb * ((3600 - 106) + (3600 - 1006))  # from visibility, 6 s later
    expected = (raw_gb_s * 0.023 + index_gb_s * 0.33) / SECONDS_PER_MONTH
    assert p.usd["storage"] == pytest.approx(expected, rel=1e-12)
    assert p.report()["gb_months"] == pytest.approx(
        (raw_gb_s + index_gb_s) / SECONDS_PER_MONTH, rel=1e-12
    )
    assert p.report()["stored_gb"] == pytest.approx({"raw": 0.002, "index": 2 * records_gb})
    assert p.write_units == pytest.approx(3 * records_gb * 1e6, rel=1e-12)  # edits write too
    assert sum(p.usd.values()) == pytest.approx(ctx.ledger.total(), rel=1e-12)


def test_stale_share_is_the_fresh_share_times_the_invisible_part_of_the_window():
    cfg = _config(
        ["horizon_s=400"],
        docs_per_day=0.0,
        refresh_s=100.0,
        fresh_query_share=0.5,
        fresh_window_s=150.0,
        overhead_s=1.0,
        service_cv=0.0,
    )
    seen = {}

    def feed(env, p):
        seen[0] = p.stale_share()  # nothing arrived: nothing to miss
        for _ in range(3):
            yield env.timeout(10)
            p.arrive(10.0)
        yield env.timeout(20)
        seen[50] = p.stale_share()  # 3 recent documents, none visible: every fresh one misses
        yield env.timeout(60)
        p.arrive(10.0)
        yield env.timeout(40)
        seen[150] = p.stale_share()  # 4 recent (t >= 0), only the last not visible
        yield env.timeout(100)
        seen[250] = p.stale_share()  # visible since the refresh at t = 200
        yield env.timeout(40)
        seen[290] = p.stale_share()  # nothing arrived in the last 150 s

    _drive(cfg, feed)
    assert seen == {0: 0.0, 50: 0.5, 150: pytest.approx(0.5 * 1 / 4), 250: 0.0, 290: 0.0}


def test_every_document_and_every_cent_is_accounted_for():
    cfg = _config(
        ["horizon_s=3000", "bucket_s=300"],
        docs_per_day=2.2 * 86400,  # 10 % over capacity: a queue, documents in each state
        workers=2,
        overhead_s=0.9,
        mb_per_s=1.0,
        refresh_s=120.0,
    )
    p, ctx = _drive(cfg)
    docs = p.report()["documents"]
    assert docs["arrived"] > 6000
    assert docs["waiting"] == len(p._queue.items) > 0
    assert docs["in_service"] == len(p._in_service) == 2
    assert docs["unrefreshed"] == len(p._pending) > 0
    assert docs["arrived"] == (
        docs["visible"] + docs["unrefreshed"] + docs["in_service"] + docs["waiting"]
    )
    assert p.lag.n == docs["visible"]
    assert sum(p.usd.values()) == pytest.approx(ctx.ledger.total(), rel=1e-12)
    assert ctx.ledger.total() == pytest.approx(ctx.ledger.entries_usd, rel=1e-12)


def test_the_same_seed_gives_the_same_pipeline_and_another_seed_does_not():
    over = ["horizon_s=1800", "bucket_s=300"]
    pipe = dict(docs_per_day=20000, refresh_s=300.0)
    a = run(_config(over, **pipe)).summary
    b = run(_config(over, **pipe)).summary
    c = run(_config([*over, "seed=1"], **pipe)).summary
    assert a["components"]["ingest"]["lag_s"]["n"] > 200
    assert a["components"]["ingest"] == b["components"]["ingest"]
    assert a["cost_usd"] == b["cost_usd"]
    assert a["components"]["ingest"]["lag_s"] != c["components"]["ingest"]["lag_s"]


def test_changing_the_workers_keeps_the_same_documents():
    """Arrivals and sizes have their own streams: only the service changes."""
    over = ["horizon_s=1800"]
    one = run(_config(over, docs_per_day=20000, workers=1)).summary["components"]["ingest"]
    four = run(_config(over, docs_per_day=20000, workers=4)).summary["components"]["ingest"]
    assert one["documents"]["arrived"] == four["documents"]["arrived"]
    assert one["mean_wait_s"] > four["mean_wait_s"]


def test_on_a_path_it_enriches_each_request_with_one_timeout_and_its_cpu_time():
    median, sigma = 0.01, 0.5
    on = run(
        _config(
            ["horizon_s=3600", "workload.rate_rps=2"],
            path=("ingest", "llm"),
            enrich_median_s=median,
            enrich_sigma=sigma,
            **NO_PRICES,
        )
    ).summary
    rep = on["components"]["ingest"]
    req = on["requests"]
    assert rep["enriched_requests"] >= req["completed"] + req["failed"]
    assert rep["enriched_requests"] <= req["arrived"]
    per_vcpu_s = C6I_USD_PER_HOUR / 8 / 3600  # one of the c6i.2xlarge's 8 vCPUs
    mean_s = median * math.exp(sigma**2 / 2)
    assert rep["usd"]["enrichment"] == pytest.approx(
        rep["enriched_requests"] * mean_s * per_vcpu_s, rel=0.03
    )
    off = run(
        _config(
            ["horizon_s=3600", "workload.rate_rps=2"],
            path=("ingest", "llm"),
            enrich_median_s=0.0,
            **NO_PRICES,
        )
    ).summary
    assert off["components"]["ingest"]["usd"]["enrichment"] == 0.0
    assert off["components"]["ingest"]["enriched_requests"] == 0
    assert on["latency_s"]["mean"] - off["latency_s"]["mean"] == pytest.approx(mean_s, rel=0.1)


@pytest.mark.parametrize(
    ("pipe", "message"),
    [
        ({"workers": 0}, r"^pipelines.ingest.workers=0 must be an integer in \[1, 100000\]"),
        ({"docs_per_day": -1.0}, r"^pipelines.ingest.docs_per_day=-1.0 must be"),
        ({"service": "gamma"}, r"^pipelines.ingest.service='gamma' is not allowed"),
        ({"fresh_query_share": 1.5}, r"^pipelines.ingest.fresh_query_share=1.5 must be"),
        ({"fresh_window_s": 0.0}, r"^pipelines.ingest.fresh_window_s=0.0 must be"),
        (
            {"hardware": "c6i_xlarge"},
            r"^pipelines.ingest.hardware='c6i_xlarge' is not in the hardware catalog; "
            r"did you mean 'c6i_2xlarge'\?",
        ),
    ],
)
def test_bad_configs_name_their_key(pipe, message):
    with pytest.raises(ConfigError, match=message):
        build(_config(["horizon_s=600"], **pipe))


def test_an_unknown_service_name_is_refused_with_its_key():
    cfg = _config(["horizon_s=600"])
    cfg.services = ["ingst"]
    with pytest.raises(ConfigError, match=r"^services\[0\]='ingst' names no component"):
        build(cfg)


# -- notes ---------------------------------------------------------------------------------
def _pipeline_notes(summary: dict) -> list[str]:
    return [n for n in summary["notes"] if n.startswith("pipelines.ingest")]


def test_a_pipeline_that_falls_behind_is_a_note_with_the_workers_it_needs():
    over = ["horizon_s=3000", "bucket_s=300"]
    pipe = dict(docs_per_day=2.2 * 86400, overhead_s=0.9, mb_per_s=1.0, refresh_s=120.0)
    s = run(_config(over, workers=2, **pipe)).summary
    rep = s["components"]["ingest"]
    load = rep["offered_load"]
    need = math.floor(load * 2) + 1  # the fewest workers with a load below 1
    assert rep["overloaded"] and need == 3
    (note,) = _pipeline_notes(s)
    assert note.startswith("pipelines.ingest falls behind: 190,080 documents/day arrive")
    assert f"2 worker(s) process about {rep['capacity_docs_per_day']:,.0f}/day" in note
    assert f"(offered load {load:.2f})" in note
    assert f"the backlog ({rep['backlog_at_end']:,} documents at the end)" in note
    assert f"set pipelines.ingest.workers to at least {need}" in note
    enough = run(_config(over, workers=need, **pipe)).summary
    assert enough["components"]["ingest"]["offered_load"] < 1
    assert _pipeline_notes(enough) == []


def test_a_lag_longer_than_the_freshness_window_is_a_note_naming_refresh_s():
    """Hourly refreshes make documents wait ~30 min: longer than a 10-minute window."""
    over = ["horizon_s=14400"]
    pipe = dict(docs_per_day=2000, fresh_window_s=600.0)
    s = run(_config(over, refresh_s=3600.0, **pipe)).summary
    lag = s["components"]["ingest"]["lag_s"]["mean"]
    assert 1500 < lag < 2100  # half a refresh plus the processing
    (note,) = _pipeline_notes(s)
    assert f"documents take {lag / 3600:.1f} h on average to become visible" in note
    assert "(pipelines.ingest.fresh_window_s=600 s)" in note
    assert "lower pipelines.ingest.refresh_s (now 3600 s)" in note
    fast = run(_config(over, refresh_s=60.0, **pipe)).summary
    assert fast["components"]["ingest"]["lag_s"]["mean"] < 600
    assert _pipeline_notes(fast) == []
