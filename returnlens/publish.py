"""Publish the marts from the build warehouse to the serving database, atomically.

The marts are copied into `serving.tmp.duckdb` next to the serving file, checkpointed and closed,
and then `os.replace`d onto `serving.duckdb`. Readers holding the old file keep reading it; new
connections see the new file; nobody ever sees a half-written serving database. Only the `marts`
schema is copied, and of it only the dbt project's public models (`access: public`): no raw
data, no PII, no scratch tables. The gate results of the run go along
(`marts.publish_log`, `marts.publish_gate_results`), and a publish whose run has a failed gate
is refused. `marts.publish_log` also says which publish it is (`publish_id`) and whether the
data is the generated demo shop (`is_demo`: the landing folder holds the generator's
`ground_truth.json`).

Once a serving file exists, the temp file starts as a copy of it, and each mart is brought up to
the warehouse's rows writing only what differs (`returnlens/publish_updates.py`): an unchanged
mart is not written (and its Parquet file is kept), a large mart with few changed rows has just
those deleted and inserted, any other is copied whole. Tables that are no longer public marts
are dropped, so the result holds what a publish into a fresh file would.

A partial publish (`refresh`: the marts a run rebuilt, e.g. the `returns_alerts` job) brings
only those marts up to the warehouse and keeps every other mart as it was published before; the
swap is the same `os.replace`.
`marts.publish_log.refreshed_at` (JSON, mart -> when the publish that last copied it ran) says
which marts this publish refreshed and how old the others are; a full publish sets every mart to
its own time.

Optionally every mart is also written as Parquet, published as a whole
(`returnlens/publish_parquet.py`, docs/bi.md).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from returnlens.config import settings
from returnlens.dbt_runner import public_models
from returnlens.publish_parquet import (
    PUBLISH_ID_FORMAT,
    PUBLISHED_SCHEMA,
    current_version,
    linkable,
    parquet_root,
    remove_old_parquet_versions,
    switch_parquet,
    write_parquet,
)
from returnlens.publish_updates import MartUpdate, known_fingerprints, update_mart
from returnlens.warehouse import (
    connect,
    connect_reader,
    quote_ident,
    quote_literal,
    within_budget,
)

# written by the demo generator at the landing root; a shop's own deliveries never hold it
DEMO_MARKER = "ground_truth.json"

log = logging.getLogger(__name__)


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
    publish_id: str = ""
    is_demo: bool = False
    refreshed: list[str] | None = None  # the marts this publish copied (all but in a partial)
    updates: dict[str, str] | None = None  # mart -> how it was brought up to the warehouse


def is_demo_landing(landing: Path) -> bool:
    """True when a landing folder is the generated demo shop (it holds the generator's marker)."""
    return (landing / DEMO_MARKER).is_file()


def new_publish_id(published_at: datetime) -> str:
    """A publish id that sorts by time: `20260105T061502123456Z-1a2b3c4d`."""
    return f"{published_at.strftime(PUBLISH_ID_FORMAT)}-{uuid.uuid4().hex[:8]}"


def _has_gate_history(con) -> bool:
    return (
        con.execute(
            "select count(*) from duckdb_tables() where database_name = 'build' "
            "and schema_name = 'quality' and table_name = 'gate_runs'"
        ).fetchall()[0][0]
        > 0
    )


def _gate_results(con, run_id: str | None) -> dict[str, bool]:
    if run_id is None or not _has_gate_history(con):
        return {}
    rows = con.execute(
        "select suite, bool_and(passed) from build.quality.gate_runs where run_id = ? group by 1",
        [run_id],
    ).fetchall()
    return dict(rows)


def _failed_since(con, evaluated: set[str]) -> list[str]:
    """Suites not evaluated in this run whose latest run (of any job) failed them: what a partial
    publish reads besides its own models was last judged a failure and not judged again."""
    if not _has_gate_history(con):
        return []
    rows = con.execute(
        "with per_run as ("
        "    select suite, run_id, bool_and(passed) as passed, max(evaluated_at) as evaluated"
        "    from build.quality.gate_runs group by suite, run_id"
        "), latest as ("
        "    select suite, passed, row_number() over"
        "        (partition by suite order by evaluated desc, run_id desc) as recency"
        "    from per_run"
        ") select suite from latest where recency = 1 and not passed order by suite"
    ).fetchall()
    return [suite for (suite,) in rows if suite not in evaluated]


@within_budget("The publish")
def publish(
    warehouse: Path | None = None,
    serving: Path | None = None,
    run_id: str | None = None,
    parquet: bool | None = None,
    is_demo: bool | None = None,
    models: Iterable[str] | None = None,
    refresh: Iterable[str] | None = None,
) -> PublishResult:
    """Copy the public marts into a fresh serving file and swap it in.

    `models` defaults to the dbt project's `access: public` models (the manifest); a table of
    the `marts` schema that is not one of them is not published. `is_demo` defaults to whether
    the configured landing folder is the generated demo shop. `refresh`: publish only these
    marts (of `models`) and keep the others as the serving file holds them (module docstring);
    None publishes them all.
    """
    cfg = settings()
    warehouse = warehouse or cfg.warehouse
    serving = serving or cfg.serving
    parquet = cfg.publish_parquet if parquet is None else parquet
    is_demo = is_demo_landing(cfg.landing_dir) if is_demo is None else is_demo
    serving.parent.mkdir(parents=True, exist_ok=True)
    tmp = serving.with_name(serving.stem + ".tmp.duckdb")
    for leftover in (tmp, tmp.with_name(tmp.name + ".wal")):
        leftover.unlink(missing_ok=True)
    published_at = datetime.now(UTC).replace(tzinfo=None)
    publish_id = new_publish_id(published_at)
    tables: dict[str, int] = {}
    previous: dict[str, str] = {}  # mart -> when it was last published
    if refresh is not None:
        previous = _published_marts(serving)
    elif serving.is_file():
        previous = _publishable_marts(serving)
    # a copy of the serving file, unless there is none yet or it must be written afresh
    started_at, fresh_because = _serving_lineage(serving, warehouse) if previous else (None, "")
    from_copy = fresh_because is None
    if fresh_because:
        log.info("publishing into a new serving file: %s", fresh_because)
    if from_copy:
        _copy_file(serving, tmp)
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
        stale = _failed_since(con, set(gates)) if refresh is not None else []
        if stale:
            raise GateFailedError(
                f"run {run_id}: gate(s) {', '.join(stale)} failed in an earlier run and have not "
                "passed since; this run rebuilt only some marts and did not check what they read "
                f"besides, so nothing is published and {serving} stays as it was. Fix the data "
                "those gates judge and run the main job."
            )
        built = {
            r[0]
            for r in con.execute(
                "select table_name from duckdb_tables() "
                "where database_name = 'build' and schema_name = ?",
                [PUBLISHED_SCHEMA],
            ).fetchall()
        }
        if not built:
            raise RuntimeError(
                f"{warehouse}: no tables in schema {PUBLISHED_SCHEMA!r}; run the pipeline first."
            )
        names = sorted(set(public_models() if models is None else models))
        missing = [name for name in names if name not in built]
        if missing:
            raise RuntimeError(
                f"{warehouse}: public mart(s) {', '.join(missing)} not built; nothing is "
                f"published and {serving} stays as it was. Run the pipeline (`make run`) to "
                "build them."
            )
        if unpublished := sorted(built - set(names)):
            log.info(
                "not published (tables in %s.%s that are not public dbt models): %s",
                warehouse.name,
                PUBLISHED_SCHEMA,
                ", ".join(unpublished),
            )
        copied = names if refresh is None else sorted(set(refresh) & set(names))
        if absent := sorted(set(names) - set(copied) - set(previous)):
            raise RuntimeError(
                f"{serving}: public mart(s) {', '.join(absent)} not published yet; a "
                f"partial publish keeps the other marts as published, so {serving} stays "
                "as it was. Run the main job (`make run`) to publish every mart."
            )
        known: dict[str, tuple[int, int]] = {}  # serving's fingerprints, as last published
        if not from_copy:
            con.execute(f"create schema {PUBLISHED_SCHEMA}")
            _copy_kept_marts(con, serving, sorted(set(names) - set(copied)))
        else:
            known = known_fingerprints(con, PUBLISHED_SCHEMA)
            # a table no longer public (nor a mart any more) leaves serving as in a full publish
            for table in ("publish_log", "publish_gate_results", *(set(previous) - set(names))):
                con.execute(f"drop table if exists {PUBLISHED_SCHEMA}.{quote_ident(table)}")
        updates: dict[str, MartUpdate] = {}
        for name in copied:
            if from_copy:
                updates[name] = update_mart(con, PUBLISHED_SCHEMA, name, known=known.get(name))
                continue
            q = quote_ident(name)
            con.execute(
                f"create table {PUBLISHED_SCHEMA}.{q} as select * from build.{PUBLISHED_SCHEMA}.{q}"
            )
            updates[name] = MartUpdate("copied", -1)
        for name in names:
            q = quote_ident(name)
            tables[name] = con.execute(f"select count(*) from {PUBLISHED_SCHEMA}.{q}").fetchall()[
                0
            ][0]
        stamp = published_at.isoformat()
        refreshed_at = {name: previous.get(name, stamp) for name in names}
        refreshed_at.update({name: stamp for name in copied})
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
            "gate_results varchar, publish_id varchar, is_demo boolean, refreshed_at varchar, "
            "file_started_at timestamp, fingerprints varchar)"
        )
        # what the next publish takes as serving's side of each mart's fingerprint: the marts
        # it kept as the previous publish recorded them, the others as the build's now
        known = {n: known[n] for n in names if n not in copied and n in known}
        known.update({n: u.fingerprint for n, u in updates.items() if u.fingerprint})
        con.execute(
            f"insert into {PUBLISHED_SCHEMA}.publish_log values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                published_at,
                run_id,
                json.dumps(tables, sort_keys=True),
                all(gates.values()),
                json.dumps(gates, sort_keys=True),
                publish_id,
                is_demo,
                json.dumps(refreshed_at, sort_keys=True),
                started_at if from_copy else published_at,
                json.dumps({n: list(known[n]) for n in sorted(known)}),
            ],
        )
        con.execute("checkpoint")
        root = parquet_root(serving)
        version = None
        if parquet:
            current = current_version(root) if from_copy else None
            # the marts serving holds as before: not refreshed, or refreshed and found unchanged
            kept = (set(names) - set(copied)) | {
                name for name, update in updates.items() if update.how == "unchanged"
            }
            linked = kept & linkable(root, previous) if current is not None else set()
            version = write_parquet(con, root, names, publish_id, current, linked)
        log_rows = {
            name: con.execute(f"select count(*) from {PUBLISHED_SCHEMA}.{name}").fetchall()[0][0]
            for name in ("publish_log", "publish_gate_results")
        }
    finally:
        con.close()
    # the Parquet export is made current first: if that fails, neither the export nor the
    # serving file has changed and the publish failed as a whole (the complete but unused
    # version folder is removed by a later publish's clean-up)
    parquet_dir = None
    if version is not None:
        parquet_dir = switch_parquet(
            root,
            version,
            publish_id,
            published_at,
            {**tables, **log_rows},
            is_demo,
            refreshed_at,
            linked,
        )
    os.replace(tmp, serving)
    if version is not None:
        try:
            remove_old_parquet_versions(root)
        except (OSError, ValueError) as exc:  # clean-up, not publishing: the publish stands
            log.warning(
                "published %s, but old Parquet versions in %s were not removed (%s); check "
                "RETURNLENS_PARQUET_KEEP / RETURNLENS_PARQUET_GRACE_SECONDS and the folder's "
                "permissions",
                publish_id,
                root,
                exc,
            )
    return PublishResult(
        serving,
        tables,
        published_at,
        gates,
        parquet_dir,
        publish_id,
        is_demo,
        copied,
        {
            name: MartUpdate(u.how, tables[name], u.deleted, u.inserted).describe()
            for name, u in updates.items()
        },
    )


