"""dbt governance: what is published is exactly the public marts; the dashboard's pages and the
exports are exposures in the dbt project with the marts they read."""

from __future__ import annotations

import json
import os

import duckdb
import pytest

from returnlens.config import PROJECT_ROOT
from returnlens.publish import publish

pytestmark = pytest.mark.integration

PUBLISH_TABLES = {"publish_log", "publish_gate_results"}


def _manifest() -> dict:
    """The manifest dbt wrote for the pipeline run (dbt's own output, not ours)."""
    target = PROJECT_ROOT / os.environ.get("DBT_TARGET_PATH", "target")
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


def test_every_mart_is_public_and_the_serving_database_holds_exactly_them(pipeline_run):
    manifest = _manifest()
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
