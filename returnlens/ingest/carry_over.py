"""Re-delivered files: unchanged rows keep their `_loaded_at`, changed and removed ones are kept.

A re-delivered landing file (same path, new content) replaces every row it left in raw
(`raw_writes.delete_previous`). So that `_loaded_at > T` means "new or changed since T", and so
that a removed row leaves a trace, the loader's batch transaction also:

1. before the delete (`set_aside_previous`): keeps, in temp table `_previous_rows`, each old
   row's key, a hash of its contract columns, its `_loaded_at` and `_source_file`, and the
   columns its entity `affects` (`Entity.affects`, `returnlens/ingest/contracts.py`);
2. once the new rows are written, quarantined and erased (`apply_forgotten`) (`carry_over`):
   gives every new row whose key and content hash equal an old row's that row's `_loaded_at`,
   and writes every old row whose (key, hash) is gone to `raw.retracted_rows`, with the cause
   (`changed`: its key is delivered again; `removed`: it is not, or its new row was
   quarantined) and what it affects: order, RMA, response, sku, batch, currency, event date and
   the customer as the salted hash the facts key customers by (sha256 of salt and id, as
   `macros/hash_customer_id.sql`), never personal data.

**Content** is the contract's columns: not `_extra` (columns the contract does not know, which
no model reads), `_source_file` or `_file_row_number`; a row moved to another line, or to
another file of the same batch, is unchanged. **Erasure**: hashes are compared after the new
rows are erased, so a forgotten customer's row delivered again (with their personal data or
the tombstones of a scrubbed file) equals their erased old row: it stays erased, keeps its
`_loaded_at` and is not retracted. One case still counts as a change: a return's free text is
erased through the customer's order in `raw.orders`; when that order is not in raw while the
returns load, the text is erased after every source has loaded (`erase_forgotten_free_text`),
and the row is reported changed this once (a retracted row without personal data: the order is
built again, nothing is lost or exposed). **Keys**: every entity has one (`Entity` refuses an
empty key: the loader's duplicate check needs it too), and a key is unique in raw, so an old row
matches at most one new row.

Only files loaded before (an audit row `loaded` or `replayed`; rows reach raw only with one)
are read for old rows: a first delivery costs one query on the audit. The salt is read only
when a retracted row names a customer. A rollback of the batch undoes all of it, temp table
included.
"""

from __future__ import annotations

from datetime import datetime

import duckdb

from returnlens.config import pii_salt
from returnlens.ingest.contracts import RETRACTED_AFFECTS, Entity
from returnlens.warehouse import quote_ident as qi

PREVIOUS = "_previous_rows"
RETRACTED = "_retracted_rows"
IN_FILES = "_source_file in (select unnest($files::varchar[]))"


def content_hash(entity: Entity, alias: str = "") -> str:
    """A hash of a row's contract columns (64 bits; compared only between rows of one key)."""
    prefix = f"{alias}." if alias else ""
    return "hash(" + ", ".join(prefix + qi(c.name) for c in entity.columns) + ")"


def set_aside_previous(con: duckdb.DuckDBPyConnection, entity: Entity, files: list[str]) -> None:
    """Keep what `carry_over` needs of the rows earlier deliveries of these files left in raw
    (temp table `_previous_rows`); call before they are deleted, in the same transaction."""
    (loaded,) = con.execute(
        "select count(*) from raw.load_audit where entity = $entity and status in "
        "('loaded', 'replayed') and source_file in (select unnest($files::varchar[]))",
        {"entity": entity.name, "files": files},
    ).fetchall()[0]
    keys = ", ".join(qi(k) for k in entity.key)
    affects = "".join(
        f", {qi(column)} as {qi('_a_' + target)}" for target, column in entity.affects
    )
    con.execute(
        f"create or replace temp table {PREVIOUS} as "
        f"select {keys}, {content_hash(entity)} as _h, _loaded_at, _source_file{affects} "
        f"from {entity.table} where {IN_FILES if loaded else 'false'}",
        {"files": files} if loaded else {},
    )


def _affects_select(entity: Entity) -> str:
    """The affects columns of `raw.retracted_rows` from `_retracted_rows` (null where the
    entity declares none); the customer id becomes its salted hash ($salt)."""
    declared = {target for target, _ in entity.affects}
    out = []
    for target in RETRACTED_AFFECTS:
        value = f"r.{qi('_a_' + target)}"
        if target not in declared:
            out.append(f"null as {target}")
        elif target == "customer_hash":
            out.append(f"sha256(cast($salt as varchar) || {value}) as {target}")
        elif target == "event_date":
            out.append(f"cast({value} as date) as {target}")
        else:
            out.append(f"cast({value} as varchar) as {target}")
    return ", ".join(out)


def carry_over(
    con: duckdb.DuckDBPyConnection,
    entity: Entity,
    files: list[str],
    load_id: str,
    loaded_at: datetime,
) -> tuple[int, int]:
    """After the batch's rows are written, quarantined and erased: keep unchanged rows'
    `_loaded_at` and record retracted rows (see the module docstring).

    Returns (rows that kept their earlier `_loaded_at`, rows retracted).
    """
    if not con.execute(f"select count(*) from {PREVIOUS}").fetchall()[0][0]:
        con.execute(f"drop table {PREVIOUS}")
        return 0, 0
    same_key = " and ".join(f"t.{qi(k)} = p.{qi(k)}" for k in entity.key)
    same_row = f"{same_key} and {content_hash(entity, 't')} = p._h"
    new_rows = f"{entity.table} as t where t.{IN_FILES}"
    (kept,) = con.execute(
        f"update {entity.table} as t set _loaded_at = p._loaded_at from {PREVIOUS} as p "
        f"where t.{IN_FILES} and {same_row}",
        {"files": files},
    ).fetchall()[0]
    con.execute(
        f"""
        create or replace temp table {RETRACTED} as
        select p.*,
            case when exists (select 1 from {new_rows} and {same_key}) then 'changed'
                else 'removed' end as _cause
        from {PREVIOUS} as p
        where not exists (select 1 from {new_rows} and {same_row})
        """,
        {"files": files},
    )
    (retracted,) = con.execute(f"select count(*) from {RETRACTED}").fetchall()[0]
    if retracted:
        params: dict = {"entity": entity.name, "load_id": load_id, "at": loaded_at}
        if any(target == "customer_hash" for target, _ in entity.affects):
            params["salt"] = pii_salt()
        con.execute(
            "insert into raw.retracted_rows (entity, load_id, retracted_at, source_file, cause, "
            f"{', '.join(RETRACTED_AFFECTS)}) "
            "select $entity, $load_id, cast($at as timestamp), r._source_file, r._cause, "
            f"{_affects_select(entity)} from {RETRACTED} as r "
            "order by r._source_file, r._loaded_at",
            params,
        )
    con.execute(f"drop table {RETRACTED}")
    con.execute(f"drop table {PREVIOUS}")
    return kept, retracted
