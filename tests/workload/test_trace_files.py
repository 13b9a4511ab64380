"""Bad trace files fail at load time with one clear InputFileError (file, line, problem)."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from sim.checks import ConfigError, InputFileError
from sim.workload import TraceArrivals, load_azure_trace
from sim.workload.tokens import EmpiricalTokens

HEADER = "TIMESTAMP,ContextTokens,GeneratedTokens\n"
ROW = "2023-11-16 18:00:00.5000000,10,2\n"
ROW2 = "2023-11-16 18:00:01.5000000,20,3\n"

# (case id, file contents, line at fault or None, pieces the message must contain)
BAD_FILES: list[tuple[str, str | bytes, int | None, tuple[str, ...]]] = [
    ("empty", b"", None, ("file is empty", "TIMESTAMP,ContextTokens,GeneratedTokens")),
    ("whitespace", " \n\t\n  \r\n", None, ("only whitespace", "TIMESTAMP")),
    ("header_only", HEADER, None, ("no data rows",)),
    ("header_only_blank_lines", HEADER + "\n  \n", None, ("no data rows",)),
    ("wrong_header", "time,prompt,output\n" + ROW, 1, ("'time,prompt,output'", "expected")),
    ("four_columns", "TIMESTAMP,ContextTokens,GeneratedTokens,Extra\n" + ROW, 1, ("4 columns",)),
    ("no_header", ROW + ROW2, 1, ("the first line must be the header",)),
    ("short_row", HEADER + ROW + "2023-11-16 18:00:02,5\n", 3, ("2 fields", "expected 3")),
    ("long_row", HEADER + ROW + ROW2 + "2023-11-16 18:00:02,5,6,7\n", 4, ("4 fields",)),
    ("letters", HEADER + ROW + "2023-11-16 18:00:02,abc,3\n", 3, ("ContextTokens", "'abc'")),
    ("fraction", HEADER + "2023-11-16 18:00:02,4,1.5\n" + ROW, 2, ("GeneratedTokens", "'1.5'")),
    (
        "empty_field",
        HEADER + ROW + ROW2 + "2023-11-16 18:00:02,,3\n",
        4,
        ("ContextTokens", "empty"),
    ),
    (
        "negative",
        HEADER + ROW + "2023-11-16 18:00:02,7,-3\n",
        3,
        ("GeneratedTokens", "-3", "negative"),
    ),
    ("huge", HEADER + ROW + "2023-11-16 18:00:02,99999999999999999999,3\n", 3, ("too large",)),
    ("bad_time", HEADER + ROW + "yesterday,7,3\n", 3, ("TIMESTAMP", "'yesterday'", "not a time")),
    ("bad_month", HEADER + "2023-13-16 18:00:02,7,3\n" + ROW, 2, ("'2023-13-16 18:00:02'",)),
    ("nat", HEADER + ROW + "NaT,7,3\n", 3, ("'NaT'", "not a time")),
    ("empty_time", HEADER + ROW + ",7,3\n", 3, ("TIMESTAMP is empty",)),
    ("out_of_range", HEADER + ROW + "1500-01-01 00:00:00,7,3\n", 3, ("out of range",)),
    ("time_zone", HEADER + ROW + "2023-11-16T18:00:02Z,7,3\n", 3, ("not a time",)),
    ("latin1", (HEADER + ROW + "2023-11-16 18:00:02,7,3 \xe9\n").encode("latin-1"), 3, ("UTF-8",)),
    ("gzip", b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03\xff\xfe", 1, ("not UTF-8", "0x8b")),
    ("nul_bytes", b"\x00" * 64, 1, ("NUL",)),
]


def _write(tmp_path: Path, name: str, contents: str | bytes) -> Path:
    f = tmp_path / f"{name}.csv"
    if isinstance(contents, bytes):
        f.write_bytes(contents)
    else:
        f.write_text(contents, encoding="utf-8", newline="")
    return f


def _assert_clear(err: InputFileError, path: str, line: int | None, pieces: tuple[str, ...]):
    text = str(err)
    assert "\n" not in text and "\r" not in text, text
    assert text.startswith(path), text
    assert err.path == path and err.line == line and err.problem in text
    if line is not None:
        assert f", line {line}: " in text, text
    else:
        assert ", line " not in text, text
    for piece in pieces:
        assert piece in text, (piece, text)
    assert isinstance(err, ConfigError) and isinstance(err, ValueError)


@pytest.mark.parametrize(
    ("name", "contents", "line", "pieces"), BAD_FILES, ids=[c[0] for c in BAD_FILES]
)
def test_bad_file_fails_at_load(
    tmp_path: Path, name: str, contents: str | bytes, line: int | None, pieces: tuple[str, ...]
) -> None:
    f = str(_write(tmp_path, name, contents))
    with pytest.raises(InputFileError) as err:
        load_azure_trace(f)
    _assert_clear(err.value, f, line, pieces)
    with pytest.raises(InputFileError) as err2:  # the same error from every entry point
        TraceArrivals(f, horizon_s=10.0)
    assert str(err2.value) == str(err.value)
    with pytest.raises(InputFileError):
        EmpiricalTokens(f, rng=np.random.default_rng(0))


def test_bad_row_deep_in_a_long_file_is_found(tmp_path: Path) -> None:
    rows = [
        f"2023-11-16 18:{i // 600 % 60:02d}:{i // 10 % 60:02d}.{i % 10}000000,{i},1\n"
        for i in range(20_000)
    ]
    rows[15_000] = "2023-11-16 18:00:00,12,x\n"
    f = str(_write(tmp_path, "long", HEADER + "".join(rows)))
    with pytest.raises(InputFileError) as err:
        load_azure_trace(f)
    _assert_clear(err.value, f, 15_002, ("GeneratedTokens", "'x'"))


def test_missing_file_and_directory(tmp_path: Path) -> None:
    for path in ("no_such_trace.csv", str(tmp_path / "nowhere.csv"), str(tmp_path)):
        with pytest.raises(InputFileError) as err:
            load_azure_trace(path)
        _assert_clear(err.value, path, None, ("azure_llm_2023_code.csv",))
    with pytest.raises(FileNotFoundError):  # still a FileNotFoundError, as before
        load_azure_trace("no_such_trace.csv")
    with pytest.raises(InputFileError, match="is a directory"):
        load_azure_trace(str(tmp_path))


def test_shipped_traces_load_unchanged() -> None:
    expected = {"azure_llm_2023_code.csv": 8819, "azure_llm_2023_conv.csv": 19366}
    for name, rows in expected.items():
        t, p, o = load_azure_trace(name)
        assert len(t) == len(p) == len(o) == rows
        assert t.dtype == np.float64 and p.dtype == o.dtype == np.int64
        assert t[0] == 0.0 and np.all(np.diff(t) >= 0)
        assert not (t.flags.writeable or p.flags.writeable or o.flags.writeable)
        assert p.min() >= 0 and o.min() >= 0
        assert load_azure_trace(name)[0] is t


def test_lenient_forms_are_accepted(tmp_path: Path) -> None:
    f = _write(
        tmp_path,
        "lenient",
        "\ufeff timestamp , CONTEXTTOKENS,generatedtokens\r\n"
        "2023-11-16 18:00:03.0000000,30,0\r\n"
        "\r\n"
        " 2023-11-16 18:00:01.5000000 , 10 ,+2\r\n"
        "   \r\n"
        "2023-11-16 18:00:01.5000000,0,3\r\n"
        "2023-11-16 18:00:00.5000000,20,3\r\n\r\n",
    )
    t, p, o = load_azure_trace(str(f))
    np.testing.assert_allclose(t, [0.0, 1.0, 1.0, 2.5])
    np.testing.assert_array_equal(p, [20, 10, 0, 30])  # stable sort keeps file order on ties
    np.testing.assert_array_equal(o, [3, 2, 3, 0])


def _constructs_or_raises(path: str) -> BaseException | None:
    """Build and drain a replay in a thread; fail the test if it hangs."""
    out: list[BaseException | None] = []

    def run() -> None:
        try:
            list(TraceArrivals(path, horizon_s=100.0).blocks())
            out.append(None)
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            out.append(exc)

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(timeout=10.0)
    assert not worker.is_alive(), "TraceArrivals hung"
    return out[0]


@pytest.mark.parametrize("rows", [1, 3])
def test_replay_refuses_a_trace_without_duration(tmp_path: Path, rows: int) -> None:
    f = str(_write(tmp_path, "flat", HEADER + ROW * rows))
    t, p, _ = load_azure_trace(f)  # the token pairs are usable (empirical sampler)
    assert len(t) == rows and np.all(t == 0.0) and p[0] == 10
    EmpiricalTokens(f, rng=np.random.default_rng(0)).sample(10)
    err = _constructs_or_raises(f)
    assert isinstance(err, InputFileError), err
    text = str(err)
    assert "\n" not in text and text.startswith(f) and err.line is None
    assert "at least two distinct times" in text and "2023-11-16 18:00:00.5" in text
    if rows > 1:
        assert f"all {rows} timestamps are equal" in text


@pytest.mark.parametrize("speedup", [0.0, -1.0, float("nan"), float("inf"), -float("inf")])
def test_replay_rejects_bad_speedup(tmp_path: Path, speedup: float) -> None:
    f = str(_write(tmp_path, "short", HEADER + ROW + "2023-11-16 18:00:00.5000001,1,1\n"))
    with pytest.raises(ConfigError, match="speedup"):
        TraceArrivals(f, speedup, horizon_s=10.0)


def test_replay_of_a_valid_short_trace_terminates(tmp_path: Path) -> None:
    f = str(_write(tmp_path, "two", HEADER + ROW + ROW2))
    assert _constructs_or_raises(f) is None
    times = np.concatenate([b.times_s for b in TraceArrivals(f, horizon_s=100.0).blocks()])
    assert len(times) == 100 and times[-1] < 100.0  # one arrival per second, period 2 s


# JSONL traces (Mooncake's format, with prefix block hashes)
JROW = '{"timestamp": 0, "input_length": 700, "output_length": 5, "hash_ids": [0, 1]}\n'
JROW2 = '{"timestamp": 3000, "input_length": 600, "output_length": 9, "hash_ids": [0, 2]}\n'
BAD_JSONL: list[tuple[str, str | bytes, int | None, tuple[str, ...]]] = [
    ("empty", "", None, ("file is empty",)),
    ("blank", "\n \n", None, ("no data lines", "JSON object")),
    ("not_json", JROW + "{timestamp: 1}\n", 2, ("not a JSON object",)),
    ("a_list", JROW + "[1, 2]\n", 2, ("not a JSON object",)),
    ("missing", JROW + '{"timestamp": 1, "input_length": 3}\n', 2, ("lacks output_length, hash_ids",)),
    ("neg_time", JROW + JROW2.replace("3000", "-5"), 2, ("timestamp -5",)),
    ("str_len", JROW2 + JROW.replace("700", '"700"'), 2, ("input_length '700'",)),
    ("float_out", JROW.replace(": 5,", ": 5.5,") + JROW2, 1, ("output_length 5.5",)),
    ("bad_ids", JROW + JROW2.replace("[0, 2]", '[0, "x"]'), 2, ("hash_ids",)),
    ("latin1", (JROW + JROW2[:-2] + " \xe9}\n").encode("latin-1"), 2, ("UTF-8",)),
]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "contents", "line", "pieces"), BAD_JSONL, ids=[c[0] for c in BAD_JSONL]
)
def test_bad_jsonl_fails_at_load(
    tmp_path: Path, name: str, contents: str | bytes, line: int | None, pieces: tuple[str, ...]
) -> None:
    f = tmp_path / f"{name}.jsonl"
    if isinstance(contents, bytes):
        f.write_bytes(contents)
    else:
        f.write_text(contents, encoding="utf-8")
    with pytest.raises(InputFileError) as err:
        TraceArrivals(str(f), horizon_s=10.0)
    _assert_clear(err.value, str(f), line, pieces)


def test_jsonl_rows_in_any_order_keep_their_hashes(tmp_path: Path) -> None:
    f = tmp_path / "t.jsonl"
    f.write_text(JROW2 + JROW, encoding="utf-8")  # later row first
    t = TraceArrivals(str(f), horizon_s=10.0, loop=False)
    (block,) = list(t.blocks())
    assert block.times_s.tolist() == [0.0, 3.0]  # milliseconds to seconds, sorted
    assert block.prompt_tokens.tolist() == [700, 600]
    assert t.prefix_blocks(block.rows) == [[0, 1], [0, 2]]
    assert t.has_prefix_hashes
