"""Shopify admin "Export orders" CSV adapter on a hand-written fixture built from Shopify's
documented header and row layout (tests/data/platforms/shopify_export/, not from the
generator): one row per line item, the order's fields on its first row only.

Expectations are computed from the fixture with the csv module (orders regrouped here by runs
of one `Name`, every rule applied again in Python), the mapping seed with the csv module and
the customer key with hashlib, never from the loader's output.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
import shutil
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from returnlens.ingest.loader import contract_hash, load_all

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "tests" / "data" / "platforms" / "shopify_export" / "shopify_export"
CONNECTOR = ROOT / "tests" / "data" / "platforms" / "shopify" / "shopify"
FILE = "orders_export_1.csv"
SOURCE_FILE = f"shopify_export/{FILE}"
REPORTING = "EUR"  # the built-in profile's shop.reporting_currency
SALT = "test-salt-0123456789abcdef-0123456789"
AMOUNT = re.compile(r"-?[0-9]{1,10}(\.[0-9]{1,2})?")
ORDER_FIELDS = ("Id", "Currency", "Total", "Financial Status")  # only on an order's first row
EXTRA_AMOUNTS = (
    "Subtotal",
    "Shipping",
    "Taxes",
    "Discount Amount",
    "Refunded Amount",
    "Outstanding Balance",
)
# personal data of the export: none of it may reach raw (nor _extra, quarantine, audit)
PII_COLUMNS = (
    "Email",
    *(f"{p} {f}" for p in ("Billing", "Shipping") for f in ("Name", "Street", "Address1")),
    *(f"{p} {f}" for p in ("Billing", "Shipping") for f in ("City", "Zip", "Phone")),
    "Phone",
    "Notes",
    "Payment Reference",
)


def _rows() -> list[dict[str, str]]:
    with (FIXTURE / FILE).open(newline="") as fh:
        return list(csv.DictReader(fh))


def _time(text: str) -> datetime | None:
    try:
        ts = datetime.strptime(text, "%Y-%m-%d %H:%M:%S %z")
    except ValueError:
        return None
    return ts.astimezone(UTC).replace(tzinfo=None)


def _key(email: str) -> str:
    return "email-" + hashlib.sha256((SALT + email.strip().lower()).encode()).hexdigest()[:20]


def _orders() -> list[tuple[dict | None, list[tuple[int, dict]]]]:
    """The file's orders: (first row or None, [(file row number, row), ...]) per run of rows
    with one Name, in file order."""
    runs: list[list[tuple[int, dict]]] = []
    for n, r in enumerate(_rows(), start=1):
        if runs and runs[-1][0][1]["Name"] == r["Name"]:
            runs[-1].append((n, r))
        else:
            runs.append([(n, r)])
    out = []
    for run in runs:
        first = run[0][1]
        out.append((first if any(first[f] for f in ORDER_FIELDS) else None, run))
    return out


def _order_ok(h: dict) -> bool:
    return (
        bool(h["Name"])
        and h["Id"].isdigit()
        and h["Currency"] == REPORTING
        and "bogus" not in h["Payment Method"].lower()
        and _time(h["Created at"]) is not None
        and (not h["Fulfilled at"] or _time(h["Fulfilled at"]) is not None)
        and AMOUNT.fullmatch(h["Total"]) is not None
        and all(not h[a] or AMOUNT.fullmatch(h[a]) for a in EXTRA_AMOUNTS)
    )


def _line_ok(h: dict | None, r: dict) -> bool:
    return (
        h is not None
        and _order_ok(h)
        and bool(r["Lineitem sku"])
        and r["Lineitem quantity"].isdigit()
        and int(r["Lineitem quantity"]) >= 1
        and all(AMOUNT.fullmatch(r[f]) for f in ("Lineitem price", "Lineitem discount"))
        and (not r["Lineitem compare at price"] or AMOUNT.fullmatch(r["Lineitem compare at price"]))
    )


def _channels() -> dict[str, str]:
    with (ROOT / "seeds" / "shopify_source_names.csv").open(newline="") as fh:
        return {s["source_name"]: s["channel"] for s in csv.DictReader(fh)}


def _audit(con, entity: str) -> tuple:
    return con.execute(
        "select rows_in, rows_loaded, rows_quarantined from raw.load_audit "
        "where entity = ? and source_file = ? and status = 'loaded'",
        [entity, SOURCE_FILE],
    ).fetchall()[0]


def _reasons(con, entity: str) -> dict[int, str]:
    """Quarantine reasons of the fixture's rows by their row number in the file."""
    rows = con.execute(
        "select file_row_number, reason from raw.quarantine_rows "
        "where entity = ? and source_file = ?",
        [entity, SOURCE_FILE],
    ).fetchall()
    return dict(rows)


