"""Regression tests of issue 11: the loader on hostile inputs (one test per defect).

Files are tiny and hand-made in a temp folder; expected values and row counts are computed from
the files with Python's csv/json modules and `decimal`, never from the loader. Every test asserts
conservation (rows in the file = rows loaded + rows quarantined, or, for a file that failed whole,
the audit's rows_in = the file's rows) against the tables themselves.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import re
import shutil
from datetime import date
from decimal import Decimal
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from returnlens.config import PROJECT_ROOT
from returnlens.ingest.contracts import FileSpec, entity
from returnlens.ingest.loader import load_all, load_entity

pytestmark = pytest.mark.integration

SUPPLIERS = entity("suppliers")
ORDER_LINES = entity("order_lines")
BATCHES = entity("production_batches")
RETURNS = entity("returns")
CUSTOMERS = entity("customers")
SUP_HEADER = "supplier_id,supplier_name,country_code,lead_time_days\n"
OL_HEADER = ",".join(c.name for c in ORDER_LINES.columns) + "\n"
RET_HEADER = ",".join(c.name for c in RETURNS.columns if c.name != "status") + "\n"
CUST_HEADER = ",".join(c.name for c in CUSTOMERS.columns) + "\n"


# ------------------------------------------------------------------------------ helpers
def csv_records(path: Path, delimiter: str = ",", encoding: str = "utf-8") -> list[dict]:
    """The data rows of a CSV file as dicts, read by Python's csv module."""
    with path.open(encoding=encoding, newline="") as fh:
        return list(csv.DictReader(fh, delimiter=delimiter))


def rel(path: Path, landing: Path) -> str:
    return path.relative_to(landing).as_posix()


def audit_of(con, name: str) -> dict:
    """The latest audit row of a landing file (by its path under the landing folder)."""
    cols = ["status", "rows_in", "rows_loaded", "rows_quarantined", "error", "entity"]
    rows = con.execute(
        f"select {', '.join(cols)} from raw.load_audit where source_file = ? "
        "order by finished_at desc limit 1",
        [name],
    ).fetchall()
    assert rows, f"{name} is not in raw.load_audit"
    return dict(zip(cols, rows[0], strict=True))


def in_tables(con, ent, name: str) -> tuple[int, int]:
    loaded = con.execute(
        f"select count(*) from {ent.table} where _source_file = ?", [name]
    ).fetchall()[0][0]
    quarantined = con.execute(
        "select count(*) from raw.quarantine_rows where entity = ? and source_file = ?",
        [ent.name, name],
    ).fetchall()[0][0]
    return loaded, quarantined


def assert_conserved(con, ent, name: str, rows_in_file: int) -> tuple[int, int]:
    loaded, quarantined = in_tables(con, ent, name)
    audit = audit_of(con, name)
    assert rows_in_file == loaded + quarantined == audit["rows_in"], (name, audit)
    assert (audit["rows_loaded"], audit["rows_quarantined"]) == (loaded, quarantined)
    return loaded, quarantined


def reasons(con, name: str) -> dict[int, str]:
    return dict(
        con.execute(
            "select file_row_number, reason from raw.quarantine_rows where source_file = ?",
            [name],
        ).fetchall()
    )


def ol_row(line_id: str, qty: str = "1", price: str = "10.00", discount: str = "0.00") -> str:
    order = line_id.split("-")[0]
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow(
        [line_id, order, "1", "SKU1", qty, price, discount, "B1"]
    )
    return buf.getvalue()


# ------------------------------------------------------------------------------ defect 01
def test_defect01_values_that_do_not_fit_their_type_exactly_are_quarantined(con, landing):
    path = landing / "shop" / "order_lines_2026-01.csv"
    bad_qty = ["1.253", "1.5", "1,0", "4.92E+11", "1_000", "0x10", " 7", "1e3"]
    bad_price = ["12.505", "1.253,50", "1,253.50", "123456789.00", "12,50"]
    good = [("G1-1", "2", "12.5"), ("G2-1", "-3", "0.1"), ("G3-1", "+4", "99999999.99")]
    text = OL_HEADER
    text += "".join(ol_row(i, q, p) for i, q, p in good)
    text += "".join(ol_row(f"Q{n}-1", qty=v) for n, v in enumerate(bad_qty))
    text += "".join(ol_row(f"P{n}-1", price=v) for n, v in enumerate(bad_price))
    path.write_text(text)
    records = csv_records(path)
    name = rel(path, landing)

    load_entity(con, ORDER_LINES, landing)

    # quantity has min_value 1, so -3 is quarantined for its minimum, not for its type
    expected = {
        r["order_line_id"]: (
            int(r["quantity"]),
            Decimal(r["unit_price_eur"]).quantize(Decimal("0.01")),
        )
        for r in records
        if re.fullmatch(r"[+-]?[0-9]+", r["quantity"])
        and re.fullmatch(r"[+-]?[0-9]{1,8}(\.[0-9]{0,2})?", r["unit_price_eur"])
        and int(r["quantity"]) >= 1
    }
    loaded = dict(
        (i, (q, p))
        for i, q, p in con.execute(
            "select order_line_id, quantity, unit_price_eur from raw.order_lines"
        ).fetchall()
    )
    assert (
        loaded == expected == {"G1-1": (2, Decimal("12.50")), "G3-1": (4, Decimal("99999999.99"))}
    )
    why = reasons(con, name)
    by_id = {records[n - 1]["order_line_id"]: r for n, r in why.items()}
    for n in range(len(bad_qty)):
        assert "quantity" in by_id[f"Q{n}-1"] and "integer" in by_id[f"Q{n}-1"]
    for n in range(len(bad_price)):
        assert "unit_price_eur" in by_id[f"P{n}-1"] and "decimal(10,2)" in by_id[f"P{n}-1"]
    assert "more than 2 decimal places" in by_id["P0-1"]  # 12.505: names the cause
    assert "thousands" in by_id["Q0-1"]  # names the likely cause
    for n, reason in why.items():  # the reason names the problem, never the value
        r = records[n - 1]
        for value in (r["quantity"].strip(), r["unit_price_eur"]):
            if value not in ("1", "10.00"):
                assert value not in reason, (value, reason)
    assert assert_conserved(con, ORDER_LINES, name, len(records)) == (2, len(records) - 2)


