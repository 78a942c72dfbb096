"""Every page renders on the demo shop (Streamlit AppTest), and the overview's headline
figures equal the same figures computed directly from the core marts with SQL."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta

import duckdb
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from tests.dashboard.conftest import APP, PAGES
from tests.integration.test_loyalty_and_outcomes import OUTCOMES, _outcome, _period_end, _ts
from tests.integration.test_loyalty_and_outcomes import expected_orders as expected_loyalty
from tests.integration.test_return_costs import (
    STATUS_MAP,
    _period_start,
    _rows,
    expected_return_lines,
    expected_sales,
    rolled_up,
)

pytestmark = pytest.mark.integration

SIGNAL_PAGES = ("quality", "customers", "interventions", "planning", "behaviour", "review_queue")


def _app() -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=30)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _text(at: AppTest) -> str:
    parts = [
        e.value
        for kind in ("markdown", "caption", "info", "warning", "error", "success")
        for e in at.get(kind)
        if isinstance(getattr(e, "value", None), str)
    ]
    parts += [t.value for t in at.title] + [h.value for h in at.subheader]
    return "\n".join(parts)


def _metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def _buttons(at: AppTest) -> list:
    return list(at.get("download_button"))


@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders_without_exception(serving_env, page):
    at = _app()
    if page != "overview":
        at.switch_page(f"views/{page}.py").run()
    assert not at.exception, [e.value for e in at.exception]
    text = _text(at)
    assert "Published " in text  # every page says when the data was published
    assert "quality gates" in text
    if page in ("overview",):
        assert len(at.get("vega_lite_chart")) >= 6
        assert "What returns cost, by component" in {h.value for h in at.subheader}
        assert "return_costs.csv" in {b.proto.label.removeprefix("Download ") for b in _buttons(at)}
    if page == "customers":
        headers = {h.value for h in at.subheader}
        assert {
            "The most costly customers",
            "Keep-it advice",
            "Loyalty after a return",
            "Outcome mix over time",
        } <= headers
        assert len(at.get("vega_lite_chart")) >= 4
    if page == "interventions":
        assert "What changed, when, and what it did" in {h.value for h in at.subheader}
    if page == "data_health":
        assert _metrics(at)["Gate suites failed"] == "0"
        headers = {h.value for h in at.subheader}
        assert {
            "Referential integrity",
            "Completeness of returns per order month",
            "Open, closed and stale returns",
        } <= headers
        assert "Landing files not loaded" in headers
    if page in SIGNAL_PAGES and "not yet available" not in text:
        assert at.get("vega_lite_chart") or at.dataframe


def _independent_headline(serving) -> dict[str, float]:
    """The latest mature order week's figures, from the core marts, not the KPI marts."""
    sql = """
    with as_of as (
        select greatest(
            (select max(ordered_date) from marts.fct_order_lines),
            (select max(requested_date) from marts.fct_returns)
        ) as d
    ),
    weeks as (
        select distinct cast(date_trunc('week', ordered_date) as date) as w
        from marts.fct_order_lines
    ),
    -- mature: week end + 1 day + 7 days delivery slack + 30-day return window <= as-of date
    latest as (select max(w) as w from weeks, as_of where w + 6 + 1 + 7 + 30 <= as_of.d),
    lines as (
        select l.* from marts.fct_order_lines as l, latest
        where cast(date_trunc('week', l.ordered_date) as date) = latest.w
    ),
    rets as (
        select r.* from marts.fct_returns as r, latest
        where cast(date_trunc('week', r.requested_date) as date) = latest.w
    )
    select
        (select w from latest) as week,
        sum(returned_quantity) / sum(quantity) as units_rate,
        sum(refunded_eur) / sum(line_amount_eur) as value_rate,
        count(distinct order_id) filter (where has_return) / count(distinct order_id)
            as orders_rate,
        sum(line_amount_eur) as gross,
        sum(refunded_eur) as refunded,
        sum(quantity) as units_sold,
        sum(returned_quantity) as units_returned,
        (select avg(nps_points) from marts.fct_nps_responses
         where order_id in (select order_id from lines)) as nps,
        (select sum(returned_value_eur) filter (where resolution in ('exchange', 'store_credit'))
            / sum(returned_value_eur) from rets) as retained,
        (select sum(returned_value_eur) from rets) as returned_value,
        (select quantile_cont(hours_requested_to_refunded, 0.5) / 24 from rets) as median_days,
        (select quantile_cont(hours_requested_to_refunded, 0.9) / 24 from rets) as p90_days
    from lines
    """
    with duckdb.connect(str(serving), read_only=True) as con:
        cur = con.execute(sql)
        names = [d[0] for d in cur.description]
        return dict(zip(names, cur.fetchall()[0], strict=True))


