"""The published core and KPI marts equal the same KPIs computed directly from the landing files
(plain DuckDB SQL and numpy over the files, independent of the dbt models), the planted
slow-refund signal shows in the NPS mart, and MetricFlow answers with the same numbers."""

from __future__ import annotations

import csv
import json
import math
import os
import shutil
import subprocess
from collections import defaultdict
from datetime import date
from decimal import Decimal

import duckdb
import numpy as np
import pytest
import yaml

from returnlens.config import PROJECT_ROOT

pytestmark = pytest.mark.integration

# This module must read the landing zone as the demo generator wrote it; test_pipeline.py later
# drops a deliberately bad returns file into it (pytest runs this module first, alphabetically).
BAD_FILE_GLOB = "returns_9999-*.csv"
PROCESSING_MONTH = date(2026, 6, 1)

LANDING_VIEWS = """
create view orders as select * from read_csv('{landing}/shop/orders_*.csv', header = true);
create view lines as select * from read_csv('{landing}/shop/order_lines_*.csv', header = true);
create view products as select * from read_csv('{landing}/shop/products.csv', header = true);
create view returns as select * from read_csv('{landing}/returns/returns_*.csv', header = true);
create view surveys as select * from read_csv('{landing}/surveys/nps_*.csv', header = true);
create view line_facts as
with returned as (
    select order_line_id, sum(quantity) as units, sum(coalesce(refund_amount_eur, 0)) as refunded
    from returns group by 1
)
select
    o.order_id, o.ordered_at, p.category, l.quantity,
    coalesce(r.units, 0) as units_returned,
    l.quantity * l.unit_price_eur - l.discount_eur as revenue,
    coalesce(r.refunded, 0) as refunded,
    r.order_line_id is not null as has_return
from lines as l
join orders as o using (order_id)
join products as p using (sku)
left join returned as r using (order_line_id);
"""

COHORT_SQL = """
select
    cast(date_trunc('{grain}', ordered_at) as date) as period_start_date,
    {slice} as slice_value,
    count(distinct order_id) as orders,
    count(distinct order_id) filter (where has_return) as orders_with_return,
    sum(quantity) as units_sold,
    sum(units_returned) as units_returned,
    sum(revenue) as gross_revenue_eur,
    sum(refunded) as refunded_eur
from line_facts
group by 1, 2
order by 1, 2
"""

MART_COHORT_SQL = """
select
    period_start_date, slice_value, orders, orders_with_return, units_sold, units_returned,
    gross_revenue_eur, refunded_eur, return_rate_units, return_rate_value, return_rate_orders
from marts.kpi_return_rates_by_order_cohort
where period_grain = ? and slice_type = ?
order by 1, 2
"""


@pytest.fixture(scope="module")
def landing_db(pipeline_run):
    """An in-memory DuckDB with views over the landing files of the pipeline run."""
    assert pipeline_run.success
    assert not list((pipeline_run.landing / "returns").glob(BAD_FILE_GLOB)), (
        "the landing zone was altered before this module ran"
    )
    con = duckdb.connect()
    con.execute(LANDING_VIEWS.format(landing=pipeline_run.landing))
    yield con
    con.close()


@pytest.fixture(scope="module")
def serving(pipeline_run):
    con = duckdb.connect(str(pipeline_run.serving), read_only=True)
    yield con
    con.close()


@pytest.fixture(scope="module")
def truth(pipeline_run) -> dict:
    return json.loads((pipeline_run.landing / "ground_truth.json").read_text())


def _slow_refund_days() -> int:
    project = yaml.safe_load((PROJECT_ROOT / "dbt_project.yml").read_text())
    return int(project["vars"]["slow_refund_days"])


def _nps(promoters: int, detractors: int, responses: int) -> float:
    return 100.0 * (promoters - detractors) / responses


def _assert_cohorts_equal(expected, actual):
    assert len(actual) == len(expected)
    for exp, act in zip(expected, actual, strict=True):
        start, value, orders, with_return, sold, returned, revenue, refunded = exp
        assert act[:6] == (start, value, orders, with_return, sold, returned)
        assert float(act[6]) == pytest.approx(float(revenue), abs=0.005)
        assert float(act[7]) == pytest.approx(float(refunded), abs=0.005)
        assert act[8] == pytest.approx(returned / sold, rel=1e-12)
        assert act[9] == pytest.approx(float(refunded) / float(revenue), rel=1e-9)
        assert act[10] == pytest.approx(with_return / orders, rel=1e-12)


