"""Loyalty after a return (kpi_loyalty_after_returns) and the outcome mix over time
(kpi_return_outcomes) equal an independent computation from the landing files, exact to the
count and the cent, on the session's pipeline run.

The expectation follows docs/kpis.md ("Loyalty after a return", "Outcome mix"), not the
models: Python's csv module and Decimal over the orders, order lines and returns files and the
status seed. A repeat purchase is another order of the same customer placed more than 0 and at
most 90 (180) days of 24 hours after the order (timestamps compared with timedelta). The one
input taken from the warehouse is each return line's standard reason (fct_returns.reason: the
code / free-text mapping has its own tests in test_reason_mapping.py)."""

from __future__ import annotations

import json
import math
from bisect import bisect_left, bisect_right
from collections import defaultdict
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from tests.integration.test_return_costs import STATUS_MAP, ZERO, _period_start, _rows

pytestmark = pytest.mark.integration

SLOW_REFUND = timedelta(days=14)  # dbt var slow_refund_days
OUTCOMES = ("refund", "store_credit", "exchange", "keep_it", "rejected", "cancelled")
SEGMENTS = ("all", "has_return", "refund_speed", "outcome", "reason_group", "reason")
REASON_GROUPS = {
    r["reason"]: r["reason_group"] for r in _rows([STATUS_MAP.parent / "reason_taxonomy.csv"])
}


def _ts(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _state(status: str, states: dict[str, str]) -> str:
    key = " ".join(status.lower().replace("_", " ").replace("-", " ").split())
    assert key in states, f"status {key!r} not in return_status_map"
    return states[key]


def _outcome(row: dict, states: dict[str, str]) -> str:
    state = _state(row["status"], states)
    return state if state in ("rejected", "cancelled") else row["resolution"]


def expected_orders(landing: Path, reasons: dict[tuple[str, str], str]) -> tuple[list, date]:
    """Every order with a line: its date, repeats, next 180 days and first return."""
    states = {r["status"]: r["state"] for r in _rows([STATUS_MAP])}
    orders = {r["order_id"]: r for r in _rows(list((landing / "shop").glob("orders_*.csv")))}
    lines = _rows(list((landing / "shop").glob("order_lines_*.csv")))
    returns = _rows(list((landing / "returns").glob("returns_*.csv")))
    assert orders and lines and returns, "the demo shop has orders, lines and returns"

    revenue: dict[str, Decimal] = defaultdict(lambda: ZERO)
    order_of_line = {}
    for line in lines:
        if line["order_id"] in orders:
            revenue[line["order_id"]] += int(line["quantity"]) * Decimal(
                line["unit_price_eur"]
            ) - Decimal(line["discount_eur"])
            order_of_line[line["order_line_id"]] = line["order_id"]
    refunds_delivered = any(r["refunded_at"] for r in returns)

    first_return: dict[str, dict] = {}
    for r in returns:
        order_id = order_of_line.get(r["order_line_id"])
        if order_id is None:
            continue
        rank = (_ts(r["requested_at"]), r["rma_id"], r["order_line_id"])
        if order_id not in first_return or rank < first_return[order_id]["rank"]:
            first_return[order_id] = {"rank": rank, **r}

    by_customer: dict[str, list[tuple[datetime, str]]] = defaultdict(list)
    for order_id in revenue:
        by_customer[orders[order_id]["customer_id"]].append(
            (_ts(orders[order_id]["ordered_at"]), order_id)
        )
    for placed in by_customer.values():
        placed.sort()

    out = []
    for order_id in revenue:
        at = _ts(orders[order_id]["ordered_at"])
        placed = by_customer[orders[order_id]["customer_id"]]
        times = [t for t, _ in placed]
        after = bisect_right(times, at)  # strictly later: same moment is no repeat
        within_90 = placed[after : bisect_right(times, at + timedelta(days=90))]
        within_180 = placed[after : bisect_right(times, at + timedelta(days=180))]
        assert bisect_left(times, at) < after
        first = first_return.get(order_id)
        if first is None:
            experience = dict.fromkeys(SEGMENTS[2:], "no_return")
        else:
            if not refunds_delivered:
                speed = "unknown"
            elif not first["refunded_at"]:
                speed = "no_refund"
            elif _ts(first["refunded_at"]) > _ts(first["requested_at"]) + SLOW_REFUND:
                speed = "slow"
            else:
                speed = "fast"
            reason = reasons[(first["rma_id"], first["order_line_id"])]
            experience = {
                "refund_speed": speed,
                "outcome": _outcome(first, states),
                "reason": reason,
                "reason_group": REASON_GROUPS[reason],
            }
        out.append(
            {
                "ordered_date": at.date(),
                "all": "all",
                "has_return": "no_return" if first is None else "with_return",
                **experience,
                "repeat_90d": int(bool(within_90)),
                "repeat_180d": int(bool(within_180)),
                "next_180d_orders": len(within_180),
                "next_180d_revenue_eur": sum((revenue[o] for _, o in within_180), ZERO),
            }
        )
    as_of = max(
        [_ts(o["ordered_at"]) for o in orders.values()] + [_ts(r["requested_at"]) for r in returns]
    ).date()
    return out, as_of


def _period_end(grain: str, start: date) -> date:
    if grain == "week":
        return start + timedelta(days=6)
    if grain == "month":
        following = (start.replace(day=28) + timedelta(days=4)).replace(day=1)
        return following - timedelta(days=1)
    return start


def _published(serving: Path, relation: str, where: str, params: list) -> list[dict]:
    with duckdb.connect(str(serving), read_only=True) as con:
        cursor = con.execute(f"select * from marts.{relation} where {where}", params)
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, r, strict=True)) for r in cursor.fetchall()]


