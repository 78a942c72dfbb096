"""The planted signals of the demo shop can be recovered from the landing files.

Every number here is computed with SQL over the written files and compared with ground truth or
with thresholds from the spec; nothing is read from the generator's internals.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import duckdb
import pytest

from returnlens.ingest.contracts import ENTITIES

pytestmark = pytest.mark.integration


def _load(con: duckdb.DuckDBPyConnection, landing: Path) -> None:
    for e in ENTITIES:
        if not list((landing / e.source).glob(e.pattern)):  # exchange rates: a EUR-only shop
            continue
        glob = str(landing / e.source / e.pattern)
        # orders.currency is optional and the demo does not write it (all in EUR)
        cols = {
            c.name: c.type.upper() for c in e.columns if (e.name, c.name) != ("orders", "currency")
        }
        if e.format == "csv":
            src = f"read_csv('{glob}', header = true, auto_detect = false, columns = {cols})"
        elif e.format == "jsonl":
            src = f"read_json('{glob}', format = 'newline_delimited', columns = {cols})"
        else:
            src = f"read_parquet('{glob}')"
        con.execute(f"create table {e.name} as select * from {src}")


@pytest.fixture(scope="module")
def db(demo_landing: Path):
    con = duckdb.connect()
    _load(con, demo_landing)
    con.execute(
        """
        create table lines as
        select l.*, o.customer_id, o.session_id, o.ordered_at, o.delivered_at, p.product_id,
            p.category, p.subcategory, p.supplier_id, p.list_price_eur,
            r.order_line_id is not null as is_returned, coalesce(r.quantity, 0) as qty_returned,
            r.reason_code
        from order_lines as l
        join orders as o using (order_id)
        join products as p using (sku)
        left join returns as r using (order_line_id)
        """
    )
    yield con
    con.close()


def _rows(con, sql: str) -> list[tuple]:
    return con.execute(sql).fetchall()


def _one(con, sql: str):
    return con.execute(sql).fetchone()


# ------------------------------------------------------------------ 1. hesitation
@pytest.fixture(scope="module")
def hesitation(db):
    db.execute(
        """
        create table line_views as
        with views as (
            select e.customer_id, p.product_id, e.event_at
            from web_events as e
            join products as p using (sku)
            where e.event_type = 'product_view' and e.customer_id is not null
        )
        select l.order_line_id, l.order_id, l.category, l.is_returned,
            count(v.event_at) as n_views,
            date_diff('second', min(v.event_at), l.ordered_at) / 60.0 as decision_minutes
        from lines as l
        left join views as v
            on v.customer_id = l.customer_id and v.product_id = l.product_id
            and v.event_at < l.ordered_at
        where l.session_id is not null
        group by l.order_line_id, l.order_id, l.category, l.is_returned, l.ordered_at
        """
    )
    return db


def _decile_rates(con, column: str) -> list[float]:
    rows = _rows(
        con,
        f"""
        select decile, avg(is_returned::int) as rate
        from (select *, ntile(10) over (order by {column}, order_line_id) as decile
              from line_views)
        group by decile order by decile
        """,
    )
    return [r[1] for r in rows]


def test_every_web_line_was_viewed_before_purchase(hesitation):
    n_lines, no_view, min_minutes = _one(
        hesitation,
        "select count(*), count(*) filter (where n_views = 0), min(decision_minutes) "
        "from line_views",
    )
    assert n_lines > 10_000
    assert no_view == 0
    assert min_minutes >= 1


def test_purchase_session_ends_in_purchase_event(db):
    missing = _one(
        db,
        """
        select count(*) from orders as o
        where o.session_id is not null and not exists (
            select 1 from web_events as e
            where e.session_id = o.session_id and e.event_type = 'purchase'
                and e.event_at = o.ordered_at and e.customer_id = o.customer_id)
        """,
    )[0]
    assert missing == 0
    marketplace_sessions = _one(
        db, "select count(*) from orders where channel = 'marketplace' and session_id is not null"
    )[0]
    assert marketplace_sessions == 0


def test_decision_time_raises_return_rate(hesitation, ground_truth):
    truth = ground_truth["signals"]["hesitation"]
    rates = _decile_rates(hesitation, "decision_minutes")
    ratio = rates[-1] / rates[0]
    assert truth["expected_ratio_top_vs_bottom_decision_time_decile"] >= 2
    assert ratio >= 2
    assert ratio >= 0.8 * truth["expected_ratio_top_vs_bottom_decision_time_decile"]
    # monotone-ish: the upper half returns more than the lower half, deciles mostly rise
    assert sum(rates[5:]) > sum(rates[:5])
    rises = sum(b > a for a, b in itertools.pairwise(rates))
    assert rises >= 6, rates


def test_views_raise_return_rate(hesitation, ground_truth):
    truth = ground_truth["signals"]["hesitation"]
    rates = _decile_rates(hesitation, "n_views")
    assert rates[-1] / rates[0] >= 0.8 * truth["expected_ratio_top_vs_bottom_views_decile"]
    assert rates[-1] > rates[0]


def test_bracketing_doubles_return_rate(db, ground_truth):
    truth = ground_truth["signals"]["hesitation"]
    rates = dict(
        _rows(
            db,
            """
            select is_bracketing, avg(is_returned::int) from (
                select count(*) over (partition by order_id, product_id) > 1 as is_bracketing,
                    is_returned
                from lines where category in ('apparel', 'shoes'))
            group by 1
            """,
        )
    )
    ratio = rates[True] / rates[False]
    assert ratio >= 2
    assert ratio >= 0.8 * truth["expected_ratio_bracketing"]
    bracket_sizes = {
        r[0]
        for r in _rows(
            db,
            "select count(*) from lines group by order_id, product_id having count(*) > 1",
        )
    }
    assert bracket_sizes <= {2, 3}


# ------------------------------------------------------------------ 2. small sizing
def test_small_sizing_suppliers(db, ground_truth):
    truth = ground_truth["signals"]["small_sizing"]
    small = truth["small_sizing_supplier_ids"]
    assert 1 <= len(small) <= 2
    rows = _rows(
        db,
        f"""
        select supplier_id in {tuple(small) if len(small) > 1 else f"('{small[0]}')"} as is_small,
            avg(is_returned::int) as return_rate,
            count(*) filter (where reason_code = 'SIZE_TOO_SMALL')
                / count(*) filter (where is_returned) as too_small_share
        from lines where category = 'apparel'
        group by 1
        """,
    )
    got = {r[0]: r[1:] for r in rows}
    share_ratio = got[True][1] / got[False][1]
    assert share_ratio >= 3
    assert share_ratio >= 0.7 * truth["expected_too_small_share_ratio"]
    assert got[True][0] > got[False][0]
    # no other apparel supplier looks like a small-sizing one
    per_supplier = _rows(
        db,
        """
        select supplier_id, count(*) filter (where reason_code = 'SIZE_TOO_SMALL')
            / count(*) filter (where is_returned) as share
        from lines where category = 'apparel' group by 1 order by share desc
        """,
    )
    assert {s for s, _ in per_supplier[: len(small)]} == set(small)


# ------------------------------------------------------------------ 3. defective batches
def test_defective_batches(db, ground_truth):
    truth = ground_truth["signals"]["defective_batches"]
    ids = truth["defective_batch_ids"]
    assert 2 <= len(ids) <= 3
    in_list = "(" + ", ".join(f"'{i}'" for i in ids) + ")"
    per_batch = db.execute(
        f"""
        with products_hit as (
            select product_id from production_batches where batch_id in {in_list}
        )
        select product_id,
            avg(is_returned::int) filter (where batch_id in {in_list}) as rate_batch,
            avg(is_returned::int) filter (where batch_id not in {in_list}) as rate_other,
            count(*) filter (where batch_id in {in_list} and is_returned) as returns_batch,
            count(*) filter (where batch_id in {in_list}
                and reason_code in ('DEFECTIVE', 'DAMAGED_IN_TRANSIT')) as defect_returns
        from lines where product_id in (select product_id from products_hit)
        group by 1
        """
    ).fetchall()
    assert len(per_batch) == len(ids)
    for product_id, rate_batch, rate_other, *_ in per_batch:
        assert rate_batch >= 2 * rate_other, (product_id, rate_batch, rate_other)
    # pooled over the planted batches: >= 3x their products' other batches, mostly defects
    returns = sum(r[3] for r in per_batch)
    defects = sum(r[4] for r in per_batch)
    rate_batch, rate_other = _one(
        db,
        f"""
        select avg(is_returned::int) filter (where batch_id in {in_list}),
            avg(is_returned::int) filter (where batch_id not in {in_list})
        from lines where product_id in (
            select product_id from production_batches where batch_id in {in_list})
        """,
    )
    assert rate_batch >= 3 * rate_other
    assert defects / returns >= 0.6


# ------------------------------------------------------------------ 4. seasonality, categories
def test_garden_demand_peaks_in_spring_and_summer(db, ground_truth):
    truth = ground_truth["signals"]["seasonality"]
    assert set(truth["seasonal_categories"]) >= {"garden", "apparel"}
    by_month = dict(
        _rows(
            db,
            """
            select month(ordered_at), sum(quantity) / sum(sum(quantity)) over ()
            from lines where category = 'garden' group by 1
            """,
        )
    )
    apr_jul = sum(by_month[m] for m in (4, 5, 6, 7))
    assert apr_jul >= 0.5
    assert abs(apr_jul - truth["garden_demand_share_apr_jul"]) < 0.05
    assert max(by_month, key=by_month.get) in (4, 5, 6, 7)
    # apparel: Nov-Dec above the average month
    apparel = dict(
        _rows(
            db,
            "select month(ordered_at), sum(quantity) from lines where category = 'apparel' "
            "group by 1",
        )
    )
    mean = sum(apparel.values()) / 12
    assert apparel[11] > mean and apparel[12] > mean


def test_return_rates_by_category_and_season(db, ground_truth):
    base = ground_truth["signals"]["base_return_rates"]
    rates = dict(
        _rows(
            db,
            "select category, avg(is_returned::int) from lines "
            "where ordered_at < timestamp '2026-10-01' group by 1",
        )
    )
    for cat, facts in base.items():
        expected = facts["expected_return_rate_all_lines"]
        assert abs(rates[cat] - expected) <= 0.25 * expected + 0.005, (cat, rates[cat], expected)
    assert rates["apparel"] > rates["shoes"] > max(rates["home"], rates["garden"])
    assert rates["electronics"] < 0.15 and rates["garden"] < 0.1
    winter, summer = _one(
        db,
        """
        select avg(is_returned::int) filter (where month(ordered_at) in (12, 1)),
            avg(is_returned::int) filter (where month(ordered_at) in (6, 7, 8))
        from lines where category = 'apparel'
        """,
    )
    assert winter > summer * 1.1
    spring, winter_g = _one(
        db,
        """
        select avg(is_returned::int) filter (where month(ordered_at) in (4, 5, 6, 7)),
            avg(is_returned::int) filter (where month(ordered_at) in (10, 11, 12, 1, 2))
        from lines where category = 'garden'
        """,
    )
    assert spring > winter_g


def test_suppliers_differ_in_return_rate(db):
    spread = _one(
        db,
        """
        select max(rate) - min(rate) from (
            select supplier_id, avg(is_returned::int) as rate
            from lines where category = 'apparel' group by 1)
        """,
    )[0]
    assert spread > 0.03


# ------------------------------------------------------------------ 5. abusers
def test_abusers_return_most_of_what_they_buy(db, ground_truth):
    truth = ground_truth["signals"]["abusers"]
    ids = truth["abuser_customer_ids_with_orders"]
    assert len(ids) >= 10
    in_list = "(" + ", ".join(f"'{i}'" for i in ids) + ")"
    abuser_rate, other_rate = _one(
        db,
        f"""
        select avg(is_returned::int) filter (where customer_id in {in_list}),
            avg(is_returned::int) filter (where customer_id not in {in_list})
        from lines where delivered_at < timestamp '2026-10-15'
        """,
    )
    assert abuser_rate >= 0.6
    assert other_rate <= 0.3
    worn_share, quick_days = _one(
        db,
        f"""
        select avg((condition_grade in ('worn', 'empty_box'))::int)
                filter (where condition_grade is not null),
            median(date_diff('second', o.delivered_at, r.requested_at) / 86400.0)
        from returns as r join orders as o using (order_id)
        where o.customer_id in {in_list}
        """,
    )
    assert worn_share >= 0.4
    assert quick_days <= 3
    # the top returners by rate (with enough lines) are mostly planted abusers
    top = _rows(
        db,
        """
        select customer_id from lines group by 1 having count(*) >= 5
        order by avg(is_returned::int) desc, count(*) desc limit 10
        """,
    )
    assert sum(c in ids for (c,) in top) >= 5


# ------------------------------------------------------------------ 6. fragile, premium
def test_fragile_items_arrive_damaged_more_often(db, ground_truth):
    truth = ground_truth["signals"]["fragile"]
    fragile = tuple(truth["fragile_subcategories"])
    assert set(fragile) == {"ceramics", "glass"}
    rate_f, rate_o = _one(
        db,
        f"""
        select avg((reason_code = 'DAMAGED_IN_TRANSIT')::int) filter (where subcategory in {fragile}),
            avg((reason_code = 'DAMAGED_IN_TRANSIT')::int) filter (where subcategory not in {fragile})
        from (select * exclude (reason_code), coalesce(reason_code, '') as reason_code from lines)
        where category = 'home'
        """,
    )
    assert rate_f / rate_o >= 3
    assert rate_f / rate_o >= 0.6 * truth["expected_damage_rate_multiplier"]


def test_premium_products(db, ground_truth):
    threshold = ground_truth["premium_price_threshold_eur"]
    assert threshold == 500
    rows = _rows(
        db,
        f"select distinct product_id, category from products where list_price_eur >= {threshold}",
    )
    assert rows
    assert {c for _, c in rows} <= {"electronics", "garden"}
    assert any(c == "electronics" for _, c in rows)
    assert {p for p, _ in rows} == set(ground_truth["signals"]["premium"]["premium_product_ids"])


# ------------------------------------------------------------------ 7. slow refunds and NPS
def test_slow_refunds_lower_nps(db, ground_truth):
    days = ground_truth["slow_refund_days"]
    penalty = ground_truth["signals"]["slow_refunds"]["planted_score_penalty"]
    rows = _rows(
        db,
        f"""
        with rma as (
            select distinct rma_id, order_id, requested_at, refunded_at from returns
            where refunded_at is not null
        )
        select date_diff('second', rma.requested_at, rma.refunded_at) > {days} * 86400 as is_slow,
            avg(score) as mean_score,
            100.0 * (avg((score >= 9)::int) - avg((score <= 6)::int)) as nps,
            count(*) as n
        from nps_responses as s join rma using (order_id)
        where s.touchpoint = 'post_return'
        group by 1
        """,
    )
    got = {r[0]: r[1:] for r in rows}
    assert got[True][2] >= 50 and got[False][2] >= 300
    assert got[False][0] - got[True][0] >= 0.7 * penalty
    assert got[False][1] - got[True][1] >= 30
    # surveys answer after the event they ask about
    late = _one(
        db,
        """
        select count(*) from nps_responses as s join orders as o using (order_id)
        where s.responded_at < o.delivered_at
        """,
    )[0]
    assert late == 0
    assert _one(db, "select corr(score, rating) from nps_responses")[0] > 0.6


# ------------------------------------------------------------------ 8. forecasts
def test_forecasts_overstate_net_demand_by_the_return_rate(db, ground_truth):
    truth = ground_truth["signals"]["forecast"]
    versions = [r[0] for r in _rows(db, "select distinct forecast_version from demand_forecasts")]
    assert len(versions) == 12
    weeks = _rows(
        db,
        "select forecast_version, count(distinct week_start_date), min(created_date) "
        "from demand_forecasts group by 1 order by 1",
    )
    assert all(n == 6 for _, n, _ in weeks)
    rows = _rows(
        db,
        """
        with fc as (
            select f.forecast_version, p.category, f.week_start_date,
                sum(f.gross_demand_units) as forecast
            from demand_forecasts as f join products as p using (sku)
            where f.forecast_version <= '2026-08'
            group by all
        ),
        actual as (
            select category, cast(date_trunc('week', ordered_at) as date) as week_start_date,
                sum(quantity) as gross, sum(quantity - qty_returned) as net
            from lines group by all
        )
        select category, sum(forecast), sum(gross), sum(net)
        from fc join actual using (category, week_start_date)
        group by 1
        """,
    )
    total_f = total_g = total_n = 0.0
    for cat, forecast, gross, net in rows:
        total_f, total_g, total_n = total_f + forecast, total_g + gross, total_n + net
        expected = truth["by_category"][cat]["expected_overstatement"]
        assert abs(forecast / gross - 1) < 0.1, (cat, forecast, gross)
        assert abs(forecast / net - 1 - expected) < 0.1, (cat, forecast / net - 1, expected)
    over = total_f / total_n - 1
    assert abs(total_f / total_g - 1) < 0.05
    assert abs(over - truth["overall"]["expected_overstatement"]) < 0.05
    assert over > 0.1
