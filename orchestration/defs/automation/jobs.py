"""The main job, its daily schedule, the returns alert job and the landing-folder sensor.

`returns_alerts` (issue 16, fresh quality feedback) rebuilds only what a new returns file
changes in the supplier quality alerts: the returns loads, the raw returns gate, the dbt models
on the path from source `returns` to `sig_quality_alerts`, the gates of those models, a publish
of those marts (the other marts stay as published before) and the exports. The sensor starts it
when every new or changed landing file is a returns delivery, and `main` for anything else.
"""

import hashlib
import json
import os
import time
from pathlib import Path

import dagster as dg
from dagster_dbt import build_dbt_asset_selection

from orchestration.defs.adapters.assets import adapter_key
from orchestration.defs.transform.dbt import returnlens_dbt_assets
from returnlens.adapters import adapter_entities
from returnlens.config import settings
from returnlens.ingest.contracts import ENTITIES
from returnlens.ingest.landing import inventory
from returnlens.ingest.loader import landing_files
from returnlens.profile import ProfileError, landing_entities

main_job = dg.define_asset_job(
    name="main",
    selection=dg.AssetSelection.all(),
    description="Load the landing zone, build and test the marts, run the gates, publish.",
    executor_def=dg.in_process_executor,
)

# the raw table a returns delivery loads into, and the mart the alert job brings up to date
RETURNS_ENTITY = "returns"
ALERTS_MART = "sig_quality_alerts"

# every model between the returns source and the alerts, and nothing else: an unselected model
# (incremental or not) is left as it is in the warehouse. The change log is among them:
# fct_order_lines and fct_returns declare it, since it reads their previous build, so it is
# built before them here too (docs/plans/incremental-facts.md, review H1)
ALERT_MODELS = sorted(
    build_dbt_asset_selection(
        [returnlens_dbt_assets], dbt_select=f"source:returns.{RETURNS_ENTITY}+,+{ALERTS_MART}"
    ).resolve([returnlens_dbt_assets])
)

returns_alerts_job = dg.define_asset_job(
    name="returns_alerts",
    selection=(
        dg.AssetSelection.assets(
            ["raw", RETURNS_ENTITY],
            *(
                adapter_key(e.source, e.name)
                for e in adapter_entities()
                if e.name == RETURNS_ENTITY
            ),
            # the landing inventory erases forgotten customers' free text in the new rows too
            ["raw", "load_audit"],
            # as keys, so that their gates (the GX suites on them) are selected with them
            *ALERT_MODELS,
            ["serving", "published_marts"],
            ["exports", "signal_exports"],
        )
    ),
    description=(
        "A returns file landed: load the returns, rebuild the models from the returns source "
        f"to {ALERTS_MART}, gate them, publish those marts (the others stay as published) and "
        "write the exports. The next main run brings every other mart up to date."
    ),
    executor_def=dg.in_process_executor,
)

daily_schedule = dg.ScheduleDefinition(
    name="daily_main",
    job=main_job,
    cron_schedule="0 6 * * *",
    execution_timezone="Europe/Amsterdam",
    default_status=dg.DefaultScheduleStatus.RUNNING,
)

# A file modified less than this many seconds ago may still be being copied: wait a tick.
SETTLE_SECONDS = float(os.environ.get("RETURNLENS_LANDING_SETTLE_SECONDS", "30"))


def landing_stamps(landing: Path, settle_seconds: float | None = None) -> tuple[dict, list]:
    """(settled files -> "size:mtime_ns", files still being written) under the landing folder;
    a file is still being written when modified in the last `settle_seconds` (SETTLE_SECONDS
    as it is when called)."""
    settle_seconds = SETTLE_SECONDS if settle_seconds is None else settle_seconds
    stamps: dict[str, str] = {}
    busy: list[str] = []
    now = time.time()
    entities = (*ENTITIES, *adapter_entities())  # platform files (bol/, sendcloud/) too
    for e in entities:
        for p in landing_files(e, landing):
            try:
                st = p.stat()
            except FileNotFoundError:  # removed between listing and stat
                continue
            rel = str(p.relative_to(landing))
            if now - st.st_mtime < settle_seconds:
                busy.append(rel)
            else:
                stamps[rel] = f"{st.st_size}:{st.st_mtime_ns}"
    # files the loader does not load (unrecognised, refused) trigger a run too, so that they
    # appear on Data health and in the load summary soon after they land
    for entry in inventory(landing, entities):
        if entry.status != "ignored":
            stamps.setdefault(entry.name, f"{entry.status}:{entry.size}")
    return stamps, busy