def _published_marts(serving: Path) -> dict[str, str]:
    """Mart -> when it was last published, from the serving file's publish log (a file of an
    older version without `refreshed_at`: every mart at the log's time). An error naming what
    to do when there is no serving file to publish into."""
    if not serving.is_file():
        raise RuntimeError(
            f"{serving}: no serving database yet, so a partial publish has nothing to keep; run "
            "the main job (`make run`) to publish every mart first."
        )
    con = connect_reader(serving)
    try:
        marts = [
            r[0]
            for r in con.execute(
                "select table_name from duckdb_tables() "
                "where database_name = 'reader' and schema_name = ?",
                [PUBLISHED_SCHEMA],
            ).fetchall()
        ]
        columns = {
            r[0]
            for r in con.execute(
                "select column_name from duckdb_columns() where database_name = 'reader' "
                "and schema_name = ? and table_name = 'publish_log'",
                [PUBLISHED_SCHEMA],
            ).fetchall()
        }
        row = con.execute(
            "select published_at, "
            + ("refreshed_at" if "refreshed_at" in columns else "null")
            + f" from {PUBLISHED_SCHEMA}.publish_log order by published_at desc limit 1"
        ).fetchone()
    finally:
        con.close()
    at = row[0].isoformat() if row else ""
    known = json.loads(row[1]) if row and row[1] else {}
    return {m: known.get(m, at) for m in marts if m not in ("publish_log", "publish_gate_results")}


