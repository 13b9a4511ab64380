"""Azure LLM inference trace files: reading and checking them (numpy, cached per path).

The format is ``TIMESTAMP,ContextTokens,GeneratedTokens`` with timestamps like
``2023-11-16 18:17:03.9799600`` (Azure LLM inference dataset 2023; see
``sim/data/README.md``).

A file that cannot be used fails when it is loaded, with one
:class:`~sim.checks.InputFileError` naming the file, the line (when one line is at
fault) and the problem: a missing or empty file, a wrong header, a row with the wrong
number of fields, a token count that is not a whole number >= 0, a timestamp that is
not a time, or bytes that are not UTF-8 text. Rows may come in any order (they are
sorted by time, stably); blank lines are skipped.
"""

from __future__ import annotations

import functools
import io
import re
import warnings
from pathlib import Path
from typing import NamedTuple

import numpy as np

from sim.checks import InputFileError
from sim.paths import data_dir

COLUMNS = ("TIMESTAMP", "ContextTokens", "GeneratedTokens")
HEADER = ",".join(COLUMNS)
EXAMPLE_ROW = "2023-11-16 18:17:03.9799600,4808,10"
_COUNT = "an integer >= 0"
_TIME = f"a time like {EXAMPLE_ROW.split(',')[0]}"
_INT = re.compile(r"[+-]?[0-9]+")
_LOOKS_LIKE_DATA = re.compile(r"\s*[0-9]{4}-[0-9]{2}-[0-9]{2}")
_INT64_MAX = int(np.iinfo(np.int64).max)
_CLIP = 60  # longest piece of a file quoted in a message
_CHUNK = 1 << 16  # characters of data rows parsed at a time (a bad chunk is rescanned)


class TraceNotFoundError(InputFileError, FileNotFoundError):
    """A trace path that names no file (an :class:`InputFileError` and a ``FileNotFoundError``)."""


class _Problem(Exception):
    """What is wrong with a file's contents (line or None, problem); the caller adds the path."""

    def __init__(self, line: int | None, problem: str) -> None:
        super().__init__(line, problem)
        self.line = line
        self.problem = problem


def _clip(text: str) -> str:
    """``text`` quoted (control characters escaped, so messages stay one line), clipped."""
    return repr(text if len(text) <= _CLIP else text[: _CLIP - 3] + "...")


def shipped_traces() -> list[str]:
    """File names of the traces shipped in ``sim/data``."""
    return sorted(p.name for p in data_dir().iterdir() if p.suffix in (".csv", ".jsonl"))


def resolve_trace_path(path: str | Path) -> Path:
    """A path to a file, or the bare name of a trace shipped in ``sim/data``.

    A bare file name that exists in the working folder is that file; otherwise it is
    looked up among the shipped traces.

    Raises :class:`TraceNotFoundError` (an :class:`~sim.checks.InputFileError` and a
    ``FileNotFoundError``) naming the path and listing the shipped traces, and
    :class:`~sim.checks.InputFileError` for a directory.
    """
    p = Path(path)
    bare = p.parent == Path(".") and str(path) == p.name and not p.exists()
    resolved = data_dir() / p if bare else p
    where = (
        f"a bare file name not in the working folder is looked up in {str(data_dir())!r}, "
        "which ships: "
        f"{', '.join(shipped_traces())}"
    )
    if resolved.is_dir():
        raise InputFileError(
            str(path),
            None,
            f"is a directory, not a file: expected a trace file (CSV or JSONL); {where}",
        )
    if not resolved.is_file():
        raise TraceNotFoundError(
            str(path), None, f"trace file not found (looked at {str(resolved)!r}); {where}"
        )
    return resolved


# -- parsing ---------------------------------------------------------------------------------
def _read_text(resolved: str) -> str:
    """The file as text with ``\\n`` line ends; a non-UTF-8 or binary file is a problem."""
    try:
        with open(resolved, "rb") as f:
            data = f.read()
    except OSError as exc:
        raise _Problem(
            None, f"cannot be read ({exc.strerror or exc}): expected a trace file (CSV or JSONL)"
        ) from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = _normalise(data[: exc.start].decode("utf-8-sig", "replace")).count("\n") + 1
        raise _Problem(
            line,
            f"is not UTF-8 text (byte 0x{data[exc.start]:02x}): expected a text file "
            f"(CSV with header {HEADER}, or JSONL)",
        ) from None
    text = _normalise(text)
    nul = text.find("\x00")
    if nul >= 0:
        raise _Problem(
            text.count("\n", 0, nul) + 1,
            f"is not a text file (NUL byte): expected CSV with header {HEADER}, or JSONL",
        )
    return text


