"""The memory budget (issue 16): every DuckDB database a run opens gets its memory limit, threads
and spill folder from RETURNLENS_MEMORY_BUDGET, and a step that runs out of memory says which
setting to change instead of failing with DuckDB's bare error."""

from __future__ import annotations

import json
import os

import duckdb
import pytest
import sqlalchemy as sa

from returnlens.config import SettingError, settings
from returnlens.dbt_salt_plugin import Plugin
from returnlens.ingest.loader import load_all
from returnlens.warehouse import (
    MemoryBudgetExceeded,
    connect,
    connect_reader,
    dbt_disk_full,
    dbt_out_of_memory,
    sqlalchemy_url,
)

pytestmark = pytest.mark.unit

GIB = 1 << 30
SETTINGS_SQL = (
    "select current_setting('memory_limit'), current_setting('threads'), "
    "current_setting('temp_directory')"
)


@pytest.fixture()
def budget(monkeypatch, tmp_path):
    monkeypatch.setenv("RETURNLENS_DATA_DIR", str(tmp_path))
    for var in ("RETURNLENS_DUCKDB_MEMORY_LIMIT", "RETURNLENS_DUCKDB_THREADS"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.delenv("RETURNLENS_SPILL_DIR", raising=False)

    def set_budget(value: str | None):
        if value is None:
            monkeypatch.delenv("RETURNLENS_MEMORY_BUDGET", raising=False)
        else:
            monkeypatch.setenv("RETURNLENS_MEMORY_BUDGET", value)
        return settings()

    return set_budget


def as_mib(limit: str, threads: int, spill: str) -> tuple:
    """DuckDB shows the limit as `819.0 MiB` (exact below 1 GiB, as set by a 2 GiB budget)."""
    value, unit = limit.split()
    assert unit == "MiB"
    return (f"{round(float(value))}MiB", threads, spill)


def _mib(limit: str) -> int:
    assert limit.endswith("MiB")
    return int(limit[:-3])


def test_the_default_budget_is_4_gib_and_duckdb_gets_what_python_leaves(budget, tmp_path):
    cfg = budget(None)
    assert cfg.memory_budget == 4 * GIB
    # 80 % of (4 GiB - 1 GiB for the Python processes), one thread per GiB, at most the cores
    assert _mib(cfg.duckdb_memory_limit) == int(3 * GIB * 0.8) >> 20
    assert cfg.duckdb_threads == min(os.cpu_count() or 1, 2)
    assert cfg.spill_dir == tmp_path / "spill"
    small = budget("1.5GiB")
    assert small.memory_budget == 3 * GIB // 2
    assert _mib(small.duckdb_memory_limit) == int(0.5 * GIB * 0.8) >> 20
    assert small.duckdb_threads == 1


def test_a_budget_that_is_no_size_is_refused_naming_the_variable(budget):
    with pytest.raises(SettingError, match="RETURNLENS_MEMORY_BUDGET='lots'"):
        budget("lots")


def test_every_kind_of_connection_gets_the_budget_settings(budget, tmp_path):
    cfg = budget("2GiB")
    expected = (cfg.duckdb_memory_limit, cfg.duckdb_threads, str(tmp_path / "spill"))

    def shown(con) -> tuple:
        return as_mib(*con.execute(SETTINGS_SQL).fetchall()[0])

    with connect(tmp_path / "w.duckdb") as con:  # loader, gates' history, publish
        con.execute("create table t as select 1 as x")
        assert shown(con) == expected
    with connect_reader(tmp_path / "w.duckdb") as con:  # exports
        assert shown(con) == expected
        assert con.execute("select x from t").fetchall() == [(1,)]
    engine = sa.create_engine(sqlalchemy_url(tmp_path / "w.duckdb"))  # GX
    try:
        with engine.connect() as con:
            limit, threads, spill = con.exec_driver_sql(SETTINGS_SQL).fetchall()[0]
        assert as_mib(limit, threads, spill) == expected
    finally:
        engine.dispose()
    with duckdb.connect() as con:  # dbt: the profile's plugin configures dbt's database
        Plugin(name="returnlens", plugin_config={}).configure_connection(con)
        assert shown(con) == expected


def test_every_connection_can_spill_into_a_spill_folder_whose_parents_do_not_exist_yet(
    budget, monkeypatch, tmp_path
):
    """DuckDB creates its temp_directory one level deep only: with a data folder (or
    RETURNLENS_SPILL_DIR) not made yet, the first spill failed with "Failed to create directory",
    which the loader took for the landing file's fault ("the file cannot be opened")."""
    spill = tmp_path / "scratch" / "returnlens" / "spill"
    monkeypatch.setenv("RETURNLENS_SPILL_DIR", str(spill))
    budget(None)
    monkeypatch.setenv("RETURNLENS_DUCKDB_MEMORY_LIMIT", "16MiB")
    monkeypatch.setenv("RETURNLENS_DUCKDB_THREADS", "1")
    # sorting 2M random numbers needs far more than 16 MiB: it must spill to complete
    query = "select count(*), sum(d) from (select x - lag(x) over (order by x) as d from ("
    query += "select hash(range) as x from range(2000000)))"
    with connect(":memory:") as con:
        assert con.execute("select current_setting('temp_directory')").fetchone()[0] == str(spill)
        count, _ = con.execute(query).fetchone()
    assert count == 2_000_000
    assert spill.is_dir()
    with duckdb.connect() as con:  # dbt's database, through the profile's plugin
        Plugin(name="returnlens", plugin_config={}).configure_connection(con)
        assert con.execute(query).fetchone()[0] == 2_000_000


def test_a_spill_folder_that_cannot_be_made_is_refused_naming_the_setting(
    budget, monkeypatch, tmp_path
):
    (tmp_path / "a-file").write_text("not a folder")
    monkeypatch.setenv("RETURNLENS_SPILL_DIR", str(tmp_path / "a-file" / "spill"))
    budget(None)
    with pytest.raises(SettingError, match="Set RETURNLENS_SPILL_DIR to a writable folder"):
        connect(":memory:")


def test_dbt_builds_tables_without_preserving_insertion_order(budget):
    """No model promises a row order (none ends in ORDER BY; marts are compared by
    order-independent checksums), so dbt's database may write a table's rows as its threads
    finish instead of buffering them in scan order (issue 16: memory at 10M order lines)."""
    budget(None)
    with duckdb.connect() as con:
        Plugin(name="returnlens", plugin_config={}).configure_connection(con)
        setting = "select current_setting('preserve_insertion_order')"
        assert con.execute(setting).fetchall() == [(False,)]


def test_a_load_over_a_tiny_budget_fails_naming_the_setting(budget, demo_landing, tmp_path):
    """A real load of the demo shop's files within 32 MiB (DuckDB gets 8 MiB of it)."""
    budget("32MiB")
    with connect(tmp_path / "w.duckdb") as con, pytest.raises(MemoryBudgetExceeded) as err:
        load_all(con, demo_landing)
    message = str(err.value)
    assert message.startswith("The loader ran out of memory")
    assert (
        "RETURNLENS_MEMORY_BUDGET=32.0MiB" in message
        and "Raise RETURNLENS_MEMORY_BUDGET" in message
    )
    assert str(tmp_path / "spill") in message


def test_a_memory_limit_override_is_named_instead_of_the_budget(
    budget, demo_landing, tmp_path, monkeypatch
):
    budget("4GiB")
    monkeypatch.setenv("RETURNLENS_DUCKDB_MEMORY_LIMIT", "8MiB")
    with connect(tmp_path / "w.duckdb") as con, pytest.raises(MemoryBudgetExceeded) as err:
        load_all(con, demo_landing)
    assert "RETURNLENS_DUCKDB_MEMORY_LIMIT=8MiB limits each DuckDB database" in str(err.value)


def _results_of_one_failed_model(run_results, message: str) -> list[dict]:
    """Write dbt's run_results.json of a build whose one model errored with `message` (one
    model built, one test skipped after it); the results, to change and write again."""
    results = [
        {
            "unique_id": "model.returnlens.kpi_return_processing_times",
            "status": "error",
            "message": message,
        },
        {"unique_id": "model.returnlens.stg_shop__orders", "status": "success", "message": None},
        {"unique_id": "test.returnlens.not_null_x.abc", "status": "skipped", "message": None},
    ]
    run_results.write_text(json.dumps({"results": results}))
    return results


def test_dbt_models_that_ran_out_of_memory_are_named_with_the_setting(budget, tmp_path):
    budget("4GiB")
    run_results = tmp_path / "run_results.json"
    # dbt's message as run_results.json holds it (seen in a real run with a 1.5 GiB budget)
    message = (
        "Runtime Error in model kpi_return_processing_times "
        "(models/marts/kpi/kpi_return_processing_times.sql)\n"
        "  Out of Memory Error: failed to allocate data of size 16.0 MiB (3.7 GiB/3.7 GiB used)\n"
        "  \n  Possible solutions:\n  * Reducing the number of threads (SET threads=X)"
    )
    results = _results_of_one_failed_model(run_results, message)
    error = dbt_out_of_memory(run_results)
    assert isinstance(error, MemoryBudgetExceeded)
    assert str(error).startswith("dbt (kpi_return_processing_times) ran out of memory")
    assert "Raise RETURNLENS_MEMORY_BUDGET" in str(error) and "3.7 GiB/3.7 GiB used" in str(error)
    results[0]["message"] = "Binder Error: column x not found"
    run_results.write_text(json.dumps({"results": results}))
    assert dbt_out_of_memory(run_results) is None


def test_dbt_models_that_found_the_disk_full_are_named_with_the_spill_folder(budget, tmp_path):
    """A 10M build whose spill folder's disk filled up failed with "dbt build failed: model
    kpi_return_processing_times: error", nothing about the disk (2026-11-29)."""
    cfg = budget("4GiB")
    run_results = tmp_path / "run_results.json"
    # dbt's message as run_results.json held it in that run (the spill file's path shortened)
    message = (
        "Runtime Error in model kpi_return_processing_times "
        "(models/marts/kpi/kpi_return_processing_times.sql)\n"
        '  IO Error: Could not write file "/data/spill/duckdb_temp_18284_0_storage_S64K-1.tmp": '
        "No space left on device"
    )
    results = _results_of_one_failed_model(run_results, message)
    said = dbt_disk_full(run_results)
    assert said is not None
    assert said.startswith("dbt (kpi_return_processing_times) found no space left on the disk")
    assert str(cfg.spill_dir) in said and "RETURNLENS_SPILL_DIR" in said
    assert str(cfg.warehouse.parent) in said and "docs/operations.md" in said
    results[0]["message"] = "Binder Error: column x not found"
    run_results.write_text(json.dumps({"results": results}))
    assert dbt_disk_full(run_results) is None


def _warehouse_with_order_lines(path, lines: int):
    with duckdb.connect(str(path)) as con:
        con.execute("create schema raw")
        con.execute(
            f"create table raw.order_lines as select range as order_line_id from range({lines})"
        )
    return path


@pytest.mark.parametrize(
    ("budget_gib", "lines", "threads"),
    [
        (4, 0, 2),  # nothing loaded yet (no raw.order_lines)
        (4, 1_000_000, 2),  # 1M order lines: two models at a time fit
        (4, 9_700_000, 1),  # 10M: two of the largest models side by side ran out of 2.4 GiB
        (8, 9_700_000, 2),  # a larger budget: each of two models has what one had at 4 GiB
        (2, 3_000_000, 1),
    ],
)
def test_dbt_builds_one_model_at_a_time_when_two_would_not_fit(
    budget, monkeypatch, tmp_path, budget_gib, lines, threads
):
    """Measured at 10M order lines under the default budget: dbt's two threads built
    fct_returns and rpt_referential_integrity side by side in one DuckDB database and both ran
    out of its 2.4 GiB (each fits alone). The threads follow the order lines loaded."""
    from returnlens.warehouse import dbt_threads

    monkeypatch.delenv("RETURNLENS_DBT_THREADS", raising=False)
    monkeypatch.setenv("RETURNLENS_MEMORY_BUDGET", f"{budget_gib}GiB")
    warehouse = tmp_path / "w.duckdb"
    if lines:
        _warehouse_with_order_lines(warehouse, lines)
    assert dbt_threads(settings(), warehouse)[0] == threads


def test_dbt_threads_can_be_set(budget, monkeypatch, tmp_path):
    from returnlens.warehouse import dbt_threads

    monkeypatch.setenv("RETURNLENS_DBT_THREADS", "1")
    assert dbt_threads(settings(), tmp_path / "none.duckdb")[0] == 1
    monkeypatch.setenv("RETURNLENS_DBT_THREADS", "x")
    with pytest.raises(SettingError, match="RETURNLENS_DBT_THREADS"):
        dbt_threads(settings(), tmp_path / "none.duckdb")