@pytest.fixture(scope="module")
def loaded(tmp_path_factory):
    """The fixture loaded once by the real loader into a warehouse file (read-only tests)."""
    root = tmp_path_factory.mktemp("export")
    shutil.copytree(FIXTURE, root / "landing" / "shopify_export")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RETURNLENS_PII_SALT", SALT)
        con = duckdb.connect(str(root / "w.duckdb"))
        results = load_all(con, root / "landing")
        yield con, results
        con.close()


@pytest.fixture()
def salted(monkeypatch):
    monkeypatch.setenv("RETURNLENS_PII_SALT", SALT)


def test_orders_load_one_row_per_first_row_with_every_field_mapped(loaded):
    con, _ = loaded
    orders = _orders()
    heads = [h for h, _ in orders if h is not None]
    valid = [(h, run) for h, run in orders if h is not None and _order_ok(h)]
    assert 0 < len(valid) < len(heads) < len(orders)  # the fixture has orphans and invalid
    assert _audit(con, "orders") == (len(heads), len(valid), len(heads) - len(valid))
    channels = _channels()
    got = con.execute(
        "select order_id, customer_id, session_id, ordered_at, channel, shipping_country, "
        "shipped_at, delivered_at, order_total_eur, currency, _file_row_number, _extra "
        "from raw.orders where _source_file = ? order by order_id",
        [SOURCE_FILE],
    ).fetchall()
    expected = [
        (
            h["Id"],
            _key(h["Email"]) if h["Email"] else f"guest-{h['Id']}",
            None,
            _time(h["Created at"]),
            channels.get(h["Source"], h["Source"]),
            h["Shipping Country"] or h["Billing Country"],
            _time(h["Fulfilled at"]),
            None,
            Decimal(h["Total"]),
            h["Currency"],
            run[0][0],
        )
        for h, run in sorted(valid, key=lambda v: v[0]["Id"])
    ]
    assert [g[:-1] for g in got] == expected
    for (*_, extra), (h, run) in zip(got, sorted(valid, key=lambda v: v[0]["Id"]), strict=True):
        extra = json.loads(extra)
        assert extra["name"] == h["Name"]  # the order number staging matches returns against
        assert extra["financial_status"] == h["Financial Status"]
        assert extra["fulfillment_status"] == (h["Fulfillment Status"] or None)
        assert extra["refunded_amount"] == h["Refunded Amount"]
        assert extra["source_name"] == h["Source"]
        assert extra["line_items"] == len(run)
        for a in ("Subtotal", "Shipping", "Taxes", "Discount Amount", "Outstanding Balance"):
            assert extra[a.lower().replace(" ", "_")] == h[a]
        cancelled = _time(h["Cancelled at"])
        assert extra["cancelled_at"] == (str(cancelled) if cancelled else None)
        assert extra["paid_at"] == str(_time(h["Paid at"]))


def test_one_customer_across_orders_and_a_guest_without_email(loaded):
    con, _ = loaded
    ids = dict(
        con.execute(
            "select _extra::json ->> 'name', customer_id from raw.orders where _source_file = ?",
            [SOURCE_FILE],
        ).fetchall()
    )
    # #1001 and #1006: one shopper, the e-mail written in other capitals
    assert ids["#1001"] == ids["#1006"] == _key("anna.devries@example.nl")
    assert ids["#1002"] == "guest-5211234567002"


