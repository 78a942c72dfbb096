"""Optional sources: a shop that delivers only orders, order lines, products, customers and
returns publishes every mart that does not need web events, NPS surveys, demand forecasts,
suppliers or production batches (suppliers are then known by their ids on the products); the marts that do are published empty and `rpt_source_availability` says
which source is missing, so no reader mistakes an empty mart for data.

One real pipeline run (Dagster in-process, dbt, GX gates, publish) on a small generated shop in
the shape of a shop profile the demo never was (profiles/example_b2b.yml: six other categories,
Nordic countries, phone orders, SEK, bulk orders beyond the demo's limits, closed Sundays) with
every optional source absent. The same run shows that such a shop loads with zero quarantined
rows and publishes. Expected figures are computed from the landing CSV files with Python's csv
module and from the profile read with yaml, never from the pipeline's output.
"""

from __future__ import annotations

import csv
from pathlib import Path

import duckdb
import pytest
import yaml

from returnlens.config import PROJECT_ROOT

pytestmark = [pytest.mark.integration, pytest.mark.slow]


# mart -> the optional sources it cannot be built without (what the contract docs promise)
NEEDS = {
    "sig_purchase_journeys": {"web"},
    "sig_return_rate_by_behaviour_band": {"web"},
    "fct_nps_responses": {"surveys"},
    "kpi_nps": {"surveys"},
    "sig_forecast_backtest": {"planning"},
    "sig_return_aware_forecasts": {"planning"},
    "dim_batches": {"purchasing"},
    "sig_batch_quality": {"purchasing"},
    "sig_intervention_effects": {"interventions"},
}
# marts that need none of the missing sources and must hold rows on any shop with orders
HAVE_ROWS = (
    "fct_order_lines",
    "fct_returns",
    "dim_customers",
    "dim_products",
    "dim_suppliers",
    "dim_dates",
    "kpi_reason_mix",
    "kpi_returns_by_request_date",
    "kpi_weekly_returns_by_category",
    "kpi_return_rates_by_order_cohort",
    "kpi_return_processing_times",
    "kpi_return_costs",
    "sig_product_quality",
    "sig_supplier_quality",
    "sig_customer_return_risk",
)


def _rows(files: list[Path]) -> list[dict[str, str]]:
    out: list[dict[str, str]] = []
    for f in files:
        with f.open(encoding="utf-8", newline="") as fh:
            out.extend(csv.DictReader(fh))
    return out