def test_defect01_declared_dutch_dialect_loads_grouped_numbers_and_dates_exactly(con, landing):
    dutch = dataclasses.replace(
        ORDER_LINES,
        also=(
            FileSpec(
                "orderregels_*.csv",
                "csv",
                delimiter=";",
                decimal_separator=",",
                thousands_separator=".",
                declared=True,
            ),
        ),
    )
    path = landing / "shop" / "orderregels_2026-01.csv"
    rows = [
        ("D1-1", "1.253", "1.253,50"),  # thousands separators in valid positions
        ("D2-1", "12", "1253,5"),  # no grouping is fine too
        ("D3-1", "2", "0,05"),
        ("D4-1", "1.25", "1,00"),  # a group of two: not a thousands separator
        ("D5-1", "3", "12,505"),  # three decimals in decimal(10,2)
        ("D6-1", "4", "1.253.50"),  # two separators, no decimal comma
        ("D7-1", "5", "12.34,00"),  # group of two after the separator
        ("D8-1", "6", "1,253.50"),  # the English way round
        ("D9-1", "1.000.000", "10.000,00"),
    ]
    header = OL_HEADER.replace(",", ";")
    path.write_text(
        header + "".join(f"{i};{i.split('-')[0]};1;SKU1;{q};{p};0,00;B1\n" for i, q, p in rows)
    )
    records = csv_records(path, delimiter=";")

    def nl_int(text):
        ok = re.fullmatch(r"[0-9]{1,3}(\.[0-9]{3})*|[0-9]+", text)
        return int(text.replace(".", "")) if ok else None

    def nl_dec(text):
        ok = re.fullmatch(r"([0-9]{1,3}(\.[0-9]{3})*|[0-9]+)(,[0-9]{1,2})?", text)
        return (
            Decimal(text.replace(".", "").replace(",", ".")).quantize(Decimal("0.01"))
            if ok
            else None
        )

    expected = {
        r["order_line_id"]: (nl_int(r["quantity"]), nl_dec(r["unit_price_eur"]))
        for r in records
        if nl_int(r["quantity"]) is not None and nl_dec(r["unit_price_eur"]) is not None
    }
    load_entity(con, dutch, landing)
    loaded = {
        i: (q, p)
        for i, q, p in con.execute(
            "select order_line_id, quantity, unit_price_eur from raw.order_lines"
        ).fetchall()
    }
    assert loaded == expected
    assert loaded == {
        "D1-1": (1253, Decimal("1253.50")),
        "D2-1": (12, Decimal("1253.50")),
        "D3-1": (2, Decimal("0.05")),
        "D9-1": (1000000, Decimal("10000.00")),
    }
    name = rel(path, landing)
    assert assert_conserved(con, ORDER_LINES, name, len(records)) == (4, 5)

    # a declared date format: day-month-year in a production batch delivery
    batches = dataclasses.replace(
        BATCHES,
        also=(
            FileSpec("partijen*.csv", "csv", delimiter=";", date_format="%d-%m-%Y", declared=True),
        ),
    )
    bpath = landing / "purchasing" / "partijen.csv"
    bpath.write_text(
        "batch_id;product_id;supplier_id;received_date;units_received\n"
        "B1;P1;S1;05-01-2026;1000\n"
        "B2;P1;S1;2026-01-06;10\n"  # ISO, not the declared format
        "B3;P1;S1;31-02-2026;10\n"  # no such day
        "B4;P1;S1;05-01-2026;1.000\n"  # no thousands separator declared
    )
    load_entity(con, batches, landing)
    assert con.execute(
        "select batch_id, received_date, units_received from raw.production_batches"
    ).fetchall() == [("B1", date(2026, 1, 5), 1000)]
    why = reasons(con, rel(bpath, landing))
    assert set(why) == {2, 3, 4}
    assert "received_date" in why[2] and "received_date" in why[3]
    assert "units_received" in why[4]
    assert assert_conserved(con, BATCHES, rel(bpath, landing), 4) == (1, 3)


