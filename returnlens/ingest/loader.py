"""Load landing files into `raw`, enforcing the landing contracts.

The new or changed files of an entity are read in batches with DuckDB's native readers as text
(Excel through pandas, registered in DuckDB), checked against the contract in one set-based pass,
and then, in one transaction per batch, each file's earlier rows are replaced by the rows that
passed; rows that did not pass go to `raw.quarantine_rows` with the raw text and the reason; a file
that cannot be read at all is recorded whole in `raw.quarantine_files`. `raw.load_audit` records,
for every file, rows in = rows loaded + rows quarantined (checked against what was written, not
assumed). Columns the contract does not know are kept as JSON in `_extra`.

A file whose checksum equals the one already loaded is skipped, so loads are idempotent and only
new or changed files are read. A failed file is retried when it changes or the contract changes;
a load that crashed (status `error`) is retried on the next run. A crash inside a batch rolls the
batch back, so raw is as before.
"""

from __future__ import annotations

import contextlib
import hashlib
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from returnlens.ingest.contracts import ENTITIES, Entity, FileSpec
from returnlens.ingest.readers import (
    LandingFileError,
    csv_scan,
    diagnose,
    file_columns,
    jsonl_scan,
    parquet_scan,
    register_xlsx,
)
from returnlens.warehouse import quote_ident as qi
from returnlens.warehouse import quote_literal as ql

__all__ = [
    "EntityResult",
    "FileResult",
    "LandingFileError",
    "ensure_raw_schema",
    "landing_files",
    "load_all",
    "load_entity",
]

LOADER_COLUMNS = (
    ("_source_file", "varchar"),
    ("_file_row_number", "bigint"),
    ("_loaded_at", "timestamp"),
    ("_extra", "varchar"),  # JSON object of columns the contract does not know, else null
)

# A batch of files is read, checked and committed together; bounded so memory stays bounded.
BATCH_BYTES = 512 * 1024 * 1024
ROW_KEY_STRIDE = 10**12  # _row_key = file order * stride + file row number (ordered, unique)

AUDIT_DDL = """
create table if not exists raw.load_audit (
    load_id varchar,
    entity varchar,
    source varchar,
    source_file varchar,
    checksum varchar,
    size_bytes bigint,
    rows_in bigint,
    rows_loaded bigint,
    rows_quarantined bigint,
    started_at timestamp,
    finished_at timestamp,
    status varchar,
    error varchar,
    extra_columns varchar,
    contract_hash varchar
)
"""
AUDIT_COLUMNS = (
    "load_id, entity, source, source_file, checksum, size_bytes, rows_in, rows_loaded, "
    "rows_quarantined, started_at, finished_at, status, error, extra_columns, contract_hash"
)

QUARANTINE_ROWS_DDL = """
create table if not exists raw.quarantine_rows (
    load_id varchar,
    entity varchar,
    source_file varchar,
    file_row_number bigint,
    reason varchar,
    raw_record varchar,
    quarantined_at timestamp
)
"""

QUARANTINE_FILES_DDL = """
create table if not exists raw.quarantine_files (
    load_id varchar,
    entity varchar,
    source_file varchar,
    checksum varchar,
    error varchar,
    quarantined_at timestamp
)
"""

FORGOTTEN_DDL = """
create table if not exists raw.forgotten_customers (
    customer_hash varchar,
    forgotten_at timestamp
)
"""


@dataclass
class FileResult:
    """Outcome of loading one file."""

    source_file: str
    status: str  # loaded | unchanged | failed | error
    rows_in: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    error: str | None = None
    extra_columns: list[str] = field(default_factory=list)


@dataclass
class EntityResult:
    """Outcome of loading all files of one entity."""

    entity: str
    table: str
    files: list[FileResult] = field(default_factory=list)
    table_rows: int = 0

    @property
    def rows_in(self) -> int:
        """Rows read from files that were (re)loaded in this run."""
        return sum(f.rows_in for f in self.files)

    @property
    def rows_loaded(self) -> int:
        """Rows loaded in this run."""
        return sum(f.rows_loaded for f in self.files)

    @property
    def rows_quarantined(self) -> int:
        """Rows quarantined in this run."""
        return sum(f.rows_quarantined for f in self.files)

    def count(self, status: str) -> int:
        """Number of files with the given status."""
        return sum(1 for f in self.files if f.status == status)


