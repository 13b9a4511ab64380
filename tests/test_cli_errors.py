"""Bad input through the real command line: one line naming the key, exit 2, nothing left.

Each case runs ``python -m sim`` in a subprocess (the cases run two at a time) and
checks: exit code 2, exactly one line on stderr starting ``configuration error:``, the
key (and, for files, the file and line) named, no traceback, and no ``summary.json``
and no run folder left behind.
"""

from __future__ import annotations

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from cli_runner import lines, run_cli

HEADER = "TIMESTAMP,ContextTokens,GeneratedTokens\n"
ROW = "2023-11-16 18:17:0{i}.0000000,{p},{o}\n"

FILES = {
    "empty.csv": "",
    "header_only.csv": HEADER,
    "columns.csv": "time,prompt,output\n2023-11-16 18:17:00,10,2\n",
    "letters.csv": HEADER + ROW.format(i=1, p=10, o=2) + ROW.format(i=2, p="abc", o=2),
    "negative.csv": HEADER + ROW.format(i=1, p=10, o=2) + ROW.format(i=2, p=10, o=-3),
    "flat.csv": HEADER + ROW.format(i=1, p=10, o=2) * 3,
    "binary.csv": None,  # written as bytes below
}

# (scenario, overrides, text that must appear in the one line)
CASES: list[tuple[str, list[str], list[str]]] = [
    ("demo", ["horizon_s=nan"], ["horizon_s=nan"]),
    # an element of a list of sections is named by its index
    (
        "demo",
        ["workload.growth.price_changes=[{at_day: 2, model: gpt_4o_mini, usd_per_mtok_inputt: 1}]"],
        ["workload.growth.price_changes[0].usd_per_mtok_inputt=1", "usd_per_mtok_input"],
    ),
    (
        "demo",
        ["workload.growth.price_changes=[{at_day: 2, model: m},{at_day: soon, model: m}]"],
        ["workload.growth.price_changes[1].at_day=soon", "number"],
    ),
    ("demo", ["horizon_s=inf"], ["horizon_s=inf", "finite"]),
    ("demo", ["horizon_s=-5"], ["horizon_s=-5"]),
    ("demo", ["horizon_s=0"], ["horizon_s=0"]),
    ("demo", ["horizon_s=null"], ["horizon_s=null"]),
    ("demo", ["horizon_s=a_week"], ["horizon_s=a_week", "number"]),
    ("demo", ["seed=-3"], ["seed=-3"]),
    ("demo", ["seed=1.5"], ["seed=1.5", "integer"]),
    ("demo", ["bucket_s=-60"], ["bucket_s=-60"]),
    ("demo", ["bucket_s=0.001", "horizon_s=86400"], ["bucket_s=0.001", "memory"]),
    ("demo", ["warmup_s=604800"], ["warmup_s=604800", "horizon_s=604800"]),
    ("demo", ["warmup_s=-1"], ["warmup_s=-1"]),
    ("demo", ["workload.users=0"], ["workload.users=0"]),
    ("demo", ["workload.users=1e11"], ["workload.users=1e11", "integer"]),
    ("demo", ["workload.users=100000000000"], ["workload.users=100000000000"]),
    ("demo", ["workload.userz=5"], ["workload.userz=5", "users"]),
    ("demo", ["+workload.userz=5"], ["workload.userz=5", "users"]),
    ("demo", ["+foo=1"], ["foo=1", "not a known key"]),
    ("demo", ["workload.arrival=gamma"], ["workload.arrival='gamma'", "poisson"]),
    ("demo", ["workload.arrival=poisson", "workload.rate_rps=0"], ["workload.rate_rps=0"]),
    ("demo", ["workload.arrival=poisson", "workload.rate_rps=nan"], ["workload.rate_rps=nan"]),
    ("demo", ["workload.clock_start_h=200"], ["workload.clock_start_h=200"]),
    ("demo", ["workload.sessions.workday_start_h=25"], ["workload.sessions.workday_start_h=25"]),
    ("demo", ["workload.sessions.weekend_factor=1.5"], ["workload.sessions.weekend_factor"]),
    ("demo", ["workload.sessions.workday_hours=30"], ["workload.sessions.workday_hours=30"]),
    (
        "demo",
        ["workload.arrival=diurnal", "workload.diurnal.hourly=[1,2,3]"],
        ["workload.diurnal.hourly", "24"],
    ),
    (
        "demo",
        ["workload.arrival=mmpp", "workload.mmpp.rates_rps=[1,2,3]"],
        ["workload.mmpp.rates_rps", "workload.mmpp.mean_sojourn_s"],
    ),
    (
        "demo",
        ["workload.tokens.kind=fixed", "workload.tokens.prompt_median=0.2"],
        ["workload.tokens.prompt_median=0.2", "workload.tokens.kind='fixed'"],
    ),
    (
        "demo",
        ["workload.tokens.prompt_min=100", "workload.tokens.prompt_max=10"],
        ["workload.tokens.prompt_min=100", "workload.tokens.prompt_max=10"],
    ),
    ("demo", ["workload.tokens.prompt_sigma=-1"], ["workload.tokens.prompt_sigma=-1"]),
    ("demo", ["apis.llm.error_prob=1"], ["apis.llm.error_prob=1"]),
    ("demo", ["apis.llm.rpm_limit=0"], ["apis.llm.rpm_limit=0"]),
    ("demo", ["apis.llm.on_limit=wait"], ["apis.llm.on_limit='wait'", "queue"]),
    ("demo", ["apis.llm.model=gpt5"], ["apis.llm.model='gpt5'", "gpt_4o_mini"]),
    (
        "demo",
        ["api_models.gpt_4o_mini.usd_per_mtok_input=-1"],
        ["api_models.gpt_4o_mini.usd_per_mtok_input=-1"],
    ),
    (
        "demo",
        ["api_models.gpt_4o_mini.usd_per_mtok_output=nan"],
        ["api_models.gpt_4o_mini.usd_per_mtok_output=nan"],
    ),
    ("demo", ["path=[]"], ["path=[]"]),
    ("demo", ["path=[nothing]"], ["path[0]='nothing'", "llm"]),
    ("demo", ["path=[llm"], ["path=[llm"]),
    ("demo", ["progress=maybe"], ["progress=maybe", "true or false"]),
    ("demo", ["workload=5"], ["workload=5", "section"]),
    ("demo", ["path=llm"], ["path=llm", "list"]),
    ("demo", ["name="], ["name=''"]),
    ("demo", ["horizon_s=1e300"], ["horizon_s=1e+300", "requests"]),
    ("demo", ["apis.llm.rpm_limit=0.5"], ["apis.llm.rpm_limit=0.5", ">= 1"]),
    ("demo", ["apis.llm.tpm_limit=500"], ["apis.llm.tpm_limit=500", "median request"]),
    ("demo", ["+hardware.new_gpu.memory_gb=80"], ["hardware.new_gpu", "configs/hardware"]),
    ("demo", ["pools.gpu2.replicas=3"], ["pools.gpu2", "scenario file"]),
    ("demo", ["hardware.a100_80gb_sxm.memory_gbs=3"], ["memory_gbs", "memory_gbps"]),
    (
        "demo",
        ["workload.arrival=mmpp", "workload.mmpp.mean_sojourn_s=[1e-9,1e-9]"],
        ["workload.mmpp.mean_sojourn_s", "steps of the arrival model"],
    ),
    (
        "demo",
        ["workload.sessions.active_period_s=1e-7", "workload.users=3000"],
        ["workload.sessions.requests_per_user_day", "active_period_s=1e-07", "resolution"],
    ),
    (
        "demo",
        ["workload.arrival=trace", "workload.trace.speedup=1e9"],
        ["workload.trace.speedup", "requests"],
    ),
    ("nope", [], ["scenario='nope'", "demo"]),
    ("copilot", [], ["scenario='copilot'", "copilot_like"]),
    (
        "demo",
        ["hydra/launcher=slurmm"],
        ["hydra/launcher='slurmm' is not a hydra/launcher", "slurm"],
    ),
    ("demo", ["usage.requests_per_day=-3"], ["usage.requests_per_day=-3"]),
    ("demo", ["usage.cells=0"], ["usage.cells=0"]),
    ("demo", ["workload.prefix.block_tokens=0"], ["workload.prefix.block_tokens=0"]),
    ("demo", ["apis.llm.prompt_cache_ttl_s=-1"], ["apis.llm.prompt_cache_ttl_s=-1"]),
    ("copilot_like", ["routers.route.signal=length"], ["routers.route.signal='length'"]),
    (
        "copilot_like",
        ["workload.arrival=trace", "workload.trace.path=nothere.jsonl"],
        ["workload.trace.path", "nothere.jsonl"],
    ),
    ("copilot_like", ["pools.gpu.replicas=0"], ["pools.gpu.replicas=0"]),
    ("copilot_like", ["pools.gpu.replicas=1000000000"], ["pools.gpu.replicas=1000000000"]),
    ("copilot_like", ["pools.gpu.hardware=tpu"], ["pools.gpu.hardware='tpu'", "a100"]),
    ("copilot_like", ["pools.gpu.precision=fp4"], ["pools.gpu.precision='fp4'", "fp16"]),
    ("copilot_like", ["pools.gpu.max_batch_size=1.5"], ["pools.gpu.max_batch_size=1.5"]),
    ("copilot_like", ["pools.gpu.kv_memory_fraction=1.5"], ["pools.gpu.kv_memory_fraction"]),
    ("copilot_like", ["pools.gpu.scheduler=fifo"], ["pools.gpu.scheduler='fifo'", "chunked"]),
    ("copilot_like", ["pools.gpu.kv_precision=fp4"], ["pools.gpu.kv_precision='fp4'", "fp8"]),
    (
        "copilot_like",
        ["pools.gpu.scheduler=chunked", "pools.gpu.max_batched_tokens=16"],
        ["pools.gpu.max_batched_tokens=16", "pools.gpu.max_batch_size=64"],
    ),
    (
        "copilot_like",
        ["hardware.a100_80gb_sxm_2023.calibration.fp16.decode_efficiency=1.5"],
        ["hardware.a100_80gb_sxm_2023.calibration.fp16.decode_efficiency=1.5", "(0, 1]"],
    ),
    (
        "copilot_like",
        [
            "pools.gpu.hardware=c6i_2xlarge",
            "pools.gpu.devices_per_replica=2",
            "pools.gpu.precision=fp32",
        ],
        ["pools.gpu.devices_per_replica=2", "hardware.c6i_2xlarge.interconnect_gbps=null"],
    ),
    (
        "copilot_like",
        ["hardware.a100_80gb_sxm_2023.memory_gbps=0"],
        ["hardware.a100_80gb_sxm_2023.memory_gbps=0"],
    ),
    (
        "copilot_like",
        ["hardware.a100_80gb_sxm_2023.usd_per_hour=-2"],
        ["hardware.a100_80gb_sxm_2023.usd_per_hour=-2"],
    ),
    (
        "copilot_like",
        ["models.starcoder_15b.heads=7"],
        ["models.starcoder_15b.hidden_size", "models.starcoder_15b.heads=7"],
    ),
    ("copilot_like", ["pools.gpu.replicas=${ceil_div:10,0}"], ["pools.gpu.replicas", "ceil_div"]),
    ("copilot_like", ["pools.gpu.replicas=${nope:1}"], ["pools.gpu.replicas", "nope"]),
    ("copilot_like", ["pools.gpu.model=llama3_70b"], ["pools.gpu.model='llama3_70b'", "fit"]),
    (
        "copilot_like",
        [
            "pools.gpu.model=llama2_7b",
            "pools.gpu.hardware=a10g_24gb",
            "pools.gpu.kv_memory_fraction=0.57",
        ],
        ["pools.gpu", "KV cache"],
    ),
]