@pytest.fixture(scope="module")
def loyalty(pipeline_run):
    assert pipeline_run.success
    with duckdb.connect(str(pipeline_run.serving), read_only=True) as con:
        reasons = {
            (rma, line): reason
            for rma, line, reason in con.execute(
                "select rma_id, order_line_id, reason from marts.fct_returns"
            ).fetchall()
        }
    return expected_orders(pipeline_run.landing, reasons)


@pytest.mark.parametrize("grain", ["day", "week", "month"])
def test_loyalty_after_returns_equals_the_landing_files(pipeline_run, loyalty, grain):
    orders, as_of = loyalty
    want: dict[tuple, dict] = defaultdict(lambda: defaultdict(int))
    for order in orders:
        start = _period_start(grain, order["ordered_date"])
        for segment_type in SEGMENTS:
            row = want[(start, segment_type, order[segment_type])]
            row["orders"] += 1
            row["orders_with_repeat_90d"] += order["repeat_90d"]
            row["orders_with_repeat_180d"] += order["repeat_180d"]
            row["next_180d_orders"] += order["next_180d_orders"]
            row["next_180d_revenue_eur"] += order["next_180d_revenue_eur"]
    got = {
        (r["period_start_date"], r["segment_type"], r["segment_value"]): r
        for r in _published(
            pipeline_run.serving, "kpi_loyalty_after_returns", "period_grain = ?", [grain]
        )
    }
    assert set(got) == set(want), (
        f"rows only in the mart {sorted(set(got) - set(want))[:5]}, "
        f"only expected {sorted(set(want) - set(got))[:5]}"
    )
    for key, row in want.items():
        published = got[key]
        for column, value in row.items():
            assert published[column] == value, (key, column, published[column], value)
        assert published["repeat_purchase_rate_90d"] == pytest.approx(
            row["orders_with_repeat_90d"] / row["orders"], rel=1e-12
        )
        assert published["repeat_purchase_rate_180d"] == pytest.approx(
            row["orders_with_repeat_180d"] / row["orders"], rel=1e-12
        )
        assert published["next_180d_revenue_per_order_eur"] == pytest.approx(
            float(row["next_180d_revenue_eur"] / row["orders"]), rel=1e-12
        )
        end = _period_end(grain, key[0])
        assert published["period_end_date"] == end
        assert published["is_90d_window_closed"] == (end + timedelta(days=91) <= as_of), key
        assert published["is_cohort_mature"] == (end + timedelta(days=181) <= as_of), key


