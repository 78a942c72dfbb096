"""The dbt metadata lint's thresholds and report (`returnlens.lint.LintResult`)."""

from __future__ import annotations

import pytest

from returnlens.lint import Coverage, LintResult, ScoredItem, public_models

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("project", "item", "docs", "tested", "fails"),
    [
        (9.0, 8.0, (10, 10), (9, 10), []),  # every threshold met exactly
        (8.99, 8.0, (10, 10), (9, 10), ["project score"]),
        (9.5, 7.99, (10, 10), (9, 10), ["item(s) scored under"]),
        (9.5, 8.0, (9, 10), (9, 10), ["docs coverage"]),
        (9.5, 8.0, (10, 10), (8, 10), ["test coverage"]),
    ],
)
def test_thresholds(project, item, docs, tested, fails):
    result = LintResult(
        project_score=project,
        items=[ScoredItem("model", "m", item)],
        docs=Coverage(*docs, misses={} if docs[0] == docs[1] else {"marts.m": ["c"]}),
        public_tests=Coverage(*tested),
        public_models=["m"],
        public_basis="access: public",
        fail_project_under=9.0,
        fail_any_item_under=8.0,
    )
    assert len(result.failures) == len(fails)
    for text, failure in zip(fails, result.failures, strict=True):
        assert text in failure
    assert ("FAILED" in result.format()) == bool(fails)
    if docs[0] < docs[1]:
        assert "marts.m: c" in result.format()


def _manifest(models: dict[str, tuple[str, str]]) -> dict:
    """A manifest with `models`: name -> (path, access)."""
    return {
        "metadata": {"project_name": "returnlens"},
        "nodes": {
            f"model.returnlens.{name}": {
                "resource_type": "model",
                "package_name": "returnlens",
                "original_file_path": path,
                "access": access,
            }
            for name, (path, access) in models.items()
        },
    }


def test_public_models_are_the_public_ones_else_the_marts():
    models = {
        "fct_a": ("models/marts/core/fct_a.sql", "protected"),
        "int_b": ("models/intermediate/int_b.sql", "protected"),
        "kpi_c": ("models/marts/kpi/kpi_c.sql", "protected"),
    }
    assert public_models(_manifest(models)) == (
        ["model.returnlens.fct_a", "model.returnlens.kpi_c"],
        "models/marts/ (no model is public yet)",
    )
    models["fct_a"] = ("models/marts/core/fct_a.sql", "public")
    assert public_models(_manifest(models)) == (["model.returnlens.fct_a"], "access: public")


def test_a_batched_test_counts_for_each_column_it_names(tmp_path):
    """One `not_null_columns` / `expressions_are_true` / `accepted_values_columns` /
    `relationships_columns` / `unique_columns` node checks several columns: each named column counts as tested, a whole-row expression names none,
    and the batched test of another name counts for nothing."""
    import json

    from returnlens.lint import batched_test_columns

    def test(name, kwargs, model="fct_a"):
        return {
            "resource_type": "test",
            "attached_node": f"model.returnlens.{model}",
            "test_metadata": {"name": name, "kwargs": kwargs},
        }

    nodes = {
        "test.returnlens.a": test(
            "not_null_columns", {"columns": ["ID", {"name": "x", "where": "y"}]}
        ),
        "test.returnlens.b": test(
            "expressions_are_true",
            {"expressions": [{"column": "amount", "expression": ">= 0"}, {"expression": "a <= b"}]},
            model="kpi_c",
        ),
        "test.returnlens.c": test(
            "accepted_values_columns", {"columns": [{"name": "kind", "values": ["p"]}]}
        ),
        "test.returnlens.d": test("not_null", {"column_name": "other"}),
        "test.returnlens.e": test(
            "relationships_columns",
            {"columns": [{"name": "Supplier_ID", "to": "ref('dim_s')", "field": "supplier_id"}]},
        ),
        "test.returnlens.f": test("unique_columns", {"columns": ["code"]}, model="kpi_c"),
        "model.returnlens.fct_a": {"resource_type": "model"},
    }
    (tmp_path / "manifest.json").write_text(json.dumps({"nodes": nodes}))
    assert sorted(batched_test_columns(tmp_path)) == [
        ("model.returnlens.fct_a", "id"),
        ("model.returnlens.fct_a", "kind"),
        ("model.returnlens.fct_a", "supplier_id"),
        ("model.returnlens.fct_a", "x"),
        ("model.returnlens.kpi_c", "amount"),
        ("model.returnlens.kpi_c", "code"),
    ]
