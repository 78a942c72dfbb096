"""Split a demo shop's landing folder as a shop delivers it: everything before its last order
day, and that day's files apart (for incremental runs: tests/integration/test_incremental_runs.py
and benchmarks/bench_scale.py).

`split_off_last_day(landing, new_day)` moves the last order day's rows out of the monthly files
into files of their own under `new_day/` (same folders, named `<entity>_<day>`): that day's
orders and their lines, web events of that day (JSON lines or Parquet, as the landing has them),
returns and NPS answers of that day and later. Every other file is left as it is, byte for byte;
a monthly file that keeps no row is removed. Copying `new_day/` into `landing/` then delivers
the day.

The demo shop's returns and answers run on for weeks after its last order day. Moved with the
day (`after="move"`, the tests' late returns), they make the "day" weeks of returns and move
the as-of date on by those weeks (at scale 67: 49,150 return lines, 20 days). With
`after="drop"` they are removed from the landing instead (and web events after the day too):
the landing is then the shop's as at the end of the day, and the new day delivers that day's
orders, lines, events, return requests and answers only (benchmarks/bench_scale.py).
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import re
from collections.abc import Callable
from pathlib import Path

_EVENT_AT = re.compile(r'"event_at":\s*"(\d{4}-\d{2}-\d{2})')


def read_csv(path: Path) -> tuple[list[str], list[dict]]:
    """Header and rows (dicts of strings) of a CSV file."""
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        return list(reader.fieldnames or []), list(reader)


def write_csv(path: Path, header: list[str], rows: list[dict]) -> None:
    """Write rows under header, as the demo writes its CSV files (\\n line ends)."""
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=header, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def last_order_day(landing: Path) -> dt.date:
    """The latest `ordered_at` day of the shop's orders files."""
    day = ""
    for path in (landing / "shop").glob("orders_*.csv"):
        with path.open(newline="", encoding="utf-8") as f:
            day = max([day, *(r["ordered_at"][:10] for r in csv.DictReader(f))])
    if not day:
        raise ValueError(f"{landing / 'shop'}: no orders_*.csv with an order in it")
    return dt.date.fromisoformat(day)


def _split_csv(
    landing: Path, new_day: Path, pattern: str, name: str | None, is_new: Callable[[dict], bool]
) -> int:
    """Move the rows `is_new` picks from the files matching pattern into new_day/name (name
    None: remove them); the number moved or removed."""
    header, moved = None, []
    for path in sorted(landing.glob(pattern)):
        header, rows = read_csv(path)
        keep = [r for r in rows if not is_new(r)]
        if len(keep) == len(rows):
            continue
        moved += [r for r in rows if is_new(r)]
        if keep:
            write_csv(path, header, keep)
        else:  # a month that starts on the day: no file yet
            path.unlink()
    if moved and name is not None:
        (new_day / name).parent.mkdir(parents=True, exist_ok=True)
        write_csv(new_day / name, header, moved)
    return len(moved)


def _event_date(line: str) -> str:
    """The day of a JSON line's event_at, by a regex (json.loads only when it finds none); ""
    for an event without one (kept where it is, never moved)."""
    found = _EVENT_AT.search(line)
    return found.group(1) if found else (json.loads(line).get("event_at") or "")[:10]


def _split_jsonl(landing: Path, new_day: Path, day: str, drop_after: bool = False) -> int:
    moved: list[str] = []
    for path in sorted((landing / "web").glob("events_*.jsonl")):
        lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
        # the day's date in the line first: the date parsed only for the lines that have it
        new = [ln for ln in lines if day in ln and _event_date(ln) == day]
        gone = set(new)
        # the lines leaving the file: the day's, and with drop_after the later ones
        keep = [ln for ln in lines if not (drop_after and _event_date(ln) > day) and ln not in gone]
        if len(keep) == len(lines):
            continue
        moved += new
        if keep:
            path.write_text("".join(keep), encoding="utf-8")
        else:  # as the CSV files: a file left without rows is removed
            path.unlink()
    if moved:
        (new_day / "web").mkdir(parents=True, exist_ok=True)
        (new_day / "web" / f"events_{day}.jsonl").write_text("".join(moved), encoding="utf-8")
    return len(moved)


def _split_parquet(landing: Path, new_day: Path, day: dt.date, drop_after: bool = False) -> int:
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    moved = []
    for path in sorted((landing / "web").glob("events_*.parquet")):
        at = pq.read_table(path, columns=["event_at"])["event_at"]
        if not pa.types.is_timestamp(at.type):  # text timestamps, as another layout has them
            at = pc.strptime(at, format="%Y-%m-%d %H:%M:%S", unit="us")
        dates = pc.cast(at, pa.date32())
        is_new = pc.equal(dates, pa.scalar(day, pa.date32()))
        # the rows leaving the file: the day's, and with drop_after the later ones
        leaving = pc.greater_equal(dates, pa.scalar(day, pa.date32())) if drop_after else is_new
        if not pc.any(leaving).as_py():
            continue
        table = pq.read_table(path)
        moved.append(table.filter(is_new))
        keep = table.filter(pc.invert(leaving))
        if keep.num_rows:
            pq.write_table(keep, path, compression="zstd")
        else:
            path.unlink()
    if not moved:
        return 0
    (new_day / "web").mkdir(parents=True, exist_ok=True)
    table = pa.concat_tables(moved)
    pq.write_table(table, new_day / "web" / f"events_{day}.parquet", compression="zstd")
    return table.num_rows


def split_off_last_day(landing: Path, new_day: Path, after: str = "move") -> dt.date:
    """Move the last order day's rows into files of their own under new_day (see the module);
    returns the day. `after`: "move" returns and answers after the day with it, or "drop" them
    and web events after the day from the landing. Fails when the day has no orders, order
    lines or web events to move."""
    if after not in ("move", "drop"):
        raise ValueError(f'after must be "move" or "drop", not {after!r}')
    day = last_order_day(landing)
    iso = day.isoformat()
    held: set[str] = set()

    def order_of_day(r: dict) -> bool:
        if r["ordered_at"][:10] == iso:
            held.add(r["order_id"])
            return True
        return False

    moved = {
        "orders": _split_csv(
            landing, new_day, "shop/orders_*.csv", f"shop/orders_{iso}.csv", order_of_day
        ),
        "order_lines": _split_csv(
            landing,
            new_day,
            "shop/order_lines_*.csv",
            f"shop/order_lines_{iso}.csv",
            lambda r: r["order_id"] in held,
        ),
    }
    for entity, column in (("returns/returns", "requested_at"), ("surveys/nps", "responded_at")):
        if after == "drop":
            _split_csv(
                landing, new_day, f"{entity}_*.csv", None, lambda r, c=column: r[c][:10] > iso
            )
        _split_csv(
            landing,
            new_day,
            f"{entity}_*.csv",
            f"{entity}_{iso}.csv",
            lambda r, c=column: r[c][:10] >= iso,
        )
    drop = after == "drop"
    moved["web events"] = _split_jsonl(landing, new_day, iso, drop) + _split_parquet(
        landing, new_day, day, drop
    )
    empty = [name for name, n in moved.items() if not n]
    if empty:
        raise ValueError(f"{landing}: nothing of {iso} to split off in {', '.join(empty)}")
    return day
