"""Forgetting a customer on a real pipeline's warehouse: raw erased, the next publish holds none
of it (serving never holds PII, nor the raw customer id)."""

from __future__ import annotations

import shutil

import duckdb
import pytest

from returnlens.ingest.contracts import entity
from returnlens.ingest.privacy import forget_customer
from returnlens.publish import publish

pytestmark = pytest.mark.integration


def _text_values(con) -> set[str]:
    """Every distinct text value of every table in the serving file."""
    values: set[str] = set()
    cols = con.execute(
        "select schema_name, table_name, column_name from duckdb_columns() "
        "where data_type = 'VARCHAR' and database_name = current_database()"
    ).fetchall()
    for schema, table, column in cols:
        rows = con.execute(
            f'select distinct cast("{column}" as varchar) from "{schema}"."{table}"'
        ).fetchall()
        values.update(v for (v,) in rows if v is not None)
    return values


def test_forgotten_customer_is_erased_in_raw_and_absent_from_the_next_publish(
    pipeline_run, tmp_path
):
    assert pipeline_run.success
    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copy(pipeline_run.warehouse, warehouse)
    customers = entity("customers")
    pii = customers.pii_columns
    con = duckdb.connect(str(warehouse))
    try:
        row = con.execute(
            f"select customer_id, {', '.join(pii)} from raw.customers "
            "where phone is not null order by customer_id limit 1"
        ).fetchall()[0]
        customer_id, personal = row[0], [v for v in row[1:] if v]
        res = forget_customer(con, customer_id)
        assert res.rows_erased["customers"] == 1
        erased = con.execute(
            f"select {', '.join(pii)} from raw.customers where customer_id = ?", [customer_id]
        ).fetchall()
        assert erased == [(None,) * len(pii)]
    finally:
        con.close()
    serving = tmp_path / "serving.duckdb"
    publish(warehouse=warehouse, serving=serving, run_id=None, parquet=False)
    with duckdb.connect(str(serving), read_only=True) as served:
        values = _text_values(served)
    assert len(values) > 100
    assert customer_id not in values
    assert not set(personal) & values
    assert not any("@" in v for v in values), "an e-mail-like value was published"
