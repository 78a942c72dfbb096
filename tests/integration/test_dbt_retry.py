"""A dbt build that runs out of DuckDB memory gets one more try in a fresh dbt process
(returnlens.dbt_retry; issue 16: one 10M build in four ran out of memory in a model that
completes alone with a fifth of the limit).

Real components: the demo shop's warehouse from the session's main run (a copy), the Dagster
dbt step and real dbt processes under a DuckDB memory limit too small for some models. The
expectations come from dbt's own run results of each invocation, read here: which nodes
finished in the first, which the second ran.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import pytest

from returnlens.dbt_retry import merge_run_results, retry_after_out_of_memory
from returnlens.profile import dbt_vars_json, load_profile
from tests.integration.pipeline_env import materialize_dbt_step, step_failure
from tests.integration.test_referential_defects import dbt

pytestmark = [pytest.mark.integration, pytest.mark.slow]

FINISHED = {"success", "pass", "warn", "no-op"}
TIGHT = "24MiB"  # enough for the step's own queries, too little for many models


def _results(path: Path) -> dict[str, str]:
    return {r["unique_id"]: r["status"] for r in json.loads(path.read_text())["results"]}


def _marts(warehouse: Path) -> dict[str, int]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        tables = con.execute(
            "select table_name from information_schema.tables where table_schema = 'marts'"
        ).fetchall()
        return {
            t: con.execute(f'select count(*) from marts."{t}"').fetchall()[0][0] for (t,) in tables
        }


@pytest.fixture(scope="module")
def starved_build(pipeline_run, tmp_path_factory):
    """The dbt step run once on a copy of the session's warehouse with DuckDB limited to
    `TIGHT`: its result, its log and the run results of each dbt invocation it made, in order."""
    tmp_path = tmp_path_factory.mktemp("starved")
    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copy(pipeline_run.warehouse, warehouse)
    target_root = tmp_path / "target"
    before = _marts(warehouse)
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setenv("RETURNLENS_WAREHOUSE", str(warehouse))
        monkeypatch.setenv("RETURNLENS_LANDING_DIR", str(pipeline_run.landing))
        monkeypatch.setenv("DBT_TARGET_PATH", str(target_root))
        monkeypatch.setenv("RETURNLENS_DUCKDB_MEMORY_LIMIT", TIGHT)
        result, logs = materialize_dbt_step()
    invocations = sorted(
        (
            p
            for p in target_root.glob("returnlens_dbt_assets-*")
            if (p / "run_results.json").exists()
        ),
        key=lambda p: (p / "run_results.json").stat().st_mtime,
    )
    return {
        "result": result,
        "logs": logs,
        "invocations": invocations,
        "warehouse": warehouse,
        "landing": pipeline_run.landing,
        "before": before,
    }


def test_a_build_out_of_memory_is_tried_once_more_with_only_what_did_not_finish(starved_build):
    result, invocations = starved_build["result"], starved_build["invocations"]
    assert len(invocations) == 2, invocations  # the build and one retry, no more
    first = _results(invocations[0] / "run_results.json")
    second = _results(invocations[1] / "run_results.json")
    unfinished = {uid for uid, status in first.items() if status not in FINISHED}
    assert any(status == "error" for status in first.values())
    assert any(status in FINISHED for status in first.values())  # some finished
    # the retry ran exactly what had not finished: nothing built or tested twice
    assert set(second) == unfinished
    said = f"building the {len(unfinished)} node(s) that did not finish once more"
    assert sum(said in m for m in starved_build["logs"]) == 1
    # the limit is too small for the retry as well: the step fails naming the setting
    assert not result.success
    message = step_failure(result)
    assert f"RETURNLENS_DUCKDB_MEMORY_LIMIT={TIGHT} limits each DuckDB database" in message
    merged = _results(invocations[1] / "run_results.merged.json")
    assert set(merged) == set(first)
    assert all(merged[uid] == second[uid] for uid in second)


def test_the_retry_completes_a_build_when_the_memory_is_there(starved_build, tmp_path):
    """The first invocation's results (a real out-of-memory build) retried by a real dbt process
    with DuckDB's memory from the default budget: every node finishes, and the marts hold what
    the session's complete run built (the same raw data)."""
    first = starved_build["invocations"][0] / "run_results.json"
    retry = retry_after_out_of_memory(first)
    assert retry is not None and retry.out_of_memory
    target = tmp_path / "retry_target"
    vars_json = dbt_vars_json(load_profile(starved_build["landing"]))
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.delenv("RETURNLENS_DUCKDB_MEMORY_LIMIT", raising=False)
        done = dbt(
            [
                "build",
                "--exclude-resource-type",
                "unit_test",
                "--vars",
                vars_json,
                "--exclude",
                " ".join(retry.finished),
                "--indirect-selection",
                "empty",
            ],
            starved_build["warehouse"],
            target,
        )
    assert done.returncode == 0, done.stdout[-3000:]
    merged = _results(merge_run_results(first, target / "run_results.json"))
    assert set(merged) == set(_results(first))
    assert {s for s in merged.values()} <= FINISHED
    assert _marts(starved_build["warehouse"]) == starved_build["before"]


def test_the_step_running_out_of_memory_before_dbt_names_the_setting(pipeline_run, tmp_path):
    """Regression: with DuckDB limited to 8 MiB the step's own planning query (which
    incremental models to rebuild) ran out of memory and failed with DuckDB's bare error."""
    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copy(pipeline_run.warehouse, warehouse)
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setenv("RETURNLENS_WAREHOUSE", str(warehouse))
        monkeypatch.setenv("RETURNLENS_LANDING_DIR", str(pipeline_run.landing))
        monkeypatch.setenv("DBT_TARGET_PATH", str(tmp_path / "target"))
        monkeypatch.setenv("RETURNLENS_DUCKDB_MEMORY_LIMIT", "8MiB")
        result, _ = materialize_dbt_step()
    assert not result.success
    message = step_failure(result)
    assert "RETURNLENS_DUCKDB_MEMORY_LIMIT=8MiB limits each DuckDB database" in message, message
