"""What every platform layout shares: reading the native files as text, the platforms' ids
and timestamps, rewriting a native file in place, writing JSON documents and Parquet tables.

Everything is one DuckDB statement per file (no Python loop over rows); the native files are
read with `all_varchar`, so every value is converted from exactly the text the generator wrote.
"""

from __future__ import annotations

import csv
import tempfile
from pathlib import Path

import duckdb

from returnlens.config import PROJECT_ROOT
from returnlens.warehouse import quote_ident as qi
from returnlens.warehouse import quote_literal as ql

SEEDS_DIR = PROJECT_ROOT / "seeds"
# the time zone the platforms' local timestamps are written in (the demo is a Dutch shop)
LOCAL_TZ = "Europe/Amsterdam"


def connect() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("set threads = 2")
    con.execute("set preserve_insertion_order = true")
    return con


def native(out: Path, source: str, pattern: str) -> str:
    """The native files of `source/pattern` as one relation of text columns."""
    return (
        f"read_csv({ql(str(out / source / pattern))}, header = true, all_varchar = true, "
        "auto_detect = true)"
    )


def has_files(out: Path, source: str, pattern: str) -> bool:
    return any(p.is_file() for p in (out / source).glob(pattern))


def number(expr: str) -> str:
    """The number of a native id (`O0000429` -> 429, `RMA0000181` -> 181) as a bigint: the
    platforms' ids are whole numbers."""
    return f"cast(regexp_extract({expr}, '([0-9]+)$', 1) as bigint)"


def line_number_id(order_id: str, line_number: str) -> str:
    """A platform's order line id from the native order id and line number: order number
    x 100 + line number (O0000429-2 -> 42902)."""
    return f"({number(order_id)} * 100 + cast({line_number} as bigint))"


def local_iso(expr: str) -> str:
    """A native UTC timestamp text (`2026-03-01 03:05:35`) as ISO 8601 local time in
    Europe/Amsterdam with its offset (`2026-03-01T04:05:35+01:00`), as the platforms write it."""
    utc = f"cast({expr} as timestamp)"
    local = f"timezone({ql(LOCAL_TZ)}, timezone('UTC', {utc}))"
    hours = f"cast(date_diff('hour', {utc}, {local}) as integer)"
    return (
        f"case when {expr} is not null then strftime({local}, '%Y-%m-%dT%H:%M:%S') || "
        f"case when {hours} < 0 then '-' else '+' end || lpad(cast(abs({hours}) as varchar), 2, "
        "'0') || ':00' end"
    )


def gmt_iso(expr: str) -> str:
    """A native UTC timestamp text as WooCommerce's `*_gmt` form (`2026-03-01T03:05:35`)."""
    return f"replace({expr}, ' ', 'T')"


def seed_rows(name: str) -> list[dict[str, str]]:
    with (SEEDS_DIR / f"{name}.csv").open(newline="") as fh:
        return list(csv.DictReader(fh))


def values_table(con: duckdb.DuckDBPyConnection, name: str, rows: list[tuple], cols: str) -> None:
    """A small temp table of literal rows (a mapping the converter reads from a seed)."""
    con.execute(f"create or replace temp table {qi(name)} ({cols})")
    if rows:
        marks = ", ".join("?" for _ in rows[0])
        con.executemany(f"insert into {qi(name)} values ({marks})", [list(r) for r in rows])


def rewrite_csv(
    con: duckdb.DuckDBPyConnection, folder: Path, pattern: str, exprs: dict[str, str]
) -> None:
    """Rewrite every native CSV of `folder/pattern` in place, columns in their order, the
    columns of `exprs` replaced by their SQL (over the file's text columns, table `f`)."""
    for path in sorted(folder.glob(pattern)):
        cols = [r[0] for r in con.execute(f"describe select * from {_csv(path)}").fetchall()]
        _replace(con, path, _in_order(cols, exprs, _csv(path)), "format csv, header true")


