"""Reading the serving database: one short read-only connection per query, cached per publish.

A publish replaces the serving file with `os.replace`. DuckDB caches an open database per path
inside a process, so a connection opened with `duckdb.connect(path)` while another thread still
holds one would see the old file. Each query therefore attaches the serving file read-only, under
a fresh name, to an in-memory DuckDB that holds no file of its own, runs one statement with bound
parameters, and detaches it: no connection to the serving file outlives a query, and every
query sees the file that is published at that moment. (An attachment costs ~1.5 ms here; a new
`duckdb.connect()` per query cost 12-15 ms.)

Results are cached with `st.cache_data`, keyed on the query, its parameters and the serving
file's stamp (path, inode, mtime, size): a new publish changes the stamp, so the next rerun
queries the new file without a restart.
"""

from __future__ import annotations

import json
import os
import threading
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import streamlit as st

from returnlens.config import settings
from returnlens.warehouse import duckdb_config

SCHEMA = "marts"


class NotPublishedError(RuntimeError):
    """There is no serving database yet (nothing has been published)."""


def serving_path() -> Path:
    """The serving database (RETURNLENS_SERVING, default data/serving.duckdb)."""
    return settings().serving


def exports_dir() -> Path:
    """Where the pipeline writes exports (`returnlens.exports.default_export_dir`):
    RETURNLENS_EXPORTS_DIR, else <data>/exports (or the exports folder beside the serving file
    when only that exists)."""
    value = os.environ.get("RETURNLENS_EXPORTS_DIR")
    if value:
        return Path(value).resolve()
    cfg = settings()
    beside_serving = cfg.serving.parent / "exports"
    default = cfg.data_dir / "exports"
    return beside_serving if not default.exists() and beside_serving.exists() else default


Stamp = tuple[str, int, int, int]


def publish_stamp(path: Path | None = None) -> Stamp | None:
    """(path, inode, mtime_ns, size) of the serving file, or None when nothing is published."""
    path = path or serving_path()
    try:
        st_ = path.stat()
    except FileNotFoundError:
        return None
    return (str(path), st_.st_ino, st_.st_mtime_ns, st_.st_size)


_hub: duckdb.DuckDBPyConnection | None = None
_hub_lock = threading.Lock()


def _hub_connection() -> duckdb.DuckDBPyConnection:
    """A process-wide in-memory DuckDB: holds no file, only runs the per-query attachments."""
    global _hub
    with _hub_lock:
        if _hub is None:
            # memory limit, threads and spill folder from the memory budget, as every
            # DuckDB database Returnlens opens
            _hub = duckdb.connect(config=duckdb_config())
        return _hub


def run_query(path: str, sql: str, params: Sequence[Any] = ()) -> pd.DataFrame:
    """Run one statement on the serving file: attach it read-only under a fresh name, query,
    detach. The file is opened for this statement only (a new attachment always opens the
    file that is published now); the in-memory hub it is attached to holds no file."""
    alias = f"serving_{uuid.uuid4().hex}"
    cur = _hub_connection().cursor()  # a connection of its own: safe across threads
    try:
        cur.execute(f"attach ? as {alias} (read_only)", [path])
        try:
            cur.execute(f"use {alias}")
            return cur.execute(sql, list(params)).df()
        finally:
            cur.execute("use memory")
            cur.execute(f"detach {alias}")
    finally:
        cur.close()


@st.cache_data(show_spinner=False, max_entries=2000, ttl=3600)
def _cached(sql: str, params: tuple, stamp: Stamp) -> pd.DataFrame:
    return run_query(stamp[0], sql, params)


def query(sql: str, params: Sequence[Any] = ()) -> pd.DataFrame:
    """Run `sql` (bound `params`, never string-built from input) on the published marts."""
    stamp = publish_stamp()
    if stamp is None:
        raise NotPublishedError(str(serving_path()))
    return _cached(sql, tuple(params), stamp)


@st.cache_data(show_spinner=False, max_entries=64)
def _tables(stamp: Stamp) -> frozenset[str]:
    df = run_query(
        stamp[0],
        "select table_name from duckdb_tables() where database_name = current_database() "
        "and schema_name = ?",
        [SCHEMA],
    )
    return frozenset(df["table_name"])


def published_tables() -> frozenset[str]:
    """Names of the tables in the published `marts` schema (empty before any publish)."""
    stamp = publish_stamp()
    return frozenset() if stamp is None else _tables(stamp)


@dataclass(frozen=True)
class PublishInfo:
    """The latest publish: when, which run, and whether its gates passed."""

    published_at: datetime
    run_id: str | None
    gates_passed: bool
    gates_total: int
    gates_failed: int
    tables: int
    is_demo: bool = False
    publish_id: str | None = None


def publish_info() -> PublishInfo | None:
    """What marts.publish_log says about the file that is published now; None before any.
    (Files of older publishes have no `is_demo`/`publish_id`: read as not demo, no id.)"""
    if "publish_log" not in published_tables():
        return None
    df = query("select * from marts.publish_log order by published_at desc limit 1")
    if df.empty:
        return None
    row = df.iloc[0]
    demo, publish_id = row.get("is_demo"), row.get("publish_id")
    gates = json.loads(row["gate_results"] or "{}")
    tables = json.loads(row["tables"] or "{}")
    return PublishInfo(
        published_at=pd.Timestamp(row["published_at"]).to_pydatetime(),
        run_id=row["run_id"],
        gates_passed=bool(row["gates_passed"]),
        gates_total=len(gates),
        gates_failed=sum(1 for ok in gates.values() if not ok),
        tables=len(tables),
        is_demo=bool(demo) if demo is not None and not pd.isna(demo) else False,
        publish_id=publish_id if isinstance(publish_id, str) else None,
    )


def alert_export_index() -> pd.DataFrame:
    """The supplier alert exports (`exports/quality_alerts/index.csv`): supplier_id,
    has_supplier, supplier_name, alerts, csv_file, json_file; empty before the first export."""
    path = exports_dir() / "quality_alerts" / "index.csv"
    columns = ["supplier_id", "has_supplier", "supplier_name", "alerts", "csv_file", "json_file"]
    if not path.is_file():
        return pd.DataFrame(columns=columns)
    return pd.read_csv(path, dtype=str, keep_default_na=False)
