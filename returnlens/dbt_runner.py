"""Keep dbt's manifest available for the Dagster code location."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from returnlens.config import PROJECT_ROOT


def dbt_executable() -> str:
    """The dbt next to the running interpreter (the project's venv), else the one on PATH."""
    candidate = Path(sys.executable).with_name("dbt")
    return str(candidate) if candidate.exists() else "dbt"


def parse(project_dir: Path = PROJECT_ROOT) -> None:
    """Run `dbt parse` to (re)write target/manifest.json."""
    subprocess.run(
        [
            dbt_executable(),
            "parse",
            "--quiet",
            "--project-dir",
            str(project_dir),
            "--profiles-dir",
            str(project_dir),
        ],
        check=True,
        cwd=project_dir,
        env={**os.environ, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"},
    )


def ensure_manifest(manifest_path: Path) -> None:
    """Parse the project when the manifest is missing (a fresh clone)."""
    if not Path(manifest_path).exists():
        parse()
