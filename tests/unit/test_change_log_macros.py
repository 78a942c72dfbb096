"""The macros a model reading the change log uses: `changed_orders(kind)` (the keys listed after
the seq the model last read) and the dispatched pre-hook `delete_changed(key, kind)` (DuckDB:
a DELETE of those keys on an incremental build; Spark on Delta: a MERGE ... WHEN MATCHED THEN
DELETE, since Delta rejects a subquery in a DELETE; Spark without Delta: a compile error naming
--full-refresh).

The macros are rendered with Jinja as dbt renders them (dbt's context stubbed: this, ref,
is_incremental, config, adapter.dispatch, and change_log_read, the seq the model last read); the SQL runs in DuckDB on a log and a fact table
written here, and the expected keys are read off those rows by hand.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from types import SimpleNamespace

import duckdb
import jinja2
import pytest

pytestmark = pytest.mark.unit

MACROS = Path(__file__).resolve().parents[2] / "macros"
THIS = SimpleNamespace(schema="marts", identifier="fct_x")
THIS_SQL = "marts.fct_x"


class CompilerError(Exception):
    pass


def macros(*, consumed=None, incremental=True, adapter="duckdb", file_format=None, which="build"):
    """macros/changed_orders.sql and delete_changed.sql as callables, in a stubbed dbt context."""
    source = "".join(
        (MACROS / f"{name}.sql").read_text(encoding="utf-8")
        for name in ("changed_orders", "delete_changed")
    )
    env = jinja2.Environment(extensions=["jinja2.ext.do"])
    module = {}

    def dispatch(name, namespace):
        return getattr(module["m"], f"{adapter}__{name}", None) or getattr(
            module["m"], f"default__{name}"
        )

    def raise_compiler_error(message):
        raise CompilerError(message)

    class This(SimpleNamespace):
        def __str__(self):
            return THIS_SQL

    env.globals.update(
        change_log_read=lambda key: (
            {"change_seq": consumed[key], "changed_after": None}
            if consumed and key in consumed
            else None
        ),
        change_log_read_recorded=lambda: bool(consumed) and THIS_SQL in consumed,
        flags=SimpleNamespace(WHICH=which),
        this=This(schema=THIS.schema, identifier=THIS.identifier),
        ref=lambda name: "log" if name == "stg_loader__changed_orders" else name,
        is_incremental=lambda: incremental,
        execute=True,
        exceptions=SimpleNamespace(raise_compiler_error=raise_compiler_error),
        adapter=SimpleNamespace(dispatch=dispatch),
        config=SimpleNamespace(get=lambda key, default=None: {"file_format": file_format}.get(key)),
        **{"return": lambda value: value},
    )
    module["m"] = env.from_string(source).module
    return module["m"]


@pytest.fixture
def con():
    c = duckdb.connect()
    c.execute("create schema marts")
    c.execute(
        "create table log (change_seq bigint, order_id varchar, ordered_date date, "
        "requested_date date, responded_date date, cause varchar)"
    )
    c.execute(
        """
        insert into log values
            (3, 'O1', '2026-03-01', null, null, 'order_loaded'),
            (4, 'O2', '2026-03-02', '2026-03-20', null, 'return_loaded'),
            (4, 'O2', '2026-03-02', null, null, 'rma_shared'),
            (5, 'O3', '2026-02-27', null, '2026-03-21', 'nps_response_loaded'),
            (5, 'O9', null, null, null, 'order_retracted')
        """
    )
    c.execute("create table marts.fct_x (order_id varchar, ordered_date date)")
    c.execute(
        "insert into marts.fct_x values ('O1', '2026-03-01'), ('O2', '2026-03-02'), "
        "('O3', '2026-02-27'), ('O4', '2026-03-02')"
    )
    yield c
    c.close()


def keys(con, sql: str) -> list:
    return sorted(r[0] for r in con.execute(sql).fetchall())


def test_changed_orders_lists_the_keys_after_the_seq_the_model_read(con):
    m = macros(consumed={THIS_SQL: 3})
    assert keys(con, m.changed_orders("order_id")) == ["O2", "O3", "O9"]
    assert keys(con, m.changed_orders("ordered_date")) == [date(2026, 2, 27), date(2026, 3, 2)]
    assert keys(con, m.changed_orders("requested_date")) == [date(2026, 3, 20)]
    assert keys(con, m.changed_orders("responded_date")) == [date(2026, 3, 21)]
    assert keys(con, macros(consumed={THIS_SQL: 5}).changed_orders("order_id")) == []
    assert keys(con, macros(consumed={THIS_SQL: 0}).changed_orders("order_id")) == [
        "O1",
        "O2",
        "O3",
        "O9",
    ]


def test_changed_orders_refuses_an_unknown_kind_and_a_model_without_a_consumed_seq(con):
    with pytest.raises(CompilerError, match="order_id, ordered_date"):
        macros(consumed={THIS_SQL: 3}).changed_orders("customer_key")
    for consumed in (None, {}, {"marts.other": 3}):
        for which in ("run", "build"):
            with pytest.raises(CompilerError, match="--full-refresh") as err:
                macros(consumed=consumed, which=which).changed_orders("order_id")
            assert THIS_SQL in str(err.value)


def test_changed_orders_without_a_consumed_seq_compiles_for_compile_and_docs(con):
    """`dbt compile` and `dbt docs generate` after a run compile every model: a reader the
    last run built fully has no seq recorded, and failing there broke the docs site."""
    for which in ("compile", "generate"):
        m = macros(consumed=None, which=which)
        assert keys(con, m.changed_orders("order_id")) == ["O1", "O2", "O3", "O9"]


def test_delete_changed_deletes_the_listed_keys_on_an_incremental_build_only(con):
    m = macros(consumed={THIS_SQL: 3})
    assert m.delete_changed("order_id", "order_id").strip().startswith("delete from marts.fct_x")
    assert (
        macros(consumed={THIS_SQL: 3}, incremental=False)
        .delete_changed("order_id", "order_id")
        .strip()
        == ""
    )
    con.execute(m.delete_changed("order_id", "order_id"))
    assert keys(con, "select order_id from marts.fct_x") == ["O1", "O4"]


def test_delete_changed_without_a_recorded_read_deletes_every_row(con):
    """A `dbt build` by hand of a reader the pipeline recorded no read for (built fully last,
    or never planned) cannot know what changed: every row goes, and the body appends all."""
    for m in (macros(consumed=None), macros(consumed={"marts.other": 3})):
        con.execute("create or replace table marts.fct_y as select * from marts.fct_x")
        con.execute(m.delete_changed("order_id", "order_id").replace(THIS_SQL, "marts.fct_y"))
        assert con.execute("select count(*) from marts.fct_y").fetchall() == [(0,)]
    spark = macros(consumed=None, adapter="spark", file_format="delta")
    assert (
        " ".join(spark.delete_changed("order_id", "order_id").split()) == f"delete from {THIS_SQL}"
    )


def test_delete_changed_by_day_deletes_every_row_of_a_listed_day(con):
    # after seq 3 the log lists the days 2026-03-02 (O2) and 2026-02-27 (O3): O4's day too
    con.execute(macros(consumed={THIS_SQL: 3}).delete_changed("ordered_date", "ordered_date"))
    assert keys(con, "select order_id from marts.fct_x") == ["O1"]


@pytest.mark.parametrize("file_format", [None, "parquet"])
def test_delete_changed_on_spark_without_delta_names_full_refresh(file_format):
    m = macros(consumed={THIS_SQL: 3}, adapter="spark", file_format=file_format)
    with pytest.raises(CompilerError, match="--full-refresh") as err:
        m.delete_changed("order_id", "order_id")
    assert "file_format delta" in str(err.value) and THIS_SQL in str(err.value)
    # a full build deletes nothing, so it needs no Delta
    full = macros(consumed=None, adapter="spark", file_format=file_format, incremental=False)
    assert full.delete_changed("order_id", "order_id").strip() == ""


def test_delete_changed_on_spark_with_delta_merges_instead_of_a_delete_with_a_subquery(con):
    """Open-source Delta rejects a subquery in a DELETE's condition: on Spark the keys are
    deleted by a MERGE ... WHEN MATCHED THEN DELETE. DuckDB cannot tell Spark-only syntax
    apart, so the statement's shape is checked, then the MERGE run here (DuckDB has MERGE)."""
    m = macros(consumed={THIS_SQL: 3}, adapter="spark", file_format="delta")
    sql = " ".join(m.delete_changed("order_id", "order_id").split()).lower()
    assert sql.startswith("merge into marts.fct_x ")
    assert "when matched then delete" in sql
    assert "delete from" not in sql
    con.execute(sql)
    assert keys(con, "select order_id from marts.fct_x") == ["O1", "O4"]
    by_day = macros(consumed={THIS_SQL: 3}, adapter="spark", file_format="delta")
    con.execute(by_day.delete_changed("ordered_date", "ordered_date"))
    assert keys(con, "select order_id from marts.fct_x") == ["O1"]


