"""WooCommerce adapter on a hand-written fixture built from the REST API v3 documentation's
examples (tests/data/platforms/woocommerce/, not from the generator): orders, order lines and
refunded line items loaded into raw.orders, raw.order_lines and raw.returns, what is
quarantined and why, that amounts are exact and personal data is not loaded.

Expectations are computed from the fixture files with the json module (amounts with
`decimal`) and from seed woocommerce_order_statuses with the csv module, never from the
loader's output.
"""

from __future__ import annotations

import csv
import json
import shutil
from decimal import Decimal
from pathlib import Path

import pytest

from returnlens.adapters import PLATFORM_TABLES
from returnlens.ingest.loader import load_all, load_entity

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "tests" / "data" / "platforms" / "woocommerce"
ORDERS_FILE = "woocommerce/orders_2024-03-p1.json"
REFUNDS_FILE = "woocommerce/refunds_2024-03.json"
# the order statuses WooCommerce documents (REST API v3, order properties), and the block
# checkout's draft
DOCUMENTED_STATUSES = {
    "pending",
    "processing",
    "on-hold",
    "completed",
    "cancelled",
    "refunded",
    "failed",
    "trash",
    "checkout-draft",
}
CENT = Decimal("0.01")


def _json(name: str):
    return json.loads((FIXTURE / name).read_text())


def _sales() -> set[str]:
    with (ROOT / "seeds" / "woocommerce_order_statuses.csv").open(newline="") as fh:
        return {r["status"] for r in csv.DictReader(fh) if r["is_sale"] == "true"}


def _exact(text) -> bool:
    return Decimal(str(text)) == Decimal(str(text)).quantize(CENT)


def _order_ok(o: dict, currency: str = "EUR") -> bool:
    return (
        o.get("type") != "shop_order_refund"
        and o["status"] in _sales()
        and o["currency"] == currency
        and _exact(o["total"])
    )


def _gross(li: dict) -> Decimal:
    return Decimal(li["subtotal"]) + Decimal(li["subtotal_tax"])


def _line_ok(o: dict, li: dict) -> bool:
    q = li["quantity"]
    amounts = [li[a] for a in ("subtotal", "subtotal_tax", "total", "total_tax")]
    return (
        _order_ok(o)
        and li["sku"] != ""
        and isinstance(q, int)
        and q > 0
        and all(_exact(a) for a in amounts)
        and (_gross(li) * 100) % q == 0
    )


def _parent(r: dict) -> str:
    if r.get("parent_id"):
        return str(r["parent_id"])
    return r["_links"]["up"][0]["href"].rsplit("/", 1)[1]


def _refunded_line(r: dict, li: dict, orders: dict) -> dict | None:
    order = orders.get(_parent(r))
    if order is None:
        return None
    meta = {m["key"]: m["value"] for m in li["meta_data"]}
    if "_refunded_item_id" in meta:
        lines = [x for x in order["line_items"] if str(x["id"]) == meta["_refunded_item_id"]]
    else:
        lines = [
            x
            for x in order["line_items"]
            if (x["product_id"], x["variation_id"]) == (li["product_id"], li["variation_id"])
        ]
    return lines[0] if len(lines) == 1 else None


def _return_ok(r: dict, li: dict, orders: dict) -> bool:
    order = orders.get(_parent(r))
    q = li["quantity"]
    return (
        order is not None
        and _order_ok(order)
        and _refunded_line(r, li, orders) is not None
        and isinstance(q, int)
        and q < 0
        and _exact(li["total"])
        and _exact(li["total_tax"])
    )


@pytest.fixture()
def landing(tmp_path) -> Path:
    target = tmp_path / "landing"
    shutil.copytree(FIXTURE, target)
    return target


def _audit(con, entity: str) -> list[tuple]:
    return con.execute(
        "select source_file, status, rows_in, rows_loaded, rows_quarantined from raw.load_audit "
        "where entity = ? and source_file like 'woocommerce/%'",
        [entity],
    ).fetchall()


