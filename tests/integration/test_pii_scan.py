"""Personal data stays in raw: a real pipeline run with PII planted in every free-text and error
path, then every file under the data folder scanned for it; then an erasure and a rerun, and the
erased customer's data found nowhere, not even in the warehouse file's bytes.

Planted (distinctive tokens, so a hit is never a coincidence):
- customer A (erased later) and customer B (kept), with names, e-mail, phone and street;
- return reason texts naming them, with street and house number and an IBAN;
- an NPS comment with B's phone number and e-mail;
- a returns file whose data row DuckDB would take as a header (the error path), a ';'-delimited
  returns file, a symlink to a file outside the landing folder and a file in a format the entity
  does not accept, each holding B's data.

Allowed: B's data in the landing folder and in the `raw` schema of the warehouse. Everything else
(serving database, Parquet export, exports, Data Docs, reports, Dagster storage and logs, dbt's
target/ and logs/, the warehouse's non-raw schemas) must hold none of it. After A is forgotten and
the pipeline runs again, A's data is nowhere outside the landing folder, and the warehouse file's
bytes do not hold it either.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

import duckdb
import pytest

from returnlens.config import PROJECT_ROOT

pytestmark = [pytest.mark.integration, pytest.mark.slow]

A = {
    "first_name": "Zwanhilde",
    "last_name": "Quaxterbeek",
    "email": "zwanhilde.quaxterbeek@example.org",
    "phone": "+31 6 98765432",
    "street": "Quaxterbeekstraat 77",
}
B = {
    "first_name": "Ottoline",
    "last_name": "Vreemdenburg",
    "email": "ottoline.vreemdenburg@example.org",
    "phone": "+31 6 11223344",
    "street": "Vreemdenburgweg 12",
}
IBAN = "NL37INGB0007777123"
A_TOKENS = ("zwanhilde", "quaxterbeek", "98765432")
B_TOKENS = ("ottoline", "vreemdenburg", "11223344", IBAN.lower(), "0007777123")


def _read(path: Path) -> tuple[list[str], list[list[str]]]:
    with path.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    return rows[0], rows[1:]


def _write(path: Path, header: list[str], rows: list[list[str]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as fh:
        csv.writer(fh, lineterminator="\n").writerows([header, *rows])


def _plant(landing: Path, outside: Path) -> dict[str, str]:
    """Give two customers with returns distinctive PII and plant it in every text path."""
    orders_of: dict[str, str] = {}
    for f in sorted((landing / "shop").glob("orders_*.csv")):
        h, rows = _read(f)
        orders_of.update({r[h.index("order_id")]: r[h.index("customer_id")] for r in rows})
    ret_files = sorted((landing / "returns").glob("returns_*.csv"))
    h, returns = _read(ret_files[0])
    customers = []
    for r in returns:
        cid = orders_of[r[h.index("order_id")]]
        if cid not in customers:
            customers.append(cid)
        if len(customers) == 2:
            break
    a_id, b_id = customers
    texts = {
        a_id: f"past niet, groeten {A['first_name'].lower()} {A['last_name'].lower()}, "
        f"{A['street'].lower()}",
        b_id: f"te klein. geld graag naar {IBAN}, {B['first_name']} {B['last_name']}, "
        f"{B['street']}, bel {B['phone']}",
    }
    for r in returns:
        cid = orders_of[r[h.index("order_id")]]
        if cid in texts:
            r[h.index("reason_text")] = texts[cid]
    _write(ret_files[0], h, returns)

    cpath = landing / "shop" / "customers.csv"
    ch, crows = _read(cpath)
    for r in crows:
        person = A if r[0] == a_id else B if r[0] == b_id else None
        if person:
            for k, v in person.items():
                r[ch.index(k)] = v
    _write(cpath, ch, crows)

    nps = sorted((landing / "surveys").glob("nps_*.csv"))[-1]
    nh, nrows = _read(nps)
    nrows[0][nh.index("customer_id")] = b_id
    nrows[0][nh.index("comment")] = f"bel me op {B['phone']} of mail {B['email']}"
    _write(nps, nh, nrows)

    # error paths: a data row where the header should be, a ';'-delimited export, a symlink out
    # of the landing folder, and a file in a format the entity does not accept
    row = ["RMA9999991", "O9", "O9-1", "SKU", "1", "OTHER", f"{B['email']} {B['last_name']}"]
    (landing / "returns" / "returns_2099-01.csv").write_text(",".join(row) + "\n")
    (landing / "returns" / "returns_2099-02.csv").write_text(
        ";".join(h)
        + "\n"
        + ";".join(["RMA9999992", "O9", "O9-1", "SKU", "1", "OTHER"])
        # the ';' is detected, but a refund of 1,250 (decimal comma or thousands?) fails the
        # file whole, with a message that must quote nothing of the row
        + f";{B['first_name']} {B['last_name']};2026-01-01 10:00:00;;;;;;refund;1,250\n"
    )
    outside.write_text(f"{B['first_name']},{B['last_name']},{B['email']}\n")
    os.symlink(outside, landing / "returns" / "returns_2099-03.csv")
    (landing / "returns" / "returns_2099-04.xlsx").write_bytes(
        f"PK not really excel {B['email']}".encode()
    )
    return {"a": a_id, "b": b_id}


def _file_hits(root: Path, tokens: tuple[str, ...], skip: tuple[Path, ...] = ()) -> list[str]:
    """Files under `root` whose bytes hold a token (case-insensitive, UTF-8 and UTF-16)."""
    hits = []
    for path in sorted(root.rglob("*")):
        if not path.is_file() or path.is_symlink() or any(path.is_relative_to(s) for s in skip):
            continue
        data = path.read_bytes().lower()
        hits += [
            f"{path.relative_to(root)}: {t}"
            for t in tokens
            if t.encode() in data or t.encode("utf-16-le") in data
        ]
    return hits


def _sql_hits(db: Path, tokens: tuple[str, ...], skip_schemas: tuple[str, ...] = ()) -> list:
    """Tables or views of a DuckDB file holding a token in any text column (decompressed).
    Views that hash customer ids read the salt from the connection, as under dbt: without it
    they fail instead of scanning."""
    from returnlens.config import pii_salt

    hits = []
    with duckdb.connect(str(db), read_only=True) as con:
        con.execute("set variable returnlens_pii_salt = ?", [pii_salt()])
        cols = con.execute(
            "select schema_name, table_name, column_name from duckdb_columns() "
            "where database_name = current_database() and data_type = 'VARCHAR'"
        ).fetchall()
        for schema, table, column in cols:
            if schema in skip_schemas:
                continue
            cond = " or ".join(f'lower("{column}") like ?' for _ in tokens)
            n = con.execute(
                f'select count(*) from "{schema}"."{table}" where {cond}',
                [f"%{t}%" for t in tokens],
            ).fetchall()[0][0]
            if n:
                hits.append(f"{schema}.{table}.{column}: {n} row(s)")
    return hits


def _parquet_hits(root: Path, tokens: tuple[str, ...]) -> list[str]:
    hits = []
    with duckdb.connect() as con:
        for path in sorted(root.rglob("*.parquet")):
            for (column,) in con.execute(
                "select name from parquet_schema(?) where type = 'BYTE_ARRAY'", [str(path)]
            ).fetchall():
                cond = " or ".join(f'lower(cast("{column}" as varchar)) like ?' for _ in tokens)
                n = con.execute(
                    f"select count(*) from read_parquet(?) where {cond}",
                    [str(path), *[f"%{t}%" for t in tokens]],
                ).fetchall()[0][0]
                if n:
                    hits.append(f"{path.relative_to(root)}.{column}: {n} row(s)")
    return hits


def test_planted_personal_data_reaches_no_file_outside_raw_and_erasure_removes_it(
    private_data_dir, tmp_path
):
    from returnlens.config import settings
    from returnlens.demo.generator import generate
    from returnlens.ingest.privacy import forget_customer
    from returnlens.pipeline import run_main_job

    cfg = settings()
    generate(cfg.landing_dir, seed=5, scale=0.05)
    ids = _plant(cfg.landing_dir, tmp_path / "outside.csv")
    first = run_main_job(parse_dbt=False)
    assert first.success, "the pipeline with planted PII did not publish"
    assert cfg.serving.exists()

    everything = A_TOKENS + B_TOKENS
    skip = (cfg.landing_dir, cfg.warehouse, Path(f"{cfg.warehouse}.wal"))
    project_dirs = [PROJECT_ROOT / "target", PROJECT_ROOT / "logs"]
    hits = _file_hits(cfg.data_dir, everything, skip)
    for d in project_dirs:
        hits += _file_hits(d, everything) if d.exists() else []
    hits += _sql_hits(cfg.serving, everything)
    hits += _parquet_hits(cfg.data_dir, everything)
    hits += _sql_hits(cfg.warehouse, everything, skip_schemas=("raw",))
    assert hits == [], "personal data outside raw:\n" + "\n".join(hits)
    # the planted data really is in raw (the scan looks in the right places)
    assert _sql_hits(cfg.warehouse, ("quaxterbeek",))

    con = duckdb.connect(str(cfg.warehouse))
    try:
        forget_customer(con, ids["a"])
    finally:
        con.close()
    second = run_main_job(parse_dbt=False)
    assert second.success
    hits = _file_hits(cfg.data_dir, A_TOKENS, (cfg.landing_dir,))
    hits += _sql_hits(cfg.warehouse, A_TOKENS)
    hits += _sql_hits(cfg.serving, A_TOKENS)
    assert hits == [], "the erased customer's data is still readable:\n" + "\n".join(hits)