def test_line_rows_load_under_their_order_with_every_field_mapped(loaded):
    con, _ = loaded
    lines = [(h, n, pos, r) for h, run in _orders() for pos, (n, r) in enumerate(run, start=1)]
    valid = [(h, n, pos, r) for h, n, pos, r in lines if _line_ok(h, r)]
    assert 0 < len(valid) < len(lines)
    assert _audit(con, "order_lines") == (len(lines), len(valid), len(lines) - len(valid))
    got = con.execute(
        "select order_line_id, order_id, line_number, sku, quantity, unit_price_eur, "
        "discount_eur, batch_id, _file_row_number, _extra "
        "from raw.order_lines where _source_file = ? order by _file_row_number",
        [SOURCE_FILE],
    ).fetchall()
    assert [g[:-1] for g in got] == [
        (
            f"{h['Id']}-{pos}",
            h["Id"],
            pos,
            r["Lineitem sku"],
            int(r["Lineitem quantity"]),
            Decimal(r["Lineitem price"]),
            Decimal(r["Lineitem discount"]),
            None,
            n,
        )
        for h, n, pos, r in valid
    ]
    for g, (h, _, _, r) in zip(got, valid, strict=True):
        extra = json.loads(g[-1])
        assert extra["order_name"] == r["Name"] and extra["currency"] == h["Currency"]
        assert extra["lineitem_name"] == r["Lineitem name"]
        assert extra["compare_at_price"] == (r["Lineitem compare at price"] or None)
        assert extra["vendor"] == r["Vendor"] and extra["taxable"] == r["Lineitem taxable"]


def test_quarantine_reasons_name_the_field_the_problem_and_the_fix(loaded):
    con, _ = loaded
    orders = {run[0][1]["Name"]: (h, run) for h, run in _orders()}
    order_reasons = _reasons(con, "orders")
    line_reasons = _reasons(con, "order_lines")

    def first_row(name: str) -> int:
        return orders[name][1][0][0]

    expected_orders = {
        "#1003": "Currency is not shop.reporting_currency",  # USD
        "#1004": "a test order (Payment Method is Shopify's test gateway, bogus)",
        "#1005": "Total is not an amount with at most 2 decimals: it is not loaded rounded",
        "#1007": "Created at is not a time as Shopify's export writes it",
        "#1008": "Refunded Amount is not an amount with at most 2 decimals",
    }
    assert set(order_reasons) == {first_row(n) for n in expected_orders}
    for name, text in expected_orders.items():
        assert text in order_reasons[first_row(name)]
        # every line of a quarantined order follows it, with the order's reason
        for n, _ in orders[name][1]:
            assert line_reasons[n].startswith("the order is not loaded: ")
            assert text in line_reasons[n]
    assert "set shop.reporting_currency" in order_reasons[first_row("#1003")]
    # #1000: rows of an order whose first row is not in this file (an export cut in two)
    for n, _ in orders["#1000"][1]:
        assert line_reasons[n].startswith("its order has no first row in this file")
        assert "deliver the export whole" in line_reasons[n]
    runs_1006 = orders["#1006"][1]
    assert "Lineitem sku is empty" in line_reasons[runs_1006[1][0]]
    assert "give the product (or variant) a SKU" in line_reasons[runs_1006[1][0]]
    assert "bad decimal(10,2) in unit_price_eur" in line_reasons[runs_1006[2][0]]
    assert "bad integer in quantity" in line_reasons[orders["#1009"][1][0][0]]
    for text in (*order_reasons.values(), *line_reasons.values()):
        assert "@" not in text


def test_no_personal_data_reaches_raw(loaded):
    con, _ = loaded
    secrets = {r[c].strip().lower() for r in _rows() for c in PII_COLUMNS if r[c].strip()}
    assert any("@" in s for s in secrets) and len(secrets) > 20
    assert _audit(con, "orders")[1] > 0 and _audit(con, "order_lines")[1] > 0
    found = []
    for schema, table in con.execute(
        "select table_schema, table_name from information_schema.tables"
    ).fetchall():
        cols = [
            c
            for (c,) in con.execute(
                "select column_name from information_schema.columns "
                "where table_schema = ? and table_name = ?",
                [schema, table],
            ).fetchall()
        ]
        text = " || '|' || ".join(f"coalesce(cast({json.dumps(c)} as varchar), '')" for c in cols)
        for (value,) in con.execute(f'select lower({text}) from "{schema}"."{table}"').fetchall():
            found += [(table, s) for s in secrets if s in value]
    assert found == []


