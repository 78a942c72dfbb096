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
def warehouse(tmp_path, monkeypatch) -> Path:
    # the plan fingerprints the PII salt: a salt of the test's own, not the installation's
    monkeypatch.setenv("RETURNLENS_PII_SALT", "a-salt-for-the-plan-tests-0123456789")
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
    record_built(warehouse, plan, results, path)
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


def test_a_run_that_does_not_select_the_model_leaves_its_table(tmp_path, warehouse):
    """A materialisation of a subset (the Dagster UI) builds only what it selects: an
    incremental table outside the selection whose definition changed must stay as it is (its
    readers in the selection read it), and be rebuilt by the next run that selects it."""
    build(tmp_path, warehouse, manifest())
    changed = copy.deepcopy(manifest())
    changed["nodes"]["model.p.stg"]["checksum"].update(checksum="a2")
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(changed))
    plan = plan_build(path, warehouse, VARS, selected={"model.p.unrelated"})
    assert plan.drop == [] and plan.fresh == [] and plan.definitions == {}
    with duckdb.connect(str(warehouse)) as con:
        assert con.execute("select count(*) from intermediate.journeys").fetchone()[0] == 0
    assert any("not selected" in r for r in plan.reasons)
    plan, existed = build(tmp_path, warehouse, changed, selected={"model.p.journeys"})
    assert plan.drop == [RELATION] and not existed


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


# --- what the rows of an incremental model were built from changed (not its definition) ----

PRODUCTS = '"warehouse"."staging"."products"'


def with_inputs(m: dict) -> dict:
    """The manifest with the journeys' declared inputs: a forgotten customer or a changed
    sku -> category mapping of the products view rebuilds it."""
    m["nodes"]["model.p.products"] = {
        "resource_type": "model",
        "checksum": {"name": "sha256", "checksum": "p"},
        "config": {"materialized": "view"},
        "depends_on": {"nodes": [], "macros": []},
        "relation_name": PRODUCTS,
        "name": "products",
    }
    journeys = m["nodes"]["model.p.journeys"]
    journeys["depends_on"]["nodes"].append("model.p.products")
    journeys["config"]["meta"] = {
        "rebuild_fully_when": {
            "forgotten_customers": True,
            "changed": {"products": ["sku", "category"]},
        }
    }
    return m


@pytest.fixture
def raw_warehouse(warehouse) -> Path:
    """The warehouse with the loader's raw tables (an audit and the erasure list) and a
    products view over a raw table."""
    from returnlens.ingest.raw_tables import ensure_raw_schema

    with duckdb.connect(str(warehouse)) as con:
        ensure_raw_schema(con, [])
        con.execute("create schema staging")
        con.execute("create table raw.products_rows (sku varchar, category varchar)")
        con.execute("insert into raw.products_rows values ('A', 'shoes'), ('B', 'home')")
        con.execute("create view staging.products as select * from raw.products_rows")
    return warehouse


def audit_load(warehouse: Path, entity: str, source_file: str, checksum: str) -> None:
    """What the loader writes for a file it loaded (now, UTC)."""
    from returnlens.ingest.raw_tables import utc_now

    now = utc_now()
    with duckdb.connect(str(warehouse)) as con:
        con.execute(
            "insert into raw.load_audit (load_id, entity, source_file, checksum, started_at, "
            "finished_at, status) values ('l', ?, ?, ?, ?, ?, 'loaded')",
            [entity, source_file, checksum, now, now],
        )


def test_a_file_delivered_again_does_not_rebuild(tmp_path, raw_warehouse):
    """A monthly file that grew by a day is loaded again every day: appended, not rebuilt (a
    changed past delivery is what a backfill is for)."""
    audit_load(raw_warehouse, "web_events", "web/events_2026-01.jsonl", "c1")
    build(tmp_path, raw_warehouse, with_inputs(manifest()))
    audit_load(raw_warehouse, "web_events", "web/events_2026-01.jsonl", "c1b")
    audit_load(raw_warehouse, "web_events", "web/events_2026-02.jsonl", "c2")
    plan, existed = build(tmp_path, raw_warehouse, with_inputs(manifest()))
    assert existed and plan.drop == [], plan.reasons