def test_return_rates_by_week_and_category_equal_the_landing_files(landing_db, serving):
    expected = landing_db.execute(COHORT_SQL.format(grain="week", slice="category")).fetchall()
    actual = serving.execute(MART_COHORT_SQL, ["week", "category"]).fetchall()
    assert len(expected) > 200
    _assert_cohorts_equal(expected, actual)


def test_return_rates_by_month_for_the_total_equal_the_landing_files(landing_db, serving):
    expected = landing_db.execute(COHORT_SQL.format(grain="month", slice="'all'")).fetchall()
    actual = serving.execute(MART_COHORT_SQL, ["month", "all"]).fetchall()
    assert len(expected) >= 12
    _assert_cohorts_equal(expected, actual)
    # the latest cohort's return window is still open, the first one's closed long ago
    maturity = serving.execute(
        "select period_start_date, is_cohort_mature from marts.kpi_return_rates_by_order_cohort "
        "where period_grain = 'month' and slice_type = 'all' order by 1"
    ).fetchall()
    assert maturity[0][1] is True
    assert maturity[-1][1] is False


def test_processing_time_percentiles_of_a_month_equal_numpy_over_the_files(landing_db, serving):
    rows = landing_db.execute(
        """
        select requested_at, received_at, refunded_at from returns
        where date_trunc('month', requested_at) = ?
        """,
        [PROCESSING_MONTH],
    ).fetchall()
    steps = {
        "requested_to_received": [(r[1] - r[0]).total_seconds() / 3600 for r in rows if r[1]],
        "requested_to_refunded": [(r[2] - r[0]).total_seconds() / 3600 for r in rows if r[2]],
    }
    for step, hours in steps.items():
        assert len(hours) > 50, step
        actual = serving.execute(
            """
            select return_lines_measured, mean_hours, median_hours, p90_hours, median_days
            from marts.kpi_return_processing_times
            where period_grain = 'month' and slice_type = 'all' and step = ?
                and period_start_date = ?
            """,
            [step, PROCESSING_MONTH],
        ).fetchall()
        assert len(actual) == 1, step
        measured, mean, median, p90, median_days = actual[0]
        assert measured == len(hours)
        assert mean == pytest.approx(np.mean(hours), rel=1e-9)
        assert median == pytest.approx(np.percentile(hours, 50), rel=1e-9)
        assert p90 == pytest.approx(np.percentile(hours, 90), rel=1e-9)
        assert median_days == pytest.approx(np.percentile(hours, 50) / 24, rel=1e-9)


def test_reason_mix_equals_the_portal_codes(landing_db, serving):
    without_code = landing_db.execute("select count(*) from returns where reason_code is null")
    assert without_code.fetchall() == [(0,)], "the clean demo shop gives every return a code"
    expected = landing_db.execute(
        """
        with counts as (
            select
                cast(date_trunc('month', requested_at) as date) as month,
                lower(reason_code) as reason,
                count(*) as lines
            from returns group by 1, 2
        )
        select month, reason, lines, lines / sum(lines) over (partition by month)
        from counts order by 1, 2
        """
    ).fetchall()
    actual = serving.execute(
        """
        select period_start_date, reason, return_lines, share_of_return_lines
        from marts.kpi_reason_mix
        where period_grain = 'month' and slice_type = 'all'
        order by 1, 2
        """
    ).fetchall()
    assert len(actual) == len(expected) > 50
    for exp, act in zip(expected, actual, strict=True):
        assert act[:3] == exp[:3]
        assert act[3] == pytest.approx(exp[3], rel=1e-12)


def test_every_free_text_reason_of_the_demo_shop_is_mapped(landing_db, serving):
    with (PROJECT_ROOT / "seeds" / "reason_text_map.csv").open(encoding="utf-8") as f:
        variants = {" ".join(r["reason_text"].lower().split()) for r in csv.DictReader(f)}
    texts = {
        " ".join(t.lower().split())
        for (t,) in landing_db.execute(
            "select distinct reason_text from returns where reason_text is not null"
        ).fetchall()
    }
    assert texts and texts <= variants, texts - variants
    assert serving.execute("select count(*) from marts.rpt_unmapped_reason_texts").fetchall() == [
        (0,)
    ]


def test_no_return_vanishes_from_fct_returns(landing_db, serving):
    total, known = landing_db.execute(
        """
        select count(*), count(*) filter (where order_line_id in (select order_line_id from lines))
        from returns
        """
    ).fetchall()[0]
    actual = serving.execute(
        "select count(*), count(*) filter (where has_known_order_line) from marts.fct_returns"
    ).fetchall()[0]
    assert actual == (total, known)


