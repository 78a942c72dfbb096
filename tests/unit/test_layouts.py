"""`returnlens generate --layout <platform>`: the same demo shop in a platform's layout.

For each layout the demo shop (seed 5, scale 0.01) is generated natively and in the layout,
both landing folders are loaded by the real loader and adapters into two DuckDB files, and the
raw tables the marts are built from are compared row by row: every row of the native load
must be in the layout's load, with its ids mapped as the layout documents them
(docs/sources/<platform>.md, "Generated layout"), except the columns a platform cannot carry,
listed here with why (LOST). Each listed column must really differ in some row, so the list
is exact. The id mappings and the expected values are computed here from the documented
rules and the native files (csv, json modules), never by the converter's code.
"""

from __future__ import annotations

import csv
import filecmp
import json
import re
import shutil
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from returnlens.cli import main
from returnlens.demo.generator import generate
from returnlens.demo.layouts import write_layout
from returnlens.ingest.contracts import ENTITIES, entity
from returnlens.ingest.loader import load_all

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
SEEDS = ROOT / "seeds"
SEED, SCALE = 5, 0.01
TABLES = tuple(e.name for e in ENTITIES)


def _seed(name: str) -> list[dict[str, str]]:
    with (SEEDS / f"{name}.csv").open(newline="") as fh:
        return list(csv.DictReader(fh))


def _load(landing: Path, db: Path) -> dict[str, list[dict[str, str | None]]]:
    """Every raw table's contract columns as text, and the quarantine and failed files."""
    con = duckdb.connect(str(db))
    try:
        load_all(con, landing)
        tables = {}
        for name in TABLES:
            cols = [c.name for c in entity(name).columns]
            sel = ", ".join(f"cast({c} as varchar) as {c}" for c in cols)
            cur = con.execute(f"select {sel} from raw.{name}")
            tables[name] = [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]
        tables["_quarantine"] = [
            {"entity": e, "reason": r}
            for e, r in con.execute("select entity, reason from raw.quarantine_rows").fetchall()
        ]
        tables["_failed"] = [
            {"file": f, "status": s}
            for f, s in con.execute(
                "select source_file, status from raw.load_audit where status not in "
                "('loaded', 'skipped', 'ignored')"
            ).fetchall()
        ]
        tables["_extra_returns"] = [
            {"order_line_id": o, "extra": x}
            for o, x in con.execute("select order_line_id, _extra from raw.returns").fetchall()
        ]
        return tables
    finally:
        con.close()


@pytest.fixture(scope="module")
def native(tmp_path_factory):
    out = tmp_path_factory.mktemp("native") / "landing"
    generate(out, seed=SEED, scale=SCALE)
    return out, _load(out, out.parent / "w.duckdb")


def _layout(native, tmp_path: Path, layout: str):
    """The native shop (copied: the same seed's files) converted into `layout`, loaded. The
    native files the layout leaves byte for byte as they are load the same rows: they are
    left out of the load (test time) and their tables reported as `_unchanged`."""
    out = tmp_path / "landing"
    shutil.copytree(native[0], out)
    write_layout(out, layout)
    unchanged = []
    for e in ENTITIES:
        mine = sorted((out / e.source).glob(e.pattern)) if (out / e.source).is_dir() else []
        theirs = sorted((native[0] / e.source).glob(e.pattern))
        same = [p.name for p in mine] == [p.name for p in theirs] and all(
            filecmp.cmp(a, b, shallow=False) for a, b in zip(mine, theirs, strict=True)
        )
        if mine and same:
            unchanged.append(e.name)
            for p in mine:
                p.unlink()
    got = _load(out, tmp_path / "w.duckdb")
    got["_unchanged"] = unchanged
    return out, got