# ------------------------------------------------------------------------------ defect 02
def _landing_with_strays(landing: Path) -> dict[str, str]:
    """Files the contracts do not accept, each with the status it must get."""
    (landing / "returns" / "returns_2026-08.csv").write_text(
        RET_HEADER + "R1,O1,O1-1,SKU1,1,OTHER,,2026-08-05 10:00:00,,,,,,refund,10.00\n"
    )
    pd.DataFrame({"rma_id": ["R2"]}).to_excel(landing / "returns" / "returns_2026-09.xlsx")
    (landing / "misc").mkdir()
    (landing / "misc" / "notes.txt").write_text("call the shop\n")
    (landing / "readme.txt").write_text("hello\n")
    (landing / "shop" / "2026").mkdir()
    (landing / "shop" / "2026" / "orders_2026-01.csv").write_text("order_id\nO1\n")
    (landing / "shop" / ".DS_Store").write_bytes(b"\x00\x01")
    (landing / "ground_truth.json").write_text("{}")
    return {
        "returns/returns_2026-08.csv": "loaded",
        "returns/returns_2026-09.xlsx": "unrecognised",
        "misc/notes.txt": "unrecognised",
        "readme.txt": "unrecognised",
        "shop/2026/orders_2026-01.csv": "unrecognised",
        "shop/.DS_Store": "ignored",
        "ground_truth.json": "ignored",
    }


def test_defect02_every_file_under_the_landing_folder_is_accounted_for(con, landing):
    expected = _landing_with_strays(landing)
    on_disk = {p.relative_to(landing).as_posix() for p in landing.rglob("*") if p.is_file()}
    assert on_disk == set(expected)
    load_all(con, landing)
    latest = dict(
        con.execute(
            "select source_file, status from raw.load_audit "
            "qualify row_number() over (partition by source_file order by finished_at desc) = 1"
        ).fetchall()
    )
    assert latest == expected
    xlsx = audit_of(con, "returns/returns_2026-09.xlsx")
    assert "returns_*.csv" in xlsx["error"]  # the pattern it failed to match
    assert "returns/returns_2026-09.xlsx" in xlsx["error"] and "CSV" in xlsx["error"]
    assert "known source" in audit_of(con, "misc/notes.txt")["error"]
    assert "orders_*.csv" in audit_of(con, "shop/2026/orders_2026-01.csv")["error"]
    assert "demo ground truth" in audit_of(con, "ground_truth.json")["error"]
    assert "hidden" in audit_of(con, "shop/.DS_Store")["error"]
    # a second run adds no audit rows for files that did not change
    before = con.execute("select count(*) from raw.load_audit").fetchall()[0][0]
    load_all(con, landing)
    assert con.execute("select count(*) from raw.load_audit").fetchall()[0][0] == before
    # a removed stray file is no longer listed as waiting
    (landing / "readme.txt").unlink()
    load_all(con, landing)
    assert audit_of(con, "readme.txt")["status"] == "gone"

    # the published audit mart (its SQL run against this warehouse) lists them all
    sql = (PROJECT_ROOT / "models/marts/reports/rpt_load_audit.sql").read_text()
    sql = re.sub(r"\{#.*?#\}", "", sql, flags=re.S)
    sql = sql.replace("{{ source('loader', 'load_audit') }}", "raw.load_audit")
    mart = con.execute(
        f"select landing_path, status from ({sql}) where is_latest_load_of_file"
    ).fetchall()
    assert dict(mart) == {**expected, "readme.txt": "gone"}


def test_defect02_the_dagster_ingest_log_and_data_health_list_unrecognised_files(
    tmp_path, landing, monkeypatch
):
    import dagster as dg

    from orchestration.defs.ingest import assets as ingest

    expected = _landing_with_strays(landing)
    monkeypatch.setenv("RETURNLENS_LANDING_DIR", str(landing))
    monkeypatch.setenv("RETURNLENS_WAREHOUSE", str(tmp_path / "dagster_w.duckdb"))
    defs = ingest.defs()
    all_assets = list(defs.assets)
    with dg.DagsterInstance.ephemeral() as instance:
        result = dg.materialize(all_assets, instance=instance)
        assert result.success
        logs = "\n".join(r.user_message for r in instance.all_logs(result.run_id) if r.user_message)
    for name, status in expected.items():
        if status != "loaded":
            assert name in logs, name
    assert "returns_*.csv" in logs
    # the Data health page lists them from the published audit mart
    from dashboard.views import data_health

    sql = (PROJECT_ROOT / "models/marts/reports/rpt_load_audit.sql").read_text()
    sql = re.sub(r"\{#.*?#\}", "", sql, flags=re.S)
    sql = sql.replace("{{ source('loader', 'load_audit') }}", "w.raw.load_audit")
    serving = tmp_path / "serving.duckdb"
    with duckdb.connect(str(serving)) as s:
        s.execute(f"attach '{tmp_path / 'dagster_w.duckdb'}' as w (read_only)")
        s.execute("create schema marts")
        s.execute(f"create table marts.rpt_load_audit as {sql}")
    monkeypatch.setenv("RETURNLENS_SERVING", str(serving))
    listed = data_health.unloaded_files()
    assert dict(zip(listed["landing_path"], listed["status"], strict=True)) == {
        k: v for k, v in expected.items() if v != "loaded"
    }
    assert listed["error"].str.len().gt(0).all()


