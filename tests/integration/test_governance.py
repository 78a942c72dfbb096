"""dbt governance: what is published is exactly the public marts; the dashboard's pages and the
exports are exposures in the dbt project with the marts they read."""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import duckdb
import pytest

from returnlens.config import PROJECT_ROOT
from returnlens.dbt_runner import dbt_executable
from returnlens.publish import publish

pytestmark = pytest.mark.integration

PUBLISH_TABLES = {"publish_log", "publish_gate_results"}


@pytest.fixture(scope="module")
def manifest(tmp_path_factory) -> dict:
    """The project as dbt parses it now (dbt's own output, not ours; a fresh parse, so a
    manifest left in target/ by an older checkout cannot hide a change)."""
    target = tmp_path_factory.mktemp("dbt_target")
    subprocess.run(
        [dbt_executable(), "parse", "--quiet", "--target-path", str(target)],
        cwd=PROJECT_ROOT,
        check=True,
        env={**os.environ, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"},
    )
    return json.loads((target / "manifest.json").read_text())


def _marts_files() -> set[str]:
    return {p.stem for p in (PROJECT_ROOT / "models" / "marts").rglob("*.sql")}


def test_publish_copies_only_the_models_it_is_given(tmp_path):
    warehouse, serving = tmp_path / "warehouse.duckdb", tmp_path / "serving.duckdb"
    with duckdb.connect(str(warehouse)) as con:
        con.execute("create schema marts")
        con.execute("create table marts.public_mart as select 1 as id")
        con.execute("create table marts.scratch_table as select 2 as id")
    result = publish(warehouse, serving, parquet=False, is_demo=False, models=["public_mart"])
    assert set(result.tables) == {"public_mart"}
    with duckdb.connect(str(serving), read_only=True) as con:
        tables = {
            r[0]
            for r in con.execute(
                "select table_name from duckdb_tables() where schema_name = 'marts'"
            ).fetchall()
        }
    assert tables == {"public_mart"} | PUBLISH_TABLES


def test_publish_names_a_public_model_missing_from_the_warehouse(tmp_path):
    warehouse, serving = tmp_path / "warehouse.duckdb", tmp_path / "serving.duckdb"
    with duckdb.connect(str(warehouse)) as con:
        con.execute("create schema marts")
        con.execute("create table marts.public_mart as select 1 as id")
    with pytest.raises(RuntimeError, match=r"kpi_new_mart.*make run"):
        publish(
            warehouse, serving, parquet=False, is_demo=False, models=["public_mart", "kpi_new_mart"]
        )
    assert not serving.exists()


def test_every_mart_is_public_and_the_serving_database_holds_exactly_them(pipeline_run, manifest):
    models = [n for n in manifest["nodes"].values() if n["resource_type"] == "model"]
    public = {n["name"] for n in models if n["access"] == "public"}
    assert public == _marts_files()
    # everything else is protected or private, and every model has a group and an owner
    assert {n["access"] for n in models if n["name"] not in public} <= {"protected", "private"}
    groups = {g["name"]: g for g in manifest["groups"].values()}
    for node in models:
        assert node["group"] in groups, node["name"]
        assert node["config"]["meta"]["owner"] == groups[node["group"]]["owner"]["name"]
    with duckdb.connect(str(pipeline_run.serving), read_only=True) as con:
        served = {
            r[0]
            for r in con.execute(
                "select table_name from duckdb_tables() where schema_name = 'marts'"
            ).fetchall()
        }
    assert served == public | PUBLISH_TABLES


# ------------------------------------------------------------------ exposures (pages, exports)

DASHBOARD = PROJECT_ROOT / "dashboard"


def _functions(module: Path) -> dict[str, ast.FunctionDef]:
    return {
        node.name: node
        for node in ast.parse(module.read_text()).body
        if isinstance(node, ast.FunctionDef)
    }


def _named(source: str, marts: set[str]) -> set[str]:
    """Public marts a piece of source names (in SQL text, in a NEEDS tuple, as `marts.x`)."""
    return {word for word in re.findall(r"[a-z_][a-z0-9_]*", source) if word in marts}


def _helper_reads(module: Path, prefix: str, marts: set[str]) -> dict[str, set[str]]:
    """For each function of a helper module (dashboard/ui.py, data.py): the public marts it
    reads itself or through the module's other functions it calls."""
    text = module.read_text()
    funcs = _functions(module)
    own = {name: _named(ast.get_source_segment(text, f) or "", marts) for name, f in funcs.items()}
    calls = {
        name: {
            n.func.id
            for n in ast.walk(f)
            if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id in funcs
        }
        | {
            n.func.attr
            for n in ast.walk(f)
            if isinstance(n, ast.Call)
            and isinstance(n.func, ast.Attribute)
            and isinstance(n.func.value, ast.Name)
            and n.func.value.id == prefix
        }
        for name, f in funcs.items()
    }
    reads = {name: set(own[name]) for name in funcs}
    changed = True
    while changed:  # closure over calls inside the module
        changed = False
        for name in funcs:
            for callee in calls[name] & funcs.keys():
                if not reads[callee] <= reads[name]:
                    reads[name] |= reads[callee]
                    changed = True
    return reads


def _page_reads(view: Path, marts: set[str]) -> set[str]:
    """The public marts a dashboard page reads: named in its view module, or read by the ui.*
    and data.* helpers it calls."""
    helpers = {
        "ui": _helper_reads(DASHBOARD / "ui.py", "ui", marts),
        "data": _helper_reads(DASHBOARD / "data.py", "data", marts),
    }
    text = view.read_text()
    reads = _named(text, marts)
    for node in ast.walk(ast.parse(text)):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id in helpers
        ):
            reads |= helpers[node.func.value.id].get(node.func.attr, set())
    return reads


