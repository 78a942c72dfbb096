"""The right to be forgotten: erase a customer's personal data in raw, and keep it erased.

`forget_customer()` erases one customer in raw:
- the PII columns (name, e-mail, address, phone, and unknown `_extra` columns) of their rows
  become null, in raw and in quarantined records;
- the free text they wrote (return reasons, survey comments) becomes null too, as it may name
  them; their orders, returns and answers stay, keyed by the customer id as before;
- the request is recorded in `raw.forgotten_customers` as a salted SHA-256 of the id (the id
  itself is not kept there), and each e-mail erased in `raw.retracted_rows` (cause
  `forgotten`) as the salted pseudonym the orders keyed by it carry (for the change log: those
  orders resolve to another customer, or to none, once it is erased). The loader applies that list to every file it loads (with
  `returnlens.ingest.erasure`, which this module shares), so re-delivering or reloading an old
  landing file does not bring the data back;
- the tables that held the data are rewritten and the database's freed blocks overwritten
  (DuckDB does not clear them);
- `forget_customer_and_compact` (what `returnlens forget-customer` runs) then closes its
  connection and compacts the warehouse file (`returnlens.ingest.compaction`): DuckDB's
  metadata keeps prefixes of erased values in freed pieces of blocks still in use, which no
  overwrite reaches, so only a fresh file holds none of the erased values in its bytes;
- optionally the landing files are scrubbed: PII fields get tombstone values that satisfy the
  contract ("erased", and erased-<hash prefix>@invalid for the e-mail, unique per customer),
  free text is emptied; every other field is kept, so the next run loads the row as before.

Counts are exact: rows whose personal data actually changed. An id found nowhere is reported
as unknown (the request is still recorded: a later delivery may hold the customer).

The customer id is always a bound parameter; no SQL is built from it.
"""

from __future__ import annotations

import codecs
import dataclasses
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from returnlens.config import pii_salt, settings
from returnlens.ingest.carry_over import email_customer_id_sql
from returnlens.ingest.compaction import Compaction, CompactionError, compact_database
from returnlens.ingest.contracts import ENTITIES, SOURCES, Entity, entity
from returnlens.ingest.erasure import (
    FREE_TEXT,
    ID_COLUMN,
    erase_entity,
    has_customer_id,
    overwrite_erased,
    pii_entities,
    written_by,
)
from returnlens.ingest.erasure import (  # re-exported: imported from here by callers
    apply_forgotten as apply_forgotten,
)
from returnlens.ingest.erasure import (
    erase_forgotten_free_text as erase_forgotten_free_text,
)
from returnlens.ingest.loader import landing_files_with_specs
from returnlens.ingest.raw_tables import ensure_raw_schema, utc_now
from returnlens.warehouse import connect
from returnlens.warehouse import quote_ident as qi
from returnlens.warehouse import quote_literal as ql

ERASED = "erased"
# the hash to erase now: the one customer being forgotten
ONE_FORGOTTEN = "(select customer_hash from _forget_one)"


@dataclass
class ForgetResult:
    """What `forget_customer` erased: exact counts of rows whose personal data changed."""

    customer_hash: str
    known: bool = False  # the id is in raw (or in quarantine) at all
    already_forgotten: bool = False  # an earlier request for this id was recorded
    rows_erased: dict[str, int] = field(default_factory=dict)  # PII rows, per raw table
    quarantined_records_erased: int = 0
    free_texts_erased: dict[str, int] = field(default_factory=dict)  # per raw table
    tables_rewritten: list[str] = field(default_factory=list)
    landing_files_scrubbed: list[str] = field(default_factory=list)
    # landing files that may hold the customer but cannot be rewritten: Excel workbooks, and
    # the files of a platform (Shopify, WooCommerce, bol.com, Sendcloud) that delivered their rows
    landing_files_not_scrubbed: list[str] = field(default_factory=list)
    compaction: Compaction | None = None  # the warehouse file, rewritten afresh

    @property
    def erased_anything(self) -> bool:
        """True when this call changed any data."""
        return bool(
            sum(self.rows_erased.values())
            + self.quarantined_records_erased
            + sum(self.free_texts_erased.values())
            + len(self.landing_files_scrubbed)
        )