# ------------------------------------------------------------------------------ defect 03
def test_defect03_a_file_that_fails_is_audited_with_its_row_count(con, landing):
    # ';'-delimited with a column the contract does not know: no delimiter is detected
    semicolon = landing / "purchasing" / "suppliers.csv"
    semicolon.write_text(
        SUP_HEADER.replace(",", ";").replace("\n", ";note\n") + "S1;Acme;NL;10;x\nS2;Beta;DE;5;y\n"
    )
    truncated = landing / "web" / "events_2026-01.jsonl"
    event = {
        "event_id": "E1",
        "session_id": "S1",
        "event_type": "session_start",
        "event_at": "2026-01-05 10:00:00",
        "device": "mobile",
        "traffic_source": "direct",
    }
    truncated.write_text(
        json.dumps(event)
        + "\n"
        + json.dumps({**event, "event_id": "E2"})
        + "\n"
        + json.dumps({**event, "event_id": "E3"})[:30]
    )
    broken_xlsx = landing / "surveys" / "nps_2026-01.xlsx"
    pd.DataFrame({"response_id": ["N1"]}).to_excel(broken_xlsx, index=False)
    broken_xlsx.write_bytes(broken_xlsx.read_bytes()[:200])
    header_only = landing / "purchasing" / "batches.csv"
    header_only.write_text("batch_id,product_id,supplier_id,received_date,units_received\n")
    load_all(con, landing)

    with semicolon.open(newline="") as fh:
        lines = fh.read().splitlines()
    assert audit_of(con, "purchasing/suppliers.csv")["rows_in"] == len(lines) - 1 == 2
    jsonl_lines = truncated.read_text().splitlines()
    assert audit_of(con, "web/events_2026-01.jsonl")["rows_in"] == len(jsonl_lines) == 3
    unknown = audit_of(con, "surveys/nps_2026-01.xlsx")
    assert unknown["status"] == "failed" and unknown["rows_in"] is None
    assert "unknown" in unknown["error"]
    assert audit_of(con, "purchasing/batches.csv")["rows_in"] == 0
    for name in ("purchasing/suppliers.csv", "web/events_2026-01.jsonl"):
        a = audit_of(con, name)
        assert (a["status"], a["rows_loaded"], a["rows_quarantined"]) == ("failed", 0, 0)


# ------------------------------------------------------------------------------ defect 05
PII = ("anna.devries@example.nl", "Dorpsstraat 5", "0612345678", "O0001818-1")


def _no_pii(text: str | None) -> None:
    for value in PII:
        assert value not in (text or ""), (value, text)


def test_defect05_errors_and_reasons_never_quote_row_content(con, landing):
    cust = landing / "shop" / "customers.csv"
    # a data row with one field too many: DuckDB once took it as the header and quoted it
    row = (
        "C{},Anna,de Vries,anna.devries@example.nl,0612345678,Dorpsstraat 5,1234AB,Utrecht,NL,"
        "2025-01-01 00:00:00\n"
    )
    good = "".join(row.format(i) for i in range(30))
    cust.write_text(CUST_HEADER + good + row.format(99).replace("Dorpsstraat 5", "Dorpsstraat 5,b"))
    semicolon = landing / "shop" / "order_lines_2026-01.csv"
    semicolon.write_text(
        "O0001818-1;O0001818;1;SKU1;1;10.00;0.00;B1\nO0001818-2;O0001818;2;SKU1;1;10.00;0.00;B1\n"
    )
    # the shop profile closes the country set: an e-mail address in country_code is quarantined
    (landing / "returnlens.yml").write_text("values: {country: {closed: [NL, BE, DE]}}\n")
    bad_values = landing / "shop" / "customers_b.csv"
    bad_values.write_text(
        CUST_HEADER
        + "C2,Bob,Jansen,b@example.nl,,Kerkweg 2,5678CD,Gent,anna.devries@example.nl,2025-01-02 00:00:00\n"
        + "C3,Eva,Smit,e@example.nl,,Laan 3,1111AA,Gent,BE,Dorpsstraat 5\n"
    )
    results = load_all(con, landing)
    errors = [f.error for r in results for f in r.files]
    for text in errors:
        _no_pii(text)
    for (text,) in con.execute(
        "select error from raw.load_audit union all select error from raw.quarantine_files "
        "union all select reason from raw.quarantine_rows"
    ).fetchall():
        _no_pii(text)
    assert audit_of(con, "shop/customers.csv")["status"] == "failed"
    assert "line 32 has 11 fields" in audit_of(con, "shop/customers.csv")["error"]
    assert audit_of(con, "shop/customers.csv")["rows_in"] == 31
    assert audit_of(con, "shop/order_lines_2026-01.csv")["status"] == "failed"
    why = reasons(con, "shop/customers_b.csv")
    assert "country_code" in why[1] and "created_at" in why[2]
    # the raw record keeps the value (raw may hold it)
    record = con.execute(
        "select raw_record from raw.quarantine_rows where source_file = 'shop/customers_b.csv' "
        "and file_row_number = 1"
    ).fetchall()[0][0]
    assert json.loads(record)["country_code"] == "anna.devries@example.nl"


