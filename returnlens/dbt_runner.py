"""Keep dbt's manifest available for the Dagster code location."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

from returnlens.config import PROJECT_ROOT


def dbt_executable() -> str:
    """The dbt of the running interpreter's venv, else of the project's venv, else on PATH."""
    for candidate in (
        Path(sys.executable).with_name("dbt"),
        Path(sys.prefix) / "bin" / "dbt",
        PROJECT_ROOT / ".venv" / "bin" / "dbt",
    ):
        if candidate.exists():
            return str(candidate)
    return shutil.which("dbt") or "dbt"


def location_args(
    project_dir: Path, target: Path | None = None, log_path: Path | None = None
) -> list[str]:
    """dbt's arguments for where the project (and its profiles.yml) is, and where to write the
    target and logs folders when they are not the project's own."""
    args = ["--project-dir", str(project_dir), "--profiles-dir", str(project_dir)]
    if target is not None:
        args += ["--target-path", str(target)]
    if log_path is not None:
        args += ["--log-path", str(log_path)]
    return args


def parse(project_dir: Path = PROJECT_ROOT) -> None:
    """Run `dbt parse` to (re)write target/manifest.json."""
    subprocess.run(
        [
            dbt_executable(),
            "parse",
            "--quiet",
            *location_args(project_dir),
        ],
        check=True,
        cwd=project_dir,
        env={**os.environ, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"},
    )


def ensure_manifest(manifest_path: Path, refresh: bool = False) -> None:
    """Parse the project when the manifest is missing (a fresh clone) or a refresh is asked."""
    if refresh or not Path(manifest_path).exists():
        parse()


def manifest_path() -> Path:
    """target/manifest.json of the project (DBT_TARGET_PATH honoured, as dbt and Dagster do)."""
    return PROJECT_ROOT / os.environ.get("DBT_TARGET_PATH", "target") / "manifest.json"


def public_models(manifest: Path | None = None, schema: str = "marts") -> list[str]:
    """The relations of the project's `access: public` models in `schema`: what BI may read and
    what is published. Parses the project first when there is no manifest yet."""
    manifest = manifest or manifest_path()
    ensure_manifest(manifest)
    nodes = json.loads(Path(manifest).read_text())["nodes"].values()
    return sorted(
        node["alias"] or node["name"]
        for node in nodes
        if node["resource_type"] == "model"
        and node.get("access") == "public"
        and node["schema"] == schema
    )


def _node_name(unique_id: str) -> str:
    """`test not_null_x` (without dbt's hash), `unit_test model.case`, `model name`."""
    kind, _package, *rest = unique_id.split(".")
    return f"{kind} {rest[0] if kind == 'test' else '.'.join(rest)}"


class DbtBuildFailed(Exception):
    """`dbt build` failed: the message names the failing models and tests."""


def build_outcomes(run_results: Path) -> tuple[Counter, list[str]]:
    """Counts of the tests' statuses (data and unit tests) and the nodes that failed or errored,
    from dbt's run_results.json (none when dbt wrote none)."""
    if not run_results.exists():
        return Counter(), []
    results = json.loads(run_results.read_text())["results"]
    counts = Counter(
        r["status"] for r in results if r["unique_id"].split(".")[0] in ("test", "unit_test")
    )
    # a failing test's message is a count ("Got 3 results, ..."); an error's may quote data,
    # so it stays in dbt's own log
    failed = [
        f"{_node_name(r['unique_id'])}: {r['status']}"
        + (f" ({r['message']})" if r["status"] == "fail" and r.get("message") else "")
        for r in results
        if r["status"] in ("fail", "error")
    ]
    return counts, failed
