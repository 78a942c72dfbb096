"""benchmarks.landing_days: splitting off a landing folder's last order day keeps every row.

A hand-made landing folder (orders over a month boundary, lines, returns, NPS answers, web
events as JSON lines or Parquet); rows are counted with csv, json and pyarrow before and after,
across the landing folder and the new day's folder, and the moved rows are named by hand.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from benchmarks.landing_days import split_off_last_day

pytestmark = pytest.mark.unit

DAY = "2026-02-01"  # the last order day below
CSV_FILES = {
    "shop/orders_2026-01.csv": (
        "order_id,ordered_at,session_id",
        ["O1,2026-01-30 10:00:00,S1", "O2,2026-01-31 23:59:59,"],
    ),
    "shop/orders_2026-02.csv": (
        "order_id,ordered_at,session_id",
        [f"O3,{DAY} 00:00:00,S3", f"O4,{DAY} 18:00:00,"],
    ),
    "shop/order_lines_2026-01.csv": ("order_line_id,order_id,sku", ["L1,O1,A", "L2,O2,B"]),
    "shop/order_lines_2026-02.csv": (
        "order_line_id,order_id,sku",
        ['L3,O3,"C, large"', "L4,O3,D", "L5,O4,A"],
    ),
    "shop/customers.csv": ("customer_id,name", ["C1,Ann"]),
    "returns/returns_2026-01.csv": (
        "rma_id,order_id,requested_at",
        ["R1,O1,2026-01-31 09:00:00", f"R2,O2,{DAY} 08:00:00"],
    ),
    "returns/returns_2026-02.csv": ("rma_id,order_id,requested_at", ["R3,O1,2026-02-03 11:00:00"]),
    "surveys/nps_2026-01.csv": (
        "response_id,responded_at,score",
        ["N1,2026-01-31 12:00:00,9", "N2,2026-02-02 12:00:00,3"],
    ),
}
EVENTS = {  # event_id: event_at
    "E1": "2026-01-31 10:00:00",
    "E2": "2026-01-31 23:59:59",
    "E3": f"{DAY} 00:00:00",
    "E4": f"{DAY} 20:00:00",
    "E5": "2026-02-02 07:00:00",
}


def _landing(root: Path, web_format: str) -> Path:
    landing = root / "landing"
    for name, (header, rows) in CSV_FILES.items():
        (landing / name).parent.mkdir(parents=True, exist_ok=True)
        (landing / name).write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    (landing / "web").mkdir()
    for month in ("2026-01", "2026-02"):
        ids = [e for e, at in EVENTS.items() if at.startswith(month)]
        path = landing / "web" / f"events_{month}.{web_format}"
        if web_format == "jsonl":
            path.write_text(
                "".join(json.dumps({"event_id": e, "event_at": EVENTS[e]}) + "\n" for e in ids)
            )
        else:
            at = pa.array([EVENTS[e] for e in ids]).cast(pa.timestamp("us"))
            pq.write_table(pa.table({"event_id": ids, "event_at": at}), path)
    return landing


def _ids(folder: Path, pattern: str) -> list[str]:
    """The first column of every row of the files, counted with csv, json or pyarrow."""
    out = []
    for path in sorted(folder.glob(pattern)):
        if path.suffix == ".csv":
            with path.open(newline="", encoding="utf-8") as f:
                out += [row[0] for row in list(csv.reader(f))[1:]]
        elif path.suffix == ".jsonl":
            out += [json.loads(line)["event_id"] for line in path.read_text().splitlines()]
        else:
            out += pq.read_table(path)["event_id"].to_pylist()
    return out


PATTERNS = {
    "orders": "shop/orders_*.csv",
    "order_lines": "shop/order_lines_*.csv",
    "returns": "returns/returns_*.csv",
    "nps": "surveys/nps_*.csv",
    "events": "web/events_*",
}
MOVED = {  # by hand from the rows above
    "orders": ["O3", "O4"],
    "order_lines": ["L3", "L4", "L5"],
    "returns": ["R2", "R3"],  # requested on the day or later
    "nps": ["N2"],
    "events": ["E3", "E4"],  # of the day only
}


@pytest.mark.parametrize("web_format", ["jsonl", "parquet"])
def test_split_moves_the_last_day_and_keeps_every_row(tmp_path, web_format):
    landing = _landing(tmp_path, web_format)
    before = {k: _ids(landing, p) for k, p in PATTERNS.items()}
    untouched = (landing / "shop/orders_2026-01.csv").read_bytes()
    customers = (landing / "shop/customers.csv").read_bytes()

    day = split_off_last_day(landing, tmp_path / "new_day")

    assert day.isoformat() == DAY
    for entity, pattern in PATTERNS.items():
        kept, moved = _ids(landing, pattern), _ids(tmp_path / "new_day", pattern)
        assert sorted(kept + moved) == sorted(before[entity]), entity  # nothing lost or doubled
        assert sorted(moved) == MOVED[entity], entity
    # the new day's files are named by the day; a month left empty has no file any more
    assert sorted(p.name for p in (tmp_path / "new_day/shop").iterdir()) == [
        f"order_lines_{DAY}.csv",
        f"orders_{DAY}.csv",
    ]
    assert not (landing / "shop/orders_2026-02.csv").exists()
    assert (landing / "shop/orders_2026-01.csv").read_bytes() == untouched
    assert (landing / "shop/customers.csv").read_bytes() == customers
    # a quoted value with a comma survives the rewrite
    with (tmp_path / f"new_day/shop/order_lines_{DAY}.csv").open(newline="") as f:
        assert ["L3", "O3", "C, large"] in list(csv.reader(f))


DROPPED = {  # by hand: requested, answered or seen after the day
    "returns": ["R3"],
    "nps": ["N2"],
    "events": ["E5"],
}


@pytest.mark.parametrize("web_format", ["jsonl", "parquet"])
def test_split_with_after_drop_leaves_the_landing_as_at_the_end_of_the_day(tmp_path, web_format):
    landing = _landing(tmp_path, web_format)
    before = {k: _ids(landing, p) for k, p in PATTERNS.items()}

    day = split_off_last_day(landing, tmp_path / "new_day", after="drop")

    assert day.isoformat() == DAY
    for entity, pattern in PATTERNS.items():
        kept, moved = _ids(landing, pattern), _ids(tmp_path / "new_day", pattern)
        dropped = DROPPED.get(entity, [])
        # every row kept, moved or dropped, once
        assert sorted(kept + moved + dropped) == sorted(before[entity]), entity
        assert not set(dropped) & set(kept + moved), entity
        # only the day's own rows move
        assert sorted(moved) == sorted(set(MOVED[entity]) - set(dropped)), entity
    # February's events all left (the day's moved, E5 dropped): no empty file stays behind
    assert not (landing / f"web/events_2026-02.{web_format}").exists()


def test_split_refuses_an_unknown_after(tmp_path):
    landing = _landing(tmp_path, "jsonl")
    with pytest.raises(ValueError, match="move"):
        split_off_last_day(landing, tmp_path / "new_day", after="keep")
