"""What decides whether a run may reuse dbt's manifest: the hash of the parse's inputs changes
with every file dbt reads, every env var the project names, the vars and nothing else."""

from __future__ import annotations

import json

import pytest

from returnlens.dbt_runner import parse_inputs

pytestmark = pytest.mark.unit

VARS = json.dumps({"reporting_currency": "EUR", "return_window_days": 30})


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A tiny dbt project: a model, a macro, a seed, a generic test, a profile reading env vars."""
    (tmp_path / "dbt_project.yml").write_text(
        "name: tiny\nprofile: tiny\nmodel-paths: ['models']\nmacro-paths: ['macros']\n"
        "seed-paths: ['seeds']\ntest-paths: ['tests/dbt']\n"
    )
    (tmp_path / "profiles.yml").write_text(
        "tiny:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n"
        "      path: \"{{ env_var('TINY_WAREHOUSE', 'tiny.duckdb') }}\"\n"
    )
    for rel, text in {
        "models/a.sql": "select 1 as x",
        "macros/m.sql": "{% macro m() %}1{% endmacro %}",
        "seeds/s.csv": "k,v\n1,a\n",
        "tests/dbt/generic/t.sql": "{% test t(model) %}select 1 where false{% endtest %}",
        "notes/readme.md": "not a dbt folder",
    }.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    monkeypatch.delenv("TINY_WAREHOUSE", raising=False)
    return tmp_path


def test_same_inputs_same_hash(project):
    assert parse_inputs(project, VARS) == parse_inputs(project, VARS)
    # the vars' key order is not an input (dbt sorts them too)
    reordered = json.dumps(dict(reversed(list(json.loads(VARS).items()))))
    assert parse_inputs(project, reordered) == parse_inputs(project, VARS)


@pytest.mark.parametrize(
    "change",
    [
        ("models/a.sql", "select 2 as x"),
        ("models/new.sql", "select 3 as y"),
        ("macros/m.sql", "{% macro m() %}2{% endmacro %}"),
        ("seeds/s.csv", "k,v\n1,b\n"),
        ("tests/dbt/generic/t.sql", "{% test t(model) %}select 2 where false{% endtest %}"),
        ("dbt_project.yml", None),
        ("profiles.yml", None),
        ("packages.yml", "packages: []\n"),
    ],
    ids=lambda c: c[0],
)
def test_a_changed_file_dbt_reads_changes_the_hash(project, change):
    before = parse_inputs(project, VARS)
    rel, text = change
    path = project / rel
    path.write_text(text if text is not None else path.read_text() + "\n# edited\n")
    assert parse_inputs(project, VARS) != before


def test_a_removed_model_changes_the_hash(project):
    before = parse_inputs(project, VARS)
    (project / "models/a.sql").unlink()
    assert parse_inputs(project, VARS) != before


def test_env_vars_the_project_names_and_vars_change_the_hash(project, monkeypatch):
    before = parse_inputs(project, VARS)
    monkeypatch.setenv("TINY_WAREHOUSE", "/elsewhere/other.duckdb")
    named = parse_inputs(project, VARS)
    assert named != before
    monkeypatch.setenv("SOME_UNRELATED_VARIABLE", "x")
    (project / "notes/readme.md").write_text("edited, but dbt does not read it")
    assert parse_inputs(project, VARS) == named
    assert parse_inputs(project, json.dumps({"return_window_days": 14})) != named
