"""The customer hash as DuckDB runs it: the SQL of macros duckdb__hash_customer_id and
duckdb__pii_salt, rendered from the macro files and run on a tiny in-memory table.

With the salt variable set, the key is the hex SHA-256 of salt || id (computed here with
hashlib); without it, a query fails with an error naming the variable, never null keys (found
in issue 16: `coalesce(getvariable(...), error(...)) || id` was folded to null and returned
null keys without a word, and cost 6x the hash itself on every row).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import duckdb
import jinja2
import pytest

pytestmark = pytest.mark.unit

MACROS = Path(__file__).resolve().parents[2] / "macros"
SALT = "a-salt-of-at-least-16-characters"
IDS = ["C1", "C2", "12345", None]


def _hash_sql(column: str) -> str:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(MACROS)))
    salt = env.get_template("pii_salt.sql").module.duckdb__pii_salt
    env.globals["pii_salt"] = salt
    hashing = env.get_template("hash_customer_id.sql").module.duckdb__hash_customer_id
    return str(hashing(column))


@pytest.fixture
def con():
    con = duckdb.connect()
    con.execute("create table customers (customer_id varchar)")
    con.executemany("insert into customers values (?)", [[i] for i in IDS])
    con.execute(
        f"create view keyed as select {_hash_sql('customer_id')} as customer_key from customers"
    )
    yield con
    con.close()


def test_the_key_is_the_sha256_of_salt_and_id(con):
    con.execute("set variable returnlens_pii_salt = ?", [SALT])
    got = dict(
        con.execute(f"select customer_id, {_hash_sql('customer_id')} from customers").fetchall()
    )
    expected = {i: hashlib.sha256(f"{SALT}{i}".encode()).hexdigest() if i else None for i in IDS}
    assert got == expected
    assert sorted(k for (k,) in con.execute("select customer_key from keyed").fetchall() if k) == (
        sorted(v for v in expected.values() if v)
    )


@pytest.mark.parametrize(
    "query",
    [
        "select customer_key from keyed",
        "select count(customer_key) from keyed",
        "select count(distinct customer_key) from keyed where customer_key is not null",
    ],
)
def test_without_the_salt_a_query_fails_naming_the_variable(con, query):
    with pytest.raises(duckdb.Error, match="returnlens_pii_salt is not set"):
        con.execute(query).fetchall()
