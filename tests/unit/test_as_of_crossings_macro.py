"""The dispatched pre-hook `delete_as_of_crossings(flag_column, date_column, days)`
(macros/delete_as_of_crossings.sql): on an incremental build, delete the rows whose stored flag
differs from "date_column + days on or before today's as-of date" (fct_order_lines'
is_return_window_closed), in both directions; nothing on a full build; Spark only on Delta.

Rendered with Jinja as dbt renders it (dbt's context stubbed: this, ref, run_query returning
the as-of date, is_incremental, config, adapter.dispatch, dbt.dateadd as DuckDB's date
arithmetic); the DELETE runs in DuckDB on rows written here, the expected survivors worked out
by hand from the dates.
"""

from __future__ import annotations

import duckdb
import pytest

from tests.unit.as_of_macro_stub import CompilerError, render_macros

pytestmark = pytest.mark.unit


def macros(as_of, **options):
    return render_macros("delete_as_of_crossings.sql", as_of, **options)


@pytest.fixture
def con():
    c = duckdb.connect()
    c.execute("create schema marts")
    c.execute("create table marts.fct_x (line varchar, ordered_date date, is_closed boolean)")
    c.execute(
        """
        insert into marts.fct_x values
            ('open_now_closed', '2026-03-05', false),
            ('open_now_closed_on_the_day', '2026-03-10', false),
            ('open_still_open', '2026-03-11', false),
            ('closed_still_closed', '2026-03-01', true),
            ('closed_now_open', '2026-03-15', true),
            ('no_date', null, false)
        """
    )
    yield c
    c.close()


def left(con) -> list[str]:
    return sorted(r[0] for r in con.execute("select line from marts.fct_x").fetchall())


def test_deletes_the_rows_whose_flag_the_as_of_date_changed_both_ways(con):
    # as of 2026-03-20, 10 days: closed when ordered on or before 2026-03-10
    m, queries = macros("2026-03-20")
    sql = m.delete_as_of_crossings("is_closed", "ordered_date", 10)
    assert queries == ["select cast(as_of_date as varchar) from intermediate.int_warehouse_as_of"]
    con.execute(sql)
    assert left(con) == ["closed_still_closed", "no_date", "open_still_open"]


def test_without_an_as_of_date_every_closed_row_is_deleted(con):
    m, _ = macros(None)
    con.execute(m.delete_as_of_crossings("is_closed", "ordered_date", 10))
    assert left(con) == [
        "no_date",
        "open_now_closed",
        "open_now_closed_on_the_day",
        "open_still_open",
    ]


def test_nothing_on_a_full_build_and_a_bad_date_is_refused(con):
    m, queries = macros("2026-03-20", incremental=False)
    assert m.delete_as_of_crossings("is_closed", "ordered_date", 10).strip() == ""
    assert queries == []
    m, _ = macros("2026-03-20'; drop table marts.fct_x; --")
    with pytest.raises(ValueError):
        m.delete_as_of_crossings("is_closed", "ordered_date", 10)


def test_spark_deletes_on_delta_only_without_a_subquery(con):
    m, _ = macros("2026-03-20", adapter="spark", file_format="parquet")
    with pytest.raises(CompilerError, match="--full-refresh") as err:
        m.delete_as_of_crossings("is_closed", "ordered_date", 10)
    assert "file_format delta" in str(err.value)
    m, _ = macros("2026-03-20", adapter="spark", file_format="delta")
    sql = " ".join(m.delete_as_of_crossings("is_closed", "ordered_date", 10).split()).lower()
    assert sql.startswith("delete from marts.fct_x where") and "select" not in sql
    con.execute(sql)
    assert left(con) == ["closed_still_closed", "no_date", "open_still_open"]


@pytest.fixture
def moments():
    c = duckdb.connect()
    c.execute("create schema marts")
    c.execute("create table marts.fct_x (line varchar, ordered_at timestamp, is_closed boolean)")
    c.execute(
        """
        insert into marts.fct_x values
            ('open_now_closed', '2026-03-10 11:59:59', false),
            ('open_now_closed_to_the_second', '2026-03-10 12:00:00', false),
            ('open_still_open', '2026-03-10 12:00:01', false),
            ('closed_still_closed', '2026-03-01 00:00:00', true),
            ('closed_now_open', '2026-03-10 12:00:01', true),
            ('no_moment', null, false)
        """
    )
    yield c
    c.close()


def test_against_the_as_of_moment_a_timestamp_plus_days_closes_to_the_second(moments):
    # as of 2026-03-20 12:00:00, 10 days: closed when ordered at or before 2026-03-10 12:00:00
    # (a date's comparison would close the whole of 2026-03-10)
    m, queries = macros("2026-03-20 12:00:00")
    sql = m.delete_as_of_crossings("is_closed", "ordered_at", 10, "as_of_at")
    assert queries == ["select cast(as_of_at as varchar) from intermediate.int_warehouse_as_of"]
    moments.execute(sql)
    assert left(moments) == ["closed_still_closed", "no_moment", "open_still_open"]
    spark, _ = macros("2026-03-20 12:00:00", adapter="spark", file_format="delta")
    sql = " ".join(spark.delete_as_of_crossings("is_closed", "ordered_at", 10, "as_of_at").split())
    assert sql.lower().startswith("delete from marts.fct_x where") and "select" not in sql.lower()
