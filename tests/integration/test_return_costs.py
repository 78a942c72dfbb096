"""Cost of returns and net margin after returns (kpi_return_costs) equal an independent
computation from the landing files and the cost seed, exact to the cent.

The expectation is computed here with Python's csv module and Decimal, following the formulas
of docs/kpis.md ("Cost of returns"), not the models: every amount is rounded to the cent (half
up) once per return line and component, parcel amounts are split over the RMA's lines in whole
cents (the odd cents on the smallest order line id), and the rollups add those cents up."""

from __future__ import annotations

import csv
from collections import defaultdict
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import duckdb
import pytest

from returnlens.config import PROJECT_ROOT

pytestmark = pytest.mark.integration

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
SEED = PROJECT_ROOT / "seeds" / "return_cost_parameters.csv"
STATUS_MAP = PROJECT_ROOT / "seeds" / "return_status_map.csv"

MONEY = (
    "gross_revenue_eur",
    "cost_of_goods_sold_eur",
    "gross_margin_eur",
    "refunded_eur",
    "forward_shipping_eur",
    "return_label_eur",
    "handling_eur",
    "refurbishment_eur",
    "goods_at_cost_eur",
    "value_recovered_eur",
    "write_off_eur",
    "refund_fees_eur",
    "customer_fees_eur",
    "cost_of_returns_eur",
    "margin_lost_to_returns_eur",
    "net_margin_after_returns_eur",
)
COUNTS = ("units_sold", "return_lines", "units_returned")


def _rows(paths: list[Path]) -> list[dict[str, str]]:
    out: list[dict[str, str]] = []
    for path in sorted(paths):
        with path.open(encoding="utf-8", newline="") as fh:
            out.extend(csv.DictReader(fh))
    return out


def _cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def _money(text: str | None) -> Decimal:
    return Decimal(text) if text else ZERO


def _split(amount: Decimal, line_ids: list[str]) -> dict[str, Decimal]:
    """A parcel amount over its lines in whole cents, the remainder on the smallest line id."""
    if not line_ids:
        return {}
    cents = int(amount * 100)
    share, rest = divmod(cents, len(line_ids))
    first = min(line_ids)
    return {i: Decimal(share + (rest if i == first else 0)) * CENT for i in line_ids}


class Parameters:
    """The cost seed as read from its CSV."""

    def __init__(self, path: Path) -> None:
        self.values = {
            (r["parameter"], r["applies_to"]): Decimal(r["value"]) for r in _rows([path])
        }

    def by(self, parameter: str, key: str | None, fallback: str | None = "default") -> Decimal:
        if (parameter, key) in self.values:
            return self.values[(parameter, key)]
        return self.values.get((parameter, fallback), Decimal(0))


