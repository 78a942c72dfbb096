"""The cost behind each quality alert (sig_quality_alerts.cost_of_returns_eur,
margin_lost_to_returns_eur, rule_cost_of_returns_eur) equals an independent computation from
the landing files and the cost seed, exact to the cent.

Each return line's cost and margin lost come from tests/integration/test_return_costs.py's
expected_return_lines (csv + Decimal, docs/kpis.md); the subject of a return line is its order
line's product, supplier (products.csv, via the order line's sku) and batch (when the batch is in
batches.csv), for order lines of known orders and products: the lines the alert's evidence
counts. Only the standard reason of each return line is read from marts.fct_returns (the
reason mapping has tests of its own)."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

import duckdb
import pytest

from tests.integration.test_return_costs import ZERO, _rows, expected_return_lines

pytestmark = pytest.mark.integration

RULE_REASONS = {
    "defect_damage": {"defective", "damaged_in_transit"},
    "runs_small": {"size_too_small"},
    "runs_large": {"size_too_large"},
}


def _expected_subject_lines(landing) -> list[dict]:
    """Every costed return line of a known order line with a known product: its subjects."""
    orders = {r["order_id"] for r in _rows(list((landing / "shop").glob("orders_*.csv")))}
    lines = {
        r["order_line_id"]: r for r in _rows(list((landing / "shop").glob("order_lines_*.csv")))
    }
    products = {r["sku"]: r for r in _rows([landing / "shop" / "products.csv"])}
    batches_file = landing / "purchasing" / "batches.csv"
    batches = {r["batch_id"] for r in _rows([batches_file])} if batches_file.exists() else set()
    out = []
    for ret in expected_return_lines(landing):
        line = lines.get(ret["key"][1])
        if line is None or line["order_id"] not in orders or line["sku"] not in products:
            continue
        product = products[line["sku"]]
        out.append(
            {
                "key": ret["key"],
                "product": product["product_id"],
                "supplier": product["supplier_id"],
                "batch": line["batch_id"] if line["batch_id"] in batches else None,
                "cost": ret["cost_of_returns_eur"],
                "margin_lost": ret["margin_lost_to_returns_eur"],
            }
        )
    return out


def test_the_cost_behind_each_alert_equals_the_landing_files_and_the_seed(pipeline_run):
    assert pipeline_run.success
    with duckdb.connect(str(pipeline_run.serving), read_only=True) as con:
        alerts = con.execute(
            "select alert_id, subject_level, subject_id, alert_rule, cost_of_returns_eur, "
            "margin_lost_to_returns_eur, rule_cost_of_returns_eur from marts.sig_quality_alerts"
        ).fetchall()
        reasons = {
            (rma, line_id): reason
            for rma, line_id, reason in con.execute(
                "select rma_id, order_line_id, reason from marts.fct_returns"
            ).fetchall()
        }
    assert alerts, "the demo shop raises quality alerts"
    assert {a[3] for a in alerts} & set(RULE_REASONS), "the demo plants defect and sizing alerts"
    lines = _expected_subject_lines(pipeline_run.landing)
    cost: dict[tuple, Decimal] = defaultdict(lambda: ZERO)
    margin: dict[tuple, Decimal] = defaultdict(lambda: ZERO)
    by_rule: dict[tuple, Decimal] = defaultdict(lambda: ZERO)
    for line in lines:
        for level in ("product", "supplier", "batch"):
            if line[level] is None:
                continue
            subject = (level, line[level])
            cost[subject] += line["cost"]
            margin[subject] += line["margin_lost"]
            for rule, wanted in RULE_REASONS.items():
                if reasons[line["key"]] in wanted:
                    by_rule[(*subject, rule)] += line["cost"]
    wrong = []
    for alert_id, level, subject_id, rule, got_cost, got_margin, got_rule in alerts:
        want_cost = cost[(level, subject_id)]
        want_rule = want_cost if rule == "return_rate" else by_rule[(level, subject_id, rule)]
        if (got_cost, got_margin, got_rule) != (want_cost, margin[(level, subject_id)], want_rule):
            wrong.append((alert_id, (got_cost, got_margin, got_rule), (want_cost, want_rule)))
    assert not wrong, f"{len(wrong)} of {len(alerts)} alerts, e.g. {wrong[:3]}"
    # the figures are not trivially zero: alerts are raised on subjects whose returns cost
    assert all(a[4] > 0 for a in alerts)
    assert any(0 < a[6] < a[4] for a in alerts if a[3] != "return_rate")
