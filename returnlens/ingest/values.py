"""Exact text forms of typed values under a delivery's dialect, as SQL.

A value loads only when its text is exactly of its column's type under the dialect the file
is read in (numbers with the declared decimal and thousands separators, dates and timestamps
in ISO or the declared strptime format); `typed_expr` gives the value or null, and the
loader's check names why a text did not fit. Shared by the loader and the dialect detection.
"""

from __future__ import annotations

import re

from returnlens.ingest.contracts import Column, FileSpec
from returnlens.warehouse import quote_ident as qi
from returnlens.warehouse import quote_literal as ql

DEFAULT_SPEC = FileSpec("*", "csv")


_ISO_DATE = r"[0-9]{4}-[0-9]{2}-[0-9]{2}"


# a zero UTC offset ('Z', '+00', '+00:00') is exact; any other offset would be dropped by the cast
_ISO_TIMESTAMP = (
    _ISO_DATE + r"([ T][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,6})?)?(Z|[+-]00(:?00)?)?)?"
)


_SCIENTIFIC = r"[+-]?[0-9]+([.,][0-9]+)?[eE][+-]?[0-9]+"


_EXCEL_SCIENTIFIC = r"[+-]?[0-9]([.,][0-9]+)?E\+[0-9]+"  # Excel's "General" format: 4.92E+11


_DECIMAL_TYPE = re.compile(r"decimal\((\d+),\s*(\d+)\)", re.I)


_INTEGER_TYPES = ("tinyint", "smallint", "integer", "int", "bigint", "hugeint")


# the exact text of each strptime directive (strptime itself is lenient: %Y takes '26')
_DIRECTIVE_TEXT = {
    "d": "[0-9]{1,2}",
    "m": "[0-9]{1,2}",
    "Y": "[0-9]{4}",
    "y": "[0-9]{2}",
    "H": "[0-9]{1,2}",
    "I": "[0-9]{1,2}",
    "M": "[0-9]{2}",
    "S": "[0-9]{2}",
    "f": "[0-9]{1,6}",
    "p": "(AM|PM|am|pm)",
    "b": "[A-Za-z]{3}",
    "B": "[A-Za-z]+",
    "%": "%",
}


def format_regex(fmt: str) -> str | None:
    """A regular expression of the text a strptime format writes, None if it has a directive
    without a fixed form here (the value is then checked by strptime alone)."""
    out, i = [], 0
    while i < len(fmt):
        if fmt[i] == "%" and i + 1 < len(fmt):
            text = _DIRECTIVE_TEXT.get(fmt[i + 1])
            if text is None:
                return None
            out.append(text)
            i += 2
        else:
            out.append(re.escape(fmt[i]))
            i += 1
    return "".join(out)


def _int_part(spec: FileSpec) -> str:
    if spec.thousands_separator is None:
        return "[0-9]+"
    g = re.escape(spec.thousands_separator)
    return f"([0-9]+|[0-9]{{1,3}}({g}[0-9]{{3}})+)"


def _number_pattern(ctype: str, spec: FileSpec) -> str | None:
    """The exact text form of a number of `ctype` under the dialect; None if not a number."""
    t = ctype.lower()
    d = re.escape(spec.decimal_separator)
    ip = _int_part(spec)
    if t in _INTEGER_TYPES:
        return f"[+-]?{ip}"
    m = _DECIMAL_TYPE.fullmatch(t)
    if m:
        scale = int(m.group(2))
        if scale == 0:
            return f"[+-]?{ip}"
        return f"[+-]?({ip}({d}[0-9]{{0,{scale}}})?|{d}[0-9]{{1,{scale}}})"
    if t in ("double", "float", "real"):
        return f"[+-]?({ip}({d}[0-9]*)?|{d}[0-9]+)([eE][+-]?[0-9]+)?"
    return None


def _canonical(col: str, spec: FileSpec) -> str:
    """The text of a number with the dialect's separators removed / turned into '.'."""
    expr = col
    if spec.thousands_separator is not None:
        expr = f"replace({expr}, {ql(spec.thousands_separator)}, '')"
    if spec.decimal_separator != ".":
        expr = f"replace({expr}, {ql(spec.decimal_separator)}, '.')"
    return expr


def _typed_expr(c: Column, spec: FileSpec) -> str:
    """The value of a non-text column, or null when its text is not exactly of the type."""
    col = qi(c.name)
    t = c.type.lower()
    if t in ("date", "timestamp"):
        fmt = spec.date_format if t == "date" else spec.timestamp_format
        if fmt:
            parsed = f"try_cast(try_strptime({col}, {ql(fmt)}) as {t})"
            guard = format_regex(fmt)  # strptime's %Y also takes '26': the year 26
            if guard is None:
                return parsed
            return f"case when regexp_full_match({col}, {ql(guard)}) then {parsed} end"
        iso = _ISO_DATE if t == "date" else _ISO_TIMESTAMP
        # the usual text first, at half the regular expression's cost: a text that is exactly
        # how DuckDB writes the value back ('YYYY-MM-DD[ HH:MM:SS]', four-digit year, no era)
        canonical = 10 if t == "date" else 19
        value = f"try_cast({col} as {t})"
        return (
            f"case when length({col}) = {canonical} and cast({value} as varchar) = {col} "
            f"then {value} when regexp_full_match({col}, {ql(iso)}) then {value} end"
        )
    pattern = _number_pattern(t, spec)
    if pattern is None:
        return f"try_cast({col} as {c.type})"
    checked = (
        f"case when regexp_full_match({col}, {ql(pattern)}) "
        f"then try_cast({_canonical(col, spec)} as {c.type}) end"
    )
    if not spec.plain_numbers or not (t in _INTEGER_TYPES or _DECIMAL_TYPE.fullmatch(t)):
        return checked
    # the usual text first, at a third of the regular expression's cost: a text that is exactly
    # how DuckDB writes the value back ('-12', '30.95' in decimal(10,2)) is a value of the type
    # in plain numbers, so the pattern would take it too (doubles excluded: 'inf' writes back)
    value = f"try_cast({col} as {c.type})"
    return f"case when cast({value} as varchar) = {col} then {value} else {checked} end"