def validate_customer_id(customer_id: str) -> None:
    """Refuse ids that cannot be a shop's customer id (empty, blank, padded with spaces)."""
    if not customer_id or not customer_id.strip():
        raise ValueError("the customer id is empty: give the shop's customer id, e.g. C0000042")
    if customer_id != customer_id.strip():
        raise ValueError(
            "the customer id starts or ends with spaces: give it exactly as the shop's export "
            "spells it"
        )


def _is_known(con: duckdb.DuckDBPyConnection, customer_id: str) -> bool:
    with_id = [e for e in ENTITIES if has_customer_id(e)]
    parts = [f"select 1 from {e.table} where {qi(ID_COLUMN)} = ?" for e in with_id]
    parts.append(
        "select 1 from raw.quarantine_rows where entity in "
        f"({', '.join(ql(e.name) for e in with_id)}) "
        f"and json_extract_string(raw_record, {ql(ID_COLUMN)}) = ?"
    )
    rows = con.execute(
        f"select exists ({' union all '.join(parts)})", [customer_id] * len(parts)
    ).fetchall()
    return bool(rows[0][0])


def _record_erased_emails(
    con: duckdb.DuckDBPyConnection, customer_id: str, customer_hash: str, salt: str, at
) -> None:
    """Before the customer's e-mail is erased: one row in `raw.retracted_rows` (cause
    `forgotten`) per e-mail of theirs in raw.customers, as the pseudonym an order keyed by that
    e-mail carries (never the e-mail). Erasing it changes which customer those orders resolve
    to (an e-mail the customer shared resolves to the other one again), and once it is erased
    only this row finds them (the change log, stg_loader__changed_orders)."""
    con.execute(
        "insert into raw.retracted_rows (entity, retracted_at, cause, customer_hash, "
        "email_customer_id) "
        f"select distinct 'customers', cast($at as timestamp), 'forgotten', $hash, "
        f"{email_customer_id_sql('email')} from raw.customers "
        "where customer_id = $id and email is not null",
        {"at": at, "hash": customer_hash, "salt": salt, "id": customer_id},
    )


def forget_customer(
    con: duckdb.DuckDBPyConnection,
    customer_id: str,
    *,
    landing_dir: Path | None = None,
    overwrite_freed_space: bool = True,
) -> ForgetResult:
    """Erase one customer's personal data in raw, record the erasure, optionally scrub landing.

    Raises ValueError for an empty or blank id. An unknown id erases nothing (`known` is
    False) but is recorded, so a later delivery holding it is erased on load.
    """
    validate_customer_id(customer_id)
    ensure_raw_schema(con)
    salt = pii_salt()
    (customer_hash,) = con.execute(
        "select sha256(cast(? as varchar) || cast(? as varchar))", [salt, customer_id]
    ).fetchall()[0]
    result = ForgetResult(customer_hash)
    con.execute("begin transaction")
    try:
        result.known = _is_known(con, customer_id)
        result.already_forgotten = bool(
            con.execute(
                "select count(*) from raw.forgotten_customers where customer_hash = ?",
                [customer_hash],
            ).fetchall()[0][0]
        )
        forgotten_at = utc_now()
        if not result.already_forgotten:
            con.execute(
                "insert into raw.forgotten_customers values (?, ?)", [customer_hash, forgotten_at]
            )
        _record_erased_emails(con, customer_id, customer_hash, salt, forgotten_at)
        # only this customer: other forgotten customers were erased by their own request
        con.execute(
            "create or replace temp table _forget_one as select ? as customer_hash",
            [customer_hash],
        )
        for e in [*pii_entities(), *(entity(n) for n in FREE_TEXT)]:
            rows, records = erase_entity(con, e, salt, None, ONE_FORGOTTEN)
            if e in pii_entities():
                result.rows_erased[e.name] = rows
            else:
                result.free_texts_erased[e.name] = rows
            result.quarantined_records_erased += records
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    finally:
        con.execute("drop table if exists _forget_one")
    changed = [t for t, n in {**result.rows_erased, **result.free_texts_erased}.items() if n]
    if result.quarantined_records_erased:
        changed.append("quarantine_rows")
    if overwrite_freed_space and changed:
        result.tables_rewritten = overwrite_erased(con, [f"raw.{t}" for t in changed])
    if landing_dir is not None:
        result.landing_files_scrubbed, result.landing_files_not_scrubbed = scrub_landing(
            con, customer_id, customer_hash, landing_dir
        )
    return result


