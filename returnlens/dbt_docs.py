"""`make docs`: the dbt docs site of the built warehouse (lineage, exposures, columns), served
locally.

`dbt docs generate` runs against the warehouse `make run` built, so the catalog holds the real
relations and their column types, with the shop profile's vars as the run used them; it writes
into its own folder (`<target>/docs`, never the `target/` the Dagster code location reads). Then
`dbt docs serve` serves that folder on 127.0.0.1.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from returnlens.config import PROJECT_ROOT, settings
from returnlens.dbt_runner import dbt_executable, location_args

DEFAULT_PORT = 8080
PORT_ENV = "RETURNLENS_DOCS_PORT"


class DocsSiteError(RuntimeError):
    """The docs site cannot be generated: the message says why and what to do."""


def docs_target_path() -> Path:
    """Where the docs site is written: `docs/` under dbt's target folder (DBT_TARGET_PATH)."""
    target = Path(os.environ.get("DBT_TARGET_PATH", "target"))
    return (target if target.is_absolute() else PROJECT_ROOT / target) / "docs"


def _run_env_and_vars() -> tuple[dict[str, str], str]:
    """The environment and dbt vars of the landing folder `make run` reads (its shop profile)."""
    from returnlens.pipeline import LandingError, choose_landing
    from returnlens.profile import ShopProfile, dbt_vars_json, load_profile

    env = {**os.environ, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    try:
        landing = choose_landing()
    except LandingError:
        return env, dbt_vars_json(ShopProfile())
    env["RETURNLENS_LANDING_DIR"] = str(landing.path)  # as `returnlens run` sets it
    return env, dbt_vars_json(load_profile(landing.path))


def generate(project_dir: Path = PROJECT_ROOT, target_path: Path | None = None) -> Path:
    """`dbt docs generate` against the built warehouse; return the folder of the site."""
    warehouse = settings().warehouse
    if not warehouse.exists():
        raise DocsSiteError(
            f"No warehouse at {warehouse} yet: run `make run` first (the docs site describes "
            "the relations a run built), or point RETURNLENS_WAREHOUSE at a built warehouse."
        )
    target = Path(target_path) if target_path else docs_target_path()
    env, dbt_vars = _run_env_and_vars()
    proc = subprocess.run(
        [
            dbt_executable(),
            "docs",
            "generate",
            *location_args(project_dir, target, target / "logs"),
            "--vars",
            dbt_vars,
        ],
        cwd=project_dir,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        output = (proc.stdout + proc.stderr).strip().splitlines()
        hint = (
            " The warehouse is in use by a run (`make dev` or `make run`): wait until it ends."
            if any("lock" in line.lower() for line in output)
            else ""
        )
        raise DocsSiteError(
            f"`dbt docs generate` failed against {warehouse}.{hint}\n" + "\n".join(output[-15:])
        )
    return target


def serve_command(
    target: Path, port: int, project_dir: Path = PROJECT_ROOT, host: str = "127.0.0.1"
) -> list[str]:
    """The `dbt docs serve` command line for a generated site."""
    return [
        dbt_executable(),
        "docs",
        "serve",
        *location_args(project_dir, target, target / "logs"),
        "--host",
        host,
        "--port",
        str(port),
        "--no-browser",
    ]