def _dashboard_pages() -> dict[str, str]:
    """view file -> page title, from the PAGES list of dashboard/app.py."""
    tree = ast.parse((DASHBOARD / "app.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", None) == "PAGES":
            return {elt.elts[0].value: elt.elts[1].value for elt in node.value.elts}
    raise AssertionError("dashboard/app.py has no PAGES list")


def _exposures(manifest: dict) -> dict[str, dict]:
    return {e["name"]: e for e in manifest["exposures"].values()}


def _depends(exposure: dict) -> set[str]:
    return {node.split(".")[-1] for node in exposure["depends_on"]["nodes"]}


def test_every_dashboard_page_is_an_exposure_with_the_marts_it_reads(manifest):
    public = {
        n["name"]
        for n in manifest["nodes"].values()
        if n["resource_type"] == "model" and n["access"] == "public"
    }
    pages = _dashboard_pages()
    by_page = {
        e["meta"].get("page"): e for e in _exposures(manifest).values() if e["type"] == "dashboard"
    }
    assert set(by_page) == {f"dashboard/views/{file}" for file in pages}
    for file, title in pages.items():
        exposure = by_page[f"dashboard/views/{file}"]
        assert exposure["label"] == f"Dashboard: {title}"
        reads = _page_reads(DASHBOARD / "views" / file, public)
        assert reads, file
        assert _depends(exposure) == reads, file
        assert exposure["owner"]["name"]


def test_every_export_is_an_exposure_with_the_marts_it_reads(manifest):
    public = {
        n["name"]
        for n in manifest["nodes"].values()
        if n["resource_type"] == "model" and n["access"] == "public"
    }
    exports = [e for e in _exposures(manifest).values() if e["type"] == "application"]
    reads = _named((PROJECT_ROOT / "returnlens" / "exports.py").read_text(), public)
    assert set().union(*(_depends(e) for e in exports)) == reads
    # each export names the file or folder it writes, which the exporter documents
    exporter_doc = ast.get_docstring(
        ast.parse((PROJECT_ROOT / "returnlens/exports.py").read_text())
    )
    for exposure in exports:
        assert exposure["meta"]["path"] in exporter_doc, exposure["name"]
        assert exposure["owner"]["name"]


# ------------------------------------------------------- dbt tests gate the dbt step (no checks)


def test_a_failing_dbt_test_fails_the_dbt_step_and_is_named(pipeline_run, tmp_path, monkeypatch):
    """dbt's tests are not Dagster asset checks (one event each made the event storage the
    largest fixed cost of a run), but they still gate the build: a raw order delivered twice
    under one id fails dbt's uniqueness test on staging and the step fails naming the test.
    The second copy has no channel: the model's one `not_null_columns` test (all its not-null
    columns in one dbt node) fails, and the message names the model, the column and the count."""
    import dagster as dg

    from tests.integration.pipeline_env import materialize_dbt_step, step_failure

    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copy(pipeline_run.warehouse, warehouse)
    with duckdb.connect(str(warehouse)) as con:
        # stamped as the loader stamps a new row (stg_shop__orders builds the orders the change
        # log lists: rows loaded since its last build)
        con.execute(
            "insert into raw.orders select * replace (null as channel, "
            "cast(timezone('UTC', now()) as timestamp) as _loaded_at) from raw.orders limit 1"
        )
    monkeypatch.setenv("RETURNLENS_WAREHOUSE", str(warehouse))
    monkeypatch.setenv("RETURNLENS_LANDING_DIR", str(pipeline_run.landing))
    # the views and their tests only
    result, _ = materialize_dbt_step(dg.AssetSelection.groups("staging"))
    assert not result.success
    message = step_failure(result)
    assert "unique_stg_shop__orders_order_id: fail" in message
    assert "test not_null_columns_stg_shop__orders: fail" in message
    # the model's own null count, read from the table dbt built (the copy of the order fans
    # out over its exchange-rate rows, so it is not simply 1)
    with duckdb.connect(str(warehouse), read_only=True) as con:
        rows = con.execute(
            "select count(*) from staging.stg_shop__orders where channel is null"
        ).fetchone()[0]
    assert rows >= 1
    assert f"nulls in stg_shop__orders.channel ({rows} row{'s' if rows != 1 else ''})" in message
    assert "nothing downstream ran or was published" in message
    # no asset-check events for dbt tests: the run's events are about models and steps
    assert not [e for e in result.all_events if e.event_type_value.startswith("ASSET_CHECK")]


def test_a_subset_materialisation_leaves_an_unselected_incremental_table(
    pipeline_run, tmp_path, monkeypatch
):
    """Materialising a subset from the Dagster UI after the journeys' definition changed (here:
    the recorded hash no longer matches) must not drop the journeys table it does not build;
    the next materialisation that selects the journeys rebuilds them fully, to the same rows."""
    import dagster as dg

    from orchestration.defs.transform.dbt import defs as dbt_defs

    journeys_table = "intermediate.int_web_events_aggregated_to_order_lines"
    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copy(pipeline_run.warehouse, warehouse)
    with duckdb.connect(str(warehouse)) as con:
        rows = con.execute(f"select count(*) from {journeys_table}").fetchone()[0]
        con.execute("update returnlens_state.incremental_models set definition_hash = 'older'")
    assert rows > 0
    monkeypatch.setenv("RETURNLENS_WAREHOUSE", str(warehouse))
    monkeypatch.setenv("RETURNLENS_LANDING_DIR", str(pipeline_run.landing))
    definitions = dbt_defs()
    (assets,) = definitions.assets
    journeys = next(k for k in assets.keys if k.path[-1] == journeys_table.split(".")[-1])

    def materialise(selection):
        with dg.DagsterInstance.ephemeral() as instance:
            return dg.materialize(
                [assets],
                resources=definitions.resources,
                instance=instance,
                raise_on_error=False,
                selection=selection,
            )

    assert materialise(dg.AssetSelection.groups("seeds")).success
    with duckdb.connect(str(warehouse), read_only=True) as con:
        assert con.execute(f"select count(*) from {journeys_table}").fetchone()[0] == rows
        assert con.execute(
            "select definition_hash from returnlens_state.incremental_models "
            "where relation_name like ?",
            [f"%{journeys_table.split('.')[-1]}%"],
        ).fetchall() == [("older",)]
    assert materialise(dg.AssetSelection.assets(journeys)).success
    with duckdb.connect(str(warehouse), read_only=True) as con:
        assert con.execute(f"select count(*) from {journeys_table}").fetchone()[0] == rows
        assert con.execute(
            "select built_fully, definition_hash <> 'older' from "
            "returnlens_state.incremental_models where relation_name like ?",
            [f"%{journeys_table.split('.')[-1]}%"],
        ).fetchall() == [(True, True)]
