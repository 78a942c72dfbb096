"""`make lint`'s dbt metadata lint (`returnlens lint-dbt`) and `make docs` (`returnlens docs-site`).

The lint runs on a copy of the dbt project with two probe models added in a folder no config
reaches (so no owner, group or description is inherited): one with no docs at all, one with its
description and owner but one column undocumented. It must fail naming both, and its figures
must equal what is counted here independently: the columns of the relations in the lint's own
empty warehouse (DuckDB's information_schema), the descriptions in the project's YAML files
(PyYAML), and dbt-score's own command line on the same manifest.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import duckdb
import pytest
import yaml

from returnlens.config import PROJECT_ROOT

pytestmark = pytest.mark.integration

RETURNLENS = str(Path(sys.executable).with_name("returnlens"))
DBT_SCORE = str(Path(sys.executable).with_name("dbt-score"))
PROJECT_FILES = ("dbt_project.yml", "profiles.yml", "pyproject.toml")
PROJECT_DIRS = ("models", "macros", "seeds", "tests/dbt", "analyses", "snapshots")
PROBE_DIR = "models/lint_probe"  # no dbt_project.yml config applies here
UNDOCUMENTED = "lint_probe_undocumented"
HALF_DOCUMENTED = "lint_probe_half_documented"
NOT_MODELS = ("raw", "seeds")  # schemas of the sources and the seeds; every other is a model's


def copy_dbt_project(dst: Path) -> Path:
    """The dbt project's files (and pyproject.toml, for dbt-score's thresholds) copied to `dst`."""
    dst.mkdir(parents=True, exist_ok=True)
    for name in PROJECT_FILES:
        shutil.copy2(PROJECT_ROOT / name, dst / name)
    for name in PROJECT_DIRS:
        if (PROJECT_ROOT / name).is_dir():
            shutil.copytree(PROJECT_ROOT / name, dst / name)
    return dst


def add_probe_models(project: Path) -> None:
    """Two probe models: one without any docs, one public with an undocumented column."""
    probe = project / PROBE_DIR
    probe.mkdir(parents=True)
    for name in (UNDOCUMENTED, HALF_DOCUMENTED):
        (probe / f"{name}.sql").write_text(
            "select\n    1 as probe_id,\n    'a' as probe_label\n", encoding="utf-8"
        )
    (probe / "_lint_probe__models.yml").write_text(
        yaml.safe_dump(
            {
                "version": 2,
                "models": [
                    {
                        "name": HALF_DOCUMENTED,
                        "description": "A probe model with one documented column.",
                        # public: the lint's public set is then the manifest's public models
                        "config": {"meta": {"owner": "data engineering"}, "access": "public"},
                        "columns": [{"name": "probe_id", "description": "The probe's key."}],
                    }
                ],
            }
        ),
        encoding="utf-8",
    )


def documented_columns(project: Path) -> set[tuple[str, str]]:
    """(model, column) pairs with a non-empty description in the project's model YAML files."""
    out = set()
    for path in (project / "models").rglob("*.yml"):
        doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for model in doc.get("models") or []:
            for col in model.get("columns") or []:
                if str(col.get("description") or "").strip():
                    out.add((model["name"], col["name"].lower()))
    return out


def warehouse_columns(warehouse: Path) -> dict[tuple[str, str], set[str]]:
    """(schema, relation) -> its columns for every relation of a model, as DuckDB's
    information_schema lists them."""
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        rows = con.execute(
            "select table_schema, table_name, lower(column_name) from information_schema.columns "
            "where table_schema not in (?, ?)",
            list(NOT_MODELS),
        ).fetchall()
    finally:
        con.close()
    out: dict[tuple[str, str], set[str]] = {}
    for schema, table, col in rows:
        out.setdefault((schema, table), set()).add(col)
    return out


