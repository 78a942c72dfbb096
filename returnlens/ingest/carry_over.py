"""Re-delivered files: unchanged rows keep their `_loaded_at`, changed and removed ones are kept.

A re-delivered landing file (same path, new content) replaces every row it left in raw
(`raw_writes.delete_previous`). So that `_loaded_at > T` means "new or changed since T", and so
that a removed row leaves a trace, the loader's batch transaction also:

1. before the delete (`set_aside_previous`): keeps, in temp table `_previous_rows`, each old
   row's key, a hash of its contract columns, its `_loaded_at` and `_source_file`, and the
   columns its entity `affects` (`Entity.affects`, `returnlens/ingest/contracts.py`);
2. while the new rows are written (`carried_join`, in `raw_writes.insert_rows`): a row whose
   key and content hash equal an old row's gets that row's `_loaded_at`;
3. once they are quarantined and erased (`apply_forgotten`) (`carry_over`): does the same for
   the rows erasure made equal to their old rows, and writes every old row whose (key, hash)
   is gone to `raw.retracted_rows`, with the cause (`changed`: its key is delivered again;
   `removed`: it is not, or its new row was quarantined) and what it affects: order, RMA,
   response, sku, batch, currency, event date and the customer as the salted hash the facts
   key customers by (sha256 of salt and id, as `macros/hash_customer_id.sql`; not for an
   entity whose customer_id the models resolve by e-mail, `CUSTOMER_RESOLVED_BY_EMAIL`) and a
   customer's e-mail as the pseudonym an order keyed by it carries (`email_customer_id`, made
   when the old rows are set aside, so no e-mail is copied), never personal data.

**Content** is the contract's columns and `_extra` (the columns the contract does not know:
models read some of them, e.g. a Sendcloud return's label cost, a Shopify order's name), not
`_source_file` or `_file_row_number`; a row moved to another line, or to another file of the
same batch, is unchanged. **Erasure**: hashes are compared after the new
rows are erased, so a forgotten customer's row delivered again (with their personal data or
the tombstones of a scrubbed file) equals their erased old row: it stays erased, keeps its
`_loaded_at` and is not retracted. One case still counts as a change: a return's free text is
erased through the customer's order in `raw.orders`; when that order is not in raw while the
returns load, the text is erased after every source has loaded (`erase_forgotten_free_text`),
and the row is reported changed this once (a retracted row without personal data: the order is
built again, nothing is lost or exposed). **Keys**: every entity has one (`Entity` refuses an
empty key: the loader's duplicate check needs it too), and a key is unique in raw, so an old row
matches at most one new row.

**Cost**: only files loaded before (an audit row `loaded` or `replayed`; rows reach raw only
with one) are read for old rows, so a first delivery costs one query on the audit. Re-delivering
a 1M-row orders file with 1.5 % of its rows changed or removed took 2.2 s of CPU instead of 1.2
(stamping rows as they are written; an update of every unchanged row afterwards took 3.0 s). The
salt is read only when a retracted row names a customer. A rollback of the batch undoes all of
it, temp tables included.
"""

from __future__ import annotations

from datetime import datetime

import duckdb

from returnlens.config import pii_salt
from returnlens.ingest.contracts import RETRACTED_AFFECTS, Entity
from returnlens.warehouse import quote_ident as qi

PREVIOUS = "_previous_rows"
CURRENT = "_current_rows"
RETRACTED = "_retracted_rows"
IN_FILES = "_source_file in (select unnest($files::varchar[]))"


def content_hash(entity: Entity, alias: str = "") -> str:
    """A hash of a row's contract columns, each cast to its contract type (so a row being
    inserted hashes as it will be stored), and of its `_extra`; 64 bits, compared only between
    rows of one key."""
    prefix = f"{alias}." if alias else ""
    cast = ", ".join(f"cast({prefix}{qi(c.name)} as {c.type})" for c in entity.columns)
    return f"hash({cast}, {prefix}_extra)"


def email_customer_id_sql(email: str, salt: str = "$salt") -> str:
    """The customer_id an order keyed by this e-mail carries (SQL over the column `email`, the
    salt a bound parameter): 'email-' and the first 20 hex digits of SHA-256(salt ||
    lower(trim(e-mail))), as macro email_customer_id and the Shopify admin export's adapter
    make it; null for a null e-mail."""
    return f"'email-' || substr(sha256(cast({salt} as varchar) || lower(trim({email}))), 1, 20)"


def _affect(target: str, column: str) -> str:
    """What `_previous_rows` keeps of a column the entity affects: the e-mail as its
    pseudonym, anything else as it is (hashed or cast when recorded, `_affects_select`)."""
    value = qi(column)
    if target == "email_customer_id":
        value = email_customer_id_sql(value)
    return f", {value} as {qi('_a_' + target)}"


