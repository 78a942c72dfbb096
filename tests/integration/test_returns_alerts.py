"""Fresh quality feedback (issue 16): a returns file starts the `returns_alerts` job, which
brings the alert mart and its export up to date and leaves everything else as it was.

Real components throughout: the code location's definitions, the landing sensor evaluated
against a real Dagster instance with its cursor carried from tick to tick, the job the request
names executed in process, real dbt, GX and DuckDB files. The demo shop (seed 11, scale 0.05)
lands without its latest returns file; a main run publishes; the file is dropped in and the
sensor's run follows. The expectations come from elsewhere: the alerts' counts from the landing
files (csv module, tests/integration/test_landing_sensor_run.py), the alert mart from a full
main run on the same landing afterwards, "unchanged" from the state before the alert run.
"""

from __future__ import annotations

import csv
import json
import shutil
import time
from pathlib import Path

import duckdb
import pytest

from returnlens.config import environment
from tests.integration.pipeline_env import SensorTicks
from tests.integration.test_landing_sensor_run import (
    assert_alert_counts_match_files,
    evidence_from_files,
    read_alert_export,
    settle,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SEED, SCALE = 11, 0.05
SENSOR = "landing_files_sensor"
ENV_VARS = (
    "RETURNLENS_DATA_DIR",
    "RETURNLENS_LANDING_DIR",
    "RETURNLENS_WAREHOUSE",
    "RETURNLENS_SERVING",
    "RETURNLENS_EXPORTS_DIR",
    "DAGSTER_HOME",
    "RETURNLENS_DUCKDB_THREADS",
)
ALERTS = "sig_quality_alerts"
KPI = "kpi_weekly_returns_by_category"  # built from returns, but not on the alerts' path


def rows(db: Path, relation: str) -> list[tuple]:
    """Every row of a relation, sorted (NULLs first), as Python values."""
    with duckdb.connect(str(db), read_only=True) as con:
        return sorted(
            con.execute(f"select * from {relation}").fetchall(),
            key=lambda r: tuple((v is not None, str(v)) for v in r),
        )


def publish_log(serving: Path) -> dict:
    with duckdb.connect(str(serving), read_only=True) as con:
        cur = con.execute("select * from marts.publish_log")
        names = [d[0] for d in cur.description]
        (row,) = cur.fetchall()
    return dict(zip(names, row, strict=True))


def parquet_state(serving: Path) -> dict:
    """The Parquet export as docs/bi.md says to read it: the manifest, and per table of the
    folder it names the file's inode and the publish id in the file's metadata."""
    root = serving.with_name(serving.stem + "_parquet")
    manifest = json.loads((root / "manifest.json").read_text(encoding="utf-8"))
    folder = root / manifest["folder"]
    files = {}
    with duckdb.connect() as con:
        for name, entry in manifest["tables"].items():
            path = folder / entry["file"]
            (embedded,) = con.execute(
                "select value::varchar from parquet_kv_metadata(?) "
                "where key::varchar = 'publish_id'",
                [str(path)],
            ).fetchone()
            files[name] = {"inode": path.stat().st_ino, "publish_id": embedded}
    return {"manifest": manifest, "files": files}


def incremental_state(warehouse: Path) -> dict[str, tuple]:
    """Incremental relation -> (its record in the pipeline's state, its rows)."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        records = con.execute(
            "select relation_name, definition_hash, built_at, built_fully "
            "from returnlens_state.incremental_models"
        ).fetchall()
    return {r[0]: (r[1:], rows(warehouse, r[0])) for r in records}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """main (without the latest returns file) → the file lands → the sensor's run → a main
    run on the same landing; with the sensor's requests and snapshots in between."""
    import dagster as dg

    from returnlens.demo.generator import generate

    root = tmp_path_factory.mktemp("returns_alerts")
    landing = root / "landing"
    generate(landing, seed=SEED, scale=SCALE)
    held_back = sorted((landing / "returns").glob("returns_*.csv"))[-1]
    waiting = root / "inbox" / held_back.name
    waiting.parent.mkdir()
    shutil.move(held_back, waiting)
    for path in landing.rglob("*"):
        settle(path, 3600)
    with environment(
        ENV_VARS,
        RETURNLENS_DATA_DIR=str(root / "data"),
        RETURNLENS_LANDING_DIR=str(landing),
        DAGSTER_HOME=str(root / "dagster_home"),
        RETURNLENS_DUCKDB_THREADS="1",  # double sums agree to the last bit
    ):
        from orchestration.definitions import defs
        from returnlens.config import settings
        from returnlens.exports import default_export_dir
        from returnlens.pipeline import ensure_dagster_home, run_outcome

        ensure_dagster_home()
        cfg = settings()
        definitions = defs()
        export_dir = default_export_dir()
        out: dict = {"landing": landing, "serving": cfg.serving, "export_dir": export_dir}
        with dg.DagsterInstance.get() as instance:
            ticks = SensorTicks(instance, definitions, SENSOR)

            def tick():
                data = ticks()
                assert len(data.run_requests) == 1, data.skip_message
                return data.run_requests[0]

            def launch(job_name: str, request=None) -> float:
                job = definitions.resolve_job_def(job_name)
                started = time.perf_counter()
                result = job.execute_in_process(
                    instance=instance,
                    tags=request.tags if request else None,
                    run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}},
                    raise_on_error=False,
                )
                outcome = run_outcome(result)
                assert outcome.success and outcome.published, outcome.failed_steps
                assert outcome.exports == "written", outcome.failed_steps
                return time.perf_counter() - started

            def snapshot() -> dict:
                """What the alert run may change and what it must leave as it was."""
                return {
                    "export": read_alert_export(export_dir),
                    "log": publish_log(cfg.serving),
                    "kpi": rows(cfg.serving, f"marts.{KPI}"),
                    "alerts": rows(cfg.serving, f"marts.{ALERTS}"),
                    "incremental": incremental_state(cfg.warehouse),
                    "parquet": parquet_state(cfg.serving),
                }

            first = tick()
            out["first_job"] = first.job_name
            launch(first.job_name, first)
            out["before"] = snapshot()
            shutil.copy2(waiting, held_back)
            settle(held_back, 600)
            second = tick()
            out["second_job"] = second.job_name
            out["alert_run_s"] = launch(second.job_name, second)
            out["after"] = snapshot()
            # the same landing through the main job: what the alert mart must equal
            launch("main")
            out["full"] = {
                "alerts": rows(cfg.serving, f"marts.{ALERTS}"),
                "kpi": rows(cfg.serving, f"marts.{KPI}"),
            }
            # which job other changes request (the sensor only; nothing more runs)
            requests = {}
            orders = sorted((landing / "shop").glob("order_lines_*.csv"))[-1]
            extra = orders.with_name("order_lines_9999-12-31.csv")
            shutil.copy2(orders, extra)
            settle(extra, 600)
            requests["an order lines file"] = tick().job_name
            extra.unlink()
            tick()  # back to the returns files only (a removal: main)
            extra_returns = held_back.with_name("returns_9999-12-31.csv")
            shutil.copy2(held_back, extra_returns)
            settle(extra_returns, 600)
            requests["another returns file"] = tick().job_name
            extra_returns.unlink()
            requests["a removed returns file"] = tick().job_name
            out["requests"] = requests
        yield out