def test_nps_by_month_equals_the_survey_files(landing_db, serving):
    expected = landing_db.execute(
        """
        select
            cast(date_trunc('month', responded_at) as date),
            count(*),
            count(*) filter (where score >= 9),
            count(*) filter (where score <= 6),
            avg(rating)
        from surveys group by 1 order by 1
        """
    ).fetchall()
    actual = serving.execute(
        """
        select period_start_date, nps_responses, promoters, detractors, nps, avg_rating
        from marts.kpi_nps
        where period_grain = 'month' and slice_type = 'all' and segment = 'all'
        order by 1
        """
    ).fetchall()
    assert len(actual) == len(expected) >= 12
    for exp, act in zip(expected, actual, strict=True):
        assert act[:4] == exp[:4]
        assert act[4] == pytest.approx(_nps(exp[2], exp[3], exp[1]), rel=1e-12)
        assert act[5] == pytest.approx(exp[4], rel=1e-12)


def _segment_totals(serving) -> dict[str, tuple[int, int, int]]:
    rows = serving.execute(
        """
        select segment, sum(nps_responses), sum(promoters), sum(detractors)
        from marts.kpi_nps
        where period_grain = 'month' and slice_type = 'all'
        group by 1
        """
    ).fetchall()
    return {segment: (int(n), int(p), int(d)) for segment, n, p, d in rows}


def test_nps_of_returners_and_by_refund_speed_equal_the_files(landing_db, serving):
    returners = landing_db.execute(
        """
        with first_returns as (
            select o.customer_id, min(r.requested_at) as first_requested_at
            from returns as r join orders as o using (order_id)
            group by 1
        )
        select
            coalesce(f.first_requested_at <= s.responded_at, false),
            count(*), count(*) filter (where s.score >= 9), count(*) filter (where s.score <= 6)
        from surveys as s left join first_returns as f using (customer_id)
        group by 1
        """
    ).fetchall()
    speeds = landing_db.execute(
        f"""
        with rmas as (
            select order_id, rma_id, min(requested_at) as requested_at,
                max(refunded_at) as refunded_at
            from returns where refunded_at is not null group by 1, 2
        ),
        latest as (
            select s.score, rmas.requested_at, rmas.refunded_at,
                row_number() over (
                    partition by s.response_id order by rmas.refunded_at desc, rmas.rma_id desc
                ) as n
            from surveys as s
            join rmas on s.order_id = rmas.order_id and rmas.refunded_at <= s.responded_at
        )
        select
            refunded_at > requested_at + interval {_slow_refund_days()} day,
            count(*), count(*) filter (where score >= 9), count(*) filter (where score <= 6)
        from latest where n = 1 group by 1
        """
    ).fetchall()
    expected = {("returner" if r else "non_returner"): tuple(c) for r, *c in returners}
    expected |= {("slow_refund" if s else "fast_refund"): tuple(c) for s, *c in speeds}
    actual = _segment_totals(serving)
    for segment, counts in expected.items():
        assert actual[segment] == counts, segment


def _planted_nps(mean: float, sd: float) -> float:
    """Expected NPS of scores drawn from N(mean, sd), rounded to integers (9-10 promote, 0-6
    detract), as the demo generator draws them."""

    def cdf(x: float) -> float:
        return 0.5 * (1 + math.erf((x - mean) / (sd * math.sqrt(2))))

    return 100 * ((1 - cdf(8.5)) - cdf(6.5))


def test_planted_slow_refund_penalty_shows_in_the_nps_mart(serving, truth):
    """Signal 7: answers after a refund slower than slow_refund_days score lower."""
    signal = truth["signals"]["slow_refunds"]
    assert signal["slow_refund_days"] == _slow_refund_days()
    mean, sd = signal["score_mean_before_penalty"], signal["score_sd"]
    planted_gap = _planted_nps(mean, sd) - _planted_nps(mean - signal["planted_score_penalty"], sd)
    totals = _segment_totals(serving)
    fast, slow = totals["fast_refund"], totals["slow_refund"]
    assert slow[0] >= 20 and fast[0] >= 100
    observed_gap = _nps(*fast[1:], fast[0]) - _nps(*slow[1:], slow[0])
    assert planted_gap > 50
    assert observed_gap >= 0.6 * planted_gap, (observed_gap, planted_gap)


