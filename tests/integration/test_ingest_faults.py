"""Fault injection for the loader: every way a delivery goes wrong, with its exact outcome.

Each case uses small hand-made files (or the demo generator at a tiny scale, dirty mode) in a
temp folder. Expected counts are computed independently of the loader, by reading the landing
file with Python's csv module; the conservation rule (rows in the file = rows loaded + rows
quarantined) is asserted against the tables themselves.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import os
import time
from pathlib import Path

import pandas as pd
import pytest

from returnlens.ingest import contracts, loader
from returnlens.ingest.contracts import entity
from returnlens.ingest.loader import load_all, load_entity
from returnlens.ingest.privacy import forget_customer
from returnlens.ingest.quarantine import replay, summary

pytestmark = pytest.mark.integration

SUPPLIERS = entity("suppliers")
RETURNS = entity("returns")
HEADER = "supplier_id,supplier_name,country_code,lead_time_days\n"
RET_HEADER = ",".join(c.name for c in RETURNS.columns if c.name != "status") + "\n"


def ret_row(rma, order, qty="1", reason="SIZE_TOO_SMALL", requested="2026-01-05 10:00:00"):
    return f"{rma},{order},{order}-1,SKU1,{qty},{reason},,{requested},,,,,,refund,10.00\n"


def rel(path: Path) -> str:
    """A landing file's identity in the warehouse: its path under the landing folder."""
    return f"{path.parent.name}/{path.name}"


def csv_rows(path: Path, encoding: str = "utf-8") -> int:
    """Data rows of a CSV file, counted by Python's csv module (independent of the loader)."""
    with path.open(encoding=encoding, newline="") as fh:
        return sum(1 for _ in csv.reader(fh)) - 1


def in_tables(con, ent, path) -> tuple[int, int]:
    loaded = con.execute(
        f"select count(*) from {ent.table} where _source_file = ?", [rel(path)]
    ).fetchall()[0][0]
    quarantined = con.execute(
        "select count(*) from raw.quarantine_rows where entity = ? and source_file = ?",
        [ent.name, rel(path)],
    ).fetchall()[0][0]
    return loaded, quarantined


def last_audit(con, path) -> dict:
    cols = ["status", "rows_in", "rows_loaded", "rows_quarantined", "error", "extra_columns"]
    rows = con.execute(
        f"select {', '.join(cols)} from raw.load_audit where source_file = ? "
        "order by finished_at desc limit 1",
        [rel(path)],
    ).fetchall()
    return dict(zip(cols, rows[0], strict=True))


def assert_conserved(con, ent, path, encoding="utf-8"):
    """rows in the file (csv module) = loaded + quarantined (tables) = the audit's figures."""
    n = csv_rows(path, encoding)
    loaded, quarantined = in_tables(con, ent, path)
    audit = last_audit(con, path)
    assert n == loaded + quarantined == audit["rows_in"]
    assert (audit["rows_loaded"], audit["rows_quarantined"]) == (loaded, quarantined)
    return loaded, quarantined


# ------------------------------------------------------------------------- duplicates
def test_same_file_twice_adds_nothing_and_a_copy_under_another_name_is_all_duplicates(con, landing):
    first = landing / "purchasing" / "suppliers.csv"
    first.write_text(HEADER + "S1,Acme,NL,10\nS2,Beta,DE,5\n")
    load_entity(con, SUPPLIERS, landing)
    again = load_entity(con, SUPPLIERS, landing)
    assert [f.status for f in again.files] == ["unchanged"]
    assert con.execute("select count(*) from raw.load_audit").fetchall() == [(1,)]
    copy = landing / "purchasing" / "suppliers_copy.csv"
    copy.write_bytes(first.read_bytes())
    res = load_entity(con, SUPPLIERS, landing)
    assert [(f.status, f.rows_loaded, f.rows_quarantined) for f in res.files] == [
        ("unchanged", 0, 0),
        ("loaded", 0, 2),
    ]
    reasons = {r for (r,) in con.execute("select reason from raw.quarantine_rows").fetchall()}
    assert reasons == {f"duplicate key: already loaded from {rel(first)}"}
    assert con.execute("select count(*) from raw.suppliers").fetchall() == [(2,)]
    assert assert_conserved(con, SUPPLIERS, copy) == (0, 2)