@pytest.fixture(scope="module")
def linted_copy(tmp_path_factory):
    """The lint run on a project copy with the probe models; its exit, output, JSON, work dir."""
    root = tmp_path_factory.mktemp("lint")
    project = copy_dbt_project(root / "project")
    add_probe_models(project)
    work = root / "work"
    proc = subprocess.run(
        [
            RETURNLENS,
            "lint-dbt",
            "--project-dir",
            str(project),
            "--json",
            str(root / "lint.json"),
            "--work-dir",
            str(work),
        ],
        capture_output=True,
        text=True,
        check=False,
        # the lint must not depend on, or touch, an installation's data folder
        env={**os.environ, "RETURNLENS_DATA_DIR": str(root / "no_data")},
    )
    figures = json.loads((root / "lint.json").read_text()) if proc.returncode in (0, 1) else None
    return {
        "project": project,
        "proc": proc,
        "figures": figures,
        "work": work,
        "data_dir": root / "no_data",
    }


def test_lint_fails_naming_the_model_without_owner_description_or_column_docs(linted_copy):
    proc, figures = linted_copy["proc"], linted_copy["figures"]
    assert proc.returncode == 1, proc.stdout + proc.stderr
    out = proc.stderr
    # docs: both probes named with their undocumented columns
    assert f"{UNDOCUMENTED}: probe_id, probe_label" in out
    assert f"{HALF_DOCUMENTED}: probe_label" in out
    assert "docs coverage of model columns" in out and "FAILED" in out
    # dbt-score: the undocumented probe is under the item threshold for its owner and description
    items = {(i["kind"], i["name"]): i for i in figures["items"]}
    probe = items[("model", UNDOCUMENTED)]
    assert probe["score"] < figures["fail_any_item_under"]
    rules = {f.split(":", 1)[0] for f in probe["failing"]}
    assert {"has_owner", "has_description"} <= rules
    assert f"model {UNDOCUMENTED}: " in out and "Model lacks an owner." in out
    half = items[("model", HALF_DOCUMENTED)]
    assert not {"has_owner", "has_description"} & {f.split(":", 1)[0] for f in half["failing"]}
    # nothing of the lint's own build lands in the data folder, target/ or logs/ of the project
    assert not linted_copy["data_dir"].exists()
    assert not (linted_copy["project"] / "target").exists()
    assert not (linted_copy["project"] / "logs").exists()


def test_docs_coverage_equals_the_yaml_against_the_built_relations(linted_copy):
    """Total = every column of every model relation in the lint's empty warehouse; covered =
    those with a description in the YAML; the misses named per model."""
    figures = linted_copy["figures"]
    relations = warehouse_columns(linted_copy["work"] / "lint.duckdb")
    documented = documented_columns(linted_copy["project"])
    total = sum(len(cols) for cols in relations.values())
    covered = sum(1 for (_, t), cols in relations.items() for c in cols if (t, c) in documented)
    misses = {
        f"{schema}.{t}": sorted(c for c in cols if (t, c) not in documented)
        for (schema, t), cols in relations.items()
    }
    misses = {k: v for k, v in misses.items() if v}
    assert figures["docs"]["total"] == total
    assert figures["docs"]["covered"] == covered
    assert figures["docs"]["misses"] == misses
    assert figures["docs"]["percent"] == pytest.approx(100.0 * covered / total)
    assert misses[f"main.{UNDOCUMENTED}"] == ["probe_id", "probe_label"]


