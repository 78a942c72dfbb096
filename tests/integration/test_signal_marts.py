"""The signal marts recover the planted signals of the demo shop run through the real pipeline.

Figures come from the published serving database; what they should be comes from the demo
shop's ground truth or from independent SQL over the landing files, never from the marts.
"""

from __future__ import annotations

import csv
import json

import duckdb
import numpy as np
import pandas as pd
import pytest

from returnlens.exports import write_exports
from returnlens.signals_report import customer_key, signal_figures

pytestmark = pytest.mark.integration

SIGNAL_MARTS = (
    "sig_purchase_journeys",
    "sig_return_rate_by_behaviour_band",
    "sig_product_quality",
    "sig_supplier_quality",
    "sig_batch_quality",
    "sig_quality_alerts",
    "sig_return_aware_forecasts",
    "sig_forecast_backtest",
    "sig_customer_return_risk",
    "sig_review_queue",
)
# Quality alerts not explained by a planted signal, at most. Each level and rule holds its
# alerts to a false-discovery rate of 5 % (Benjamini-Hochberg over the subjects tested) with a
# 1.5x materiality margin; what remains is real but unplanted variation of the demo shop
# (supplier effects, garden batches of spring, when garden returns peak). Seed 11, scale 0.1:
# 7 alerts, 1 unexplained (a batch); a shop without planted signals: see test_alerts_at_scale.
MAX_FALSE_ALARMS = 3
FDR_Q = 0.05  # signal_var quality_fdr_q
MIN_LINES = 30  # signal_var quality_min_lines
MIN_SIZE_RETURNS = 20  # signal_var sizing_min_size_returns
# routing facts about a return, not data about the customer
ALLOWED_CUSTOMER_COLUMNS = {"customer_risk_score", "is_risky_customer"}


@pytest.fixture(scope="module")
def truth(pipeline_run) -> dict:
    return json.loads((pipeline_run.landing / "ground_truth.json").read_text())


@pytest.fixture(scope="module")
def figures(pipeline_run, truth) -> dict:
    assert pipeline_run.success
    fig = signal_figures(pipeline_run.serving, truth)
    print(json.dumps(fig, indent=2))
    return fig


def test_signal_marts_are_published(pipeline_run):
    assert pipeline_run.success
    with duckdb.connect(str(pipeline_run.serving), read_only=True) as con:
        for mart in SIGNAL_MARTS:
            assert con.execute(f"select count(*) from marts.{mart}").fetchone()[0] > 0, mart


def test_hesitation_effect_is_recovered(figures):
    h = figures["hesitation"]
    rates = h["decision_time_decile_rates"]
    assert len(rates) == 10
    assert h["decision_time_rises"] >= 7, rates
    assert sum(rates[5:]) > sum(rates[:5])
    assert h["decision_time_ratio_top_vs_bottom"] >= 0.8 * h["expected_ratio_top_vs_bottom"]
    assert h["bracketing_ratio"] >= 0.8 * h["expected_bracketing_ratio"]


def _bands(lines: pd.DataFrame, behaviour: str, measure: str, band: pd.Series | None, category):
    """One row per band of lines (of one category, or all): ntile(10)'s deciles of `measure`
    when `band` is None (sorted by measure then order_line_id, the first n mod 10 bands one
    line longer), else the given 0/1 band."""
    if band is None:
        lines = lines.sort_values([measure, "order_line_id"])
        small, large = divmod(len(lines), 10)
        band = np.repeat(np.arange(1, 11), [small + 1] * large + [small] * (10 - large))
    banded = lines.assign(band=band, measure=lines[measure].astype(float))
    out = banded.groupby("band").agg(
        band_min=("measure", "min"),
        band_max=("measure", "max"),
        order_lines=("order_line_id", "size"),
        returned_lines=("has_return", "sum"),
        units_sold=("quantity", "sum"),
        units_returned=("returned_quantity", "sum"),
    )
    return out.reset_index().assign(behaviour=behaviour, category=category)