def forget_customer_and_compact(
    customer_id: str, *, warehouse: Path | None = None, landing_dir: Path | None = None
) -> ForgetResult:
    """`forget_customer` on a connection of its own to the warehouse file, then, once that is
    closed, compact the file so that none of the erased values stays in its bytes.

    No other connection to the warehouse may be open (the compaction refuses to start
    otherwise, after the erasure: running this again then compacts). A customer found nowhere
    has nothing in the file: no compaction. Raises CompactionError when the file could not be
    compacted; the erasure in raw has happened by then.
    """
    validate_customer_id(customer_id)
    path = Path(warehouse) if warehouse is not None else settings().warehouse
    con = connect(path)
    try:
        result = forget_customer(con, customer_id, landing_dir=landing_dir)
    finally:
        con.close()
    if result.known:  # erased now or earlier: the metadata may still hold pieces of it
        try:
            result.compaction = compact_database(path)
        except CompactionError as exc:
            raise CompactionError(
                f"the customer's personal data was erased in raw, but pieces of it may still be "
                f"in the warehouse file's bytes: {exc} Running the same erasure again compacts "
                "the file."
            ) from exc
    return result


# ------------------------------------------------------------------------------ landing files
def tombstone_email(customer_hash: str) -> str:
    """A unique, non-routable e-mail for an erased customer (.invalid never resolves)."""
    return f"erased-{customer_hash[:16]}@invalid"


def _landing_targets(
    con: duckdb.DuckDBPyConnection, customer_id: str, customer_hash: str
) -> list[tuple[Entity, str, set[str], dict[str, str]]]:
    """Per entity: the column matched, the values that mark the customer's rows, and the new
    value of each field to change (tombstones for required PII, '' for optional fields)."""
    targets = []
    for e in pii_entities():
        new = {
            c.name: (tombstone_email(customer_hash) if c.name == "email" else ERASED)
            if c.required
            else ""
            for c in e.columns
            if c.pii
        }
        targets.append((e, ID_COLUMN, {customer_id}, new))
    for name, column in FREE_TEXT.items():
        e = entity(name)
        if has_customer_id(e):
            targets.append((e, ID_COLUMN, {customer_id}, {column: ""}))
        else:
            orders = {
                r[0]
                for r in con.execute(
                    "select order_id from raw.orders where customer_id = ?", [customer_id]
                ).fetchall()
            }
            if orders:
                targets.append((e, "order_id", orders, {column: ""}))
    return targets


def scrub_landing(
    con: duckdb.DuckDBPyConnection, customer_id: str, customer_hash: str, landing_dir: Path
) -> tuple[list[str], list[str]]:
    """Rewrite the CSV landing files holding the customer: tombstones in their PII fields,
    their free text emptied, every other field and row as it was.

    Set-based: DuckDB reads each file exactly as the loader does (the delivery's delimiter,
    encoding, BOM), replaces the customer's fields in one select and writes the file again in
    the same dialect (temp file, then an atomic replace). The rewritten file has a new checksum,
    so the next load reloads it; the tombstones satisfy the contract, so the customer's row loads
    (and the loader erases the tombstones in raw too, as the customer is on the forgotten list).
    Returns (files scrubbed, files that hold the customer but cannot be rewritten here, such as
    Excel workbooks: the caller must say so).
    """
    from returnlens.ingest import dialect
    from returnlens.ingest.read_failures import raise_if_out_of_memory
    from returnlens.ingest.readers import LandingFileError, ReadPaths, csv_header, csv_scan

    scrubbed: list[str] = []
    not_scrubbed: list[str] = []
    paths = ReadPaths()
    scratch = connect(":memory:")
    try:
        for e, match, values, new in _landing_targets(con, customer_id, customer_hash):
            for order, (path, spec) in enumerate(landing_files_with_specs(e, landing_dir)):
                if spec.format != "csv":
                    if spec.format == "xlsx":
                        not_scrubbed.append(str(path))  # may hold the customer: say so
                    continue
                try:
                    # read as the loader does: the encoding and delimiter it detects where
                    # the dialect is not declared (a later non-UTF-8 byte: Windows-1252)
                    for _attempt in range(2):
                        spec, read = dialect.read_layout(path, spec, e, paths, order, [])
                        header = csv_header(read, spec)
                        scan = csv_scan(read, spec, header)
                        try:
                            hits = (
                                scratch.execute(
                                    f"select count(*) from {scan} "
                                    f"where {qi(match)} in (select unnest(?))",
                                    [sorted(values)],
                                ).fetchall()[0][0]
                                if match in header
                                else 0
                            )
                            break
                        except duckdb.Error as exc:
                            if not dialect.utf8_failure(spec, str(exc)):
                                raise
                            spec = dataclasses.replace(spec, encoding="cp1252")
                except (
                    duckdb.Error,
                    OSError,
                    UnicodeDecodeError,
                    ValueError,
                    LandingFileError,
                ) as exc:
                    # out of memory: the file may well hold the customer (never skipped unsaid)
                    raise_if_out_of_memory(exc, f"Scrubbing the landing file {path}")
                    continue  # a file the loader cannot read was never loaded: nothing in raw
                if not hits:
                    continue
                replaced = ", ".join(
                    f"case when {qi(match)} in (select unnest(?)) then {ql(value)} "
                    f"else {qi(name)} end as {qi(name)}"
                    for name, value in new.items()
                    if name in header
                )
                params = [sorted(values) for name in new if name in header]
                _rewrite_csv(
                    scratch, path, spec, f"select * replace ({replaced}) from {scan}", params
                )
                scrubbed.append(str(path))
    finally:
        scratch.close()
        paths.close()
    not_scrubbed += [str(landing_dir / f) for f in platform_files_of(con, customer_hash)]
    return scrubbed, not_scrubbed