def test_public_marts_and_their_test_coverage(linted_copy):
    """The public set is the manifest's `access: public` models, else every model under
    models/marts/; covered = its columns that a dbt generic test names (one column, or several
    in a batched test's arguments) or that carry a `not_null` constraint of an enforced
    contract."""
    figures = linted_copy["figures"]
    manifest = json.loads((linted_copy["work"] / "target" / "manifest.json").read_text())
    models = {n["name"]: n for n in manifest["nodes"].values() if n["resource_type"] == "model"}
    public = sorted(m for m, n in models.items() if n.get("access") == "public")
    if not public:
        public = sorted(
            p.stem for p in (linted_copy["project"] / "models" / "marts").rglob("*.sql")
        )
    assert sorted(figures["public_models"]) == public
    assert HALF_DOCUMENTED in public and figures["public_basis"] == "access: public"
    relations = warehouse_columns(linted_copy["work"] / "lint.duckdb")
    public_cols = {(t, c) for (_, t), cols in relations.items() if t in set(public) for c in cols}
    # a generic test on a column: attached to its model, naming the column
    name_of = {uid: n["name"] for uid, n in manifest["nodes"].items()}
    tested = set()
    for node in manifest["nodes"].values():
        meta = node.get("test_metadata") if node["resource_type"] == "test" else None
        column = node.get("column_name") or ((meta or {}).get("kwargs") or {}).get("column_name")
        if meta and column and node.get("attached_node"):
            tested.add((name_of[node["attached_node"]], column.lower()))
        # a batched test (tests/dbt/generic/): one node naming several columns in its arguments
        kwargs = (meta or {}).get("kwargs") or {}
        for entry in kwargs.get("columns") or kwargs.get("expressions") or []:
            if isinstance(entry, str):
                named = entry
            else:  # an expression's `name` names the check, not a column
                named = entry.get("column") if "expression" in entry else entry.get("name")
            if named:
                tested.add((name_of[node["attached_node"]], named.lower()))
    constrained = {
        (node["name"], column.lower())
        for node in manifest["nodes"].values()
        if node["resource_type"] == "model" and node["config"]["contract"]["enforced"]
        for column, spec in node["columns"].items()
        if any(c["type"] == "not_null" for c in spec.get("constraints") or [])
    }
    assert len(constrained & public_cols) > 400  # the marts' not-null checks are constraints
    tested |= constrained
    assert figures["public_tests"]["total"] == len(public_cols)
    assert figures["public_tests"]["covered"] == len(public_cols & tested)


def models_by_id(manifest: dict) -> dict[str, str]:
    """unique_id -> name of every model."""
    return {uid: n["name"] for uid, n in manifest["nodes"].items() if n["resource_type"] == "model"}


def test_project_score_equals_dbt_scores_own_command_line(linted_copy):
    """Same manifest, same pyproject thresholds: dbt-score's CLI gives the same scores."""
    figures = linted_copy["figures"]
    manifest = linted_copy["work"] / "target" / "manifest.json"
    proc = subprocess.run(
        [DBT_SCORE, "lint", "--manifest", str(manifest), "--format", "json"],
        capture_output=True,
        text=True,
        check=False,
        cwd=PROJECT_ROOT,  # its [tool.dbt-score] thresholds
    )
    own = json.loads(proc.stdout)
    assert figures["project_score"] == pytest.approx(own["project"]["score"])
    scores = {(i["kind"], i["name"]): i["score"] for i in figures["items"]}
    assert len(scores) == len(own["evaluables"])
    assert scores[("model", UNDOCUMENTED)] == pytest.approx(
        own["evaluables"][f"model.returnlens.{UNDOCUMENTED}"]["score"]
    )
    # the thresholds come from pyproject.toml's [tool.dbt-score]
    assert (figures["fail_project_under"], figures["fail_any_item_under"]) == (9.0, 8.0)
    assert (proc.returncode == 1) == bool(
        own["project"]["score"] < 9.0 or any(e["score"] < 8.0 for e in own["evaluables"].values())
    )


def declared_unit_tests(project: Path) -> set[str]:
    """`model.name` of every dbt unit test in the project's YAML (PyYAML)."""
    out = set()
    for path in (project / "models").rglob("*.yml"):
        doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        out |= {f"{u['model']}.{u['name']}" for u in doc.get("unit_tests") or []}
    return out


def test_dbt_unit_tests_pass_on_the_empty_lint_warehouse(linted_copy, tmp_path):
    """dbt's unit tests check the models' logic on hand-made rows; the pipeline's build leaves
    them out (issue 16), so they run here, on the relations of the lint's empty build (dbt
    reads the inputs' column types from them): every unit test in the YAML, each passing."""
    from returnlens.profile import ShopProfile, dbt_vars_json

    work, project = linted_copy["work"], linted_copy["project"]
    proc = subprocess.run(
        [
            str(Path(sys.executable).with_name("dbt")),
            "test",
            "--select",
            "test_type:unit",
            "--project-dir",
            str(project),
            "--profiles-dir",
            str(project),
            "--target-path",
            str(work / "target"),
            "--log-path",
            str(work / "logs"),
            "--vars",
            dbt_vars_json(ShopProfile()),
        ],
        capture_output=True,
        text=True,
        check=False,
        env={
            **os.environ,
            "RETURNLENS_WAREHOUSE": str(work / "lint.duckdb"),
            "RETURNLENS_DATA_DIR": str(tmp_path / "data"),
            "RETURNLENS_PII_SALT": "0" * 64,
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        },
    )
    results = json.loads((work / "target" / "run_results.json").read_text())["results"]
    statuses = {
        ".".join(r["unique_id"].split(".")[2:4]): r["status"]
        for r in results
        if r["unique_id"].startswith("unit_test.")
    }
    failed = {k: v for k, v in statuses.items() if v != "pass"}
    assert not failed, proc.stdout[-4000:]
    assert proc.returncode == 0, proc.stdout[-4000:]
    assert set(statuses) == declared_unit_tests(project)
    assert len(statuses) >= 30