def test_no_returns_are_derived_and_refunds_stay_on_the_order(loaded):
    con, results = loaded
    assert [r for r in results if r.entity.startswith("returns")] == [
        r for r in results if r.entity.startswith("returns") and not r.files
    ]
    assert con.execute("select count(*) from raw.returns").fetchall()[0][0] == 0
    refunded = {
        h["Id"]: h["Refunded Amount"]
        for h, _ in _orders()
        if h is not None and _order_ok(h) and h["Financial Status"].endswith("refunded")
    }
    assert refunded  # #1001 partially_refunded, 24.95
    got = dict(
        con.execute(
            "select order_id, _extra::json ->> 'refunded_amount' from raw.orders "
            "where _extra::json ->> 'financial_status' like '%refunded'"
        ).fetchall()
    )
    assert got == refunded


def test_a_new_salt_or_reporting_currency_re_reads_the_export(tmp_path, monkeypatch):
    from returnlens.adapters import PLATFORM_TABLES

    root = tmp_path / "landing"
    shutil.copytree(FIXTURE, root / "shopify_export")
    entity = PLATFORM_TABLES["shopify_export"]["orders"].entity
    monkeypatch.setenv("RETURNLENS_PII_SALT", SALT)
    before = contract_hash(entity, root)
    monkeypatch.setenv("RETURNLENS_PII_SALT", SALT + "-rotated")
    rotated = contract_hash(entity, root)
    (root / "returnlens.yml").write_text("shop:\n  reporting_currency: USD\n")
    usd = contract_hash(entity, root)
    assert len({before, rotated, usd}) == 3


def test_the_export_mixes_with_the_connector_tables(tmp_path, salted):
    root = tmp_path / "landing"
    shutil.copytree(FIXTURE, root / "shopify_export")
    shutil.copytree(CONNECTOR, root / "shopify")
    con = duckdb.connect()
    load_all(con, root)
    names = con.execute(
        "select split_part(_source_file, '/', 1), count(*), count(_extra::json ->> 'name') "
        "from raw.orders group by 1 order by 1"
    ).fetchall()
    valid = [h for h, _ in _orders() if h is not None and _order_ok(h)]
    assert names[1] == ("shopify_export", len(valid), len(valid))
    assert names[0][0] == "shopify" and names[0][1] == names[0][2] > 0
    # every loaded line of either form points at a loaded order
    orphans = con.execute(
        "select count(*) from raw.order_lines where order_id not in "
        "(select order_id from raw.orders)"
    ).fetchall()[0][0]
    assert orphans == 0


def _fail_one(tmp_path, name: str, content: bytes) -> list:
    root = tmp_path / "landing"
    (root / "shopify_export").mkdir(parents=True)
    (root / "shopify_export" / name).write_bytes(content)
    con = duckdb.connect()
    results = load_all(con, root)
    return [f for r in results if "shopify_export" in r.entity for f in r.files]


def test_broken_files_fail_whole_naming_the_file_the_problem_and_the_fix(tmp_path, salted):
    text = (FIXTURE / FILE).read_text()
    header = text.splitlines()[0]
    cases = {
        "orders_export_empty.csv": (b"", "the file is empty (0 bytes)"),
        # a spreadsheet re-saved it with semicolons: Shopify's header is not found
        "orders_export_excel.csv": (
            text.replace(",", ";").encode(),
            "the header has no column Name, Id, Created at",
        ),
        "orders_export_header.csv": ((header + "\n").encode(), "holds no "),
        "orders_export_zip.csv": (b"PK\x03\x04\x00\xff\xfe binary", ""),
    }
    for name, (content, problem) in cases.items():
        sub = tmp_path / name
        files = _fail_one(sub, name, content)
        assert {f.status for f in files} == {"failed"}, name
        for f in files:
            assert f.error.startswith(f"shopify_export/{name}: "), f.error
            assert problem in f.error
            assert "docs/sources/shopify.md" in f.error and "export the orders again" in (
                f.error.lower()
            )
            assert "@" not in f.error  # no personal data quoted


def test_a_landing_without_export_files_makes_no_salt(tmp_path, monkeypatch):
    """The customer key needs the salt only when there are export files: a load without them
    must not create the installation's salt file (nor fail on a refused salt)."""
    monkeypatch.delenv("RETURNLENS_PII_SALT", raising=False)
    monkeypatch.setenv("RETURNLENS_DATA_DIR", str(tmp_path / "data"))
    root = tmp_path / "landing"
    shutil.copytree(CONNECTOR, root / "shopify")
    con = duckdb.connect()
    load_all(con, root)
    assert con.execute("select count(*) from raw.orders").fetchall()[0][0] > 0
    assert not (tmp_path / "data" / "secrets").exists()
