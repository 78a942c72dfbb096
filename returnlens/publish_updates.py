"""Bring a mart of the serving copy up to the build warehouse's, writing only what differs.

A publish into an existing serving file starts from a copy of it (`returnlens/publish.py`) and
then, mart by mart, makes the copy's table hold exactly the build's rows:

- **unchanged**: same columns (names and types, in order), same row count and the same sum of
  the rows' 64-bit hashes: nothing is written, and the Parquet file of the previous publish is
  kept (a hard link). A daily run leaves most small marts as they were. Serving's side of that
  fingerprint is the one the previous publish recorded (`marts.publish_log.fingerprints`: it
  was the build's then, and serving is only ever written by a publish), when serving still has
  that many rows; hashed again when it recorded none (a file of an earlier version, a mart
  written into a fresh file). Hashing serving's 10M-row marts again cost ~10 s of a day's
  publish at 10M order lines.
- **updated**: a large mart with few changed rows: the rows are grouped by their hash on both
  sides, and the hashes whose counts differ are deleted from the copy and inserted again from
  the build (a multiset difference, so identical duplicate rows count too). Copying a 10M-row
  mart cost 14-18 s of CPU at 10M order lines, its difference a few seconds.
- **replaced**: `create or replace ... as select * from build`: a new mart, other columns, a
  small mart (its copy is cheaper than its difference), or more than `MAX_CHANGED_SHARE` of
  its rows changed (a difference would cost more than the copy, and a table rewritten whole
  leaves no deleted rows behind).

After an update the copy's fingerprint (row count, hash sum) is compared with the build's again;
a mismatch replaces the mart, so a mart is never published with other rows than the build's.
What the hashes cannot see: two values DuckDB hashes alike (0.0 and -0.0, NaN payloads), and
two different rows whose 64-bit hashes collide (about 2^-64 per pair of changed rows).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from returnlens.warehouse import quote_ident

# a mart with fewer rows is copied whole when it changed (its copy costs less than a difference)
DIFF_MIN_ROWS = 100_000
# a mart with a larger share of changed rows (deleted plus inserted, of its rows) is copied whole
MAX_CHANGED_SHARE = 0.2


@dataclass(frozen=True)
class MartUpdate:
    """How a publish brought one mart of the serving copy up to the build."""

    how: str  # "unchanged", "updated" or "replaced"
    rows: int
    deleted: int = 0
    inserted: int = 0
    fingerprint: tuple[int, int] | None = None  # of the mart as published (rows, hash sum)

    def describe(self) -> str:
        if self.how == "updated":
            return f"updated ({self.deleted:,} rows out, {self.inserted:,} in, of {self.rows:,})"
        return f"{self.how} ({self.rows:,} rows)"


def _layout(con, database: str, schema: str, table: str) -> list[tuple[str, str]]:
    return con.execute(
        "select column_name, data_type from duckdb_columns() "
        "where database_name = ? and schema_name = ? and table_name = ? order by column_index",
        [database, schema, table],
    ).fetchall()


def _fingerprint(con, relation: str) -> tuple[int, int]:
    """Row count and the sum of the rows' hashes (order-independent)."""
    rows, total = con.execute(
        f"select count(*), coalesce(sum(hash(t)), 0) from {relation} as t"
    ).fetchone()
    return int(rows), int(total)


def known_fingerprints(con, schema: str) -> dict[str, tuple[int, int]]:
    """Mart -> (rows, hash sum) as the publish that wrote the connection's serving database
    recorded them ({} for a file of an earlier version)."""
    has = con.execute(
        "select count(*) from duckdb_columns() where database_name = current_database() "
        "and schema_name = ? and table_name = 'publish_log' and column_name = 'fingerprints'",
        [schema],
    ).fetchone()[0]
    if not has:
        return {}
    row = con.execute(
        f"select fingerprints from {quote_ident(schema)}.publish_log "
        "order by published_at desc limit 1"
    ).fetchone()
    known = json.loads(row[0]) if row and row[0] else {}
    return {name: (int(rows), int(total)) for name, (rows, total) in known.items()}


def update_mart(
    con,
    schema: str,
    name: str,
    source_database: str = "build",
    known: tuple[int, int] | None = None,
) -> MartUpdate:
    """Make `schema.name` of the connection's database hold exactly the rows of
    `source_database.schema.name` (module docstring); the connection's current database is the
    serving copy, the build attached as `source_database`. `known`: the serving mart's
    fingerprint as its publish recorded it (used when the mart still has that many rows)."""
    q = f"{quote_ident(schema)}.{quote_ident(name)}"
    target, source = q, f"{quote_ident(source_database)}.{q}"
    (here,) = con.execute("select current_database()").fetchone()
    source_layout = _layout(con, source_database, schema, name)
    if not source_layout:
        raise RuntimeError(f"{source_database}.{schema}.{name}: no such table to publish")
    if _layout(con, here, schema, name) != source_layout:
        return _replace(con, target, source)
    new = _fingerprint(con, source)
    if known is None or con.execute(f"select count(*) from {target}").fetchone()[0] != known[0]:
        known = _fingerprint(con, target)
    if known == new:
        return MartUpdate("unchanged", new[0], fingerprint=new)
    if new[0] < DIFF_MIN_ROWS:
        return _replace(con, target, source, new)
    diff = quote_ident(f"_publish_diff_{name}")
    con.execute(
        f"create or replace temp table {diff} as "
        f"with new_rows as (select hash(t) as h, count(*) as n from {source} as t group by 1), "
        f"old_rows as (select hash(t) as h, count(*) as n from {target} as t group by 1) "
        "select coalesce(new_rows.h, old_rows.h) as h, coalesce(old_rows.n, 0) as old_n, "
        "coalesce(new_rows.n, 0) as new_n "
        "from new_rows full join old_rows on new_rows.h = old_rows.h "
        "where new_rows.n is distinct from old_rows.n"
    )
    try:
        deleted, inserted = (
            int(v)
            for v in con.execute(
                f"select coalesce(sum(old_n), 0), coalesce(sum(new_n), 0) from {diff}"
            ).fetchone()
        )
        if deleted + inserted > MAX_CHANGED_SHARE * max(new[0], 1):
            return _replace(con, target, source, new)
        con.execute(
            f"delete from {target} as t where hash(t) in (select h from {diff} where old_n > 0)"
        )
        con.execute(
            f"insert into {target} select * from {source} as t "
            f"where hash(t) in (select h from {diff} where new_n > 0)"
        )
    finally:
        con.execute(f"drop table if exists {diff}")
    if _fingerprint(con, target) != new:
        return _replace(con, target, source, new)
    return MartUpdate("updated", new[0], deleted, inserted, new)


def _replace(
    con, target: str, source: str, fingerprint: tuple[int, int] | None = None
) -> MartUpdate:
    con.execute(f"create or replace table {target} as select * from {source}")
    (rows,) = con.execute(f"select count(*) from {target}").fetchone()
    return MartUpdate("replaced", int(rows), fingerprint=fingerprint)
