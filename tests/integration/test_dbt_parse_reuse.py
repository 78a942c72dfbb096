"""One dbt parse per change, not per run: `dbt_runner.parse` reuses target/manifest.json when
nothing the parse reads changed, and parses again when a model or an env var the project names
changes. Checked on dbt's own artifacts (a tiny project, real dbt)."""

from __future__ import annotations

import json

import pytest

from returnlens.dbt_runner import manifest_is_current, parse

pytestmark = pytest.mark.integration

VARS = json.dumps({"greeting": "hello"})


def _manifest(project):
    return json.loads((project / "target" / "manifest.json").read_text())


def _model(project):
    return _manifest(project)["nodes"]["model.tiny.a"]


@pytest.fixture
def project(tmp_path, monkeypatch):
    (tmp_path / "dbt_project.yml").write_text(
        "name: tiny\nversion: '1.0'\nprofile: tiny\nmodel-paths: ['models']\n"
    )
    (tmp_path / "profiles.yml").write_text(
        "tiny:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n"
        "      path: \"{{ env_var('TINY_WAREHOUSE', 'tiny.duckdb') }}\"\n"
    )
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "a.sql").write_text("select '{{ var(\"greeting\") }}' as x")
    monkeypatch.delenv("TINY_WAREHOUSE", raising=False)
    monkeypatch.delenv("DBT_TARGET_PATH", raising=False)
    return tmp_path


def test_parse_reuses_the_manifest_until_a_model_or_env_var_changes(project, monkeypatch):
    assert parse(project, VARS) is True
    manifest = project / "target" / "manifest.json"
    first = manifest.stat().st_mtime_ns
    assert _model(project)["raw_code"] == "select '{{ var(\"greeting\") }}' as x"

    # nothing changed: dbt does not run, the manifest is the same file
    assert parse(project, VARS) is False
    assert manifest.stat().st_mtime_ns == first

    # a changed model: parsed again, the manifest holds the new SQL
    (project / "models" / "a.sql").write_text("select 2 as x -- changed")
    assert parse(project, VARS) is True
    assert _model(project)["raw_code"] == "select 2 as x -- changed"
    assert parse(project, VARS) is False

    # an env var profiles.yml reads: the nodes now live in the other database file
    assert _model(project)["database"] == "tiny"
    monkeypatch.setenv("TINY_WAREHOUSE", str(project / "other.duckdb"))
    assert parse(project, VARS) is True
    assert _model(project)["database"] == "other"

    # another dbt command rewrote the manifest (e.g. `dbt parse` by hand): not trusted
    assert manifest_is_current(project, VARS)
    manifest.write_text(manifest.read_text() + "\n")
    assert not manifest_is_current(project, VARS)


def test_a_stale_manifest_is_parsed_again_before_it_is_read(project):
    """A manifest parsed before a model was added (a pull, an edit) is not read as it is: the
    Dagster definitions failed on a GX suite of a mart the old manifest did not hold."""
    from returnlens.dbt_runner import ensure_manifest

    (project / "models" / "a.sql").write_text("select 1 as x")
    assert parse(project) is True  # the shop profile's vars, as ensure_manifest passes them
    manifest = project / "target" / "manifest.json"
    (project / "models" / "b.sql").write_text("select 1 as y")
    ensure_manifest(manifest, project)
    assert "model.tiny.b" in _manifest(project)["nodes"]
    # current: read as it is, dbt does not run
    first = manifest.stat().st_mtime_ns
    ensure_manifest(manifest, project)
    assert manifest.stat().st_mtime_ns == first
