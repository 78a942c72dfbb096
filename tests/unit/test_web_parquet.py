"""Web events delivered as Parquet (the generator's format at large scales) beside JSON lines.

The same contract as the JSON lines: columns checked by name and type, values that do not fit
quarantined (never cast lossily), a file with a wrong or missing column refused with the file,
the problem and what to do, rows in = loaded + quarantined. Expectations are computed from the
rows the test writes, not from the loader.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from returnlens.ingest.contracts import entity
from returnlens.ingest.loader import load_entity

pytestmark = pytest.mark.unit

COLUMNS = (
    "event_id",
    "session_id",
    "customer_id",
    "event_type",
    "event_at",
    "sku",
    "device",
    "traffic_source",
)


def _event(i: int, **overrides) -> dict:
    row = {
        "event_id": f"E{i:04d}",
        "session_id": f"S{i // 3:03d}",
        "customer_id": f"C{i:03d}" if i % 2 else None,
        "event_type": "product_view",
        "event_at": datetime(2026, 1, 1 + i % 28, 10, i % 60, 5),
        "sku": f"AP{i:05d}-M-BLK" if i % 3 else None,
        "device": "mobile",
        "traffic_source": "email",
    }
    row.update(overrides)
    return row


def _table(rows: list[dict], types: dict[str, pa.DataType] | None = None) -> pa.Table:
    types = types or {}
    names = list(rows[0])
    return pa.table(
        {
            n: pa.array(
                [r[n] for r in rows],
                types.get(n, pa.timestamp("us") if n == "event_at" else pa.string()),
            )
            for n in names
        }
    )


def _write(path, rows, types=None) -> None:
    pq.write_table(_table(rows, types), path)


@pytest.fixture()
def landing(tmp_path):
    (tmp_path / "landing" / "web").mkdir(parents=True)
    return tmp_path / "landing"


def _quarantine(con) -> dict[tuple[str, int], str]:
    return {
        (f, n): r
        for f, n, r in con.execute(
            "select source_file, file_row_number, reason from raw.quarantine_rows"
        ).fetchall()
    }


def test_parquet_and_json_lines_load_alike_with_null_keys_and_duplicates_quarantined(con, landing):
    pq_rows = [_event(i) for i in range(1, 7)]
    pq_rows.append(_event(7, event_id=None))  # null key
    pq_rows.append(_event(8, event_id="E0002"))  # duplicate within the file
    _write(landing / "web" / "events_2026-01.parquet", pq_rows)
    js_rows = [_event(i) for i in range(20, 24)] + [_event(24, event_id="E0003")]  # dup across
    with (landing / "web" / "events_2026-02.jsonl").open("w") as fh:
        for r in js_rows:
            fh.write(json.dumps({**r, "event_at": r["event_at"].strftime("%Y-%m-%d %H:%M:%S")}))
            fh.write("\n")

    res = load_entity(con, entity("web_events"), landing)

    # expected from the rows written: first occurrence of each non-null key loads (files in
    # name order: the Parquet of January before the JSON lines of February)
    seen: set[str] = set()
    expected = []
    for r in pq_rows + js_rows:
        if r["event_id"] is not None and r["event_id"] not in seen:
            seen.add(r["event_id"])
            expected.append(r)
    assert (res.rows_in, res.rows_loaded, res.rows_quarantined) == (
        len(pq_rows) + len(js_rows),
        len(expected),
        len(pq_rows) + len(js_rows) - len(expected),
    )
    assert {f.source_file: f.status for f in res.files} == {
        "web/events_2026-01.parquet": "loaded",
        "web/events_2026-02.jsonl": "loaded",
    }
    loaded = con.execute(
        f"select {', '.join(COLUMNS)} from raw.web_events order by event_id"
    ).fetchall()
    assert loaded == sorted((tuple(r[c] for c in COLUMNS) for r in expected), key=lambda t: t[0])
    assert _quarantine(con) == {
        ("web/events_2026-01.parquet", 7): "missing required event_id",
        ("web/events_2026-01.parquet", 8): "duplicate key within the file",
        (
            "web/events_2026-02.jsonl",
            5,
        ): "duplicate key: also in web/events_2026-01.parquet",
    }
    # the raw record keeps the text of the quarantined Parquet row
    record = con.execute(
        "select raw_record from raw.quarantine_rows where file_row_number = 8 "
        "and source_file like '%parquet'"
    ).fetchall()[0][0]
    assert json.loads(record)["event_at"] == pq_rows[7]["event_at"].strftime("%Y-%m-%d %H:%M:%S")

    again = load_entity(con, entity("web_events"), landing)  # fingerprints: nothing re-read
    assert [f.status for f in again.files] == ["unchanged", "unchanged"]
    assert con.execute("select count(*) from raw.web_events").fetchall() == [(len(expected),)]


def test_parquet_column_of_a_wrong_type_refuses_the_file_naming_column_and_fix(con, landing):
    rows = [_event(i) for i in range(1, 5)]
    epoch = [{**r, "event_at": int(r["event_at"].replace(tzinfo=UTC).timestamp())} for r in rows]
    _write(landing / "web" / "events_2026-01.parquet", epoch, {"event_at": pa.int64()})
    numbered = [{**r, "session_id": 100 + i} for i, r in enumerate(rows)]
    _write(landing / "web" / "events_2026-02.parquet", numbered, {"session_id": pa.int64()})

    res = load_entity(con, entity("web_events"), landing)

    by_file = {f.source_file: f for f in res.files}
    jan, feb = by_file["web/events_2026-01.parquet"], by_file["web/events_2026-02.parquet"]
    assert (jan.status, jan.rows_in, jan.rows_loaded) == ("failed", len(rows), 0)
    assert (feb.status, feb.rows_in, feb.rows_loaded) == ("failed", len(rows), 0)
    assert jan.error.startswith("web/events_2026-01.parquet: ")
    assert "event_at is BIGINT" in jan.error and "timestamp" in jan.error
    assert "deliver the file again" in jan.error and "docs/contracts/web.md" in jan.error
    assert "session_id is BIGINT" in feb.error and "text (VARCHAR)" in feb.error
    assert con.execute("select count(*) from raw.web_events").fetchall() == [(0,)]
    assert con.execute("select count(*) from raw.quarantine_files").fetchall() == [(2,)]


def test_parquet_missing_column_refuses_the_file(con, landing):
    rows = [{k: v for k, v in _event(i).items() if k != "device"} for i in range(1, 4)]
    _write(landing / "web" / "events_2026-01.parquet", rows)

    res = load_entity(con, entity("web_events"), landing)

    (f,) = res.files
    assert (f.status, f.rows_in, f.rows_loaded, f.rows_quarantined) == ("failed", 3, 0, 0)
    assert f.error.startswith("web/events_2026-01.parquet: missing required column(s) device")
    assert "deliver the file again" in f.error


def test_parquet_values_that_do_not_fit_are_quarantined_never_cast_lossily(con, landing):
    # nanoseconds do not fit a timestamp (microseconds): quarantined, not truncated; a text
    # column of timestamps is checked as text; an instant (with time zone) is taken as UTC
    ns = pa.array(
        [1_767_261_600_000_000_000, 1_767_261_600_000_000_123, 1_767_261_601_000_000_000],
        pa.timestamp("ns"),
    )
    rows = [_event(i) for i in range(1, 4)]
    table = _table(rows).set_column(4, "event_at", ns)
    pq.write_table(table, landing / "web" / "events_2026-01.parquet")
    text = [_event(i) for i in range(10, 13)]
    text_rows = [
        {**text[0], "event_at": "2026-01-05 10:00:00"},
        {**text[1], "event_at": "2026-01-05 10:00:00+02:00"},  # another offset: quarantined
        {**text[2], "event_at": "yesterday"},
    ]
    _write(landing / "web" / "events_2026-02.parquet", text_rows, {"event_at": pa.string()})
    tz = [_event(i) for i in range(20, 22)]
    tz_table = _table(tz).set_column(
        4,
        "event_at",
        pa.array(
            [datetime(2026, 3, 1, 9, 0, tzinfo=UTC), datetime(2026, 3, 1, 23, 30, tzinfo=UTC)],
            pa.timestamp("us", tz="Europe/Amsterdam"),
        ),
    )
    pq.write_table(tz_table, landing / "web" / "events_2026-03.parquet")

    res = load_entity(con, entity("web_events"), landing)

    assert (res.rows_in, res.rows_loaded, res.rows_quarantined) == (8, 5, 3)
    loaded = dict(con.execute("select event_id, event_at from raw.web_events").fetchall())
    assert loaded == {
        "E0001": datetime(2026, 1, 1, 10, 0),
        "E0003": datetime(2026, 1, 1, 10, 0, 1),
        "E0010": datetime(2026, 1, 5, 10, 0),
        "E0020": datetime(2026, 3, 1, 9, 0),
        "E0021": datetime(2026, 3, 1, 23, 30),
    }
    bad = "bad timestamp in event_at: not a valid timestamp written YYYY-MM-DD HH:MM:SS"
    reasons = _quarantine(con)
    assert set(reasons) == {
        ("web/events_2026-01.parquet", 2),
        ("web/events_2026-02.parquet", 2),
        ("web/events_2026-02.parquet", 3),
    }
    assert all(r.startswith(bad) for r in reasons.values())


def test_parquet_dates_load_as_they_are_or_checked_as_text(con, tmp_path):
    # a Parquet DATE is taken as it is; a date written as text is checked like any text
    from datetime import date

    landing = tmp_path / "landing"
    (landing / "planning").mkdir(parents=True)
    typed = pa.table(
        {
            "sku": ["A-1", "A-2"],
            "week_start_date": pa.array([date(2026, 1, 5), date(2026, 1, 12)], pa.date32()),
            "forecast_version": ["2026-W01", "2026-W01"],
            "created_date": pa.array([date(2026, 1, 1), date(2026, 1, 1)], pa.date32()),
            "gross_demand_units": [3.5, 0.0],
        }
    )
    pq.write_table(typed, landing / "planning" / "forecasts_2026-W01.parquet")
    text = typed.set_column(1, "week_start_date", pa.array(["2026-01-19", "19-01-2026"]))
    text = text.set_column(2, "forecast_version", pa.array(["2026-W02", "2026-W02"]))
    pq.write_table(text, landing / "planning" / "forecasts_2026-W02.parquet")

    res = load_entity(con, entity("demand_forecasts"), landing)

    assert (res.rows_in, res.rows_loaded, res.rows_quarantined) == (4, 3, 1)
    assert con.execute(
        "select sku, week_start_date, forecast_version, gross_demand_units "
        "from raw.demand_forecasts order by forecast_version, sku"
    ).fetchall() == [
        ("A-1", date(2026, 1, 5), "2026-W01", 3.5),
        ("A-2", date(2026, 1, 12), "2026-W01", 0.0),
        ("A-1", date(2026, 1, 19), "2026-W02", 3.5),
    ]
    ((reason,),) = con.execute("select reason from raw.quarantine_rows").fetchall()
    assert reason.startswith("bad date in week_start_date")


def test_parquet_row_numbers_are_positions_in_the_file_across_row_groups(con, landing):
    """Row numbers come from the Parquet reader's own positions (read in parallel over row
    groups): every row's number is its position in the file, also with a column of the file
    named like the reader's position column (kept in _extra)."""
    rows = [_event(i) for i in range(1, 41)]
    bad = {5, 23, 38}  # 1-based positions of rows with an unknown event type
    rows = [r if i not in bad else {**r, "event_type": "teleport"} for i, r in enumerate(rows, 1)]
    pq.write_table(_table(rows), landing / "web" / "events_2026-01.parquet", row_group_size=4)
    named = [{**_event(i), "file_row_number": str(900 + i)} for i in range(50, 55)]
    named[2]["event_type"] = "teleport"
    pq.write_table(_table(named), landing / "web" / "events_2026-02.parquet", row_group_size=2)

    res = load_entity(con, entity("web_events"), landing)

    assert (res.rows_in, res.rows_loaded, res.rows_quarantined) == (45, 41, 4)
    positions = {r["event_id"]: i for i, r in enumerate(rows, 1) if i not in bad}
    positions |= {r["event_id"]: i for i, r in enumerate(named, 1) if i != 3}
    assert (
        dict(con.execute("select event_id, _file_row_number from raw.web_events").fetchall())
        == positions
    )
    extra = con.execute("select _extra from raw.web_events where event_id = 'E0051'").fetchall()
    assert json.loads(extra[0][0]) == {"file_row_number": "951"}
    assert set(_quarantine(con)) == {
        *(("web/events_2026-01.parquet", i) for i in bad),
        ("web/events_2026-02.parquet", 3),
    }
    # a failing row's raw record holds the timestamp as text, as the file's value writes it
    records = con.execute(
        "select file_row_number, raw_record from raw.quarantine_rows "
        "where source_file = 'web/events_2026-01.parquet'"
    ).fetchall()
    assert {n: json.loads(r)["event_at"] for n, r in records} == {
        i: rows[i - 1]["event_at"].strftime("%Y-%m-%d %H:%M:%S") for i in bad
    }