def _independent_costs(pipeline_run, week) -> dict:
    """The headline week's cost of returns and net margin after returns, recomputed from the
    landing files and the cost seed (tests/integration/test_return_costs.py's helpers)."""
    landing = pipeline_run.landing
    rows = rolled_up(expected_sales(landing), expected_return_lines(landing), "week", "all")
    return rows[(week, "all")]


def test_overview_headline_equals_sql_on_the_serving_db(serving_env, pipeline_run):
    expected = _independent_headline(serving_env)
    costs = _independent_costs(pipeline_run, expected["week"])
    at = _app()
    iso = expected["week"].isocalendar()
    assert any(
        f"Latest mature week: {iso.year}-W{iso.week:02d}" in h.value for h in at.subheader
    ), [h.value for h in at.subheader]
    shown = _metrics(at)

    def pct(x):
        return f"{float(x) * 100:.1f}%"

    def eur(x):
        return f"€ {float(x):,.0f}"

    assert shown["Return rate (units)"] == pct(expected["units_rate"])
    assert shown["Return rate (value)"] == pct(expected["value_rate"])
    assert shown["Return rate (orders)"] == pct(expected["orders_rate"])
    assert shown["Gross revenue"] == eur(expected["gross"])
    assert shown["Refunded"] == eur(expected["refunded"])
    assert shown["NPS of the cohort"] == f"{float(expected['nps']):,.1f}"
    assert shown["Units sold"] == f"{int(expected['units_sold']):,}"
    assert shown["Units returned"] == f"{int(expected['units_returned']):,}"
    assert shown["Revenue retained"] == pct(expected["retained"])
    assert shown["Returned value"] == eur(expected["returned_value"])
    assert shown["Median days to refund"] == f"{expected['median_days']:.1f}"
    assert shown["p90 days to refund"] == f"{expected['p90_days']:.1f}"
    # what the cohort's returns cost and the margin left after them, from the landing files
    assert costs["return_lines"] > 0 and costs["cost_of_returns_eur"] > 0
    assert shown["Cost of returns"] == eur(costs["cost_of_returns_eur"])
    assert shown["Cost per return line"] == (
        f"€ {float(costs['cost_of_returns_eur'] / costs['return_lines']):,.2f}"
    )
    assert shown["Margin lost to returns"] == eur(costs["margin_lost_to_returns_eur"])
    assert shown["Net margin after returns"] == pct(
        costs["net_margin_after_returns_eur"] / costs["gross_revenue_eur"]
    )
    # the cost figures sit beside the return rates: the second row of the headline
    labels = [m.label for m in at.metric]
    assert labels[4:8] == [
        "Cost of returns",
        "Cost per return line",
        "Net margin after returns",
        "Margin lost to returns",
    ]


def test_a_category_filter_cuts_the_headline_to_that_category(serving_env):
    at = _app()
    with duckdb.connect(str(serving_env), read_only=True) as con:
        category = con.execute(
            "select category from marts.fct_order_lines group by 1 order by count(*) desc limit 1"
        ).fetchall()[0][0]
    at.sidebar.selectbox(key="f_category").set_value(category).run()
    assert not at.exception
    head = next(h.value for h in at.subheader if h.value.startswith("Latest mature week"))
    assert head.endswith(f"category {category}")
    week = head.split(": ")[1].split(" ")[0]
    year, wk = int(week[:4]), int(week[6:])
    with duckdb.connect(str(serving_env), read_only=True) as con:
        units, returned = con.execute(
            "select sum(quantity), sum(returned_quantity) from marts.fct_order_lines "
            "where category = ? and isoyear(ordered_date) = ? and week(ordered_date) = ?",
            [category, year, wk],
        ).fetchall()[0]
    assert _metrics(at)["Return rate (units)"] == f"{returned / units * 100:.1f}%"


