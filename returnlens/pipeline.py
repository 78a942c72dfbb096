"""Run the main Dagster job in-process, as `make run` and the tests do; choose the landing
folder for `returnlens run`; say what a run did (published or not, exports written or not).

Which landing folder a run reads (`choose_landing`):
- RETURNLENS_LANDING_DIR set: that folder, and it must hold files of a known source; missing,
  empty or holding none of them is an error naming the path (never demo data).
- not set: `<data dir>/landing` when it holds files of a known source; when it holds other files
  only, an error (they may be a shop's misnamed deliveries); when it is empty or absent, the demo
  shop in its own folder, `<data dir>/demo/landing` (generated there if needed), labelled as demo
  data in the publish log, the summary and the dashboard.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from returnlens.config import PROJECT_ROOT, settings
from returnlens.publish import is_demo_landing

PUBLISH_STEP = "serving__published_marts"
EXPORTS_STEP = "exports__signal_exports"

DAGSTER_YAML = """\
# Written by returnlens: one run at a time may write the DuckDB warehouse.
concurrency:
  runs:
    max_concurrent_runs: 1
  pools:
    default_limit: 1
telemetry:
  enabled: false
"""


def ensure_dagster_home() -> Path:
    """Point DAGSTER_HOME at a persistent folder (default data/dagster_home) with our config."""
    home = Path(os.environ.get("DAGSTER_HOME") or settings().data_dir / "dagster_home")
    home.mkdir(parents=True, exist_ok=True)
    os.environ["DAGSTER_HOME"] = str(home)
    cfg = home / "dagster.yaml"
    if not cfg.exists():
        cfg.write_text(DAGSTER_YAML, encoding="utf-8")
    return home


def has_landing_data(landing: Path) -> bool:
    """True when the landing zone holds at least one file of a known source."""
    from returnlens.ingest.contracts import ENTITIES
    from returnlens.ingest.loader import landing_files

    return any(landing_files(e, landing) for e in ENTITIES)


class LandingError(RuntimeError):
    """The landing folder cannot be used; the message names the path and what to do."""


@dataclass(frozen=True)
class Landing:
    """The landing folder a run reads, and whether it is the demo shop."""

    path: Path
    is_demo: bool
    configured: bool  # RETURNLENS_LANDING_DIR names it
    needs_demo: bool = False  # the demo folder has no data yet: generate it first


def demo_landing_dir() -> Path:
    """The demo shop's own landing folder, `<data dir>/demo/landing`: never a shop's."""
    return settings().data_dir / "demo" / "landing"


def _visible_files(folder: Path) -> list[Path]:
    """Files under a folder, hidden ones (`.DS_Store`, `.gitkeep`) left out."""
    if not folder.is_dir():
        return []
    return sorted(
        p
        for p in folder.rglob("*")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    )


def _expected_names(limit: int = 3) -> str:
    from returnlens.ingest.contracts import ENTITIES

    return ", ".join(f"{e.source}/{e.pattern}" for e in ENTITIES[:limit])


def _no_data_problem(landing: Path) -> str | None:
    """Why a folder is no landing zone with data, or None when it holds a known source's file."""
    if not landing.exists():
        return "does not exist"
    if not landing.is_dir():
        return "is not a folder"
    if has_landing_data(landing):
        return None
    files = _visible_files(landing)
    if not files:
        return "is empty"
    shown = ", ".join(str(f.relative_to(landing)) for f in files[:3])
    return (
        f"holds {len(files)} file(s) ({shown}{', ...' if len(files) > 3 else ''}), but none "
        "whose folder and name a landing contract knows"
    )


def choose_landing() -> Landing:
    """The landing folder `returnlens run` reads (see the module docstring); `LandingError`
    when a configured or non-empty folder has no usable data (never falls back to the demo)."""
    cfg = settings()
    demo = demo_landing_dir()
    how_to = (
        "Put the shop's files there, one folder per source named as docs/contracts/ describes "
        f"(e.g. {_expected_names()})"
    )
    if os.environ.get("RETURNLENS_LANDING_DIR"):
        landing = cfg.landing_dir
        problem = _no_data_problem(landing)
        if problem:
            raise LandingError(
                f"RETURNLENS_LANDING_DIR points at {landing}, which {problem}. Returnlens never "
                f"generates demo data into a configured landing folder. Fix the path, or "
                f"{how_to[0].lower()}{how_to[1:]}; or unset RETURNLENS_LANDING_DIR to run the "
                f"demo shop in {demo}."
            )
        return Landing(landing, is_demo_landing(landing), configured=True)
    landing = cfg.landing_dir
    problem = _no_data_problem(landing)
    if problem is None:
        return Landing(landing, is_demo_landing(landing), configured=False)
    if landing.exists() and problem not in ("is empty", "does not exist"):
        raise LandingError(
            f"The landing folder {landing} {problem}. It is not replaced by the demo shop: "
            f"{how_to}, or move them away to run the demo shop in {demo}. Set "
            "RETURNLENS_LANDING_DIR to read another folder."
        )
    return Landing(demo, True, configured=False, needs_demo=not has_landing_data(demo))


