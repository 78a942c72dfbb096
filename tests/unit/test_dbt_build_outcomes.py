"""What the dbt step says about dbt's tests, from a hand-written run_results.json."""

from __future__ import annotations

import json

import pytest

from returnlens.dbt_runner import build_outcomes

pytestmark = pytest.mark.unit


def _results(tmp_path, rows):
    path = tmp_path / "run_results.json"
    path.write_text(
        json.dumps(
            {
                "results": [
                    dict(zip(("unique_id", "status", "message"), r, strict=True)) for r in rows
                ]
            }
        )
    )
    return path


def test_counts_tests_and_names_failures_without_quoting_errors(tmp_path):
    path = _results(
        tmp_path,
        [
            ("model.returnlens.fct_returns", "success", "OK"),
            ("test.returnlens.not_null_fct_returns_rma_id.abc", "pass", None),
            (
                "test.returnlens.unique_fct_returns_key.def",
                "fail",
                "Got 3 results, configured to fail if != 0",
            ),
            ("test.returnlens.accepted_values_x.ghi", "warn", "Got 1 result"),
            ("unit_test.returnlens.fct_returns.rounds_half_up", "pass", None),
            (
                "model.returnlens.kpi_nps",
                "error",
                "Conversion Error: could not convert 'Jan Jansen'",
            ),
        ],
    )
    counts, failed = build_outcomes(path)
    assert counts == {"pass": 2, "fail": 1, "warn": 1}
    assert failed == [
        "test unique_fct_returns_key: fail (Got 3 results, configured to fail if != 0)",
        "model kpi_nps: error",
    ]
    assert not any("Jansen" in line for line in failed)


def test_no_run_results_means_no_outcomes(tmp_path):
    assert build_outcomes(tmp_path / "run_results.json") == ({}, [])
