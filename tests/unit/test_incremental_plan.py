"""When the pipeline builds an incremental model fully: `returnlens.incremental.plan_build`.

A hand-made manifest (one view upstream of one incremental model, a macro each) and a real
DuckDB file: the first build is full, a build with the same definition is incremental, and a
change of the model's SQL, of a model upstream, of a macro it uses (even through another
macro) or of a var rebuilds it fully (its table dropped before dbt runs); the backfill vars do
not count as a change; `--full-refresh` is passed through.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import duckdb
import pytest

from returnlens.incremental import (
    STATE_TABLE,
    BackfillError,
    backfill_vars,
    plan_build,
    record_built,
)

pytestmark = pytest.mark.unit

RELATION = '"warehouse"."intermediate"."journeys"'
VARS = json.dumps({"shop_name": "x"})


def manifest() -> dict:
    return {
        "metadata": {},
        "nodes": {
            "model.p.stg": {
                "resource_type": "model",
                "checksum": {"name": "sha256", "checksum": "a"},
                "config": {"materialized": "view"},
                "depends_on": {"nodes": [], "macros": ["macro.p.outer"]},
                "relation_name": '"warehouse"."staging"."stg"',
            },
            "model.p.journeys": {
                "resource_type": "model",
                "checksum": {"name": "sha256", "checksum": "b"},
                "config": {"materialized": "incremental", "incremental_strategy": "append"},
                "depends_on": {"nodes": ["model.p.stg"], "macros": []},
                "relation_name": RELATION,
            },
            "model.p.unrelated": {
                "resource_type": "model",
                "checksum": {"name": "sha256", "checksum": "c"},
                "config": {"materialized": "table"},
                "depends_on": {"nodes": [], "macros": []},
                "relation_name": '"warehouse"."marts"."unrelated"',
            },
        },
        "macros": {
            "macro.p.outer": {
                "macro_sql": "{{ inner() }}",
                "depends_on": {"macros": ["macro.p.inner"]},
            },
            "macro.p.inner": {"macro_sql": "select 1", "depends_on": {"macros": []}},
        },
    }


@pytest.fixture
def warehouse(tmp_path) -> Path:
    path = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute("create schema intermediate")
    return path


def build(tmp_path: Path, warehouse: Path, m: dict, vars_json: str = VARS, **kwargs):
    """Plan with manifest m, then do what dbt would (create the table when missing) and
    record a successful build; the plan and whether the table was there before dbt ran."""
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(m))
    plan = plan_build(path, warehouse, vars_json, **kwargs)
    with duckdb.connect(str(warehouse)) as con:
        existed = con.execute(
            "select count(*) from information_schema.tables where table_name = 'journeys'"
        ).fetchone()[0]
        con.execute("create table if not exists intermediate.journeys (id varchar)")
    results = tmp_path / "run_results.json"
    results.write_text(json.dumps({"results": [{"status": "success", "relation_name": RELATION}]}))
    record_built(warehouse, plan, results)
    return plan, bool(existed)


def recorded(warehouse: Path) -> list[tuple]:
    with duckdb.connect(str(warehouse)) as con:
        return con.execute(f"select relation_name, built_fully from {STATE_TABLE}").fetchall()


def test_first_build_is_full_then_incremental(tmp_path, warehouse):
    plan, existed = build(tmp_path, warehouse, manifest())
    assert not existed and plan.fresh == [RELATION] and plan.args == [] and plan.drop == []
    assert recorded(warehouse) == [(RELATION, True)]
    plan, existed = build(tmp_path, warehouse, manifest())
    assert existed and plan.drop == [] and plan.args == []
    assert recorded(warehouse) == [(RELATION, False)]


@pytest.mark.parametrize(
    "change",
    [
        lambda m: m["nodes"]["model.p.journeys"]["checksum"].update(checksum="b2"),
        lambda m: m["nodes"]["model.p.stg"]["checksum"].update(checksum="a2"),
        lambda m: m["macros"]["macro.p.inner"].update(macro_sql="select 2"),
        lambda m: m["nodes"]["model.p.journeys"]["config"].update(on_schema_change="fail"),
    ],
    ids=["own sql", "upstream model", "macro of a macro upstream", "config"],
)
def test_a_changed_definition_rebuilds_fully(tmp_path, warehouse, change):
    build(tmp_path, warehouse, manifest())
    changed = copy.deepcopy(manifest())
    change(changed)
    plan, existed = build(tmp_path, warehouse, changed)
    assert plan.drop == [RELATION] and not existed  # dropped before dbt ran
    assert "definition" in " ".join(plan.reasons)
    assert recorded(warehouse) == [(RELATION, True)]
    plan, existed = build(tmp_path, warehouse, changed)  # and incremental again after
    assert existed and plan.drop == []


def test_unrelated_models_and_backfill_vars_do_not_rebuild(tmp_path, warehouse):
    build(tmp_path, warehouse, manifest())
    changed = manifest()
    changed["nodes"]["model.p.unrelated"]["checksum"]["checksum"] = "c2"
    plan, existed = build(
        tmp_path,
        warehouse,
        changed,
        json.dumps(
            {"shop_name": "x", "backfill_start": "2026-01-01", "backfill_end": "2026-01-02"}
        ),
        backfill_start="2026-01-01",
        backfill_end="2026-01-02",
    )
    assert existed and plan.drop == []
    assert plan.vars == {"backfill_start": "2026-01-01", "backfill_end": "2026-01-02"}


def test_a_changed_var_rebuilds_fully(tmp_path, warehouse):
    build(tmp_path, warehouse, manifest())
    plan, existed = build(tmp_path, warehouse, manifest(), json.dumps({"shop_name": "y"}))
    assert plan.drop == [RELATION] and not existed


def test_a_changed_project_var_rebuilds_fully(tmp_path, warehouse):
    (tmp_path / "dbt_project.yml").write_text("vars:\n  journey_late_event_days: 3\n")
    build(tmp_path, warehouse, manifest(), project_dir=tmp_path)
    plan, existed = build(tmp_path, warehouse, manifest(), project_dir=tmp_path)
    assert existed and plan.drop == []
    (tmp_path / "dbt_project.yml").write_text("vars:\n  journey_late_event_days: 5\n")
    plan, existed = build(tmp_path, warehouse, manifest(), project_dir=tmp_path)
    assert plan.drop == [RELATION] and not existed


def test_full_refresh_is_passed_to_dbt(tmp_path, warehouse):
    build(tmp_path, warehouse, manifest())
    plan, existed = build(tmp_path, warehouse, manifest(), full_refresh=True)
    assert plan.args == ["--full-refresh"] and plan.drop == [] and existed
    assert recorded(warehouse) == [(RELATION, True)]


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [
        ("2026-01-01", None, "needs both"),
        ("2026-13-01", "2026-12-31", "ISO dates"),
        ("2026-02-01", "2026-01-31", "Swap them"),
    ],
)
def test_unusable_backfill_ranges_say_what_to_pass(start, end, message):
    with pytest.raises(BackfillError, match=message):
        backfill_vars(start, end)