@pytest.fixture
def customers(con):
    """fct_x keyed by order with its customer, and `facts`, the orders' customers now: O3 is a
    new order of c4; O9 moved from c5 to c6; the log lists O2, O3 and O9 after seq 3."""
    con.execute("create or replace table marts.fct_x (order_id varchar, customer_key varchar)")
    con.execute(
        "insert into marts.fct_x values ('O1', 'c1'), ('O2', 'c2'), ('O4', 'c2'), "
        "('O5', 'c3'), ('O6', 'c4'), ('O7', 'c5'), ('O9', 'c5')"
    )
    con.execute("create table facts (order_id varchar, customer_key varchar)")
    con.execute(
        "insert into facts values ('O1', 'c1'), ('O2', 'c2'), ('O3', 'c4'), ('O4', 'c2'), "
        "('O5', 'c3'), ('O6', 'c4'), ('O7', 'c5'), ('O9', 'c6')"
    )
    return con


# c2 (O2's), c4 (O3's, a new order: only the facts know it), c5 (O9's before it moved: only
# this table knows it) and c6 (O9's now): every order of theirs goes
GROUPS_LEFT = ["O1", "O5"]


def test_delete_changed_by_group_deletes_every_row_of_a_listed_keys_group_before_and_now(
    customers,
):
    m = macros(consumed={THIS_SQL: 3})
    sql = m.delete_changed("order_id", "order_id", "customer_key", "facts")
    customers.execute(sql)
    assert keys(customers, "select order_id from marts.fct_x") == GROUPS_LEFT
    full = macros(consumed={THIS_SQL: 3}, incremental=False)
    assert full.delete_changed("order_id", "order_id", "customer_key", "facts").strip() == ""
    with pytest.raises(CompilerError, match="needs current"):
        m.delete_changed("order_id", "order_id", "customer_key")


def test_delete_changed_by_group_on_spark_with_delta_merges(customers):
    m = macros(consumed={THIS_SQL: 3}, adapter="spark", file_format="delta")
    sql = " ".join(m.delete_changed("order_id", "order_id", "customer_key", "facts").split())
    assert sql.lower().startswith("merge into marts.fct_x ")
    assert "when matched then delete" in sql.lower() and "delete from" not in sql.lower()
    customers.execute(sql)
    assert keys(customers, "select order_id from marts.fct_x") == GROUPS_LEFT