def test_a_changed_list_of_declared_inputs_rebuilds_fully(tmp_path, raw_warehouse):
    """The declared inputs are part of the definition: a column added to `changed` rebuilds
    (and records its rows), it does not fail on the old record's columns."""
    build(tmp_path, raw_warehouse, with_inputs(manifest()))
    wider = with_inputs(manifest())
    wider["nodes"]["model.p.journeys"]["config"]["meta"]["rebuild_fully_when"]["changed"] = {
        "products": ["sku", "category", "sku_again"]
    }
    with duckdb.connect(str(raw_warehouse)) as con:
        con.execute(
            "create or replace view staging.products as select *, sku as sku_again "
            "from raw.products_rows"
        )
    plan, existed = build(tmp_path, raw_warehouse, wider)
    assert plan.drop == [RELATION] and not existed and "definition" in " ".join(plan.reasons)
    plan, existed = build(tmp_path, raw_warehouse, wider)
    assert existed and plan.drop == []


def test_a_changed_input_that_is_a_table_is_refused_with_what_to_declare(tmp_path, raw_warehouse):
    build(tmp_path, raw_warehouse, with_inputs(manifest()))
    m = with_inputs(manifest())
    m["nodes"]["model.p.products"]["config"]["materialized"] = "table"
    (tmp_path / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(ValueError, match="name a view"):  # before anything is dropped
        plan_build(tmp_path / "manifest.json", raw_warehouse, VARS)
    assert recorded(raw_warehouse) == [(RELATION, True)]


def test_an_erasure_since_the_build_rebuilds_fully(tmp_path, raw_warehouse):
    from returnlens.ingest.raw_tables import utc_now

    build(tmp_path, raw_warehouse, with_inputs(manifest()))
    with duckdb.connect(str(raw_warehouse)) as con:
        con.execute("insert into raw.forgotten_customers values ('h', ?)", [utc_now()])
    plan, existed = build(tmp_path, raw_warehouse, with_inputs(manifest()))
    assert plan.drop == [RELATION] and not existed
    assert "forgotten" in " ".join(plan.reasons)


@pytest.mark.parametrize(
    ("change", "rebuilt"),
    [
        ("insert into raw.products_rows values ('C', 'garden')", False),  # a new product
        ("update raw.products_rows set category = 'garden' where sku = 'B'", True),
        ("delete from raw.products_rows where sku = 'A'", True),
    ],
    ids=["new product", "category changed", "product removed"],
)
def test_a_changed_dimension_row_rebuilds_fully(tmp_path, raw_warehouse, change, rebuilt):
    build(tmp_path, raw_warehouse, with_inputs(manifest()))
    with duckdb.connect(str(raw_warehouse)) as con:
        con.execute(change)
    plan, existed = build(tmp_path, raw_warehouse, with_inputs(manifest()))
    assert (plan.drop == [RELATION]) is rebuilt and existed is not rebuilt, plan.reasons
    if rebuilt:
        assert "products" in " ".join(plan.reasons)


def test_a_model_built_before_its_inputs_were_recorded_rebuilds_once(tmp_path, raw_warehouse):
    undeclared = with_inputs(manifest())
    del undeclared["nodes"]["model.p.journeys"]["config"]["meta"]
    build(tmp_path, raw_warehouse, undeclared)  # same definition, nothing recorded of its inputs
    plan, existed = build(tmp_path, raw_warehouse, with_inputs(manifest()))
    assert plan.drop == [RELATION] and not existed
    plan, existed = build(tmp_path, raw_warehouse, with_inputs(manifest()))
    assert existed and plan.drop == []