def _serving_lineage(serving: Path, warehouse: Path) -> tuple[datetime | None, str | None]:
    """When the serving file was first written (a publish into a copy carries the time over),
    and why it must be written afresh instead of copied, None when it need not be: an erasure
    (`forget-customer`) since it was first written, so that the erased customer's old rows
    leave serving in every byte (a deleted row's bytes stay in the free blocks of a file);
    more than half of the file free blocks (compacted); a file of a version that did not
    record its start."""
    con = connect_reader(serving)
    try:
        has_start = con.execute(
            "select count(*) from duckdb_columns() where database_name = 'reader' "
            "and schema_name = ? and table_name = 'publish_log' and column_name = "
            "'file_started_at'",
            [PUBLISHED_SCHEMA],
        ).fetchone()[0]
        started_at = (
            con.execute(
                f"select file_started_at from {PUBLISHED_SCHEMA}.publish_log "
                "order by published_at desc limit 1"
            ).fetchone()[0]
            if has_start
            else None
        )
        free, total = con.execute(
            "select free_blocks, total_blocks from pragma_database_size() "
            "where database_name = 'reader'"
        ).fetchone()
    finally:
        con.close()
    if started_at is None:
        return None, "the serving file does not say when it was first written"
    if total and free > total / 2:
        return started_at, f"{free:,} of its {total:,} blocks are free (compacting it)"
    con = connect_reader(warehouse)
    try:
        has_erasures = con.execute(
            "select count(*) from duckdb_tables() where database_name = 'reader' "
            "and schema_name = 'raw' and table_name = 'forgotten_customers'"
        ).fetchone()[0]
        erased = (
            con.execute(
                "select count(*) from raw.forgotten_customers where forgotten_at >= ?",
                [started_at],
            ).fetchone()[0]
            if has_erasures
            else 0
        )
    finally:
        con.close()
    if erased:
        return started_at, (
            f"{erased} customer(s) erased since it was first written: their old rows must not "
            "stay in its free blocks"
        )
    return started_at, None