def test_corrected_redelivery_replaces_rows_and_clears_its_old_quarantine(con, landing):
    path = landing / "purchasing" / "suppliers.csv"
    path.write_text(HEADER + "S1,Acme,NL,10\nS2,Beta,DE,-5\n")
    load_entity(con, SUPPLIERS, landing)
    assert assert_conserved(con, SUPPLIERS, path) == (1, 1)
    path.write_text(HEADER + "S1,Acme BV,NL,10\nS2,Beta,DE,5\nS3,Gamma,BE,7\n")
    res = load_entity(con, SUPPLIERS, landing)
    assert [(f.status, f.rows_loaded, f.rows_quarantined) for f in res.files] == [("loaded", 3, 0)]
    assert con.execute("select supplier_name from raw.suppliers order by 1").fetchall() == [
        ("Acme BV",),
        ("Beta",),
        ("Gamma",),
    ]
    assert assert_conserved(con, SUPPLIERS, path) == (3, 0)


# ------------------------------------------------------------------------- bad files
def _lines(path: Path) -> int:
    """Lines of a file (a last line without a line end counts), independent of the loader."""
    return len(path.read_bytes().splitlines())


def _fails(con, landing, ent, path, *fragments, rows_in=None):
    """The file failed whole with these fragments in its message; its rows are counted
    (`rows_in`: lines minus the header for CSV, lines for JSON lines, None when unknowable)."""
    res = load_entity(con, ent, landing)
    (result,) = [f for f in res.files if f.source_file == rel(path)]
    assert result.status == "failed", result
    for fragment in (rel(path), *fragments):
        assert fragment in result.error, (fragment, result.error)
    audit = last_audit(con, path)
    assert (audit["status"], audit["rows_loaded"], audit["rows_quarantined"]) == ("failed", 0, 0)
    assert audit["rows_in"] == rows_in == result.rows_in
    assert audit["error"] == result.error
    qf = con.execute(
        "select error from raw.quarantine_files where source_file = ?", [rel(path)]
    ).fetchall()
    assert qf == [(result.error,)]
    return result.error


def test_truncated_csv_mid_quoted_field_fails_and_earlier_rows_stay(con, landing):
    path = landing / "purchasing" / "suppliers.csv"
    path.write_text(HEADER + "S1,Acme,NL,10\n")
    load_entity(con, SUPPLIERS, landing)
    path.write_text(HEADER + 'S1,Acme,NL,10\nS2,"Beta Ind')
    _fails(
        con,
        landing,
        SUPPLIERS,
        path,
        "truncated",
        "cut off mid-row",
        "deliver it again",
        rows_in=_lines(path) - 1,
    )
    assert con.execute("select supplier_id from raw.suppliers").fetchall() == [("S1",)]


def test_truncated_csv_mid_row_fails_with_field_counts(con, landing):
    path = landing / "purchasing" / "suppliers.csv"
    rows = "".join(f"S{i},Supplier {i},NL,{i}\n" for i in range(3000))
    path.write_text(HEADER + rows + "S9999,Cut")
    _fails(
        con,
        landing,
        SUPPLIERS,
        path,
        "the last line has 2 fields where the header has 4",
        "truncated",
        rows_in=3001,
    )
    assert con.execute("select count(*) from raw.suppliers").fetchall() == [(0,)]


def test_truncated_jsonl_mid_object_fails(con, landing):
    ent = entity("web_events")
    path = landing / "web" / "events_2026-01.jsonl"
    good = {
        "event_id": "E1",
        "session_id": "S1",
        "customer_id": None,
        "event_type": "session_start",
        "event_at": "2026-01-05 10:00:00",
        "sku": None,
        "device": "mobile",
        "traffic_source": "direct",
    }
    path.write_text(json.dumps(good) + "\n" + json.dumps({**good, "event_id": "E2"})[:40])
    _fails(con, landing, ent, path, "cut off mid-object", "JSON lines", rows_in=_lines(path))


def test_wrong_delimiter_fails_with_a_hint(con, landing):
    path = landing / "purchasing" / "suppliers.csv"
    # a column the contract does not know: the header does not settle the delimiter
    path.write_text(HEADER.replace(",", ";").replace("\n", ";note\n") + "S1;Acme;NL;10;x\n")
    _fails(
        con,
        landing,
        SUPPLIERS,
        path,
        "looks ';'-delimited",
        "declare delimiter ';'",
        '`delimiter: ";"` under deliveries.suppliers in returnlens.yml',
        "required column(s) supplier_id",
        "deliver the file again",
        rows_in=_lines(path) - 1,
    )


