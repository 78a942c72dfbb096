"""Fresh quality feedback (issue 16): the landing sensor starts a run when a returns file lands
(the `returns_alerts` job), and that run brings the supplier alert export up to date.

Real components throughout: the code location's definitions, the sensor evaluated against a real
Dagster instance in the test's own DAGSTER_HOME with its cursor carried from tick to tick, the
job the sensor names executed in process with the run request's run config, tags and selection
(as the daemon would launch it), the incremental models off the alert path left as the first run
built them by the run after the drop (the pipeline's record of its incremental models says so),
real dbt, GX and DuckDB files, and the exports read from disk.

The demo shop (seed 11, scale 0.1: the e2e shop, whose alerts include the planted small-sizing
suppliers) lands without its latest returns file; the first run publishes; then that file is
dropped into the landing folder. What the alerts should say is counted from the landing files
with the csv module (the alert rules' successes and trials per supplier, product and batch),
never read from the marts.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import time
from collections import Counter
from pathlib import Path

import duckdb
import pytest

from tests.integration.pipeline_env import SensorTicks

pytestmark = [pytest.mark.integration, pytest.mark.slow]

# the incremental models reading the change log that the returns_alerts job builds
ALERT_PATH_READERS = (
    "stg_shop__orders",
    "int_order_lines_joined_to_returns",
    "fct_order_lines",
    "fct_returns",
)
SEED = 11
SCALE = 0.1
SENSOR = "landing_files_sensor"
CHANGED_TAG = "returnlens/changed_files"
REMOVED_TAG = "returnlens/removed_files"
DEFECT_DAMAGE = {"DEFECTIVE", "DAMAGED_IN_TRANSIT"}
# the order-line rules count order lines, the sizing rules return lines (the rules' definitions
# in int_quality_rules_scored_by_week, restated as the test's own facts)
RULE_COUNTS = {
    "return_rate": ("returned_lines", "order_lines"),
    "defect_damage": ("defect_damage_lines", "order_lines"),
    "runs_small": ("too_small", "return_lines"),
    "runs_large": ("too_large", "return_lines"),
}


def _rows(paths) -> list[dict]:
    rows = []
    for path in sorted(paths):
        with path.open(encoding="utf-8", newline="") as fh:
            rows.extend(csv.DictReader(fh))
    return rows


def evidence_from_files(landing: Path) -> dict[tuple[str, str], Counter]:
    """Per (level, subject id) of the supplier, product and batch levels (a batch the batch
    export lists): order lines, lines with a return, lines with a defect/damage return, return
    lines, too-small and too-large return lines, counted from the landing files."""
    products = {r["sku"]: r for r in _rows([landing / "shop" / "products.csv"])}
    batches = {r["batch_id"] for r in _rows([landing / "purchasing" / "batches.csv"])}
    lines = {r["order_line_id"]: r for r in _rows((landing / "shop").glob("order_lines_*.csv"))}
    returns = _rows((landing / "returns").glob("returns_*.csv"))
    codes_by_line: dict[str, list[str]] = {}
    for r in returns:
        codes_by_line.setdefault(r["order_line_id"], []).append(r["reason_code"])
    counts: dict[tuple[str, str], Counter] = {}
    for line_id, line in lines.items():
        product = products[line["sku"]]
        codes = codes_by_line.get(line_id, [])
        keys = [("supplier", product["supplier_id"]), ("product", product["product_id"])]
        if line["batch_id"] in batches:
            keys.append(("batch", line["batch_id"]))
        for key in keys:
            c = counts.setdefault(key, Counter())
            c["order_lines"] += 1
            c["returned_lines"] += bool(codes)
            c["defect_damage_lines"] += any(code in DEFECT_DAMAGE for code in codes)
            c["return_lines"] += len(codes)
            c["too_small"] += codes.count("SIZE_TOO_SMALL")
            c["too_large"] += codes.count("SIZE_TOO_LARGE")
    return counts


def read_alert_export(export_dir: Path) -> dict:
    """The alert export as a reader finds it: index.csv and the files it names."""
    folder = export_dir / "quality_alerts"
    index = _rows([folder / "index.csv"])
    alerts = {}
    for entry in index:
        rows = _rows([folder / entry["csv_file"]])
        assert len(rows) == int(entry["alerts"]), entry
        assert all(r["supplier_id"] == entry["supplier_id"] for r in rows), entry
        assert json.loads((folder / entry["json_file"]).read_text())["recipient"] == (
            entry["supplier_id"] or None
        )
        alerts.update({r["alert_id"]: r for r in rows})
    files = {f.name for f in folder.iterdir()}
    named = {e[k] for e in index for k in ("csv_file", "json_file")} | {"index.csv"}
    assert files == named, files ^ named  # no stale file of an earlier state
    return {"alerts": alerts, "index_mtime_ns": (folder / "index.csv").stat().st_mtime_ns}


def assert_alert_counts_match_files(alerts: dict, evidence: dict) -> None:
    assert alerts, "no alert to check"
    for alert_id, alert in alerts.items():
        counts = evidence[(alert["subject_level"], alert["subject_id"])]
        successes, trials = RULE_COUNTS[alert["alert_rule"]]
        got = (int(alert["successes"]), int(alert["trials"]))
        assert got == (counts[successes], counts[trials]), (alert_id, got, dict(counts))


def latest_publish(serving: Path) -> tuple[str, object]:
    with duckdb.connect(str(serving), read_only=True) as con:
        return con.execute(
            "select publish_id, published_at from marts.publish_log "
            "order by published_at desc limit 1"
        ).fetchone()


def built_fully(warehouse: Path) -> dict[str, bool]:
    """Incremental model -> whether the last run built it fully (the pipeline's record)."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return dict(
            con.execute(
                "select relation_name, built_fully from returnlens_state.incremental_models"
            ).fetchall()
        )


