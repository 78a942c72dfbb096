"""The main job, its daily schedule and the landing-folder sensor."""

import hashlib

import dagster as dg

from returnlens.config import settings
from returnlens.ingest.contracts import ENTITIES
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


@dg.sensor(job=main_job, minimum_interval_seconds=60, default_status=dg.DefaultSensorStatus.RUNNING)
def landing_files_sensor(context: dg.SensorEvaluationContext):
    """Start the main job when a landing file is new or changed (by name, size and mtime)."""
    landing = settings().landing_dir
    stamps = []
    for e in ENTITIES:
        for p in landing_files(e, landing):
            st = p.stat()
            stamps.append(f"{p.relative_to(landing)}:{st.st_size}:{st.st_mtime_ns}")
    fingerprint = hashlib.sha256("|".join(sorted(stamps)).encode()).hexdigest()
    if not stamps:
        return dg.SkipReason(f"no landing files under {landing}")
    if fingerprint == context.cursor:
        return dg.SkipReason("no new or changed landing files")
    context.update_cursor(fingerprint)
    return dg.RunRequest(run_key=fingerprint)


@dg.definitions
def defs() -> dg.Definitions:
    """Job, schedule and sensor."""
    return dg.Definitions(
        jobs=[main_job], schedules=[daily_schedule], sensors=[landing_files_sensor]
    )