def _mf_query(metrics: str, group_by: str, out) -> list[dict]:
    env = {**os.environ, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    venv_bin = PROJECT_ROOT / ".venv" / "bin"
    subprocess.run(
        [
            str(venv_bin / "mf"),
            "query",
            "--metrics",
            metrics,
            "--group-by",
            group_by,
            "--csv",
            str(out),
        ],
        cwd=PROJECT_ROOT,
        env=env,
        check=True,
        capture_output=True,
        timeout=300,
    )
    with out.open() as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def parsed_project(pipeline_run):
    from returnlens.dbt_runner import parse, target_dir

    parse(PROJECT_ROOT)
    # MetricFlow's CLI reads target/semantic_manifest.json whatever DBT_TARGET_PATH says; under
    # `make test` each pytest process keeps dbt's artifacts in target/<worker> (tests/conftest.py)
    own = target_dir(PROJECT_ROOT) / "semantic_manifest.json"
    default = PROJECT_ROOT / "target" / "semantic_manifest.json"
    if own.resolve() != default.resolve():
        default.parent.mkdir(exist_ok=True)
        shutil.copy(own, default)


def test_metricflow_answers_return_rate_by_week_and_nps_by_month(parsed_project, serving, tmp_path):
    weekly = _mf_query("return_rate_units,return_rate_orders", "metric_time__week", tmp_path / "w")
    marts = {
        str(start): (units, orders)
        for start, units, orders in serving.execute(
            "select period_start_date, return_rate_units, return_rate_orders "
            "from marts.kpi_return_rates_by_order_cohort "
            "where period_grain = 'week' and slice_type = 'all'"
        ).fetchall()
    }
    assert len(weekly) == len(marts) > 40
    for row in weekly:
        units, orders = marts[row["metric_time__week"][:10]]
        assert float(row["return_rate_units"]) == pytest.approx(units, rel=1e-9)
        assert float(row["return_rate_orders"]) == pytest.approx(orders, rel=1e-9)

    monthly = _mf_query("nps,nps_responses", "metric_time__month", tmp_path / "m")
    marts = {
        str(start): (nps, n)
        for start, nps, n in serving.execute(
            "select period_start_date, nps, nps_responses from marts.kpi_nps "
            "where period_grain = 'month' and slice_type = 'all' and segment = 'all'"
        ).fetchall()
    }
    assert len(monthly) == len(marts) >= 12
    for row in monthly:
        nps, n = marts[row["metric_time__month"][:10]]
        assert int(row["nps_responses"]) == n
        assert float(row["nps"]) == pytest.approx(nps, rel=1e-9)


def test_metricflow_cost_of_returns_and_net_margin_equal_the_cost_mart(
    parsed_project, serving, tmp_path
):
    """The semantic layer's cost metrics (fct_return_costs and fct_order_lines by order date)
    give the monthly figures of kpi_return_costs, which test_return_costs.py checks against the
    landing files to the cent."""
    rows = _mf_query(
        "cost_of_returns_eur,net_margin_after_returns_eur,net_margin_share_after_returns,"
        "cost_per_return_line_eur",
        "metric_time__month",
        tmp_path / "c",
    )
    marts = {
        str(start): rest
        for start, *rest in serving.execute(
            "select period_start_date, cost_of_returns_eur, net_margin_after_returns_eur, "
            "net_margin_share, cost_per_return_line_eur from marts.kpi_return_costs "
            "where period_grain = 'month' and slice_type = 'all'"
        ).fetchall()
    }
    assert len(rows) == len(marts) >= 12
    for row in rows:
        cost, net, share, per_line = marts[row["metric_time__month"][:10]]
        assert Decimal(row["cost_of_returns_eur"]) == cost
        assert Decimal(row["net_margin_after_returns_eur"]) == net
        assert float(row["net_margin_share_after_returns"]) == pytest.approx(share, rel=1e-9)
        assert float(row["cost_per_return_line_eur"]) == pytest.approx(per_line, rel=1e-9)


def test_summary_shows_the_headline_marts(pipeline_run):
    from returnlens.summary import kpi_summary

    text = kpi_summary(pipeline_run.serving)
    for phrase in ("of units", "of value", "of orders", "Days end to end", "Top reasons", "NPS"):
        assert phrase in text, phrase


def test_kpi_slices_add_up_to_the_total(serving):
    """Additive counts of every slice type sum to the 'all' slice (each order line has one
    category, supplier and channel)."""
    rows = serving.execute(
        """
        select slice_type, sum(units_sold), sum(units_returned), sum(refunded_eur)
        from marts.kpi_return_rates_by_order_cohort
        where period_grain = 'month'
        group by 1
        """
    ).fetchall()
    totals = defaultdict(tuple)
    for slice_type, *sums in rows:
        totals[slice_type] = tuple(sums)
    assert set(totals) == {"all", "category", "supplier", "channel"}
    assert len({totals[s] for s in totals}) == 1