@dataclass
class _Pending:
    """A file about to be loaded, and what was learnt about it on the way."""

    path: Path
    spec: FileSpec
    checksum: str
    size: int
    order: int
    started: datetime = field(default_factory=lambda: _now())
    present: list[str] = field(default_factory=list)
    extras: list[str] = field(default_factory=list)
    scan: str | None = None  # registered view of an Excel file
    error: str | None = None
    rows_in: int = 0

    @property
    def name(self) -> str:
        return str(self.path)


def ensure_raw_schema(
    con: duckdb.DuckDBPyConnection, entities: Iterable[Entity] = ENTITIES
) -> None:
    """Create the raw schema, the audit, quarantine and erasure tables and one table per entity.

    Tables made by earlier versions gain the new columns (`_extra`, audit columns) in place.
    """
    con.execute("create schema if not exists raw")
    con.execute(AUDIT_DDL)
    con.execute("alter table raw.load_audit add column if not exists extra_columns varchar")
    con.execute("alter table raw.load_audit add column if not exists contract_hash varchar")
    con.execute(QUARANTINE_ROWS_DDL)
    con.execute(QUARANTINE_FILES_DDL)
    con.execute(FORGOTTEN_DDL)
    for ent in entities:
        cols = [f"{qi(c.name)} {c.type}" for c in ent.columns]
        cols += [f"{name} {typ}" for name, typ in LOADER_COLUMNS]
        con.execute(f"create table if not exists {ent.table} ({', '.join(cols)})")
        for name, typ in LOADER_COLUMNS:
            con.execute(f"alter table {ent.table} add column if not exists {name} {typ}")


def file_checksum(path: Path) -> str:
    """SHA-256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def contract_hash(entity: Entity) -> str:
    """Fingerprint of an entity's contract: a failed file is retried when it changes."""
    return hashlib.sha256(repr(entity).encode()).hexdigest()[:16]


def landing_files_with_specs(entity: Entity, landing_dir: Path) -> list[tuple[Path, FileSpec]]:
    """The files of an entity in the landing zone with the delivery each matches, in name order."""
    folder = landing_dir / entity.source
    if not folder.is_dir():
        return []
    found: dict[Path, FileSpec] = {}
    for spec in entity.file_specs:
        for p in folder.glob(spec.pattern):
            if p.is_file():
                found.setdefault(p, spec)
    return sorted(found.items())


def landing_files(entity: Entity, landing_dir: Path) -> list[Path]:
    """The files of an entity in the landing zone, in name order."""
    return [p for p, _ in landing_files_with_specs(entity, landing_dir)]


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _describe_format(entity: Entity, spec: FileSpec) -> str:
    if spec.format == "csv":
        return f"a comma-separated {spec.encoding.upper()} CSV file with a header row"
    if spec.format == "jsonl":
        return f"{spec.encoding.upper()} JSON lines (one complete object per line)"
    if spec.format == "xlsx":
        return "an Excel workbook with a header row on the first sheet"
    return "a Parquet file"


def _read_error(entity: Entity, p: _Pending, exc: BaseException) -> str:
    why = diagnose(p.path, p.spec) or _first_line(exc)
    return (
        f"{p.path}: cannot be read as {p.spec.format.upper()}: {why}. Export it again as "
        f"{_describe_format(entity, p.spec)} as described in docs/contracts/{entity.source}.md "
        "and deliver it again (under the same name: it replaces the failed delivery)."
    )


