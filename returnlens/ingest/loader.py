"""Load landing files into `raw`, enforcing the landing contracts.

Every file is read with DuckDB's native readers as text, checked against its contract in one
set-based pass, and then, in one transaction per file, its earlier rows are replaced by the rows
that passed; rows that did not pass go to `raw.quarantine_rows` with the raw text and the reason;
a file that cannot be read at all is recorded whole in `raw.quarantine_files`. `raw.load_audit`
records, for every file, rows in = rows loaded + rows quarantined.

A file whose checksum equals the one already loaded is skipped, so loads are idempotent and only
new or changed files are read.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from returnlens.ingest.contracts import ENTITIES, Entity
from returnlens.warehouse import fetch_row, scalar
from returnlens.warehouse import quote_ident as qi
from returnlens.warehouse import quote_literal as ql

LOADER_COLUMNS = (
    ("_source_file", "varchar"),
    ("_file_row_number", "bigint"),
    ("_loaded_at", "timestamp"),
)

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
    error varchar
)
"""

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


class LandingFileError(Exception):
    """A landing file that cannot be loaded at all; the message says what to do."""


@dataclass
class FileResult:
    """Outcome of loading one file."""

    source_file: str
    status: str  # loaded | unchanged | failed
    rows_in: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    error: str | None = None


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


def ensure_raw_schema(
    con: duckdb.DuckDBPyConnection, entities: Iterable[Entity] = ENTITIES
) -> None:
    """Create the raw schema, the audit and quarantine tables and one table per entity."""
    con.execute("create schema if not exists raw")
    con.execute(AUDIT_DDL)
    con.execute(QUARANTINE_ROWS_DDL)
    con.execute(QUARANTINE_FILES_DDL)
    for ent in entities:
        cols = [f"{qi(c.name)} {c.type}" for c in ent.columns]
        cols += [f"{name} {typ}" for name, typ in LOADER_COLUMNS]
        con.execute(f"create table if not exists {ent.table} ({', '.join(cols)})")