def test_native_is_the_default_layout_and_keeps_its_bytes(native, tmp_path):
    out = tmp_path / "landing"
    args = ["generate", "--seed", str(SEED), "--scale", str(SCALE), "--out", str(out)]
    result = CliRunner().invoke(main, [*args, "--layout", "native"])
    assert result.exit_code == 0, result.output
    mine = sorted(p.relative_to(out) for p in out.rglob("*") if p.is_file())
    theirs = sorted(p.relative_to(native[0]) for p in native[0].rglob("*") if p.is_file())
    assert mine == theirs
    assert all(filecmp.cmp(out / p, native[0] / p, shallow=False) for p in mine)
    # a platform layout converts clean files only
    dirty = CliRunner().invoke(main, [*args, "--dirty", "--layout", "shopify"])
    assert dirty.exit_code == 2 and "--dirty" in dirty.output


def _native_csv(out: Path, source: str, pattern: str) -> list[dict[str, str]]:
    rows = []
    for p in sorted((out / source).glob(pattern)):
        with p.open(newline="") as fh:
            rows += list(csv.DictReader(fh))
    return rows


Row = dict[str, str | None]


def _compare(
    got: dict[str, list[Row]],
    want: dict[str, list[Row]],
    maps: dict[str, Callable[[Row], Row | None]],
    lost: dict[str, dict[str, str]],
) -> None:
    """Every native row, mapped, equals a layout row on every column but the lost ones; the
    lost ones differ in at least one row; no row loaded that the native load lacks."""
    assert not got["_quarantine"], got["_quarantine"][:5]
    assert not got["_failed"], got["_failed"]
    for table in TABLES:
        if table in got["_unchanged"]:  # the same files as the native shop's
            assert table not in lost, table
            mapping = maps.get(table, dict)
            assert all(mapping(dict(r)) == r for r in want[table]), table
            continue
        cols = [c.name for c in entity(table).columns]
        gone = set(lost.get(table, {}))
        keep = [c for c in cols if c not in gone]
        mapped = [maps.get(table, dict)(dict(r)) for r in want[table]]
        expected = sorted(tuple(r[c] for c in keep) for r in mapped if r is not None)
        actual = sorted(tuple(r[c] for c in keep) for r in got[table])
        assert len(actual) == len(expected), table
        assert actual == expected, table
        if gone:  # a lost column must differ somewhere: the list is exact
            key = [c for c in entity(table).key]
            by_key = {tuple(r[c] for c in key): r for r in got[table]}
            for col in gone:
                differs = any(
                    (g := by_key.get(tuple(r[c] for c in key))) is None or g[col] != r[col]
                    for r in mapped
                    if r is not None
                )
                assert differs, f"{table}.{col} is listed as lost but carried"


# ------------------------------------------------------------------------------ bol.com
def _ean(position: int) -> str:
    """EAN-13 with GS1 prefix 871 and the 9-digit position, check digit by the GS1 rule."""
    body = f"871{position:09d}"
    total = sum(int(d) * (1 if i % 2 == 0 else 3) for i, d in enumerate(body))
    return body + str((10 - total % 10) % 10)


BOL_LOST = {
    "returns": {
        "rma_id": "bol.com keys each returned item (rmaId), not the return: the native RMA is "
        "the item's returnId in _extra",
        "reason_text": "the adapter prefixes bol.com's main and detailed reason texts",
        "received_at": "one processing moment per item: a refunded item's receipt is its "
        "refund time",
        "inspected_at": "bol.com has no inspection",
        "condition_grade": "bol.com has no inspection",
        "disposition": "bol.com has no disposition (only REPAIR_PRODUCT: refurbish)",
        "refund_amount_eur": "the returns API carries no amount",
        "resolution": "no store credit at bol.com: a store credit is RETURN_RECEIVED (refund)",
        "refunded_at": "CUSTOMER_KEEPS_PRODUCT_PAID is no refund at bol.com",
        "status": "bol.com's handlingResult/processingResult vocabulary",
    }
}