def test_behaviour_bands_equal_deciles_computed_from_the_journeys(pipeline_run):
    """Every row of sig_return_rate_by_behaviour_band equals deciles computed in pandas from
    sig_purchase_journeys (sort, split by ntile's rule, sum); the mart ranks grouped values
    instead of lines, so this holds its arithmetic to the definition. Product views ties
    heavily (a few values over all lines), so most bands split a tie by order_line_id."""
    with duckdb.connect(str(pipeline_run.serving), read_only=True) as con:
        journeys = con.execute("select * from marts.sig_purchase_journeys").df()
        mart = con.execute("select * from marts.sig_return_rate_by_behaviour_band").df()
    sized = journeys[journeys["is_sized_product"]]
    parts = []
    for category in [*journeys["category"].unique(), "all"]:
        scope = journeys if category == "all" else journeys[journeys["category"] == category]
        sized_scope = sized if category == "all" else sized[sized["category"] == category]
        sized_web = sized_scope[sized_scope["has_web_journey"]]
        bracketing = sized_scope["is_bracketing"].astype(int)
        parts += [
            _bands(
                scope[scope["decision_minutes"].notna()],
                "decision_time",
                "decision_minutes",
                None,
                category,
            ),
            _bands(
                scope[scope["has_web_journey"]], "product_views", "product_views", None, category
            ),
            _bands(
                sized_web,
                "size_guide",
                "size_guide_views",
                sized_web["has_size_guide_view"].astype(int),
                category,
            ),
            _bands(
                sized_scope.assign(bracketing=bracketing),
                "bracketing",
                "bracketing",
                bracketing,
                category,
            ),
        ]
    expected = pd.concat(parts)
    expected["return_rate"] = expected["returned_lines"] / expected["order_lines"]
    columns = [
        "behaviour",
        "category",
        "band",
        "band_min",
        "band_max",
        "order_lines",
        "returned_lines",
        "units_sold",
        "units_returned",
        "return_rate",
    ]

    def rows(frame: pd.DataFrame) -> list[tuple]:
        return sorted(frame[columns].astype(object).itertuples(index=False, name=None))

    assert rows(mart) == rows(expected)
    # the demo shop's product views tie across band boundaries (what the test is about)
    views = mart[(mart["behaviour"] == "product_views") & (mart["category"] == "all")]
    views = views.sort_values("band")
    assert (views["band_min"].to_numpy()[1:] == views["band_max"].to_numpy()[:-1]).sum() >= 3


def test_planted_quality_problems_are_flagged_without_crying_wolf(figures):
    q = figures["quality"]
    assert q["small_sizing_suppliers_missed"] == []
    assert q["defective_batches_missed"] == []
    assert q["false_alarms"] <= MAX_FALSE_ALARMS, q["false_alarm_ids"]


SUPPLIER_EVIDENCE_SQL = """
with products as (
    select * from read_csv('{landing}/shop/products.csv', header = true)
),
lines as (
    select products.supplier_id, count(*) as order_lines
    from read_csv('{landing}/shop/order_lines_*.csv', header = true) as l
    inner join products using (sku)
    group by 1
),
return_lines as (
    select products.supplier_id, count(*) as return_lines
    from read_csv('{landing}/returns/returns_*.csv', header = true) as r
    inner join read_csv('{landing}/shop/order_lines_*.csv', header = true) as l
        using (order_line_id)
    inner join products on l.sku = products.sku
    group by 1
)
select
    count(*) filter (where order_lines >= {min_lines}),
    count(*) filter (where coalesce(return_lines, 0) >= {min_size_returns})
from lines left join return_lines using (supplier_id)
"""


def test_alerts_carry_their_false_discovery_test(pipeline_run):
    with duckdb.connect() as con:
        tested_lines, tested_returns = con.execute(
            SUPPLIER_EVIDENCE_SQL.format(
                landing=pipeline_run.landing, min_lines=MIN_LINES, min_size_returns=MIN_SIZE_RETURNS
            )
        ).fetchone()
    with duckdb.connect(str(pipeline_run.serving), read_only=True) as con:
        alerts = con.execute(
            "select alert_id, subject_level, alert_rule, p_value, q_value, subjects_tested, "
            "evidence from marts.sig_quality_alerts"
        ).fetchall()
    assert alerts
    plural = {"product": "products", "supplier": "suppliers", "batch": "batches"}
    for alert_id, level, rule, p_value, q_value, tested, evidence in alerts:
        assert 0 <= p_value <= q_value <= FDR_Q, alert_id
        assert evidence.endswith(f" among {tested} {plural[level]} tested"), evidence
        if level == "supplier":
            expected = tested_returns if rule in ("runs_small", "runs_large") else tested_lines
            assert tested == expected, (alert_id, tested, expected)
    # the planted small-sizing suppliers are supplier alerts: the supplier check above ran
    assert any(level == "supplier" for _, level, *_ in alerts)


