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


def test_the_web_event_keys_count_every_event_by_its_customer_and_its_sku(warehouse):
    """stg_web__event_keys (what rpt_referential_integrity sums instead of scanning every
    event): per customer id the salted hash and its number of events, per sku its number of
    events; expected from raw's rows, counted and hashed here."""
    from collections import Counter

    from returnlens.config import pii_salt

    salt = pii_salt()
    warehouse.execute("set variable returnlens_pii_salt = ?", [salt])
    events = warehouse.execute("select customer_id, sku from raw.web_events").fetchall()
    assert any(c for c, _ in events) and any(s for _, s in events)
    by_customer = Counter(_key(salt, c) for c, _ in events)
    by_sku = Counter(s for _, s in events)
    rows = warehouse.execute(
        "select customer_key, sku, events from staging.stg_web__event_keys"
    ).fetchall()
    # a row per customer id (sku null), a row per sku (customer_key null); the anonymous
    # events' and the sku-less events' rows have both keys null
    # summed, not keyed: a key with two rows would show as a count no event gives
    got_customers = Counter()
    got_skus = Counter()
    for k, s, n in rows:
        if k is not None:
            got_customers[k] += n
        if s is not None:
            got_skus[s] += n
    # and one row per key
    assert len([k for k, _, _ in rows if k is not None]) == len(got_customers)
    assert len([s for _, s, _ in rows if s is not None]) == len(got_skus)
    both_null = sorted(n for k, s, n in rows if k is None and s is None)
    assert all(not (k is not None and s is not None) for k, s, _ in rows)
    assert got_customers == Counter({k: n for k, n in by_customer.items() if k is not None})
    assert got_skus == Counter({s: n for s, n in by_sku.items() if s is not None})
    assert both_null == sorted(
        n for n in (by_customer.get(None), by_sku.get(None)) if n is not None
    )


def test_the_return_lines_are_masked_once_and_read_stored(pipeline_run, warehouse):
    """The masking view stg_returns__return_lines is read by int_return_lines_mapped_to_reasons
    only, and once in its SQL (the keyword rules are macros fed its texts): every other reader
    and every data test of the return lines reads that table, which holds the view's rows
    (every column; the text of known writers only, docs/security.md)."""
    import json

    from returnlens.config import pii_salt
    from returnlens.dbt_runner import target_dir

    manifest = json.loads((target_dir() / "manifest.json").read_text(encoding="utf-8"))
    view = "model.returnlens.stg_returns__return_lines"
    readers = sorted(
        n["name"]
        for n in manifest["nodes"].values()
        if view in (n.get("depends_on") or {}).get("nodes", [])
        and n["resource_type"] in ("model", "test", "snapshot")
    )
    assert readers == ["int_return_lines_mapped_to_reasons"]
    model = manifest["nodes"]["model.returnlens.int_return_lines_mapped_to_reasons"]
    assert model["raw_code"].count("ref('stg_returns__return_lines')") == 1

    warehouse.execute("set variable returnlens_pii_salt = ?", [pii_salt()])
    columns = [
        c
        for (c,) in warehouse.execute(
            "select column_name from duckdb_columns() where schema_name = 'staging' "
            "and table_name = 'stg_returns__return_lines' order by column_index"
        ).fetchall()
    ]
    kept = ", ".join(
        f"case when is_writer_known then {c} end as {c}" if c == "reason_text" else c
        for c in columns
    )
    view_rows = f"select {kept} from staging.stg_returns__return_lines"
    stored = f"select {', '.join(columns)} from intermediate.int_return_lines_mapped_to_reasons"
    for a, b in ((view_rows, stored), (stored, view_rows)):
        assert warehouse.execute(f"select count(*) from ({a} except all {b})").fetchall() == [(0,)]
    (n,) = warehouse.execute("select count(*) from staging.stg_returns__return_lines").fetchone()
    assert n > 0
