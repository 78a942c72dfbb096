"""Configuration, read from environment variables in one place, with embedded defaults."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _path(var: str, default: Path) -> Path:
    value = os.environ.get(var)
    return Path(value).resolve() if value else default


@dataclass(frozen=True)
class Settings:
    """Paths and knobs of one Returnlens installation."""

    data_dir: Path
    landing_dir: Path
    warehouse: Path
    serving: Path
    reports_dir: Path
    pii_salt: str
    duckdb_memory_limit: str
    duckdb_threads: int
    publish_parquet: bool


def settings() -> Settings:
    """Read the settings from the environment (call again after changing env vars)."""
    data_dir = _path("RETURNLENS_DATA_DIR", PROJECT_ROOT / "data")
    return Settings(
        data_dir=data_dir,
        landing_dir=_path("RETURNLENS_LANDING_DIR", data_dir / "landing"),
        warehouse=_path("RETURNLENS_WAREHOUSE", data_dir / "warehouse.duckdb"),
        serving=_path("RETURNLENS_SERVING", data_dir / "serving.duckdb"),
        reports_dir=_path("RETURNLENS_REPORTS_DIR", data_dir / "reports"),
        pii_salt=os.environ.get("RETURNLENS_PII_SALT", "returnlens-demo-salt"),
        duckdb_memory_limit=os.environ.get("RETURNLENS_DUCKDB_MEMORY_LIMIT", "4GB"),
        duckdb_threads=int(os.environ.get("RETURNLENS_DUCKDB_THREADS", str(os.cpu_count() or 2))),
        publish_parquet=os.environ.get("RETURNLENS_PUBLISH_PARQUET", "1")
        not in ("0", "false", "no"),
    )
