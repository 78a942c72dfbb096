"""Regression tests for the privacy defects of issue 11: erasure that leaves a loadable state (4),
erased values gone from the warehouse file's bytes (6), names, addresses and IBANs masked in
free text (7), a private PII salt kept out of every artifact (8), and `forget-customer` that
reports exactly what it erased (15).

Expectations come from the landing files (Python's csv module) and from plain byte scans, never
from the code under test. The pipeline-level tests share one rerun of the real main job on a
copy of the session's pipeline run.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import re
import shutil
import stat
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from returnlens.config import PROJECT_ROOT, settings
from returnlens.ingest import contracts
from returnlens.ingest.contracts import entity
from returnlens.ingest.loader import load_entity
from returnlens.ingest.privacy import forget_customer

pytestmark = pytest.mark.integration

CUSTOMERS = entity("customers")
HEADER = ",".join(c.name for c in CUSTOMERS.columns) + "\n"
ANNA = (
    "C1,Anna,de Vries,anna.devries@example.nl,0612345678,Dorpsstraat 5,1234AB,Utrecht,NL,"
    "2025-01-01 00:00:00\n"
)
BOB = "C2,Bob,Jansen,bob@example.nl,,Kerkweg 2,5678CD,Gent,BE,2025-01-02 00:00:00\n"
ANNA_BAD = (
    "C1,Anna,de Vries,anna.devries@example.nl,,Dorpsstraat 5,1234AB,Utrecht,XX,"
    "2025-01-01 00:00:00\n"
)
ANNA_PII = ["Anna", "de Vries", "anna.devries@example.nl", "0612345678", "Dorpsstraat", "1234AB"]
ANNA_PII += ["Utrecht"]


def csv_records(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


def raw_text(con) -> str:
    """Every text value of every raw table, as one lower-case string."""
    parts = []
    cols = con.execute(
        "select table_name, column_name from duckdb_columns() "
        "where schema_name = 'raw' and data_type = 'VARCHAR'"
    ).fetchall()
    for table, column in cols:
        rows = con.execute(f'select "{column}" from raw."{table}"').fetchall()
        parts.extend(v for (v,) in rows if v is not None)
    return "\n".join(parts).lower()


def file_bytes(path: Path) -> bytes:
    """The bytes of a DuckDB file and of its write-ahead log, if any."""
    data = path.read_bytes()
    wal = path.with_name(path.name + ".wal")
    return data + (wal.read_bytes() if wal.exists() else b"")


@pytest.fixture()
def small_landing(tmp_path, monkeypatch):
    """A hand-made landing zone (customers only) and a warehouse, with private env paths."""
    monkeypatch.setenv("RETURNLENS_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("RETURNLENS_PII_SALT", raising=False)
    for var in ("RETURNLENS_LANDING_DIR", "RETURNLENS_WAREHOUSE", "RETURNLENS_PII_SALT_FILE"):
        monkeypatch.delenv(var, raising=False)
    landing = settings().landing_dir
    for src in contracts.SOURCES:
        (landing / src).mkdir(parents=True)
    path = landing / "shop" / "customers.csv"
    path.write_text(HEADER + ANNA + BOB + ANNA_BAD)
    return path


# ------------------------------------------------------------------------------ defect 15
def test_defect15_forget_customer_refuses_empty_ids_and_counts_only_what_changed(small_landing):
    cfg = settings()
    con = duckdb.connect(str(cfg.warehouse))
    try:
        load_entity(con, CUSTOMERS, cfg.landing_dir)
        for bad in ("", "   ", "\t\n", " C1"):
            with pytest.raises(ValueError, match="customer id"):
                forget_customer(con, bad)
        assert con.execute("select count(*) from raw.forgotten_customers").fetchall() == [(0,)]

        unknown = forget_customer(con, "C999")
        assert unknown.known is False
        assert sum(unknown.rows_erased.values()) == 0
        assert unknown.quarantined_records_erased == 0

        first = forget_customer(con, "C1")
        assert first.known is True and first.already_forgotten is False
        assert first.rows_erased == {"customers": 1}
        assert first.quarantined_records_erased == 1  # the row with country XX
        bob = con.execute(
            "select first_name, email from raw.customers where customer_id = 'C2'"
        ).fetchall()
        assert bob == [("Bob", "bob@example.nl")]

        again = forget_customer(con, "C1")
        assert again.known is True and again.already_forgotten is True
        assert again.rows_erased == {"customers": 0}
        assert again.quarantined_records_erased == 0
    finally:
        con.close()


def test_defect15_cli_reports_unknown_and_empty_ids_as_errors_and_exact_counts(small_landing):
    from returnlens.cli import main

    cfg = settings()
    con = duckdb.connect(str(cfg.warehouse))
    load_entity(con, CUSTOMERS, cfg.landing_dir)
    con.close()
    runner = CliRunner()

    empty = runner.invoke(main, ["forget-customer", "  "])
    assert empty.exit_code != 0
    assert "empty" in empty.output.lower()

    unknown = runner.invoke(main, ["forget-customer", "C999"])
    assert unknown.exit_code != 0
    assert "no customer" in unknown.output.lower()
    assert "erased the personal data of 1" not in unknown.output.lower()

    known = runner.invoke(main, ["forget-customer", "C1"])
    assert known.exit_code == 0, known.output
    assert "raw.customers: 1 row" in known.output
    assert "quarantine: 1 record" in known.output

    repeat = runner.invoke(main, ["forget-customer", "C1"])
    assert repeat.exit_code == 0, repeat.output
    assert "already erased" in repeat.output.lower()
    assert "raw.customers: 1 row" not in repeat.output


# ------------------------------------------------------------------------------ defect 4
def test_defect04_scrubbed_landing_row_reloads_loaded_not_quarantined(small_landing):
    cfg = settings()
    con = duckdb.connect(str(cfg.warehouse))
    try:
        load_entity(con, CUSTOMERS, cfg.landing_dir)
        forget_customer(con, "C1", landing_dir=cfg.landing_dir)
        # the scrubbed file: no original PII in its bytes, every required field still filled
        text = small_landing.read_bytes().decode("utf-8").lower()
        for value in ANNA_PII:
            assert value.lower() not in text, value
        records = csv_records(small_landing)
        assert [r["customer_id"] for r in records] == ["C1", "C2", "C1"]
        required = [c.name for c in CUSTOMERS.columns if c.required]
        for r in records:
            assert all(r[name] != "" for name in required), r
        assert records[1] == dict(
            zip(HEADER.strip().split(","), BOB.strip().split(","), strict=True)
        )
        assert (records[0]["country_code"], records[0]["created_at"]) == (
            "NL",
            "2025-01-01 00:00:00",
        )

        res = load_entity(con, CUSTOMERS, cfg.landing_dir)
        (f,) = res.files
        assert f.status == "loaded"
        # C1 (scrubbed), C2, and the earlier bad row of C1 (country XX, a duplicate key)
        assert (f.rows_in, f.rows_loaded, f.rows_quarantined) == (3, 2, 1)
        loaded = con.execute(
            "select customer_id, country_code, created_at from raw.customers order by 1"
        ).fetchall()
        assert [(r[0], r[1], str(r[2])) for r in loaded] == [
            ("C1", "NL", "2025-01-01 00:00:00"),
            ("C2", "BE", "2025-01-02 00:00:00"),
        ]
        reasons = con.execute("select reason from raw.quarantine_rows").fetchall()
        assert len(reasons) == 1 and "missing required" not in reasons[0][0]
        everything = raw_text(con)
        for value in ANNA_PII:
            assert value.lower() not in everything, value
    finally:
        con.close()


# ------------------------------------------------------------------------------ defect 8
def test_defect08_salt_is_generated_per_installation_private_and_stable(
    tmp_path, monkeypatch, small_landing
):
    cfg = settings()
    salt = cfg.pii_salt
    assert salt != "returnlens-demo-salt"
    assert re.fullmatch(r"[0-9a-f]{64}", salt)
    assert cfg.pii_salt_file == cfg.data_dir / "secrets" / "pii_salt"
    assert cfg.pii_salt_file.read_text().strip() == salt
    assert stat.S_IMODE(cfg.pii_salt_file.stat().st_mode) == 0o600
    assert settings().pii_salt == salt  # stable: read back, not regenerated
    monkeypatch.setenv("RETURNLENS_DATA_DIR", str(tmp_path / "other"))
    assert settings().pii_salt not in (salt, "returnlens-demo-salt")


def test_defect08_public_demo_salt_and_short_salts_are_refused_on_real_data(
    monkeypatch, small_landing
):
    from returnlens.config import PiiSaltError, pii_salt

    monkeypatch.setenv("RETURNLENS_PII_SALT", "returnlens-demo-salt")
    with pytest.raises(PiiSaltError, match="public demo salt"):
        pii_salt()
    con = duckdb.connect(str(settings().warehouse))
    try:
        load_entity(con, CUSTOMERS, settings().landing_dir)
        with pytest.raises(PiiSaltError):
            forget_customer(con, "C1")
    finally:
        con.close()
    monkeypatch.setenv("RETURNLENS_PII_SALT", "short")
    with pytest.raises(PiiSaltError, match="shorter than"):
        pii_salt()
    # the generated demo shop may still use it (its marker file is at the landing root)
    (settings().landing_dir / "ground_truth.json").write_text("{}")
    monkeypatch.setenv("RETURNLENS_PII_SALT", "returnlens-demo-salt")
    assert settings().pii_salt == "returnlens-demo-salt"


# ------------------------------------------------------------------ pipeline rerun (4, 6, 7, 8)
@dataclass
class Rerun:
    data_dir: Path
    landing: Path
    warehouse: Path
    serving: Path
    success: bool
    salt: str
    forgotten: dict[str, str]
    forgotten_bytes_before: dict[str, int]
    forgotten_bytes_after_forget: dict[str, int]
    planted: dict[str, str]
    target_dirs: list[Path]


PLANTED = {
    "name": "{first} {last} wil dit artikel retour sturen",
    "iban_spaced": "graag terugstorten op NL91 ABNA 0417 1643 00 bedankt",
    "iban_plain": "iban nl91abna0417164300 en ophalen op dorpsstraat 5",
    "address_en": "please collect at 12 Baker Street tomorrow",
}
PLANTED_PII = ["nl91", "abna", "0417", "1643", "dorpsstraat 5", "baker street"]


def _plant_reason_texts(landing: Path) -> tuple[dict[str, str], list[str], set[str]]:
    """Write PII into the reason texts of four return lines (coded ones, so reasons stay)."""
    customers = {r["customer_id"]: r for r in csv_records(landing / "shop" / "customers.csv")}
    order_customer = {
        r["order_id"]: r["customer_id"]
        for p in sorted((landing / "shop").glob("orders_*.csv"))
        for r in csv_records(p)
    }
    path = sorted((landing / "returns").glob("returns_*.csv"))[-2]
    with path.open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        fields, rows = reader.fieldnames, list(reader)
    picked = [
        r
        for r in rows
        if r["reason_code"] and r["order_id"] in order_customer and not r["reason_text"]
    ][: len(PLANTED)]
    assert len(picked) == len(PLANTED)
    planted, names, writers = {}, [], set()
    for row, (kind, text) in zip(picked, PLANTED.items(), strict=True):
        who = customers[order_customer[row["order_id"]]]
        row["reason_text"] = text.format(first=who["first_name"], last=who["last_name"])
        planted[kind] = f"{row['rma_id']}|{row['order_line_id']}"
        writers.add(who["customer_id"])
        if kind == "name":
            names = [who["first_name"], who["last_name"]]
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=fields, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return planted, names, writers


@pytest.fixture(scope="module")
def rerun(pipeline_run, tmp_path_factory) -> Rerun:
    """On a copy of the session's landing zone, with PII planted in reason texts: load raw, forget
    a customer (scrubbing landing), then run the real main job.

    The copy gets a warehouse of its own, first loaded by the loader: a warehouse copied from
    another folder would see every landing file as new (files are known by their path).
    """
    from returnlens.ingest.loader import load_all
    from returnlens.pipeline import run_main_job

    assert pipeline_run.success
    data = tmp_path_factory.mktemp("privacy_rerun")
    shutil.copytree(pipeline_run.landing, data / "landing")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RETURNLENS_DATA_DIR", str(data))
        mp.setenv("DAGSTER_HOME", str(data / "dagster_home"))
        cfg = settings()
        salt = cfg.pii_salt
        planted, names, writers = _plant_reason_texts(cfg.landing_dir)
        planted["first_name"], planted["last_name"] = names
        # a customer whose e-mail, phone and street are unique in the landing file
        records = csv_records(cfg.landing_dir / "shop" / "customers.csv")
        counts: dict[str, int] = {}
        for r in records:
            for c in ("email", "phone", "street"):
                counts[r[c]] = counts.get(r[c], 0) + 1
        victim = next(
            r
            for r in records
            if r["phone"]
            and r["customer_id"] not in writers
            and all(counts[r[c]] == 1 for c in ("email", "phone", "street"))
        )
        forgotten = {c: victim[c] for c in ("customer_id", "email", "phone", "street")}
        con = duckdb.connect(str(cfg.warehouse))
        try:
            load_all(con, cfg.landing_dir)
        finally:
            con.close()
        before = file_bytes(cfg.warehouse)
        forgotten_bytes_before = {
            c: before.count(forgotten[c].encode()) for c in ("email", "phone", "street")
        }
        con = duckdb.connect(str(cfg.warehouse))
        try:
            forget_customer(con, forgotten["customer_id"], landing_dir=cfg.landing_dir)
        finally:
            con.close()
        after = file_bytes(cfg.warehouse)
        forgotten_bytes_after_forget = {
            c: after.count(forgotten[c].encode()) for c in ("email", "phone", "street")
        }
        result = run_main_job(log_level="WARNING")
        target = Path(os.environ.get("DBT_TARGET_PATH", PROJECT_ROOT / "target"))
        return Rerun(
            data_dir=data,
            landing=cfg.landing_dir,
            warehouse=cfg.warehouse,
            serving=cfg.serving,
            success=result.success,
            salt=salt,
            forgotten=forgotten,
            forgotten_bytes_before=forgotten_bytes_before,
            forgotten_bytes_after_forget=forgotten_bytes_after_forget,
            planted=planted,
            target_dirs=[target, PROJECT_ROOT / "logs", data / "dagster_home"],
        )


def test_defect04_after_forget_with_scrub_the_next_run_loads_the_customer_and_publishes(rerun):
    assert rerun.success, "the run after forget-customer --scrub-landing failed"
    customer_id = rerun.forgotten["customer_id"]
    path = rerun.landing / "shop" / "customers.csv"
    landing_text = path.read_text(encoding="utf-8")
    for column in ("email", "phone", "street"):
        assert rerun.forgotten[column] not in landing_text
    with duckdb.connect(str(rerun.warehouse), read_only=True) as con:
        row = con.execute(
            "select email, street from raw.customers where customer_id = ?", [customer_id]
        ).fetchall()
        assert row == [(None, None)]
        quarantined = con.execute(
            "select count(*) from raw.quarantine_rows where entity = 'customers' "
            "and json_extract_string(raw_record, '$.customer_id') = ?",
            [customer_id],
        ).fetchall()
        assert quarantined == [(0,)]
        loaded, in_quarantine = con.execute(
            "select rows_loaded, rows_quarantined from raw.load_audit "
            "where entity = 'customers' and status = 'loaded' order by finished_at desc limit 1",
        ).fetchall()[0]
    assert loaded + in_quarantine == len(csv_records(path))
    key = hashlib.sha256((rerun.salt + customer_id).encode()).hexdigest()
    with duckdb.connect(str(rerun.serving), read_only=True) as served:
        assert served.execute(
            "select count(*) from marts.dim_customers where customer_key = ?", [key]
        ).fetchall() == [(1,)]


def test_defect06_erased_values_are_not_in_the_warehouse_file_bytes(rerun):
    # the values were in the file before the erasure: the scan below can find them
    assert all(n > 0 for n in rerun.forgotten_bytes_before.values()), rerun.forgotten_bytes_before
    # right after forget-customer (a run that does not reload the file changes nothing here)
    nothing = {"email": 0, "phone": 0, "street": 0}
    assert rerun.forgotten_bytes_after_forget == nothing
    # and after the next run
    data = file_bytes(rerun.warehouse)
    found = {c: data.count(rerun.forgotten[c].encode()) for c in ("email", "phone", "street")}
    assert found == nothing


def test_defect07_names_ibans_and_addresses_are_masked_in_free_text(rerun):
    assert rerun.success
    first, last = rerun.planted["first_name"].lower(), rerun.planted["last_name"].lower()
    with duckdb.connect(str(rerun.serving), read_only=True) as served:
        texts = dict(
            served.execute(
                "select rma_id || '|' || order_line_id, reason_text_normalised "
                "from marts.fct_returns where rma_id || '|' || order_line_id in (?, ?, ?, ?)",
                [rerun.planted[k] for k in PLANTED],
            ).fetchall()
        )
        unmapped = [
            v
            for (v,) in served.execute(
                "select reason_text_normalised from marts.rpt_unmapped_reason_texts"
            ).fetchall()
        ]
    assert texts[rerun.planted["name"]] == "[name] [name] wil dit artikel retour sturen"
    assert texts[rerun.planted["iban_spaced"]] == "graag terugstorten op [iban] bedankt"
    assert texts[rerun.planted["iban_plain"]] == "iban [iban] en ophalen op [address]"
    assert texts[rerun.planted["address_en"]] == "please collect at [address] tomorrow"
    published = " | ".join([*texts.values(), *unmapped])
    for value in [*PLANTED_PII, f"{first} {last}"]:
        assert value not in published, value
    assert not re.search(rf"(^|[^a-z]){re.escape(last)}($|[^a-z])", published)


def test_defect08_salt_is_not_in_target_logs_or_the_warehouse(rerun):
    assert rerun.success
    salt = rerun.salt.encode()
    hits = []
    for root in rerun.target_dirs:
        if root.exists():
            hits += [p for p in root.rglob("*") if p.is_file() and salt in p.read_bytes()]
    assert hits == []
    assert salt not in file_bytes(rerun.warehouse)
    with duckdb.connect(str(rerun.warehouse), read_only=True) as con:
        views = con.execute("select sql from duckdb_views() where not internal").fetchall()
    assert views and not [v for (v,) in views if rerun.salt in v]
    manifest = json.loads((rerun.target_dirs[0] / "manifest.json").read_text())
    assert rerun.salt not in json.dumps(manifest)


def test_defect04_scrub_reads_the_delivery_as_the_loader_does_and_names_what_it_cannot_scrub(
    small_landing,
):
    """Found in review: a customers.csv saved by Excel as "CSV UTF-8" (with a BOM) loaded fine
    but was silently not scrubbed, and an Excel survey export holding the customer was skipped
    without a word. Now the BOM file is scrubbed (and keeps its BOM), and the workbook is named
    as not scrubbed."""
    from openpyxl import Workbook

    cfg = settings()
    small_landing.write_bytes(b"\xef\xbb\xbf" + (HEADER + ANNA + BOB).encode("utf-8"))
    nps = entity("nps_responses")
    wb = Workbook()
    wb.active.append([c.name for c in nps.columns])
    wb.active.append(["N1", "C1", "", "post_delivery", "2026-01-05 10:00:00", 7, 4, "prima"])
    workbook = cfg.landing_dir / "surveys" / "nps_2026-01.xlsx"
    wb.save(workbook)
    con = duckdb.connect(str(cfg.warehouse))
    try:
        load_entity(con, CUSTOMERS, cfg.landing_dir)
        res = forget_customer(con, "C1", landing_dir=cfg.landing_dir)
        assert res.landing_files_scrubbed == [str(small_landing)]
        assert res.landing_files_not_scrubbed == [str(workbook)]
        data = small_landing.read_bytes()
        assert data.startswith(b"\xef\xbb\xbf")
        text = data.decode("utf-8-sig").lower()
        for value in ANNA_PII:
            assert value.lower() not in text, value
        records = csv_records(small_landing)
        assert [r["customer_id"] for r in records] == ["C1", "C2"]
        assert records[1] == dict(
            zip(HEADER.strip().split(","), BOB.strip().split(","), strict=True)
        )
        res = load_entity(con, CUSTOMERS, cfg.landing_dir)
        assert [(f.status, f.rows_loaded, f.rows_quarantined) for f in res.files] == [
            ("loaded", 2, 0)
        ]
    finally:
        con.close()


def test_forgotten_customers_free_text_is_erased_whatever_order_the_sources_load_in(
    small_landing,
):
    """Found in review: a forgotten customer's return reason is found through raw.orders; when
    the returns source loaded before the orders of the same delivery (Dagster runs the source
    assets in any order), the text stayed in raw for good (the file then counts as unchanged).
    After every source is loaded, the erasure is applied once more over all rows."""
    from returnlens.ingest.privacy import erase_forgotten_free_text

    cfg = settings()
    landing = cfg.landing_dir
    con = duckdb.connect(str(cfg.warehouse))
    try:
        load_entity(con, CUSTOMERS, landing)
        forget_customer(con, "C1")
        # a new order of C1 and its return arrive together; returns load first
        orders = entity("orders")
        (landing / "shop" / "orders_2026-02.csv").write_text(
            ",".join(c.name for c in orders.columns)
            + "\nO77,C1,,2026-02-01 10:00:00,web,NL,,,20.00,\n"
        )
        returns = entity("returns")
        (landing / "returns" / "returns_2026-02.csv").write_text(
            ",".join(c.name for c in returns.columns if c.name != "status")
            + "\nR77,O77,O77-1,SKU1,1,OTHER,groeten van anna de vries,2026-02-05 10:00:00,"
            ",,,,,refund,20.00\n"
        )
        load_entity(con, returns, landing)
        load_entity(con, orders, landing)
        erased = erase_forgotten_free_text(con)
        assert erased == 1
        assert con.execute("select reason_text from raw.returns").fetchall() == [(None,)]
        # nothing left to erase: a second pass changes nothing
        assert erase_forgotten_free_text(con) == 0
    finally:
        con.close()


def test_scrub_reads_an_undeclared_dutch_excel_export_with_the_dialect_the_loader_detected(
    small_landing,
):
    """A customers.csv saved by Excel as "CSV (semicolon)" (Windows-1252, ';', CRLF), its
    dialect not declared: the loader detects it and loads the customer, so the scrub must read
    and rewrite it the same way, not skip it as unreadable and leave the customer's data."""
    cfg = settings()
    text = (HEADER + ANNA + BOB).replace(",", ";").replace("\n", "\r\n").replace("Anna", "Anaïs")
    small_landing.write_bytes(text.encode("cp1252"))
    pii = [v.replace("Anna", "Anaïs") for v in ANNA_PII]
    con = duckdb.connect(str(cfg.warehouse))
    try:
        res = load_entity(con, CUSTOMERS, cfg.landing_dir)
        assert [(f.status, f.rows_loaded) for f in res.files] == [("loaded", 2)]
        res = forget_customer(con, "C1", landing_dir=cfg.landing_dir)
        assert res.landing_files_scrubbed == [str(small_landing)]
        data = small_landing.read_bytes().decode("cp1252")  # still Windows-1252
        for value in pii:
            assert value.lower() not in data.lower(), value
        with small_landing.open(encoding="cp1252", newline="") as fh:
            records = list(csv.DictReader(fh, delimiter=";"))  # still ';'-delimited
        assert [r["customer_id"] for r in records] == ["C1", "C2"]
        bob = BOB.strip().split(",")
        assert records[1] == dict(zip(HEADER.strip().split(","), bob, strict=True))
        res = load_entity(con, CUSTOMERS, cfg.landing_dir)
        assert [(f.status, f.rows_loaded, f.rows_quarantined) for f in res.files] == [
            ("loaded", 2, 0)
        ]
    finally:
        con.close()