def _normalise(text: str) -> str:
    """``\\r\\n`` and lone ``\\r`` line ends as ``\\n`` (what an editor shows as lines)."""
    return text.replace("\r\n", "\n").replace("\r", "\n") if "\r" in text else text


def _check_header(line: str, lineno: int) -> None:
    names = [name.strip().casefold() for name in line.split(",")]
    if names == [c.casefold() for c in COLUMNS]:
        return
    if _LOOKS_LIKE_DATA.match(line):
        raise _Problem(
            lineno,
            f"found a data row {_clip(line)} where the header belongs: the first line must be "
            f"the header {HEADER}",
        )
    n = len(names)
    what = f"has {n} column{'s' if n != 1 else ''}" if n != len(COLUMNS) else "has other columns"
    raise _Problem(
        lineno,
        f"header {_clip(line)} {what}: expected the header {HEADER} (these columns in this "
        f"order, any case)",
    )


def _split_header(text: str) -> tuple[str, int]:
    """The data rows after the header (checked) and the line number of the first of them."""
    if not text:
        raise _Problem(None, f"file is empty: expected a CSV trace with header {HEADER}")
    if not text.strip():
        raise _Problem(
            None, f"file contains only whitespace: expected a CSV trace with header {HEADER}"
        )
    start, lineno = 0, 1
    while True:  # the first non-blank line is the header (text is not all blank)
        end = text.find("\n", start)
        line = text[start:] if end < 0 else text[start:end]
        if line.strip():
            break
        start, lineno = end + 1, lineno + 1
    _check_header(line, lineno)
    body = "" if end < 0 else text[end + 1 :]
    if not body.strip():
        raise _Problem(
            None, f"has a header but no data rows: expected rows like {EXAMPLE_ROW} after it"
        )
    return body, lineno + 1