def expected_return_lines(landing: Path) -> list[dict]:
    """Every return line of the landing files with its cost components (docs/kpis.md)."""
    params = Parameters(SEED)
    states = {r["status"]: r["state"] for r in _rows([STATUS_MAP])}
    orders = {r["order_id"]: r for r in _rows(list((landing / "shop").glob("orders_*.csv")))}
    lines = {
        r["order_line_id"]: r for r in _rows(list((landing / "shop").glob("order_lines_*.csv")))
    }
    products = {r["sku"]: r for r in _rows([landing / "shop" / "products.csv"])}
    returns = _rows(list((landing / "returns").glob("returns_*.csv")))
    assert returns, "the demo shop has returns"

    for r in returns:
        status = " ".join(r["status"].lower().replace("_", " ").replace("-", " ").split())
        assert status in states, f"status {status!r} not in return_status_map"
        r["state"] = states[status]
        r["is_refunded"] = bool(r["refunded_at"])
        r["is_shipped_back"] = r["resolution"] != "keep_it" and r["state"] != "cancelled"
        r["is_sale_undone"] = r["is_refunded"] and r["resolution"] != "exchange"
        order = orders.get(r["order_id"])
        r["country"] = order["shipping_country"] if order else None

    parcels: dict[str, list[dict]] = defaultdict(list)
    for r in returns:
        parcels[r["rma_id"]].append(r)
    label, forward, fee = {}, {}, {}
    for rma_lines in parcels.values():
        country = rma_lines[0]["country"]
        shipped = [r["order_line_id"] for r in rma_lines if r["is_shipped_back"]]
        undone = [r["order_line_id"] for r in rma_lines if r["is_sale_undone"]]
        rma = rma_lines[0]["rma_id"]
        for key, amount in _split(params.by("return_label", country), shipped).items():
            label[(rma, key)] = amount
        for key, amount in _split(params.by("customer_return_fee", country), shipped).items():
            fee[(rma, key)] = amount
        for key, amount in _split(params.by("forward_shipping", country), undone).items():
            forward[(rma, key)] = amount

    rate = params.by("handling_hourly_rate", "default")
    out = []
    for r in returns:
        key = (r["rma_id"], r["order_line_id"])
        qty = int(r["quantity"])
        product = products.get(r["sku"])
        unit_cost = _money(product["unit_cost_eur"]) if product else ZERO
        minutes = sum(
            (
                params.by("handling_minutes", step, None)
                for step, ts in (
                    ("receive", r["received_at"]),
                    ("inspect", r["inspected_at"]),
                    ("refund", r["refunded_at"]),
                )
                if ts
            ),
            Decimal(0),
        )
        handling = _cents(minutes * rate / 60)
        refurbishment = _cents(params.by("refurbishment", r["condition_grade"] or None, None) * qty)
        takes_goods = bool(r["disposition"]) or (
            r["resolution"] == "keep_it" and r["is_sale_undone"]
        )
        goods = _cents(unit_cost * qty) if takes_goods else ZERO
        recovered = _cents(goods * params.by("recovery_share", r["disposition"] or None, None))
        refund = _money(r["refund_amount_eur"])
        refund_fee = (
            _cents(refund * params.by("refund_fee_share", "default")) if r["is_refunded"] else ZERO
        )
        cost = (
            forward.get(key, ZERO)
            + label.get(key, ZERO)
            + handling
            + refurbishment
            + (goods - recovered)
            + refund_fee
            - fee.get(key, ZERO)
        )
        margin_lost = (refund - goods if r["is_sale_undone"] else ZERO) + cost
        line = lines.get(r["order_line_id"])
        order = orders.get(line["order_id"]) if line else None
        attributed = (order or r)["ordered_at" if order else "requested_at"][:10]
        out.append(
            {
                "key": key,
                "attributed_date": date.fromisoformat(attributed),
                "category": product["category"] if product else "unknown",
                "supplier": product["supplier_id"] if product else "unknown",
                "product": product["product_id"] if product else "unknown",
                "channel": orders[r["order_id"]]["channel"]
                if r["order_id"] in orders
                else "unknown",
                "returned_value_eur": _cents(
                    qty
                    * (
                        int(line["quantity"]) * Decimal(line["unit_price_eur"])
                        - Decimal(line["discount_eur"])
                    )
                    / int(line["quantity"])
                )
                if line and order
                else ZERO,
                "units_returned": qty,
                "refunded_eur": refund,
                "forward_shipping_eur": forward.get(key, ZERO),
                "return_label_eur": label.get(key, ZERO),
                "handling_eur": handling,
                "refurbishment_eur": refurbishment,
                "goods_at_cost_eur": goods,
                "value_recovered_eur": recovered,
                "write_off_eur": goods - recovered,
                "refund_fees_eur": refund_fee,
                "customer_fees_eur": fee.get(key, ZERO),
                "cost_of_returns_eur": cost,
                "margin_lost_to_returns_eur": margin_lost,
            }
        )
    return out


