"""What every writer of the demo shop shares: the DuckDB connection that formats and writes the
files (`Writer`), the ids' widths and the monthly cut (`Layout`), Arrow and SQL helpers, and the
duplicated rows of dirty mode."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa

CSV_OPTS = "format csv, header true, timestampformat '%Y-%m-%d %H:%M:%S', dateformat '%Y-%m-%d'"


@dataclass(frozen=True)
class Layout:
    """Digits of the customer and order ids, and the months files are cut into."""

    wc: int  # customer ids: C + wc digits
    wo: int  # order ids: O + wo digits
    labels: list[str]  # yyyy-mm of each monthly file
    bounds: np.ndarray  # epoch seconds of the months' starts (one more than labels)


def ts_array(values: np.ndarray) -> pa.Array:
    return pa.array(values.astype("datetime64[s]"), mask=values < 0)


def optional(values: np.ndarray, dtype=None) -> pa.Array:
    v = values if dtype is None else values.astype(dtype)
    return pa.array(v, mask=values < 0)


def dictionary(idx: np.ndarray, words) -> pa.DictionaryArray:
    idx = np.asarray(idx)
    return pa.DictionaryArray.from_arrays(
        pa.array(idx.astype(np.int32), mask=idx < 0), pa.array(list(words))
    )


def id_sql(col: str, prefix: str, width: int) -> str:
    return f"'{prefix}' || lpad(cast({col} + 1 as varchar), {width}, '0')"


def money_sql(col: str, precision: int = 10) -> str:
    return f"cast({col} / 100 as decimal({precision}, 2))"


def sql_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


class Writer:
    def __init__(self, out: Path, threads: int):
        self.out = out
        self.con = duckdb.connect()
        self.con.execute(f"set threads = {threads}")
        self.con.execute("set preserve_insertion_order = true")
        self.rows: dict[str, int] = {}

    def copy(self, table: pa.Table, sql: str, path: Path, opts: str, entity: str) -> None:
        self.con.register("src", table)
        target = str(path).replace("'", "''")
        self.con.execute(f"copy ({sql}) to '{target}' ({opts})")
        self.con.unregister("src")
        self.rows[entity] = self.rows.get(entity, 0) + table.num_rows

    def monthly(self, table, ts, sql, folder, prefix, ext, opts, entity, labels, bounds) -> None:
        cuts = np.searchsorted(ts, bounds, side="left")
        for i, label in enumerate(labels):
            lo, hi = int(cuts[i]), int(cuts[i + 1])
            if hi > lo:
                part = table.slice(lo, hi - lo)
                self.copy(part, sql, self.out / folder / f"{prefix}_{label}.{ext}", opts, entity)


def dup_index(rng, n: int, share: float) -> np.ndarray | None:
    if rng is None or n == 0:
        return None
    extra = rng.choice(n, max(1, int(n * share)), replace=False)
    return np.sort(np.concatenate([np.arange(n), extra]), kind="stable")


def take(table: pa.Table, ts: np.ndarray | None, idx: np.ndarray | None):
    if idx is None:
        return table, ts
    return table.take(pa.array(idx)), (None if ts is None else ts[idx])