def rewrite_jsonl(
    con: duckdb.DuckDBPyConnection, folder: Path, pattern: str, exprs: dict[str, str]
) -> None:
    """The same for JSON lines files (keys in their order, values as text)."""
    for path in sorted(folder.glob(pattern)):
        src = f"read_json({ql(str(path))}, format = 'newline_delimited', auto_detect = true)"
        cols = [r[0] for r in con.execute(f"describe select * from {src}").fetchall()]
        _replace(con, path, _in_order(cols, exprs, src), "format json")


def rewrite_parquet(
    con: duckdb.DuckDBPyConnection, folder: Path, pattern: str, exprs: dict[str, str]
) -> None:
    """The same for Parquet files (the other columns keep their types)."""
    for path in sorted(folder.glob(pattern)):
        src = f"read_parquet({ql(str(path))})"
        cols = [r[0] for r in con.execute(f"describe select * from {src}").fetchall()]
        _replace(con, path, _in_order(cols, exprs, src), "format parquet")


def rewrite_web_events(con: duckdb.DuckDBPyConnection, out: Path, exprs: dict[str, str]) -> None:
    """Web events in either format the generator writes (JSON lines, Parquet from scale 5)."""
    rewrite_jsonl(con, out / "web", "events_*.jsonl", exprs)
    rewrite_parquet(con, out / "web", "events_*.parquet", exprs)


def rekey_customers_and_orders(con: duckdb.DuckDBPyConnection, out: Path) -> None:
    """The native files that stay (customers, NPS answers, web events) name customers and
    orders by the platform's numeric ids, as the platform's own tables do."""
    cust = f"cast({number('f.customer_id')} as varchar)"
    rewrite_csv(con, out / "shop", "customers*.csv", {"customer_id": cust})
    rewrite_csv(
        con,
        out / "surveys",
        "nps_*.csv",
        {"customer_id": cust, "order_id": f"cast({number('f.order_id')} as varchar)"},
    )
    rewrite_web_events(con, out, {"customer_id": cust})


def _in_order(cols: list[str], exprs: dict[str, str], src: str) -> str:
    """The columns of `src` (alias `f`), those of `exprs` replaced, rows in the file's order."""
    select = ", ".join(f"{exprs.get(c, 'f.' + qi(c))} as {qi(c)}" for c in cols)
    return (
        f"select {select} from (select *, row_number() over () as _row_no from {src}) as f "
        "order by f._row_no"
    )


def _csv(path: Path) -> str:
    return f"read_csv({ql(str(path))}, header = true, all_varchar = true, auto_detect = true)"


def _replace(con: duckdb.DuckDBPyConnection, path: Path, select: str, options: str) -> None:
    with tempfile.NamedTemporaryFile(dir=path.parent, suffix=path.suffix, delete=False) as tmp:
        tmp_path = Path(tmp.name)
    try:
        con.execute(f"copy ({select}) to {ql(str(tmp_path))} ({options})")
        tmp_path.replace(path)
    finally:
        tmp_path.unlink(missing_ok=True)


def write_json(con: duckdb.DuckDBPyConnection, select: str, path: Path, array: bool) -> None:
    """The rows of `select` as a JSON array of objects (`array`), or its one row as one object."""
    path.parent.mkdir(parents=True, exist_ok=True)
    opts = "format json, array true" if array else "format json"
    con.execute(f"copy ({select}) to {ql(str(path))} ({opts})")


def write_parquet(con: duckdb.DuckDBPyConnection, select: str, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    con.execute(f"copy ({select}) to {ql(str(path))} (format parquet, compression zstd)")


def months(con: duckdb.DuckDBPyConnection, relation: str, ts: str) -> list[str]:
    """The months (yyyy-mm) of a timestamp column, one file per month as the native files."""
    rows = con.execute(
        f"select distinct strftime(cast({ts} as timestamp), '%Y-%m') as m from {relation} "
        "order by m"
    ).fetchall()
    return [r[0] for r in rows]


def remove(folder: Path, pattern: str) -> None:
    for p in folder.glob(pattern):
        p.unlink()