def set_aside_previous(con: duckdb.DuckDBPyConnection, entity: Entity, files: list[str]) -> int:
    """Keep what the carry-over needs of the rows earlier deliveries of these files left in raw
    (temp table `_previous_rows`); call before they are deleted, in the same transaction.
    Returns the number of rows set aside."""
    (loaded,) = con.execute(
        "select count(*) from raw.load_audit where entity = $entity and status in "
        "('loaded', 'replayed') and source_file in (select unnest($files::varchar[]))",
        {"entity": entity.name, "files": files},
    ).fetchall()[0]
    keys = ", ".join(qi(k) for k in entity.key)
    affects = "".join(_affect(target, column) for target, column in entity.affects)
    params: dict = {"files": files} if loaded else {}
    if any(target == "email_customer_id" for target, _ in entity.affects):
        # the salt only when rows are set aside: a first delivery must not make (or refuse) one
        params["salt"] = pii_salt() if loaded else ""
    con.execute(
        f"create or replace temp table {PREVIOUS} as "
        f"select {keys}, {content_hash(entity)} as _h, _loaded_at, _source_file{affects} "
        f"from {entity.table} where {IN_FILES if loaded else 'false'}",
        params,
    )
    return con.execute(f"select count(*) from {PREVIOUS}").fetchall()[0][0]


def carried_join(entity: Entity, alias: str = "s") -> tuple[str, str]:
    """For `raw_writes.insert_rows`: the join of the rows being inserted (`alias`) to the rows
    set aside, and the `_loaded_at` of a row (the set-aside row's when its key and content are
    unchanged, else the batch's, bound as the first parameter). Stamping rows as they are
    written costs a join; updating every unchanged row afterwards cost about twice as much CPU
    (the update is merged into the table at commit)."""
    same_key = " and ".join(f"p.{qi(k)} = {alias}.{qi(k)}" for k in entity.key)
    join = f"left join {PREVIOUS} as p on p._h = {content_hash(entity, alias)} and {same_key}"
    return join, "coalesce(p._loaded_at, cast(? as timestamp))"


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
    """After the batch's rows are written (unchanged ones already stamped by `carried_join`),
    quarantined and erased: stamp the rows erasure made equal to their old rows, and record
    the retracted rows (see the module docstring).

    Only the rows stamped with the batch's time are compared again (new, changed, or erased
    since they were written: usually few). Every row set aside was kept when as many rows of
    the files carry an earlier stamp (keys are unique: one kept row per row set aside); only
    otherwise are all rows compared, to find the retracted ones. Returns (rows that kept their
    earlier `_loaded_at`, rows retracted).
    """
    (previous,) = con.execute(f"select count(*) from {PREVIOUS}").fetchall()[0]
    if not previous:
        con.execute(f"drop table {PREVIOUS}")
        return 0, 0
    keys = ", ".join(f"t.{qi(k)}" for k in entity.key)
    same_key = " and ".join(f"c.{qi(k)} = p.{qi(k)}" for k in entity.key)
    rows = f"select {content_hash(entity, 't')} as _h, {keys}, t._source_file, t._file_row_number "
    rows += f"from {entity.table} as t where t.{IN_FILES}"
    at = {"files": files, "at": loaded_at}
    con.execute(f"create or replace temp table {CURRENT} as {rows} and t._loaded_at = $at", at)
    con.execute(
        f"update {entity.table} as t set _loaded_at = m._loaded_at from ("
        f"select c._source_file, c._file_row_number, p._loaded_at from {CURRENT} as c "
        f"join {PREVIOUS} as p on c._h = p._h and {same_key}) as m "
        "where t._source_file = m._source_file and t._file_row_number = m._file_row_number"
    )
    (kept,) = con.execute(
        f"select count(*) from {entity.table} where {IN_FILES} and _loaded_at <> $at", at
    ).fetchall()[0]
    retracted = 0
    if kept < previous:  # some rows set aside are gone (or an earlier stamp equals this one)
        con.execute(f"create or replace temp table {CURRENT} as {rows}", {"files": files})
        con.execute(
            f"""
            create or replace temp table {RETRACTED} as
            select p.*,
                case when exists (select 1 from {CURRENT} as c where {same_key}) then 'changed'
                    else 'removed' end as _cause
            from {PREVIOUS} as p
            where not exists (select 1 from {CURRENT} as c where c._h = p._h and {same_key})
            """
        )
        (retracted,) = con.execute(f"select count(*) from {RETRACTED}").fetchall()[0]
        _record_retracted(con, entity, load_id, loaded_at, retracted)
        con.execute(f"drop table {RETRACTED}")
    con.execute(f"drop table {CURRENT}")
    con.execute(f"drop table {PREVIOUS}")
    return kept, retracted


def _record_retracted(
    con: duckdb.DuckDBPyConnection, entity: Entity, load_id: str, at: datetime, n: int
) -> None:
    """Write the rows of `_retracted_rows` to `raw.retracted_rows` (the salt is read only when
    there are some and they name a customer)."""
    if not n:
        return
    params: dict = {"entity": entity.name, "load_id": load_id, "at": at}
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