def returns_deliveries(landing: Path) -> set[str]:
    """The landing files (relative names) that are returns deliveries and nothing else: files of
    the returns entity as the shop profile shapes it (its folder and declared deliveries) or of
    a platform adapter loading raw.returns, that no other entity also reads. None of them when the
    shop profile cannot be read: the main job then runs and its ingest reports the profile."""
    try:
        shaped = landing_entities(landing)
    except ProfileError:
        return set()
    entities = (*shaped, *adapter_entities())
    returns: set[str] = set()
    other: set[str] = set()
    for e in entities:
        names = {str(p.relative_to(landing)) for p in landing_files(e, landing)}
        (returns if e.name == RETURNS_ENTITY else other).update(names)
    return returns - other


def _read_cursor(cursor: str | None) -> dict[str, str]:
    """The file stamps the last run request saw; an empty or unreadable cursor means none."""
    if not cursor:
        return {}
    try:
        value = json.loads(cursor)
    except ValueError:  # a cursor from an older version (a bare fingerprint): start afresh
        return {}
    return value if isinstance(value, dict) else {}


@dg.sensor(
    jobs=[main_job, returns_alerts_job],
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def landing_files_sensor(context: dg.SensorEvaluationContext):
    """Start a run when a landing file is new or changed (by name, size and mtime): the
    `returns_alerts` job when every new or changed file is a returns delivery and none was
    removed, else the main job.

    The cursor is the JSON map of file -> size:mtime seen at the last run request, so the run's
    tags name what changed; files modified in the last RETURNLENS_LANDING_SETTLE_SECONDS are left
    for the next tick (they may still be being copied); removed files count as a change too.
    """
    landing = settings().landing_dir
    if not landing.is_dir():
        return dg.SkipReason(f"landing folder {landing} does not exist")
    stamps, busy = landing_stamps(landing)
    seen = _read_cursor(context.cursor)
    changed = sorted(f for f, s in stamps.items() if seen.get(f) != s)
    removed = sorted(f for f in seen if f not in stamps and f not in busy)
    if not stamps and not busy:
        return dg.SkipReason(f"no landing files under {landing}")
    if not changed and not removed:
        wait = f"; {len(busy)} file(s) still being written" if busy else ""
        return dg.SkipReason(f"no new or changed landing files{wait}")
    # keep the stamps of busy files as they were, so they count as changed once settled
    cursor = {**{f: seen[f] for f in busy if f in seen}, **stamps}
    context.update_cursor(json.dumps(cursor, sort_keys=True))
    fingerprint = hashlib.sha256(json.dumps(cursor, sort_keys=True).encode()).hexdigest()
    only_returns = not removed and set(changed) <= returns_deliveries(landing)
    job = returns_alerts_job if only_returns else main_job
    context.log.info(
        f"{len(changed)} new or changed, {len(removed)} removed landing file(s), job "
        f"{job.name}: " + ", ".join(changed[:10])
    )
    return dg.RunRequest(
        run_key=fingerprint,
        job_name=job.name,
        tags={
            "returnlens/changed_files": str(len(changed)),
            "returnlens/removed_files": str(len(removed)),
        },
    )


@dg.definitions
def defs() -> dg.Definitions:
    """Jobs, schedule and sensor."""
    return dg.Definitions(
        jobs=[main_job, returns_alerts_job],
        schedules=[daily_schedule],
        sensors=[landing_files_sensor],
    )
