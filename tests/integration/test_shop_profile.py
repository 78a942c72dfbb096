"""A shop unlike the demo, described by its profile: values the demo never had load (or are
quarantined, naming the setting, when the profile closes the set), and the raw gates take their
limits and closed days from the profile instead of consumer-shop constants.

Hand-written landing files (Swedish furniture shop: categories, countries, channel, currency and
order sizes the demo never had); expectations are computed from the rows this test writes.
"""

from __future__ import annotations

import csv
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from returnlens.config import PROJECT_ROOT

pytestmark = pytest.mark.integration

FIRST_DAY = date(2026, 3, 2)  # a Monday
DAYS = 35
ORDERS_PER_DAY = 10
MISSING_WEDNESDAY = date(2026, 3, 18)
CATEGORIES = ("furniture", "lighting")
BIG_ORDER_TOTAL = "60000.00"  # beyond the demo's 50,000 limit
BIG_QUANTITY = 120  # beyond the demo's 50


def _csv(path: Path, rows: list[dict]) -> None:
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)


def _shop(landing: Path) -> dict[str, list[dict]]:
    """Customers, products, orders and lines; closed on Sundays and one Wednesday."""
    customers = [
        {
            "customer_id": f"K{i}",
            "first_name": "Anna",
            "last_name": "Berg",
            "email": f"k{i}@example.se",
            "phone": "",
            "street": "Storgatan 1",
            "postal_code": "11122",
            "city": "Stockholm",
            "country_code": country,
            "created_at": "2025-01-01 10:00:00",
        }
        for i, country in enumerate(("SE", "NO", "SE", "FI"))
    ]
    products = [
        {
            "sku": f"SKU{i}",
            "product_id": f"P{i}",
            "product_name": f"Item {i}",
            "category": CATEGORIES[i % 2],
            "subcategory": "sofas" if i % 2 == 0 else "lamps",
            "size": "one size",
            "colour": "oak",
            "supplier_id": "S1",
            "list_price_eur": "30000.00" if i == 0 else "500.00",
            "unit_cost_eur": "12000.00" if i == 0 else "200.00",
            "weight_g": "",
        }
        for i in range(4)
    ]
    orders, lines = [], []
    for d in range(DAYS):
        day = FIRST_DAY + timedelta(days=d)
        if day.isoweekday() == 7 or day == MISSING_WEDNESDAY:
            continue
        for k in range(ORDERS_PER_DAY):
            oid = f"O{d:02d}{k}"
            big = d == 0 and k == 0
            quantity = BIG_QUANTITY if d == 1 and k == 0 else 2
            total = BIG_ORDER_TOTAL if big else f"{quantity * 500:.2f}"
            at = datetime(day.year, day.month, day.day, 9 + k, 0, 0)
            orders.append(
                {
                    "order_id": oid,
                    "customer_id": f"K{k % 4}",
                    "session_id": "",
                    "ordered_at": at.strftime("%Y-%m-%d %H:%M:%S"),
                    "channel": "phone" if k % 3 == 0 else "webshop",
                    "shipping_country": "NO" if k % 4 == 1 else "SE",
                    "shipped_at": (at + timedelta(days=1)).strftime("%Y-%m-%d %H:%M:%S"),
                    "delivered_at": (at + timedelta(days=2)).strftime("%Y-%m-%d %H:%M:%S"),
                    "order_total_eur": total,
                    "currency": "SEK",
                }
            )
            lines.append(
                {
                    "order_line_id": f"{oid}-1",
                    "order_id": oid,
                    "line_number": "1",
                    "sku": "SKU0" if big else "SKU1",
                    "quantity": "2" if big else str(quantity),
                    "unit_price_eur": "30000.00" if big else "500.00",
                    "discount_eur": "0.00",
                    "batch_id": "",
                }
            )
    _csv(landing / "shop" / "customers.csv", customers)
    _csv(landing / "shop" / "products.csv", products)
    _csv(landing / "shop" / "orders_2026-03.csv", orders)
    _csv(landing / "shop" / "order_lines_2026-03.csv", lines)
    return {"customers": customers, "products": products, "orders": orders, "lines": lines}


OPEN_PROFILE = """
shop: {name: Fjord Home, reporting_currency: SEK}
values:
  category: {open: [furniture]}
  country: {open: [SE, NO]}
  channel: {open: [webshop]}
limits: {max_quantity: 500, max_order_total: 250000, max_list_price: 100000}
"""


def _load(landing: Path, warehouse: Path):
    from returnlens.ingest.loader import load_all

    con = duckdb.connect(str(warehouse))
    try:
        load_all(con, landing)
        return {
            t: con.execute(f"select count(*) from raw.{t}").fetchone()[0]
            for t in ("customers", "products", "orders", "order_lines")
        }, con.execute(
            "select source_file, reason, count(*) from raw.quarantine_rows group by 1, 2"
        ).fetchall()
    finally:
        con.close()


