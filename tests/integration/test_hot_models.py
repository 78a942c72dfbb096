"""The hot models are tables: the customer hash of customers and orders, the return lines'
order-line matching, the reason mapping and the intermediate models many marts and tests read
are computed once per run, not on every scan of a view (issue 16).

Checked on the session's pipeline run (`pipeline_run`): those models are base tables of the
warehouse, and the customer keys of the staging tables (and of the web events, still a view:
as a table, rebuilt by every run, it cost more than it saved) are the salted SHA-256 of the
raw ids, computed here with hashlib from raw's ids and the installation's salt. The matching's
values on platform deliveries: test_mixed_deliveries.py; the reason mapping's tables keep no
text of an unknown writer: test_referential_defects.py.
"""

from __future__ import annotations

import hashlib

import duckdb
import pytest

pytestmark = pytest.mark.integration

TABLES = {
    "staging": ("stg_shop__customers", "stg_shop__orders", "stg_returns__order_line_matches"),
    "intermediate": (
        "int_warehouse_as_of",
        "int_order_lines_joined_to_returns",
        "int_return_lines_costed",
        "int_return_lines_mapped_to_reasons",
        "int_return_lines_mapped_to_states",
        "int_quality_rules_evaluated",
        "int_quality_subjects_aggregated_to_weeks",
        "int_quality_subjects_pivoted",
    ),
}


def _key(salt: str, customer_id: str | None) -> str | None:
    if customer_id is None:
        return None
    return hashlib.sha256(f"{salt}{customer_id}".encode()).hexdigest()


@pytest.fixture(scope="module")
def warehouse(pipeline_run):
    assert pipeline_run.success
    con = duckdb.connect(str(pipeline_run.warehouse), read_only=True)
    yield con
    con.close()


def test_the_hot_models_are_tables(warehouse):
    for schema, names in TABLES.items():
        tables = {
            name
            for (name,) in warehouse.execute(
                "select table_name from duckdb_tables() where schema_name = ?", [schema]
            ).fetchall()
        }
        assert set(names) <= tables, f"{schema}: views, not tables: {set(names) - tables}"


def test_the_staging_tables_hold_the_salted_hash_of_the_raw_ids(warehouse):
    from returnlens.config import pii_salt

    salt = pii_salt()
    # the web events stay a view: it hashes with the salt of the connection
    warehouse.execute("set variable returnlens_pii_salt = ?", [salt])
    raw_customers = warehouse.execute("select customer_id from raw.customers").fetchall()
    (keys,) = zip(
        *warehouse.execute("select customer_key from staging.stg_shop__customers").fetchall(),
        strict=True,
    )
    assert sorted(keys) == sorted(_key(salt, c) for (c,) in raw_customers)

    for table, raw, key in (
        ("stg_shop__orders", "orders", "order_id"),
        ("stg_web__events", "web_events", "event_id"),
    ):
        expected = {
            k: _key(salt, c)
            for k, c in warehouse.execute(f"select {key}, customer_id from raw.{raw}").fetchall()
        }
        got = dict(warehouse.execute(f"select {key}, customer_key from staging.{table}").fetchall())
        assert got, f"staging.{table} is empty"
        assert {k: expected[k] for k in got} == got, f"staging.{table}: keys differ from raw"
        assert any(v is not None for v in got.values())