def expected_sales(landing: Path) -> list[dict]:
    """Every order line of a known order with its revenue and cost of goods."""
    orders = {r["order_id"]: r for r in _rows(list((landing / "shop").glob("orders_*.csv")))}
    products = {r["sku"]: r for r in _rows([landing / "shop" / "products.csv"])}
    out = []
    for line in _rows(list((landing / "shop").glob("order_lines_*.csv"))):
        order = orders.get(line["order_id"])
        if order is None:
            continue
        product = products.get(line["sku"])
        qty = int(line["quantity"])
        unit_cost = _money(product["unit_cost_eur"]) if product else ZERO
        out.append(
            {
                "attributed_date": date.fromisoformat(order["ordered_at"][:10]),
                "category": product["category"] if product else "unknown",
                "supplier": product["supplier_id"] if product else "unknown",
                "product": product["product_id"] if product else "unknown",
                "channel": order["channel"],
                "units_sold": qty,
                "gross_revenue_eur": qty * Decimal(line["unit_price_eur"])
                - Decimal(line["discount_eur"]),
                "cost_of_goods_sold_eur": _cents(unit_cost * qty),
            }
        )
    return out


def _period_start(grain: str, day: date) -> date:
    if grain == "week":
        return day - timedelta(days=day.weekday())
    if grain == "month":
        return day.replace(day=1)
    return day


def rolled_up(sales: list[dict], returns: list[dict], grain: str, slice_type: str) -> dict:
    """Expected mart rows of one grain and slice type, keyed by (period_start_date, value)."""
    rows: dict[tuple, dict] = defaultdict(lambda: defaultdict(lambda: ZERO))
    for facts in (sales, returns):
        for fact in facts:
            value = "all" if slice_type == "all" else fact[slice_type]
            row = rows[(_period_start(grain, fact["attributed_date"]), value)]
            for column, amount in fact.items():
                if column in MONEY or column in COUNTS or column == "returned_value_eur":
                    row[column] += amount
            if facts is returns:
                row["return_lines"] += 1
    for row in rows.values():
        row["gross_margin_eur"] = row["gross_revenue_eur"] - row["cost_of_goods_sold_eur"]
        row["net_margin_after_returns_eur"] = (
            row["gross_margin_eur"] - row["margin_lost_to_returns_eur"]
        )
    return rows


@pytest.fixture(scope="module")
def expected(pipeline_run):
    assert pipeline_run.success
    return (expected_sales(pipeline_run.landing), expected_return_lines(pipeline_run.landing))


def _published(serving: Path, grain: str, slice_type: str) -> dict:
    columns = ", ".join(
        COUNTS
        + MONEY
        + (
            "returned_value_eur",
            "cost_per_return_line_eur",
            "cost_share_of_returned_value",
            "net_margin_share",
        )
    )
    with duckdb.connect(str(serving), read_only=True) as con:
        cursor = con.execute(
            f"select period_start_date, slice_value, cost_basis, {columns} "
            "from marts.kpi_return_costs where period_grain = ? and slice_type = ?",
            [grain, slice_type],
        )
        names = [d[0] for d in cursor.description]
        return {(r[0], r[1]): dict(zip(names, r, strict=True)) for r in cursor.fetchall()}