def test_missing_or_renamed_required_column_fails(con, landing):
    path = landing / "purchasing" / "suppliers.csv"
    path.write_text("supplier_id,supplier_name,country_code,leadtime\nS1,Acme,NL,10\n")
    _fails(
        con,
        landing,
        SUPPLIERS,
        path,
        "missing required column(s) lead_time_days",
        "found supplier_id, supplier_name, country_code, leadtime",
        rows_in=_lines(path) - 1,
    )


def test_a_header_naming_a_column_twice_fails_the_file(con, landing):
    path = landing / "purchasing" / "suppliers.csv"
    path.write_text(
        "supplier_id,supplier_name,country_code,lead_time_days,supplier_name\nS1,Acme,NL,10,Other\n"
    )
    _fails(
        con,
        landing,
        SUPPLIERS,
        path,
        "more than once (supplier_name)",
        "ambiguous",
        rows_in=_lines(path) - 1,
    )
    assert con.execute("select count(*) from raw.suppliers").fetchall() == [(0,)]


def test_empty_and_header_only_files_fail(con, landing):
    empty = landing / "purchasing" / "suppliers.csv"
    empty.write_text("")
    header_only = landing / "purchasing" / "suppliers_b.csv"
    header_only.write_text(HEADER)
    good = landing / "purchasing" / "suppliers_c.csv"
    good.write_text(HEADER + "S1,Acme,NL,10\n")
    res = load_entity(con, SUPPLIERS, landing)
    status = {Path(f.source_file).name: (f.status, f.error) for f in res.files}
    assert status["suppliers.csv"][0] == "failed"
    assert "empty (0 bytes)" in status["suppliers.csv"][1]
    assert status["suppliers_b.csv"][0] == "failed"
    assert "header but no rows" in status["suppliers_b.csv"][1]
    assert status["suppliers_c.csv"] == ("loaded", None)
    assert assert_conserved(con, SUPPLIERS, good) == (1, 0)


# ------------------------------------------------------------------------- encodings
LATIN = HEADER + "S1,Café Müller,DE,10\nS2,Bäckerei Ørsted,NL,5\n"


# 0x81 is a (control) character in Latin-1 but none in Windows-1252
LATIN_C1 = HEADER + "S1,Caf\xe9 M\xfcller\x81,DE,10\n"


def test_undeclared_latin1_letters_load_as_windows_1252_with_the_same_letters(con, landing):
    """Latin-1 and Windows-1252 read 0xA0-0xFF as the same letters: an undeclared Latin-1 file
    is detected as Windows-1252 and loads the right text."""
    path = landing / "purchasing" / "suppliers.csv"
    path.write_bytes(LATIN.encode("latin-1"))
    res = load_entity(con, SUPPLIERS, landing)
    assert [(f.status, f.rows_loaded) for f in res.files] == [("loaded", 2)]
    with path.open(encoding="latin-1", newline="") as fh:
        expected = sorted(r["supplier_name"] for r in csv.DictReader(fh))
    got = con.execute("select supplier_name from raw.suppliers order by 1").fetchall()
    assert [n for (n,) in got] == expected == ["Bäckerei Ørsted", "Café Müller"]


def test_undeclared_bytes_in_no_detectable_encoding_fail_naming_the_byte_and_the_fix(con, landing):
    path = landing / "purchasing" / "suppliers.csv"
    path.write_bytes(LATIN_C1.encode("latin-1"))
    _fails(
        con,
        landing,
        SUPPLIERS,
        path,
        "not valid UTF-8 and not Windows-1252 either (byte 0x81",
        "line 2",
        '`encoding: "latin-1"`',
        "deliveries.suppliers in returnlens.yml",
        rows_in=_lines(path) - 1,
    )