def settle(path: Path, seconds_ago: float = 120) -> None:
    """Make a file look fully copied (older than the sensor's settle time)."""
    then = time.time() - seconds_ago
    os.utime(path, (then, then))


def test_issue16_a_returns_file_landing_starts_a_run_that_updates_the_alert_export(
    private_data_dir, tmp_path, monkeypatch
):
    import dagster as dg

    from returnlens.config import settings
    from returnlens.demo.generator import generate
    from returnlens.exports import default_export_dir
    from returnlens.pipeline import ensure_dagster_home, run_outcome

    monkeypatch.delenv("RETURNLENS_EXPORTS_DIR", raising=False)
    cfg = settings()
    landing = cfg.landing_dir
    generate(landing, seed=SEED, scale=SCALE)
    truth = json.loads((landing / "ground_truth.json").read_text())
    # the latest returns file arrives later: hold it back
    held_back = sorted((landing / "returns").glob("returns_*.csv"))[-1]
    waiting = tmp_path / "inbox" / held_back.name
    waiting.parent.mkdir()
    shutil.move(held_back, waiting)
    source_files = [p for p in landing.glob("*/*") if p.is_file()]
    for path in landing.rglob("*"):
        settle(path, 3600)

    ensure_dagster_home()
    from orchestration.definitions import defs

    definitions = defs()
    export_dir = default_export_dir()

    with dg.DagsterInstance.get() as instance:
        tick = SensorTicks(instance, definitions, SENSOR)

        def launch(request):
            """The run the daemon would launch for the request: its job, config, tags and
            selection (a request feature not forwarded here fails the test, not silently)."""
            assert request.asset_check_keys is None and request.asset_graph_subset is None
            assert not request.stale_assets_only
            job = definitions.resolve_job_def(request.job_name)
            result = job.execute_in_process(
                run_config=request.run_config or None,
                instance=instance,
                partition_key=request.partition_key,
                asset_selection=request.asset_selection,
                tags=request.tags,
                raise_on_error=False,
            )
            outcome = run_outcome(result)
            assert outcome.success and outcome.published, outcome.failed_steps
            assert outcome.exports == "written", outcome.failed_steps
            run = instance.get_run_by_id(result.run_id)
            assert run.tags[CHANGED_TAG] == request.tags[CHANGED_TAG]
            return result

        # 1. the shop's first delivery: one run request naming every landed file
        first_run_at = time.time()
        started = time.perf_counter()
        first = tick()
        assert len(first.run_requests) == 1, first.skip_message
        assert first.run_requests[0].job_name == "main"
        assert first.run_requests[0].tags[CHANGED_TAG] == str(len(source_files))
        launch(first.run_requests[0])
        built_first = built_fully(cfg.warehouse)
        before = read_alert_export(export_dir)
        publish_before = latest_publish(cfg.serving)
        first_run_s = time.perf_counter() - started

        # nothing new: the sensor skips, the cursor stays
        idle = tick()
        assert idle.run_requests == [] and "no new or changed" in idle.skip_message

        # 2. the returns file lands; while it may still be being copied, the sensor waits
        shutil.copy2(waiting, held_back)
        settle(held_back, 0)
        copying = tick()
        assert copying.run_requests == [] and "still being written" in copying.skip_message
        # copied with its own time kept (cp -p, rsync -t): older than the first run, so a run
        # that looked for files modified since the last run would miss it
        settle(held_back, time.time() - first_run_at + 60)
        second = tick()
        assert len(second.run_requests) == 1, second.skip_message
        request = second.run_requests[0]
        assert (request.tags[CHANGED_TAG], request.tags[REMOVED_TAG]) == ("1", "0")
        assert request.job_name == "returns_alerts"
        started = time.perf_counter()
        launch(request)
        built_second = built_fully(cfg.warehouse)
        after = read_alert_export(export_dir)
        publish_after = latest_publish(cfg.serving)
        second_run_s = time.perf_counter() - started
        print(f"first run {first_run_s:.0f} s, run after the drop {second_run_s:.0f} s")

    # the first run built the incremental models fully; the run after the drop (the alert
    # job) built the change log incrementally (it runs before the facts it reads the previous
    # build of), and the models reading it on its path, and left every other one and its
    # record as they were
    assert built_first and set(built_first.values()) == {True}, built_first
    on_path = ("stg_loader__changed_orders", *ALERT_PATH_READERS)
    built_again = [r for r in built_first if r.endswith(tuple(f'."{m}"' for m in on_path))]
    assert len(built_again) == len(on_path), sorted(built_first)
    assert {r: built_second[r] for r in built_again} == dict.fromkeys(built_again, False)
    assert {r: v for r, v in built_second.items() if r not in built_again} == {
        r: v for r, v in built_first.items() if r not in built_again
    }

    # the export is the new publish's
    assert publish_after[0] != publish_before[0] and publish_after[1] > publish_before[1]
    assert after["index_mtime_ns"] > before["index_mtime_ns"]

    # every alert (supplier, product, batch) counts exactly the files landed at its run
    evidence_after = evidence_from_files(landing)
    held_back.unlink()
    evidence_before = evidence_from_files(landing)
    assert_alert_counts_match_files(before["alerts"], evidence_before)
    assert_alert_counts_match_files(after["alerts"], evidence_after)

    # the planted small-sizing suppliers are alerted both times, and the new file's too-small
    # returns of theirs show in their alerts
    small = truth["signals"]["small_sizing"]["small_sizing_supplier_ids"]
    ids = [f"supplier:{s}:runs_small" for s in small]
    assert set(ids) <= set(before["alerts"]) & set(after["alerts"]), sorted(before["alerts"])
    changed = {
        alert_id: (
            int(after["alerts"][alert_id]["successes"])
            - int(before["alerts"][alert_id]["successes"])
        )
        for alert_id in ids
    }
    expected = {
        f"supplier:{s}:runs_small": evidence_after[("supplier", s)]["too_small"]
        - evidence_before[("supplier", s)]["too_small"]
        for s in small
    }
    assert changed == expected
    assert any(expected.values()), "the held-back file holds no too-small return of theirs"