def _reasons(con, entity: str) -> list[str]:
    return [
        r
        for (r,) in con.execute(
            "select reason from raw.quarantine_rows where entity = ?", [entity]
        ).fetchall()
    ]


def test_orders_load_exactly_and_the_invalid_are_quarantined(con, landing):
    load_all(con, landing)
    orders = _json(ORDERS_FILE)
    valid = [o for o in orders if _order_ok(o)]
    assert 0 < len(valid) < len(orders)
    assert _audit(con, "orders") == [
        (ORDERS_FILE, "loaded", len(orders), len(valid), len(orders) - len(valid))
    ]
    rows = con.execute(
        "select order_id, customer_id, session_id, cast(ordered_at as varchar), channel, "
        "shipping_country, shipped_at, delivered_at, order_total_eur, currency "
        "from raw.orders order by order_id"
    ).fetchall()
    expected = sorted(
        (
            str(o["id"]),
            f"guest-{o['id']}" if o["customer_id"] == 0 else str(o["customer_id"]),
            None,
            o["date_created_gmt"].replace("T", " "),
            "web",
            o["shipping"]["country"] or o["billing"]["country"],
            None,
            None,
            Decimal(o["total"]),
            o["currency"],
        )
        for o in valid
    )
    assert rows == expected
    reasons = _reasons(con, "orders")
    assert any(
        r.startswith("the order's currency is not listed in values.currency") for r in reasons
    )
    assert any(r.startswith("status is not a sale") for r in reasons)
    assert any(r.startswith("status not in seeds/woocommerce_order_statuses.csv") for r in reasons)
    assert any(r.startswith("total is not an amount exact to the cent") for r in reasons)
    assert any(r.startswith("a refund (type shop_order_refund) delivered as") for r in reasons)


def test_order_lines_load_with_gross_unit_price_and_discount(con, landing):
    load_all(con, landing)
    orders = _json(ORDERS_FILE)
    lines = [(o, n, li) for o in orders for n, li in enumerate(o["line_items"], 1)]
    valid = [(o, n, li) for o, n, li in lines if _line_ok(o, li)]
    assert 0 < len(valid) < len(lines)
    assert _audit(con, "order_lines") == [
        (ORDERS_FILE, "loaded", len(lines), len(valid), len(lines) - len(valid))
    ]
    rows = con.execute(
        "select order_line_id, order_id, line_number, sku, quantity, unit_price_eur, "
        "discount_eur, batch_id from raw.order_lines order by order_line_id"
    ).fetchall()
    expected = sorted(
        (
            str(li["id"]),
            str(o["id"]),
            n,
            li["sku"],
            li["quantity"],
            _gross(li) / li["quantity"],
            _gross(li) - Decimal(li["total"]) - Decimal(li["total_tax"]),
            None,
        )
        for o, n, li in valid
    )
    assert rows == expected
    # the line's net (quantity x unit price - discount) is WooCommerce's total + total_tax
    (net,) = con.execute(
        "select sum(quantity * unit_price_eur - discount_eur) from raw.order_lines"
    ).fetchall()[0]
    assert net == sum(Decimal(li["total"]) + Decimal(li["total_tax"]) for _, _, li in valid)
    reasons = _reasons(con, "order_lines")
    assert any("bad integer in quantity: a fraction" in r for r in reasons)
    assert any(r.startswith("(subtotal + subtotal_tax) / quantity is not a whole") for r in reasons)
    assert any("sku is empty" in r for r in reasons)
    assert any(r.startswith("the order is not loaded: status is not a sale") for r in reasons)
    assert any(r.startswith("the order is not loaded: the order's currency") for r in reasons)