def test_declared_latin1_loads_with_the_right_characters(con, landing):
    path = landing / "purchasing" / "suppliers.csv"
    path.write_bytes(LATIN.encode("latin-1"))
    latin = dataclasses.replace(SUPPLIERS, encoding="latin-1")
    res = load_entity(con, latin, landing)
    assert [(f.status, f.rows_loaded) for f in res.files] == [("loaded", 2)]
    assert con.execute("select supplier_name from raw.suppliers order by 1").fetchall() == [
        ("Bäckerei Ørsted",),
        ("Café Müller",),
    ]
    assert assert_conserved(con, SUPPLIERS, path, encoding="latin-1") == (2, 0)


def test_a_failed_file_is_retried_when_the_contract_changes(con, landing):
    path = landing / "purchasing" / "suppliers.csv"
    # ';'-delimited with a column the contract does not know: not detected, the file fails
    path.write_text(HEADER.replace(",", ";").replace("\n", ";note\n") + "S1;Acme;NL;10;x\n")
    assert load_entity(con, SUPPLIERS, landing).files[0].status == "failed"
    assert load_entity(con, SUPPLIERS, landing).files[0].status == "unchanged"
    semicolon = dataclasses.replace(SUPPLIERS, delimiter=";")
    assert load_entity(con, semicolon, landing).files[0].status == "loaded"
    assert summary(con).failed_files == []


# ------------------------------------------------------------------------- schema drift
def test_extra_column_is_kept_in_extra_and_named_in_the_audit(con, landing):
    path = landing / "purchasing" / "suppliers.csv"
    path.write_text(
        "supplier_id,supplier_name,vat_number,country_code,lead_time_days\n"
        "S1,Acme,NL001,NL,10\nS2,Beta,,DE,-1\n"
    )
    res = load_entity(con, SUPPLIERS, landing)
    assert [(f.status, f.rows_loaded, f.rows_quarantined) for f in res.files] == [("loaded", 1, 1)]
    assert res.files[0].extra_columns == ["vat_number"]
    (extra,) = con.execute("select _extra from raw.suppliers").fetchall()[0]
    assert json.loads(extra) == {"vat_number": "NL001"}
    audit = last_audit(con, path)
    assert audit["extra_columns"] == "vat_number"
    assert "extra columns kept in _extra: vat_number" in audit["error"]
    (record,) = con.execute("select raw_record from raw.quarantine_rows").fetchall()[0]
    assert json.loads(record) == {
        "supplier_id": "S2",
        "supplier_name": "Beta",
        "country_code": "DE",
        "lead_time_days": "-1",
        "_extra": {"vat_number": None},
    }
    assert assert_conserved(con, SUPPLIERS, path) == (1, 1)


# ------------------------------------------------------------------------- bad rows
def test_bad_dates_negative_quantities_unknown_codes_and_missing_keys(con, landing):
    path = landing / "returns" / "returns_2026-01.csv"
    path.write_text(
        RET_HEADER
        + ret_row("R1", "O1")
        + ret_row("R2", "O2", requested="2026-02-30 10:00:00")
        + ret_row("R3", "O3", qty="-2")
        + ret_row("R4", "O4", reason="BORED")
        + ret_row("", "O5")
        + ret_row("R6", "O6", reason="")  # blank reason code: optional, loads
    )
    res = load_entity(con, RETURNS, landing)
    assert (res.rows_in, res.rows_loaded, res.rows_quarantined) == (6, 2, 4)
    reasons = dict(
        con.execute("select file_row_number, reason from raw.quarantine_rows").fetchall()
    )
    assert reasons == {
        2: "bad timestamp in requested_at: not a valid timestamp written YYYY-MM-DD HH:MM:SS "
        "(UTC, no other offset)",
        3: "quantity below minimum 1",
        4: "unknown value in reason_code (not one of the allowed values)",
        5: "missing required rma_id",
    }
    raw3 = con.execute(
        "select raw_record from raw.quarantine_rows where file_row_number = 3"
    ).fetchall()[0][0]
    assert json.loads(raw3)["quantity"] == "-2"
    assert assert_conserved(con, RETURNS, path) == (2, 4)