def test_the_demo_has_mature_cohorts_and_returners_to_compare(pipeline_run, loyalty):
    """The comparison is not vacuous: mature months exist, with orders with and without a
    return, and repeats within 90 days and only within 180 days both occur."""
    orders, as_of = loyalty
    mature = [o for o in orders if o["ordered_date"] + timedelta(days=181) <= as_of]
    assert {o["has_return"] for o in mature} == {"with_return", "no_return"}
    assert any(o["repeat_90d"] for o in mature)
    assert any(o["repeat_180d"] and not o["repeat_90d"] for o in mature)
    assert any(not o["repeat_180d"] for o in mature)
    assert {"fast", "slow"} <= {o["refund_speed"] for o in mature}


@pytest.mark.parametrize(("grain", "slice_type"), [("week", "all"), ("week", "category")])
def test_return_outcomes_equal_the_landing_files(pipeline_run, grain, slice_type):
    states = {r["status"]: r["state"] for r in _rows([STATUS_MAP])}
    landing = pipeline_run.landing
    products = {r["sku"]: r for r in _rows([landing / "shop" / "products.csv"])}
    want: dict[tuple, dict] = defaultdict(lambda: defaultdict(int))
    for r in _rows(list((landing / "returns").glob("returns_*.csv"))):
        product = products.get(r["sku"])
        value = "all" if slice_type == "all" else (product or {}).get("category", "unknown")
        row = want[(_period_start(grain, _ts(r["requested_at"]).date()), value)]
        row["return_lines"] += 1
        row[f"{_outcome(r, states)}_lines"] += 1
    got = {
        (r["period_start_date"], r["slice_value"]): r
        for r in _published(
            pipeline_run.serving,
            "kpi_return_outcomes",
            "period_grain = ? and slice_type = ?",
            [grain, slice_type],
        )
    }
    assert set(got) == set(want)
    for key, row in want.items():
        published = got[key]
        assert published["return_lines"] == row["return_lines"], key
        for outcome in OUTCOMES:
            count = row[f"{outcome}_lines"]
            assert published[f"{outcome}_lines"] == count, (key, outcome)
            assert published[f"{outcome}_share"] == pytest.approx(
                count / row["return_lines"], rel=1e-12
            )
    totals = defaultdict(int)
    for row in want.values():
        for outcome in OUTCOMES:
            totals[outcome] += row[f"{outcome}_lines"]
    assert all(totals[o] for o in ("refund", "store_credit", "exchange", "keep_it")), totals


def test_slow_refunds_lower_repeat_purchase_as_planted(pipeline_run):
    """The planted loyalty gap (returnlens.demo.loyalty) shows in the mart: orders whose first
    return was refunded slowly repeat less within 90 and 180 days than fast-refunded ones, by
    more than chance, and their rate lies in a 3-sigma binomial interval around the rate the
    ground truth expects with the gap (and outside the one without it)."""
    truth = json.loads((pipeline_run.landing / "ground_truth.json").read_text())["loyalty"]
    assert 0 < truth["lost_after_slow_refund_probability"] < 1 and truth["orders_dropped"] > 0
    rows = _published(
        pipeline_run.serving,
        "kpi_loyalty_after_returns",
        "period_grain = 'month' and segment_type = 'refund_speed'",
        [],
    )
    total: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for r in rows:
        for column in ("orders", "orders_with_repeat_90d", "orders_with_repeat_180d"):
            total[r["segment_value"]][column] += r[column]
    fast, slow = total["fast"], total["slow"]
    assert slow["orders"] >= 100, "too few slow-refund orders to see the gap"
    for days in (90, 180):
        rate = {k: v[f"orders_with_repeat_{days}d"] / v["orders"] for k, v in total.items()}
        n_f, n_s = fast["orders"], slow["orders"]
        sd_gap = math.sqrt(
            rate["fast"] * (1 - rate["fast"]) / n_f + rate["slow"] * (1 - rate["slow"]) / n_s
        )
        assert rate["fast"] - rate["slow"] > 2 * sd_gap, (days, rate, sd_gap)
        without = truth[f"repeat_rate_{days}d_without_gap"]
        expected = without * (1 - truth[f"expected_relative_drop_{days}d"])
        assert expected == pytest.approx(truth[f"repeat_rate_{days}d_expected"], abs=1e-4)
        sd = math.sqrt(expected * (1 - expected) / n_s)
        assert abs(rate["slow"] - expected) <= 3 * sd, (days, rate["slow"], expected, sd)
        assert rate["slow"] < without - sd, (days, rate["slow"], without, sd)
