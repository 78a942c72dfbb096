"""The tables of the `raw` schema the loader writes besides the entities' own.

`raw.load_audit` (one row per file and load: rows in = rows loaded + rows quarantined, status,
error, the contract and dialect it was loaded under), `raw.quarantine_rows` (rows that broke the
contract, with the reason and the raw text), `raw.quarantine_files` (files that failed whole),
`raw.forgotten_customers` (erasure requests) and `raw.retracted_rows` (rows a re-delivery
changed or removed); each entity's table carries the loader's columns
(`LOADER_COLUMNS`). `ensure_raw_schema` creates them and migrates tables made by earlier
versions in place.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

import duckdb

from returnlens.ingest.contracts import ENTITIES, Entity
from returnlens.warehouse import quote_ident as qi

# statuses of audit rows of files that are not an entity's delivery (entity is null)
UNLOADED_STATUSES = ("unrecognised", "ignored", "refused")

LOADER_COLUMNS = (
    ("_source_file", "varchar"),
    ("_file_row_number", "bigint"),
    ("_loaded_at", "timestamp"),
    ("_extra", "varchar"),  # JSON object of columns the contract does not know, else null
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
    error varchar,
    extra_columns varchar,
    contract_hash varchar,
    dialect varchar
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

# What the loader knew of each landing file when it last hashed it: a file whose size, mtime and
# ctime are unchanged since is not read again (its checksum is taken from here).
FINGERPRINTS_DDL = """
create table if not exists raw.landing_fingerprints (
    source_file varchar,
    size_bytes bigint,
    mtime_ns bigint,
    ctime_ns bigint,
    checksum varchar,
    hashed_ns bigint,  -- wall clock (ns since the epoch) just before the file was read
    hashed_at timestamp
)
"""

FORGOTTEN_DDL = """
create table if not exists raw.forgotten_customers (
    customer_hash varchar,
    forgotten_at timestamp
)
"""


# Rows a re-delivered file no longer holds as they were (changed, removed, or now quarantined),
# one per row, with what the row was about (returnlens/ingest/carry_over.py); no personal data.
# forget-customer adds one per e-mail it erases (cause forgotten, returnlens/ingest/privacy.py).
RETRACTED_DDL = """
create table if not exists raw.retracted_rows (
    entity varchar,
    load_id varchar,
    retracted_at timestamp,  -- the stamp the re-delivery's rows are loaded with
    source_file varchar,
    cause varchar,  -- changed (its key is delivered again) or removed
    order_id varchar,
    rma_id varchar,
    response_id varchar,
    sku varchar,
    batch_id varchar,
    customer_hash varchar,
    currency varchar,
    event_date date,
    -- a customer's old e-mail as the customer_id of orders keyed by it (email- + 20 hex)
    email_customer_id varchar
)
"""


def utc_now() -> datetime:
    """The time the loader stamps on raw rows: UTC, without a time zone."""
    return datetime.now(UTC).replace(tzinfo=None)


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
    con.execute("alter table raw.load_audit add column if not exists dialect varchar")
    con.execute(QUARANTINE_ROWS_DDL)
    con.execute(QUARANTINE_FILES_DDL)
    con.execute(FORGOTTEN_DDL)
    con.execute(FINGERPRINTS_DDL)
    con.execute(RETRACTED_DDL)
    con.execute("alter table raw.retracted_rows add column if not exists email_customer_id varchar")
    for ent in entities:
        cols = [f"{qi(c.name)} {c.type}" for c in ent.columns]
        cols += [f"{name} {typ}" for name, typ in LOADER_COLUMNS]
        con.execute(f"create table if not exists {ent.table} ({', '.join(cols)})")
        for c in ent.columns:  # a column the contract gained since the table was made
            con.execute(f"alter table {ent.table} add column if not exists {qi(c.name)} {c.type}")
        for name, typ in LOADER_COLUMNS:
            con.execute(f"alter table {ent.table} add column if not exists {name} {typ}")
    migrate_absolute_paths(con)


# an audited entity file named by more than `<source>/<file>`: written by a version that
# identified files by their absolute path
_ABSOLUTE = "entity is not null and source_file like '%/%/%'"
_RELATIVE = "regexp_extract({col}, '([^/]+/[^/]+)$', 1)"


def migrate_absolute_paths(con: duckdb.DuckDBPyConnection) -> int:
    """Rewrite file names written as absolute paths to paths relative to the landing root.

    Earlier versions identified a file by its absolute path. Every file they loaded was an
    entity's delivery, directly in `landing/<source>/`, so its relative path is exactly the last
    two components of the absolute one. All tables are rewritten in one transaction, the first
    time a warehouse is opened by this version (the check is one query on the audit). Returns
    the number of audit rows rewritten.
    """
    (n,) = con.execute(f"select count(*) from raw.load_audit where {_ABSOLUTE}").fetchall()[0]
    if not n:
        return 0
    tables = [
        r[0]
        for r in con.execute(
            "select table_name from information_schema.columns where table_schema = 'raw' "
            "and column_name = '_source_file' order by 1"
        ).fetchall()
    ]
    con.execute("begin transaction")
    try:
        con.execute(
            f"update raw.load_audit set source_file = {_RELATIVE.format(col='source_file')} "
            f"where {_ABSOLUTE}"
        )
        for table in ("quarantine_rows", "quarantine_files"):
            con.execute(
                f"update raw.{table} set source_file = {_RELATIVE.format(col='source_file')} "
                "where source_file like '%/%/%'"
            )
        for table in tables:
            con.execute(
                f"update raw.{qi(table)} set _source_file = "
                f"{_RELATIVE.format(col='_source_file')} where _source_file like '%/%/%'"
            )
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    return n
