"""The exact value of a number's text (`returnlens/ingest/values.py`): a text loads only when it
is exactly a value of the column's type, never rounded. The expression takes a text that
DuckDB writes back unchanged without the regular expression (the usual case, cheaper): every
text is judged here against an expectation computed in Python from the contract's rule."""

from __future__ import annotations

import re
from dataclasses import replace
from decimal import Decimal

import duckdb
import pytest

from returnlens.ingest.contracts import Column, FileSpec
from returnlens.ingest.values import _typed_expr

pytestmark = pytest.mark.unit

TEXTS = [
    "5", "-5", "+5", "05", "-0", "0", "00", "2147483647", "2147483648", "-2147483648",
    "1e3", "1E+03", " 5", "5 ", "5.0", "5.", ".5", "-.5", "30.95", "30.950", "30.9", "30.955",
    "12345678.99", "123456789.00", "-12345678.99", "inf", "nan", "0x10", "1_000", "1,000",
    "1.000", "", "١٢", "+", "-", ".",
]  # fmt: skip


def _expected_integer(text: str) -> int | None:
    if not re.fullmatch(r"[+-]?[0-9]+", text):
        return None
    value = int(text)
    return value if -(2**31) <= value < 2**31 else None


def _expected_decimal(text: str) -> Decimal | None:
    # decimal(10,2): an optional sign, at most 8 integer digits, at most 2 decimals
    m = re.fullmatch(r"[+-]?([0-9]*)(\.([0-9]*))?", text)
    if not m or not re.search("[0-9]", text) or len(m.group(3) or "") > 2:
        return None
    if len(m.group(1).lstrip("0")) > 8:
        return None
    return Decimal(text if not text.endswith(".") else text[:-1])


def _judge(ctype: str, spec: FileSpec) -> dict[str, object]:
    con = duckdb.connect()
    con.execute("create table t (x varchar)")
    con.executemany("insert into t values (?)", [[t] for t in TEXTS])
    expr = _typed_expr(Column("x", ctype, ""), spec)
    return dict(con.execute(f"select x, {expr} from t").fetchall())


def test_integer_texts_load_exactly_or_not_at_all():
    got = _judge("integer", FileSpec("*", "csv"))
    assert got == {t: _expected_integer(t) for t in TEXTS}


def test_decimal_texts_load_exactly_or_not_at_all():
    got = _judge("decimal(10,2)", FileSpec("*", "csv"))
    assert got == {t: _expected_decimal(t) for t in TEXTS}


def test_a_grouped_dialect_never_takes_the_plain_form():
    """With '.' between groups of three and ',' decimals, '30.95' is no number (a group of two)
    and '1.000' is a thousand: the written-back shortcut is for plain numbers only."""
    spec = replace(FileSpec("*", "csv"), decimal_separator=",", thousands_separator=".")
    got = _judge("decimal(10,2)", spec)
    assert got["30.95"] is None and got["1.000"] == Decimal("1000") and got["5"] == Decimal(5)
    assert _judge("integer", spec)["1.000"] == 1000