def test_defect07_shop_without_optional_sources_publishes_and_says_what_is_missing(
    private_data_dir,
):
    from returnlens.config import settings
    from returnlens.demo.generator import generate
    from returnlens.pipeline import run_main_job

    cfg = settings()
    landing = cfg.landing_dir
    profile = yaml.safe_load((PROJECT_ROOT / "profiles" / "example_b2b.yml").read_text())
    profile["sources"] = {
        "shop": "required",
        "returns": "required",
        **dict.fromkeys(
            ("web", "surveys", "planning", "purchasing", "interventions", "exchange_rates"),
            "absent",
        ),
    }
    profile_file = cfg.data_dir / "only_core_sources.yml"
    profile_file.parent.mkdir(parents=True, exist_ok=True)
    profile_file.write_text(yaml.safe_dump(profile), encoding="utf-8")
    generate(landing, seed=3, scale=0.03, profile=profile_file)
    assert sorted(p.name for p in landing.iterdir() if p.is_dir()) == ["returns", "shop"]
    products = _rows(sorted((landing / "shop").glob("products*.csv")))
    supplier_ids = {r["supplier_id"] for r in products}

    lines = _rows(sorted((landing / "shop").glob("order_lines_*.csv")))
    returns = _rows(sorted((landing / "returns").glob("returns_*.csv")))
    assert lines and returns
    expected_quantity = sum(int(r["quantity"]) for r in lines)
    known_lines = {r["order_line_id"] for r in lines}
    expected_returned_lines = len({r["order_line_id"] for r in returns} & known_lines)

    orders = _rows(sorted((landing / "shop").glob("orders_*.csv")))
    beyond_demo_limits = sum(1 for o in orders if float(o["order_total_eur"]) > 50000)
    assert beyond_demo_limits > 0 and max(int(r["quantity"]) for r in lines) > 50

    result = run_main_job()
    assert result.success, "a shop without the optional sources did not run through"
    assert cfg.serving.exists(), "nothing was published"

    # a shop the demo never was: every row loaded, nothing quarantined
    wh = duckdb.connect(str(cfg.warehouse), read_only=True)
    try:
        assert wh.execute("select count(*) from raw.quarantine_rows").fetchone()[0] == 0
        assert wh.execute("select count(*) from raw.quarantine_files").fetchone()[0] == 0
        assert wh.execute("select count(*) from raw.orders").fetchone()[0] == len(orders)
    finally:
        wh.close()

    con = duckdb.connect(str(cfg.serving), read_only=True)
    try:
        tables = {
            r[0] for r in con.execute("select table_name from information_schema.tables").fetchall()
        }
        for mart in HAVE_ROWS:
            assert mart in tables, f"{mart} was not published"
            n = con.execute(f"select count(*) from marts.{mart}").fetchone()[0]
            assert n > 0, f"{mart} needs no missing source but is empty"
        n_lines, quantity, returned = con.execute(
            "select count(*), sum(quantity), count(*) filter (where has_return)"
            " from marts.fct_order_lines"
        ).fetchone()
        assert n_lines == len(lines)
        assert quantity == expected_quantity
        assert returned == expected_returned_lines
        assert con.execute("select count(*) from marts.fct_returns").fetchone()[0] == len(returns)

        for mart in NEEDS:
            assert mart in tables, f"{mart} was not published (empty, with a status)"
            n = con.execute(f"select count(*) from marts.{mart}").fetchone()[0]
            assert n == 0, f"{mart} needs a missing source but holds {n} rows"

        inferred_suppliers = con.execute("select supplier_id from marts.dim_suppliers").fetchall()
        categories = {
            r[0] for r in con.execute("select category from marts.dim_products").fetchall()
        }
        assert categories == set(profile["values"]["category"]["closed"])
        countries = {
            r[0]
            for r in con.execute(
                "select distinct shipping_country_code from marts.fct_order_lines"
            ).fetchall()
        }
        assert countries <= set(profile["values"]["country"]["closed"]) and countries
        assert con.execute(
            "select shop_name, reporting_currency, return_window_days from marts.rpt_shop_profile"
        ).fetchall() == [(profile["shop"]["name"], "SEK", profile["return_window_days"])]
        unlisted = con.execute(
            "select count(*) from marts.rpt_profile_values where not is_listed"
        ).fetchone()[0]
        assert unlisted == 0
        status = con.execute(
            "select landing_source, entity, is_delivered, files, rows_loaded, marts_affected, message"
            " from marts.rpt_source_availability"
        ).fetchall()
    finally:
        con.close()

    by_entity = {r[1]: r for r in status}
    for entity in ("web_events", "nps_responses", "demand_forecasts", "production_batches"):
        source, _, delivered, files, rows, affected, message = by_entity[entity]
        assert delivered is False and files == 0 and rows == 0
        assert message == f"not available: no {entity.replace('_', ' ')} delivered"
        missing_marts = {m for m, srcs in NEEDS.items() if source in srcs}
        assert missing_marts <= set(affected.split(", ")), (entity, affected)
    assert by_entity["suppliers"][2:5] == (False, 0, 0)
    assert by_entity["suppliers"][6] == "not available: no suppliers delivered"
    assert {r[0] for r in inferred_suppliers} == supplier_ids  # known by the products' ids
    for entity in ("orders", "order_lines", "products", "customers", "returns"):
        assert by_entity[entity][2] is True
        assert by_entity[entity][4] > 0
    assert by_entity["order_lines"][4] == len(lines)

    # the dashboard shows the message instead of charts of empty marts
    from streamlit.testing.v1 import AppTest

    shown = {}
    for page in ("overview", "quality", "planning", "behaviour", "data_health"):
        at = AppTest.from_file(str(PROJECT_ROOT / "dashboard" / "app.py"), default_timeout=60)
        at.run()
        if page != "overview":
            at.switch_page(f"views/{page}.py").run()
        assert not at.exception, (page, [e.value for e in at.exception])
        shown[page] = (
            " ".join(e.value for e in at.info),
            len(at.get("vega_lite_chart")),
            {m.label: m.value for m in at.metric},
        )
    for page, entity in (("behaviour", "web events"), ("planning", "demand forecasts")):
        info, charts, _ = shown[page]
        assert f"Not available: no {entity} delivered" in info and charts == 0, page
    assert "Not available: no nps responses delivered" in shown["overview"][0]
    assert shown["overview"][1] >= 3  # the return charts are still drawn
    assert shown["overview"][2]["NPS of the cohort"] == "—"
    # money in the profile's reporting currency, not euros
    assert shown["overview"][2]["Gross revenue"].startswith("SEK "), shown["overview"][2]
    assert "Not available: no production batches delivered" in shown["quality"][0]
    assert shown["quality"][2]["Batch alerts"] == "—"
    for entity in ("web events", "nps responses", "demand forecasts", "production batches"):
        assert f"Not available: no {entity} delivered" in shown["data_health"][0]