# ------------------------------------------------------------------------------ defect 09
def test_defect09_file_names_with_glob_characters_are_read_literally(con, landing):
    files = {
        "returns_1.csv": ["A1", "A2"],
        "returns_[1].csv": ["B1"],
        "returns_?.csv": ["C1", "C2", "C3"],
        "returns_*.csv": ["D1"],
    }
    for fname, rmas in files.items():
        (landing / "returns" / fname).write_text(
            RET_HEADER
            + "".join(
                f"{r},O{r},O{r}-1,SKU1,{n + 1},OTHER,{fname},2026-01-05 10:00:00,,,,,,refund,1.00\n"
                for n, r in enumerate(rmas)
            )
        )
    ords = landing / "shop" / "orders_*.csv"
    ords.write_text(
        ",".join(c.name for c in entity("orders").columns)
        + "\nX1,C1,,2026-01-01 09:00:00,web,NL,,,20.00,\n"
    )
    load_all(con, landing)
    got = sorted(
        con.execute(
            "select rma_id, quantity, reason_text, _source_file from raw.returns"
        ).fetchall()
    )
    expected = sorted(
        (r["rma_id"], int(r["quantity"]), r["reason_text"], f"returns/{fname}")
        for fname in files
        for r in csv_records(landing / "returns" / fname)
    )
    assert got == expected and len(got) == 7
    assert con.execute("select count(*) from raw.quarantine_rows").fetchall() == [(0,)]
    assert con.execute("select order_id, _source_file from raw.orders").fetchall() == [
        ("X1", "shop/orders_*.csv")
    ]
    for fname, rmas in files.items():
        assert assert_conserved(con, RETURNS, f"returns/{fname}", len(rmas)) == (len(rmas), 0)


# ------------------------------------------------------------------------------ defect 10
def test_defect10_symlinks_leaving_the_landing_folder_are_refused_unread(con, landing, tmp_path):
    secret = tmp_path / "outside" / "passwd"
    secret.parent.mkdir()
    secret.write_text(SUP_HEADER + "root,x:0:0:root,NL,1\n")
    (landing / "purchasing" / "suppliers_evil.csv").symlink_to(secret)
    (landing / "shop" / "linked").symlink_to(secret.parent, target_is_directory=True)
    good = landing / "purchasing" / "suppliers.csv"
    good.write_text(SUP_HEADER + "S1,Acme,NL,10\n")
    (landing / "purchasing" / "suppliers_inside.csv").symlink_to(good)
    load_all(con, landing)
    assert con.execute("select supplier_id from raw.suppliers").fetchall() == [("S1",)]
    for name in ("purchasing/suppliers_evil.csv", "shop/linked", "purchasing/suppliers_inside.csv"):
        a = audit_of(con, name)
        assert a["status"] == "refused", (name, a)
        assert "symbolic link" in a["error"]
    assert "outside the landing folder" in audit_of(con, "purchasing/suppliers_evil.csv")["error"]
    everything = con.execute(
        "select string_agg(coalesce(error, ''), ' ') from raw.load_audit"
    ).fetchall()[0][0]
    assert "root" not in everything.replace("landing", "") and "x:0:0" not in everything
    assert con.execute("select count(*) from raw.quarantine_rows").fetchall() == [(0,)]