def _raw_gates(warehouse: Path, tmp_path: Path) -> dict:
    from returnlens.quality.history import run_gates

    paths = [
        PROJECT_ROOT / "expectations" / f"{s}.json" for s in ("raw_orders", "raw_orders_daily")
    ]
    paths += [PROJECT_ROOT / "expectations" / f"{s}.json" for s in ("raw_order_lines",)]
    results = run_gates(paths, warehouse, run_id="t", docs_dir=tmp_path / "docs")
    return {r.suite: r for r, _, _ in results}


def test_values_the_demo_never_had_load_under_an_open_profile(landing, tmp_path, monkeypatch):
    shop = _shop(landing)
    (landing / "returnlens.yml").write_text(OPEN_PROFILE, encoding="utf-8")
    monkeypatch.setenv("RETURNLENS_LANDING_DIR", str(landing))
    monkeypatch.delenv("RETURNLENS_PROFILE", raising=False)
    counts, quarantined = _load(landing, tmp_path / "w.duckdb")
    assert quarantined == []
    assert counts == {
        "customers": len(shop["customers"]),
        "products": len(shop["products"]),
        "orders": len(shop["orders"]),
        "order_lines": len(shop["lines"]),
    }
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    try:
        loaded = con.execute(
            "select order_id, channel, shipping_country, currency, cast(order_total_eur as varchar)"
            " from raw.orders order by 1"
        ).fetchall()
        profile_file = con.execute(
            "select status, error from raw.load_audit where source_file = 'returnlens.yml'"
        ).fetchall()
    finally:
        con.close()
    expected = sorted(
        (
            o["order_id"],
            o["channel"],
            o["shipping_country"],
            o["currency"],
            o["order_total_eur"],
        )
        for o in shop["orders"]
    )
    assert loaded == expected
    assert profile_file and profile_file[0][0] == "ignored" and "shop profile" in profile_file[0][1]

    # the gates take the profile's limits: an order of 60,000 and a line of 120 units pass
    gates = _raw_gates(tmp_path / "w.duckdb", tmp_path)
    assert gates["raw_orders"].passed, gates["raw_orders"].summary()
    assert gates["raw_order_lines"].passed, gates["raw_order_lines"].summary()
    # a missing Wednesday of a shop with 10 orders a day is a missing file; Sundays, never
    # with orders in the history, are not
    daily = gates["raw_orders_daily"]
    assert not daily.passed
    assert [o.examples for o in daily.failures] == [[MISSING_WEDNESDAY.isoformat()]]
    assert "orders.closed_weekdays, orders.closed_dates" in daily.failures[0].describe()


