"""Mooncake-style JSONL traces: arrival times, token counts and prefix block hashes.

One JSON object per line::

    {"timestamp": 0, "input_length": 6758, "output_length": 500, "hash_ids": [0, 1, 2]}

``timestamp`` is in milliseconds from the start of the trace; ``hash_ids`` names the
prompt's blocks of :data:`BLOCK_TOKENS` tokens, so two requests whose prompts start with
the same ids share that prefix (a KV or prompt cache can reuse it). This is the format
of the traces published with Mooncake (Qin et al., FAST 2025; kvcache-ai/Mooncake,
``FAST25-release/traces``, whose README gives the 512-token block size).

Problems are raised as :class:`~sim.workload.trace_file._Problem` (line, problem), like
the CSV reader's, and named with the file by the caller.
"""

from __future__ import annotations

import json

import numpy as np

BLOCK_TOKENS = 512  # tokens per hash id in Mooncake's traces (FAST25-release README)
FIELDS = ("timestamp", "input_length", "output_length", "hash_ids")
EXAMPLE = '{"timestamp": 0, "input_length": 6758, "output_length": 500, "hash_ids": [0, 1]}'
_MAX = 2**62  # larger counts or ids are not plausible and would overflow int64 sums


def parse(text: str, problem: type[Exception]) -> tuple[np.ndarray, ...]:
    """``(times_ms, prompt, output, hash_flat, hash_offsets)`` of a JSONL trace's text.

    ``hash_ids`` of request ``i`` are ``hash_flat[hash_offsets[i]:hash_offsets[i + 1]]``.
    Blank lines are skipped; the first bad line raises ``problem(line, text)``.
    """
    times: list[float] = []
    prompt: list[int] = []
    output: list[int] = []
    flat: list[int] = []
    offsets = [0]
    for lineno, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError:
            raise problem(
                lineno, f"is not a JSON object: expected one per line, like {EXAMPLE}"
            ) from None
        if not isinstance(row, dict):
            raise problem(lineno, f"is not a JSON object: expected one per line, like {EXAMPLE}")
        missing = [f for f in FIELDS if f not in row]
        if missing:
            raise problem(
                lineno, f"lacks {', '.join(missing)}: every line needs {', '.join(FIELDS)}"
            )
        t = row["timestamp"]
        if isinstance(t, bool) or not isinstance(t, (int, float)) or not 0 <= t < _MAX:
            raise problem(lineno, f"timestamp {t!r} must be a number of milliseconds >= 0")
        for key, values in (("input_length", prompt), ("output_length", output)):
            v = row[key]
            if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v < _MAX:
                raise problem(lineno, f"{key} {v!r} must be a whole number >= 0")
            values.append(v)
        ids = row["hash_ids"]
        if not isinstance(ids, list) or not all(
            isinstance(h, int) and not isinstance(h, bool) and 0 <= h < _MAX for h in ids
        ):
            raise problem(lineno, "hash_ids must be a list of whole numbers >= 0")
        times.append(float(t))
        flat.extend(ids)
        offsets.append(len(flat))
    if not times:
        what = "file is empty" if not text else "has no data lines"
        raise problem(None, f"{what}: expected one JSON object per line, like {EXAMPLE}")
    return (
        np.array(times, dtype=np.float64),
        np.array(prompt, dtype=np.int64),
        np.array(output, dtype=np.int64),
        np.array(flat, dtype=np.int64),
        np.array(offsets, dtype=np.int64),
    )
