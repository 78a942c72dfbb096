"""Erase forgotten customers' data in raw rows: the part of the right to be forgotten that the
loader applies to every file it loads.

`returnlens.ingest.privacy` records an erasure request (`forget_customer`) and erases the one
customer now; the loader (`returnlens.ingest.loader`, `returnlens.ingest.quarantine`) calls
`apply_forgotten` on every file it loads or replays and `erase_forgotten_free_text` once all
sources are loaded, so a re-delivered file does not bring erased data back. This module sits
below both and imports neither: the PII columns and free text that are erased, the salted hash
that selects a forgotten customer's rows, and the rewrite that makes erased values unreadable in
the database file.

The customer id is never part of the SQL: rows are selected by the salted hash of their id
against `raw.forgotten_customers` (or a one-row table of the hash being forgotten now).
"""

from __future__ import annotations

import json

import duckdb

from returnlens.config import pii_salt
from returnlens.ingest.contracts import ENTITIES, Entity, entity
from returnlens.warehouse import quote_ident as qi
from returnlens.warehouse import quote_literal as ql

ID_COLUMN = "customer_id"
# free text customers write, per entity: erased with the customer (it may name them)
FREE_TEXT = {"returns": "reason_text", "nps_responses": "comment"}
# the hashes to erase on load: every forgotten customer
ALL_FORGOTTEN = "(select customer_hash from raw.forgotten_customers)"


def pii_entities() -> list[Entity]:
    """Entities whose rows hold personal data keyed by a customer id."""
    return [e for e in ENTITIES if e.pii_columns and any(c.name == ID_COLUMN for c in e.columns)]


def has_customer_id(e: Entity) -> bool:
    return any(c.name == ID_COLUMN for c in e.columns)


def _hash_sql(expr: str) -> str:
    # the salt is the first bound parameter of every statement using this
    return f"sha256(cast(? as varchar) || {expr})"


def written_by(e: Entity, hashes: str, key: str) -> str:
    """A condition on `key` (a customer id, or for returns an order id) selecting what the
    customers in `hashes` wrote; the salt is its one bound parameter."""
    if has_customer_id(e):
        return f"{_hash_sql(key)} in {hashes}"
    # returns carry the order, not the customer: look the customer up through raw.orders
    return f"{key} in (select order_id from raw.orders where {_hash_sql(ID_COLUMN)} in {hashes})"


def _any_not_null(columns: list[str]) -> str:
    return "(" + " or ".join(f"{qi(c)} is not null" for c in columns) + ")"


def _patch(columns: list[str]) -> str:
    """JSON merge patch that removes these keys of a quarantined record."""
    return json.dumps(dict.fromkeys(columns))


def _record_has(columns: list[str]) -> str:
    return (
        "("
        + " or ".join(
            f"json_extract_string(raw_record, {ql('$.' + c)}) is not null" for c in columns
        )
        + " or json_extract(raw_record, '$._extra') is not null)"
    )


def erase_entity(
    con: duckdb.DuckDBPyConnection,
    e: Entity,
    salt: str,
    files: list[str] | None,
    hashes: str = ALL_FORGOTTEN,
) -> tuple[int, int]:
    """Erase what the customers in `hashes` left in `e` (rows of `files`, all when None).

    Returns (raw rows changed, quarantined records changed); rows already erased count 0.
    """
    if e.name in {p.name for p in pii_entities()}:  # by name: the profile shapes copies
        columns = [*e.pii_columns, "_extra"]
    elif e.name in FREE_TEXT:
        columns = [FREE_TEXT[e.name]]
    else:
        return 0, 0
    key = ID_COLUMN if has_customer_id(e) else "order_id"
    rows_where = written_by(e, hashes, qi(key))
    q_where = written_by(e, hashes, f"json_extract_string(raw_record, {ql(key)})")
    file_params: list = list(files or [])
    in_files = f" and _source_file in ({', '.join('?' for _ in file_params)})" if files else ""
    q_files = in_files.replace("_source_file", "source_file")
    sets = ", ".join(f"{qi(c)} = null" for c in columns)
    changed = con.execute(
        f"update {e.table} set {sets} where {rows_where} and {_any_not_null(columns)}{in_files}",
        [salt, *file_params],
    ).fetchall()[0][0]
    keys = [c for c in columns if c != "_extra"]
    q_changed = con.execute(
        "update raw.quarantine_rows set raw_record = json_merge_patch(raw_record, ?) "
        f"where entity = ? and {q_where} and {_record_has(keys)}{q_files}",
        [_patch(columns), e.name, salt, *file_params],
    ).fetchall()[0][0]
    return changed, q_changed


