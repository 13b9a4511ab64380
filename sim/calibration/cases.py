"""Published GPU serving measurements, one :class:`Case` each, read from a YAML list.

A case is one figure from one source, with the setup the simulator needs to reproduce
it: hardware and model (catalog keys), weight and KV precision, tensor-parallel degree,
prompt and output lengths, the batch (``saturated``, or a number of requests run
together), and the metric:

* ``output_tok_s_per_gpu`` / ``total_tok_s_per_gpu`` -- output (or prompt + output)
  tokens per second per GPU: at ``batch: saturated`` the steady state of an overloaded
  replica; at ``batch: N`` one offline batch of N requests, tokens over its makespan;
* ``ttft_s`` -- time to the first token (mean over the batch when ``batch`` > 1);
* ``tpot_s`` -- time per output token after the first, one request alone;
* ``e2e_latency_s`` -- wall time of one offline batch of ``batch`` requests (vLLM's
  ``benchmark_latency``).

``set`` says what the case is for: ``calibration`` (the fit sees it), ``validation``
(it never does) or ``reference`` (another engine generation, shown apart, in neither).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

METRICS = ("output_tok_s_per_gpu", "total_tok_s_per_gpu", "ttft_s", "tpot_s", "e2e_latency_s")
SETS = ("calibration", "validation", "reference")
THROUGHPUT = ("output_tok_s_per_gpu", "total_tok_s_per_gpu")


@dataclass(frozen=True)
class Case:
    """One published measurement and the setup that produced it (see module)."""

    id: str
    set: str
    metric: str
    value: float
    hardware: str
    model: str
    precision: str
    tp: int
    input_tokens: int
    output_tokens: int
    batch: int | str  # "saturated" or the number of requests run together
    source: str
    kv_precision: str | None = None
    engine: str = ""
    published: str = ""
    where: str = ""
    derivation: str = ""
    notes: str = ""

    @property
    def group(self) -> tuple[str, str]:
        """The calibration group: hardware x weight precision."""
        return (self.hardware, self.precision)

    @property
    def setup(self) -> str:
        """A short description for tables: model, precision, TP, lengths, batch."""
        kv = f"/kv {self.kv_precision}" if self.kv_precision else ""
        return (
            f"{self.model} {self.precision}{kv} TP{self.tp} "
            f"{self.input_tokens}/{self.output_tokens} b={self.batch}"
        )


def _fail(where: str, msg: str) -> None:
    raise ValueError(f"{where}: {msg}")


def _case(raw: Any, where: str) -> Case:
    if not isinstance(raw, dict):
        _fail(where, f"must be a mapping, got {type(raw).__name__}")
    names = {f.name for f in dataclasses.fields(Case)}
    unknown = sorted(set(raw) - names)
    if unknown:
        _fail(where, f"unknown key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(names))}")
    required = [f.name for f in dataclasses.fields(Case) if f.default is dataclasses.MISSING]
    missing = [k for k in required if raw.get(k) is None]
    if missing:
        _fail(where, f"missing {', '.join(missing)}")
    data = dict(raw)
    if data["metric"] not in METRICS:
        _fail(where, f"metric={data['metric']!r}; allowed: {', '.join(METRICS)}")
    if data["set"] not in SETS:
        _fail(where, f"set={data['set']!r}; allowed: {', '.join(SETS)}")
    try:
        data["value"] = float(data["value"])
        for k in ("tp", "input_tokens", "output_tokens"):
            data[k] = int(data[k])
    except (TypeError, ValueError) as exc:
        _fail(where, f"not a number: {exc}")
    if data["value"] <= 0 or data["tp"] < 1 or data["input_tokens"] < 1:
        _fail(where, "value, tp and input_tokens must be positive")
    if data["output_tokens"] < 1:
        _fail(where, "output_tokens must be >= 1")
    batch = data["batch"]
    if batch != "saturated":
        if not isinstance(batch, int) or batch < 1:
            _fail(where, f"batch={batch!r}; allowed: saturated or a positive integer")
    if data["metric"] == "tpot_s" and batch != 1:
        _fail(where, "tpot_s is measured on one request alone: batch must be 1")
    if data["metric"] in ("ttft_s", "e2e_latency_s") and batch == "saturated":
        _fail(where, f"{data['metric']} needs a number of requests as batch")
    for k in ("source", "engine", "published", "where", "derivation", "notes", "id"):
        if k in data and data[k] is not None:
            data[k] = str(data[k])
    return Case(**data)


def load_cases(path: str | Path) -> list[Case]:
    """Every case of a YAML list (see module); a malformed entry raises ``ValueError``."""
    import yaml

    text = Path(path).read_text()
    raw = yaml.safe_load(text)
    if not isinstance(raw, list):
        raise ValueError(f"{path}: expected a YAML list of cases")
    cases = [
        _case(r, f"{path} [{i}] {r.get('id', '?') if isinstance(r, dict) else ''}")
        for i, r in enumerate(raw)
    ]
    seen: set[str] = set()
    for c in cases:
        if c.id in seen:
            raise ValueError(f"{path}: id {c.id!r} appears twice")
        seen.add(c.id)
    return cases