def test_refunded_line_items_become_return_lines(con, landing):
    load_all(con, landing)
    orders = {str(o["id"]): o for o in _json(ORDERS_FILE) if o.get("type") != "shop_order_refund"}
    refunds = _json(REFUNDS_FILE)
    items = [(r, li) for r in refunds for li in r["line_items"] or [None]]
    valid = [(r, li) for r, li in items if li is not None and _return_ok(r, li, orders)]
    assert 0 < len(valid) < len(items)
    assert _audit(con, "returns") == [
        (REFUNDS_FILE, "loaded", len(items), len(valid), len(items) - len(valid))
    ]
    rows = con.execute(
        "select rma_id, order_id, order_line_id, sku, quantity, reason_code, reason_text, "
        "cast(requested_at as varchar), received_at, inspected_at, cast(refunded_at as varchar), "
        "condition_grade, disposition, resolution, refund_amount_eur, status "
        "from raw.returns order by rma_id, order_line_id"
    ).fetchall()
    expected = []
    for r, li in valid:
        line = _refunded_line(r, li, orders)
        at = r["date_created_gmt"].replace("T", " ")
        expected.append(
            (
                str(r["id"]),
                _parent(r),
                str(line["id"]),
                li["sku"] or line["sku"],
                -li["quantity"],
                None,
                r["reason"] or None,
                at,
                None,
                None,
                None,  # refunded_at: the refund stands in as the request (docs)
                None,
                None,
                "refund",
                -(Decimal(li["total"]) + Decimal(li["total_tax"])),
                "refunded",
            )
        )
    assert rows == sorted(expected)
    # both ways a refund names its order are in the fixture and loaded
    assert {"parent_id" in r for r, _ in valid} == {True, False}
    reasons = _reasons(con, "returns")
    for start in (
        "no line_items: an amount refunded without naming the goods",
        "the parent order is in no orders_*.json of the folder",
        "the parent order is not loaded: the order's currency is not listed in values.currency",
        "the parent order is not loaded: status is not a sale",
        "bad integer in quantity: a fraction",
        "quantity is 0: an amount refunded on the line without goods",
        "line_items total is not an amount exact to the cent",
        "the refunded order line is not in the parent order",
        "the refunded order line is ambiguous",
    ):
        assert any(r.startswith(start) for r in reasons), start


def test_personal_data_woocommerce_sends_is_not_loaded(con, landing):
    load_all(con, landing)
    orders = _json(ORDERS_FILE)
    personal = {o["billing"]["email"] for o in orders} | {o["billing"]["address_1"] for o in orders}
    personal |= {o["customer_ip_address"] for o in orders} | {o["customer_note"] for o in orders}
    personal |= {o["billing"]["last_name"] for o in orders}
    dump = " ".join(
        str(row)
        for table in ("raw.orders", "raw.order_lines", "raw.returns", "raw.quarantine_rows")
        for row in con.execute(f"select * from {table}").fetchall()
    )
    assert not [p for p in personal if p in dump]


def test_the_reporting_currency_of_the_profile_decides_which_orders_load(con, landing):
    (landing / "returnlens.yml").write_text("shop:\n  name: test\n  reporting_currency: USD\n")
    load_all(con, landing)
    orders = _json(ORDERS_FILE)
    usd = sorted(str(o["id"]) for o in orders if _order_ok(o, "USD"))
    assert usd and con.execute("select order_id from raw.orders").fetchall() == [(i,) for i in usd]
    refunds_of_usd = {str(r["id"]) for r in _json(REFUNDS_FILE) if _parent(r) in usd}
    loaded = {i for (i,) in con.execute("select rma_id from raw.returns").fetchall()}
    assert loaded == refunds_of_usd