def apply_forgotten(
    con: duckdb.DuckDBPyConnection, entity: Entity, files: list[str] | None = None
) -> int:
    """Erase the data of forgotten customers in the rows of `files` (all files when None).

    Called by the loader inside its transaction; returns the number of raw rows erased.
    Without any erasure request it does nothing (and needs no salt).
    """
    if entity.name not in {e.name for e in pii_entities()} and entity.name not in FREE_TEXT:
        return 0
    if not con.execute("select count(*) from raw.forgotten_customers").fetchall()[0][0]:
        return 0
    return erase_entity(con, entity, pii_salt(), files)[0]


def erase_forgotten_free_text(con: duckdb.DuckDBPyConnection) -> int:
    """After every source is loaded: erase forgotten customers' free text in all rows.

    A return's reason text is tied to its customer through raw.orders; when the returns of a
    delivery load before its orders (the sources load in any order), the loader cannot see
    the link yet, and the unchanged file would never be looked at again. One pass over all
    rows once everything is loaded closes that gap; rows already erased count 0, and without
    any erasure request it does nothing. Returns the raw rows changed.
    """
    if not con.execute("select count(*) from raw.forgotten_customers").fetchall()[0][0]:
        return 0
    salt = pii_salt()
    erased = 0
    con.execute("begin transaction")
    try:
        for name in FREE_TEXT:
            erased += erase_entity(con, entity(name), salt, None)[0]
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    if erased:  # the old values must not stay readable in freed blocks of the file
        overwrite_erased(con, [entity(name).table for name in FREE_TEXT])
    return erased


# ------------------------------------------------------------------------------ file bytes
def overwrite_erased(con: duckdb.DuckDBPyConnection, tables: list[str]) -> list[str]:
    """Make erased values unreadable in the database file, with the connection left open.

    DuckDB writes changed rows to new blocks and only marks the old ones free: the erased
    values stay in the file until a block is reused. So each table that held them is
    rewritten (its old blocks are freed), a checkpoint writes everything out, and then every
    free block is overwritten with random data: a filler table as large as the free space is
    written and checkpointed, then dropped (measured: the values are then gone from the
    file's bytes, and the write-ahead log is empty after the checkpoint). In-memory
    databases have no file and are left alone. Returns the tables rewritten.
    """
    (path,) = con.execute(
        "select path from duckdb_databases() where database_name = current_database()"
    ).fetchall()[0]
    if not path or path == ":memory:":
        return []
    for table in tables:
        con.execute(f"create or replace table {table} as select * from {table}")
    con.execute("checkpoint")
    block_size, free_blocks = con.execute(
        "select block_size, free_blocks from pragma_database_size() "
        "where database_name = current_database()"
    ).fetchall()[0]
    if free_blocks:
        # random 64-bit integers do not compress: 8 bytes each, one spare block
        rows = (free_blocks + 1) * block_size // 8
        con.execute(
            "create or replace table raw._overwrite_free_blocks as "
            f"select cast(random() * 9.2e18 as bigint) as filler from range({rows})"
        )
        con.execute("checkpoint")
        con.execute("drop table raw._overwrite_free_blocks")
        con.execute("checkpoint")
    return tables
