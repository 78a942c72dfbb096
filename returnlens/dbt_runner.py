"""Keep dbt's manifest available for the Dagster code location.

One dbt parse per change, not per run: `parse` writes target/manifest.json with the shop
profile's vars (the same `--vars` the build passes, so the build's own parse reuses dbt's
target/partial_parse.msgpack instead of parsing everything again), and beside it
`manifest.inputs.json`, a hash of everything the parse read (`parse_inputs`). The next call
skips `dbt parse` when that hash and the manifest file are unchanged.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import yaml

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


INPUTS_FILE = "manifest.inputs.json"
# dbt_project.yml keys of the folders dbt reads, with dbt's defaults
RESOURCE_PATHS = {
    "model-paths": ["models"],
    "seed-paths": ["seeds"],
    "test-paths": ["tests"],
    "analysis-paths": ["analyses"],
    "macro-paths": ["macros"],
    "snapshot-paths": ["snapshots"],
    "docs-paths": [],
    "packages-install-path": ["dbt_packages"],
}
PROJECT_FILES = ("dbt_project.yml", "profiles.yml", "packages.yml", "dependencies.yml")
ENV_VAR_CALL = re.compile(r"""env_var\(\s*['"]([^'"]+)['"]""")


def target_dir(project_dir: Path = PROJECT_ROOT) -> Path:
    """The folder dbt writes its artifacts to (DBT_TARGET_PATH honoured, as dbt does)."""
    return Path(project_dir) / os.environ.get("DBT_TARGET_PATH", "target")


def shop_vars_json() -> str:
    """The shop profile's dbt vars, as the build passes them (`{}` when the profile cannot be
    read: the build then fails with the profile's own message)."""
    from returnlens.config import settings
    from returnlens.profile import ProfileError, dbt_vars_json, load_profile

    try:
        return dbt_vars_json(load_profile(settings().landing_dir))
    except ProfileError:
        return "{}"


def parse_inputs(project_dir: Path, vars_json: str) -> str:
    """A hash of what `dbt parse` reads: the project's files (dbt_project.yml, profiles.yml,
    packages, and every file under its model, seed, test, macro, snapshot, analysis and docs
    folders), the values of the env vars they name in `env_var(...)`, the vars, and the
    versions of dbt-core and the adapter."""
    project_dir = Path(project_dir)
    config = yaml.safe_load((project_dir / "dbt_project.yml").read_text(encoding="utf-8")) or {}
    files = {project_dir / name for name in PROJECT_FILES if (project_dir / name).is_file()}
    for key, default in RESOURCE_PATHS.items():
        folders = config.get(key, default)
        for folder in [folders] if isinstance(folders, str) else folders:
            files.update(p for p in (project_dir / folder).rglob("*") if p.is_file())
    digest = hashlib.sha256()
    env_names: set[str] = set()
    for path in sorted(files):
        content = path.read_bytes()
        digest.update(f"{path.relative_to(project_dir)}\0{len(content)}\0".encode())
        digest.update(content)
        if path.suffix in (".sql", ".yml", ".yaml", ".md", ".py", ".csv"):
            env_names.update(ENV_VAR_CALL.findall(content.decode("utf-8", "replace")))
    for name in sorted(env_names):
        digest.update(f"env {name}={os.environ.get(name, chr(0))}\0".encode())
    digest.update(f"vars {json.dumps(json.loads(vars_json), sort_keys=True)}\0".encode())
    for package in ("dbt-core", "dbt-duckdb"):
        digest.update(f"{package} {importlib.metadata.version(package)}\0".encode())
    return digest.hexdigest()


def _manifest_stamp(manifest: Path) -> str | None:
    """The manifest file's size and mtime: another dbt command rewriting it changes them."""
    try:
        st = manifest.stat()
    except FileNotFoundError:
        return None
    return f"{st.st_size}:{st.st_mtime_ns}"


def manifest_is_current(project_dir: Path, vars_json: str) -> bool:
    """True when target/manifest.json was written by `parse` from the same inputs."""
    target = target_dir(project_dir)
    try:
        recorded = json.loads((target / INPUTS_FILE).read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        return False
    stamp = _manifest_stamp(target / "manifest.json")
    return (
        stamp is not None
        and recorded.get("manifest") == stamp
        and recorded.get("inputs") == parse_inputs(project_dir, vars_json)
    )


def parse(project_dir: Path = PROJECT_ROOT, vars_json: str | None = None) -> bool:
    """Make target/manifest.json current: run `dbt parse` with the shop profile's vars unless
    the manifest was parsed from the same inputs (see the module docstring). True when dbt
    parse ran."""
    project_dir = Path(project_dir)
    vars_json = shop_vars_json() if vars_json is None else vars_json
    if manifest_is_current(project_dir, vars_json):
        return False
    target = target_dir(project_dir)
    (target / INPUTS_FILE).unlink(missing_ok=True)
    inputs = parse_inputs(project_dir, vars_json)
    subprocess.run(
        [
            dbt_executable(),
            "parse",
            "--quiet",
            *location_args(project_dir),
            "--vars",
            vars_json,
        ],
        check=True,
        cwd=project_dir,
        env={**os.environ, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"},
    )
    record = {"inputs": inputs, "manifest": _manifest_stamp(target / "manifest.json")}
    (target / INPUTS_FILE).write_text(json.dumps(record), encoding="utf-8")
    return True


def ensure_manifest(manifest: Path, project_dir: Path = PROJECT_ROOT) -> None:
    """Make the project's manifest current before it is read: parse when it is missing (a
    fresh clone) or was parsed from other inputs (a model pulled or edited since), which costs
    a hash of the inputs when nothing changed. A manifest elsewhere (a copy) is read as it is."""
    manifest = Path(manifest)
    own = (target_dir(project_dir) / "manifest.json").resolve()
    if manifest.resolve() == own or not manifest.exists():
        parse(project_dir)


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


def build_outcomes(run_results: Path, warehouse: Path | None = None) -> tuple[Counter, list[str]]:
    """Counts of the tests' statuses (data and unit tests) and the nodes that failed or errored,
    from dbt's run_results.json (none when dbt wrote none). With the `warehouse` dbt built, a
    failed batched test (`not_null_columns` and the like) also names the model's failing
    columns or checks (`failed_checks`)."""
    if not run_results.exists():
        return Counter(), []
    results = json.loads(run_results.read_text())["results"]
    counts = Counter(
        r["status"] for r in results if r["unique_id"].split(".")[0] in ("test", "unit_test")
    )
    checks = failed_checks(run_results, warehouse) if warehouse is not None else {}
    # a failing test's message is a count ("Got 3 results, ..."); an error's may quote data,
    # so it stays in dbt's own log
    failed = [
        f"{_node_name(r['unique_id'])}: {r['status']}"
        + (f" ({r['message']})" if r["status"] == "fail" and r.get("message") else "")
        + (f": {checks[r['unique_id']]}" if r["unique_id"] in checks else "")
        for r in results
        if r["status"] in ("fail", "error")
    ]
    return counts, failed


# tests/dbt/generic/: one test node per model for all its checks of a kind; each returns one
# row per failing check (its column or name, and the number of rows failing it), and how the
# failure reads
BATCHED_TESTS = {
    "not_null_columns": "nulls in {model}.{check} ({rows})",
    "expressions_are_true": "{model}: `{check}` false in {rows}",
    "accepted_values_columns": "values outside the accepted ones in {model}.{check} ({rows})",
    "relationships_columns": "values missing from the parent in {model}.{check} ({rows})",
    "unique_columns": "values repeated in {model}.{check} ({rows})",
}


def _batched_kind(unique_id: str) -> str | None:
    name = unique_id.split(".")[2] if unique_id.count(".") >= 2 else ""
    return next((kind for kind in BATCHED_TESTS if name.startswith(kind)), None)


def failed_checks(run_results: Path, warehouse: Path) -> dict[str, str]:
    """For each failed batched test (`BATCHED_TESTS`): which checks of which model failed, e.g.
    "nulls in stg_shop__orders.channel (1 row)". One node checks all of a model's columns, so
    dbt's own message ("Got 1 result") names none; the test's compiled SQL is run again on the
    warehouse, and it returns check names and counts only (never a value)."""
    import duckdb

    from returnlens.config import pii_salt
    from returnlens.warehouse import connect

    results = json.loads(Path(run_results).read_text())["results"]
    failed = [
        r
        for r in results
        if r["status"] == "fail" and _batched_kind(r["unique_id"]) and r.get("compiled_code")
    ]
    if not failed:
        return {}
    manifest = Path(run_results).with_name("manifest.json")
    nodes = json.loads(manifest.read_text())["nodes"] if manifest.exists() else {}
    described = {}
    try:
        con = connect(warehouse, read_only=True)
    except duckdb.Error as error:  # dbt's own message still names the test
        return {r["unique_id"]: f"checks not named ({type(error).__name__})" for r in failed}
    try:
        # the staging views hash customer ids with the run's salt, as dbt's connections do
        con.execute("set variable returnlens_pii_salt = ?", [pii_salt()])
        for r in failed:
            uid, kind = r["unique_id"], _batched_kind(r["unique_id"])
            attached = (nodes.get(uid) or {}).get("attached_node") or ""
            model = attached.rsplit(".", 1)[-1] or uid.split(".")[2].removeprefix(f"{kind}_")
            try:
                rows = con.execute(r["compiled_code"]).fetchall()
            except duckdb.Error as error:
                described[uid] = f"checks not named ({type(error).__name__})"
                continue
            described[uid] = "; ".join(
                BATCHED_TESTS[kind].format(
                    model=model, check=check, rows=f"{n} row{'s' if n != 1 else ''}"
                )
                for check, n in rows
            )
    finally:
        con.close()
    return described