# raw tables whose platform files hold the customer's personal data (names, e-mail, addresses
# in a connector's customer and order tables, an order export, a returns platform's parcels)
PLATFORM_PII_ENTITIES = ("customers", "orders", "returns", "nps_responses")


def platform_files_of(con: duckdb.DuckDBPyConnection, customer_hash: str) -> list[str]:
    """The landing files of a platform (a folder other than the native sources': shopify/,
    shopify_export/, woocommerce/, bol/, sendcloud/) that delivered rows of this customer
    (their customers, orders, returns or answers), as landing paths. Those files are the
    platform's own format: they are not rewritten here, the shop erases the customer in the
    platform and delivers the files again."""
    salt = pii_salt()
    one = "(select cast(? as varchar))"
    parts = []
    for name in PLATFORM_PII_ENTITIES:
        e = entity(name)
        key = ID_COLUMN if has_customer_id(e) else "order_id"
        parts.append(f"select _source_file from {e.table} where {written_by(e, one, qi(key))}")
    native = ", ".join(ql(s) for s in SOURCES)
    rows = con.execute(
        f"select distinct _source_file from ({' union all '.join(parts)}) as f "
        f"where split_part(_source_file, '/', 1) not in ({native}) order by 1",
        [salt, customer_hash] * len(parts),
    ).fetchall()
    return [f for (f,) in rows]


def not_scrubbed_advice(path: str) -> str:
    """What the shop does about a landing file `scrub_landing` could not rewrite."""
    if path.lower().endswith(".xlsx"):
        return (
            f"{path} is an Excel workbook and may hold this customer: remove their rows in "
            "the survey tool and export it again, or delete the file"
        )
    return (
        f"{path} is a platform's file that delivered this customer's rows: erase the customer "
        "in the platform (the shop system, connector or returns platform) and deliver its "
        "files again, or delete the file"
    )


def _rewrite_csv(
    con: duckdb.DuckDBPyConnection, path: Path, spec, select: str, params: list
) -> None:
    """Write `select` as the CSV file `path` in the delivery's dialect, atomically."""
    utf8 = path.with_name(f".{path.name}.scrub.utf8")
    tmp = path.with_name(f".{path.name}.scrub")
    try:
        con.execute(
            f"copy ({select}) to {ql(str(utf8))} "
            f"(format csv, header true, delimiter {ql(spec.delimiter)}, quote '\"')",
            params,
        )
        bom = path.read_bytes()[:3] == codecs.BOM_UTF8
        encoding = {"utf-8": "utf-8-sig" if bom else "utf-8"}.get(spec.encoding, spec.encoding)
        with (
            utf8.open(encoding="utf-8", newline="") as src,
            tmp.open("w", encoding=encoding, newline="") as dst,
        ):
            shutil.copyfileobj(src, dst, 1 << 20)  # re-encode in chunks, not row by row
        os.replace(tmp, path)
    finally:
        utf8.unlink(missing_ok=True)
        tmp.unlink(missing_ok=True)
