"""Turn the raw published records into the case list the calibration reads.

    python benchmarks/gpu_data/build_cases.py      # writes benchmarks/gpu_data/cases.yaml

The raw files (``throughput_raw.yaml``, ``latency_raw.yaml``, ``extra_raw.yaml``) keep
every record as it was read, with its source, quote and derivation. This script applies
the rules below, each stated once, and writes ``cases.yaml``:

1. **One engine generation.** The step-time model is calibrated to vLLM as released in
   mid-2024 (v0.5.x, the version Argonne's LLM-Inference-Bench and vLLM's own August-2024
   pull requests ran). Later engines (vLLM >= 0.6 with multi-step and asynchronous
   output processing, SGLang >= 0.3) cut the CPU time per step: their records become
   ``reference`` cases, printed apart and in neither set. Other engines (TensorRT-LLM in
   MLPerf, LMDeploy, gpt-fast, NIM, the nm-vllm fork) are left out.
2. **Reproducible setups only.** Left out: bursts of ShareGPT requests whose duration is
   set by the longest request (LambdaLabs' 320-request runs), experimental pull-request
   branches, per-kernel profiles that omit attention and overheads (Vidur), models not
   in the catalog (Qwen2, GH200).
3. **Hardware.** Argonne's H100 runs are on the SXM5 part (its ``nvidia-smi`` shows
   "H100 80GB HBM3"); vLLM's pull requests say "H100", read as the same SXM part. Argonne's
   A100 runs are on ALCF Polaris, read as ``a100_40gb_sxm`` (the 40 GB part is our
   reading; the repository does not state it). SGLang's "H100 80G" is read as SXM too.
   Llama 3.3 70B has Llama 3.1 70B's shape.
4. **Calibration or validation.** Within Argonne's sweep, Llama 3 8B and Llama 2 70B
   are calibration; Llama 2 7B and Mistral 7B (and Llama 3 70B) are validation, so the
   validation set asks for models the fit never saw. FP8 on H100 has one model: its
   shorter run is calibration, the longer validation. Every other source is validation.
"""

from __future__ import annotations

import sys
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
RAW = ("throughput_raw.yaml", "latency_raw.yaml", "extra_raw.yaml")

HARDWARE = {
    "h100_sxm_80gb": "h100_sxm_80gb",
    "h100_unspecified": "h100_sxm_80gb",
    "h100_80gb_unspecified": "h100_sxm_80gb",
    "a100_unspecified": "a100_40gb_sxm",
    "a100_unstated": "a100_40gb_sxm",
    "a100_80gb": "a100_80gb_sxm",
    "h100_80gb": "h100_sxm_80gb",
}
MODELS = {"llama3_3_70b": "llama3_1_70b"}
CALIBRATION_MODELS = ("llama3_8b", "llama2_70b")
# rule 1: the later engines, as the raw records name them
REFERENCE_ENGINES = ("vllm 0.6", "vllm v0.6", "sglang")
# Mean ShareGPT lengths as vLLM's benchmark_throughput samples them with the Llama 3
# tokenizer: 213.4 in / 217.8 out (vLLM issue #12315, derived in extra_raw.yaml).
SHAREGPT_LLAMA3 = (213, 218)


def _skip(rec: dict) -> str | None:
    """Why a raw record is left out (rules 1-2), or None."""
    rid, engine = rec["id"], str(rec.get("engine", "")).lower()
    if rec["metric"] in ("decode_step_s", "prefill_s"):
        return "a per-kernel profile without attention and overheads (rule 2)"
    if not (engine.startswith("vllm") or engine.startswith("sglang")):
        return "another engine (rule 1)"
    if rec["hardware"] in ("a100_unstated", "a100_unspecified") and not rid.startswith("argonne"):
        return "the A100's memory is not stated (rule 3)"
    if rid.startswith("lambda_"):
        return "a 320-request ShareGPT burst: its duration is the longest request's (rule 2)"
    if "prbranch" in rid or "asynctp" in rid:
        return "an experimental branch (rule 2)"
    if rec["model"].startswith("qwen"):
        return "model not in the catalog (rule 2)"
    if rec["hardware"] not in HARDWARE:
        return f"hardware {rec['hardware']} not in the catalog (rule 2)"
    return None


def _batch(rec: dict) -> int | str:
    b = rec["batch"]
    if isinstance(b, int):
        return b
    text = str(b)
    if text.startswith("saturated"):
        return "saturated"
    raise ValueError(f"{rec['id']}: batch {b!r} not understood")


def _set(rec: dict, model: str, engine: str) -> str:
    if any(engine.startswith(e) for e in REFERENCE_ENGINES):
        return "reference"
    if rec["id"].startswith("argonne"):
        if rec["precision"] == "fp8":
            return "calibration" if rec["input_tokens"] <= 128 else "validation"
        return "calibration" if model in CALIBRATION_MODELS else "validation"
    return "validation"


def build() -> tuple[list[dict], list[tuple[str, str]]]:
    cases, skipped = [], []
    for name in RAW:
        for rec in yaml.safe_load((HERE / name).read_text()):
            why = _skip(rec)
            if why:
                skipped.append((rec["id"], why))
                continue
            engine = str(rec.get("engine", "")).lower()
            model = MODELS.get(rec["model"], rec["model"])
            hw = HARDWARE[rec["hardware"]]
            p, o = rec["input_tokens"], rec["output_tokens"]
            notes = str(rec.get("notes", "") or "").strip()
            if rec.get("lengths") == "sharegpt":
                if p is None or o is None:
                    p, o = SHAREGPT_LLAMA3
                    notes = f"ShareGPT mean lengths {p}/{o} (Llama 3 tokenizer, vLLM issue #12315). {notes}"
            kv = rec.get("kv_precision")
            cases.append(
                {
                    "id": rec["id"],
                    "set": _set(rec, model, engine),
                    "metric": rec["metric"],
                    "value": float(rec["value"]),
                    "hardware": hw,
                    "model": model,
                    "precision": rec["precision"],
                    "kv_precision": kv if kv and kv != rec["precision"] and kv != "fp16" else None,
                    "tp": int(rec["tp"]),
                    "input_tokens": int(round(p)),
                    "output_tokens": int(round(o)),
                    "batch": _batch(rec),
                    "engine": rec.get("engine", ""),
                    "source": rec["source"],
                    "published": str(rec.get("published", "")),
                    "where": rec.get("where", ""),
                    "derivation": rec.get("derivation", "") or "",
                    "notes": notes,
                }
            )
    return cases, skipped


def main() -> int:
    cases, skipped = build()
    head = (
        "# GPU serving measurements for the step-time calibration: GENERATED by\n"
        "# benchmarks/gpu_data/build_cases.py from the raw records (*_raw.yaml) -- edit the\n"
        "# rules there, not this file. set: calibration (fitted), validation (never fitted),\n"
        "# reference (a later engine generation, shown apart).\n"
    )
    out = HERE / "cases.yaml"
    tmp = out.with_suffix(".tmp")
    tmp.write_text(head + yaml.safe_dump(cases, sort_keys=False, width=100, allow_unicode=True))
    tmp.replace(out)
    by_set: dict[str, int] = {}
    for c in cases:
        by_set[c["set"]] = by_set.get(c["set"], 0) + 1
    print(f"wrote {out}: {len(cases)} cases {by_set}; {len(skipped)} records left out")
    for rid, why in skipped:
        print(f"  left out {rid}: {why}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
