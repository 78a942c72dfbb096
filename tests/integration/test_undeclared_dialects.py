"""Issue 12 item 9: European exports whose dialect is NOT declared.

The loader detects a dialect only where detection is unambiguous (one delimiter gives the
contract's header; every number reads one way; dates have a day above 12; the bytes are not
UTF-8 and are all Windows-1252) and otherwise fails the whole file with a message naming the file,
what was found and the setting to add. Expected values are computed here from the files written,
with Python's csv module, `decimal` and `datetime.strptime`, never from the loader.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from returnlens.ingest.contracts import FileSpec, entity
from returnlens.ingest.loader import load_entity

pytestmark = pytest.mark.integration

SUPPLIERS = entity("suppliers")
ORDER_LINES = entity("order_lines")
ORDERS = entity("orders")
BATCHES = entity("production_batches")
CUSTOMERS = entity("customers")


# ------------------------------------------------------------------------------ helpers
def write_csv(
    path: Path,
    ent,
    rows: list[list[str]],
    *,
    delimiter: str = ",",
    encoding: str = "utf-8",
    lineterminator: str = "\n",
    header: list[str] | None = None,
) -> None:
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=delimiter, lineterminator=lineterminator)
    w.writerow(header or [c.name for c in ent.columns])
    w.writerows(rows)
    path.write_bytes(buf.getvalue().encode(encoding))


def records(path: Path, delimiter: str, encoding: str = "utf-8") -> list[dict]:
    with path.open(encoding=encoding, newline="") as fh:
        return list(csv.DictReader(fh, delimiter=delimiter))


def audit(con, name: str) -> dict:
    cols = ["status", "rows_in", "rows_loaded", "rows_quarantined", "error", "dialect"]
    rows = con.execute(
        f"select {', '.join(cols)} from raw.load_audit where source_file = ? "
        "order by finished_at desc limit 1",
        [name],
    ).fetchall()
    assert rows, f"{name} is not audited"
    a = dict(zip(cols, rows[0], strict=True))
    a["dialect"] = json.loads(a["dialect"]) if a["dialect"] else None
    return a


def loaded(con, ent, name: str, cols: list[str]) -> list[tuple]:
    return con.execute(
        f"select {', '.join(cols)} from {ent.table} where _source_file = ? "
        "order by _file_row_number",
        [name],
    ).fetchall()


def assert_failed_whole(con, ent, name: str, n_rows: int, *fragments: str) -> str:
    """The file failed whole: audited failed with its rows counted, nothing of it loaded."""
    a = audit(con, name)
    assert a["status"] == "failed", a
    assert a["rows_in"] == n_rows and a["rows_loaded"] == 0, a
    assert con.execute(
        f"select count(*) from {ent.table} where _source_file = ?", [name]
    ).fetchall() == [(0,)]
    in_q = con.execute(
        "select count(*) from raw.quarantine_rows where source_file = ?", [name]
    ).fetchall()
    assert in_q == [(0,)]
    files = con.execute(
        "select count(*) from raw.quarantine_files where source_file = ?", [name]
    ).fetchall()
    assert files == [(1,)]
    assert a["error"].startswith(name + ":"), a["error"]
    for fragment in fragments:
        assert fragment in a["error"], (fragment, a["error"])
    return a["error"]


def nl_decimal(text: str) -> Decimal:
    """A Dutch number: '.' between groups of three, ',' before the decimals."""
    return Decimal(text.replace(".", "").replace(",", ".")).quantize(Decimal("0.01"))


def nl_int(text: str) -> int:
    return int(text.replace(".", ""))


# ------------------------------------------------------------------------------ delimiter
def test_an_undeclared_delimiter_is_detected_when_one_delimiter_gives_the_contract_header(
    con, landing
):
    def rows(prefix: str) -> list[list[str]]:
        return [
            [f"{prefix}1", "Caf\u00e9 Noir", "NL", "10"],
            [f"{prefix}2", "Acme; Inc", "DE", "5"],
        ]

    for fname, d in (("suppliers_semi.csv", ";"), ("suppliers_tab.csv", "\t")):
        write_csv(landing / "purchasing" / fname, SUPPLIERS, rows(fname[10]), delimiter=d)
    write_csv(landing / "purchasing" / "suppliers_pipe.csv", SUPPLIERS, rows("P"), delimiter="|")
    # an unknown column: the header is not exactly the contract's, so nothing is guessed
    extra = [*[c.name for c in SUPPLIERS.columns], "note"]
    write_csv(
        landing / "purchasing" / "suppliers_extra.csv",
        SUPPLIERS,
        [[*r, "x"] for r in rows("X")],
        delimiter=";",
        header=extra,
    )
    load_entity(con, SUPPLIERS, landing)
    cols = [c.name for c in SUPPLIERS.columns]
    for fname, d in (
        ("suppliers_semi.csv", ";"),
        ("suppliers_tab.csv", "\t"),
        ("suppliers_pipe.csv", "|"),
    ):
        name = f"purchasing/{fname}"
        expected = [
            (r["supplier_id"], r["supplier_name"], r["country_code"], int(r["lead_time_days"]))
            for r in records(landing / name, d)
        ]
        assert loaded(con, SUPPLIERS, name, cols) == expected
        a = audit(con, name)
        assert (a["status"], a["rows_in"], a["rows_loaded"]) == ("loaded", 2, 2)
        assert a["dialect"]["delimiter"] == d and a["dialect"]["detected"] == ["delimiter"]
    assert_failed_whole(
        con,
        SUPPLIERS,
        "purchasing/suppliers_extra.csv",
        2,
        "looks ';'-delimited",
        'delimiter: ";"',
        "deliveries.suppliers",
        "returnlens.yml",
    )
    # a file in the contract's dialect records the default, nothing detected
    write_csv(landing / "purchasing" / "suppliers_plain.csv", SUPPLIERS, rows("N"))
    load_entity(con, SUPPLIERS, landing)
    plain = audit(con, "purchasing/suppliers_plain.csv")
    assert plain["dialect"]["delimiter"] == "," and plain["dialect"]["detected"] == []


# ------------------------------------------------------------------------------ numbers
def ol(line_id: str, qty: str, price: str, discount: str = "0") -> list[str]:
    return [line_id, line_id.split("-")[0], "1", "SKU1", qty, price, discount, "B1"]


def test_an_undeclared_decimal_comma_loads_only_when_every_value_reads_one_way(con, landing):
    shop = landing / "shop"
    # decimal comma, no '.' anywhere: 12,50 can only be 12.50
    comma = [ol("A1-1", "2", "12,50", "0,05"), ol("A2-1", "1", "3", "0"), ol("A3-1", "3", "1250,5")]
    write_csv(shop / "order_lines_a.csv", ORDER_LINES, comma, delimiter=";")
    # Dutch grouping: 1.253 in an integer column, 1.253,50 in a decimal one
    grouped = [ol("B1-1", "1.253", "1.253,50"), ol("B2-1", "7", "10.000,00", "1,5")]
    write_csv(shop / "order_lines_b.csv", ORDER_LINES, grouped, delimiter=";")
    # a quoted decimal comma in a comma-separated file
    write_csv(shop / "order_lines_c.csv", ORDER_LINES, [ol("C1-1", "4", "7,25")])
    # only ',' followed by three digits: a decimal comma (1.25) or a thousands separator (1250)
    write_csv(
        shop / "order_lines_d.csv",
        ORDER_LINES,
        [ol("D1-1", "1", "1,250"), ol("D2-1", "2", "2,500")],
        delimiter=";",
    )
    # two ways in one file: 1.253,50 (Dutch) and 1,253.50 (English)
    write_csv(
        shop / "order_lines_e.csv",
        ORDER_LINES,
        [ol("E1-1", "1", "1.253,50"), ol("E2-1", "1", "1,253.50")],
        delimiter=";",
    )
    # a '.' followed by three digits in an integer column, with '.' decimals elsewhere: no
    # reading fits both (1.253 is no integer with '.' decimals; 12.50 no Dutch number)
    write_csv(shop / "order_lines_f.csv", ORDER_LINES, [ol("F1-1", "1.253", "12.50")])
    load_entity(con, ORDER_LINES, landing)

    cols = ["order_line_id", "quantity", "unit_price_eur", "discount_eur"]
    for fname, d in (
        ("order_lines_a.csv", ";"),
        ("order_lines_b.csv", ";"),
        ("order_lines_c.csv", ","),
    ):
        name = f"shop/{fname}"
        expected = [
            (
                r["order_line_id"],
                nl_int(r["quantity"]),
                nl_decimal(r["unit_price_eur"]),
                nl_decimal(r["discount_eur"]),
            )
            for r in records(landing / name, d)
        ]
        assert loaded(con, ORDER_LINES, name, cols) == expected, name
        assert audit(con, name)["dialect"]["decimal_separator"] == ","
    assert loaded(con, ORDER_LINES, "shop/order_lines_a.csv", cols)[0][2] == Decimal("12.50")
    assert loaded(con, ORDER_LINES, "shop/order_lines_b.csv", cols)[0][1:3] == (
        1253,
        Decimal("1253.50"),
    )
    a = audit(con, "shop/order_lines_a.csv")["dialect"]
    assert (a["thousands_separator"], sorted(a["detected"])) == (
        None,
        ["decimal_separator", "delimiter"],
    )
    b = audit(con, "shop/order_lines_b.csv")["dialect"]
    assert b["thousands_separator"] == "."
    assert "thousands_separator" in b["detected"]
    assert audit(con, "shop/order_lines_c.csv")["dialect"]["detected"] == ["decimal_separator"]

    msg = assert_failed_whole(
        con,
        ORDER_LINES,
        "shop/order_lines_d.csv",
        2,
        "unit_price_eur",
        'decimal_separator: ","',
        'thousands_separator: ","',
        "deliveries.order_lines",
        "returnlens.yml",
        "docs/profile.md",
    )
    assert "1,250" not in msg and "2,500" not in msg and "D1-1" not in msg
    # in no single reading: the default applies, each departing value is quarantined with its
    # row (the reason names the setting), nothing is failed whole and nothing read wrong
    for fname, n_rows in (("order_lines_e.csv", 2), ("order_lines_f.csv", 1)):
        name = f"shop/{fname}"
        a = audit(con, name)
        assert (a["status"], a["rows_in"], a["rows_loaded"]) == ("loaded", n_rows, 0)
        assert a["dialect"]["decimal_separator"] == "."
        assert a["dialect"]["thousands_separator"] is None
        why = con.execute(
            "select reason from raw.quarantine_rows where source_file = ?", [name]
        ).fetchall()
        assert len(why) == n_rows
        assert all("decimal_separator" in r or "thousands_separator" in r for (r,) in why), why


# ------------------------------------------------------------------------------ dates
def batch(bid: str, day: str, units: str = "10") -> list[str]:
    return [bid, "P1", "S1", day, units]


def test_undeclared_day_month_dates_load_only_when_a_day_above_12_settles_the_order(con, landing):
    p = landing / "purchasing"
    write_csv(
        p / "batches_dmy.csv",
        BATCHES,
        [batch("B1", "03-04-2026"), batch("B2", "25-12-2026")],
        delimiter=";",
    )
    write_csv(
        p / "batches_mdy.csv", BATCHES, [batch("M1", "03/04/2026"), batch("M2", "12/25/2026")]
    )
    write_csv(p / "batches_slash.csv", BATCHES, [batch("S1", "5/1/2026"), batch("S2", "31/1/2026")])
    # every day and month at most 12: 03-04-2026 is 3 April or 4 March
    write_csv(
        p / "batches_amb.csv",
        BATCHES,
        [batch("A1", "03-04-2026"), batch("A2", "11-12-2026")],
        delimiter=";",
    )
    # ISO and day-first in one file: no one format reads both
    write_csv(
        p / "batches_mix.csv", BATCHES, [batch("X1", "2026-04-03"), batch("X2", "25-12-2026")]
    )
    write_csv(p / "batches_iso.csv", BATCHES, [batch("I1", "2026-04-03")])
    load_entity(con, BATCHES, landing)

    fmts = {
        "batches_dmy.csv": ("%d-%m-%Y", ";"),
        "batches_mdy.csv": ("%m/%d/%Y", ","),
        "batches_slash.csv": ("%d/%m/%Y", ","),
    }
    for fname, (fmt, d) in fmts.items():
        name = f"purchasing/{fname}"
        expected = [
            (r["batch_id"], datetime.strptime(r["received_date"], fmt).date())
            for r in records(landing / name, d)
        ]
        assert loaded(con, BATCHES, name, ["batch_id", "received_date"]) == expected
        dia = audit(con, name)["dialect"]
        assert dia["date_format"] == fmt and "date_format" in dia["detected"]
    assert loaded(con, BATCHES, "purchasing/batches_dmy.csv", ["received_date"])[0] == (
        date(2026, 4, 3),
    )
    msg = assert_failed_whole(
        con,
        BATCHES,
        "purchasing/batches_amb.csv",
        2,
        "received_date",
        "date_format",
        '"%d-%m-%Y"',
        '"%m-%d-%Y"',
        "deliveries.production_batches",
    )
    assert "03-04-2026" not in msg and "11-12-2026" not in msg
    # ISO beside day-first: read as ISO (the default), the other row quarantined, not guessed
    assert loaded(con, BATCHES, "purchasing/batches_mix.csv", ["batch_id", "received_date"]) == [
        ("X1", date(2026, 4, 3))
    ]
    mixed = audit(con, "purchasing/batches_mix.csv")
    assert (mixed["rows_loaded"], mixed["rows_quarantined"]) == (1, 1)
    assert mixed["dialect"]["date_format"] is None
    iso = audit(con, "purchasing/batches_iso.csv")
    assert iso["status"] == "loaded" and iso["dialect"]["date_format"] is None
    assert iso["dialect"]["detected"] == []


def test_undeclared_day_first_timestamps_load_with_their_time(con, landing):
    header = [c.name for c in ORDERS.columns]

    def order(oid: str, at: str, total: str) -> list[str]:
        return [oid, "C1", "", at, "web", "NL", "", "", total, ""]

    path = landing / "shop" / "orders_2026-03.csv"
    write_csv(
        path,
        ORDERS,
        [order("O1", "13-03-2026 09:05", "12,50"), order("O2", "01-03-2026 23:59", "7")],
        delimiter=";",
        header=header,
    )
    amb = landing / "shop" / "orders_2026-04.csv"
    write_csv(amb, ORDERS, [order("O3", "01-04-2026 10:00:00", "1")], delimiter=";", header=header)
    load_entity(con, ORDERS, landing)
    expected = [
        (
            r["order_id"],
            datetime.strptime(r["ordered_at"], "%d-%m-%Y %H:%M"),
            nl_decimal(r["order_total_eur"]),
        )
        for r in records(path, ";")
    ]
    got = loaded(
        con, ORDERS, "shop/orders_2026-03.csv", ["order_id", "ordered_at", "order_total_eur"]
    )
    assert got == expected and got[0][1] == datetime(2026, 3, 13, 9, 5)
    dia = audit(con, "shop/orders_2026-03.csv")["dialect"]
    assert dia["timestamp_format"] == "%d-%m-%Y %H:%M"
    assert_failed_whole(
        con,
        ORDERS,
        "shop/orders_2026-04.csv",
        1,
        "ordered_at",
        "timestamp_format",
        "deliveries.orders",
    )


def test_a_declared_four_digit_year_format_refuses_two_digit_years(con, landing):
    """Regression: a declared %d-%m-%Y read 05-01-26 as the year 26."""
    declared = dataclasses.replace(
        BATCHES,
        also=(
            FileSpec("partijen*.csv", "csv", delimiter=";", date_format="%d-%m-%Y", declared=True),
        ),
    )
    path = landing / "purchasing" / "partijen.csv"
    write_csv(path, BATCHES, [batch("B1", "05-01-2026"), batch("B2", "05-01-26")], delimiter=";")
    load_entity(con, declared, landing)
    assert loaded(con, BATCHES, "purchasing/partijen.csv", ["batch_id", "received_date"]) == [
        ("B1", date(2026, 1, 5))
    ]
    (reason,) = con.execute("select reason from raw.quarantine_rows").fetchall()[0]
    assert "received_date" in reason and "%d-%m-%Y" in reason


# ------------------------------------------------------------------------------ encoding
def test_undeclared_windows_1252_is_detected_when_nothing_else_reads_the_bytes(con, landing):
    p = landing / "purchasing"

    def rows(prefix: str) -> list[list[str]]:
        return [
            [f"{prefix}1", "Caf\u00e9 \u20ac \u2018ok\u2019", "NL", "10"],
            [f"{prefix}2", "B\u00e4ckerei", "DE", "5"],
        ]

    write_csv(p / "suppliers_cp.csv", SUPPLIERS, rows("C"), encoding="cp1252")
    # UTF-8 with a BOM and CRLF line ends: the contract's encoding, nothing to detect
    write_csv(
        p / "suppliers_bom.csv", SUPPLIERS, rows("B"), encoding="utf-8-sig", lineterminator="\r\n"
    )
    # the first non-ASCII byte far beyond the start of the file
    many = [[f"L{i}", f"Name {i}", "NL", str(i)] for i in range(80_000)]
    write_csv(p / "suppliers_late.csv", SUPPLIERS, [*many, *rows("Z")], encoding="cp1252")
    # 0x81 is not a Windows-1252 character either
    (p / "suppliers_undef.csv").write_bytes(
        ",".join(c.name for c in SUPPLIERS.columns).encode() + b"\nS1,Caf\xe9 \x81,NL,1\n"
    )
    # UTF-8 and Windows-1252 mixed in one file: in no single encoding
    (p / "suppliers_mixed.csv").write_bytes(
        ",".join(c.name for c in SUPPLIERS.columns).encode()
        + "\nS1,Caf\u00e9,NL,1\n".encode()
        + "S2,Caf\u00e9,NL,1\n".encode("cp1252")
    )
    load_entity(con, SUPPLIERS, landing)
    cols = ["supplier_id", "supplier_name"]
    for fname, enc in (
        ("suppliers_cp.csv", "cp1252"),
        ("suppliers_bom.csv", "utf-8-sig"),
        ("suppliers_late.csv", "cp1252"),
    ):
        name = f"purchasing/{fname}"
        expected = [
            (r["supplier_id"], r["supplier_name"]) for r in records(landing / name, ",", enc)
        ]
        assert loaded(con, SUPPLIERS, name, cols) == expected, name
    assert (
        loaded(con, SUPPLIERS, "purchasing/suppliers_cp.csv", cols)[0][1]
        == "Caf\u00e9 \u20ac \u2018ok\u2019"
    )
    cp = audit(con, "purchasing/suppliers_cp.csv")["dialect"]
    assert (cp["encoding"], cp["detected"]) == ("cp1252", ["encoding"])
    assert audit(con, "purchasing/suppliers_late.csv")["dialect"]["encoding"] == "cp1252"
    bom = audit(con, "purchasing/suppliers_bom.csv")["dialect"]
    assert (bom["encoding"], bom["detected"]) == ("utf-8", [])
    msg = assert_failed_whole(
        con,
        SUPPLIERS,
        "purchasing/suppliers_undef.csv",
        1,
        "0x81",
        "encoding",
        "deliveries.suppliers",
    )
    assert "Caf" not in msg
    msg = assert_failed_whole(
        con, SUPPLIERS, "purchasing/suppliers_mixed.csv", 2, "UTF-8", "encoding"
    )
    assert "Caf" not in msg


# ------------------------------------------------------------------------------ all together
def test_a_dutch_excel_export_with_every_feature_undeclared(con, landing, private_data_dir):
    """';', decimal comma with '.' grouping, dd-mm-yyyy, Windows-1252, BOM and CRLF together,
    none declared: what reads one way loads with the right values; what does not is failed whole,
    naming the setting; `check-landing` shows per file the dialect used and that it was detected."""
    from returnlens.ingest.check import check_landing

    shop = landing / "shop"
    # Excel's "CSV (semicolon)": Windows-1252, CRLF, no BOM
    cust = shop / "customers.csv"
    write_csv(
        cust,
        CUSTOMERS,
        [
            [
                "C1",
                "Ren\u00e9e",
                "Bakker",
                "r@example.nl",
                "",
                "Dorpsstraat 1",
                "1234 AB",
                "\u00c9pinal",
                "NL",
                "13-01-2025 08:30",
            ],
            [
                "C2",
                "Jo\u00ebl",
                "de Vries",
                "j@example.nl",
                "",
                "Laan 2",
                "1000",
                "Brussel",
                "BE",
                "02-02-2025 17:00",
            ],
        ],
        delimiter=";",
        encoding="cp1252",
        lineterminator="\r\n",
    )
    # Excel's "CSV UTF-8": BOM, CRLF, ';', decimal comma with '.' grouping, day-first timestamps
    orders = shop / "orders_2026-03.csv"
    header = [c.name for c in ORDERS.columns]
    write_csv(
        orders,
        ORDERS,
        [
            [
                "O1",
                "C1",
                "",
                "13-03-2026 09:05",
                "web",
                "NL",
                "14-03-2026 10:00",
                "",
                "1.253,50",
                "",
            ],
            ["O2", "C2", "", "02-03-2026 11:15", "app", "BE", "", "", "12,50", ""],
        ],
        delimiter=";",
        encoding="utf-8-sig",
        lineterminator="\r\n",
        header=header,
    )
    # ambiguous: only ',ddd' amounts, only days up to 12
    amb = shop / "orders_2026-04.csv"
    write_csv(
        amb,
        ORDERS,
        [["O3", "C1", "", "01-04-2026 09:05", "web", "NL", "", "", "1,250", ""]],
        delimiter=";",
        encoding="utf-8-sig",
        lineterminator="\r\n",
        header=header,
    )
    result = check_landing(landing)
    by_file = {f.file: f for f in result.files}
    assert by_file["shop/customers.csv"].status == "would load"
    assert by_file["shop/orders_2026-03.csv"].status == "would load"
    assert by_file["shop/orders_2026-04.csv"].status == "would fail"
    text = result.format()
    assert "detected" in text and "cp1252" in text and "%d-%m-%Y %H:%M" in text

    from returnlens.ingest.loader import load_all

    load_all(con, landing)
    c = loaded(
        con, CUSTOMERS, "shop/customers.csv", ["customer_id", "first_name", "city", "created_at"]
    )
    assert c == [
        (
            r["customer_id"],
            r["first_name"],
            r["city"],
            datetime.strptime(r["created_at"], "%d-%m-%Y %H:%M"),
        )
        for r in records(cust, ";", "cp1252")
    ]
    assert c[0][1] == "Ren\u00e9e"
    cd = audit(con, "shop/customers.csv")["dialect"]
    assert sorted(cd["detected"]) == ["delimiter", "encoding", "timestamp_format"]
    o = loaded(
        con,
        ORDERS,
        "shop/orders_2026-03.csv",
        ["order_id", "ordered_at", "shipped_at", "order_total_eur"],
    )
    assert o == [
        (
            r["order_id"],
            datetime.strptime(r["ordered_at"], "%d-%m-%Y %H:%M"),
            datetime.strptime(r["shipped_at"], "%d-%m-%Y %H:%M") if r["shipped_at"] else None,
            nl_decimal(r["order_total_eur"]),
        )
        for r in records(orders, ";", "utf-8-sig")
    ]
    assert o[0][3] == Decimal("1253.50")
    od = audit(con, "shop/orders_2026-03.csv")["dialect"]
    assert od["encoding"] == "utf-8"
    assert sorted(od["detected"]) == [
        "decimal_separator",
        "delimiter",
        "thousands_separator",
        "timestamp_format",
    ]
    msg = assert_failed_whole(
        con, ORDERS, "shop/orders_2026-04.csv", 1, "order_total_eur", "deliveries.orders"
    )
    assert "1,250" not in msg and "O3" not in msg