def test_before_any_publish_every_page_says_to_run_make_run(tmp_path, monkeypatch):
    monkeypatch.setenv("RETURNLENS_SERVING", str(tmp_path / "nothing" / "serving.duckdb"))
    at = _app()
    for page in PAGES:
        if page != "overview":
            at.switch_page(f"views/{page}.py").run()
        assert not at.exception, (page, [e.value for e in at.exception])
        assert "make run" in _text(at), page


def test_a_page_whose_mart_is_missing_says_not_yet_available(serving_copy):
    with duckdb.connect(str(serving_copy)) as con:
        for (name,) in con.execute(
            "select table_name from duckdb_tables() where schema_name = 'marts' "
            "and (table_name like 'sig_%' or table_name = 'rpt_load_audit')"
        ).fetchall():
            con.execute(f'drop table marts."{name}"')
    at = _app()
    for page in SIGNAL_PAGES:
        at.switch_page(f"views/{page}.py").run()
        assert not at.exception, (page, [e.value for e in at.exception])
        text = _text(at)
        assert "not yet available" in text and "make run" in text, page


def test_a_swapped_serving_file_is_read_on_the_next_rerun(serving_copy):
    """os.replace of the serving file between two reruns of one session: no restart, no error,
    the new publish shows (the cache is keyed on the file's stamp)."""
    import os
    import shutil

    at = _app()
    assert "Published " in _text(at)
    new = serving_copy.with_name("next.duckdb")
    shutil.copy2(serving_copy, new)
    with duckdb.connect(str(new)) as con:
        con.execute("update marts.publish_log set published_at = timestamp '2031-01-02 03:04:05'")
    os.replace(new, serving_copy)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert "Published 2031-01-02 03:04:05 UTC" in _text(at)


def test_defect11_demo_data_carries_a_banner_on_every_page(serving_copy):
    """The pipeline run of the tests publishes the generated demo shop: every page says so; a
    publish of a shop's own data (is_demo false) and one of an older pipeline (no column) not."""
    with duckdb.connect(str(serving_copy), read_only=True) as con:
        assert con.execute("select is_demo from marts.publish_log").fetchall() == [(True,)]
    at = _app()
    for page in PAGES:
        if page != "overview":
            at.switch_page(f"views/{page}.py").run()
        assert not at.exception, (page, [e.value for e in at.exception])
        assert "Demo data" in " ".join(w.value for w in at.warning), page
    for change in (
        "update marts.publish_log set is_demo = false",
        "alter table marts.publish_log drop column is_demo",
    ):
        with duckdb.connect(str(serving_copy)) as con:
            con.execute(change)
            con.execute("update marts.publish_log set published_at = now()::timestamp")
        at = _app()
        assert not at.exception, [e.value for e in at.exception]
        assert "Published " in _text(at)
        assert "Demo data" not in _text(at), change


def test_quality_shows_the_cost_behind_each_alert(serving_env):
    with duckdb.connect(str(serving_env), read_only=True) as con:
        want = dict(
            con.execute(
                "select alert_id, rule_cost_of_returns_eur from marts.sig_quality_alerts"
            ).fetchall()
        )
    at = _app()
    at.switch_page("views/quality.py").run()
    assert not at.exception, [e.value for e in at.exception]
    table = next(d.value for d in at.dataframe if "alert_id" in d.value.columns)
    assert {"cost_of_returns_eur", "margin_lost_to_returns_eur"} <= set(table.columns)
    got = dict(zip(table["alert_id"], table["rule_cost_of_returns_eur"], strict=True))
    assert got == {k: float(v) for k, v in want.items()} or got == want
    assert "The cost behind each alert" in _text(at)


