"""Connections to the build warehouse, configured in one place."""

from __future__ import annotations

from pathlib import Path

import duckdb

from returnlens.config import settings


def connect(
    path: Path | str | None = None, *, read_only: bool = False
) -> duckdb.DuckDBPyConnection:
    """Open the warehouse (or another DuckDB file) with the configured memory and thread limits."""
    cfg = settings()
    target = Path(path) if path is not None else cfg.warehouse
    if not read_only:
        target.parent.mkdir(parents=True, exist_ok=True)
    return duckdb.connect(
        str(target),
        read_only=read_only,
        config={"memory_limit": cfg.duckdb_memory_limit, "threads": cfg.duckdb_threads},
    )


def quote_ident(name: str) -> str:
    """Quote an identifier for DuckDB SQL (names come from our contracts, never from users)."""
    return '"' + name.replace('"', '""') + '"'


def quote_literal(value: str) -> str:
    """Quote a string literal for DuckDB SQL (values come from our contracts and file paths)."""
    return "'" + value.replace("'", "''") + "'"


def fetch_row(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> tuple:
    """Run a query that returns one row and fetch it completely.

    DuckDB 2.0 keeps a result open after `fetchone()` and refuses further work on the
    connection until it is drained, so single-row queries go through `fetchall()`.
    """
    rows = con.execute(sql, params or []).fetchall()
    if len(rows) != 1:
        raise ValueError(f"expected one row, got {len(rows)} from: {sql[:200]}")
    return rows[0]


def scalar(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None):
    """Run a query that returns a single value."""
    return fetch_row(con, sql, params)[0]
