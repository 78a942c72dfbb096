"""The loader on hand-made landing files: what loads, what is quarantined, and why."""

from __future__ import annotations

import pytest

from returnlens.ingest.contracts import entity
from returnlens.ingest.loader import load_entity

pytestmark = pytest.mark.unit

SUPPLIERS_HEADER = "supplier_id,supplier_name,country_code,lead_time_days\n"


@pytest.fixture()
def landing(tmp_path):
    (tmp_path / "landing" / "purchasing").mkdir(parents=True)
    (tmp_path / "landing" / "returns").mkdir(parents=True)
    return tmp_path / "landing"


def _audit(con, name):
    return con.execute(
        "select status, rows_in, rows_loaded, rows_quarantined, error from raw.load_audit "
        "where entity = ? order by finished_at",
        [name],
    ).fetchall()


def test_bad_rows_are_quarantined_with_reasons_and_nothing_is_lost(con, landing):
    (landing / "purchasing" / "suppliers.csv").write_text(
        SUPPLIERS_HEADER
        + "S1,Acme,NL,10\n"
        + "S2,Beta,DE,-3\n"  # below minimum
        + "S1,Again,NL,4\n"  # duplicate key
        + ",Nameless,NL,3\n"  # missing key
        + "S3,Gamma,PT,soon\n"  # not an integer
        + "S4,Delta,BE,7\n"
    )
    res = load_entity(con, entity("suppliers"), landing)
    assert (res.rows_in, res.rows_loaded, res.rows_quarantined) == (6, 2, 4)
    assert con.execute("select supplier_id from raw.suppliers order by 1").fetchall() == [
        ("S1",),
        ("S4",),
    ]
    reasons = dict(
        con.execute("select file_row_number, reason from raw.quarantine_rows").fetchall()
    )
    assert reasons == {
        2: "lead_time_days below minimum 0",
        3: "duplicate key within the file",
        4: "missing required supplier_id",
        5: "bad integer in lead_time_days: not a number as the delivery writes them "
        "(digits with an optional sign)",
    }
    ((status, rows_in, loaded, quarantined, _),) = _audit(con, "suppliers")
    assert status == "loaded" and rows_in == loaded + quarantined == 6


def test_same_file_twice_adds_nothing_and_a_corrected_file_replaces_its_rows(con, landing):
    path = landing / "purchasing" / "suppliers.csv"
    path.write_text(SUPPLIERS_HEADER + "S1,Acme,NL,10\nS2,Beta,DE,5\n")
    load_entity(con, entity("suppliers"), landing)
    again = load_entity(con, entity("suppliers"), landing)
    assert [f.status for f in again.files] == ["unchanged"]
    assert con.execute("select count(*) from raw.suppliers").fetchall() == [(2,)]
    path.write_text(SUPPLIERS_HEADER + "S1,Acme BV,NL,12\n")
    load_entity(con, entity("suppliers"), landing)
    assert con.execute(
        "select * exclude (_loaded_at, _source_file, _extra) from raw.suppliers"
    ).fetchall() == [("S1", "Acme BV", "NL", 12, 1)]


def test_wrong_delimiter_fails_the_file_with_a_clear_message_and_keeps_earlier_rows(con, landing):
    path = landing / "purchasing" / "suppliers.csv"
    path.write_text(SUPPLIERS_HEADER + "S1,Acme,NL,10\n")
    load_entity(con, entity("suppliers"), landing)
    # a column the contract does not know: the header does not settle the delimiter
    path.write_text(
        SUPPLIERS_HEADER.replace(",", ";").replace("\n", ";note\n") + "S1;Acme;NL;10;x\n"
    )
    res = load_entity(con, entity("suppliers"), landing)
    (failed,) = res.files
    assert failed.status == "failed"
    assert "purchasing/suppliers.csv" in failed.error
    assert "required column(s) supplier_id" in failed.error
    assert "looks ';'-delimited" in failed.error
    assert "';'" in failed.error and "deliver the file again" in failed.error
    assert con.execute("select supplier_id from raw.suppliers").fetchall() == [("S1",)]
    assert con.execute("select count(*) from raw.quarantine_files").fetchall() == [(1,)]


def test_empty_and_header_only_files_fail_with_their_own_message(con, landing):
    (landing / "purchasing" / "suppliers.csv").write_text("")
    (landing / "purchasing" / "batches.csv").write_text(
        "batch_id,product_id,supplier_id,received_date,units_received\n"
    )
    empty = load_entity(con, entity("suppliers"), landing).files[0]
    header_only = load_entity(con, entity("production_batches"), landing).files[0]
    assert empty.status == header_only.status == "failed"
    assert "empty (0 bytes)" in empty.error
    assert "header but no rows" in header_only.error


def test_bad_dates_negative_quantities_and_unknown_codes_in_returns(con, landing):
    header = ",".join(c.name for c in entity("returns").columns if c.name != "status") + "\n"
    good = "R1,O1,O1-1,SKU1,1,SIZE_TOO_SMALL,te klein,2026-01-05 10:00:00,,,,,,refund,10.00\n"
    bad_date = "R2,O2,O2-1,SKU1,1,OTHER,,2026-13-45 10:00:00,,,,,,refund,10.00\n"
    negative = "R3,O3,O3-1,SKU1,-2,OTHER,,2026-01-05 10:00:00,,,,,,refund,10.00\n"
    unknown = "R4,O4,O4-1,SKU1,1,BORED,,2026-01-05 10:00:00,,,,,,refund,10.00\n"
    (landing / "returns" / "returns_2026-01.csv").write_text(
        header + good + bad_date + negative + unknown
    )
    res = load_entity(con, entity("returns"), landing)
    assert (res.rows_in, res.rows_loaded, res.rows_quarantined) == (4, 1, 3)
    reasons = [
        r[0] for r in con.execute("select reason from raw.quarantine_rows order by 1").fetchall()
    ]
    assert reasons == [
        "bad timestamp in requested_at: not a valid timestamp written YYYY-MM-DD HH:MM:SS "
        "(UTC, no other offset)",
        "quantity below minimum 1",
        "unknown value in reason_code (not one of the allowed values)",
    ]