def test_bol_layout_loads_the_same_shop(native, tmp_path):
    nat_out, want = native
    out, got = _layout(native, tmp_path, "bol")
    assert not list((out / "returns").glob("*.csv"))
    skus = sorted(p["sku"] for p in _native_csv(nat_out, "shop", "products*.csv"))
    ean = {s: _ean(i) for i, s in enumerate(skus, start=1)}
    assert len(set(ean.values())) == len(ean)

    def line(r: Row) -> Row:
        return {**r, "sku": ean[r["sku"]], "order_line_id": f"{r['order_id']}-{ean[r['sku']]}"}

    def sku(r: Row) -> Row:
        return {**r, "sku": ean[r["sku"]] if r["sku"] is not None else None}

    _compare(
        got,
        want,
        {
            "products": sku,
            "order_lines": line,
            "returns": line,
            "web_events": sku,
            "demand_forecasts": sku,
        },
        BOL_LOST,
    )
    # the native RMA is the return (returnId): its items keep their grouping
    rmas = {}
    for r in got["_extra_returns"]:
        rmas.setdefault(json.loads(r["extra"])["returnId"], set()).add(r["order_line_id"])
    native_rmas = {}
    for r in want["returns"]:
        native_rmas.setdefault(r["rma_id"].removeprefix("RMA").lstrip("0"), set()).add(
            line(r)["order_line_id"]
        )
    assert rmas == native_rmas
    _bol_values_documented(out)


# the enums as bol.com documents them (Retailer API v10; SOURCES.md)
BOL_PROCESSING = {"PENDING", "ACCEPTED", "REJECTED"}
BOL_HANDLING = {
    "RETURN_RECEIVED",
    "EXCHANGE_PRODUCT",
    "RETURN_DOES_NOT_MEET_CONDITIONS",
    "REPAIR_PRODUCT",
    "CUSTOMER_KEEPS_PRODUCT_PAID",
    "STILL_APPROVED",
}


def _aware(text: str) -> bool:
    return datetime.fromisoformat(text).tzinfo is not None


def _bol_values_documented(out: Path) -> None:
    reasons = {
        (r["main_reason"], r["detailed_reason"] or None) for r in _seed("bol_return_reasons")
    }
    files = sorted((out / "bol").glob("returns_*.json"))
    assert files
    for path in files:
        for ret in json.loads(path.read_text())["returns"]:
            assert isinstance(ret["returnId"], str) and ret["returnId"].isdigit()
            assert _aware(ret["registrationDateTime"])
            assert ret["fulfilmentMethod"] in {"FBR", "FBB"}
            for item in ret["returnItems"]:
                assert isinstance(item["rmaId"], int) and isinstance(item["orderId"], str)
                ean = item["ean"]
                assert len(ean) == 13 and _ean(int(ean[3:12])) == ean
                assert isinstance(item["expectedQuantity"], int) and item["expectedQuantity"] >= 1
                reason = item["returnReason"]
                assert (reason["mainReason"], reason["detailedReason"]) in reasons
                assert isinstance(item["handled"], bool)
                for pr in item["processingResults"]:
                    assert pr["processingResult"] in BOL_PROCESSING
                    assert pr["handlingResult"] in BOL_HANDLING
                    assert isinstance(pr["quantity"], int) and _aware(pr["processingDateTime"])


# ------------------------------------------------------------------------------ Sendcloud
SENDCLOUD_LOST = {
    "returns": {
        "reason_text": "the adapter prefixes the portal's reason description",
        "refunded_at": "Sendcloud ships the parcel and pays out nothing",
        "refund_amount_eur": "Sendcloud ships the parcel and pays out nothing",
        "inspected_at": "Sendcloud has no inspection",
        "condition_grade": "Sendcloud has no inspection",
        "disposition": "Sendcloud has no disposition",
        "resolution": "no keep-it in Sendcloud (a parcel is returned): refund_type money",
        "status": "Sendcloud's parcel statuses (delivered, ready to send)",
    }
}


