"""sig_forecast_backtest is out-of-sample: week W's return-aware forecast rests only on data
from before W (rolling origin), and its WAPEs are what its rows add up to.

All on the `pipeline_run` warehouse (seed 11, scale 0.1), no extra pipeline run: the rates'
history is recomputed from the landing files; the perturbation test runs the mart's compiled
SQL (the run's own target folder) on a copy of the warehouse whose late returns were changed.
"""

from __future__ import annotations

import math
import os
import shutil
from collections import defaultdict
from datetime import timedelta

import duckdb
import pytest

from returnlens.config import PROJECT_ROOT

pytestmark = pytest.mark.integration

RETURN_WINDOW_DAYS = 30  # dbt var return_window_days (the demo profile's)
MATURITY_DAYS = 8 + RETURN_WINDOW_DAYS  # fct_order_lines.is_return_window_closed
PRIOR_UNITS = 200  # signal_var forecast_prior_units
SEASON_PRIOR_UNITS = 500  # signal_var forecast_season_prior_units
FORECAST_COLUMNS = (
    "product_group, week_start_date, gross_forecast_units, return_aware_forecast_units, "
    "rates_latest_ordered_date, rates_latest_return_requested_date"
)

# Per backtest week W and product group: units sold on order lines ordered at least
# MATURITY_DAYS + 1 days before W and units of their returns requested before W, straight from
# the landing files (orders, order lines, products, returns).
HISTORY_SQL = """
with
weeks as (select unnest(?::date[]) as week_start_date),
orders as (
    select order_id, cast(ordered_at as timestamp) as ordered_at
    from read_csv('{landing}/shop/orders_*.csv', header = true, all_varchar = true)
),
lines as (
    select order_line_id, order_id, sku, cast(quantity as bigint) as quantity
    from read_csv('{landing}/shop/order_lines_*.csv', header = true, all_varchar = true)
),
products as (
    select sku, category, subcategory, supplier_id
    from read_csv('{landing}/shop/products.csv', header = true, all_varchar = true)
),
returns as (
    select order_line_id, cast(quantity as bigint) as quantity,
        cast(cast(requested_at as timestamp) as date) as requested_date
    from read_csv('{landing}/returns/returns_*.csv', header = true, all_varchar = true)
),
known_lines as (
    select lines.order_line_id, lines.quantity, products.category, products.subcategory,
        products.supplier_id, cast(orders.ordered_at as date) as ordered_date
    from lines
    join orders using (order_id)
    join products using (sku)
),
sold as (
    select weeks.week_start_date, category, subcategory, supplier_id,
        sum(quantity) as units_sold,
        sum(quantity) filter (where month(ordered_date) = month(weeks.week_start_date))
            as units_sold_in_month
    from weeks join known_lines
        on known_lines.ordered_date + {maturity} + 1 <= weeks.week_start_date
    group by all
),
returned as (
    select weeks.week_start_date, category, subcategory, supplier_id,
        sum(returns.quantity) as units_returned,
        sum(returns.quantity) filter (where month(ordered_date) = month(weeks.week_start_date))
            as units_returned_in_month
    from weeks
    join known_lines
        on known_lines.ordered_date + {maturity} + 1 <= weeks.week_start_date
    join returns
        on returns.order_line_id = known_lines.order_line_id
        and returns.requested_date < weeks.week_start_date
    group by all
)
select sold.week_start_date, sold.category, sold.subcategory, sold.supplier_id,
    sold.units_sold, coalesce(returned.units_returned, 0),
    coalesce(sold.units_sold_in_month, 0), coalesce(returned.units_returned_in_month, 0)
from sold left join returned using (week_start_date, category, subcategory, supplier_id)
"""


@pytest.fixture(scope="module")
def backtest(pipeline_run) -> list[tuple]:
    assert pipeline_run.success
    with duckdb.connect(str(pipeline_run.serving), read_only=True) as con:
        return con.execute(
            f"select {FORECAST_COLUMNS}, units_sold, units_returned, actual_net_units, "
            "gross_abs_error, return_aware_abs_error, gross_wape, return_aware_wape "
            "from marts.sig_forecast_backtest order by product_group, week_start_date"
        ).fetchall()


