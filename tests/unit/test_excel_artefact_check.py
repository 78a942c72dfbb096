"""The Excel-artefact check of text columns (`excel_artefacts.artefact_reason`) flags exactly the
values its definition names, whatever SQL it is written in (issue 16 rewrote its prefix tests as
string ranges): checked against a plain Python statement of the rules on values chosen to sit
on every edge of the ranges."""

from __future__ import annotations

import re

import duckdb
import pytest

from returnlens.ingest.contracts import Column
from returnlens.ingest.excel_artefacts import artefact_reason
from returnlens.ingest.values import _EXCEL_SCIENTIFIC

pytestmark = pytest.mark.unit

VALUES = [
    None, "", "=", '="', '=""', '="O0003848-1"', '="O0003848-1', '=""x"', '=#"', '=!"', "=\u00e9\"",
    ' ="x"', '=="x"', "\"='x'\"", "O0003848-1", "AP00001", "4.92E+11", "+4.92E+11", "-1E+5",
    "4,92E+11", "4.92e+11", "4.92E+1x", "E+11", "*4.92E+11", ",5E+1", "/5E+1", "9E+9", ":5E+1",
    "4.92E+11 ", " 4.92E+11", "0E+0", "\u0664.92E+11", "4.9.2E+11", "12345", "+", "-", "9",
]  # fmt: skip


def _expected(value: str | None) -> str | None:
    if value is None:
        return None
    if value.startswith('="') and value.endswith('"'):
        return "formula"
    if re.fullmatch(_EXCEL_SCIENTIFIC, value):
        return "scientific"
    return None


def test_the_artefact_check_flags_exactly_the_formula_wrapper_and_excel_scientific_numbers():
    con = duckdb.connect()
    con.execute("create table t (i integer, sku varchar)")
    con.executemany("insert into t values (?, ?)", list(enumerate(VALUES)))
    reason = artefact_reason(Column("sku", "varchar", "A text column."))
    found = dict(con.execute(f"select i, {reason} from t").fetchall())
    for i, value in enumerate(VALUES):
        text = found[i]
        kind = None if text is None else ("formula" if "formula" in text else "scientific")
        assert kind == _expected(value), value
