"""Run the main Dagster job in-process, as `make run` and the tests do."""

from __future__ import annotations

import os
from pathlib import Path

from returnlens.config import PROJECT_ROOT, settings

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


def run_main_job(parse_dbt: bool = True, log_level: str = "INFO"):
    """Execute the `main` job in this process against the persistent Dagster instance."""
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
            run_config={"loggers": {"console": {"config": {"log_level": log_level}}}},
        )