def test_an_order_in_a_listed_currency_loads_with_its_lines_and_refunds(con, landing):
    """values.currency lists USD beside the reporting currency: USD orders load as delivered,
    with their currency (dbt converts them with exchange_rates), and so do their refunds."""
    (landing / "returnlens.yml").write_text(
        "shop:\n  name: test\n  reporting_currency: EUR\nvalues:\n  currency: {closed: [EUR, USD]}\n"
    )
    load_all(con, landing)
    orders = _json(ORDERS_FILE)
    both = {str(o["id"]): o for o in orders if _order_ok(o, "EUR") or _order_ok(o, "USD")}
    assert {o["currency"] for o in both.values()} == {"EUR", "USD"}
    got = {
        i: (c, t)
        for i, c, t in con.execute(
            "select order_id, currency, order_total_eur from raw.orders"
        ).fetchall()
    }
    assert got == {i: (o["currency"], Decimal(o["total"])) for i, o in both.items()}
    usd = {i for i, o in both.items() if o["currency"] == "USD"}
    refunds_of_usd = {str(r["id"]) for r in _json(REFUNDS_FILE) if _parent(r) in usd}
    loaded = {i for (i,) in con.execute("select rma_id from raw.returns").fetchall()}
    assert refunds_of_usd and refunds_of_usd <= loaded
    assert not [r for r in _reasons(con, "orders") if "currency" in r]


def test_every_documented_order_status_is_in_the_seed():
    with (ROOT / "seeds" / "woocommerce_order_statuses.csv").open(newline="") as fh:
        seed = {r["status"]: r["is_sale"] for r in csv.DictReader(fh)}
    assert set(seed) >= DOCUMENTED_STATUSES
    assert {s for s, sale in seed.items() if sale == "true"} == {
        "processing",
        "on-hold",
        "completed",
        "refunded",
    }


@pytest.mark.parametrize("table", ["orders", "returns"])
def test_unreadable_and_empty_files_fail_whole_naming_file_and_fix(con, tmp_path, table):
    folder = tmp_path / "landing" / "woocommerce"
    folder.mkdir(parents=True)
    stem = "orders" if table == "orders" else "refunds"
    (folder / f"{stem}_broken.json").write_text('[{"id": 727, "billing": {"email": "a@b.c"}')
    (folder / f"{stem}_empty.json").write_text("[]")
    res = load_entity(con, PLATFORM_TABLES["woocommerce"][table].entity, tmp_path / "landing")
    by_file = {f.source_file: f for f in res.files}
    broken = by_file[f"woocommerce/{stem}_broken.json"]
    empty = by_file[f"woocommerce/{stem}_empty.json"]
    assert (broken.status, broken.rows_in) == ("failed", None)
    assert broken.error.startswith(f"woocommerce/{stem}_broken.json: cannot be read as")
    assert "docs/sources/woocommerce.md" in broken.error and "a@b.c" not in broken.error
    assert (empty.status, empty.rows_in) == ("failed", 0)
    assert "holds no " + ("order" if table == "orders" else "refund") in empty.error


def test_check_landing_reports_each_table_a_file_feeds(landing, tmp_path, monkeypatch):
    """orders_*.json feeds raw.orders and raw.order_lines: the dry run must report both, each
    with its own counts and reasons (not the last one loaded for the file)."""
    from returnlens.ingest.check import check_landing

    monkeypatch.setenv("RETURNLENS_DATA_DIR", str(tmp_path / "data"))
    for var in ("RETURNLENS_WAREHOUSE", "RETURNLENS_LANDING_DIR", "RETURNLENS_SERVING"):
        monkeypatch.delenv(var, raising=False)
    result = check_landing(landing)
    rows = {(f.file, f.entity): f for f in result.files if f.file.startswith("woocommerce/")}
    orders = _json(ORDERS_FILE)
    n_lines = sum(len(o["line_items"]) for o in orders)
    expected = {
        (ORDERS_FILE, "orders"): (len(orders), sum(_order_ok(o) for o in orders)),
        (ORDERS_FILE, "order_lines"): (
            n_lines,
            sum(_line_ok(o, li) for o in orders for li in o["line_items"]),
        ),
    }
    got = {k: (f.rows, f.would_load) for k, f in rows.items() if k[0] == ORDERS_FILE}
    assert got == expected
    for key, (n, loaded) in expected.items():
        assert sum(rows[key].reasons.values()) == n - loaded
    line_reasons = rows[(ORDERS_FILE, "order_lines")].reasons
    assert not any(r.startswith(("status ", "total is", "a refund")) for r in line_reasons)


