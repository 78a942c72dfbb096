"""`generate --profile`: the generator writes a shop in the shape of a shop profile.

Every expectation comes from the profile file (read with yaml here) and the written files (read
with the csv module), never from the generator.
"""

from __future__ import annotations

import csv
import json
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from returnlens.cli import main
from returnlens.demo.generator import generate
from returnlens.ingest.contracts import POSTAL_CODE_DIGITS

pytestmark = pytest.mark.unit

PROFILE = Path(__file__).resolve().parents[2] / "profiles" / "example_b2b.yml"
SUPPLIERS = 5_000
# the demo shop's limits (profiles/demo.yml)
DEMO_MAX_QUANTITY = 50
DEMO_MAX_ORDER_TOTAL = Decimal(50_000)
DEMO_RETURN_WINDOW = timedelta(days=30)


@pytest.fixture(scope="module")
def spec() -> dict:
    return yaml.safe_load(PROFILE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def shop(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("b2b_shop")
    generate(out, seed=3, scale=0.02, suppliers=SUPPLIERS, profile=PROFILE)
    return out


def _rows(shop: Path, source: str, pattern: str) -> list[dict]:
    files = sorted((shop / source).glob(pattern))
    assert files, f"{source}/{pattern}"
    rows = []
    for f in files:
        with f.open(encoding="utf-8", newline="") as fh:
            rows += list(csv.DictReader(fh))
    return rows


def _closed(spec: dict, name: str) -> set[str]:
    return {str(v) for v in spec["values"][name]["closed"]}


def _ts(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%d %H:%M:%S")


def test_every_value_is_one_of_the_profiles_sets(shop, spec):
    categories, countries = _closed(spec, "category"), _closed(spec, "country")
    channels, currency = _closed(spec, "channel"), spec["shop"]["reporting_currency"]
    products = _rows(shop, "shop", "products*.csv")
    customers = _rows(shop, "shop", "customers*.csv")
    orders = _rows(shop, "shop", "orders_*.csv")
    # only the profile's values, and every one of them is used
    assert {p["category"] for p in products} == categories
    assert {c["country_code"] for c in customers} == countries
    assert {o["shipping_country"] for o in orders} == countries
    assert {o["channel"] for o in orders} == channels
    assert {o["currency"] for o in orders} == {currency} == {"SEK"}
    # the ground truth speaks of the written categories
    truth = json.loads((shop / "ground_truth.json").read_text())
    assert set(truth["signals"]["base_return_rates"]) == categories
    assert set(truth["signals"]["forecast"]["by_category"]) == categories
    assert set(truth["signals"]["seasonality"]["seasonal_categories"]) <= categories
    for batch in truth["signals"]["defective_batches"]["batches"]:
        assert batch["category"] in categories
    subcategories = {p["subcategory"] for p in products}
    assert set(truth["signals"]["fragile"]["fragile_subcategories"]) <= subcategories
    assert set(truth["shop"]["category_archetypes"]) == categories
    # six categories over the five archetypes: every planted signal exists
    assert len(set(truth["shop"]["category_archetypes"].values())) == 5
    assert truth["signals"]["small_sizing"]["small_sizing_supplier_ids"]
    assert truth["signals"]["defective_batches"]["defective_batch_ids"]


def test_postal_codes_and_phones_fit_the_country(shop):
    customers = _rows(shop, "shop", "customers*.csv")
    calling = {"SE": "+46 ", "NO": "+47 ", "DK": "+45 ", "FI": "+358 "}
    for c in customers:
        code, country = c["postal_code"], c["country_code"]
        if country in POSTAL_CODE_DIGITS:  # all digits, full length (leading zeros kept)
            assert code.isdigit() and len(code) == POSTAL_CODE_DIGITS[country], (country, code)
        else:
            assert not code.isdigit() and any(ch.isdigit() for ch in code), (country, code)
        assert c["phone"] == "" or c["phone"].startswith(calling[country]), country


def test_every_limit_holds_and_the_demos_are_exceeded(shop, spec):
    limits = {k: Decimal(str(v)) for k, v in spec["limits"].items()}
    products = _rows(shop, "shop", "products*.csv")
    lines = _rows(shop, "shop", "order_lines_*.csv")
    orders = _rows(shop, "shop", "orders_*.csv")
    returns = _rows(shop, "returns", "returns_*.csv")
    assert min(Decimal(p["list_price_eur"]) for p in products) >= limits["min_list_price"]
    quantities = [int(x["quantity"]) for x in lines + returns]
    assert max(quantities) <= limits["max_quantity"]
    refunds = [Decimal(r["refund_amount_eur"]) for r in returns if r["refund_amount_eur"]]
    assert max(refunds) <= limits["max_refund"]
    totals = {o["order_id"]: Decimal(o["order_total_eur"]) for o in orders}
    assert max(totals.values()) <= limits["max_order_total"]
    # each total is still the sum of its lines
    summed: dict[str, Decimal] = {}
    for x in lines:
        net = int(x["quantity"]) * Decimal(x["unit_price_eur"]) - Decimal(x["discount_eur"])
        summed[x["order_id"]] = summed.get(x["order_id"], Decimal(0)) + net
    assert summed == totals
    # a B2B shop: lines and orders beyond anything the demo shop has
    assert sum(q > DEMO_MAX_QUANTITY for q in quantities) >= 10
    assert sum(t > DEMO_MAX_ORDER_TOTAL for t in totals.values()) >= 3


def test_absent_sources_are_not_written_and_the_profile_is(shop, spec):
    absent = {s for s, state in spec["sources"].items() if state == "absent"}
    assert absent == {"surveys", "planning"}
    folders = {p.name for p in shop.iterdir() if p.is_dir()}
    assert folders == {"shop", "returns", "web", "purchasing", "interventions", "exchange_rates"}
    assert not folders & absent
    files = {p.name for p in shop.iterdir() if p.is_file()}
    assert files == {"ground_truth.json", "returnlens.yml"}
    assert (shop / "returnlens.yml").read_bytes() == PROFILE.read_bytes()


def test_closed_days_and_the_return_window_are_the_profiles(shop, spec):
    orders = _rows(shop, "shop", "orders_*.csv")
    closed_dates = {date.fromisoformat(str(d)) for d in spec["orders"]["closed_dates"]}
    assert spec["orders"]["closed_weekdays"] == ["sunday"]
    days = [_ts(o["ordered_at"]).date() for o in orders]
    assert not [d for d in days if d.weekday() == 6 or d in closed_dates]
    assert {d.weekday() for d in days} == {0, 1, 2, 3, 4, 5}
    delivered = {o["order_id"]: o["delivered_at"] for o in orders}
    waits = [
        _ts(r["requested_at"]) - _ts(delivered[r["order_id"]])
        for r in _rows(shop, "returns", "returns_*.csv")
    ]
    window = timedelta(days=spec["return_window_days"])
    assert window == timedelta(days=60)
    assert max(waits) <= window
    assert sum(w > DEMO_RETURN_WINDOW for w in waits) >= 5


def test_phone_and_marketplace_orders_have_no_web_session(shop):
    orders = _rows(shop, "shop", "orders_*.csv")
    sessions = {o["channel"]: set() for o in orders}
    for o in orders:
        sessions[o["channel"]].add(o["session_id"] != "")
    assert sessions == {"webshop": {True}, "marketplace": {False}, "phone": {False}}


def test_thousands_of_suppliers_each_sell_products_of_one_category(shop):
    suppliers = _rows(shop, "purchasing", "suppliers.csv")
    assert len({s["supplier_id"] for s in suppliers}) == len(suppliers) == SUPPLIERS
    categories: dict[str, set[str]] = {}
    for p in _rows(shop, "shop", "products*.csv"):
        categories.setdefault(p["supplier_id"], set()).add(p["category"])
    assert set(categories) == {s["supplier_id"] for s in suppliers}
    assert all(len(c) == 1 for c in categories.values())


def test_a_profile_the_generator_cannot_follow_is_a_clear_cli_error(tmp_path):
    profile = tmp_path / "no_shop.yml"
    profile.write_text("version: 1\nsources:\n  shop: absent\n", encoding="utf-8")
    out = tmp_path / "out"
    result = CliRunner().invoke(
        main, ["generate", "--scale", "0.01", "--profile", str(profile), "--out", str(out)]
    )
    assert result.exit_code == 2
    assert "sources.shop" in result.output and "always required" in result.output
    assert not out.exists()
