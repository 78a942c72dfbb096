"""The Dagster code location loads and wires ingest, dbt, checks, publish and automation."""

from __future__ import annotations

import dagster as dg
import pytest

from returnlens.ingest.contracts import ENTITIES, SOURCES

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def definitions():
    from orchestration.definitions import defs

    return defs()


def test_every_landing_entity_is_an_ingest_asset_keyed_like_its_dbt_source(definitions):
    graph = definitions.get_repository_def().asset_graph
    keys = {k.to_user_string() for k in graph.get_all_asset_keys()}
    for e in ENTITIES:
        assert f"raw/{e.name}" in keys
    # lineage: every staging model depends on its raw table
    staged = {
        k.to_user_string(): {p.to_user_string() for p in graph.get(k).parent_keys}
        for k in graph.get_all_asset_keys()
        if k.path[0] == "staging"
    }
    sources_with_staging = {
        p.split("/")[1] for parents in staged.values() for p in parents if p.startswith("raw/")
    }
    # and the change log (stg_loader__changed_orders) reads the loader's own bookkeeping
    assert sources_with_staging == {e.name for e in ENTITIES} | {
        "retracted_rows",
        "forgotten_customers",
    }
    # every source folder holds at least one entity, and every entity's folder is a source
    assert set(SOURCES) == {e.source for e in ENTITIES} and len(SOURCES) == 8


def test_each_platform_adapter_is_an_asset_group_loaded_before_its_raw_table(definitions):
    from returnlens.adapters import ADAPTERS, PLATFORM_TABLES

    graph = definitions.get_repository_def().asset_graph
    tables = [(p, a) for p, t in PLATFORM_TABLES.items() for a in t.values()]
    assert {a.entity.name for p, a in tables if p == "woocommerce"} == {
        "orders",
        "order_lines",
        "returns",
    }
    for platform, adapter in [*ADAPTERS.items(), *tables]:
        key = dg.AssetKey(["adapters", platform, adapter.entity.name])
        assert graph.get(key).group_name == f"adapter_{platform}"
        assert key in graph.get(dg.AssetKey(["raw", adapter.entity.name])).parent_keys
        assert key in graph.get(dg.AssetKey(["raw", "load_audit"])).parent_keys


def test_gx_suites_are_blocking_checks_and_publish_depends_on_the_marts(definitions):
    graph = definitions.get_repository_def().asset_graph
    checks = {c.name: c for c in graph.asset_check_keys}
    assert "gx_raw_returns" in checks
    assert "gx_kpi_weekly_returns_by_category" in checks
    for name in ("gx_raw_returns", "gx_kpi_weekly_returns_by_category"):
        assert graph.get_check_spec(checks[name]).blocking
    publish = graph.get(dg.AssetKey(["serving", "published_marts"]))
    assert dg.AssetKey(["marts", "kpi_weekly_returns_by_category"]) in publish.parent_keys


def test_main_job_schedule_and_sensor_exist(definitions):
    job = definitions.resolve_job_def("main")
    assert definitions.resolve_job_def("returns_alerts") is not None
    assert job.executor_def.name == "in_process"
    assert definitions.resolve_schedule_def("daily_main").cron_schedule == "0 6 * * *"
    assert definitions.resolve_sensor_def("landing_files_sensor") is not None


def test_the_returns_alerts_job_selects_the_path_from_returns_to_the_alerts(definitions):
    """What the alert job builds and gates (issue 16), named by hand: the returns loads, the
    models between source returns and sig_quality_alerts, their gates; no KPI mart, no
    incremental journeys, no orders load."""
    job = definitions.resolve_job_def("returns_alerts")
    assert job.executor_def.name == "in_process"
    layer = job.asset_layer
    keys = {k.to_user_string() for k in layer.selected_asset_keys}
    assert {
        "raw/returns",
        "adapters/bol/returns",
        "adapters/shopify/returns",
        "staging/stg_returns__return_lines",
        # the change log, built before the facts it reads the previous build of (review H1)
        "staging/stg_loader__changed_orders",
        "marts/fct_returns",
        "marts/sig_quality_alerts",
        "serving/published_marts",
        "exports/signal_exports",
    } <= keys
    assert not keys & {
        "raw/orders",
        "raw/order_lines",
        "adapters/shopify/orders",
        "marts/kpi_weekly_returns_by_category",
        "marts/sig_purchase_journeys",
        "intermediate/int_web_events_aggregated_to_order_lines",
        "marts/sig_review_queue",
    }
    # 23 models (dbt ls of the selection): since 2026-11-29 the keyword rules are macros (three
    # models fewer) and stg_shop__orders reads the change log (one more)
    assert len([k for k in keys if k.split("/")[0] in ("staging", "intermediate", "marts")]) == 23
    checks = {c.name for c in layer.asset_graph.asset_check_keys}
    assert {"gx_raw_returns", "gx_sig_quality_alerts", "gx_fct_returns"} <= checks
    assert not checks & {"gx_raw_orders", "gx_kpi_weekly_returns_by_category"}


def test_shopify_loads_each_raw_table_in_its_asset_group_before_the_raw_asset(definitions):
    from returnlens.adapters import PLATFORM_TABLES

    graph = definitions.get_repository_def().asset_graph
    tables = PLATFORM_TABLES["shopify"]
    assert set(tables) == {"orders", "order_lines", "products", "returns", "customers"}
    for name in tables:
        key = dg.AssetKey(["adapters", "shopify", name])
        assert graph.get(key).group_name == "adapter_shopify"
        assert key in graph.get(dg.AssetKey(["raw", name])).parent_keys
        assert key in graph.get(dg.AssetKey(["raw", "load_audit"])).parent_keys


def test_the_dbt_resource_starts_dbt_without_a_version_probe_or_an_adapter(definitions):
    """dagster-dbt would run `dbt --version` and build a dbt adapter in this process on every
    `cli()` call (3 s and 1.7 s of CPU per run, issue 16); the step uses neither: the version
    is the installed dbt-core's, and the invocation carries no adapter."""
    import importlib.metadata

    from orchestration.defs.transform.dbt import dbt_project

    resource = definitions.resources["dbt"]
    assert str(resource._cli_version) == importlib.metadata.version("dbt-core")
    invocation = resource.cli(["--version"], manifest=dbt_project.manifest_path)
    assert invocation.wait().is_successful()
    assert invocation.adapter is None