# ---- make docs -----------------------------------------------------------------------------

PROBE_EXPOSURE = "lint_probe_page"


def declared_exposures(project: Path) -> dict[str, set[str]]:
    """exposure -> the models it depends on, from the `exposures:` of the project's YAML."""
    out = {}
    for path in (project / "models").rglob("*.yml"):
        doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for exp in doc.get("exposures") or []:
            refs = {d.split("'")[1] for d in exp.get("depends_on") or [] if "ref(" in d}
            out[exp["name"]] = refs
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_docs_site_fails_clearly_without_a_warehouse(tmp_path):
    proc = subprocess.run(
        [RETURNLENS, "docs-site", "--no-serve"],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "RETURNLENS_DATA_DIR": str(tmp_path), "RETURNLENS_WAREHOUSE": ""},
    )
    assert proc.returncode == 1
    assert f"No warehouse at {tmp_path / 'warehouse.duckdb'} yet: run `make run` first" in (
        proc.stderr
    )


def test_docs_site_of_the_built_warehouse_serves_the_exposures(pipeline_run, tmp_path):
    """`returnlens docs-site` on a project copy with one more exposure: the served manifest
    holds every exposure declared in the YAML with its upstream marts, and the served catalog
    is the built warehouse's (its real columns)."""
    project = copy_dbt_project(tmp_path / "project")
    (project / "models" / "_lint_probe__exposures.yml").write_text(
        yaml.safe_dump(
            {
                "version": 2,
                "exposures": [
                    {
                        "name": PROBE_EXPOSURE,
                        "type": "dashboard",
                        "owner": {"name": "returns management"},
                        "description": "A probe page.",
                        "depends_on": ["ref('fct_returns')", "ref('dim_products')"],
                    }
                ],
            }
        ),
        encoding="utf-8",
    )
    declared = declared_exposures(project)
    port = free_port()
    site = tmp_path / "site"
    proc = subprocess.Popen(
        [RETURNLENS, "docs-site", "--project-dir", str(project), "--target-path", str(site)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "RETURNLENS_DOCS_PORT": str(port)},
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        lines = []
        for line in proc.stdout:  # the URL is printed once the site is generated
            lines.append(line)
            if url in line:
                break
        assert any(url in line for line in lines), "".join(lines)
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(url + "/manifest.json", timeout=5) as resp:
                    manifest = json.load(resp)
                break
            except OSError:
                assert time.monotonic() < deadline, "dbt docs serve did not answer"
                time.sleep(0.5)
        with urllib.request.urlopen(url + "/catalog.json", timeout=5) as resp:
            catalog = json.load(resp)
        with urllib.request.urlopen(url + "/", timeout=5) as resp:
            assert b"dbt" in resp.read()
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    served = {
        e["name"]: {n.rsplit(".", 1)[-1] for n in e["depends_on"]["nodes"]}
        for e in manifest["exposures"].values()
    }
    assert served == declared
    assert served[PROBE_EXPOSURE] == {"fct_returns", "dim_products"}
    # the lineage the site draws: each exposure is a child of the marts it depends on
    for name, refs in declared.items():
        for ref in refs:
            assert f"exposure.returnlens.{name}" in manifest["child_map"][f"model.returnlens.{ref}"]
    # the catalog is the built warehouse's: fct_returns' columns as DuckDB lists them
    built = warehouse_columns(pipeline_run.warehouse)[("marts", "fct_returns")]
    cat = catalog["nodes"]["model.returnlens.fct_returns"]["columns"]
    assert {c.lower() for c in cat} == built
    assert (site / "index.html").is_file()