def test_refunds_delivered_before_their_orders_load_once_the_orders_arrive(con, landing):
    """The quarantine reason says to deliver the parent order: doing so must load the refunds
    on the next run, without delivering the refunds file again."""
    orders_file = landing / ORDERS_FILE
    held_back = orders_file.read_bytes()
    orders_file.unlink()
    load_all(con, landing)
    assert con.execute("select count(*) from raw.returns").fetchall() == [(0,)]
    orders_file.write_bytes(held_back)
    load_all(con, landing)
    orders = {str(o["id"]): o for o in _json(ORDERS_FILE) if o.get("type") != "shop_order_refund"}
    valid = {
        str(r["id"])
        for r in _json(REFUNDS_FILE)
        for li in r["line_items"]
        if _return_ok(r, li, orders)
    }
    loaded = {i for (i,) in con.execute("select rma_id from raw.returns").fetchall()}
    assert loaded == valid


def test_a_changed_reporting_currency_reads_the_files_again(con, landing):
    load_all(con, landing)
    assert con.execute("select count(*) from raw.orders where currency = 'USD'").fetchall() == [
        (0,)
    ]
    (landing / "returnlens.yml").write_text("shop:\n  name: test\n  reporting_currency: USD\n")
    load_all(con, landing)
    usd = sorted(str(o["id"]) for o in _json(ORDERS_FILE) if _order_ok(o, "USD"))
    assert con.execute("select order_id from raw.orders order by 1").fetchall() == [
        (i,) for i in usd
    ]


def test_each_orders_file_is_read_once_however_many_refunds_files(con, landing):
    """A refund's parent order is looked up in every orders_*.json of the folder: the orders
    files are read once per load, not once per refunds file (that made a load quadratic in
    the number of files). DuckDB's own file system log counts the opens; the refunds split
    over several files still load exactly as the one file does."""
    folder = landing / "woocommerce"
    orders, refunds = _json(ORDERS_FILE), _json(REFUNDS_FILE)
    (landing / ORDERS_FILE).unlink()
    (landing / REFUNDS_FILE).unlink()
    for i in range(3):
        (folder / f"orders_2024-03-p{i + 1}.json").write_text(json.dumps(orders[i::3]))
    for i in range(4):
        (folder / f"refunds_2024-03-{'abcd'[i]}.json").write_text(json.dumps(refunds[i::4]))
    con.execute("call enable_logging('FileSystem')")
    load_entity(con, PLATFORM_TABLES["woocommerce"]["returns"].entity, landing)
    opens = con.execute(
        "select json_extract_string(message, '$.path') from duckdb_logs "
        "where type = 'FileSystem' and json_extract_string(message, '$.op') = 'OPEN'"
    ).fetchall()
    opened = sorted(Path(p).name for (p,) in opens if Path(p).name.startswith("orders_"))
    assert opened == [f"orders_2024-03-p{i + 1}.json" for i in range(3)]
    by_id = {str(o["id"]): o for o in orders if o.get("type") != "shop_order_refund"}
    items = [(r, li) for r in refunds for li in r["line_items"] or [None]]
    valid = {(str(r["id"]), str(li["id"])) for r, li in items if li and _return_ok(r, li, by_id)}
    assert 0 < len(valid) < len(items)
    loaded = con.execute(
        "select rma_id, json_extract_string(_extra, '$.refund_item_id') from raw.returns"
    ).fetchall()
    assert set(loaded) == valid and len(loaded) == len(valid)
    audit = con.execute(
        "select sum(rows_in), sum(rows_loaded), sum(rows_quarantined) from raw.load_audit "
        "where entity = 'returns' and status = 'loaded'"
    ).fetchall()
    assert audit == [(len(items), len(valid), len(items) - len(valid))]