FILE_CASES: list[tuple[str, str, list[str]]] = [
    ("missing.csv", "workload.trace.path", ["missing.csv", "not found"]),
    ("empty.csv", "workload.trace.path", ["empty.csv", "empty"]),
    ("header_only.csv", "workload.trace.path", ["header_only.csv", "no data rows"]),
    ("columns.csv", "workload.trace.path", ["columns.csv", "line 1"]),
    ("letters.csv", "workload.trace.path", ["letters.csv", "line 3", "abc"]),
    ("negative.csv", "workload.trace.path", ["negative.csv", "line 3", "negative"]),
    ("flat.csv", "workload.trace.path", ["flat.csv", "equal"]),
    ("binary.csv", "workload.trace.path", ["binary.csv", "UTF-8"]),
    ("negative.csv", "workload.tokens.trace_path", ["workload.tokens.trace_path", "line 3"]),
]


def _case_args(scenario: str, overrides: list[str], run_dir: Path) -> list[str]:
    return [
        f"scenario={scenario}",
        *overrides,
        "progress=false",
        "plots=false",
        f"hydra.run.dir={run_dir}",
    ]


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory):
    """Run every case (two at a time) once; tests below read the outcomes."""
    root = tmp_path_factory.mktemp("cli_errors")
    files = root / "files"
    files.mkdir()
    for name, text in FILES.items():
        if text is None:
            (files / name).write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe binary")
        else:
            (files / name).write_text(text)
    jobs = {}
    for i, (scenario, overrides, _) in enumerate(CASES):
        jobs[("case", i)] = _case_args(scenario, overrides, root / f"run{i}")
    for i, (name, key, _) in enumerate(FILE_CASES):
        over = [f"{key}={files / name}"]
        if key == "workload.trace.path":
            over.append("workload.arrival=trace")
        else:
            over.append("workload.tokens.kind=trace")
        jobs[("file", i)] = _case_args("demo", over, root / f"file{i}")
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {k: pool.submit(run_cli, args, root) for k, args in jobs.items()}
        results = {k: f.result() for k, f in futures.items()}
    return root, results


