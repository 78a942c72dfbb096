"""Which nodes a retry after dbt ran out of DuckDB memory builds again (returnlens.dbt_retry):
run results written by hand in dbt's shape, expectations stated by hand."""

from __future__ import annotations

import json

import pytest

from returnlens.dbt_retry import merge_run_results, retry_after_out_of_memory

pytestmark = pytest.mark.unit

OOM = (
    "Runtime Error in model sig_purchase_journeys (models/marts/signals/sig_purchase_journeys.sql)"
    "\n  Out of Memory Error: failed to pin block of size 256.0 KiB (2.3 GiB/2.3 GiB used)"
)


def _write(path, results):
    path.write_text(json.dumps({"metadata": {"dbt_version": "1.11"}, "results": results}))
    return path


def _node(unique_id, status, message=None):
    return {"unique_id": unique_id, "status": status, "message": message}


BUILD = [
    _node("seed.returnlens.reason_taxonomy", "success"),
    _node("model.returnlens.fct_order_lines", "success"),
    _node("test.returnlens.unique_fct_order_lines_order_line_id.9f8e7d", "pass"),
    _node("test.returnlens.expressions_are_true_fct_order_lines.1a2b3c", "warn"),
    _node("model.returnlens.sig_purchase_journeys", "error", OOM),
    _node("test.returnlens.not_null_columns_sig_purchase_journeys.4d5e6f", "skipped"),
    _node("model.returnlens.sig_return_rate_by_behaviour_band", "skipped"),
]


def test_a_build_out_of_memory_is_retried_without_what_finished(tmp_path):
    retry = retry_after_out_of_memory(_write(tmp_path / "run_results.json", BUILD))
    assert retry is not None
    assert retry.out_of_memory == ["sig_purchase_journeys"]
    assert retry.finished == [
        "expressions_are_true_fct_order_lines",
        "fct_order_lines",
        "reason_taxonomy",
        "unique_fct_order_lines_order_line_id",
    ]
    assert retry.unfinished == 3


@pytest.mark.parametrize(
    ("unique_id", "status", "message"),
    [
        # a data test failed: a retry would fail it again
        ("test.returnlens.unique_dim_products_sku.0a0b0c", "fail", "Got 2 results"),
        # an SQL error is no memory problem
        ("model.returnlens.kpi_nps", "error", "Binder Error: column nps not found"),
    ],
)
def test_a_build_that_also_failed_for_another_reason_is_not_retried(
    tmp_path, unique_id, status, message
):
    results = [*BUILD, _node(unique_id, status, message)]
    assert retry_after_out_of_memory(_write(tmp_path / "run_results.json", results)) is None


def test_a_build_without_an_out_of_memory_error_or_results_is_not_retried(tmp_path):
    finished = [r for r in BUILD if r["status"] in ("success", "pass", "warn")]
    assert retry_after_out_of_memory(_write(tmp_path / "run_results.json", finished)) is None
    assert retry_after_out_of_memory(tmp_path / "missing" / "run_results.json") is None


def test_the_merged_results_hold_each_node_once_with_its_last_result(tmp_path):
    (tmp_path / "first").mkdir()
    (tmp_path / "retry").mkdir()
    first = _write(tmp_path / "first" / "run_results.json", BUILD)
    retried = [
        _node("model.returnlens.sig_purchase_journeys", "success"),
        _node("test.returnlens.not_null_columns_sig_purchase_journeys.4d5e6f", "pass"),
        _node("model.returnlens.sig_return_rate_by_behaviour_band", "success"),
    ]
    merged = merge_run_results(first, _write(tmp_path / "retry" / "run_results.json", retried))
    assert merged == tmp_path / "retry" / "run_results.merged.json"
    results = json.loads(merged.read_text())["results"]
    assert [r["unique_id"] for r in results] == [r["unique_id"] for r in BUILD]
    assert {r["unique_id"]: r["status"] for r in results} == {
        "seed.returnlens.reason_taxonomy": "success",
        "model.returnlens.fct_order_lines": "success",
        "test.returnlens.unique_fct_order_lines_order_line_id.9f8e7d": "pass",
        "test.returnlens.expressions_are_true_fct_order_lines.1a2b3c": "warn",
        "model.returnlens.sig_purchase_journeys": "success",
        "test.returnlens.not_null_columns_sig_purchase_journeys.4d5e6f": "pass",
        "model.returnlens.sig_return_rate_by_behaviour_band": "success",
    }