def test_the_sensor_requests_returns_alerts_for_returns_files_only(runs):
    assert runs["first_job"] == "main"
    assert runs["second_job"] == "returns_alerts"
    assert runs["requests"] == {
        "an order lines file": "main",
        "another returns file": "returns_alerts",
        "a removed returns file": "main",
    }


def test_returns_alerts_updates_the_alert_mart_and_export(runs):
    before, after = runs["before"], runs["after"]
    print(f"returns_alerts run: {runs['alert_run_s']:.0f} s")
    assert after["export"]["index_mtime_ns"] > before["export"]["index_mtime_ns"]
    assert after["alerts"] != before["alerts"], "the new returns file changed no alert"
    # every exported alert counts exactly the files landed (the held-back file included)
    assert_alert_counts_match_files(after["export"]["alerts"], evidence_from_files(runs["landing"]))
    # the alert mart in serving is what a full main run on the same landing publishes
    assert after["alerts"] == runs["full"]["alerts"]


def test_returns_alerts_keeps_the_other_marts_as_published(runs):
    before, after = runs["before"], runs["after"]
    # the KPI mart is the one published before, though its inputs changed (main shows it)
    assert after["kpi"] == before["kpi"]
    assert runs["full"]["kpi"] != before["kpi"], "the returns file changes no weekly KPI"
    # the publish log says which marts this publish refreshed and when the others were
    log_before, log_after = before["log"], after["log"]
    refreshed_before = json.loads(log_before["refreshed_at"])
    refreshed_after = json.loads(log_after["refreshed_at"])
    assert log_after["publish_id"] != log_before["publish_id"]
    assert set(refreshed_before.values()) == {log_before["published_at"].isoformat()}
    assert refreshed_after[KPI] == refreshed_before[KPI]
    assert refreshed_after[ALERTS] == log_after["published_at"].isoformat()
    assert refreshed_after.keys() == refreshed_before.keys()
    # every mart the serving file holds is in the log, with its row count
    assert json.loads(log_after["tables"]).keys() == refreshed_after.keys()


