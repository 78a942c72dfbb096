"""The main job, its daily schedule and the landing-folder sensor."""

import hashlib
import json
import os
import time
from pathlib import Path

import dagster as dg

from returnlens.adapters import adapter_entities
from returnlens.config import settings
from returnlens.ingest.contracts import ENTITIES
from returnlens.ingest.landing import inventory
from returnlens.ingest.loader import landing_files

main_job = dg.define_asset_job(
    name="main",
    selection=dg.AssetSelection.all(),
    description="Load the landing zone, build and test the marts, run the gates, publish.",
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


def _read_cursor(cursor: str | None) -> dict[str, str]:
    """The file stamps the last run request saw; an empty or unreadable cursor means none."""
    if not cursor:
        return {}
    try:
        value = json.loads(cursor)
    except ValueError:  # a cursor from an older version (a bare fingerprint): start afresh
        return {}
    return value if isinstance(value, dict) else {}


@dg.sensor(job=main_job, minimum_interval_seconds=60, default_status=dg.DefaultSensorStatus.RUNNING)
def landing_files_sensor(context: dg.SensorEvaluationContext):
    """Start the main job when a landing file is new or changed (by name, size and mtime).

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
    context.log.info(
        f"{len(changed)} new or changed, {len(removed)} removed landing file(s): "
        + ", ".join(changed[:10])
    )
    return dg.RunRequest(
        run_key=fingerprint,
        tags={
            "returnlens/changed_files": str(len(changed)),
            "returnlens/removed_files": str(len(removed)),
        },
    )


@dg.definitions
def defs() -> dg.Definitions:
    """Job, schedule and sensor."""
    return dg.Definitions(
        jobs=[main_job], schedules=[daily_schedule], sensors=[landing_files_sensor]
    )