# ------------------------------------------------------------------------------ defect 11
def test_defect11_moving_the_data_folder_loads_nothing_twice(con, landing, tmp_path):
    path = landing / "purchasing" / "suppliers.csv"
    path.write_text(SUP_HEADER + "S1,Acme,NL,10\nS2,Beta,DE,-5\n")
    load_all(con, landing)
    moved = tmp_path / "elsewhere" / "landing"
    shutil.move(str(landing), str(moved))
    res = {r.entity: r for r in load_all(con, moved)}
    assert res["suppliers"].count("unchanged") == 1 and res["suppliers"].rows_loaded == 0
    assert con.execute("select supplier_id, _source_file from raw.suppliers").fetchall() == [
        ("S1", "purchasing/suppliers.csv")
    ]
    assert con.execute("select reason from raw.quarantine_rows").fetchall() == [
        ("lead_time_days below minimum 0",)
    ]

    # a warehouse written by an earlier version (absolute paths) is migrated in place
    old_root = "/srv/old/data/landing"
    for table, col in (
        ("raw.suppliers", "_source_file"),
        ("raw.quarantine_rows", "source_file"),
        ("raw.load_audit", "source_file"),
    ):
        con.execute(f"update {table} set {col} = '{old_root}/' || {col}")
    res = {r.entity: r for r in load_all(con, moved)}
    assert res["suppliers"].count("unchanged") == 1
    assert con.execute("select _source_file from raw.suppliers").fetchall() == [
        ("purchasing/suppliers.csv",)
    ]
    assert con.execute("select source_file from raw.quarantine_rows").fetchall() == [
        ("purchasing/suppliers.csv",)
    ]
    # a changed file reloads and replaces its rows; nothing is quarantined as a duplicate
    (moved / "purchasing" / "suppliers.csv").write_text(SUP_HEADER + "S1,Acme BV,NL,10\n")
    load_all(con, moved)
    assert con.execute("select supplier_name from raw.suppliers").fetchall() == [("Acme BV",)]
    assert con.execute("select count(*) from raw.quarantine_rows").fetchall() == [(0,)]
    assert assert_conserved(con, SUPPLIERS, "purchasing/suppliers.csv", 1) == (1, 0)


# ------------------------------------------------------------------------------ defect 13
def test_defect13_load_messages_name_the_real_cause_and_the_fix(con, landing):
    p = landing / "purchasing"
    cases = {
        # a column the contract does not know: the header does not settle the delimiter
        "suppliers_semicolon.csv": (
            (SUP_HEADER.replace(",", ";").replace("\n", ";note\n") + "S1;Acme;NL;10;x\n").encode(),
            ["looks ';'-delimited", "declare delimiter ';'"],
        ),
        "suppliers_tab.csv": (
            (
                SUP_HEADER.replace(",", "\t").replace("\n", "\tnote\n") + "S1\tAcme\tNL\t10\tx\n"
            ).encode(),
            ["looks tab-delimited", "declare delimiter"],
        ),
        "suppliers_comma.csv": (
            (
                SUP_HEADER
                + "".join(f"S{i},Acme,NL,{i}\n" for i in range(30))
                + "S99,Acme, Inc,NL,3\n"
            ).encode(),
            ["line 32 has 5 fields where the header has 4", "unquoted ','"],
        ),
        "suppliers_excel.csv": (
            _xlsx_bytes(),
            ["Excel workbook saved with a .csv name", "export as CSV or name it .xlsx"],
        ),
        "suppliers_long.csv": (
            (SUP_HEADER + "S1,Acme,NL,1\nS2," + "x" * 3_000_000 + ",NL,10\n").encode(),
            ["line 3 has a field longer than"],
        ),
        # UTF-8 and Windows-1252 in one file: no encoding is detected
        "suppliers_euro.csv": (
            (SUP_HEADER + "S0,Caf\xe9,NL,1\n").encode()
            + "S1,Caf\xe9 \u20ac,NL,10\n".encode("cp1252"),
            ["mixes UTF-8", 'encoding: "cp1252"', "deliveries.suppliers"],
        ),
    }
    for fname, (data, _) in cases.items():
        (p / fname).write_bytes(data)
    load_entity(con, SUPPLIERS, landing)
    for fname, (_data, fragments) in cases.items():
        a = audit_of(con, f"purchasing/{fname}")
        assert a["status"] == "failed", (fname, a)
        for fragment in fragments:
            assert fragment in a["error"], (fname, fragment, a["error"])
        assert "supplier_id;supplier_name" not in a["error"]  # no header values quoted
        assert "Acme" not in a["error"] and "xxxx" not in a["error"]
    assert "latin-1" not in audit_of(con, "purchasing/suppliers_euro.csv")["error"]
    # rows of failed text files are counted (lines minus header)
    assert audit_of(con, "purchasing/suppliers_comma.csv")["rows_in"] == 31
    assert audit_of(con, "purchasing/suppliers_excel.csv")["rows_in"] == 2
    assert audit_of(con, "purchasing/suppliers_euro.csv")["rows_in"] == 2


def _xlsx_bytes() -> bytes:
    buf = io.BytesIO()
    pd.DataFrame(
        {
            "supplier_id": ["S1", "S2"],
            "supplier_name": ["A", "B"],
            "country_code": ["NL", "NL"],
            "lead_time_days": [1, 2],
        }
    ).to_excel(buf, index=False)
    return buf.getvalue()


