"""The right to be forgotten: erase a customer's personal data in raw, and keep it erased.

`forget_customer()` nulls the PII columns (name, e-mail, address, phone, and unknown `_extra`
columns) of a customer's rows in raw and in quarantined records, and records the erasure in
`raw.forgotten_customers` as a salted SHA-256 of the id (the id itself is not kept there). The
loader applies that list to every file it loads, so re-delivering or reloading an old landing file
does not bring the data back. Optionally the landing files are scrubbed too. Downstream models
never hold PII (staging hashes customer ids), so the next publish holds nothing of it.

The customer id is always a bound parameter; no SQL is built from it.
"""

from __future__ import annotations

import csv
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from returnlens.config import settings
from returnlens.ingest.contracts import ENTITIES, Entity
from returnlens.ingest.loader import _now, ensure_raw_schema, landing_files_with_specs
from returnlens.warehouse import quote_ident as qi
from returnlens.warehouse import quote_literal as ql

ID_COLUMN = "customer_id"


def pii_entities() -> list[Entity]:
    """Entities whose rows hold personal data keyed by a customer id."""
    return [e for e in ENTITIES if e.pii_columns and any(c.name == ID_COLUMN for c in e.columns)]


def _hash_sql(expr: str) -> str:
    # the salt is the first bound parameter of every statement using this
    return f"sha256(cast(? as varchar) || {expr})"


def _erase_sets(entity: Entity) -> str:
    return ", ".join(f"{qi(c)} = null" for c in [*entity.pii_columns, "_extra"])


def _patch(entity: Entity) -> str:
    """JSON merge patch that removes the PII keys (and `_extra`) of a quarantined record."""
    return json.dumps(dict.fromkeys([*entity.pii_columns, "_extra"]))


def apply_forgotten(
    con: duckdb.DuckDBPyConnection, entity: Entity, files: list[str] | None = None
) -> int:
    """Erase the PII of forgotten customers in the rows of `files` (all files when None).

    Called by the loader inside its transaction; returns the number of raw rows erased.
    """
    if entity not in pii_entities():
        return 0
    salt = settings().pii_salt
    where_file = ""
    params: list = []
    if files is not None:
        where_file = f"and _source_file in ({', '.join('?' for _ in files)})"
        params = list(files)
    forgotten = "(select customer_hash from raw.forgotten_customers)"
    erased = con.execute(
        f"update {entity.table} set {_erase_sets(entity)} "
        f"where {_hash_sql(qi(ID_COLUMN))} in {forgotten} {where_file}",
        [salt, *params],
    ).fetchall()[0][0]
    q_file = where_file.replace("_source_file", "source_file")
    con.execute(
        "update raw.quarantine_rows set raw_record = json_merge_patch(raw_record, ?) "
        f"where entity = ? and {_hash_sql(f'json_extract_string(raw_record, {ql(ID_COLUMN)})')} "
        f"in {forgotten} {q_file}",
        [_patch(entity), entity.name, salt, *params],
    )
    return erased


@dataclass
class ForgetResult:
    """What `forget_customer` erased."""

    customer_hash: str
    rows_erased: dict[str, int] = field(default_factory=dict)
    landing_files_scrubbed: list[str] = field(default_factory=list)


def forget_customer(
    con: duckdb.DuckDBPyConnection,
    customer_id: str,
    *,
    landing_dir: Path | None = None,
) -> ForgetResult:
    """Erase one customer's PII in raw, record the erasure, optionally scrub landing files."""
    ensure_raw_schema(con)
    salt = settings().pii_salt
    (customer_hash,) = con.execute(
        "select sha256(cast(? as varchar) || cast(? as varchar))", [salt, customer_id]
    ).fetchall()[0]
    result = ForgetResult(customer_hash)
    con.execute("begin transaction")
    try:
        known = con.execute(
            "select count(*) from raw.forgotten_customers where customer_hash = ?",
            [customer_hash],
        ).fetchall()[0][0]
        if not known:
            con.execute(
                "insert into raw.forgotten_customers values (?, ?)", [customer_hash, _now()]
            )
        for e in pii_entities():
            result.rows_erased[e.name] = apply_forgotten(con, e)
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    if landing_dir is not None:
        result.landing_files_scrubbed = scrub_landing(customer_id, landing_dir)
    return result


def scrub_landing(customer_id: str, landing_dir: Path) -> list[str]:
    """Rewrite the CSV landing files holding the customer with its PII fields emptied.

    A rare, explicit operation, so plain Python's csv module (any declared encoding, same
    dialect). The rewritten file has a new checksum, so the next load reloads it (without PII).
    """
    scrubbed = []
    for e in pii_entities():
        for path, spec in landing_files_with_specs(e, landing_dir):
            if spec.format != "csv":
                continue
            try:
                with path.open(encoding=spec.encoding, newline="") as fh:
                    rows = list(csv.reader(fh))
            except (OSError, UnicodeDecodeError):
                continue  # an unreadable file was never loaded; nothing of it is in raw
            if not rows or ID_COLUMN not in rows[0]:
                continue
            header = rows[0]
            id_at = header.index(ID_COLUMN)
            pii_at = [i for i, name in enumerate(header) if name in e.pii_columns]
            hit = False
            for row in rows[1:]:
                if len(row) > id_at and row[id_at] == customer_id:
                    for i in pii_at:
                        if i < len(row):
                            row[i] = ""
                    hit = True
            if not hit:
                continue
            tmp = path.with_name(f".{path.name}.scrub")
            with tmp.open("w", encoding=spec.encoding, newline="") as fh:
                csv.writer(fh, lineterminator="\n").writerows(rows)
            os.replace(tmp, path)
            scrubbed.append(str(path))
    return scrubbed