# ------------------------------------------------------------------------------ preparing
def _prepare(con: duckdb.DuckDBPyConnection, entity: Entity, p: _Pending) -> None:
    """Learn a file's columns; sets `p.error` (a LandingFileError message) if it is unusable."""
    try:
        if p.size == 0:
            raise LandingFileError(
                f"{p.path}: the file is empty (0 bytes). Deliver it again with a header and rows."
            )
        if p.spec.format == "xlsx":
            p.scan = f"_xlsx_{p.order}"
            p.present = register_xlsx(con, p.path, p.scan)
        else:
            try:
                p.present = file_columns(con, p.path, p.spec)
            except duckdb.Error as exc:
                raise LandingFileError(_read_error(entity, p, exc)) from exc
        missing = [c.name for c in entity.columns if c.required and c.name not in p.present]
        if missing:
            hint = ""
            if len(p.present) == 1 and p.spec.format == "csv":
                hint = (
                    " The header has a single column: is the file delimited by ';' or tabs "
                    "instead of ','?"
                )
            raise LandingFileError(
                f"{p.path}: missing required column(s) {', '.join(missing)}; found "
                f"{', '.join(p.present)}.{hint} Rename or add the columns as in "
                f"docs/contracts/{entity.source}.md and deliver the file again."
            )
        known = {c.name for c in entity.columns}
        p.extras = [c for c in p.present if c not in known]
    except LandingFileError as exc:
        p.error = str(exc)


def _group_select(entity: Entity, group: list[_Pending]) -> str:
    """A select over files with the same layout: contract columns as text, `_extra`, position."""
    first = group[0]
    cols = ", ".join(
        f"cast({qi(c.name)} as varchar) as {qi(c.name)}"
        if c.name in first.present
        else f"cast(null as varchar) as {qi(c.name)}"
        for c in entity.columns
    )
    extra = (
        "cast(to_json(struct_pack("
        + ", ".join(f"{qi(x)} := cast({qi(x)} as varchar)" for x in first.extras)
        + ")) as varchar)"
        if first.extras
        else "cast(null as varchar)"
    )
    # row_number() over () follows the scan's order (insertion order is preserved); one scan per
    # file (a streaming row number each), glued with union all, avoids a window over the batch
    return "\nunion all\n".join(
        f"select {cols}, {extra} as _extra, _source_file, {p.order} as _file_order, "
        f"row_number() over () as _file_row_number from {_scan(entity, [p])}"
        for p in group
    )


def _scan(entity: Entity, group: list[_Pending]) -> str:
    first = group[0]
    paths = [p.path for p in group]
    if first.spec.format == "csv":
        return csv_scan(paths, first.spec)
    if first.spec.format == "jsonl":
        return jsonl_scan(paths, entity, first.present)
    if first.spec.format == "parquet":
        return parquet_scan(paths)
    return first.scan or ""


def _stage(con: duckdb.DuckDBPyConnection, entity: Entity, batch: list[_Pending]) -> None:
    """Read the readable files of a batch into temp table `_stage`, one layout, then one file,
    at a time, so a file that cannot be read is found and failed alone (sets its `error`)."""
    cols = ", ".join(f"{qi(c.name)} varchar" for c in entity.columns)
    con.execute(
        f"create or replace temp table _stage ({cols}, _extra varchar, "
        "_source_file varchar, _file_order bigint, _file_row_number bigint)"
    )
    for group in _groups(batch):
        try:
            con.execute(f"insert into _stage {_group_select(entity, group)}")
        except duckdb.Error as exc:
            if len(group) == 1:
                group[0].error = _read_error(entity, group[0], exc)
                continue
            for p in group:
                try:
                    con.execute(f"insert into _stage {_group_select(entity, [p])}")
                except duckdb.Error as exc1:
                    p.error = _read_error(entity, p, exc1)


def _groups(batch: list[_Pending]) -> list[list[_Pending]]:
    """Readable files grouped by layout (delivery and columns); Excel files one by one."""
    groups: dict[tuple, list[_Pending]] = {}
    for p in batch:
        if p.error is None:
            key = (p.spec, tuple(p.present)) if p.spec.format != "xlsx" else (p.order,)
            groups.setdefault(key, []).append(p)
    return list(groups.values())