def test_sendcloud_layout_loads_the_same_shop(native, tmp_path):
    _, want = native
    out, got = _layout(native, tmp_path, "sendcloud")
    assert not list((out / "returns").glob("*.csv"))

    def line(r: Row) -> Row:
        return {**r, "order_line_id": f"{r['order_id']}-{r['sku']}"}

    def ret(r: Row) -> Row:
        return {**line(r), "rma_id": r["rma_id"].removeprefix("RMA").lstrip("0")}

    _compare(got, want, {"order_lines": line, "returns": ret}, SENDCLOUD_LOST)
    # every value as Sendcloud documents it (Returns API v3; SOURCES.md)
    statuses = {r["status"] for r in _seed("return_status_map") if r["vocabulary"] == "sendcloud"}
    reasons = {r["return_reason"] for r in _seed("sendcloud_return_reasons")}
    files = sorted((out / "sendcloud").glob("returns_*.json"))
    assert files
    for path in files:
        for r in json.loads(path.read_text()):
            assert isinstance(r["id"], int) and isinstance(r["order_number"], str)
            assert r["refund"]["refund_type"] in {"money", "credit", "exchange"}
            assert r["delivery_option"] in {
                "drop_off_point",
                "drop_off_labelless",
                "pickup",
                "in_store",
            }
            assert r["status"] in statuses
            assert _aware(r["created_at"])
            assert r["delivered_at_iso"] is None or _aware(r["delivered_at_iso"])
            for i in r["parcel_items"]:
                assert isinstance(i["quantity"], int) and i["quantity"] >= 1
                assert i["return_reason"]["description"] in reasons
                assert isinstance(i["return_reason"]["id"], int)
                assert re.fullmatch(r"[0-9]+([.][0-9]{1,2})?", str(i["value"]["value"]))


# ------------------------------------------------------------------------------ Shopify
def _number(native_id: str | None) -> str | None:
    """Shopify's (and WooCommerce's) id of a native id: its number (O0000429 -> 429)."""
    return None if native_id is None else str(int(native_id.lstrip("ABCDEFGHIJKLMNOPQRSTUVWXYZ")))


def _line_id(order_line_id: str) -> str:
    """order number x 100 + line number (O0000429-2 -> 42902)."""
    order, line = order_line_id.rsplit("-", 1)
    return str(int(_number(order)) * 100 + int(line))


SHOPIFY_LOST = {
    "orders": {
        "session_id": "Shopify's order names no web session",
        "shipped_at": "the fulfillment tables are not read",
        "delivered_at": "the fulfillment tables are not read",
        "currency": "Shopify always states the order's currency (EUR); the native files leave "
        "it empty (the reporting currency)",
    },
    "order_lines": {"batch_id": "Shopify has no production batches"},
    "returns": {
        "reason_code": "Shopify's return_reason enum has no transit damage or late delivery "
        "(DEFECTIVE, OTHER)",
        "received_at": "no receipt in Shopify: a restocked refund line's refund time",
        "inspected_at": "Shopify has no inspection",
        "condition_grade": "Shopify has no inspection",
        "disposition": "restock_type: restock or nothing",
        "resolution": "every Shopify refund line is a refund (no exchange, store credit, keep-it)",
        "refund_amount_eur": "an exchange has no refund line: no amount (native 0.00)",
        "status": "Shopify's return status enum (REQUESTED, OPEN, CLOSED, ...)",
    },
}