def test_defect13_cp1252_is_a_supported_encoding_and_trailing_commas_load_exactly(con, landing):
    path = landing / "purchasing" / "suppliers.csv"
    text = SUP_HEADER + "S1,Caf\xe9 \u20ac \u2018ok\u2019,NL,10\nS2,Bäckerei,DE,5\n"
    path.write_bytes(text.encode("cp1252"))
    cp = dataclasses.replace(SUPPLIERS, encoding="cp1252")
    res = load_entity(con, cp, landing)
    assert [(f.status, f.rows_loaded) for f in res.files] == [("loaded", 2)]
    expected = sorted(
        (r["supplier_id"], r["supplier_name"]) for r in csv_records(path, encoding="cp1252")
    )
    assert (
        con.execute("select supplier_id, supplier_name from raw.suppliers order by 1").fetchall()
        == expected
    )
    assert expected[0][1] == "Caf\xe9 \u20ac \u2018ok\u2019"
    assert assert_conserved(con, SUPPLIERS, "purchasing/suppliers.csv", 2) == (2, 0)

    # trailing commas on data rows only: every data row loads with its values, none is a header
    trail = landing / "purchasing" / "suppliers_b.csv"
    trail.write_text(SUP_HEADER + "".join(f"T{i},Name {i},NL,{i}," + "\n" for i in range(40)))
    load_entity(con, SUPPLIERS, landing)
    got = con.execute(
        "select supplier_id, supplier_name, lead_time_days from raw.suppliers "
        "where _source_file = 'purchasing/suppliers_b.csv' order by _file_row_number"
    ).fetchall()
    assert got == [(f"T{i}", f"Name {i}", i) for i in range(40)]
    assert assert_conserved(con, SUPPLIERS, "purchasing/suppliers_b.csv", 40) == (40, 0)


# ------------------------------------------------------------------------------ defect 14
def test_defect14_excel_artefacts_are_quarantined_with_the_fix(con, landing):
    path = landing / "shop" / "customers.csv"
    path.write_text(
        CUST_HEADER
        + "C1,Anna,Bakker,a@example.nl,4.92E+11,Laan 1,1234AB,Utrecht,NL,2025-01-01 00:00:00\n"
        + '"=""C2""",Bob,Jansen,b@example.nl,,Laan 2,1234AB,Utrecht,NL,2025-01-01 00:00:00\n'
        + "C3,Eva,Smit,e@example.nl,+31 6 1234,Laan 3,1234AB,Utrecht,NL,2025-01-01 00:00:00\n"
        + "C4,Jan,Vos,j@example.nl,,Laan 4,1.23E+05,Utrecht,NL,2025-01-01 00:00:00\n"
    )
    records = csv_records(path)
    assert records[1]["customer_id"] == '="C2"'
    load_entity(con, CUSTOMERS, landing)
    assert con.execute("select customer_id, phone from raw.customers").fetchall() == [
        ("C3", "+31 6 1234")
    ]
    why = reasons(con, "shop/customers.csv")
    assert "phone" in why[1] and "scientific notation" in why[1] and "text" in why[1]
    assert "customer_id" in why[2] and '="…"' in why[2]
    assert "postal_code" in why[4] and "scientific notation" in why[4]
    assert "4.92E+11" not in " ".join(why.values())
    assert assert_conserved(con, CUSTOMERS, "shop/customers.csv", len(records)) == (1, 3)


def test_defect02_the_published_audit_accounts_for_every_file_of_the_pipeline_run(pipeline_run):
    """The real pipeline (Dagster, dbt) publishes every landing file, ground_truth.json and the
    shop profile returnlens.yml as ignored (the demo writes both at the landing root), and
    nothing else unaccounted for."""
    assert pipeline_run.success
    on_disk = {
        p.relative_to(pipeline_run.landing).as_posix()
        for p in pipeline_run.landing.rglob("*")
        if p.is_file()
    }
    with duckdb.connect(str(pipeline_run.serving), read_only=True) as served:
        latest = dict(
            served.execute(
                "select landing_path, status from marts.rpt_load_audit where is_latest_load_of_file"
            ).fetchall()
        )
        errors = served.execute(
            "select error from marts.rpt_load_audit where landing_path = 'ground_truth.json'"
        ).fetchall()
    assert set(latest) == on_disk
    assert latest["ground_truth.json"] == "ignored"
    assert latest["returnlens.yml"] == "ignored"  # the shop profile: read, not loaded as data
    assert "demo ground truth" in errors[0][0]
    assert {s for p, s in latest.items() if p not in ("ground_truth.json", "returnlens.yml")} == {
        "loaded"
    }


def test_excel_text_cells_that_look_like_missing_values_load_as_their_text(con, landing):
    """Found by the fuzz test: pandas took the texts 'NaN', 'NULL', 'n/a', 'None' in an Excel
    workbook for missing values, so a comment 'NULL' loaded as null. Only an empty cell is null."""
    from openpyxl import Workbook

    nps = entity("nps_responses")
    header = [c.name for c in nps.columns]
    texts = ["NaN", "NULL", "n/a", "None", "nan", "-", "N/A"]
    wb = Workbook()
    ws = wb.active
    ws.append(header)
    for i, text in enumerate(texts):
        row = {
            "response_id": f"N{i}",
            "customer_id": "C1",
            "order_id": None,
            "touchpoint": "post_delivery",
            "responded_at": "2026-01-05 10:00:00",
            "score": 7,
            "rating": None,
            "comment": text,
        }
        ws.append([row[h] for h in header])
    path = landing / "surveys" / "nps_2026-01.xlsx"
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(path)
    load_all(con, landing)
    got = con.execute(
        "select response_id, comment, rating, order_id from raw.nps_responses order by 1"
    ).fetchall()
    assert got == [(f"N{i}", text, None, None) for i, text in enumerate(texts)]


