"""Publish the marts from the build warehouse to the serving database, atomically.

The marts are copied into `serving.tmp.duckdb` next to the serving file, checkpointed and closed,
and then `os.replace`d onto `serving.duckdb`. Readers holding the old file keep reading it; new
connections see the new file; nobody ever sees a half-written serving database. Only the `marts`
schema is copied: no raw data, no PII.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from returnlens.config import settings
from returnlens.warehouse import connect, quote_ident, quote_literal

PUBLISHED_SCHEMA = "marts"


@dataclass
class PublishResult:
    """What was published where."""

    serving: Path
    tables: dict[str, int]
    published_at: datetime


def publish(
    warehouse: Path | None = None,
    serving: Path | None = None,
    run_id: str | None = None,
    gates: dict[str, bool] | None = None,
) -> PublishResult:
    """Copy every table of the `marts` schema into a fresh serving file and swap it in."""
    cfg = settings()
    warehouse = warehouse or cfg.warehouse
    serving = serving or cfg.serving
    serving.parent.mkdir(parents=True, exist_ok=True)
    tmp = serving.with_name(serving.stem + ".tmp.duckdb")
    for leftover in (tmp, tmp.with_name(tmp.name + ".wal")):
        leftover.unlink(missing_ok=True)
    published_at = datetime.now(UTC).replace(tzinfo=None)
    tables: dict[str, int] = {}
    con = connect(tmp)
    try:
        con.execute(f"attach {quote_literal(str(warehouse))} as build (read_only)")
        names = [
            r[0]
            for r in con.execute(
                "select table_name from duckdb_tables() "
                "where database_name = 'build' and schema_name = ? order by table_name",
                [PUBLISHED_SCHEMA],
            ).fetchall()
        ]
        if not names:
            raise RuntimeError(
                f"{warehouse}: no tables in schema {PUBLISHED_SCHEMA!r}; run the pipeline first."
            )
        con.execute(f"create schema {PUBLISHED_SCHEMA}")
        for name in names:
            q = quote_ident(name)
            con.execute(
                f"create table {PUBLISHED_SCHEMA}.{q} as select * from build.{PUBLISHED_SCHEMA}.{q}"
            )
            tables[name] = con.execute(f"select count(*) from {PUBLISHED_SCHEMA}.{q}").fetchall()[
                0
            ][0]
        con.execute("detach build")
        con.execute(
            f"create table {PUBLISHED_SCHEMA}.publish_log ("
            "published_at timestamp, run_id varchar, tables varchar, gates_passed boolean, "
            "gate_results varchar)"
        )

        con.execute(
            f"insert into {PUBLISHED_SCHEMA}.publish_log values (?, ?, ?, ?, ?)",
            [
                published_at,
                run_id,
                json.dumps(tables, sort_keys=True),
                all((gates or {}).values()),
                json.dumps(gates or {}, sort_keys=True),
            ],
        )
        con.execute("checkpoint")
    finally:
        con.close()
    os.replace(tmp, serving)
    return PublishResult(serving, tables, published_at)