def file_checksum(path: Path) -> str:
    """SHA-256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def landing_files(entity: Entity, landing_dir: Path) -> list[Path]:
    """The files of an entity in the landing zone, in name order."""
    folder = landing_dir / entity.source
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.glob(entity.pattern) if p.is_file())


def _reader_sql(entity: Entity, path: Path) -> str:
    """A select over one file that yields every contract column as text plus a row number."""
    file_lit = ql(str(path))
    if entity.format == "csv":
        scan = (
            f"read_csv({file_lit}, header = true, all_varchar = true, delim = ',', quote = '\"', "
            "escape = '\"', encoding = 'utf-8', strict_mode = true, null_padding = false)"
        )
    elif entity.format == "jsonl":
        cols = ", ".join(f"{ql(c.name)}: 'VARCHAR'" for c in entity.columns)
        scan = f"read_json({file_lit}, format = 'newline_delimited', columns = {{{cols}}})"
    elif entity.format == "parquet":
        scan = f"read_parquet({file_lit})"
    else:  # pragma: no cover - contracts only declare the three formats
        raise ValueError(f"unknown format {entity.format!r} for {entity.name}")
    return scan


def _file_columns(con: duckdb.DuckDBPyConnection, scan: str) -> list[str]:
    return [row[0] for row in con.execute(f"describe select * from {scan}").fetchall()]


def _check_reason_sql(entity: Entity) -> str:
    """SQL expression naming every contract violation of a staged (text) row, '' when none."""
    parts: list[str] = []
    for c in entity.columns:
        col = qi(c.name)
        if c.required:
            parts.append(f"case when {col} is null then 'missing required {c.name}' end")
        if c.type != "varchar":
            parts.append(
                f"case when {col} is not null and try_cast({col} as {c.type}) is null "
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
                f"case when try_cast({col} as double) < {c.min_value} "
                f"then '{c.name} below minimum {c.min_value:g}: ' || {col} end"
            )
    return f"concat_ws('; ', {', '.join(parts)})"


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _stage_file(
    con: duckdb.DuckDBPyConnection, entity: Entity, path: Path
) -> tuple[int, list[str]]:
    """Read one file into temp table `_stage` (text columns + row number). Returns rows, extras."""
    scan = _reader_sql(entity, path)
    try:
        present = _file_columns(con, scan)
    except duckdb.Error as exc:
        raise LandingFileError(
            f"{path}: cannot be read as {entity.format.upper()} ({_first_line(exc)}). "
            f"Check that it is a comma-separated, UTF-8 {entity.format} file with a header row "
            f"as described in docs/contracts/{entity.source}.md, then deliver it again."
        ) from exc
    missing = [c.name for c in entity.columns if c.required and c.name not in present]
    if missing:
        hint = ""
        if len(present) == 1 and entity.format == "csv":
            hint = " The header has a single column: is the file delimited by ';' or tabs instead of ','?"
        raise LandingFileError(
            f"{path}: missing required column(s) {', '.join(missing)}; found {', '.join(present)}."
            f"{hint} Rename or add the columns as in docs/contracts/{entity.source}.md and "
            "deliver the file again."
        )
    known = {c.name for c in entity.columns}
    extras = [c for c in present if c not in known]
    select_cols = ", ".join(
        f"cast({qi(c.name)} as varchar) as {qi(c.name)}"
        if c.name in present
        else f"cast(null as varchar) as {qi(c.name)}"
        for c in entity.columns
    )
    try:
        con.execute(
            "create or replace temp table _stage as "
            f"select row_number() over () as _file_row_number, {select_cols} from {scan}"
        )
    except duckdb.Error as exc:
        raise LandingFileError(
            f"{path}: reading failed ({_first_line(exc)}). The file is probably truncated, "
            "not UTF-8, or has rows with a different number of fields; export it again "
            f"as described in docs/contracts/{entity.source}.md."
        ) from exc
    rows = scalar(con, "select count(*) from _stage")
    if rows == 0:
        raise LandingFileError(
            f"{path}: the file has a header but no rows. An empty delivery is not loaded; "
            "deliver the file again with its rows (or remove it if it was sent by mistake)."
        )
    return rows, extras


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def load_file(
    con: duckdb.DuckDBPyConnection, entity: Entity, path: Path, load_id: str, checksum: str
) -> FileResult:
    """Load one file in one transaction: replace its earlier rows, quarantine the bad ones."""
    started = _now()
    size = path.stat().st_size
    source_file = str(path)
    try:
        if size == 0:
            raise LandingFileError(
                f"{path}: the file is empty (0 bytes). Deliver it again with a header and rows."
            )
        rows_in, extras = _stage_file(con, entity, path)
    except LandingFileError as exc:
        con.execute("begin transaction")
        con.execute(
            "insert into raw.quarantine_files values (?, ?, ?, ?, ?, ?)",
            [load_id, entity.name, source_file, checksum, str(exc), _now()],
        )
        _audit(
            con, load_id, entity, source_file, checksum, size, 0, 0, 0, started, "failed", str(exc)
        )
        con.execute("commit")
        return FileResult(source_file, "failed", error=str(exc))

    reason = _check_reason_sql(entity)
    key_cols = ", ".join(qi(k) for k in entity.key)
    # One pass: contract violations, then duplicate keys within the file and against other files.
    con.execute(
        f"""
        create or replace temp table _checked as
        with reasons as (
            select *, {reason} as _reason from _stage
        ),
        ranked as (
            select
                *,
                row_number() over (partition by {key_cols} order by _file_row_number) as _dup_rank
            from reasons
        )
        select
            ranked.* exclude (_reason, _dup_rank),
            case
                when _reason <> '' then _reason
                when _dup_rank > 1 then 'duplicate key within the file'
                when other._source_file is not null
                    then 'duplicate key: already loaded from ' || other._source_file
                else ''
            end as _reason
        from ranked
        left join (
            select distinct {key_cols}, _source_file
            from {entity.table}
            where _source_file <> {ql(source_file)}
        ) as other
            using ({key_cols})
        """
    )
    typed_cols = ", ".join(f"cast({qi(c.name)} as {c.type})" for c in entity.columns)
    raw_record = (
        "to_json(struct_pack("
        + ", ".join(f"{qi(c.name)} := {qi(c.name)}" for c in entity.columns)
        + "))"
    )
    loaded_at = _now()
    con.execute("begin transaction")
    try:
        con.execute(f"delete from {entity.table} where _source_file = ?", [source_file])
        con.execute(
            f"insert into {entity.table} select {typed_cols}, ?, _file_row_number, ? "
            "from _checked where _reason = '' order by _file_row_number",
            [source_file, loaded_at],
        )
        con.execute(
            "insert into raw.quarantine_rows "
            f"select ?, ?, ?, _file_row_number, _reason, {raw_record}, ? "
            "from _checked where _reason <> '' order by _file_row_number",
            [load_id, entity.name, source_file, loaded_at],
        )
        loaded, quarantined = fetch_row(
            con,
            "select count(*) filter (where _reason = ''), count(*) filter (where _reason <> '') "
            "from _checked",
        )
        if loaded + quarantined != rows_in:  # the conservation rule, enforced not assumed
            raise RuntimeError(
                f"{path}: {rows_in} rows read but {loaded} loaded + {quarantined} quarantined"
            )
        note = f"extra columns kept out of raw: {', '.join(extras)}" if extras else None
        _audit(
            con,
            load_id,
            entity,
            source_file,
            checksum,
            size,
            rows_in,
            loaded,
            quarantined,
            started,
            "loaded",
            note,
        )
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    return FileResult(source_file, "loaded", rows_in, loaded, quarantined)


def _audit(
    con: duckdb.DuckDBPyConnection,
    load_id: str,
    entity: Entity,
    source_file: str,
    checksum: str,
    size: int,
    rows_in: int,
    loaded: int,
    quarantined: int,
    started: datetime,
    status: str,
    error: str | None,
) -> None:
    con.execute(
        "insert into raw.load_audit values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            load_id,
            entity.name,
            entity.source,
            source_file,
            checksum,
            size,
            rows_in,
            loaded,
            quarantined,
            started,
            _now(),
            status,
            error,
        ],
    )


def _last_checksums(con: duckdb.DuckDBPyConnection, entity: Entity) -> dict[str, str]:
    rows = con.execute(
        """
        select source_file, checksum
        from raw.load_audit
        where entity = ?
        qualify row_number() over (partition by source_file order by finished_at desc) = 1
        """,
        [entity.name],
    ).fetchall()
    return dict(rows)


def load_entity(
    con: duckdb.DuckDBPyConnection, entity: Entity, landing_dir: Path, load_id: str | None = None
) -> EntityResult:
    """Load the new or changed files of one entity; unchanged files are skipped."""
    ensure_raw_schema(con, [entity])
    load_id = load_id or uuid.uuid4().hex
    result = EntityResult(entity.name, entity.table)
    previous = _last_checksums(con, entity)
    for path in landing_files(entity, landing_dir):
        checksum = file_checksum(path)
        if previous.get(str(path)) == checksum:
            result.files.append(FileResult(str(path), "unchanged"))
            continue
        result.files.append(load_file(con, entity, path, load_id, checksum))
    result.table_rows = scalar(con, f"select count(*) from {entity.table}")
    return result


def load_all(con: duckdb.DuckDBPyConnection, landing_dir: Path) -> list[EntityResult]:
    """Load every entity of every source (used by the CLI and tests; Dagster loads per asset)."""
    load_id = uuid.uuid4().hex
    return [load_entity(con, e, landing_dir, load_id) for e in ENTITIES]
