"""The demo generator writes web events as JSON lines at small scales and Parquet at large ones
(or as asked): the same events either way, and the Parquet loads under the web contract."""

from __future__ import annotations

import json
from datetime import datetime

import duckdb
import pyarrow.parquet as pq
import pytest

from returnlens.demo.generator import generate
from returnlens.demo.sources.web import PARQUET_FROM_SCALE, web_format_for
from returnlens.ingest.contracts import entity
from returnlens.ingest.loader import load_entity

pytestmark = pytest.mark.unit

SCALE = 0.02


def test_web_format_follows_the_scale_unless_asked():
    assert PARQUET_FROM_SCALE == 5
    assert web_format_for(1.0) == web_format_for(4.99) == "jsonl"
    assert web_format_for(5.0) == web_format_for(67) == "parquet"
    assert web_format_for(67, "jsonl") == "jsonl"
    assert web_format_for(0.1, "parquet") == "parquet"
    with pytest.raises(ValueError, match="web format 'csv'"):
        web_format_for(1.0, "csv")


def _json_events(folder) -> dict[str, dict]:
    events = {}
    for path in sorted(folder.glob("events_*.jsonl")):
        for line in path.read_text().splitlines():
            row = json.loads(line)
            row["event_at"] = datetime.strptime(row["event_at"], "%Y-%m-%d %H:%M:%S")
            events[row["event_id"]] = {**row, "_file": path.stem}
    return events


def _parquet_events(folder) -> dict[str, dict]:
    events = {}
    for path in sorted(folder.glob("events_*.parquet")):
        for row in pq.read_table(path).to_pylist():
            events[row["event_id"]] = {**row, "_file": path.stem}
    return events


def test_parquet_web_events_are_the_json_lines_events_and_load_cleanly(tmp_path):
    as_json = tmp_path / "json"
    as_parquet = tmp_path / "parquet"
    generate(as_json, seed=5, scale=SCALE)  # small scale: JSON lines, as always
    truth = generate(as_parquet, seed=5, scale=SCALE, web_format="parquet")

    assert not list((as_json / "web").glob("*.parquet"))
    assert not list((as_parquet / "web").glob("*.jsonl"))
    expected = _json_events(as_json / "web")
    got = _parquet_events(as_parquet / "web")
    assert len(expected) > 1000
    assert got == expected  # same events, same values, same monthly files
    assert truth["rows"]["web_events"] == len(expected)
    # everything but the web folder is the same bytes
    for path in as_json.rglob("*"):
        if path.is_file() and path.relative_to(as_json).parts[0] != "web":
            assert path.read_bytes() == (as_parquet / path.relative_to(as_json)).read_bytes()

    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    try:
        res = load_entity(con, entity("web_events"), as_parquet)
        assert (res.rows_in, res.rows_loaded, res.rows_quarantined) == (len(expected), len(got), 0)
        assert {f.status for f in res.files} == {"loaded"}
    finally:
        con.close()


def test_events_find_their_session_in_any_chunk():
    """The writer finds each event's session from the sessions' offsets, per chunk of events:
    the same sessions as repeating every session over its events, for any cut of the events
    (a cut inside a session, on a session's first event, a single event, the whole stream)."""
    import numpy as np

    from returnlens.demo.sources.web import _sessions_of

    events = [1, 3, 1, 1, 5, 2, 1, 4]  # events per session, in start order
    expected = [s for s, n in enumerate(events) for _ in range(n)]  # by hand: one per event
    offsets = [sum(events[:s]) for s in range(len(events))]
    web = type("Web", (), {"sess_off_sorted": np.array(offsets, np.int64)})
    total = sum(events)
    for a in range(total):
        for b in range(a + 1, total + 1):
            got = _sessions_of(web, a, b)
            assert got.tolist() == expected[a:b], (a, b)
            assert got.dtype == np.int32
