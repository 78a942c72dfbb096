"""The volume gate's minimum: from the last passed run, 0 where the shop lacks the input."""

from __future__ import annotations

import duckdb
import pytest

from returnlens.quality.history import ensure_history, volume_parameters

pytestmark = pytest.mark.unit

# fails when evaluated: proves the exemption was not looked at
NEVER = "select count(*) = 0 from main.no_such_table"


@pytest.fixture()
def con():
    con = duckdb.connect()
    ensure_history(con)
    con.execute(
        "insert into quality.gate_runs (suite, row_count, passed, evaluated_at) "
        "values ('s', 100, true, now())"
    )
    con.execute("create table inputs (x integer)")  # empty: the shop lacks the input
    yield con
    con.close()


def test_an_empty_mart_without_its_input_may_be_empty(con):
    volume = {"shrink": 0.1, "may_be_empty_when": "select count(*) = 0 from inputs"}
    assert volume_parameters(con, "s", volume, rows=0)["previous_row_count_min"] == 0
    con.execute("insert into inputs values (1)")  # the input is there: the mart lost rows
    assert volume_parameters(con, "s", volume, rows=0)["previous_row_count_min"] == 90


def test_a_mart_at_its_minimum_does_not_evaluate_the_exemption(con):
    volume = {"shrink": 0.1, "may_be_empty_when": NEVER}
    assert volume_parameters(con, "s", volume, rows=90)["previous_row_count_min"] == 90
    assert volume_parameters(con, "new", volume, rows=1)["previous_row_count_min"] == 1
    with pytest.raises(duckdb.CatalogException):
        volume_parameters(con, "s", volume, rows=89)  # below: the exemption decides
