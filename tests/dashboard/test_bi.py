"""BI access as docs/bi.md describes it: SQLAlchemy with duckdb_engine, read-only, introspects
every published mart and selects from each; the Parquet export holds the same marts."""

from __future__ import annotations

import json

import duckdb
import pytest
import sqlalchemy as sa

pytestmark = pytest.mark.integration


def _engine(serving):
    # what docs/bi.md tells a BI tool: read-only, and a short connection per query (NullPool)
    return sa.create_engine(
        f"duckdb:///{serving}",
        connect_args={"read_only": True},
        poolclass=sa.pool.NullPool,
    )


def test_sqlalchemy_introspects_and_selects_every_published_mart(serving):
    with duckdb.connect(str(serving), read_only=True) as con:
        published = json.loads(con.execute("select tables from marts.publish_log").fetchall()[0][0])
    engine = _engine(serving)
    try:
        inspector = sa.inspect(engine)
        names = set(inspector.get_table_names(schema="marts"))
        assert set(published) <= names
        assert {"publish_log", "publish_gate_results"} <= names
        for name in sorted(names):
            # Column reflection (inspector.get_columns, Table(autoload_with=...)) fails with
            # SQLAlchemy >= 2.0.45 and duckdb_engine 0.17 (pg_catalog.pg_collation is missing;
            # duckdb_engine#1391): introspect columns through information_schema instead.
            with engine.connect() as conn:
                columns = [
                    sa.column(c)
                    for (c,) in conn.execute(
                        sa.text(
                            "select column_name from information_schema.columns "
                            "where table_schema = 'marts' and table_name = :t "
                            "order by ordinal_position"
                        ),
                        {"t": name},
                    )
                ]
                assert columns, name
                table = sa.table(name, *columns, schema="marts")
                rows = conn.execute(sa.select(table).limit(5)).fetchall()
                count = conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
            assert len(rows) == min(5, count)
            assert all(len(r) == len(columns) for r in rows)
            if name in published:
                assert count == published[name], name
    finally:
        engine.dispose()


def test_the_bi_connection_is_read_only(serving):
    engine = _engine(serving)
    try:
        with engine.connect() as conn, pytest.raises(sa.exc.DBAPIError, match="read-only"):
            conn.execute(sa.text("create table marts.should_fail (x integer)"))
    finally:
        engine.dispose()


def test_filters_from_a_bi_tool_bind_parameters(serving):
    engine = _engine(serving)
    try:
        with engine.connect() as conn:
            hostile = "apparel' or '1'='1"
            rows = conn.execute(
                sa.text(
                    "select count(*) from marts.kpi_return_rates_by_order_cohort "
                    "where slice_type = 'category' and slice_value = :v"
                ),
                {"v": hostile},
            ).scalar_one()
        assert rows == 0
    finally:
        engine.dispose()


def test_the_parquet_export_has_every_published_mart(serving):
    """Read the way docs/bi.md says: manifest.json once, then the files of its folder."""
    root = serving.with_name(serving.stem + "_parquet")
    manifest = json.loads((root / "manifest.json").read_text(encoding="utf-8"))
    folder = root / manifest["folder"]
    with duckdb.connect(str(serving), read_only=True) as con:
        published, publish_id = con.execute(
            "select tables, publish_id from marts.publish_log"
        ).fetchall()[0]
    assert manifest["publish_id"] == publish_id
    with duckdb.connect() as con:
        for name, rows in json.loads(published).items():
            path = folder / manifest["tables"][name]["file"]
            assert path.exists(), path
            assert con.execute("select count(*) from read_parquet(?)", [str(path)]).fetchall() == [
                (rows,)
            ]
            # the stable path for tools that read one file: current/<mart>.parquet
            assert (root / "current" / path.name).samefile(path)
