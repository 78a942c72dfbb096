"""The change log's bookkeeping in `plan_build`/`record_built` (returnlens.change_log).

A hand-made manifest (the change log and one model reading it through macro changed_orders)
and a real DuckDB file with raw tables stamped by hand: what each run reads, as written to
returnlens_state.change_log_reads (the log: change_seq one more per build, changed_after the
latest stamp it saw at its previous build; a reader: the seq it read), that none of it is a
dbt var (a var changing at every run makes dbt parse the whole project again) nor a definition
change, the pruning of rows every reader has read, and a full rebuild after a change of the
PII salt, whose fingerprint (never the salt) is recorded. Expected values are the stamps and
seqs these tests write.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import duckdb
import pytest

from returnlens.change_log import EPOCH
from returnlens.incremental import STATE_TABLE, plan_build, record_built

pytestmark = pytest.mark.unit

LOG = '"warehouse"."staging"."stg_loader__changed_orders"'
FACTS = '"warehouse"."intermediate"."facts"'
SALT = "a-salt-for-the-plan-tests-0123456789"
VARS = json.dumps({"shop_name": "x"})
T1 = dt.datetime(2026, 3, 1, 6, 0)
T2 = dt.datetime(2026, 3, 2, 6, 0)


def manifest(*, consumer: bool = True) -> dict:
    nodes = {
        "model.returnlens.stg_loader__changed_orders": {
            "resource_type": "model",
            "name": "stg_loader__changed_orders",
            "checksum": {"name": "sha256", "checksum": "log"},
            "config": {"materialized": "incremental", "incremental_strategy": "append"},
            "depends_on": {"nodes": [], "macros": []},
            "relation_name": LOG,
        },
    }
    if consumer:
        nodes["model.returnlens.facts"] = {
            "resource_type": "model",
            "name": "facts",
            "checksum": {"name": "sha256", "checksum": "facts"},
            "config": {"materialized": "incremental", "incremental_strategy": "append"},
            "depends_on": {
                "nodes": ["model.returnlens.stg_loader__changed_orders"],
                "macros": ["macro.returnlens.changed_orders"],
            },
            "relation_name": FACTS,
        }
    return {"metadata": {}, "nodes": nodes, "macros": {}}


@pytest.fixture
def warehouse(tmp_path, monkeypatch) -> Path:
    from returnlens.ingest.raw_tables import ensure_raw_schema

    monkeypatch.setenv("RETURNLENS_PII_SALT", SALT)
    path = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(path)) as con:
        ensure_raw_schema(con, [])
        for schema in ("staging", "intermediate"):
            con.execute(f"create schema {schema}")
        con.execute("create table raw.orders (order_id varchar, _loaded_at timestamp)")
    return path


def stamp(warehouse: Path, sql: str, params: list | None = None) -> None:
    with duckdb.connect(str(warehouse)) as con:
        con.execute(sql, params or [])


READS_SEEN: dict[str, dict[str, tuple]] = {}  # warehouse -> the reads of its last build


def build(tmp_path, warehouse, m=None, vars_json=VARS, built=(LOG, FACTS), **kwargs):
    """Plan, then do what dbt would (create the tables; the log appends one row of the run's
    seq), and record the relations `built` as successful; the plan."""
    m = m or manifest()
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(m))
    plan = plan_build(path, warehouse, vars_json, **kwargs)
    with duckdb.connect(str(warehouse)) as con:
        # what the log and readers read in the build, as dbt's run finds it (record_built
        # drops it after the build)
        written = con.execute(
            "select count(*) from information_schema.tables where table_schema = "
            "'returnlens_state' and table_name = 'change_log_reads'"
        ).fetchone()[0]
        READS_SEEN[str(warehouse)] = {
            r[0]: r[1:]
            for r in (
                con.execute("from returnlens_state.change_log_reads").fetchall() if written else []
            )
        }
        con.execute(
            "create table if not exists staging.stg_loader__changed_orders "
            "(change_seq bigint, order_id varchar)"
        )
        con.execute("create table if not exists intermediate.facts (order_id varchar)")
        if LOG in built and plan.log is not None:
            con.execute(
                "insert into staging.stg_loader__changed_orders values (?, 'O')", [plan.log.seq]
            )
    results = tmp_path / "run_results.json"
    results.write_text(
        json.dumps({"results": [{"status": "success", "relation_name": r} for r in built]})
    )
    record_built(warehouse, plan, results, path)
    return plan


def state(warehouse: Path) -> dict[str, tuple]:
    with duckdb.connect(str(warehouse)) as con:
        rows = con.execute(
            f"select relation_name, change_seq, changed_until, built_fully from {STATE_TABLE}"
        ).fetchall()
    return {r[0]: r[1:] for r in rows}


def reads(warehouse: Path) -> dict[str, tuple]:
    """What the last build's log and readers read, as the macro change_log_read found it
    during the build."""
    return READS_SEEN[str(warehouse)]


def log_seqs(warehouse: Path) -> list[int]:
    with duckdb.connect(str(warehouse)) as con:
        return [
            r[0]
            for r in con.execute(
                "select change_seq from staging.stg_loader__changed_orders order by 1"
            ).fetchall()
        ]


def test_each_build_of_the_log_gets_the_next_seq_and_the_stamp_it_saw_before(tmp_path, warehouse):
    stamp(warehouse, "insert into raw.orders values ('O1', ?)", [T1])
    first = build(tmp_path, warehouse)
    # the first build lists nothing (everything is built fully): no changed_after
    assert reads(warehouse) == {"staging.stg_loader__changed_orders": (1, None)}
    assert state(warehouse)[LOG] == (1, T1, True) and state(warehouse)[FACTS][0] == 1
    # a late erasure and a retracted row are later than every load: the latest of the three
    stamp(warehouse, "insert into raw.orders values ('O2', ?)", [T2])
    stamp(warehouse, "insert into raw.forgotten_customers values ('h', ?)", [T2 + dt.timedelta(1)])
    second = build(tmp_path, warehouse)
    assert reads(warehouse) == {
        "staging.stg_loader__changed_orders": (2, T1),
        "intermediate.facts": (1, None),
    }
    assert second.drop == [] and second.fresh == []  # no definition change
    # nothing of it is a dbt var: the vars stay as they were, and dbt's partial parse holds
    assert first.vars == second.vars == {}
    assert state(warehouse)[LOG] == (2, T2 + dt.timedelta(1), False)
    assert state(warehouse)[FACTS][:1] == (2,)


def test_after_a_log_built_on_an_empty_raw_its_readers_are_rebuilt_fully(tmp_path, warehouse):
    """Review L5: a log first built on an empty warehouse saw no stamp (the epoch); its next
    build would list every order loaded since, the whole history. Its readers are rebuilt
    fully instead (in the run: dropped; outside it: their seq cleared), and the log lists
    nothing that build, as on a first build."""
    build(tmp_path, warehouse)
    assert state(warehouse)[LOG][:2] == (1, EPOCH)
    stamp(warehouse, "insert into raw.orders values ('O1', ?)", [T1])
    plan = build(tmp_path, warehouse)
    assert plan.drop == [FACTS] and "empty" in " ".join(plan.reasons)
    assert reads(warehouse)["staging.stg_loader__changed_orders"] == (2, None)
    assert state(warehouse)[LOG][:2] == (2, T1)
    assert build(tmp_path, warehouse).drop == []  # from then on incremental
    assert reads(warehouse)["staging.stg_loader__changed_orders"] == (3, T1)


def test_a_reader_outside_the_run_after_an_empty_log_is_rebuilt_fully_next(tmp_path, warehouse):
    build(tmp_path, warehouse)
    stamp(warehouse, "insert into raw.orders values ('O1', ?)", [T1])
    build(
        tmp_path, warehouse, built=(LOG,), selected={"model.returnlens.stg_loader__changed_orders"}
    )
    assert state(warehouse)[FACTS][0] is None
    assert build(tmp_path, warehouse).drop == [FACTS]


def test_a_clock_behind_the_logs_watermark_rebuilds_the_log_and_its_readers(tmp_path, warehouse):
    """Review M6: the log's watermark is wall-clock (`_loaded_at`, `retracted_at`,
    `forgotten_at`). When now is before the latest stamp the log saw (a clock stepped back, a
    warehouse restored from elsewhere), rows loaded now get earlier stamps and the log would
    never list them: the run says so and rebuilds the log and its readers fully."""
    stamp(warehouse, "insert into raw.orders values ('O0', ?)", [T1])
    build(tmp_path, warehouse)
    ahead = dt.datetime.now(dt.UTC).replace(tzinfo=None) + dt.timedelta(days=1)
    stamp(warehouse, "insert into raw.orders values ('O1', ?)", [ahead])
    assert build(tmp_path, warehouse).drop == []
    assert state(warehouse)[LOG][1] == ahead
    plan = build(tmp_path, warehouse)
    assert sorted(plan.drop) == sorted([LOG, FACTS])
    assert "clock" in " ".join(plan.reasons)


def test_rows_every_reader_has_read_are_pruned_and_an_unselected_reader_keeps_its_rows(
    tmp_path, warehouse
):
    build(tmp_path, warehouse)  # seq 1, read by facts
    # seq 2: facts not built (failed, or not selected); seq 1, which facts read, pruned
    build(tmp_path, warehouse, built=(LOG,))
    assert log_seqs(warehouse) == [2] and state(warehouse)[FACTS][0] == 1
    # seq 3 without facts: seq 2 stays until facts has read it
    build(tmp_path, warehouse, selected={"model.returnlens.stg_loader__changed_orders"})
    assert log_seqs(warehouse) == [2, 3]
    assert "intermediate.facts" not in reads(warehouse)  # no reader of the log in this run
    assert state(warehouse)[FACTS][0] == 1
    build(tmp_path, warehouse)
    assert reads(warehouse)["intermediate.facts"] == (1, None)
    assert log_seqs(warehouse) == [2, 3, 4] and state(warehouse)[FACTS][0] == 4
    build(tmp_path, warehouse)
    assert log_seqs(warehouse) == [5]


def test_without_readers_the_log_keeps_only_the_last_run(tmp_path, warehouse):
    alone = manifest(consumer=False)
    for _ in range(3):
        build(tmp_path, warehouse, alone, built=(LOG,))
    assert log_seqs(warehouse) == [3]


def test_a_run_that_does_not_build_the_log_leaves_its_rows(tmp_path, warehouse):
    """A subset (the returns_alerts job) that neither builds nor reads the log prunes nothing:
    the rows of the log's last run stay for the next run's readers."""
    build(tmp_path, warehouse, manifest(consumer=False), built=(LOG,))
    other = manifest(consumer=False)
    other["nodes"]["model.returnlens.other"] = {
        "resource_type": "model",
        "name": "other",
        "checksum": {"name": "sha256", "checksum": "o"},
        "config": {"materialized": "incremental", "incremental_strategy": "append"},
        "depends_on": {"nodes": [], "macros": []},
        "relation_name": '"warehouse"."intermediate"."other"',
    }
    plan = build(tmp_path, warehouse, other, built=(), selected={"model.returnlens.other"})
    assert plan.log is None and log_seqs(warehouse) == [1]


def test_a_reader_of_a_log_rebuilt_fully_without_it_is_rebuilt_fully_next(tmp_path, warehouse):
    build(tmp_path, warehouse)
    build(
        tmp_path,
        warehouse,
        built=(LOG,),
        full_refresh=True,
        selected={"model.returnlens.stg_loader__changed_orders"},
    )
    assert state(warehouse)[FACTS][0] is None  # the rows after its seq are gone
    plan = build(tmp_path, warehouse)
    assert plan.drop == [FACTS] and "change log" in " ".join(plan.reasons)


def test_a_changed_salt_rebuilds_every_incremental_model_and_only_its_fingerprint_is_kept(
    tmp_path, warehouse, monkeypatch
):
    build(tmp_path, warehouse)
    assert build(tmp_path, warehouse).drop == []
    monkeypatch.setenv("RETURNLENS_PII_SALT", SALT + "-rotated")
    plan = build(tmp_path, warehouse)
    assert sorted(plan.drop) == sorted([LOG, FACTS])
    assert "salt" in " ".join(plan.reasons)
    assert build(tmp_path, warehouse).drop == []
    with duckdb.connect(str(warehouse)) as con:
        text = " ".join(str(v) for r in con.execute(f"from {STATE_TABLE}").fetchall() for v in r)
    assert SALT not in text and len(text) > 0


@pytest.mark.parametrize("full_refresh", [False, True])
def test_a_log_without_its_record_but_with_a_reader_that_read_it_is_rebuilt(
    tmp_path, warehouse, full_refresh
):
    """The log's record gone (model renamed or moved, row deleted) while a reader still holds
    the seq it read: the run plans (no crash), and so does --full-refresh, the documented
    recovery; the log starts again at seq 1 and its earlier rows are not kept."""
    build(tmp_path, warehouse)
    build(tmp_path, warehouse)
    assert state(warehouse)[FACTS][0] == 2
    stamp(warehouse, f"delete from {STATE_TABLE} where relation_name = ?", [LOG])
    plan = build(tmp_path, warehouse, full_refresh=full_refresh)
    assert plan.log is not None and plan.log.seq == 1
    if not full_refresh:
        assert FACTS in plan.drop  # it read a log nobody recorded: rebuilt fully
    assert state(warehouse)[LOG][0] == 1 and state(warehouse)[FACTS][0] == 1


def reader_without_depends_on(how: str) -> dict:
    """A manifest whose model `facts` reads the log through a macro without declaring
    `-- depends_on: {{ ref('stg_loader__changed_orders') }}` (no edge to the log): `how` is
    the macro in its SQL, or the pre-hook given in a yml (dbt records no macro of it)."""
    m = manifest()
    facts = m["nodes"]["model.returnlens.facts"]
    facts["original_file_path"] = "models/marts/facts.sql"
    facts["depends_on"] = {"nodes": [], "macros": []}
    if how == "macro":
        facts["depends_on"]["macros"] = ["macro.returnlens.changed_orders"]
    else:
        facts["config"]["pre-hook"] = [{"sql": "{{ delete_changed('order_id', 'order_id') }}"}]
    return m


@pytest.mark.parametrize("how", ["macro", "pre-hook"])
def test_a_model_reading_the_log_without_depending_on_it_is_refused(tmp_path, warehouse, how):
    """Review M3: dbt records no ref() made only on an incremental build or in a pre-hook, so
    a reader without the declared dependency may be built before the log, and was counted a
    reader by its macros but not by the plan. The plan refuses it, naming the model, its file
    and the line to add, before anything is dropped or planned."""
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(reader_without_depends_on(how)))
    with pytest.raises(ValueError) as refused:
        plan_build(path, warehouse, VARS)
    message = str(refused.value)
    assert "facts" in message and "models/marts/facts.sql" in message
    assert "-- depends_on: {{ ref('stg_loader__changed_orders') }}" in message
    with duckdb.connect(str(warehouse)) as con:  # refused before it wrote anything
        tables = con.execute(
            "select count(*) from information_schema.tables where table_schema = 'returnlens_state'"
        ).fetchone()[0]
    assert tables == 0


def test_a_reader_declaring_its_dependency_is_planned(tmp_path, warehouse):
    m = reader_without_depends_on("pre-hook")
    m["nodes"]["model.returnlens.facts"]["depends_on"]["nodes"] = [
        "model.returnlens.stg_loader__changed_orders"
    ]
    plan = build(tmp_path, warehouse, m)
    assert FACTS in plan.consumers


def with_previous_facts() -> dict:
    """The hand-made manifest, the log looking orders up in the previous build of the table
    `prev` (as the log reads fct_order_lines and fct_returns), which declares the log."""
    m = manifest()
    m["nodes"]["model.returnlens.stg_loader__changed_orders"]["raw_code"] = (
        "{%- set previous_returns = previous_relation('prev') -%} select 1"
    )
    m["nodes"]["model.returnlens.prev"] = {
        "resource_type": "model",
        "name": "prev",
        "checksum": {"name": "sha256", "checksum": "p"},
        "config": {"materialized": "table"},
        "depends_on": {"nodes": ["model.returnlens.stg_loader__changed_orders"], "macros": []},
        "relation_name": '"warehouse"."marts"."prev"',
    }
    return m


def test_a_subset_building_the_previous_facts_without_the_log_rebuilds_the_readers(
    tmp_path, warehouse
):
    """Review H1, whatever the selection: a run that builds a model the log reads the previous
    build of (a subset chosen in the UI, without the log) overwrites what the log's next build
    would look orders up in. The readers cannot trust the log's next rows then: each is
    rebuilt fully when next built, and the run says why."""
    m = with_previous_facts()
    build(tmp_path, warehouse, m)
    assert state(warehouse)[FACTS][0] == 1
    plan = build(tmp_path, warehouse, m, built=(), selected={"model.returnlens.prev"})
    assert any("prev" in r and "change log" in r for r in plan.reasons), plan.reasons
    assert state(warehouse)[FACTS][0] is None
    plan = build(tmp_path, warehouse, m)
    assert plan.drop == [FACTS]
    # a subset with the log builds it first (the facts declare it): nothing is lost
    build(tmp_path, warehouse, m, built=(LOG,), selected={
        "model.returnlens.prev", "model.returnlens.stg_loader__changed_orders"
    })  # fmt: skip
    assert state(warehouse)[FACTS][0] is not None


def test_the_models_the_real_log_reads_the_previous_build_of_are_found():
    from returnlens.change_log import previous_facts_built_without_log

    sql = (
        Path(__file__).resolve().parents[2] / "models/staging/loader/stg_loader__changed_orders.sql"
    )
    m = manifest()
    m["nodes"]["model.returnlens.stg_loader__changed_orders"]["raw_code"] = sql.read_text()
    for name in ("fct_order_lines", "fct_returns", "dim_customers"):
        m["nodes"][f"model.returnlens.{name}"] = {"resource_type": "model", "name": name}
    every = {f"model.returnlens.{n}" for n in ("fct_order_lines", "fct_returns", "dim_customers")}
    assert previous_facts_built_without_log(m, every) == ["fct_order_lines", "fct_returns"]
    assert previous_facts_built_without_log(m, {*every, "model.returnlens.facts"}) == [
        "fct_order_lines",
        "fct_returns",
    ]
    with_log = {*every, "model.returnlens.stg_loader__changed_orders"}
    assert previous_facts_built_without_log(m, with_log) == []
    assert previous_facts_built_without_log(m, None) == []
