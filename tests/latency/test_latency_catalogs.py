"""The hardware and model catalogs load, validate against the schema, and fit together."""

from __future__ import annotations

from pathlib import Path

import pytest
from omegaconf import OmegaConf

from sim.components.pool import PoolConfig
from sim.config import HardwareSpec, ModelSpec
from sim.latency import roofline_from_config

ROOT = Path(__file__).resolve().parents[2] / "configs"


def _load(group: str, schema: type) -> dict:
    raw = OmegaConf.load(ROOT / group / "default.yaml")
    assert len(raw) > 0, f"{group} catalog is empty"
    out = {}
    for name, entry in raw.items():
        spec = OmegaConf.merge(OmegaConf.structured(schema), entry)
        OmegaConf.to_container(spec, throw_on_missing=True)  # every required field given
        out[name] = spec
    return out


HARDWARE = _load("hardware", HardwareSpec)
MODELS = _load("models", ModelSpec)


def test_required_entries_present():
    for name in (
        "h100_sxm_80gb",
        "a100_80gb_sxm",
        "a100_40gb_sxm",
        "l4_24gb",
        "a10g_24gb",
        "a100_80gb_sxm_2023",
    ):
        assert name in HARDWARE
    assert any(hw.kind == "cpu" for hw in HARDWARE.values())
    for name in (
        "starcoder_15b",
        "codellama_7b",
        "codellama_13b",
        "llama2_7b",
        "llama3_8b",
        "llama3_70b",
        "mistral_7b",
    ):
        assert name in MODELS


@pytest.mark.parametrize("name", sorted(HARDWARE))
def test_hardware_is_sane(name):
    hw = HARDWARE[name]
    assert hw.kind in ("gpu", "cpu")
    assert hw.tflops and all(v > 0 for v in hw.tflops.values())
    if hw.kind == "gpu":
        assert "fp16" in hw.tflops
    assert hw.memory_gb > 0 and hw.memory_gbps > 0 and hw.usd_per_hour > 0


@pytest.mark.parametrize("name", sorted(MODELS))
def test_model_is_sane_and_fits_somewhere(name):
    model = MODELS[name]
    assert model.hidden_size % model.heads == 0
    assert 1 <= model.kv_heads <= model.heads
    fits = []
    for hw_name, hw in HARDWARE.items():
        for devices in (1, 2, 4, 8):
            for precision in hw.tflops:
                pool = OmegaConf.structured(
                    PoolConfig(
                        model=name,
                        hardware=hw_name,
                        devices_per_replica=devices,
                        precision=precision,
                    )
                )
                try:
                    lat = roofline_from_config(model, hw, pool)
                except ValueError:
                    continue
                if lat.kv_capacity_tokens >= model.max_context_tokens:
                    fits.append((hw_name, devices, precision))
    assert fits, f"{name} fits on no catalog device configuration"


def test_copilot_configuration_fits_a_full_context():
    pool = OmegaConf.structured(PoolConfig(model="starcoder_15b", hardware="a100_80gb_sxm_2023"))
    lat = roofline_from_config(MODELS["starcoder_15b"], HARDWARE["a100_80gb_sxm_2023"], pool)
    assert lat.kv_capacity_tokens > 100 * 8192  # MQA: a very large KV cache
