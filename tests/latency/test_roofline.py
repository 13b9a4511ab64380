"""RooflineLatency: scaling of prefill and decode, KV capacity, fit errors, config reading."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from sim.latency import LatencyModel, RooflineLatency, roofline_from_config

LLAMA3_8B = dict(
    params_b=8.03, layers=32, hidden_size=4096, heads=32, kv_heads=8, bytes_per_param=2, kv_bytes=2
)
A100_80 = dict(peak_tflops=312, memory_gb=80, memory_gbps=2039)


def make(**kw) -> RooflineLatency:
    return RooflineLatency(**{**LLAMA3_8B, **A100_80, **kw})


def test_is_a_latency_model():
    assert isinstance(make(), LatencyModel)


def test_prefill_scales_about_linearly_with_tokens():
    lat = make()
    t1, t2, t4 = (lat.prefill_s([n]) for n in (2000, 4000, 8000))
    assert t1 < t2 < t4
    assert 1.9 < t2 / t1 < 2.3
    assert 1.9 < t4 / t2 < 2.3
    # compute-bound: 2·P·tokens / (F·eff)
    assert lat.prefill_s([2000]) == pytest.approx(2 * 8.03e9 * 2000 / (312e12 * 0.5), rel=0.1)
    # batched prefill of two prompts is about one prefill of their sum
    assert lat.prefill_s([1000, 1000]) == pytest.approx(lat.prefill_s([2000]), rel=0.05)


def test_short_prefill_never_faster_than_one_weight_read():
    lat = make()
    floor = 8.03e9 * 2 / (2039e9 * 0.6)
    assert lat.prefill_s([1]) >= floor
    assert lat.prefill_s([1]) == pytest.approx(floor, rel=1e-3)


def test_decode_memory_bound_at_small_batch():
    lat = make()
    weights_s = 8.03e9 * 2 / (2039e9 * 0.6)
    assert lat.decode_step_s(1, 0) == pytest.approx(weights_s, rel=1e-9)
    assert lat.decode_step_s(1, 1000) == pytest.approx(weights_s, rel=0.02)


def test_decode_grows_with_batch_and_kv():
    lat = make()
    assert lat.decode_step_s(64, 64 * 2000) > lat.decode_step_s(8, 8 * 2000)
    assert lat.decode_step_s(8, 100_000) > lat.decode_step_s(8, 1_000)
    # huge batch: compute-bound, 2·P·b / (F·eff)
    b = 4096
    assert lat.decode_step_s(b, 0) == pytest.approx(2 * 8.03e9 * b / (312e12 * 0.5), rel=1e-9)


def test_step_overhead_is_added():
    base, slow = make(), make(step_overhead_s=0.003)
    assert slow.decode_step_s(4, 100) == pytest.approx(base.decode_step_s(4, 100) + 0.003)
    assert slow.prefill_s([500]) == pytest.approx(base.prefill_s([500]) + 0.003)


def test_kv_capacity_formula():
    lat = make()
    kv_per_token = 2 * 32 * 8 * (4096 / 32) * 2  # 131072 bytes
    assert lat.kv_bytes_per_token == kv_per_token
    expected = int((80e9 * 0.9 - 8.03e9 * 2) // kv_per_token)
    assert lat.kv_capacity_tokens == expected
    two = make(devices=2, interconnect_gbps=300)
    assert two.kv_capacity_tokens == int((2 * 80e9 * 0.9 - 8.03e9 * 2) // kv_per_token)


def test_multi_query_attention_has_small_kv():
    star = RooflineLatency(
        params_b=15.5,
        layers=40,
        hidden_size=6144,
        heads=48,
        kv_heads=1,
        bytes_per_param=2,
        kv_bytes=2,
        **A100_80,
    )
    assert star.kv_bytes_per_token == 2 * 40 * 1 * 128 * 2


def test_model_too_big_is_a_clear_error():
    with pytest.raises(ValueError, match=r"does not fit.*70\.6B.*1 device.*at least 2 devices"):
        RooflineLatency(
            params_b=70.6,
            layers=80,
            hidden_size=8192,
            heads=64,
            kv_heads=8,
            bytes_per_param=2,
            kv_bytes=2,
            **A100_80,
        )


@pytest.mark.parametrize(
    "kw, match",
    [
        (dict(devices=0), "devices"),
        (dict(layers=1.5), "layers"),
        (dict(prefill_efficiency=1.5), "prefill_efficiency"),
        (dict(memory_gbps=0), "memory_gbps"),
        (dict(kv_heads=64), "kv_heads"),
        (dict(step_overhead_s=-1), "step_overhead_s"),
    ],
)
def test_bad_arguments_are_named(kw, match):
    with pytest.raises(ValueError, match=match):
        make(**kw)


def _specs(precision="fp16"):
    model = SimpleNamespace(**LLAMA3_8B)
    hw = SimpleNamespace(tflops={"fp16": 312, "int8": 624}, memory_gb=80, memory_gbps=2039)
    pool = SimpleNamespace(
        precision=precision,
        devices_per_replica=1,
        kv_memory_fraction=0.9,
        prefill_efficiency=0.5,
        decode_efficiency=0.6,
        step_overhead_s=0.0,
        seq_overhead_s=0.0,
    )
    return model, hw, pool


def test_from_config_reads_specs_and_precision():
    lat = roofline_from_config(*_specs())
    assert lat.kv_capacity_tokens == make().kv_capacity_tokens
    int8 = RooflineLatency.from_specs(*_specs("int8"))
    assert int8.bytes_per_param == 1.0 and int8.peak_tflops == 624
    assert int8.decode_step_s(1, 0) == pytest.approx(lat.decode_step_s(1, 0) / 2)


def test_from_config_unknown_precision_lists_available():
    with pytest.raises(ValueError, match=r"precision='fp8'.*fp16, int8"):
        roofline_from_config(*_specs("fp8"))


def test_an_fp8_kv_cache_doubles_kv_capacity_and_halves_kv_reads():
    model, hw, pool = _specs()
    fp16 = roofline_from_config(model, hw, pool)
    pool.kv_precision = "fp8"
    fp8 = roofline_from_config(model, hw, pool)
    assert fp8.kv_bytes_per_token == fp16.kv_bytes_per_token / 2
    # the same memory for KV after the weights, at half the bytes per token
    assert fp8.kv_capacity_tokens in (2 * fp16.kv_capacity_tokens, 2 * fp16.kv_capacity_tokens + 1)
    assert fp8.bytes_per_param == fp16.bytes_per_param  # the weights keep their precision
    kv = 100_000  # a memory-bound decode step: weights + KV read once
    saved = fp16.decode_step_s(8, kv) - fp8.decode_step_s(8, kv)
    assert saved == pytest.approx(fp16.kv_bytes_per_token / 2 * kv / (2039e9 * 0.6), rel=1e-9)
    pool.kv_precision = None  # null: the model's own kv_bytes
    assert roofline_from_config(model, hw, pool).kv_capacity_tokens == fp16.kv_capacity_tokens


# --- tensor-parallel communication, per-sequence overhead, mixed iterations ----------


def test_allreduce_term_against_hand_calculation():
    """comm = 2·layers·(latency + 2(n−1)/n · T·hidden·2 bytes / (IC·0.8)) per iteration."""
    ic, lat_s = 300.0, 10e-6
    one = make()
    two = make(devices=2, interconnect_gbps=ic, allreduce_latency_s=lat_s)
    layers, hidden = 32, 4096
    for tokens in (1, 512, 4096):
        comm = 2 * layers * (lat_s + 1.0 * tokens * hidden * 2 / (ic * 1e9 * 0.8))
        # compute-bound prefill: two devices halve the FLOP time, then pay the all-reduces
        assert two.prefill_s([tokens]) == pytest.approx(
            max(
                (2 * 8.03e9 * tokens + 2 * layers * hidden * tokens**2) / (2 * 312e12 * 0.5),
                (8.03e9 * 2 + two.kv_bytes_per_token * tokens) / (2 * 2039e9 * 0.6),
            )
            + comm,
            rel=1e-9,
        )
    # one device: no communication at all
    assert one.decode_step_s(8, 8000) == pytest.approx(
        (8.03e9 * 2 + one.kv_bytes_per_token * 8000) / (2039e9 * 0.6), rel=1e-9
    )


def test_tp2_is_faster_per_token_but_costs_more_gpu_time():
    """TP=2 shortens a decode step, but by less than half: communication is the rest."""
    tp1 = make()
    tp2 = make(devices=2, interconnect_gbps=300, allreduce_latency_s=10e-6)
    free = make(devices=2, interconnect_gbps=1e9, allreduce_latency_s=0.0)  # free links
    for b, kv in ((1, 1000), (32, 32 * 1500), (128, 128 * 800)):
        one, two = tp1.decode_step_s(b, kv), tp2.decode_step_s(b, kv)
        assert two < one  # faster per token
        assert 2 * two > one  # but more GPU-seconds per token than one device
        assert free.decode_step_s(b, kv) == pytest.approx(one / 2, rel=1e-6)  # all of it is comm


def test_tensor_parallel_needs_an_interconnect():
    with pytest.raises(ValueError, match="interconnect_gbps"):
        make(devices=2)


def test_seq_overhead_is_per_sequence():
    base, slow = make(), make(seq_overhead_s=50e-6)
    assert slow.decode_step_s(40, 4000) == pytest.approx(base.decode_step_s(40, 4000) + 40 * 50e-6)
    assert slow.prefill_s([100, 200, 300]) == pytest.approx(
        base.prefill_s([100, 200, 300]) + 3 * 50e-6
    )


def test_mixed_step_reduces_to_prefill_and_decode():
    lat = make(
        step_overhead_s=0.002,
        seq_overhead_s=20e-6,
        devices=2,
        interconnect_gbps=300,
        allreduce_latency_s=8e-6,
    )
    assert lat.mixed_step_s([700, 300], [0, 0], 0, 0) == pytest.approx(lat.prefill_s([700, 300]))
    assert lat.mixed_step_s([], [], 24, 30_000) == pytest.approx(lat.decode_step_s(24, 30_000))


def test_mixed_step_against_hand_calculation():
    """A 512-token chunk after 1,024 cached prompt tokens, beside 16 decoding sequences."""
    lat = make(step_overhead_s=0.001, seq_overhead_s=10e-6)
    c, o, b, k = 512, 1024, 16, 16 * 900
    layers, hidden, p = 32, 4096, 8.03e9
    flops = 2 * p * (c + b) + 4 * layers * hidden * (c * o + c * c / 2 + k)
    bytes_ = p * 2 + lat.kv_bytes_per_token * (o + c + k)
    expect = max(flops / (312e12 * 0.5), bytes_ / (2039e9 * 0.6)) + 0.001 + (b + 1) * 10e-6
    assert lat.mixed_step_s([c], [o], b, k) == pytest.approx(expect, rel=1e-12)
    # a chunk later in the prompt attends to more: it costs more
    assert lat.mixed_step_s([c], [3000], b, k) > lat.mixed_step_s([c], [0], b, k)


def test_calibration_is_read_by_precision():
    """A pool without its own efficiencies takes the hardware's calibration for its precision."""
    hw = SimpleNamespace(
        tflops={"fp16": 989.0, "fp8": 1979.0},
        memory_gb=80.0,
        memory_gbps=3350.0,
        interconnect_gbps=450.0,
        allreduce_latency_us=9.0,
        calibration={
            "fp16": SimpleNamespace(
                prefill_efficiency=0.6,
                decode_efficiency=0.8,
                step_overhead_ms=2.0,
                seq_overhead_us=50.0,
                allreduce_latency_us=20.0,
            ),
        },
    )
    model = SimpleNamespace(**{k: v for k, v in LLAMA3_8B.items()}, max_context_tokens=8192)
    pool = SimpleNamespace(
        precision="fp16",
        kv_precision=None,
        devices_per_replica=2,
        kv_memory_fraction=0.9,
        prefill_efficiency=None,
        decode_efficiency=None,
        step_overhead_s=None,
        seq_overhead_s=None,
    )
    lat = roofline_from_config(model, hw, pool)
    assert (lat.prefill_efficiency, lat.decode_efficiency) == (0.6, 0.8)
    assert (lat.step_overhead_s, lat.seq_overhead_s) == (0.002, 50e-6)
    assert lat.allreduce_latency_s == pytest.approx(20e-6)
    # the pool's own value wins; a precision without calibration falls back, with a reason
    from sim.latency.roofline import UNCALIBRATED, step_parameters

    pool.decode_efficiency = 0.7
    assert roofline_from_config(model, hw, pool).decode_efficiency == 0.7
    pool.precision, pool.decode_efficiency = "fp8", None
    params, why = step_parameters(hw, pool)
    assert params == UNCALIBRATED and "fp8" in why
    lat8 = roofline_from_config(model, hw, pool)
    assert lat8.allreduce_latency_s == pytest.approx(9e-6)  # the hardware's own