# ------------------------------------------------------------------------------ checking
def check_reason_sql(entity: Entity, typed: str = "__t_") -> str:
    """SQL expression naming every contract violation of a staged row, '' when none.

    Non-text columns are expected beside their text as `<typed><name>` (try_cast results).
    """
    parts: list[str] = []
    for c in entity.columns:
        col = qi(c.name)
        val = qi(typed + c.name) if c.type != "varchar" else col
        if c.required:
            parts.append(f"case when {col} is null then 'missing required {c.name}' end")
        if c.type != "varchar":
            parts.append(
                f"case when {col} is not null and {val} is null "
                f"then 'bad {c.type} in {c.name}: ' || {col} end"
            )
        if c.allowed is not None:
            allowed = ", ".join(ql(v) for v in c.allowed)
            parts.append(
                f"case when {col} is not null and {col} not in ({allowed}) "
                f"then 'unknown value in {c.name}: ' || {col} end"
            )
        if c.min_value is not None:
            parts.append(
                f"case when {val} < {c.min_value} "
                f"then '{c.name} below minimum {c.min_value:g}: ' || {col} end"
            )
    return f"concat_ws('; ', {', '.join(parts)})"


def typed_select(entity: Entity, prefix: str = "__t_") -> str:
    """try_cast of every non-text column of `_stage`-like text rows, named `<prefix><name>`."""
    return ", ".join(
        f"try_cast({qi(c.name)} as {c.type}) as {qi(prefix + c.name)}"
        for c in entity.columns
        if c.type != "varchar"
    )


def checked_select(entity: Entity, source: str, replaced: list[str]) -> str:
    """A select over `source` (text rows) judging every row: contract, then duplicate keys.

    It yields the typed values under the contract's column names, `_reason` ('' = the row
    passes) and, for failing rows only, `_raw_record` (the text as JSON). The first row of a key
    (by file order and row number) wins, later ones are quarantined as duplicates (a contract
    violation is reported first); a key already in raw from a file that is not being replaced
    is a duplicate too.
    """
    keys = ", ".join(qi(k) for k in entity.key)
    typed = typed_select(entity)
    replaced_list = ", ".join(ql(f) for f in replaced) or "''"
    values = ", ".join(
        f"{qi(c.name)}" if c.type == "varchar" else f"{qi('__t_' + c.name)} as {qi(c.name)}"
        for c in entity.columns
    )
    record = _raw_record_sql(entity)
    not_null = " and ".join(f"{qi(k)} is not null" for k in entity.key)
    return f"""
        with src as not materialized (
            select *, _file_order * {ROW_KEY_STRIDE} + _file_row_number as _row_key
            from {source}
        ),
        keyed as not materialized (
            select {keys}, hash({keys}) as _h, _row_key, _source_file from src where {not_null}
        ),
        candidates as (
            -- grouping 64-bit hashes is much cheaper than grouping the (text) keys; the few
            -- candidate hashes are then grouped by the real key (collisions drop out there)
            select _h from keyed group by _h having count(*) > 1
        ),
        firsts as (
            select {keys}, min(_row_key) as _first_row_key,
                arg_min(_source_file, _row_key) as _first_file
            from keyed
            semi join candidates using (_h)
            group by {keys}
            having count(*) > 1
        ),
        existing as (
            select {keys}, min(o._source_file) as _other_file
            from keyed
            join {entity.table} as o using ({keys})
            where o._source_file not in ({replaced_list})
            group by {keys}
        ),
        reasons as (
            select
                src.*, {typed + ", " if typed else ""}
                firsts._first_row_key, firsts._first_file, existing._other_file
            from src
            left join firsts using ({keys})
            left join existing using ({keys})
        ),
        judged as (
            select
                *,
                case
                    when {check_reason_sql(entity)} <> '' then {check_reason_sql(entity)}
                    when _first_row_key is not null and _row_key <> _first_row_key
                        then case
                            when _first_file = _source_file then 'duplicate key within the file'
                            else 'duplicate key: also in ' || _first_file
                        end
                    when _other_file is not null
                        then 'duplicate key: already loaded from ' || _other_file
                    else ''
                end as _reason
            from reasons
        )
        select
            {values}, _extra, _source_file, _file_order, _file_row_number, _reason,
            case
                when _reason = '' then null
                when _extra is null then {record}
                else {_raw_record_sql(entity, with_extra=True)}
            end as _raw_record
        from judged
        """