def test_defect14_postal_codes_that_lost_their_leading_zero_are_quarantined(con, landing):
    """Excel reads 01067 (Dresden) as the number 1067: in a country whose postal codes are all
    digits of a fixed length, a shorter all-digit code lost its leading zero(s). Quarantined with
    the fix, never loaded as 1067; a code with its zero, other countries' formats and the erasure
    placeholder load unchanged."""
    customers = entity("customers")
    header = ",".join(c.name for c in customers.columns)
    rows = {
        "C1": ("Teststraat 1", "1067", "Dresden", "DE"),  # lost its zero
        "C2": ("Teststraat 2", "01067", "Dresden", "DE"),
        "C3": ("Teststraat 3", "1234 AB", "Utrecht", "NL"),
        "C4": ("Teststraat 4", "1000", "Brussel", "BE"),
        "C5": ("erased", "erased", "erased", "DE"),  # forget-customer's placeholder
        "C6": ("Teststraat 6", "999", "Somewhere", "DE"),  # two zeros lost
    }
    lines = [header] + [
        f"{cid},Anna,Test,{cid.lower()}@example.invalid,,{street},{pc},{city},{cc},"
        "2026-01-05 10:00:00"
        for cid, (street, pc, city, cc) in rows.items()
    ]
    path = landing / "shop" / "customers.csv"
    path.write_text("\n".join(lines) + "\n")
    load_all(con, landing)
    loaded = dict(con.execute("select customer_id, postal_code from raw.customers").fetchall())
    assert loaded == {cid: rows[cid][1] for cid in ("C2", "C3", "C4", "C5")}
    got = dict(
        con.execute(
            "select json_extract_string(raw_record, '$.customer_id'), reason "
            "from raw.quarantine_rows"
        ).fetchall()
    )
    assert set(got) == {"C1", "C6"}
    for reason in got.values():
        assert "postal_code" in reason and "leading zero" in reason and "text" in reason
        assert "1067" not in reason and "999" not in reason
    assert assert_conserved(con, customers, "shop/customers.csv", 6) == (4, 2)


def test_a_file_name_that_is_not_utf8_is_refused_and_the_rest_loads(con, landing):
    """Found in review: a name like b'suppliers_M\\xe4rz.csv' (Latin-1 bytes from a Windows zip)
    crashed the whole load, so the valid file beside it was not loaded and nothing audited."""
    import os

    good = landing / "purchasing" / "suppliers.csv"
    good.write_text(
        "supplier_id,supplier_name,country_code,lead_time_days\nS1,Acme,NL,10\nS2,Beta,DE,5\n"
    )
    odd = os.path.join(os.fsencode(landing / "purchasing"), b"suppliers_M\xe4rz.csv")
    with open(odd, "wb") as fh:
        fh.write(b"supplier_id,supplier_name,country_code,lead_time_days\nS3,Gamma,BE,7\n")
    load_all(con, landing)
    assert con.execute("select supplier_id from raw.suppliers order by 1").fetchall() == [
        ("S1",),
        ("S2",),
    ]
    audit = con.execute(
        "select source_file, status, error from raw.load_audit where source_file like '%rz.csv'"
    ).fetchall()
    assert len(audit) == 1, audit
    name, status, error = audit[0]
    assert name == "purchasing/suppliers_M\\xe4rz.csv"  # the odd byte written out
    assert status == "refused"
    assert "UTF-8" in error and "rename" in error.lower()
    assert "Gamma" not in error


def test_an_excel_header_naming_a_column_twice_fails_the_file(con, landing):
    """Found in review: pandas renames a repeated Excel header ('comment', 'comment.1'), so the
    first copy loaded silently and the second went to _extra; like a CSV, the file must fail."""
    from openpyxl import Workbook

    nps = entity("nps_responses")
    header = [c.name for c in nps.columns] + ["comment"]
    wb = Workbook()
    wb.active.append(header)
    wb.active.append(["N1", "C1", "", "post_delivery", "2026-01-05 10:00:00", 7, 4, "a", "b"])
    path = landing / "surveys" / "nps_2026-01.xlsx"
    wb.save(path)
    load_all(con, landing)
    audit = audit_of(con, "surveys/nps_2026-01.xlsx")
    assert audit["status"] == "failed"
    assert "more than once" in audit["error"] and "comment" in audit["error"]
    assert audit["rows_in"] == 1
    assert con.execute("select count(*) from raw.nps_responses").fetchall() == [(0,)]
