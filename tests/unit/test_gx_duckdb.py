"""The DuckDB fix for Great Expectations: still needed, and still working."""

from __future__ import annotations

import json

import duckdb
import pytest

from returnlens.quality import gates, gx_duckdb

pytestmark = pytest.mark.unit


@pytest.fixture()
def warehouse(tmp_path):
    path = tmp_path / "w.duckdb"
    con = duckdb.connect(str(path))
    con.execute("create schema raw")
    con.execute(
        "create table raw.t as select range as id, range % 10 as q, "
        "case when range % 4 = 0 then null else 'x' end as maybe from range(1000)"
    )
    con.close()
    return path


def _suite(tmp_path, expectations):
    path = tmp_path / "suite.json"
    path.write_text(
        json.dumps({"name": "t_suite", "meta": {"relation": "raw.t"}, "expectations": expectations})
    )
    return path


GOOD = [
    {
        "type": "expect_column_values_to_be_between",
        "kwargs": {"column": "q", "min_value": 0, "max_value": 9},
    },
    {"type": "expect_column_values_to_be_unique", "kwargs": {"column": "id"}},
]


def test_without_the_fix_every_expectation_fails_quietly(tmp_path, warehouse):
    gx_duckdb.disable()
    original = gx_duckdb.enable
    try:
        gx_duckdb.enable = lambda: None  # run_suite calls enable(); keep it off for this test
        result = gates.run_suite(_suite(tmp_path, GOOD), warehouse, docs_dir=tmp_path)
    finally:
        gx_duckdb.enable = original
    # If this starts passing, GX fixed DuckDB support and gx_duckdb.py can go.
    assert not result.passed
    assert all(o.error for o in result.failures), result.summary()


def test_with_the_fix_valid_data_passes(tmp_path, warehouse):
    result = gates.run_suite(_suite(tmp_path, GOOD), warehouse, docs_dir=tmp_path)
    assert result.passed, result.summary()
    assert len(result.outcomes) == 2


def test_failures_name_the_column_count_and_examples(tmp_path, warehouse):
    suite = _suite(
        tmp_path,
        [
            {
                "type": "expect_column_values_to_be_between",
                "kwargs": {"column": "q", "min_value": 0, "max_value": 8},
            },
            {
                "type": "expect_column_values_to_not_be_null",
                "kwargs": {"column": "maybe"},
                "severity": "warning",
            },
        ],
    )
    result = gates.run_suite(suite, warehouse, docs_dir=tmp_path)
    assert not result.passed
    (failure,) = result.failures
    assert failure.column == "q"
    assert failure.unexpected_count == 100  # values 9 in 0..999
    assert set(failure.examples) == {9}
    (warning,) = result.warnings
    assert warning.column == "maybe" and warning.unexpected_count == 250
    assert "q: expect_column_values_to_be_between failed, 100 unexpected rows" in result.summary()


def test_a_missing_table_is_a_failure_not_a_pass(tmp_path, warehouse):
    path = tmp_path / "missing.json"
    path.write_text(
        json.dumps({"name": "m", "meta": {"relation": "raw.nope"}, "expectations": GOOD})
    )
    result = gates.run_suite(path, warehouse, docs_dir=tmp_path)
    assert not result.passed
    assert any("nope" in (o.error or "") for o in result.failures), result.summary()


def _assert_released(warehouse) -> None:
    """Another process can open the DuckDB file: GX holds no lock on it."""
    import subprocess
    import sys

    probe = subprocess.run(
        [sys.executable, "-c", f"import duckdb; duckdb.connect({str(warehouse)!r}).close()"],
        capture_output=True,
        text=True,
    )
    assert probe.returncode == 0, probe.stderr


def test_a_validation_releases_the_duckdb_file(tmp_path, warehouse):
    """dbt runs in another process right after the gates: GX must not keep DuckDB's lock."""

    gates.run_suite(_suite(tmp_path, GOOD), warehouse, docs_dir=tmp_path)
    _assert_released(warehouse)


def test_parameters_fill_placeholders_and_data_docs_are_built(tmp_path, warehouse):
    suite = _suite(
        tmp_path,
        [
            {
                "type": "expect_table_row_count_to_be_between",
                "kwargs": {"min_value": {"$PARAMETER": "previous_row_count_min"}},
            }
        ],
    )
    low = gates.run_suite(
        suite, warehouse, docs_dir=tmp_path, parameters={"previous_row_count_min": 10}
    )
    high = gates.run_suite(
        suite, warehouse, docs_dir=tmp_path, parameters={"previous_row_count_min": 5000}
    )
    assert low.passed and not high.passed
    assert high.failures[0].observed == 1000
    index = gates.data_docs_index(tmp_path)
    assert index.exists()
    assert "t_suite" in index.read_text()


def test_suites_of_one_call_keep_their_own_parameters_and_order(tmp_path, warehouse):
    """One GX context validates several suites: each gets its own parameters (the same name,
    other values), results come back in the order asked, and a suite asked twice runs twice."""
    paths = {}
    for name in ("a_suite", "b_suite"):
        paths[name] = tmp_path / f"{name}.json"
        paths[name].write_text(
            json.dumps(
                {
                    "name": name,
                    "meta": {"relation": "raw.t"},
                    "expectations": [
                        {
                            "type": "expect_table_row_count_to_be_between",
                            "kwargs": {"min_value": {"$PARAMETER": "previous_row_count_min"}},
                        }
                    ],
                }
            )
        )
    results = gates.run_suites(
        [paths["a_suite"], paths["b_suite"], paths["a_suite"]],
        warehouse,
        docs_dir=tmp_path,
        parameters={
            "a_suite": {"previous_row_count_min": 1000},  # raw.t has 1,000 rows
            "b_suite": {"previous_row_count_min": 1001},
        },
    )
    assert [(r.suite, r.passed) for r in results] == [
        ("a_suite", True),
        ("b_suite", False),
        ("a_suite", True),
    ]
    assert results[1].failures[0].observed == 1000


