"""The dispatched pre-hook `delete_refund_speed_crossings(speed_column, returns)`
(macros/delete_refund_speed_crossings.sql): on an incremental build, delete the rows whose
stored refund speed belongs to the other case than today's: 'unknown' once a return carries a
refund timestamp, 'fast'/'slow'/'no_refund' while none does (int_orders_joined_to_repeat_purchases);
rows without a return ('no_return') stay; nothing on a full build; Spark only on Delta.

Rendered with Jinja as dbt renders it (tests/unit/as_of_macro_stub.py: run_query answers the
count of refund timestamps); the DELETE runs in DuckDB on rows written here, the survivors
worked out by hand.
"""

from __future__ import annotations

import duckdb
import pytest

from tests.unit.as_of_macro_stub import CompilerError, render_macros

pytestmark = pytest.mark.unit


def macros(refund_timestamps, **options):
    return render_macros("delete_refund_speed_crossings.sql", refund_timestamps, **options)


@pytest.fixture
def con():
    c = duckdb.connect()
    c.execute("create schema marts")
    c.execute("create table marts.fct_x (order_id varchar, speed varchar)")
    c.execute(
        "insert into marts.fct_x values ('A', 'fast'), ('B', 'slow'), ('C', 'no_refund'), "
        "('D', 'unknown'), ('E', 'no_return')"
    )
    yield c
    c.close()


def left(con) -> list[str]:
    return sorted(r[0] for r in con.execute("select order_id from marts.fct_x").fetchall())


def test_once_a_refund_timestamp_is_delivered_the_unknown_speeds_go(con):
    m, queries = macros(3)
    con.execute(m.delete_refund_speed_crossings("speed", "marts.fct_returns"))
    assert queries == ["select count(*) from marts.fct_returns where refunded_at is not null"]
    assert left(con) == ["A", "B", "C", "E"]


def test_while_no_refund_timestamp_is_delivered_the_known_speeds_go(con):
    m, _ = macros(0)
    con.execute(m.delete_refund_speed_crossings("speed", "marts.fct_returns"))
    assert left(con) == ["D", "E"]


def test_nothing_on_a_full_build_and_spark_on_delta_only(con):
    m, queries = macros(3, incremental=False)
    assert m.delete_refund_speed_crossings("speed", "marts.fct_returns").strip() == ""
    assert queries == []
    m, _ = macros(3, adapter="spark", file_format="parquet")
    with pytest.raises(CompilerError, match="file_format delta"):
        m.delete_refund_speed_crossings("speed", "marts.fct_returns")
    m, _ = macros(0, adapter="spark", file_format="delta")
    sql = " ".join(m.delete_refund_speed_crossings("speed", "marts.fct_returns").split()).lower()
    assert sql.startswith("delete from marts.fct_x where") and "select" not in sql
    con.execute(sql)
    assert left(con) == ["D", "E"]