def test_replay_moves_rows_that_pass_a_fixed_contract_and_keeps_conservation(
    con, landing, monkeypatch
):
    path = landing / "returns" / "returns_2026-01.csv"
    path.write_text(
        RET_HEADER
        + ret_row("R1", "O1")
        + ret_row("R2", "O2", reason="DOA")
        + ret_row("R3", "O3", qty="-1")
    )
    load_entity(con, RETURNS, landing)
    assert assert_conserved(con, RETURNS, path) == (1, 2)
    listed = summary(con, "returns")
    assert sorted((r[2], r[3]) for r in listed.rows) == [
        ("quantity below minimum 1", 1),
        ("unknown value in reason_code (not one of the allowed values)", 1),
    ]
    assert replay(con, "returns").moved == {"returns": 0}  # nothing passes yet
    fixed = dataclasses.replace(
        RETURNS,
        columns=tuple(
            dataclasses.replace(c, allowed=(*c.allowed, "DOA")) if c.name == "reason_code" else c
            for c in RETURNS.columns
        ),
    )
    monkeypatch.setattr(contracts, "ENTITIES", (fixed,))
    monkeypatch.setattr("returnlens.ingest.quarantine.ENTITIES", (fixed,))
    res = replay(con, "returns", rel(path))
    assert (res.moved, res.still_quarantined) == ({"returns": 1}, {"returns": 1})
    assert con.execute("select rma_id from raw.returns order by 1").fetchall() == [
        ("R1",),
        ("R2",),
    ]
    audit = last_audit(con, path)
    assert (audit["status"], audit["rows_in"], audit["rows_loaded"], audit["rows_quarantined"]) == (
        "replayed",
        3,
        2,
        1,
    )
    assert assert_conserved(con, RETURNS, path) == (2, 1)
    # a replayed file counts as loaded: the next run skips it
    assert load_entity(con, fixed, landing).files[0].status == "unchanged"


# ------------------------------------------------------------------------- late data
def test_orphan_returns_and_surveys_stay_in_raw_until_their_order_arrives(con, landing):
    returns = landing / "returns" / "returns_2026-01.csv"
    returns.write_text(RET_HEADER + ret_row("R1", "O9") + ret_row("R2", "O1"))
    orders_header = (
        ",".join(c.name for c in entity("orders").columns if c.name != "currency") + "\n"
    )
    (landing / "shop" / "orders_2026-01.csv").write_text(
        orders_header + "O1,C1,,2026-01-01 09:00:00,web,NL,,,20.00\n"
    )
    load_all(con, landing)
    assert assert_conserved(con, RETURNS, returns) == (2, 0)
    orphans = con.execute(
        "select r.rma_id from raw.returns as r left join raw.orders as o using (order_id) "
        "where o.order_id is null"
    ).fetchall()
    assert orphans == [("R1",)]
    # the order arrives a month later: the return resolves without reloading it
    (landing / "shop" / "orders_2026-02.csv").write_text(
        orders_header + "O9,C2,,2026-01-02 09:00:00,app,BE,,,30.00\n"
    )
    res = {r.entity: r for r in load_all(con, landing)}
    assert res["returns"].count("unchanged") == 1
    assert con.execute(
        "select count(*) from raw.returns join raw.orders using (order_id)"
    ).fetchall() == [(2,)]


def test_dirty_demo_shop_conserves_every_row_and_keeps_orphan_returns(con, tmp_path):
    from returnlens.demo.generator import generate

    out = tmp_path / "dirty"
    generate(out, seed=5, scale=0.01, dirty=True)
    truth = json.loads((out / "ground_truth.json").read_text())["dirty_mode"]
    results = {r.entity: r for r in load_all(con, out)}
    for ent in contracts.ENTITIES:
        assert results[ent.name].count("failed") == 0, ent.name
        if ent.format != "csv":
            continue
        for path in loader.landing_files(ent, out):
            assert_conserved(con, ent, path)
    reasons = {
        r for (r,) in con.execute("select distinct reason from raw.quarantine_rows").fetchall()
    }
    assert reasons == {"duplicate key within the file"}
    orphan_rmas = set(truth["orphan_return_rma_ids"])
    in_raw = {
        r
        for (r,) in con.execute(
            "select rma_id from raw.returns as r anti join raw.orders as o using (order_id)"
        ).fetchall()
    }
    assert orphan_rmas and orphan_rmas <= in_raw
    blank = con.execute("select count(*) from raw.returns where reason_code is null").fetchall()
    assert blank[0][0] >= truth["blank_reason_code_rows"] > 0


