"""Gates and optional sources, on a tiny hand-made warehouse (real DuckDB, real GX suites).

- An optional source with no file at all: its suites pass with "not available: no <source>
  delivered" (they failed on an empty table before).
- An optional source that was delivered but loaded no row (its file failed): the suite still
  fails.
- A required source with no file at all: the suite fails and the first line says which source
  is missing and where to put it.
- The marts that need each optional source are listed once in Python and once in the
  rpt_source_availability model: both lists are equal.
"""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import pytest
import yaml

from returnlens.config import PROJECT_ROOT

pytestmark = [pytest.mark.integration]


def _warehouse(tmp_path: Path, audit_entities: dict[str, str]) -> Path:
    from returnlens.ingest.raw_tables import ensure_raw_schema

    path = tmp_path / "warehouse.duckdb"
    con = duckdb.connect(str(path))
    try:
        ensure_raw_schema(con)
        for entity, status in audit_entities.items():
            con.execute(
                "insert into raw.load_audit (load_id, entity, source, source_file, status) "
                "values ('l1', ?, 'x', ?, ?)",
                [entity, f"x/{entity}.csv", status],
            )
    finally:
        con.close()
    return path


def _gates(tmp_path: Path, warehouse: Path, names: list[str]) -> dict:
    from returnlens.quality.history import run_gates

    paths = [PROJECT_ROOT / "expectations" / f"{n}.json" for n in names]
    out = run_gates(paths, warehouse, "run-1", docs_dir=tmp_path / "docs")
    return {r.suite: r for r, _, _ in out}


def test_defect07_missing_optional_source_skips_its_gate_but_a_broken_one_fails(tmp_path):
    warehouse = _warehouse(tmp_path, {"nps_responses": "failed"})
    results = _gates(tmp_path, warehouse, ["raw_web_events", "raw_nps_responses", "raw_orders"])

    web = results["raw_web_events"]
    assert web.passed and web.skipped == "not available: no web events delivered"
    assert "skipped, not available: no web events delivered" in web.summary()

    nps = results["raw_nps_responses"]  # delivered (its file failed): empty is a failure
    assert nps.skipped is None and not nps.passed
    assert any(o.expectation == "expect_table_row_count_to_be_between" for o in nps.failures)

    orders = results["raw_orders"]  # required, no file at all
    assert not orders.passed and orders.skipped is None
    first = orders.summary().splitlines()[1]
    assert first.startswith("FAILED no orders delivered: this source is required")
    assert "shop/orders_*.csv" in first


def test_marts_needing_optional_sources_match_the_availability_model():
    from returnlens.ingest.contracts import OPTIONAL_ENTITIES
    from returnlens.quality.availability import MARTS_NEEDING

    sql = (PROJECT_ROOT / "models/marts/reports/rpt_source_availability.sql").read_text()
    listed = dict(re.findall(r"\('\w+', '(\w+)', '([\w, ]+)'\)", sql))
    assert {k: tuple(v.split(", ")) for k, v in listed.items()} == MARTS_NEEDING
    # every entity with marts that need it is optional; suppliers are optional without such
    # marts (dim_suppliers then knows suppliers by the ids on the products), and so are
    # exchange rates (only orders in another currency need them: rpt_currency_conversions)
    assert set(MARTS_NEEDING) == set(OPTIONAL_ENTITIES) - {"suppliers", "exchange_rates"}
    defaults = yaml.safe_load((PROJECT_ROOT / "dbt_project.yml").read_text())["vars"]
    assert defaults["optional_entities"] == list(OPTIONAL_ENTITIES)