def test_customers_page_shows_the_most_costly_customers_and_keep_it_advice(serving_env):
    """The page's figures equal direct sums over the published marts; customers appear by
    their hash only (no personal data column)."""
    with duckdb.connect(str(serving_env), read_only=True) as con:
        customers, total, top50, risky = con.execute(
            "select count(*), sum(cost_of_returns_eur), "
            "sum(cost_of_returns_eur) filter (where cost_rank <= 50), "
            "count(*) filter (where is_risky_customer) from marts.kpi_return_costs_by_customer"
        ).fetchall()[0]
        advised, saving, left_out = con.execute(
            "select count(*), sum(saving_if_applied_eur), sum(risky_customer_lines) "
            "from marts.sig_keep_it_advice where reason = 'all' and is_keep_it_advised"
        ).fetchall()[0]
        first = con.execute(
            "select customer_key from marts.kpi_return_costs_by_customer where cost_rank = 1"
        ).fetchall()[0][0]
    assert advised > 0, "the demo shop plants products where keep-it is cheaper"
    at = _app()
    at.switch_page("views/customers.py").run()
    assert not at.exception, [e.value for e in at.exception]
    shown = _metrics(at)
    assert shown["Customers with orders"] == f"{customers:,}"
    assert shown["Cost of their returns"] == f"€ {float(total):,.0f}"
    assert shown["Share of the top 50"] == f"{float(top50) / float(total) * 100:.1f}%"
    assert shown["Customers flagged risky"] == f"{risky:,}"
    assert shown["Products advised"] == f"{advised:,}"
    assert shown["Saving had it been applied"] == f"€ {float(saving):,.0f}"
    assert shown["Lines of risky customers left out"] == f"{int(left_out or 0):,}"
    top = next(d.value for d in at.dataframe if "cost_rank" in d.value.columns)
    assert list(top["cost_rank"])[:3] == [1, 2, 3] and top.iloc[0]["customer_key"] == first
    personal = ("email", "name", "phone", "address", "customer_id")
    for frame in at.dataframe:
        assert not [c for c in frame.value.columns if any(p in c for p in personal)]
    labels = {b.proto.label for b in _buttons(at)}
    assert {
        "Download most_costly_customers.csv",
        "Download keep_it_advice.csv",
        "Download keep_it_advice_by_reason.csv",
    } <= labels


def _frame(at: AppTest, column: str):
    return next(d.value for d in at.dataframe if column in d.value.columns)