def _check(out: subprocess.CompletedProcess, needles: list[str], run_dir: Path) -> None:
    found = lines(out.stderr)
    assert out.returncode == 2, (out.returncode, out.stderr[-2000:])
    assert "Traceback" not in out.stderr
    assert len(found) == 1, out.stderr
    assert found[0].startswith("configuration error: "), found[0]
    for needle in needles:
        assert needle in found[0], (needle, found[0])
    assert not run_dir.exists() or not (run_dir / "summary.json").exists()
    assert not run_dir.exists(), f"a rejected run left {sorted(p.name for p in run_dir.iterdir())}"


@pytest.mark.parametrize("i", range(len(CASES)), ids=[" ".join(c[1]) or c[0] for c in CASES])
def test_bad_value_gives_one_line(outcomes, i):
    root, results = outcomes
    _check(results[("case", i)], CASES[i][2], root / f"run{i}")


@pytest.mark.parametrize("i", range(len(FILE_CASES)), ids=[c[0] for c in FILE_CASES])
def test_bad_file_gives_one_line_with_file_and_line(outcomes, i):
    root, results = outcomes
    _check(results[("file", i)], FILE_CASES[i][2], root / f"file{i}")


def test_unwritable_output_folder_is_named(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    out = run_cli(_case_args("demo", [], blocker / "run"), tmp_path)
    _check(out, ["hydra.run.dir", "a_file", "cannot be written"], blocker / "run")


def test_user_can_still_ask_for_the_traceback(tmp_path):
    out = subprocess.run(
        [sys.executable, "-m", "sim", "scenario=demo", "horizon_s=-1", f"hydra.run.dir={tmp_path}"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**__import__("os").environ, "HYDRA_FULL_ERROR": "1"},
    )
    assert out.returncode != 0
    assert "Traceback" in out.stderr and "horizon_s=-1" in out.stderr
