"""Publish the marts from the build warehouse to the serving database, atomically.

The marts are copied into `serving.tmp.duckdb` next to the serving file, checkpointed and closed,
and then `os.replace`d onto `serving.duckdb`. Readers holding the old file keep reading it; new
connections see the new file; nobody ever sees a half-written serving database. Only the `marts`
schema is copied: no raw data, no PII. The gate results of the run go along
(`marts.publish_log`, `marts.publish_gate_results`), and a publish whose run has a failed gate
is refused. Optionally every mart is also written as Parquet (`<serving>_parquet/<mart>.parquet`),
swapped in as a whole folder.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from returnlens.config import settings
from returnlens.warehouse import connect, quote_ident, quote_literal

PUBLISHED_SCHEMA = "marts"


class GateFailedError(RuntimeError):
    """A gate of this run failed: nothing is published."""


@dataclass
class PublishResult:
    """What was published where."""

    serving: Path
    tables: dict[str, int]
    published_at: datetime
    gates: dict[str, bool]
    parquet_dir: Path | None


def _gate_results(con, run_id: str | None) -> dict[str, bool]:
    exists = con.execute(
        "select count(*) from duckdb_tables() where database_name = 'build' "
        "and schema_name = 'quality' and table_name = 'gate_runs'"
    ).fetchall()[0][0]
    if not exists or run_id is None:
        return {}
    rows = con.execute(
        "select suite, bool_and(passed) from build.quality.gate_runs where run_id = ? group by 1",
        [run_id],
    ).fetchall()
    return dict(rows)


def publish(
    warehouse: Path | None = None,
    serving: Path | None = None,
    run_id: str | None = None,
    parquet: bool | None = None,
) -> PublishResult:
    """Copy every table of the `marts` schema into a fresh serving file and swap it in."""
    cfg = settings()
    warehouse = warehouse or cfg.warehouse
    serving = serving or cfg.serving
    parquet = cfg.publish_parquet if parquet is None else parquet
    serving.parent.mkdir(parents=True, exist_ok=True)
    tmp = serving.with_name(serving.stem + ".tmp.duckdb")
    for leftover in (tmp, tmp.with_name(tmp.name + ".wal")):
        leftover.unlink(missing_ok=True)
    published_at = datetime.now(UTC).replace(tzinfo=None)
    tables: dict[str, int] = {}
    con = connect(tmp)
    try:
        con.execute(f"attach {quote_literal(str(warehouse))} as build (read_only)")
        gates = _gate_results(con, run_id)
        failed = sorted(name for name, ok in gates.items() if not ok)
        if failed:
            raise GateFailedError(
                f"run {run_id}: gate(s) {', '.join(failed)} failed; nothing is published and "
                f"{serving} stays as it was."
            )
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
        con.execute(
            f"create table {PUBLISHED_SCHEMA}.publish_gate_results as "
            "select run_id, suite, relation, row_count, passed, failed, warnings, summary, "
            "evaluated_at from build.quality.gate_runs where run_id = ?"
            if gates
            else f"create table {PUBLISHED_SCHEMA}.publish_gate_results ("
            "run_id varchar, suite varchar, relation varchar, row_count bigint, passed boolean, "
            "failed integer, warnings integer, summary varchar, evaluated_at timestamp)",
            [run_id] if gates else [],
        )
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
                all(gates.values()),
                json.dumps(gates, sort_keys=True),
            ],
        )
        con.execute("checkpoint")
        parquet_dir = _write_parquet(con, serving, names) if parquet else None
    finally:
        con.close()
    os.replace(tmp, serving)
    if parquet_dir is not None:
        parquet_dir = _swap_dir(parquet_dir, serving.with_name(serving.stem + "_parquet"))
    return PublishResult(serving, tables, published_at, gates, parquet_dir)


def _write_parquet(con, serving: Path, names: list[str]) -> Path:
    staging = serving.with_name(serving.stem + "_parquet.tmp")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    for name in [*names, "publish_log", "publish_gate_results"]:
        target = quote_literal(str(staging / f"{name}.parquet"))
        con.execute(f"copy {PUBLISHED_SCHEMA}.{quote_ident(name)} to {target} (format parquet)")
    return staging


def _swap_dir(staging: Path, target: Path) -> Path:
    """Replace a folder by another with two renames; the old one is removed afterwards."""
    old = target.with_name(target.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if target.exists():
        os.replace(target, old)
    os.replace(staging, target)
    shutil.rmtree(old, ignore_errors=True)
    return target
