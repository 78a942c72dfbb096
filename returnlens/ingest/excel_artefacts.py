"""The SQL that finds Excel's artefacts in a text column: the text-formula wrapper `="…"`
and a number in Excel's scientific notation (`4.92E+11`, its digits already lost). Rows with
either are quarantined, not repaired (returnlens/ingest/row_checks.py says why and where the
check applies)."""

from __future__ import annotations

from returnlens.ingest.contracts import Column
from returnlens.ingest.values import _EXCEL_SCIENTIFIC
from returnlens.warehouse import quote_ident as qi
from returnlens.warehouse import quote_literal as ql


def artefact_reason(c: Column) -> str:
    """Excel artefacts in a text column (the value is never quoted)."""
    col = qi(c.name)
    formula = (
        f'Excel text formula ="…" around the value in {c.name}: export the column as text '
        '(or remove the ="" wrapper) and deliver the file again'
    )
    scientific = (
        f"a number in scientific notation in {c.name}, a text column: Excel turned the text "
        "into a number and lost digits; format the column as text before exporting"
    )
    # A prefix is tested as a range of strings, which DuckDB decides on the string's inlined
    # first bytes: `x >= '="' and x < '=#'` is `starts_with(x, '="')`, and every Excel number
    # starts with a sign or a digit, within ['+', ':'). Measured on 1M order lines, 4 text
    # columns: 0.07 s CPU instead of 0.10 (starts_with alone: 0.06 s; the ranges: 0.006 s).
    return (
        f"case when {col} >= '=\"' and {col} < '=#' and ends_with({col}, '\"') "
        f"then {ql(formula)} "
        f"when {col} >= '+' and {col} < ':' and contains({col}, 'E+') "
        f"and regexp_full_match({col}, {ql(_EXCEL_SCIENTIFIC)}) then {ql(scientific)} end"
    )
