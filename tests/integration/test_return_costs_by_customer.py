"""The most costly customers (kpi_return_costs_by_customer) equal an independent computation
from the landing files and the cost seed, exact to the cent: the sales and return costs of
tests/integration/test_return_costs.py summed per customer over the 365 days to the as-of
date. A line's customer key is read from fct_order_lines / fct_returns (the salted hash, which
the privacy tests check)."""

from __future__ import annotations

import csv
from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal

import duckdb
import pytest

from tests.integration.test_keep_it_advice import _as_of_date
from tests.integration.test_return_costs import ZERO, _cents, _money, _rows, expected_return_lines

pytestmark = pytest.mark.integration


def expected_customers(landing, line_customers: dict, return_customers: dict) -> dict:
    as_of = _as_of_date(landing)
    first_day = as_of - timedelta(days=364)
    orders = {r["order_id"]: r for r in _rows(list((landing / "shop").glob("orders_*.csv")))}
    products = {r["sku"]: r for r in _rows([landing / "shop" / "products.csv"])}
    rows: dict[str, dict] = defaultdict(lambda: defaultdict(lambda: ZERO))
    for path in sorted((landing / "shop").glob("order_lines_*.csv")):
        with path.open(encoding="utf-8", newline="") as fh:
            for line in csv.DictReader(fh):
                order = orders.get(line["order_id"])
                customer = line_customers.get(line["order_line_id"])
                if order is None or customer is None:
                    continue
                if not first_day <= date.fromisoformat(order["ordered_at"][:10]) <= as_of:
                    continue
                product = products.get(line["sku"])
                qty = int(line["quantity"])
                row = rows[customer]
                row["order_lines"] += 1
                row["units_sold"] += qty
                revenue = qty * Decimal(line["unit_price_eur"]) - Decimal(line["discount_eur"])
                row["gross_revenue_eur"] += revenue
                cost = _cents(_money(product["unit_cost_eur"]) * qty) if product else ZERO
                row["gross_margin_eur"] += revenue - cost
    for line in expected_return_lines(landing):
        customer = return_customers.get(line["key"])
        if customer is None or not first_day <= line["attributed_date"] <= as_of:
            continue
        row = rows[customer]
        row["return_lines"] += 1
        row["units_returned"] += line["units_returned"]
        row["cost_of_returns_eur"] += line["cost_of_returns_eur"]
        row["margin_lost_to_returns_eur"] += line["margin_lost_to_returns_eur"]
    for row in rows.values():
        row["net_margin_after_returns_eur"] = (
            row["gross_margin_eur"] - row["margin_lost_to_returns_eur"]
        )
        row["window"] = (first_day, as_of)
    return rows


def test_most_costly_customers_equal_the_landing_files_and_the_seed(pipeline_run):
    assert pipeline_run.success
    columns = (
        "order_lines",
        "units_sold",
        "gross_revenue_eur",
        "gross_margin_eur",
        "return_lines",
        "units_returned",
        "cost_of_returns_eur",
        "margin_lost_to_returns_eur",
        "net_margin_after_returns_eur",
    )
    with duckdb.connect(str(pipeline_run.serving), read_only=True) as con:
        line_customers = dict(
            con.execute("select order_line_id, customer_key from marts.fct_order_lines").fetchall()
        )
        return_customers = {
            (rma, line): customer
            for rma, line, customer in con.execute(
                "select rma_id, order_line_id, customer_key from marts.fct_returns"
            ).fetchall()
        }
        cursor = con.execute(
            f"select customer_key, window_start_date, window_end_date, cost_rank, "
            f"{', '.join(columns)} from marts.kpi_return_costs_by_customer"
        )
        names = [d[0] for d in cursor.description]
        got = {r[0]: dict(zip(names, r, strict=True)) for r in cursor.fetchall()}
    want = expected_customers(pipeline_run.landing, line_customers, return_customers)
    want = {k: v for k, v in want.items() if v["order_lines"]}
    assert set(got) == set(want)
    for customer, row in want.items():
        published = got[customer]
        assert (published["window_start_date"], published["window_end_date"]) == row["window"]
        for column in columns:
            assert published[column] == row[column], (column, published[column], row[column])
    # rank 1 is the most costly; ties in cost go to the smaller customer key
    ranked = sorted(want, key=lambda k: (-want[k]["cost_of_returns_eur"], k))
    assert [got[k]["cost_rank"] for k in ranked] == list(range(1, len(ranked) + 1))
