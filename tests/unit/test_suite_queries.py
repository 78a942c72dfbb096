"""The queries of the suites that join or reconcile tables, on a few hand-made rows: each figure
is worked out by hand from the rows below, so a rewrite of a query for speed (issue 16: one join
instead of one per figure, only the columns the expectations read) must still give it."""

from __future__ import annotations

from decimal import Decimal

import duckdb
import pytest

from returnlens.quality.gates import EXPECTATIONS_DIR, load_suite_file, materialized

pytestmark = pytest.mark.unit


def _query(suite: str) -> str:
    return load_suite_file(EXPECTATIONS_DIR / f"{suite}.json")["meta"]["query"]


def _rows(con: duckdb.DuckDBPyConnection, suite: str) -> list[dict]:
    cursor = con.execute(_query(suite))
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


@pytest.fixture()
def con():
    con = duckdb.connect()
    for schema in ("raw", "marts"):
        con.execute(f"create schema {schema}")
    yield con
    con.close()


def _order_lines(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(
        "create table raw.orders (order_id varchar, ordered_at timestamp, "
        "order_total_eur decimal(10, 2), shipped_at timestamp, delivered_at timestamp)"
    )
    con.execute(
        "insert into raw.orders values "
        "('o1', '2026-03-01 10:00', 25.00, '2026-03-02', '2026-03-04'), "
        "('o2', '2026-03-05 09:00', 7.50, '2026-03-04', null), "
        "('o3', '2026-03-06 12:00', 3.00, null, null)"
    )
    con.execute(
        "create table raw.order_lines (order_line_id varchar, order_id varchar, "
        "quantity integer, unit_price_eur decimal(10, 2), discount_eur decimal(10, 2))"
    )
    # o1: 2 x 10.00 - 1.00 + 1 x 6.00 = 25.00; o2: 1 x 8.00 - 0.50 = 7.50; o3 has no line;
    # l9 belongs to an order raw does not have (not counted by the reconciliation)
    con.execute(
        "insert into raw.order_lines values "
        "('l1', 'o1', 2, 10.00, 1.00), ('l2', 'o1', 1, 6.00, 0.00), "
        "('l3', 'o2', 1, 8.00, 0.50), ('l9', 'nowhere', 4, 5.00, 0.00)"
    )


def test_the_order_line_reconciliation_joins_raw_lines_to_their_orders(con):
    _order_lines(con)
    con.execute(
        "create table marts.fct_order_lines (order_line_id varchar, order_id varchar, "
        "quantity bigint, line_amount_original decimal(18, 2), ordered_date date, "
        "has_return boolean)"
    )
    # the mart lost l2 (1 unit, 6.00) and its latest order date is o1's, 4 days before o2's
    con.execute(
        "insert into marts.fct_order_lines values "
        "('l1', 'o1', 2, 19.00, '2026-03-01', false), ('l3', 'o1', 1, 7.50, '2026-03-01', true)"
    )
    assert _rows(con, "fct_order_lines__reconciliation") == [
        {
            "missing_lines": 3 - 2,
            "units_difference": (2 + 1 + 1) - (2 + 1),
            "revenue_difference_eur": Decimal("32.50") - Decimal("26.50"),
            "days_behind_raw": 4,
        }
    ]


def test_the_order_line_reconciliation_of_a_complete_mart_is_zero(con):
    _order_lines(con)
    con.execute(
        "create table marts.fct_order_lines as select l.order_line_id, l.order_id, "
        "cast(l.quantity as bigint) as quantity, "
        "cast(l.quantity * l.unit_price_eur - l.discount_eur as decimal(18, 2)) "
        "as line_amount_original, cast(o.ordered_at as date) as ordered_date "
        "from raw.order_lines as l join raw.orders as o using (order_id)"
    )
    assert _rows(con, "fct_order_lines__reconciliation") == [
        {
            "missing_lines": 0,
            "units_difference": 0,
            "revenue_difference_eur": Decimal("0.00"),
            "days_behind_raw": 0,
        }
    ]


def test_the_loyalty_reconciliation_counts_orders_not_lines(con):
    con.execute(
        "create table marts.fct_order_lines (order_line_id varchar, order_id varchar, "
        "has_return boolean)"
    )
    # 3 orders (a line without an order id is no order); 2 of them have a returned line
    con.execute(
        "insert into marts.fct_order_lines values "
        "('l1', 'o1', false), ('l2', 'o1', true), ('l3', 'o2', false), ('l4', 'o2', false), "
        "('l5', 'o3', true), ('l6', null, true)"
    )
    con.execute(
        "create table marts.kpi_loyalty_after_returns (period_grain varchar, "
        "period_start_date date, segment_type varchar, segment_value varchar, orders bigint, "
        "orders_with_repeat_90d bigint)"
    )
    # months: 4 orders in all (one too many), 1 with a return (one too few); the March
    # has_return segments add up to their 'all' row; April's repeaters do not (0 + 1 <> 0)
    con.execute(
        "insert into marts.kpi_loyalty_after_returns values "
        "('month', '2026-03-01', 'all', 'all', 2, 1), "
        "('month', '2026-03-01', 'has_return', 'with_return', 1, 1), "
        "('month', '2026-03-01', 'has_return', 'without_return', 1, 0), "
        "('month', '2026-04-01', 'all', 'all', 2, 0), "
        "('month', '2026-04-01', 'has_return', 'without_return', 2, 0), "
        "('month', '2026-04-01', 'has_return', 'with_return', 0, 1), "
        "('week', '2026-03-02', 'all', 'all', 9, 0)"
    )
    assert _rows(con, "kpi_loyalty_after_returns__reconciliation") == [
        {
            "orders_difference": 4 - 3,
            "orders_with_return_difference": 1 - 2,
            "segments_not_adding_up": 1,
        }
    ]


def test_the_raw_order_rows_carry_the_difference_to_their_lines(con):
    _order_lines(con)
    rows = sorted(_rows(con, "raw_orders"), key=lambda r: r["ordered_at"])
    assert [(r["total_minus_lines"], r["has_lines"]) for r in rows] == [
        (Decimal("0.00"), True),
        (Decimal("0.00"), True),
        (Decimal("3.00"), False),
    ]


def test_the_raw_return_rows_say_whether_they_fit_the_ordered_quantity(con):
    _order_lines(con)
    con.execute(
        "create table raw.returns (rma_id varchar, order_line_id varchar, quantity integer, "
        "refund_amount_eur decimal(10, 2), requested_at timestamp, received_at timestamp, "
        "inspected_at timestamp, refunded_at timestamp, reason_code varchar)"
    )
    # r1 within l1's 2 units; r2 returns 3 of l3's 1; r3's line is unknown (an orphan is
    # judged by the referential integrity report, not here)
    con.execute(
        "insert into raw.returns values "
        "('r1', 'l1', 2, 19.00, '2026-03-05', '2026-03-07', null, null, 'size'), "
        "('r2', 'l3', 3, 7.50, '2026-03-08', null, null, null, null), "
        "('r3', 'l7', 1, 1.00, '2026-03-09', null, null, null, 'other')"
    )
    rows = sorted(_rows(con, "raw_returns"), key=lambda r: r["requested_at"])
    assert [r["within_ordered_quantity"] for r in rows] == [True, False, True]


@pytest.mark.parametrize("suite", ["raw_orders", "raw_returns"])
def test_every_column_an_expectation_reads_is_in_the_stored_query(suite):
    """A raw suite stored in a temporary table keeps only the columns its query names: an
    expectation on another one would fail the gate as "could not be evaluated"."""
    spec = load_suite_file(EXPECTATIONS_DIR / f"{suite}.json")
    assert materialized(spec)
    con = duckdb.connect()
    con.execute("create schema raw")
    con.execute(
        "create table raw.orders (order_id varchar, ordered_at timestamp, "
        "order_total_eur decimal(10, 2), shipped_at timestamp, delivered_at timestamp)"
    )
    con.execute(
        "create table raw.order_lines (order_line_id varchar, order_id varchar, "
        "quantity integer, unit_price_eur decimal(10, 2), discount_eur decimal(10, 2))"
    )
    con.execute(
        "create table raw.returns (order_line_id varchar, quantity integer, "
        "refund_amount_eur decimal(10, 2), requested_at timestamp, received_at timestamp, "
        "inspected_at timestamp, refunded_at timestamp, reason_code varchar)"
    )
    columns = {d[0] for d in con.execute(spec["meta"]["query"]).description}
    read = {
        e["kwargs"][k]
        for e in spec["expectations"]
        for k in ("column", "column_A", "column_B")
        if k in e["kwargs"]
    }
    assert read <= columns


def test_a_suite_may_ask_for_its_query_to_be_stored():
    raw = {"relation": "raw.t", "query": "select * from raw.t"}
    assert not materialized({"meta": raw})
    assert materialized({"meta": {**raw, "materialize": True}})
    assert materialized({"meta": {"relation": "marts.t", "query": "select 1 as x"}})
    kept = {"relation": "marts.t", "query": "select 1", "materialize": False}
    assert not materialized({"meta": kept})
    assert not materialized({"meta": {"relation": "raw.t", "materialize": True}})  # no query