def test_shopify_layout_loads_the_same_shop(native, tmp_path):
    nat_out, want = native
    out, got = _layout(native, tmp_path, "shopify")
    for gone in ("orders_*.csv", "order_lines_*.csv", "products*.csv", "customers*.csv"):
        assert not list((out / "shop").glob(gone))
    assert not list((out / "returns").glob("*.csv"))
    product_ids = sorted({p["product_id"] for p in _native_csv(nat_out, "shop", "products*.csv")})
    product = {p: str(i) for i, p in enumerate(product_ids, start=1)}

    def customer(r: Row) -> Row:
        return {**r, "customer_id": _number(r["customer_id"])}

    def account(r: Row) -> Row:
        # Shopify keeps a customer's phone in E.164: the native spaces are gone
        phone = r["phone"] and r["phone"].replace(" ", "")
        return {**customer(r), "phone": phone}

    def order(r: Row) -> Row:
        return {**customer(r), "order_id": _number(r["order_id"])}

    def line(r: Row) -> Row:
        return {
            **r,
            "order_id": _number(r["order_id"]),
            "order_line_id": _line_id(r["order_line_id"]),
        }

    def ret(r: Row) -> Row:
        return {**line(r), "rma_id": _number(r["rma_id"])}

    def nps(r: Row) -> Row:
        return {**customer(r), "order_id": _number(r["order_id"])}

    def batch(r: Row) -> Row:
        return {**r, "product_id": product[r["product_id"]]}

    def intervention(r: Row) -> Row:
        if r["scope_type"] == "product":
            return {**r, "scope_value": product[r["scope_value"]]}
        return r

    _compare(
        got,
        want,
        {
            "customers": account,
            "orders": order,
            "order_lines": line,
            "products": batch,
            "returns": ret,
            "nps_responses": nps,
            "web_events": customer,
            "production_batches": batch,
            "interventions": intervention,
        },
        SHOPIFY_LOST,
    )
    _shopify_values_documented(out)


# Fivetran's Shopify schema: the enums and types (SOURCES.md, docs/sources/shopify.md)
SHOPIFY_RETURN_REASONS = {
    "COLOR",
    "DEFECTIVE",
    "NOT_AS_DESCRIBED",
    "OTHER",
    "SIZE_TOO_LARGE",
    "SIZE_TOO_SMALL",
    "STYLE",
    "UNKNOWN",
    "UNWANTED",
    "WRONG_ITEM",
}
SHOPIFY_RESTOCK_TYPES = {"no_restock", "cancel", "return", "legacy_restock"}
SHOPIFY_RETURN_STATUSES = {"REQUESTED", "OPEN", "CLOSED", "DECLINED", "CANCELED"}
SHOPIFY_TYPES = {
    "order": {"id": "BIGINT", "customer_id": "BIGINT", "created_at": "TIMESTAMP WITH TIME ZONE"},
    "order_line": {"id": "BIGINT", "order_id": "BIGINT", "quantity": "INTEGER"},
    "product_variant": {"id": "BIGINT", "product_id": "BIGINT", "grams": "INTEGER"},
    "return_line_item": {"id": "BIGINT", "return_id": "BIGINT", "order_line_id": "BIGINT"},
    "order_line_refund": {"refund_id": "BIGINT", "order_line_id": "BIGINT"},
    "refund": {"processed_at": "TIMESTAMP WITH TIME ZONE"},
    "return": {"created_at": "TIMESTAMP WITH TIME ZONE"},
    "customer": {
        "id": "BIGINT",
        "created_at": "TIMESTAMP WITH TIME ZONE",
        "updated_at": "TIMESTAMP WITH TIME ZONE",
        "default_address_id": "BIGINT",
        "verified_email": "BOOLEAN",
    },
    "customer_address": {"id": "BIGINT", "customer_id": "BIGINT", "is_default": "BOOLEAN"},
}


def _shopify_values_documented(out: Path) -> None:
    con = duckdb.connect()
    try:

        def values(table: str, col: str) -> set:
            path = out / "shopify" / f"{table}.parquet"
            return {v for (v,) in con.execute(f"select distinct {col} from '{path}'").fetchall()}

        for table, types in SHOPIFY_TYPES.items():
            path = out / "shopify" / f"{table}.parquet"
            got = {c: t for c, t, *_ in con.execute(f"describe select * from '{path}'").fetchall()}
            assert {c: got[c] for c in types} == types, table
        for table, col in (("order", "total_price"), ("order_line_refund", "subtotal")):
            path = out / "shopify" / f"{table}.parquet"
            (t,) = con.execute(f"select typeof({col}) from '{path}' limit 1").fetchone()
            assert t.startswith("DECIMAL"), (table, col)
        assert values("return_line_item", "return_reason") <= SHOPIFY_RETURN_REASONS
        assert values("order_line_refund", "restock_type") <= SHOPIFY_RESTOCK_TYPES
        assert values("return", "status") <= SHOPIFY_RETURN_STATUSES
    finally:
        con.close()