def _parse_rows(body: str, first: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The data rows (``first`` is the line number of the first), in chunks of ~64 k characters.

    Each chunk is parsed vectorised (:func:`_fast`); only a chunk that fails that is
    scanned line by line (:func:`_slow`), which names the first bad line or, when the
    chunk is fine after all (blank lines, spaces around a time), parses it.
    """
    parts = []
    start, lineno = 0, first
    while start < len(body):
        end = body.find("\n", start + _CHUNK)
        end = len(body) if end < 0 else end + 1
        chunk = body[start:end]
        parts.append(_fast(chunk) or _slow(chunk, lineno))
        lineno += chunk.count("\n")
        start = end
    if len(parts) == 1:
        return parts[0]
    stamps, prompt, output = zip(*parts)
    return np.concatenate(stamps), np.concatenate(prompt), np.concatenate(output)


def _fast(body: str) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Vectorised parse of the data rows; None when anything looks wrong (see :func:`_slow`)."""
    dtype = [("ns", "M8[ns]"), ("us", "M8[us]"), ("p", "i8"), ("o", "i8")]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            rows = np.loadtxt(
                io.StringIO(body),
                delimiter=",",
                dtype=dtype,
                usecols=(0, 0, 1, 2),  # time twice: microseconds catch nanosecond overflow
                comments=None,
                quotechar=None,
                ndmin=1,
            )
    except (ValueError, TypeError, OverflowError, Warning):
        return None
    stamps, prompt, output = rows["ns"], rows["p"], rows["o"]
    if (
        body.count(",") != 2 * len(rows)  # usecols ignores extra fields; every row has 2 commas
        or np.isnat(stamps).any()
        or (stamps.astype("M8[us]") != rows["us"]).any()
        or (prompt < 0).any()
        or (output < 0).any()
    ):
        return None
    return stamps, prompt.copy(), output.copy()


def _slow(body: str, first: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Line-by-line parse: the arrays, or a :class:`_Problem` at the first bad line."""
    stamps: list[np.datetime64] = []
    prompt: list[int] = []
    output: list[int] = []
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for lineno, line in enumerate(body.split("\n"), start=first):
            if not line.strip():
                continue
            fields = line.split(",")
            if len(fields) != len(COLUMNS):
                raise _Problem(
                    lineno,
                    f"row {_clip(line)} has {len(fields)} field{'s' if len(fields) != 1 else ''}:"
                    f" expected {len(COLUMNS)}, {HEADER}",
                )
            stamps.append(_stamp(fields[0], lineno))
            prompt.append(_count(COLUMNS[1], fields[1], lineno))
            output.append(_count(COLUMNS[2], fields[2], lineno))
    return (
        np.array(stamps, dtype="M8[ns]"),
        np.array(prompt, dtype=np.int64),
        np.array(output, dtype=np.int64),
    )


def _stamp(field: str, lineno: int) -> np.datetime64:
    text = field.strip()
    if not text:
        raise _Problem(lineno, f"{COLUMNS[0]} is empty: expected {_TIME}")
    try:
        ns = np.datetime64(text, "ns")
        us = np.datetime64(text, "us")
    except (ValueError, TypeError, OverflowError, Warning):
        raise _Problem(
            lineno, f"{COLUMNS[0]} {_clip(field)} is not a time: expected {_TIME}"
        ) from None
    if np.isnat(ns):
        raise _Problem(lineno, f"{COLUMNS[0]} {_clip(field)} is not a time: expected {_TIME}")
    if ns.astype("M8[us]") != us:
        raise _Problem(
            lineno,
            f"{COLUMNS[0]} {_clip(field)} is out of range: expected a time between the years "
            f"1678 and 2261",
        )
    return ns


def _count(column: str, field: str, lineno: int) -> int:
    text = field.strip()
    if not text:
        raise _Problem(lineno, f"{column} is empty: expected {_COUNT}")
    if not _INT.fullmatch(text):
        raise _Problem(lineno, f"{column} {_clip(field)} is not a whole number: expected {_COUNT}")
    value = int(text)
    if value < 0:
        raise _Problem(lineno, f"{column} {value} is negative: expected {_COUNT}")
    if value > _INT64_MAX:
        raise _Problem(
            lineno, f"{column} {_clip(text)} is too large: expected {_COUNT} below 2**63"
        )
    return value


class Loaded(NamedTuple):
    """A parsed trace, sorted by time: arrays are shared and read-only."""

    times_s: np.ndarray  # seconds since the first request
    prompt: np.ndarray
    output: np.ndarray
    start: str  # the first request's time, as the file gives it
    # prefix block hashes (JSONL traces): ids of request i are flat[offsets[i]:offsets[i+1]]
    hash_flat: np.ndarray | None = None
    hash_offsets: np.ndarray | None = None


@functools.lru_cache(maxsize=16)
def _load(resolved: str) -> Loaded:
    """The trace in a file (CSV, or JSONL with prefix hashes); raises :class:`_Problem`."""
    if resolved.endswith(".jsonl"):
        return _load_jsonl(resolved)
    stamps, prompt, output = _parse_rows(*_split_header(_read_text(resolved)))
    order = np.argsort(stamps, kind="stable")
    stamps = stamps[order]
    times_s = (stamps - stamps[0]).astype(np.int64) / 1e9
    loaded = Loaded(times_s, prompt[order], output[order], str(stamps[0]).replace("T", " "))
    for a in loaded[:3]:
        a.setflags(write=False)
    return loaded


def _load_jsonl(resolved: str) -> Loaded:
    from sim.workload import trace_jsonl

    times_ms, prompt, output, flat, offsets = trace_jsonl.parse(_read_text(resolved), _Problem)
    order = np.argsort(times_ms, kind="stable")
    if (order != np.arange(len(order))).any():  # rebuild the hash lists in time order
        pieces = [flat[offsets[i] : offsets[i + 1]] for i in order]
        flat = np.concatenate(pieces) if pieces else flat
        offsets = np.concatenate(([0], np.cumsum([len(p) for p in pieces]))).astype(np.int64)
    times_ms = times_ms[order]
    loaded = Loaded(
        (times_ms - times_ms[0]) / 1e3,
        prompt[order],
        output[order],
        f"timestamp {times_ms[0]:g} ms",
        flat,
        offsets,
    )
    for a in loaded:
        if isinstance(a, np.ndarray):
            a.setflags(write=False)
    return loaded


def _load_checked(path: str | Path) -> Loaded:
    resolved = resolve_trace_path(path)
    try:
        return _load(str(resolved.resolve()))
    except _Problem as p:
        raise InputFileError(str(path), p.line, p.problem) from None


def load_azure_trace(path: str | Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(times_s, prompt_tokens, output_tokens)`` of a trace, sorted by time.

    ``times_s`` is seconds since the first request (float64); token counts are int64
    (>= 0). Parsed once per path and process (the arrays are shared and read-only). A
    file that cannot be used raises :class:`~sim.checks.InputFileError` naming the path
    as given, the line and the problem. A trace whose timestamps are all equal loads
    (its token pairs are usable) but cannot be replayed by :class:`TraceArrivals`.
    """
    loaded = _load_checked(path)
    return loaded.times_s, loaded.prompt, loaded.output