def test_closed_days_and_limits_of_the_profile_decide_the_gates(landing, tmp_path, monkeypatch):
    shop = _shop(landing)
    (landing / "returnlens.yml").write_text(
        OPEN_PROFILE.replace("max_order_total: 250000", "max_order_total: 50000")
        + f"orders: {{closed_weekdays: [sunday], closed_dates: [{MISSING_WEDNESDAY}]}}\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("RETURNLENS_LANDING_DIR", str(landing))
    monkeypatch.delenv("RETURNLENS_PROFILE", raising=False)
    _load(landing, tmp_path / "w.duckdb")
    gates = _raw_gates(tmp_path / "w.duckdb", tmp_path)
    assert gates["raw_orders_daily"].passed, gates["raw_orders_daily"].summary()
    orders = gates["raw_orders"]
    assert not orders.passed
    (failure,) = orders.failures
    above = sum(1 for o in shop["orders"] if Decimal(o["order_total_eur"]) > 50000)
    assert above >= 1
    assert failure.column == "order_total_eur" and failure.unexpected_count == above
    assert "change limits.max_order_total in returnlens.yml" in failure.describe()


def test_a_closed_value_set_quarantines_other_values_naming_the_setting(
    landing, tmp_path, monkeypatch
):
    shop = _shop(landing)
    (landing / "returnlens.yml").write_text(
        OPEN_PROFILE.replace(
            "category: {open: [furniture]}", "category: {closed: [furniture]}"
        ).replace("country: {open: [SE, NO]}", "country: {closed: [SE, NO]}"),
        encoding="utf-8",
    )
    monkeypatch.delenv("RETURNLENS_PROFILE", raising=False)
    counts, quarantined = _load(landing, tmp_path / "w.duckdb")
    lighting = sum(1 for p in shop["products"] if p["category"] not in ("furniture",))
    finnish = sum(1 for c in shop["customers"] if c["country_code"] not in ("SE", "NO"))
    assert counts["products"] == len(shop["products"]) - lighting
    assert counts["customers"] == len(shop["customers"]) - finnish
    reasons = {(f, r): n for f, r, n in quarantined}
    assert reasons == {
        (
            "shop/products.csv",
            "unknown value in category (not in the closed value set values.category of the "
            "shop profile: add it to returnlens.yml, or make the set open (docs/profile.md))",
        ): lighting,
        (
            "shop/customers.csv",
            "unknown value in country_code (not in the closed value set values.country of the "
            "shop profile: add it to returnlens.yml, or make the set open (docs/profile.md))",
        ): finnish,
    }


def test_amounts_in_another_currency_than_the_reporting_one_are_quarantined(
    landing, tmp_path, monkeypatch
):
    shop = _shop(landing)
    # no profile: the reporting currency is EUR, and these orders are in SEK
    monkeypatch.delenv("RETURNLENS_PROFILE", raising=False)
    counts, quarantined = _load(landing, tmp_path / "w.duckdb")
    assert counts["orders"] == 0
    assert [(f, n) for f, _, n in quarantined] == [("shop/orders_2026-03.csv", len(shop["orders"]))]
    assert "currency" in quarantined[0][1]


def test_share_of_nulls_is_gated_against_the_last_passed_run(landing, tmp_path, monkeypatch):
    shop = _shop(landing)
    (landing / "returnlens.yml").write_text(OPEN_PROFILE, encoding="utf-8")
    monkeypatch.setenv("RETURNLENS_LANDING_DIR", str(landing))
    monkeypatch.delenv("RETURNLENS_PROFILE", raising=False)
    _load(landing, tmp_path / "w.duckdb")
    first = _raw_gates(tmp_path / "w.duckdb", tmp_path)["raw_orders"]
    assert first.passed and not first.warnings, first.summary()

    # the next delivery lost the delivery date on 40 % of the orders (tolerance: 10 points)
    orders = [dict(o) for o in shop["orders"]]
    for o in orders[: len(orders) * 2 // 5]:
        o["delivered_at"] = ""
    _csv(landing / "shop" / "orders_2026-03.csv", orders)
    _load(landing, tmp_path / "w.duckdb")
    second = _raw_gates(tmp_path / "w.duckdb", tmp_path)["raw_orders"]
    assert second.passed  # a warning, not a block
    (warning,) = second.warnings
    missing = sum(1 for o in orders if not o["delivered_at"])
    assert warning.column == "delivered_at" and warning.unexpected_count == missing
    assert "meta.null_share.tolerance in expectations/raw_orders.json" in warning.describe()


def test_a_dutch_excel_export_declared_in_the_profile_loads_the_right_values(
    landing, tmp_path, monkeypatch
):
    """cp1252, `;`, decimal comma, `.` thousands, dd-mm-yyyy dates, CRLF and a BOM-less file as
    Excel writes it: declared under deliveries.orders, every value loads exactly."""
    shop = _shop(landing)
    (landing / "shop" / "orders_2026-03.csv").unlink()
    rows = shop["orders"][:40]
    header = ";".join(rows[0])
    lines = []
    for o in rows:
        whole, cents = o["order_total_eur"].split(".")
        grouped = f"{int(whole):,}".replace(",", ".") + "," + cents  # 60000.00 -> 60.000,00
        at = datetime.strptime(o["ordered_at"], "%Y-%m-%d %H:%M:%S")
        fields = dict(o, order_total_eur=grouped, ordered_at=at.strftime("%d-%m-%Y %H:%M"))
        for k in ("shipped_at", "delivered_at"):
            fields[k] = datetime.strptime(o[k], "%Y-%m-%d %H:%M:%S").strftime("%d-%m-%Y %H:%M")
        lines.append(";".join(fields[k] for k in rows[0]))
    (landing / "shop" / "bestellingen_2026-03.csv").write_bytes(
        ("\r\n".join([header, *lines]) + "\r\n").encode("cp1252")
    )
    (landing / "returnlens.yml").write_text(
        OPEN_PROFILE
        + """deliveries:
  orders:
    - pattern: "bestellingen_*.csv"
      format: csv
      encoding: cp1252
      delimiter: ";"
      decimal_separator: ","
      thousands_separator: "."
      timestamp_format: "%d-%m-%Y %H:%M"
""",
        encoding="utf-8",
    )
    monkeypatch.delenv("RETURNLENS_PROFILE", raising=False)
    counts, quarantined = _load(landing, tmp_path / "w.duckdb")
    assert quarantined == [] and counts["orders"] == len(rows)
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    try:
        loaded = con.execute(
            "select order_id, cast(order_total_eur as varchar), ordered_at, delivered_at "
            "from raw.orders order by 1"
        ).fetchall()
    finally:
        con.close()
    expected = sorted(
        (
            o["order_id"],
            o["order_total_eur"],
            datetime.strptime(o["ordered_at"], "%Y-%m-%d %H:%M:%S"),
            datetime.strptime(o["delivered_at"], "%Y-%m-%d %H:%M:%S"),
        )
        for o in rows
    )
    assert loaded == expected
    assert any(Decimal(o["order_total_eur"]) >= 1000 for o in rows)  # thousands were grouped