# ------------------------------------------------------------------------------ WooCommerce
WOOCOMMERCE_LOST = {
    "orders": {
        "session_id": "WooCommerce's order names no web session",
        "shipped_at": "no shipping dates in WooCommerce core",
        "delivered_at": "no shipping dates in WooCommerce core",
        "channel": "WooCommerce is the web shop: every order is web",
        "currency": "WooCommerce always states the order's currency (EUR); the native files "
        "leave it empty (the reporting currency)",
    },
    "order_lines": {"batch_id": "WooCommerce has no production batches"},
    "returns": {
        "reason_code": "WooCommerce refunds have no reason codes, only the free-text reason",
        "reason_text": "one reason per refund: a refund's lines take its first line's text",
        "requested_at": "the refund is WooCommerce's only return event: its time",
        "received_at": "WooCommerce knows a refund, not a return",
        "inspected_at": "WooCommerce knows a refund, not a return",
        "refunded_at": "the adapter leaves it empty (the refund time is requested_at)",
        "condition_grade": "WooCommerce has no inspection",
        "disposition": "WooCommerce has no disposition",
        "resolution": "every WooCommerce refund is a refund (store credit, keep-it)",
        "status": "every refund is refunded",
    },
}


def test_woocommerce_layout_loads_the_same_shop(native, tmp_path):
    _, want = native
    out, got = _layout(native, tmp_path, "woocommerce")
    for gone in ("orders_*.csv", "order_lines_*.csv"):
        assert not list((out / "shop").glob(gone))
    assert not list((out / "returns").glob("*.csv"))

    def customer(r: Row) -> Row:
        return {**r, "customer_id": _number(r["customer_id"])}

    def order(r: Row) -> Row:
        return {**customer(r), "order_id": _number(r["order_id"])}

    def line(r: Row) -> Row:
        return {
            **r,
            "order_id": _number(r["order_id"]),
            "order_line_id": _line_id(r["order_line_id"]),
        }

    def refund(r: Row) -> Row | None:
        # WooCommerce knows refunds, not returns: a return never refunded is not there
        if r["refunded_at"] is None:
            return None
        return {**line(r), "rma_id": _number(r["rma_id"])}

    assert any(r["refunded_at"] is None for r in want["returns"])
    _compare(
        got,
        want,
        {
            "customers": customer,
            "orders": order,
            "order_lines": line,
            "returns": refund,
            "nps_responses": order,
            "web_events": customer,
        },
        WOOCOMMERCE_LOST,
    )
    # every value as the REST API v3 documents it: ids integers, amounts strings with 2
    # decimals, *_gmt without offset, refunded quantities and amounts negative
    amount = re.compile(r"-?[0-9]+[.][0-9]{2}")
    statuses = {r["status"] for r in _seed("woocommerce_order_statuses")}
    files = sorted((out / "woocommerce").glob("orders_*.json"))
    assert files
    for path in files:
        for o in json.loads(path.read_text()):
            assert isinstance(o["id"], int) and isinstance(o["customer_id"], int)
            assert o["status"] in statuses
            assert datetime.fromisoformat(o["date_created_gmt"]).tzinfo is None
            assert all(amount.fullmatch(o[k]) for k in ("total", "total_tax", "discount_total"))
            for li in o["line_items"]:
                assert isinstance(li["id"], int) and isinstance(li["quantity"], int)
                assert all(
                    amount.fullmatch(li[k])
                    for k in ("subtotal", "subtotal_tax", "total", "total_tax")
                )
    refunds = [
        r
        for p in sorted((out / "woocommerce").glob("refunds_*.json"))
        for r in json.loads(p.read_text())
    ]
    assert refunds
    for r in refunds:
        assert isinstance(r["id"], int) and amount.fullmatch(r["amount"])
        assert r["_links"]["up"][0]["href"].rsplit("/", 1)[1].isdigit()
        for li in r["line_items"]:
            assert li["quantity"] < 0 and li["total"].startswith("-")
            (meta,) = li["meta_data"]
            assert meta["key"] == "_refunded_item_id" and meta["value"].isdigit()


