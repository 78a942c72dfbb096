"""Looking at and replaying quarantined rows.

`summary()` lists what is in quarantine per entity, file and kind of reason, and which files
failed whole. `replay()` re-checks quarantined rows against the *current* contract (after a
contract fix, or when the key a duplicate clashed with is gone) and moves the rows that now pass
into raw, in one transaction, keeping the conservation rule: for every file, the audit's rows in
= rows in raw + rows in quarantine. A fixed file re-delivered under the same name simply loads
(and replaces its rows and its quarantine); a file that failed whole is retried by the next load
when the file or the entity's contract changed. Rows of a platform adapter's files
(`landing/bol/`, `landing/sendcloud/`) are not replayed: the adapter judges them too, so they
are re-read from the file when it or the adapter's mapping seeds change.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

import duckdb

from returnlens.adapters import adapter_entities
from returnlens.ingest.contracts import ENTITIES, Entity, FileSpec
from returnlens.ingest.erasure import apply_forgotten
from returnlens.ingest.landing import spec_of
from returnlens.ingest.loader import contract_hash
from returnlens.ingest.raw_tables import (
    AUDIT_COLUMNS,
    UNLOADED_STATUSES,
    ensure_raw_schema,
    utc_now,
)
from returnlens.ingest.raw_writes import insert_rows, move_quarantined
from returnlens.ingest.row_checks import checked_select
from returnlens.warehouse import quote_ident as qi
from returnlens.warehouse import quote_literal as ql


@dataclass
class QuarantineSummary:
    """Quarantined rows per (entity, file, reason kind) and files that failed whole."""

    rows: list[tuple[str, str, str, int]] = field(default_factory=list)
    failed_files: list[tuple[str, str, str]] = field(default_factory=list)
    unloaded_files: list[tuple[str, str, str]] = field(default_factory=list)

    def format(self) -> str:
        """Plain-text report for the CLI."""
        lines = []
        if not self.rows and not self.failed_files:
            lines.append("Quarantine is empty: every row of every loaded file is in raw.")
        if self.rows:
            lines.append("Quarantined rows (entity, file, reason, rows):")
            for entity, source_file, reason, n in self.rows:
                lines.append(f"  {entity:<18} {source_file}  {reason}: {n:,}")
        if self.failed_files:
            lines.append("Files that failed whole (latest delivery):")
            for entity, source_file, error in self.failed_files:
                lines.append(f"  {entity:<18} {source_file}\n      {error}")
        if self.unloaded_files:
            lines.append("Landing files not loaded (unrecognised, ignored, refused):")
            for status, source_file, error in self.unloaded_files:
                lines.append(f"  {status:<18} {source_file}\n      {error}")
        return "\n".join(lines)


def summary(con: duckdb.DuckDBPyConnection, entity: str | None = None) -> QuarantineSummary:
    """What is in quarantine now, grouped by entity, file and reason kind (values stripped)."""
    ensure_raw_schema(con, [])
    rows = con.execute(
        """
        select entity, source_file,
            regexp_replace(reason, ': [^;]*', '', 'g') as reason_kind, count(*) as n
        from raw.quarantine_rows
        where ? is null or entity = ?
        group by all
        order by entity, source_file, n desc
        """,
        [entity, entity],
    ).fetchall()
    failed = con.execute(
        """
        select entity, source_file, error
        from raw.load_audit
        where ? is null or entity = ?
        qualify row_number() over (partition by entity, source_file order by finished_at desc) = 1
            and status in ('failed', 'error')
        order by entity, source_file
        """,
        [entity, entity],
    ).fetchall()
    unloaded = []
    if entity is None:
        statuses = ", ".join(f"'{s}'" for s in UNLOADED_STATUSES)
        unloaded = con.execute(
            f"""
            select status, source_file, error
            from raw.load_audit
            where entity is null
            qualify row_number() over (partition by source_file order by finished_at desc) = 1
                and status in ({statuses})
            order by status, source_file
            """
        ).fetchall()
    return QuarantineSummary(rows, failed, unloaded)


@dataclass
class ReplayResult:
    """Rows moved from quarantine into raw per entity, and rows still quarantined."""

    moved: dict[str, int] = field(default_factory=dict)
    still_quarantined: dict[str, int] = field(default_factory=dict)


def replay(
    con: duckdb.DuckDBPyConnection,
    entity: str | None = None,
    source_file: str | None = None,
) -> ReplayResult:
    """Re-check quarantined rows against the current contract; move those that pass into raw."""
    result = ReplayResult()
    targets = [e for e in ENTITIES if entity is None or e.name == entity]
    if entity is not None and not targets:
        raise KeyError(f"no landing entity named {entity!r}")
    ensure_raw_schema(con, targets)
    for ent in targets:
        moved, left = _replay_entity(con, ent, source_file)
        if moved or left:
            result.moved[ent.name] = moved
            result.still_quarantined[ent.name] = left
    return result


def _replay_entity(
    con: duckdb.DuckDBPyConnection, entity: Entity, source_file: str | None
) -> tuple[int, int]:
    # rows of a platform adapter's files are judged by the adapter too: they are re-read from
    # the file (when it or the mapping seeds change), never replayed on the contract alone
    platforms = ", ".join(ql(e.source) for e in adapter_entities())
    where = f"entity = ? and split_part(source_file, '/', 1) not in ({platforms})" + (
        " and source_file = ?" if source_file else ""
    )
    params = [entity.name] + ([source_file] if source_file else [])
    files = [
        r[0]
        for r in con.execute(
            f"select distinct source_file from raw.quarantine_rows where {where} order by 1",
            params,
        ).fetchall()
    ]
    if not files:
        return 0, 0
    cols = ", ".join(
        f"json_extract_string(raw_record, {ql('$.' + c.name)}) as {qi(c.name)}"
        for c in entity.columns
    )
    con.execute(
        f"""
        create or replace temp table _stage as
        select {cols},
            cast(json_extract(raw_record, '$._extra') as varchar) as _extra,
            source_file as _source_file,
            dense_rank() over (order by source_file) as _file_order,
            file_row_number as _file_row_number
        from raw.quarantine_rows
        where {where}
        """,
        params,
    )
    # each file's dialect, from the delivery its name matches (the default when none does)
    dialects: dict[int, FileSpec] = {}
    for order, f in enumerate(files, start=1):
        spec = spec_of(entity, f)
        if spec is not None:
            dialects[order] = spec
    load_id = f"replay-{uuid.uuid4().hex}"
    now = utc_now()
    placeholders = ", ".join("?" for _ in files)
    before = dict(
        con.execute(
            f"select _source_file, count(*) from {entity.table} "
            f"where _source_file in ({placeholders}) group by 1",
            files,
        ).fetchall()
    )
    con.execute("begin transaction")
    try:
        con.execute(f"delete from raw.quarantine_rows where {where}", params)
        insert_rows(con, entity, checked_select(entity, "_stage", [], dialects), now)
        move_quarantined(con, entity, files, load_id, now)
        apply_forgotten(con, entity, files)
        moved = left = 0
        for f in files:
            loaded = con.execute(
                f"select count(*) from {entity.table} where _source_file = ?", [f]
            ).fetchall()[0][0]
            quarantined = con.execute(
                "select count(*) from raw.quarantine_rows where entity = ? and source_file = ?",
                [entity.name, f],
            ).fetchall()[0][0]
            last = con.execute(
                "select checksum, size_bytes, rows_in, started_at from raw.load_audit "
                "where entity = ? and source_file = ? and status in ('loaded', 'replayed') "
                "order by finished_at desc limit 1",
                [entity.name, f],
            ).fetchall()
            checksum, size, rows_in, _ = last[0] if last else (None, None, None, None)
            if rows_in is not None and loaded + quarantined != rows_in:
                raise RuntimeError(
                    f"{f}: replay would break conservation: {rows_in} rows in, "
                    f"{loaded} loaded + {quarantined} quarantined"
                )
            moved += loaded - before.get(f, 0)
            left += quarantined
            con.execute(
                f"insert into raw.load_audit ({AUDIT_COLUMNS}) "
                "values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'replayed', ?, null, ?)",
                [
                    load_id,
                    entity.name,
                    entity.source,
                    f,
                    checksum,
                    size,
                    rows_in,
                    loaded,
                    quarantined,
                    now,
                    utc_now(),
                    f"replay moved {loaded - before.get(f, 0)} rows from quarantine into raw",
                    contract_hash(entity),
                ],
            )
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    return moved, left