def test_customers_page_shows_loyalty_and_outcome_mix_as_the_landing_files_say(
    pipeline_run, serving_env
):
    """Loyalty by return experience (mature order months) and the monthly outcome mix equal a
    recomputation from the landing files (Python csv, docs/kpis.md), not a re-read of the
    marts. The one warehouse input is each return line's standard reason (for the reason
    segments the recomputation builds; this page shows none of them)."""
    with duckdb.connect(str(serving_env), read_only=True) as con:
        reasons = {
            (rma, line): reason
            for rma, line, reason in con.execute(
                "select rma_id, order_line_id, reason from marts.fct_returns"
            ).fetchall()
        }
    orders, as_of = expected_loyalty(pipeline_run.landing, reasons)
    # mature order month: its last day + 181 days <= as-of date
    mature = [
        o
        for o in orders
        if _period_end("month", _period_start("month", o["ordered_date"])) + timedelta(days=181)
        <= as_of
    ]
    assert mature, "the demo shop has mature order months"
    want: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0, 0])
    for o in mature:
        for segment in ("all", "has_return", "refund_speed", "outcome"):
            counts = want[(segment, o[segment])]
            counts[0] += 1
            counts[1] += o["repeat_90d"]
            counts[2] += o["repeat_180d"]

    at = _app()
    at.switch_page("views/customers.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert "mature order months only" in _text(at)
    shown = _frame(at, "repeat_purchase_rate_90d")
    got = {
        (r.segment_type, r.segment_value): [
            r.orders,
            r.orders_with_repeat_90d,
            r.orders_with_repeat_180d,
        ]
        for r in shown.itertuples()
    }
    assert got == dict(want)
    for r in shown.itertuples():
        assert r.repeat_purchase_rate_90d == pytest.approx(
            r.orders_with_repeat_90d / r.orders, rel=1e-12
        )
    metrics = _metrics(at)
    for days, col in (("90", 1), ("180", 2)):
        for value, label in (("with_return", "with a return"), ("no_return", "no return")):
            n, repeats = want[("has_return", value)][0], want[("has_return", value)][col]
            assert metrics[f"Repeat within {days} days, {label}"] == f"{repeats / n * 100:.1f}%"

    states = {r["status"]: r["state"] for r in _rows([STATUS_MAP])}
    mix: dict[date, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for r in _rows(list((pipeline_run.landing / "returns").glob("returns_*.csv"))):
        row = mix[_period_start("month", _ts(r["requested_at"]).date())]
        row["return_lines"] += 1
        row[f"{_outcome(r, states)}_lines"] += 1
    outcomes = _frame(at, "refund_share")  # default: months, all returns
    assert set(outcomes["slice_type"]) == {"all"}
    assert [d.date() for d in pd.to_datetime(outcomes["period_start_date"])] == sorted(mix)
    for r in outcomes.to_dict("records"):
        expected = mix[pd.Timestamp(r["period_start_date"]).date()]
        assert r["return_lines"] == expected["return_lines"]
        for outcome in OUTCOMES:
            assert r[f"{outcome}_lines"] == expected[f"{outcome}_lines"], outcome
            assert r[f"{outcome}_share"] == pytest.approx(
                expected[f"{outcome}_lines"] / expected["return_lines"], rel=1e-12
            )
    labels = {b.proto.label for b in _buttons(at)}
    assert {"Download loyalty_after_returns.csv", "Download return_outcomes.csv"} <= labels


def test_interventions_page_shows_each_effect_with_its_interval_and_maturity(serving_env):
    """Every intervention appears with what changed, when and where; estimated effects with
    their interval in percentage points (from the mart's shares), the others as too early to
    tell with the date the estimate becomes final; counts equal direct SQL on the mart; no
    planted truth on the page."""
    with duckdb.connect(str(serving_env), read_only=True) as con:
        rows = con.execute(
            "select intervention_id, metric, state, effect, effect_lower_95, effect_upper_95, "
            "mature_on_date from marts.sig_intervention_effects"
        ).fetchall()
    assert rows, "the demo shop plants interventions"
    rate = [r for r in rows if r[1] == "return_rate"]
    at = _app()
    at.switch_page("views/interventions.py").run()
    assert not at.exception, [e.value for e in at.exception]
    metrics = _metrics(at)
    assert metrics["Interventions"] == f"{len({r[0] for r in rate}):,}"
    assert metrics["Effect estimated"] == f"{sum(r[2] == 'estimated' for r in rate):,}"
    assert (
        metrics["Fewer returns (interval below 0)"]
        == f"{sum(r[2] == 'estimated' and r[5] < 0 for r in rate):,}"
    )
    assert metrics["Too early to tell"] == f"{sum(r[2] == 'too_early_to_tell' for r in rate):,}"
    table = _frame(at, "effect_in_words")
    words = {(r.intervention_id, r.metric): r.effect_in_words for r in table.itertuples()}
    assert set(words) == {(r[0], r[1]) for r in rows}
    for iid, metric, state, effect, low, high, mature_on in rows:
        if state == "estimated":
            assert words[(iid, metric)].startswith(
                f"{100 * effect:+.1f} pp [{100 * low:+.1f}, {100 * high:+.1f}]"
            )
            assert ("fewer returns" in words[(iid, metric)]) == (high < 0)
        elif state == "too_early_to_tell":
            assert words[(iid, metric)] == f"too early to tell (final from {mature_on:%Y-%m-%d})"
    if any(r[2] == "estimated" for r in rate):
        assert at.get("vega_lite_chart")
    for frame in at.dataframe:
        assert not [c for c in frame.value.columns if "truth" in c or "planted" in c]
    assert "truth" not in _text(at).lower()
    assert "Download intervention_effects.csv" in {b.proto.label for b in _buttons(at)}