def _raw_record_sql(entity: Entity, *, with_extra: bool = False) -> str:
    """The text of a row as a JSON object (unknown columns nested under `_extra`)."""
    fields = [f"{qi(c.name)} := {qi(c.name)}" for c in entity.columns]
    if with_extra:
        fields.append("_extra := json(_extra)")
    return f"cast(to_json(struct_pack({', '.join(fields)})) as varchar)"


def _insert_rows(
    con: duckdb.DuckDBPyConnection, entity: Entity, select: str, loaded_at: datetime
) -> None:
    """Write every judged row into raw in one pass (the fast path: one scan, one write).

    Failing rows are written too, marked by a null `_loaded_at` with the reason and raw text in
    `_extra`; `_move_quarantined` moves them to quarantine before the transaction commits, so no
    reader ever sees them.
    """
    names = ", ".join(qi(c.name) for c in entity.columns)
    con.execute(
        f"insert into {entity.table} ({names}, _source_file, _file_row_number, _loaded_at, "
        f"_extra) select {names}, _source_file, _file_row_number, "
        "case when _reason = '' then cast(? as timestamp) end, "
        "case when _reason = '' then _extra "
        "else cast(json_object('reason', _reason, 'record', json(_raw_record)) as varchar) end "
        f"from ({select})",
        [loaded_at],
    )


def _move_quarantined(
    con: duckdb.DuckDBPyConnection,
    entity: Entity,
    files: list[str],
    load_id: str,
    loaded_at: datetime,
) -> None:
    """Move the marked failing rows of these files from raw to `raw.quarantine_rows`."""
    placeholders = ", ".join("?" for _ in files)
    marked = f"_source_file in ({placeholders}) and _loaded_at is null"
    con.execute(
        "insert into raw.quarantine_rows "
        "select ?, ?, _source_file, _file_row_number, _extra ->> 'reason', "
        f"_extra ->> 'record', ? from {entity.table} where {marked} "
        "order by _source_file, _file_row_number",
        [load_id, entity.name, loaded_at, *files],
    )
    con.execute(f"delete from {entity.table} where {marked}", files)


def _delete_previous(con: duckdb.DuckDBPyConnection, entity: Entity, files: list[str]) -> None:
    """Remove what earlier deliveries of these files left in raw and in quarantine."""
    placeholders = ", ".join("?" for _ in files)
    con.execute(f"delete from {entity.table} where _source_file in ({placeholders})", files)
    con.execute(
        f"delete from raw.quarantine_rows where entity = ? and source_file in ({placeholders})",
        [entity.name, *files],
    )


def _audit(
    con: duckdb.DuckDBPyConnection,
    load_id: str,
    entity: Entity,
    p: _Pending,
    loaded: int,
    quarantined: int,
    status: str,
    error: str | None,
    chash: str,
) -> None:
    con.execute(
        f"insert into raw.load_audit ({AUDIT_COLUMNS}) "
        "values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            load_id,
            entity.name,
            entity.source,
            p.name,
            p.checksum,
            p.size,
            p.rows_in,
            loaded,
            quarantined,
            p.started,
            _now(),
            status,
            error,
            ", ".join(p.extras) or None,
            chash,
        ],
    )