def dev_landing_dir() -> str:
    """For `make dev`: the demo folder when `returnlens run` would use it and it holds data
    (the Dagster UI then reads what `make run` published), else "" (the configured default)."""
    try:
        landing = choose_landing()
    except LandingError:
        return ""
    if landing.configured or landing.needs_demo or landing.path == settings().landing_dir:
        return ""
    return str(landing.path)


DBT_STEP = "returnlens_dbt_assets"


def dbt_build_config(
    full_refresh: bool = False, backfill_start: str | None = None, backfill_end: str | None = None
) -> dict:
    """The dbt step's run config: how the incremental models are built (docs/operations.md)."""
    config: dict = {"full_refresh": full_refresh}
    if backfill_start is not None or backfill_end is not None:
        config |= {"backfill_start": backfill_start, "backfill_end": backfill_end}
    return {"ops": {DBT_STEP: {"config": config}}}


def run_main_job(
    parse_dbt: bool = True,
    log_level: str = "INFO",
    *,
    full_refresh: bool = False,
    backfill_start: str | None = None,
    backfill_end: str | None = None,
):
    """Execute the `main` job in this process against the persistent Dagster instance:
    incremental models built incrementally, fully with `full_refresh`, and the orders of
    backfill_start..backfill_end (ISO dates, inclusive) built again when given."""
    import dagster as dg

    from returnlens.dbt_runner import parse

    ensure_dagster_home()
    if parse_dbt:
        parse(PROJECT_ROOT)
    from orchestration.definitions import defs

    definitions = defs() if callable(defs) else defs
    job = definitions.resolve_job_def("main")
    with dg.DagsterInstance.get() as instance:
        return job.execute_in_process(
            instance=instance,
            raise_on_error=False,
            run_config={
                "loggers": {"console": {"config": {"log_level": log_level}}},
                **dbt_build_config(full_refresh, backfill_start, backfill_end),
            },
        )


def _error_text(error) -> str:
    """Our own message of a step failure: the innermost non-Dagster error, without its class."""
    while error.cause is not None and (error.cls_name or "").startswith("Dagster"):
        error = error.cause
    text = (error.message or "").strip()
    head, sep, rest = text.partition(": ")
    return rest if sep and " " not in head else text


@dataclass
class RunOutcome:
    """What a run of the main job did, step by step, for a person to read."""

    run_id: str
    success: bool
    published: bool
    exports: str  # "written", "failed" or "not run"
    failed_steps: dict[str, str] = field(default_factory=dict)
    failed_checks: list[str] = field(default_factory=list)
    metadata: dict[str, dict] = field(default_factory=dict)

    def report(self, serving: Path, publish_id: str | None, elapsed: float) -> str:
        """The lines `returnlens run` prints: published yes/no, exports, what failed and why."""
        state = "succeeded" if self.success else "FAILED"
        lines = [f"The main job {state} after {elapsed:.0f} s (run {self.run_id})."]
        if self.published:
            lines.append(f"  published: yes, {serving} (publish {publish_id})")
        else:
            lines.append(
                f"  published: no; nothing was published, the last good serving database "
                f"{serving} is unchanged."
            )
        export_meta = self.metadata.get(EXPORTS_STEP, {})
        if self.exports == "written":
            lines.append(
                f"  exports: written to {export_meta.get('export_dir')} (alerts of "
                f"{export_meta.get('suppliers')} supplier(s), see {export_meta.get('index')}; "
                f"review queue {export_meta.get('review_queue_rows')} line(s))"
            )
        elif self.exports == "failed":
            lines.append(f"  exports: FAILED: {self.failed_steps.get(EXPORTS_STEP)}")
        else:
            lines.append("  exports: not run (they are written after a publish)")
        if self.failed_checks:
            lines.append(f"  failed checks (gates): {', '.join(self.failed_checks)}")
        for step, message in self.failed_steps.items():
            if step != EXPORTS_STEP:
                lines.append(f"  failed step {step}: {message}")
        return "\n".join(lines)


def run_outcome(result) -> RunOutcome:
    """Read a finished run's events: which steps succeeded or failed, and why."""
    succeeded = {e.step_key for e in result.all_events if e.is_step_success}
    failed = {
        e.step_key: _error_text(e.event_specific_data.error)
        for e in result.all_events
        if e.is_step_failure and getattr(e.event_specific_data, "error", None) is not None
    }
    failed.update(
        {
            e.step_key: "failed"
            for e in result.all_events
            if e.is_step_failure and e.step_key not in failed
        }
    )
    checks = sorted(
        {
            e.event_specific_data.check_name
            for e in result.all_events
            if e.event_type_value == "ASSET_CHECK_EVALUATION" and not e.event_specific_data.passed
        }
    )
    metadata = {
        e.step_key: {k: v.value for k, v in e.event_specific_data.materialization.metadata.items()}
        for e in result.all_events
        if e.event_type_value == "ASSET_MATERIALIZATION"
        and e.step_key in (PUBLISH_STEP, EXPORTS_STEP)
    }
    exports = (
        "written"
        if EXPORTS_STEP in succeeded
        else "failed"
        if EXPORTS_STEP in failed
        else "not run"
    )
    return RunOutcome(
        run_id=result.run_id,
        success=result.success,
        published=PUBLISH_STEP in succeeded,
        exports=exports,
        failed_steps=failed,
        failed_checks=checks,
        metadata=metadata,
    )