# ------------------------------------------------------------------ Shopify admin export
# the admin "Export orders" CSV's columns in order (SOURCES.md, Shopify's help centre)
EXPORT_COLUMNS = [
    *[
        "Name",
        "Email",
        "Financial Status",
        "Paid at",
        "Fulfillment Status",
        "Fulfilled at",
        "Accepts Marketing",
        "Currency",
        "Subtotal",
        "Shipping",
        "Taxes",
        "Total",
        "Discount Code",
        "Discount Amount",
        "Shipping Method",
        "Created at",
        "Lineitem quantity",
        "Lineitem name",
        "Lineitem price",
        "Lineitem compare at price",
        "Lineitem sku",
        "Lineitem requires shipping",
        "Lineitem taxable",
        "Lineitem fulfillment status",
    ],
    *(
        f"{side} {f}"
        for side in ("Billing", "Shipping")
        for f in [
            "Name",
            "Street",
            "Address1",
            "Address2",
            "Company",
            "City",
            "Zip",
            "Province",
            "Country",
            "Phone",
        ]
    ),
    *[
        "Notes",
        "Note Attributes",
        "Cancelled at",
        "Payment Method",
        "Payment Reference",
        "Refunded Amount",
        "Vendor",
        "Outstanding Balance",
        "Employee",
        "Location",
        "Device ID",
        "Id",
        "Tags",
        "Risk Level",
        "Source",
        "Lineitem discount",
    ],
    *(f"Tax {n} {k}" for n in range(1, 6) for k in ("Name", "Value")),
    "Phone",
    "Receipt Number",
]