def _load_batch(
    con: duckdb.DuckDBPyConnection,
    entity: Entity,
    batch: list[_Pending],
    load_id: str,
    chash: str,
) -> list[FileResult]:
    """Read, check and commit one batch of files; a crash rolls the whole batch back."""
    try:
        for p in batch:
            _prepare(con, entity, p)
        # Fast path: files of one layout are read, checked and written in a single pass. If that
        # read fails, or layouts differ, or a file turns out to have no rows, the batch is
        # staged first (which isolates the file that cannot be read) and written from there.
        groups = _groups(batch)
        source = f"({_group_select(entity, groups[0])})" if len(groups) == 1 else None
        while True:
            if source is None:
                _stage(con, entity, batch)
                source = "_stage"
            good = [p for p in batch if p.error is None]
            counts = _write_batch(con, entity, batch, good, source, load_id, chash)
            if counts is not None:
                break
            source = None if source != "_stage" else "_stage"
    except Exception as exc:
        _record_crash(con, entity, batch, load_id, chash, exc)
        raise
    finally:
        for p in batch:
            if p.scan is not None:
                con.unregister(p.scan)
    results = []
    for p in batch:
        if p.error is not None:
            results.append(FileResult(p.name, "failed", p.rows_in, error=p.error))
        else:
            loaded, quarantined = counts[p.name]
            results.append(
                FileResult(p.name, "loaded", p.rows_in, loaded, quarantined, None, p.extras)
            )
    return results


def _write_batch(
    con: duckdb.DuckDBPyConnection,
    entity: Entity,
    batch: list[_Pending],
    good: list[_Pending],
    source: str,
    load_id: str,
    chash: str,
) -> dict[str, tuple[int, int]] | None:
    """One transaction: replace the good files' rows, quarantine, audit every file of the batch.

    Returns (loaded, quarantined) per good file, or None (rolled back) when the fast path's read
    failed or a file had no rows; the caller then retries from the staged rows.
    """
    from returnlens.ingest.privacy import apply_forgotten  # privacy imports this module

    files = [p.name for p in good]
    loaded_at = _now()
    con.execute("begin transaction")
    try:
        counts: dict[str, tuple[int, int]] = {}
        if good:
            _delete_previous(con, entity, files)
            try:
                _insert_rows(con, entity, checked_select(entity, source, files), loaded_at)
            except duckdb.Error:
                if source == "_stage":
                    raise
                con.execute("rollback")
                return None
            read = _file_counts(con, entity, files)
            empty = [p for p in good if read.get(p.name, 0) == 0]
            if empty:
                con.execute("rollback")
                for p in empty:
                    p.error = (
                        f"{p.path}: the file has a header but no rows. An empty delivery is not "
                        "loaded; deliver the file again with its rows (or remove it if it was "
                        "sent by mistake)."
                    )
                return None
            for p in good:
                p.rows_in = read[p.name]
            _move_quarantined(con, entity, files, load_id, loaded_at)
            apply_forgotten(con, entity, files)
            counts = _written_counts(con, entity, files, load_id)
        for p in batch:
            if p.error is not None:
                con.execute(
                    "insert into raw.quarantine_files values (?, ?, ?, ?, ?, ?)",
                    [load_id, entity.name, p.name, p.checksum, p.error, _now()],
                )
                _audit(con, load_id, entity, p, 0, 0, "failed", p.error, chash)
        for p in good:
            loaded, quarantined = counts[p.name]
            if loaded + quarantined != p.rows_in:  # conservation, checked on what was written
                raise RuntimeError(
                    f"{p.path}: {p.rows_in} rows read but {loaded} loaded + "
                    f"{quarantined} quarantined"
                )
            note = f"extra columns kept in _extra: {', '.join(p.extras)}" if p.extras else None
            _audit(con, load_id, entity, p, loaded, quarantined, "loaded", note, chash)
        con.execute("commit")
    except BaseException:
        with contextlib.suppress(duckdb.Error):
            con.execute("rollback")
        raise
    return counts


def _file_counts(con: duckdb.DuckDBPyConnection, entity: Entity, files: list[str]) -> dict:
    placeholders = ", ".join("?" for _ in files)
    return dict(
        con.execute(
            f"select _source_file, count(*) from {entity.table} "
            f"where _source_file in ({placeholders}) group by 1",
            files,
        ).fetchall()
    )