def test_returns_alerts_builds_the_change_log_and_leaves_the_other_incremental_tables(runs):
    """The change log is built in the alert run too, before the facts it reads the previous
    build of (docs/plans/incremental-facts.md, review H1): it lists the orders of the returns
    file that landed (read here with the csv module); the models reading it on the alert
    path (stg_shop__orders, int_order_lines_joined_to_returns, fct_order_lines, fct_returns)
    are built
    incrementally from it (same definition, not built fully); every other incremental table is
    as the main run left it."""
    before, after = runs["before"]["incremental"], runs["after"]["incremental"]
    assert before, "no incremental model recorded after the main run"
    log = next(r for r in after if r.endswith('."stg_loader__changed_orders"'))
    readers = [
        r
        for r in after
        if r.endswith(
            (
                '."stg_shop__orders"',
                '."fct_order_lines"',
                '."int_order_lines_joined_to_returns"',
                '."fct_returns"',
            )
        )
    ]
    assert len(readers) == 4, sorted(after)
    assert {r: v for r, v in after.items() if r not in (log, *readers)} == {
        r: v for r, v in before.items() if r not in (log, *readers)
    }
    for reader in readers:
        (digest, built_at, fully), _ = after[reader]
        assert digest == before[reader][0][0] and built_at > before[reader][0][1], reader
        assert not fully, reader
    assert before[log][1] == []  # the main run was its first build: it lists nothing
    landed = sorted((runs["landing"] / "returns").glob("returns_*.csv"))[-1]
    with landed.open(encoding="utf-8", newline="") as fh:
        orders = {row["order_id"] for row in csv.DictReader(fh)}
    rows = after[log][1]  # change_seq, order_id, dates, cause
    assert {r[0] for r in rows} == {2}
    assert {r[1] for r in rows if r[-1] == "return_loaded"} == orders


def test_the_parquet_export_keeps_the_other_marts_files(runs):
    before, after = runs["before"]["parquet"], runs["after"]["parquet"]
    first, second = before["manifest"]["publish_id"], after["manifest"]["publish_id"]
    assert first != second and after["manifest"]["folder"] != before["manifest"]["folder"]
    tables = after["manifest"]["tables"]
    assert tables.keys() == before["manifest"]["tables"].keys()
    # the KPI mart: the earlier version's file itself (a hard link), of the first publish
    assert after["files"][KPI] == before["files"][KPI]
    assert after["files"][KPI]["publish_id"] == tables[KPI]["publish_id"] == first
    # the alerts and the publish log: written by this publish
    for name in (ALERTS, "publish_log"):
        assert after["files"][name]["publish_id"] == tables[name]["publish_id"] == second
        assert after["files"][name]["inode"] != before["files"][name]["inode"]
    assert tables[ALERTS]["published_at"] > tables[KPI]["published_at"]