@pytest.mark.parametrize(
    ("grain", "slice_type"),
    [
        ("month", "all"),
        ("week", "category"),
        ("month", "supplier"),
        ("month", "product"),
        ("day", "channel"),
    ],
)
def test_return_costs_equal_the_landing_files_and_the_seed(
    pipeline_run, expected, grain, slice_type
):
    sales, returns = expected
    want = rolled_up(sales, returns, grain, slice_type)
    got = _published(pipeline_run.serving, grain, slice_type)
    assert set(got) == set(want), (
        f"{grain} x {slice_type}: rows only in the mart {sorted(set(got) - set(want))[:5]}, "
        f"only expected {sorted(set(want) - set(got))[:5]}"
    )
    for key, row in want.items():
        published = got[key]
        assert published["cost_basis"] == "parameters"
        for column in COUNTS:
            assert published[column] == row[column], (key, column)
        for column in MONEY:
            assert published[column] == row[column], (key, column, published[column], row[column])
        # the returned value of a line is its share of the line amount, half up to the cent
        # (a tie such as 61.11 / 2 = 30.555 is 30.56), exact like every other amount
        assert published["returned_value_eur"] == row["returned_value_eur"], (
            key,
            "returned_value_eur",
        )
        lines = row["return_lines"]
        if lines:
            assert published["cost_per_return_line_eur"] == pytest.approx(
                float(row["cost_of_returns_eur"] / lines), rel=1e-12
            )
        else:
            assert published["cost_per_return_line_eur"] is None
        if published["returned_value_eur"]:
            assert published["cost_share_of_returned_value"] == pytest.approx(
                float(row["cost_of_returns_eur"] / published["returned_value_eur"]), rel=1e-12
            )
        if row["gross_revenue_eur"]:
            assert published["net_margin_share"] == pytest.approx(
                float(row["net_margin_after_returns_eur"] / row["gross_revenue_eur"]), rel=1e-12
            )


def test_return_costs_cover_every_component_and_every_line(pipeline_run, expected):
    """The demo exercises every component (none stuck at zero), and the overall totals of the
    mart hold every return line: the same figures the summary quotes."""
    _, returns = expected
    for column in MONEY:
        if column == "customer_fees_eur" or column not in returns[0]:
            continue  # the default customer return fee is 0 (free returns)
        assert any(r[column] for r in returns), f"no return line has a {column}"
    got = _published(pipeline_run.serving, "month", "all")
    assert sum(r["return_lines"] for r in got.values()) == len(returns)
    assert sum(r["cost_of_returns_eur"] for r in got.values()) == sum(
        r["cost_of_returns_eur"] for r in returns
    )


def test_the_gate_blocks_a_recovered_value_above_the_goods_cost(pipeline_run, tmp_path):
    """A recovery share above 1 (say a seed typo) shows as more value recovered than the goods
    cost: the mart's GX suite fails on it and names the columns."""
    import shutil

    from returnlens.quality.gates import EXPECTATIONS_DIR
    from returnlens.quality.history import run_gate

    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copy(pipeline_run.warehouse, warehouse)
    suite = EXPECTATIONS_DIR / "kpi_return_costs.json"
    clean, _, _ = run_gate(suite, warehouse, "clean", docs_dir=tmp_path)
    assert clean.passed, clean.summary()
    with duckdb.connect(str(warehouse)) as con:
        con.execute(
            "update marts.kpi_return_costs set value_recovered_eur = goods_at_cost_eur + 1 "
            "where period_grain = 'month' and slice_type = 'all'"
        )
    damaged, _, _ = run_gate(suite, warehouse, "bad", docs_dir=tmp_path)
    assert not damaged.passed
    failed = {f.expectation for f in damaged.failures}
    assert failed == {"expect_column_pair_values_a_to_be_greater_than_b"}, damaged.summary()


def test_the_returned_value_of_each_line_is_its_share_half_up_to_the_cent(pipeline_run, expected):
    """fct_returns.returned_value_eur = returned quantity x line amount / quantity, half up to
    the cent, exact per return line (it was rounded through a double: 30.555 gave 30.55)."""
    _, returns = expected
    want = {
        line["key"]: line["returned_value_eur"] for line in returns if line["returned_value_eur"]
    }
    with duckdb.connect(str(pipeline_run.serving), read_only=True) as con:
        got = dict(
            ((rma, line_id), value)
            for rma, line_id, value in con.execute(
                "select rma_id, order_line_id, returned_value_eur from marts.fct_returns "
                "where has_known_order_line"
            ).fetchall()
        )
    wrong = {key: (got.get(key), value) for key, value in want.items() if got.get(key) != value}
    assert not wrong, f"{len(wrong)} of {len(want)} lines, e.g. {list(wrong.items())[:3]}"