def test_shopify_admin_export_carries_orders_lines_and_refunded_amounts(native, tmp_path):
    nat_out = native[0]
    out = tmp_path / "landing"
    shutil.copytree(nat_out, out)
    write_layout(out, "shopify-admin-export")
    for gone in ("orders_*.csv", "order_lines_*.csv"):
        assert not list((out / "shop").glob(gone))
    assert list((out / "returns").glob("returns_*.csv"))  # the returns portal's stay
    with (out / "shopify_export" / "orders_export_1.csv").open(newline="") as fh:
        reader = csv.DictReader(fh)
        assert reader.fieldnames == EXPORT_COLUMNS
        rows = list(reader)
    orders = {o["order_id"]: o for o in _native_csv(nat_out, "shop", "orders_*.csv")}
    lines = sorted(
        _native_csv(nat_out, "shop", "order_lines_*.csv"),
        key=lambda r: (int(_number(r["order_id"])), int(r["line_number"])),
    )
    refunded: dict[str, Decimal] = {}
    for r in _native_csv(nat_out, "returns", "returns_*.csv"):
        if r["refunded_at"]:
            refunded[r["order_id"]] = refunded.get(r["order_id"], 0) + Decimal(
                r["refund_amount_eur"]
            )
    assert len(rows) == len(lines)
    order_level = ["Email", "Financial Status", "Currency", "Total", "Created at"]
    for row, line in zip(rows, lines, strict=True):
        order = orders[line["order_id"]]
        assert row["Id"] == _number(line["order_id"])
        assert row["Name"] == f"#{1000 + int(row['Id'])}"
        assert (row["Lineitem sku"], row["Lineitem quantity"]) == (line["sku"], line["quantity"])
        assert Decimal(row["Lineitem price"]) == Decimal(line["unit_price_eur"])
        assert Decimal(row["Lineitem discount"]) == Decimal(line["discount_eur"])
        if line["line_number"] != "1":  # order-level fields on the order's first row only
            assert not any(row[c] for c in order_level)
            continue
        assert Decimal(row["Total"]) == Decimal(order["order_total_eur"])
        assert row["Currency"] == "EUR"
        created = datetime.strptime(row["Created at"], "%Y-%m-%d %H:%M:%S %z")
        assert created.astimezone(UTC).replace(tzinfo=None) == datetime.fromisoformat(
            order["ordered_at"]
        )
        amount = refunded.get(line["order_id"], Decimal(0))
        assert Decimal(row["Refunded Amount"]) == amount
        status = "paid" if amount == 0 else "partially_refunded"
        if amount >= Decimal(order["order_total_eur"]):
            status = "refunded"
        assert row["Financial Status"] == status
    # the admin export's adapter loads every order and line of it, nothing quarantined
    raw = _load(out, tmp_path / "export.duckdb")
    assert not raw["_failed"] and not raw["_quarantine"]
    assert sorted(o["order_id"] for o in raw["orders"]) == sorted(_number(o) for o in orders)
    assert sorted((r["order_id"], r["sku"], r["quantity"]) for r in raw["order_lines"]) == sorted(
        (_number(r["order_id"]), r["sku"], r["quantity"]) for r in lines
    )
    # the returns and survey answers name the export's orders and lines: each return names
    # a loaded line of its native line's order, position and sku; each answer a loaded order
    loaded = {r["order_line_id"]: r for r in raw["order_lines"]}
    returned = _native_csv(out, "returns", "returns_*.csv")
    native_returns = _native_csv(nat_out, "returns", "returns_*.csv")
    assert len(returned) == len(native_returns)
    for ret, nat in zip(returned, native_returns, strict=True):
        position = nat["order_line_id"].rsplit("-", 1)[1]
        assert ret["order_id"] == _number(nat["order_id"])
        assert ret["order_line_id"] == f"{_number(nat['order_id'])}-{position}"
        line = loaded[ret["order_line_id"]]
        assert (line["order_id"], line["sku"]) == (ret["order_id"], nat["sku"])
    answers = _native_csv(out, "surveys", "nps_*.csv")
    assert answers and {a["order_id"] for a in answers if a["order_id"]} <= {
        o["order_id"] for o in raw["orders"]
    }


@pytest.mark.parametrize("layout", ["shopify", "woocommerce"])
def test_parquet_web_events_name_the_platforms_customers(tmp_path, layout):
    """From scale 5 the generator writes web events as Parquet: the layouts re-key them like
    the JSON lines, so the events still name the customers of the platform's own tables."""
    out = tmp_path / "landing"
    generate(out, seed=SEED, scale=SCALE, web_format="parquet")
    native_ids = {r["customer_id"] for r in _native_csv(out, "shop", "customers*.csv")}
    write_layout(out, layout)
    if layout == "shopify":  # Shopify's customers are its connector table `customer`
        path = out / "shopify" / "customer.parquet"
        rows = duckdb.connect().execute(f"select cast(id as varchar) from '{path}'").fetchall()
        customers = {c for (c,) in rows}
    else:
        customers = {r["customer_id"] for r in _native_csv(out, "shop", "customers*.csv")}
    assert customers == {_number(c) for c in native_ids}
    files = sorted((out / "web").glob("events_*.parquet"))
    assert files and not list((out / "web").glob("events_*.jsonl"))
    con = duckdb.connect()
    named = {
        c
        for (c,) in con.execute(
            "select distinct customer_id from read_parquet(?) where customer_id is not null",
            [[str(f) for f in files]],
        ).fetchall()
    }
    assert named and named <= customers