def _written_counts(
    con: duckdb.DuckDBPyConnection, entity: Entity, files: list[str], load_id: str
) -> dict[str, tuple[int, int]]:
    """Rows per file now in raw and in quarantine (counted in the tables, not in `_checked`)."""
    placeholders = ", ".join("?" for _ in files)
    rows = con.execute(
        f"""
        with f as (select unnest([{placeholders}]) as source_file),
        r as (
            select _source_file as source_file, count(*) as n from {entity.table}
            where _source_file in ({placeholders}) group by 1
        ),
        q as (
            select source_file, count(*) as n from raw.quarantine_rows
            where entity = ? and load_id = ? and source_file in ({placeholders}) group by 1
        )
        select f.source_file, coalesce(r.n, 0), coalesce(q.n, 0)
        from f left join r using (source_file) left join q using (source_file)
        """,
        [*files, *files, entity.name, load_id, *files],
    ).fetchall()
    return {f: (loaded, quarantined) for f, loaded, quarantined in rows}


def _record_crash(
    con: duckdb.DuckDBPyConnection,
    entity: Entity,
    batch: list[_Pending],
    load_id: str,
    chash: str,
    exc: BaseException,
) -> None:
    """Audit a batch that crashed (status `error`: retried on the next run); raw is unchanged."""
    message = f"load crashed and was rolled back: {type(exc).__name__}: {_first_line(exc)}"
    try:
        con.execute("begin transaction")
        for p in batch:
            _audit(con, load_id, entity, p, 0, 0, "error", message, chash)
        con.execute("commit")
    except duckdb.Error:  # the connection itself is broken: the raised error says enough
        with contextlib.suppress(duckdb.Error):
            con.execute("rollback")


def _last_loads(con: duckdb.DuckDBPyConnection, entity: Entity) -> dict[str, tuple[str, str, str]]:
    rows = con.execute(
        """
        select source_file, checksum, status, contract_hash
        from raw.load_audit
        where entity = ?
        qualify row_number() over (partition by source_file order by finished_at desc) = 1
        """,
        [entity.name],
    ).fetchall()
    return {f: (c, s, h) for f, c, s, h in rows}


def _batches(pending: list[_Pending], limit: int) -> Iterator[list[_Pending]]:
    batch: list[_Pending] = []
    size = 0
    for p in pending:
        if batch and size + p.size > limit:
            yield batch
            batch, size = [], 0
        batch.append(p)
        size += p.size
    if batch:
        yield batch


def load_entity(
    con: duckdb.DuckDBPyConnection,
    entity: Entity,
    landing_dir: Path,
    load_id: str | None = None,
    *,
    batch_bytes: int = BATCH_BYTES,
) -> EntityResult:
    """Load the new or changed files of one entity; unchanged files are skipped."""
    ensure_raw_schema(con, [entity])
    load_id = load_id or uuid.uuid4().hex
    chash = contract_hash(entity)
    result = EntityResult(entity.name, entity.table)
    previous = _last_loads(con, entity)
    pending: list[_Pending] = []
    for order, (path, spec) in enumerate(landing_files_with_specs(entity, landing_dir)):
        checksum = file_checksum(path)
        last = previous.get(str(path))
        if last is not None and last[0] == checksum:
            _, status, last_hash = last
            if status in ("loaded", "replayed") or (status == "failed" and last_hash == chash):
                result.files.append(FileResult(str(path), "unchanged"))
                continue
        pending.append(_Pending(path, spec, checksum, path.stat().st_size, order))
    for batch in _batches(pending, batch_bytes):
        result.files.extend(_load_batch(con, entity, batch, load_id, chash))
    result.files.sort(key=lambda f: f.source_file)
    result.table_rows = con.execute(f"select count(*) from {entity.table}").fetchall()[0][0]
    return result


def load_all(con: duckdb.DuckDBPyConnection, landing_dir: Path) -> list[EntityResult]:
    """Load every entity of every source (used by the CLI and tests; Dagster loads per asset)."""
    load_id = uuid.uuid4().hex
    return [load_entity(con, e, landing_dir, load_id) for e in ENTITIES]