# ------------------------------------------------------------------------- crash
def test_a_crash_between_delete_and_insert_leaves_raw_as_before_and_the_next_run_completes(
    con, landing, monkeypatch
):
    path = landing / "purchasing" / "suppliers.csv"
    path.write_text(HEADER + "S1,Acme,NL,10\n")
    load_entity(con, SUPPLIERS, landing)
    before = con.execute("select * from raw.suppliers").fetchall()
    path.write_text(HEADER + "S1,Acme BV,NL,10\nS2,Beta,DE,5\n")

    def crash(*args, **kwargs):
        raise RuntimeError("power cut")

    monkeypatch.setattr(loader, "insert_rows", crash)
    with pytest.raises(RuntimeError, match="power cut"):
        load_entity(con, SUPPLIERS, landing)
    assert con.execute("select * from raw.suppliers").fetchall() == before
    audit = last_audit(con, path)
    assert audit["status"] == "error"
    assert "rolled back: RuntimeError: power cut" in audit["error"]
    monkeypatch.undo()
    res = load_entity(con, SUPPLIERS, landing)
    assert [(f.status, f.rows_loaded) for f in res.files] == [("loaded", 2)]
    assert assert_conserved(con, SUPPLIERS, path) == (2, 0)


# ------------------------------------------------------------------------- Excel surveys
def _nps_frame(n=3):
    return pd.DataFrame(
        {
            "response_id": [f"N{i}" for i in range(n)],
            "customer_id": ["C1"] * n,
            "order_id": ["O1"] * (n - 1) + [None],
            "touchpoint": ["post_delivery", "post_return", "sms"][:n],
            "responded_at": pd.to_datetime(["2026-01-05 10:00:00"] * n),
            "score": [9, 3, 8][:n],
            "rating": [5, None, 4][:n],
            "comment": ["top", None, "ok"][:n],
        }
    )


def test_survey_excel_export_loads_beside_the_csv(con, landing):
    nps = entity("nps_responses")
    xlsx = landing / "surveys" / "nps_2026-01.xlsx"
    _nps_frame().to_excel(xlsx, index=False)
    header = ",".join(c.name for c in nps.columns) + "\n"
    (landing / "surveys" / "nps_2026-02.csv").write_text(
        header + "N9,C2,O2,post_return,2026-02-01 10:00:00,7,,\n"
    )
    res = load_entity(con, nps, landing)
    assert [
        (Path(f.source_file).name, f.status, f.rows_loaded, f.rows_quarantined) for f in res.files
    ] == [
        ("nps_2026-01.xlsx", "loaded", 2, 1),
        ("nps_2026-02.csv", "loaded", 1, 0),
    ]
    assert con.execute(
        "select response_id, responded_at, score, rating, order_id from raw.nps_responses "
        "where _source_file like '%xlsx' order by 1"
    ).fetchall()[0][:4] == ("N0", pd.Timestamp("2026-01-05 10:00:00").to_pydatetime(), 9, 5)
    assert con.execute("select reason, file_row_number from raw.quarantine_rows").fetchall() == [
        ("unknown value in touchpoint (not one of the allowed values)", 3)
    ]
    assert len(pd.read_excel(xlsx)) == sum(in_tables(con, nps, xlsx))


def test_truncated_excel_export_fails_clearly(con, landing):
    xlsx = landing / "surveys" / "nps_2026-01.xlsx"
    _nps_frame().to_excel(xlsx, index=False)
    xlsx.write_bytes(xlsx.read_bytes()[:300])
    _fails(con, landing, entity("nps_responses"), xlsx, "Excel workbook", "truncated", "unknown")