def test_a_failing_suite_is_validated_again_in_full_and_documented_once(tmp_path, warehouse):
    """Suites are first validated for pass/fail only; one with a failure (here only a warning)
    is validated again for counts and examples, and the Data Docs keep that one result."""
    suite = _suite(
        tmp_path,
        [
            {"type": "expect_column_values_to_be_unique", "kwargs": {"column": "id"}},
            {
                "type": "expect_column_values_to_be_between",
                "kwargs": {"column": "q", "min_value": 1, "max_value": 9},
                "severity": "warning",
            },
        ],
    )
    result = gates.run_suite(suite, warehouse, docs_dir=tmp_path / "docs")
    assert result.passed and not result.failures
    (warning,) = result.warnings
    assert warning.unexpected_count == 100  # q = 0 for ids 0, 10, ..., 990
    assert warning.examples == [0] * 10
    pages = list((tmp_path / "docs" / "validations").rglob("*.html"))
    assert len(pages) == 1, pages
    page = pages[0].read_text()
    assert "100 unexpected values found" in page and "Sampled Unexpected Values" in page


def test_a_passing_not_null_expectation_keeps_its_count_for_the_history(tmp_path, warehouse):
    """The null-share gate of the next run starts from this count, also when all is well."""
    suite = _suite(
        tmp_path,
        [
            {
                "type": "expect_column_values_to_not_be_null",
                "kwargs": {"column": "maybe", "mostly": 0.5},
            },
            {"type": "expect_column_values_to_be_unique", "kwargs": {"column": "id"}},
        ],
    )
    result = gates.run_suite(suite, warehouse, docs_dir=tmp_path)
    assert result.passed and not result.warnings
    assert [o.unexpected_count for o in result.outcomes] == [250, 0]  # every 4th of 1,000


def test_a_materialized_query_suite_fails_on_bad_data_and_releases_the_file(tmp_path, warehouse):
    """A mart suite with a query (a reconciliation) is validated on a temporary table of its
    result: failures keep their counts and values, and the DuckDB file is free afterwards."""

    con = duckdb.connect(str(warehouse))
    con.execute("create schema marts")
    con.execute("create table marts.t as select * from raw.t where id % 100 <> 7")  # 10 lost
    con.close()
    path = tmp_path / "recon.json"
    spec = {
        "name": "t__reconciliation",
        "meta": {
            "relation": "marts.t",
            "query": "select (select count(*) from raw.t) - (select count(*) from marts.t) "
            "as missing_rows, (select count(*) from marts.t) as mart_rows",
        },
        "expectations": [
            {
                "type": "expect_column_values_to_be_between",
                "kwargs": {"column": "missing_rows", "min_value": 0, "max_value": 0},
            },
            {
                "type": "expect_column_values_to_be_between",
                "kwargs": {"column": "mart_rows", "min_value": 1},
            },
        ],
    }
    path.write_text(json.dumps(spec))
    assert gates.materialized(spec)
    result = gates.run_suite(path, warehouse, docs_dir=tmp_path)
    assert not result.passed
    (failure,) = result.failures
    assert failure.column == "missing_rows"
    assert failure.unexpected_count == 1 and failure.examples == [10]
    _assert_released(warehouse)


def test_a_materialized_query_that_cannot_run_fails_its_suite_only(tmp_path, warehouse):
    """Its temporary table cannot be created (a table is missing): that suite fails naming the
    table, and the next suites of the step still run on the same connection."""
    con = duckdb.connect(str(warehouse))
    con.execute("create schema marts")
    con.execute("create table marts.t as select * from raw.t")
    con.close()
    check = [
        {
            "type": "expect_column_values_to_be_between",
            "kwargs": {"column": "missing_rows", "min_value": 0, "max_value": 0},
        }
    ]
    paths = []
    for name, query in [
        ("broken__reconciliation", "select (select count(*) from marts.nope) as missing_rows"),
        ("sound__reconciliation", "select 1000 - (select count(*) from marts.t) as missing_rows"),
    ]:
        paths.append(tmp_path / f"{name}.json")
        paths[-1].write_text(
            json.dumps(
                {
                    "name": name,
                    "meta": {"relation": "marts.t", "query": query},
                    "expectations": check,
                }
            )
        )
    broken, sound = gates.run_suites(paths, warehouse, docs_dir=tmp_path)
    assert not broken.passed
    assert "nope" in broken.failures[0].error and "could not be evaluated" in broken.summary()
    assert sound.passed, sound.summary()


def test_two_suite_files_of_one_name_with_other_queries_are_refused(tmp_path, warehouse):
    """One GX asset per suite name: the second file would be validated with the first's query.
    The error names both files."""
    check = [{"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "x"}}]
    paths = []
    for folder, relation in (("a", "raw.t"), ("b", "raw.other")):
        (tmp_path / folder).mkdir()
        paths.append(tmp_path / folder / "same.json")
        paths[-1].write_text(
            json.dumps({"name": "same", "meta": {"relation": relation}, "expectations": check})
        )
    with pytest.raises(ValueError, match="also the name of") as refused:
        gates.run_suites(paths, warehouse, docs_dir=tmp_path)
    assert str(paths[0]) in str(refused.value) and str(paths[1]) in str(refused.value)