def test_no_rate_of_week_w_rests_on_data_from_w_or_later(backtest):
    assert len({row[1] for row in backtest}) >= 20
    for group, week, _, _, latest_order, latest_return, *_ in backtest:
        # a backtest week has history behind it (weeks without any are left out); a product
        # group may have none yet (no rate: its forecast stays gross)
        assert group != "all" or latest_order is not None, week
        # lines count only once mature: ordered MATURITY_DAYS days before the day before W
        if latest_order is not None:
            assert latest_order + timedelta(days=MATURITY_DAYS) < week, (group, week, latest_order)
        assert latest_return is None or latest_return < week, (group, week, latest_return)
    assert sum(row[5] is not None for row in backtest) >= 0.9 * len(backtest)


def test_rates_rest_on_the_history_before_each_week(pipeline_run, backtest):
    """The rates of every (week, group), recomputed from the landing files with only what was
    known before the week: mature order lines, returns requested before the week."""
    weeks = sorted({row[1] for row in backtest})
    with duckdb.connect() as con:
        history = con.execute(
            HISTORY_SQL.format(landing=pipeline_run.landing, maturity=MATURITY_DAYS), [weeks]
        ).fetchall()
    expected = _expected_rates(history)
    with duckdb.connect(str(pipeline_run.warehouse), read_only=True) as con:
        rows = con.execute(
            "select week_start_date, category, subcategory, supplier_id, history_units_sold, "
            "history_units_returned, expected_return_rate "
            "from intermediate.int_return_rates_estimated_before_weeks "
            "where week_start_date in (select unnest(?::date[]))",
            [weeks],
        ).fetchall()
    got = {r[:4]: r[4:] for r in rows}
    assert got.keys() == expected.keys()
    for key, (sold, returned, rate) in expected.items():
        assert got[key][:2] == (sold, returned), key
        assert math.isclose(got[key][2], rate, rel_tol=1e-9, abs_tol=1e-12), key
    # the history grows with the origin: the rate of a late week rests on more than an early one
    sold_by_week = defaultdict(int)
    for (week, *_), (sold, _, _) in expected.items():
        sold_by_week[week] += sold
    assert sold_by_week[weeks[-1]] > 4 * sold_by_week[weeks[0]]


def _expected_rates(history: list[tuple]) -> dict:
    """(week, category, subcategory, supplier) -> (sold, returned, expected return rate), by the
    formulas of docs/signals.md (section 3) applied to the history before each week."""
    sub = defaultdict(lambda: [0, 0])
    cat = defaultdict(lambda: [0, 0, 0, 0])
    for week, category, subcategory, _, sold, returned, sold_m, returned_m in history:
        sub[week, category, subcategory][0] += sold
        sub[week, category, subcategory][1] += returned
        for i, v in enumerate((sold, returned, sold_m, returned_m)):
            cat[week, category][i] += v
    out = {}
    for week, category, subcategory, supplier, sold, returned, _, _ in history:
        sub_sold, sub_returned = sub[week, category, subcategory]
        sub_rate = sub_returned / sub_sold if sub_sold else 0.0
        group_rate = (returned + PRIOR_UNITS * sub_rate) / (sold + PRIOR_UNITS)
        c_sold, c_returned, m_sold, m_returned = cat[week, category]
        c_rate = c_returned / c_sold if c_sold else 0.0
        season = (
            (m_returned + SEASON_PRIOR_UNITS * c_rate) / (m_sold + SEASON_PRIOR_UNITS) / c_rate
            if c_rate > 0
            else 1.0
        )
        out[week, category, subcategory, supplier] = (
            sold,
            returned,
            min(group_rate * season, 0.95),
        )
    return out