def test_return_aware_forecast_beats_gross_on_net_demand(figures):
    f = figures["forecast"]
    assert f["backtest_weeks"] >= 20
    assert f["wape_return_aware_all"] < f["wape_gross_all"]
    for category in ("apparel", "shoes"):
        gross, aware = f["wape_by_category"][category]
        assert aware < gross, category
    season = f["seasonal_expected_return_rate"]
    assert season["garden"]["apr_jul"] > season["garden"]["dec_jan"]
    assert season["apparel"]["dec_jan"] > season["apparel"]["apr_jul"]


def test_abusers_are_flagged_and_routed(figures):
    a = figures["abusers"]
    assert a["abusers_with_orders"] >= 5
    assert a["risk_flag_recall"] >= 0.7
    assert a["risk_flag_precision"] >= 0.6
    if a["abusers_with_open_returns"]:
        assert a["queue_recall"] == 1.0
        assert a["queue_precision_risky_rule"] >= 0.6


OPEN_RETURNS_SQL = """
with r as (
    select * from read_csv('{landing}/returns/returns_*.csv', header = true)
),
p as (
    select * from read_csv('{landing}/shop/products.csv', header = true)
)
select r.rma_id, r.order_line_id, p.list_price_eur >= {premium} as premium,
    p.subcategory in ('ceramics', 'glass') and r.reason_code = 'DAMAGED_IN_TRANSIT' as fragile,
    r.order_id
from r join p using (sku)
where case when r.resolution = 'exchange' then r.inspected_at is null
           else r.refunded_at is null end
"""


def test_premium_and_fragile_rules_route_exactly_their_returns(pipeline_run, truth):
    with duckdb.connect() as con:
        rows = con.execute(
            OPEN_RETURNS_SQL.format(
                landing=pipeline_run.landing, premium=truth["premium_price_threshold_eur"]
            )
        ).fetchall()
    assert rows
    with duckdb.connect(str(pipeline_run.serving), read_only=True) as con:
        fragile_subs = {
            r[0]
            for r in con.execute(
                "select distinct subcategory from marts.dim_products where is_fragile"
            ).fetchall()
        }
        queue = con.execute(
            "select rma_id, order_line_id, is_premium_product, is_fragile_damage_claim, "
            "decision from marts.sig_review_queue"
        ).fetchall()
    assert fragile_subs == set(truth["signals"]["fragile"]["fragile_subcategories"])
    assert {(r[0], r[1]) for r in queue} == {(r[0], r[1]) for r in rows}
    assert {(r[0], r[1]) for r in queue if r[2]} == {(r[0], r[1]) for r in rows if r[2]}
    assert {(r[0], r[1]) for r in queue if r[3]} == {(r[0], r[1]) for r in rows if r[3]}
    assert all(r[4] == "manual_review" for r in queue if r[2] or r[3])


def test_exports_carry_no_customer_data(pipeline_run, tmp_path):
    # the pipeline's export asset wrote them next to the data; write again to a clean folder
    assert (pipeline_run.data_dir / "exports" / "review_queue.csv").exists()
    result = write_exports(pipeline_run.serving, tmp_path)
    alert_dir = tmp_path / "quality_alerts"
    files = sorted(p.name for p in alert_dir.iterdir())
    assert files == sorted(
        [f"{result.files[s]}.{ext}" for s in result.alert_files for ext in ("csv", "json")]
        + ["index.csv"]
    )
    with duckdb.connect(str(pipeline_run.serving), read_only=True) as con:
        flagged = {
            r[0]
            for r in con.execute(
                "select supplier_id from marts.sig_quality_alerts where subject_level = 'supplier'"
            ).fetchall()
        }
        keys = {
            r[0] for r in con.execute("select customer_key from marts.dim_customers").fetchall()
        }
    assert flagged <= set(result.alert_files)
    ids = [
        r[0]
        for r in duckdb.sql(
            f"select customer_id from read_csv('{pipeline_run.landing}/shop/customers.csv')"
        ).fetchall()
    ]
    assert customer_key(ids[0]) in keys  # the hash the test looks for is the warehouse's
    for path in [*alert_dir.iterdir(), tmp_path / "review_queue.csv"]:
        text = path.read_text(encoding="utf-8")
        header = next(csv.reader([text.splitlines()[0]])) if path.suffix == ".csv" else []
        assert not [c for c in header if "customer" in c and c not in ALLOWED_CUSTOMER_COLUMNS]
        assert "customer_key" not in text
        assert "@" not in text
        for key in keys:
            assert key not in text
        for customer_id in ids[:2000]:
            assert f",{customer_id}," not in text and f'"{customer_id}"' not in text