# ------------------------------------------------------------------------- privacy
def test_forget_customer_erases_pii_keeps_it_erased_on_reload_and_scrubs_landing(
    con, landing, monkeypatch
):
    customers = entity("customers")
    header = ",".join(c.name for c in customers.columns) + "\n"
    path = landing / "shop" / "customers.csv"
    row1 = "C1,Anna,de Vries,anna@example.nl,0612345678,Dorpsstraat 1,1234AB,Utrecht,NL,2025-01-01 00:00:00\n"
    row2 = "C2,Bob,Jansen,bob@example.nl,,Kerkweg 2,5678CD,Gent,BE,2025-01-02 00:00:00\n"
    bad = "C1,Anna,de Vries,anna@example.nl,,Dorpsstraat 1,1234AB,Utrecht,XX,2025-01-01 00:00:00\n"
    path.write_text(header + row1 + row2 + bad)
    load_entity(con, customers, landing)
    res = forget_customer(con, "C1' or '1'='1")  # bound, never SQL: erases nothing
    assert sum(res.rows_erased.values()) == 0
    res = forget_customer(con, "C1")
    assert res.rows_erased == {"customers": 1}
    pii = ", ".join(customers.pii_columns)
    assert con.execute(f"select {pii} from raw.customers where customer_id = 'C1'").fetchall() == [
        (None,) * len(customers.pii_columns)
    ]
    assert con.execute(
        "select first_name from raw.customers where customer_id = 'C2'"
    ).fetchall() == [("Bob",)]
    (record,) = con.execute("select raw_record from raw.quarantine_rows").fetchall()[0]
    assert "anna" not in record.lower() and "Dorpsstraat" not in record
    stored = con.execute("select customer_hash from raw.forgotten_customers").fetchall()
    assert len(stored) == 2 and all("C1" not in h for (h,) in stored)
    # a re-delivered export still holding the customer does not bring the PII back
    path.write_text(header + row2 + row1)
    load_entity(con, customers, landing)
    assert con.execute("select email from raw.customers where customer_id = 'C1'").fetchall() == [
        (None,)
    ]
    # scrubbing the landing files: the file is rewritten without the PII and reloads
    forget_customer(con, "C1", landing_dir=landing)
    text = path.read_text()
    assert "anna" not in text.lower() and "bob@example.nl" in text
    assert csv_rows(path) == 2
    assert load_entity(con, customers, landing).files[0].status == "loaded"
    # both requests are recorded (a customer may be in a later delivery), once each
    assert con.execute("select count(*) from raw.forgotten_customers").fetchall() == [(2,)]


# ------------------------------------------------------------------------- sensor
def test_landing_sensor_requests_a_run_only_for_new_or_changed_settled_files(tmp_path, monkeypatch):
    import dagster as dg

    from orchestration.defs.automation import jobs

    landing = tmp_path / "landing"
    (landing / "purchasing").mkdir(parents=True)
    monkeypatch.setenv("RETURNLENS_LANDING_DIR", str(landing))
    monkeypatch.setattr(jobs, "SETTLE_SECONDS", 30.0)

    def tick(cursor):
        ctx = dg.build_sensor_context(cursor=cursor)
        return jobs.landing_files_sensor(ctx), ctx.cursor

    result, cursor = tick(None)
    assert isinstance(result, dg.SkipReason) and "no landing files" in result.skip_message
    path = landing / "purchasing" / "suppliers.csv"
    path.write_text(HEADER + "S1,Acme,NL,10\n")
    result, cursor = tick(cursor)  # just written: may still be being copied
    assert isinstance(result, dg.SkipReason) and "still being written" in result.skip_message
    old = time.time() - 120
    os.utime(path, (old, old))
    # the settle time is read when the sensor ticks (RETURNLENS_LANDING_SETTLE_SECONDS)
    monkeypatch.setattr(jobs, "SETTLE_SECONDS", 600.0)
    result, _ = tick(cursor)
    assert isinstance(result, dg.SkipReason) and "still being written" in result.skip_message
    monkeypatch.setattr(jobs, "SETTLE_SECONDS", 30.0)
    result, cursor = tick(cursor)
    assert isinstance(result, dg.RunRequest)
    assert result.tags["returnlens/changed_files"] == "1"
    assert json.loads(cursor) == {
        "purchasing/suppliers.csv": f"{path.stat().st_size}:{path.stat().st_mtime_ns}"
    }
    result, cursor2 = tick(cursor)
    assert isinstance(result, dg.SkipReason) and cursor2 == cursor
    path.write_text(HEADER + "S1,Acme,NL,10\nS2,Beta,DE,5\n")
    os.utime(path, (old + 1, old + 1))
    result, cursor3 = tick(cursor)
    assert isinstance(result, dg.RunRequest) and cursor3 != cursor
    # a cursor from the old format (a bare hash) or garbage does not break the sensor
    result, _ = tick("3f2a9c")
    assert isinstance(result, dg.RunRequest)
    path.unlink()
    result, _ = tick(cursor3)
    assert isinstance(result, dg.SkipReason) and "no landing files" in result.skip_message