def _copy_kept_marts(con, serving: Path, kept: list[str]) -> None:
    """A partial publish into a new file: the marts it keeps, from the serving file."""
    if not kept:
        return
    con.execute(f"attach {quote_literal(str(serving))} as served (read_only)")
    try:
        for name in kept:
            q = quote_ident(name)
            con.execute(
                f"create table {PUBLISHED_SCHEMA}.{q} as select * from served.{PUBLISHED_SCHEMA}.{q}"
            )
    finally:
        con.execute("detach served")


def _publishable_marts(serving: Path) -> dict[str, str]:
    """`_published_marts` of an existing serving file, or {} (publish into a fresh file) when
    it cannot be read as one: a file of a version before the publish log, or a damaged one."""
    try:
        return _published_marts(serving)
    except Exception as exc:
        log.warning(
            "%s cannot be read as a serving file (%s): publishing into a new one", serving, exc
        )
        return {}


def _copy_file(source: Path, target: Path) -> None:
    """Copy a closed DuckDB file (a copy-on-write clone where the file system can, else a
    copy in the kernel)."""
    with source.open("rb") as src, target.open("wb") as dst:
        try:
            import fcntl

            fcntl.ioctl(dst.fileno(), 0x40049409, src.fileno())  # FICLONE
            return
        except (ImportError, OSError):
            pass
    shutil.copyfile(source, target)