def test_wapes_are_what_the_rows_add_up_to(backtest):
    by_group = defaultdict(list)
    for row in backtest:
        by_group[row[0]].append(row)
    assert "all" in by_group and len(by_group) > 3
    for group, rows in by_group.items():
        gross_err = aware_err = actual = 0.0
        for _, _, gross, aware, _, _, sold, returned, net, g_err, a_err, g_wape, a_wape in rows:
            assert net == sold - returned
            assert math.isclose(g_err, abs(gross - net), abs_tol=1e-9)
            assert math.isclose(a_err, abs(aware - net), abs_tol=1e-9)
            gross_err += abs(gross - net)
            aware_err += abs(aware - net)
            actual += net
            assert (g_wape, a_wape) == (rows[0][11], rows[0][12]), group
        assert math.isclose(rows[0][11], gross_err / actual, rel_tol=1e-9), group
        assert math.isclose(rows[0][12], aware_err / actual, rel_tol=1e-9), group
    # 'all' adds up its groups, week by week
    groups = defaultdict(lambda: [0.0, 0.0, 0, 0])
    for row in backtest:
        if row[0] != "all":
            for i, v in enumerate((row[2], row[3], row[6], row[7])):
                groups[row[1]][i] += v
    for row in by_group["all"]:
        gross, aware, sold, returned = groups[row[1]]
        assert math.isclose(row[2], gross, rel_tol=1e-9)
        assert math.isclose(row[3], aware, rel_tol=1e-9)
        assert (row[6], row[7]) == (sold, returned)


def _compiled_backtest_sql(run_id: str) -> str:
    """The SQL the pipeline run compiled for the mart (dagster-dbt's folder of that run)."""
    paths = sorted(
        (PROJECT_ROOT / os.environ.get("DBT_TARGET_PATH", "target")).glob(
            f"*-{run_id[:7]}-*/compiled/returnlens/models/marts/signals/sig_forecast_backtest.sql"
        ),
        key=lambda p: p.stat().st_mtime,
    )
    assert paths, f"no compiled sig_forecast_backtest.sql of run {run_id} under {PROJECT_ROOT}"
    return paths[-1].read_text()


def test_returns_dated_from_w_on_do_not_change_ws_forecast(pipeline_run, backtest, tmp_path):
    """Late returns are made up and existing ones inflated, all requested on or after a middle
    week W, on a copy of the warehouse; the mart's own SQL then gives the same forecasts for
    every week up to W, and different ones later (the change is seen where it may be)."""
    sql = _compiled_backtest_sql(pipeline_run.result.run_id)
    copy = tmp_path / pipeline_run.warehouse.name  # same name: the SQL names its catalog
    shutil.copyfile(pipeline_run.warehouse, copy)
    weeks = sorted({row[1] for row in backtest})
    cut = weeks[len(weeks) // 2]
    query = f"select {FORECAST_COLUMNS} from ({sql}) order by product_group, week_start_date"
    with duckdb.connect(str(copy)) as con:
        before = con.execute(query).fetchall()
        assert before == [row[:6] for row in backtest]  # the SQL the mart was built with
        changed = con.execute(
            "update marts.fct_returns set returned_quantity = returned_quantity * 3 + 1 "
            "where requested_date >= ?",
            [cut],
        ).fetchone()[0]
        # a late return for every line with a return that was mature long before the cut
        added = con.execute(
            """
            insert into marts.fct_returns
            select r.* replace (
                r.rma_id || '-late' as rma_id,
                cast(? as date) + 2 as requested_date,
                cast(cast(? as date) + 2 as timestamp) as requested_at
            )
            from marts.fct_returns as r
            join marts.fct_order_lines as o using (order_line_id)
            where o.ordered_date < cast(? as date) - 60
            """,
            [cut, cut, cut],
        ).fetchone()[0]
        assert changed > 0 and added > 0
        after = con.execute(query).fetchall()
    assert len(after) == len(before)
    same = [b == a for b, a in zip(before, after, strict=True)]
    assert all(s for b, s in zip(before, same, strict=True) if b[1] <= cut)
    assert not all(s for b, s in zip(before, same, strict=True) if b[1] > cut)
