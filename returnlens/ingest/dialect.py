"""The dialect of a CSV delivery whose dialect is not declared: detected only when unambiguous.

A shop profile declares a delivery's dialect (`FileSpec(..., declared=True)`); a delivery without
one is read in the contracts' default dialect (UTF-8, `,`, `.` decimals, no grouping, ISO dates)
unless the file itself says, beyond doubt, that it is written otherwise. What is detected, and
when:

- **Encoding**: Windows-1252 (what Excel on Windows saves) when the file is not valid UTF-8, every
  byte is a Windows-1252 character and no byte sequence in it is a UTF-8 character (a file that
  mixes both is in no single encoding). The first MiB decides up front; a file whose first
  non-UTF-8 byte comes later is switched when the UTF-8 read fails. Latin-1 reads the same
  letters as Windows-1252 except 0x80-0x9F, which are control characters there, so choosing
  Windows-1252 never reads a letter Latin-1 would read differently. A UTF-8 BOM and CRLF line
  ends are the default dialect already.
- **Delimiter**: when the header split by the declared delimiter lacks required columns and
  exactly one other delimiter (`;`, tab, `|`, `,`) splits it into contract columns only, with every
  required one.
- **Numbers**: every non-empty value of every number column that is a number under some reading
  (`.` or `,` decimals, with or without `.`/`,` grouping by three) must fit one reading, and no
  other reading that also fits every value may read a value differently. `12,50` settles a
  decimal comma; `1,250` alone is a decimal comma or a thousands separator: the file fails.
  When no one reading fits every value (`12,50` beside `1,253.50`), the file is in no single
  other dialect: the default applies and each departing value is quarantined with its row.
- **Dates and timestamps**: ISO is the default and is never taken for anything else. Otherwise
  one of day-month-year and month-day-year with `-`, `/` or `.` (and `HH:MM[:SS]` for
  timestamps) must read every date-like value of every date and timestamp column, and no other
  may: a day above 12 settles the order; `03-04-2026` alone fails the file. Dates in no single
  format (ISO beside day-first) are read as ISO, and the others quarantined with their rows.

Values that are no number (no date) under any reading do not take part in the decision; they are
quarantined row by row under the dialect chosen, with their reason. The decision holds for ALL
values of the file: a bounded sample only routes a file whose first rows depart from the default
to the one aggregate pass over every staged value (`value_dialects`), the same staged rows the
contract check then reads, so the file is read once. A file whose values all fit the default is
loaded on the fast path, exactly as a declared default file is.

Messages name the file, what was found (column names and the pattern, never a value) and the
setting to add under `deliveries.<entity>` in `returnlens.yml` (docs/profile.md).
"""

from __future__ import annotations

import codecs
import json
import re
from dataclasses import dataclass, replace
from pathlib import Path

import duckdb

from returnlens.ingest import values as ld
from returnlens.ingest.contracts import DELIMITERS, Column, Entity, FileSpec
from returnlens.ingest.dialect_messages import (
    UTF8_SEQUENCE,
    mixed_message,
    setting,
    undefined_message,
    where_to_declare,
)
from returnlens.ingest.readers import (
    LandingFileError,
    csv_header,
    csv_scan,
    select_columns,
)
from returnlens.warehouse import is_out_of_memory
from returnlens.warehouse import quote_ident as qi
from returnlens.warehouse import quote_literal as ql

HEAD_BYTES = 1 << 20  # what encoding detection reads up front
SAMPLE_ROWS = 10_000  # rows that decide whether a file needs the full value pass
SETTINGS = (
    "encoding",
    "delimiter",
    "decimal_separator",
    "thousands_separator",
    "date_format",
    "timestamp_format",
)
# readings of numbers: (decimal separator, thousands separator), the contracts' default first
READINGS = ((".", None), (",", None), (",", "."), (".", ","))
DATE_ORDERS = {"dmy": ("%d", "%m"), "mdy": ("%m", "%d")}
DATE_KEYS: tuple[tuple[str, str] | None, ...] = (
    None,  # ISO
    *((o, s) for o in DATE_ORDERS for s in ("-", "/", ".")),
)
TIME_PARTS = (" %H:%M:%S", " %H:%M")
CP1252_UNDEFINED = re.compile(rb"[\x81\x8d\x8f\x90\x9d]")


def detectable(spec: FileSpec) -> bool:
    """True for a CSV delivery whose dialect was not declared."""
    return spec.format == "csv" and not spec.declared


def dialect_json(spec: FileSpec, detected: list[str]) -> str | None:
    """The dialect a CSV file was read with, for the audit: every setting, declared or not,
    and which of them were detected."""
    if spec.format != "csv":
        return None
    used = {k: getattr(spec, k) for k in SETTINGS}
    return json.dumps({**used, "declared": spec.declared, "detected": list(detected)})


def describe(dialect: dict) -> str:
    """'detected: encoding cp1252, delimiter ';'' for a person (check-landing)."""
    shown = []
    for key in dialect.get("detected", []):
        value = dialect.get(key)
        shown.append(f"{key} {'none' if value is None else repr(value)}")
    return ", ".join(shown)


# ------------------------------------------------------------------------------ encoding
def _line(data: bytes, offset: int) -> int:
    return data.count(b"\n", 0, offset) + 1


def detect_encoding(path: Path, spec: FileSpec, entity: Entity) -> tuple[FileSpec, list[str]]:
    """Windows-1252 for an undeclared UTF-8 delivery whose first MiB is not UTF-8 (see the
    module doc); raises LandingFileError when the bytes fit no single encoding."""
    if not detectable(spec) or spec.encoding != "utf-8":
        return spec, []
    with path.open("rb") as fh:
        head = fh.read(HEAD_BYTES)
    if b"\x00" in head:  # UTF-16 or binary: the read says so
        return spec, []
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        decoder.decode(head, final=len(head) < HEAD_BYTES)
        return spec, []
    except UnicodeDecodeError as exc:
        bad = exc.start
    undefined = CP1252_UNDEFINED.search(head)
    if undefined:
        o = undefined.start()
        raise LandingFileError(undefined_message(entity, head[o], o, _line(head, o)))
    start = 3 if head.startswith(b"\xef\xbb\xbf") else 0
    seq = UTF8_SEQUENCE.search(head, start)
    if seq:
        raise LandingFileError(mixed_message(entity, _line(head, seq.start()), _line(head, bad)))
    return replace(spec, encoding="cp1252"), ["encoding"]


def read_layout(
    path: Path, spec: FileSpec, entity: Entity, paths, order: int, detected: list[str]
) -> tuple[FileSpec, Path]:
    """The spec (encoding and delimiter detected where the file settles them) and the path DuckDB
    reads a landing file by (`ReadPaths`). `detected` is extended with what was detected.

    The loader and the landing scrub of `forget-customer` both read files through this, so a
    file the loader read in a detected dialect is rewritten in that dialect."""
    if detectable(spec):
        spec, found = detect_encoding(path, spec, entity)
        detected += [k for k in found if k not in detected]
    read = paths.path_for(path, spec, order, entity if "encoding" in detected else None)
    if detectable(spec):
        spec, found = detect_delimiter(read, spec, entity)
        detected += [k for k in found if k not in detected]
    return spec, read


def utf8_failure(spec: FileSpec, error: str) -> bool:
    """True when an undeclared UTF-8 delivery failed to read for bytes that are not UTF-8
    (the first of them beyond the first MiB): it is read again as Windows-1252."""
    return detectable(spec) and spec.encoding == "utf-8" and "Invalid unicode" in error


# ------------------------------------------------------------------------------ delimiter
def _exact(names: list[str], entity: Entity) -> bool:
    known = {c.name for c in entity.columns}
    return set(names) <= known and set(entity.required_columns) <= set(names)


def detect_delimiter(read_path: Path, spec: FileSpec, entity: Entity) -> tuple[FileSpec, list[str]]:
    """Another delimiter when the declared one does not split the header into the required
    columns and exactly one other splits it into contract columns (every required one)."""
    if not detectable(spec):
        return spec, []
    try:
        names = csv_header(read_path, spec)
        if set(entity.required_columns) <= set(names):
            return spec, []
    except LandingFileError:
        pass  # e.g. a name repeated under the declared delimiter: another may read it right
    fits = []
    for d in DELIMITERS:
        if d == spec.delimiter:
            continue
        try:
            if _exact(csv_header(read_path, replace(spec, delimiter=d)), entity):
                fits.append(d)
        except LandingFileError:
            continue
    if len(fits) == 1:
        return replace(spec, delimiter=fits[0]), ["delimiter"]
    return spec, []


# ------------------------------------------------------------------------------ values
def _number_columns(entity: Entity) -> list[Column]:
    return [c for c in entity.columns if ld._number_pattern(c.type, ld.DEFAULT_SPEC) is not None]


def _reading_pattern(c: Column, spec: FileSpec) -> str:
    """The text of a number of `c` under one reading, whatever its number of decimals (a
    decimal comma followed by three digits is a reading of 1,250 even in decimal(10,2), where
    the value is then quarantined for its decimals, never read as 1250)."""
    if c.type.lower() in ld._INTEGER_TYPES:
        return ld._number_pattern(c.type, spec)
    d = re.escape(spec.decimal_separator)
    return f"[+-]?({ld._int_part(spec)}({d}[0-9]*)?|{d}[0-9]+)"


def _date_columns(entity: Entity, kind: str) -> list[Column]:
    return [c for c in entity.columns if c.type.lower() == kind]


def _values_detectable(entity: Entity, spec: FileSpec) -> tuple[bool, bool]:
    """(numbers, dates): which value settings may be detected for this delivery."""
    numbers = detectable(spec) and spec.plain_numbers and bool(_number_columns(entity))
    dates = (
        detectable(spec)
        and spec.date_format is None
        and spec.timestamp_format is None
        and bool(_date_columns(entity, "date") + _date_columns(entity, "timestamp"))
    )
    return numbers, dates


def sampled_columns(entity: Entity, spec: FileSpec, present: list) -> list[Column]:
    """The columns whose values may move a delivery's number or date dialect from the default."""
    numbers, dates = _values_detectable(entity, spec)
    return [
        c
        for c in entity.columns
        if c.name in present
        and (
            (numbers and c in _number_columns(entity))
            or (dates and c.type.lower() in ("date", "timestamp"))
        )
    ]


def sample_departs(
    con: duckdb.DuckDBPyConnection, entity: Entity, read_path: Path, spec: FileSpec, present: list
) -> bool:
    """True when a value in the first rows is no number/date of the delivery's default dialect:
    the file then takes the full value pass (`value_dialects`). Reads a bounded sample (the
    loader's single pass decides the same on the rows it wrote: `staging.departs_in_written`)."""
    cols = sampled_columns(entity, spec, present)
    if not cols:
        return False
    departs = " or ".join(
        f"({qi(c.name)} is not null and {ld._typed_expr(c, spec)} is null)" for c in cols
    )
    scan = csv_scan(read_path, spec, present, sample=True)
    try:
        (n,) = con.execute(
            f"select count(*) from (select {select_columns(entity, present)} from {scan} "
            f"limit {SAMPLE_ROWS}) where {departs}"
        ).fetchone()
    except duckdb.Error as exc:
        if is_out_of_memory(exc):
            raise  # not "the sample keeps the default dialect": the memory limit's, not the file's
        return False  # the read itself fails: the load reports why
    return n > 0


def _date_format(key: tuple[str, str]) -> str:
    first, second = DATE_ORDERS[key[0]]
    s = key[1]
    return f"{first}{s}{second}{s}%Y"


def _fits(c: Column, fmt: str | None) -> str:
    """SQL: the text of `c` is exactly a date/timestamp in `fmt` (None: ISO)."""
    if fmt is None:
        return f"({ld._typed_expr(c, ld.DEFAULT_SPEC)} is not null)"
    return (
        f"(regexp_full_match({qi(c.name)}, {ql(ld.format_regex(fmt))}) "
        f"and try_strptime({qi(c.name)}, {ql(fmt)}) is not null)"
    )


@dataclass
class _Flag:
    name: str  # of the per-row flag
    sql: str


def _flags(entity: Entity) -> tuple[list[_Flag], dict]:
    """Per-row boolean flags of every reading of every number and date column."""
    flags: list[_Flag] = []
    index: dict = {}
    for i, c in enumerate(_number_columns(entity)):
        for k, (dec, th) in enumerate(READINGS):
            spec = FileSpec("*", "csv", decimal_separator=dec, thousands_separator=th)
            name = f"n{i}_{k}"
            flags.append(
                _Flag(name, f"regexp_full_match({qi(c.name)}, {ql(_reading_pattern(c, spec))})")
            )
            index[("num", c.name, k)] = name
    for kind in ("date", "timestamp"):
        for j, c in enumerate(_date_columns(entity, kind)):
            for key in DATE_KEYS:
                if key is None:
                    variants = [None]
                elif kind == "date":
                    variants = [_date_format(key)]
                else:
                    variants = [_date_format(key) + t for t in TIME_PARTS]
                for v, fmt in enumerate(variants):
                    name = f"{kind[0]}{j}_{DATE_KEYS.index(key)}_{v}"
                    flags.append(_Flag(name, _fits(c, fmt)))
                    index[(kind, c.name, key, v)] = name
    return flags, index


def value_dialects(
    con: duckdb.DuckDBPyConnection, entity: Entity, source: str, orders: list[int]
) -> dict[int, dict]:
    """One aggregate pass over the staged text rows of these files: per file, per column, how
    many values are numbers (dates) under any reading and how many fit each reading."""
    flags, index = _flags(entity)
    if not flags or not orders:
        return {}
    aggs: dict[str, str] = {}
    for c in _number_columns(entity):
        fit = [index[("num", c.name, k)] for k in range(len(READINGS))]
        numlike = "(" + " or ".join(fit) + ")"
        col = qi(c.name)
        aggs[f"num|{c.name}|n"] = f"count(*) filter (where {numlike})"
        for k, name in enumerate(fit):
            aggs[f"num|{c.name}|{k}"] = f"count(*) filter (where {name})"
        aggs[f"num|{c.name}|dot"] = (
            f"count(*) filter (where {numlike} and contains({col}, '.') "
            f"and not contains({col}, ','))"
        )
        aggs[f"num|{c.name}|comma"] = (
            f"count(*) filter (where {numlike} and contains({col}, ',') "
            f"and not contains({col}, '.'))"
        )
    for kind in ("date", "timestamp"):
        for c in _date_columns(entity, kind):
            names = [v for k, v in index.items() if k[0] == kind and k[1] == c.name]
            aggs[f"{kind}|{c.name}|n"] = f"count(*) filter (where {' or '.join(names)})"
            for k, name in index.items():
                if k[0] == kind and k[1] == c.name:
                    aggs[f"{kind}|{c.name}|{DATE_KEYS.index(k[2])}|{k[3]}"] = (
                        f"count(*) filter (where {name})"
                    )
    keys = list(aggs)
    rows = con.execute(
        f"""
        with flagged as (
            select _file_order, {", ".join(f"{f.sql} as {f.name}" for f in flags)}, {
            ", ".join(qi(c.name) for c in _number_columns(entity)) or "null as _none"
        }
            from {source}
            where _file_order in ({", ".join(str(o) for o in orders)})
        )
        select _file_order, {", ".join(aggs[k] for k in keys)}
        from flagged group by _file_order
        """
    ).fetchall()
    return {r[0]: dict(zip(keys, r[1:], strict=True)) for r in rows}


def _cols(names: list[str]) -> str:
    return ", ".join(names)


def decide_numbers(entity: Entity, spec: FileSpec, counts: dict) -> tuple[dict, str | None]:
    """(settings to use, error) for the number columns of one file (see the module doc)."""
    cols = [c.name for c in _number_columns(entity)]
    n = {c: counts.get(f"num|{c}|n", 0) for c in cols}
    if not any(n.values()):
        return {}, None
    fits = {c: {k for k in range(len(READINGS)) if counts[f"num|{c}|{k}"] == n[c]} for c in cols}
    fitting = set(range(len(READINGS)))
    for c in cols:
        fitting &= fits[c]
    dots = [c for c in cols if counts[f"num|{c}|dot"]]
    commas = [c for c in cols if counts[f"num|{c}|comma"]]
    where = where_to_declare(entity)
    if not fitting:
        # no one reading fits every value: the file is in no single other dialect, so the
        # contracts' default applies and each value that departs from it is quarantined with
        # its row, the reason naming the setting (the loader's exact check)
        return {}, None
    dot_split = bool(dots) and bool(fitting & {0, 3}) and 2 in fitting
    comma_split = bool(commas) and bool(fitting & {1, 2}) and 3 in fitting
    if comma_split:
        return {}, (
            f"numbers in column(s) {_cols(commas)} are written with one ',' followed by "
            "exactly three digits (the pattern d,ddd), which is a decimal comma or a thousands "
            "separator, and the delivery declares neither: add "
            f"{setting(entity, 'decimal_separator', ',')} (a decimal comma) or "
            f"{setting(entity, 'thousands_separator', ',')} (digits grouped by thousands, '.' "
            f"decimals) {where}"
        )
    if dot_split:
        return {}, (
            f"numbers in column(s) {_cols(dots)} are written with one '.' followed by exactly "
            "three digits (the pattern d.ddd), which is a decimal point or a thousands "
            "separator, and the delivery declares neither: add "
            f"{setting(entity, 'thousands_separator', '.')} with "
            f"{setting(entity, 'decimal_separator', ',')} (digits grouped by thousands) or "
            f"{setting(entity, 'decimal_separator', '.')} (a decimal point) {where}"
        )
    dec, th = READINGS[min(fitting)]
    chosen = {}
    if dec != spec.decimal_separator:
        chosen["decimal_separator"] = dec
    if th != spec.thousands_separator:
        chosen["thousands_separator"] = th
    return chosen, None


def decide_dates(entity: Entity, spec: FileSpec, counts: dict) -> tuple[dict, str | None]:
    """(settings to use, error) for the date and timestamp columns of one file."""
    dates = [c.name for c in _date_columns(entity, "date")]
    stamps = [c.name for c in _date_columns(entity, "timestamp")]
    n = {
        (k, c): counts.get(f"{k}|{c}|n", 0)
        for k, cs in (("date", dates), ("timestamp", stamps))
        for c in cs
    }
    if not any(n.values()):
        return {}, None
    with_dates = [c for c in dates if n[("date", c)]]
    with_stamps = [c for c in stamps if n[("timestamp", c)]]
    fitting: dict = {}
    for i, key in enumerate(DATE_KEYS):
        if not all(counts[f"date|{c}|{i}|0"] == n[("date", c)] for c in dates):
            continue
        variants = range(1 if key is None else len(TIME_PARTS))
        ok = [
            v
            for v in variants
            if all(counts[f"timestamp|{c}|{i}|{v}"] == n[("timestamp", c)] for c in stamps)
        ]
        if ok:
            fitting[key] = ok[0]
    where = where_to_declare(entity)
    named = _cols(with_dates + with_stamps)
    keys = (["date_format"] if with_dates else []) + (["timestamp_format"] if with_stamps else [])

    def example(key: tuple[str, str], variant: int = 0) -> str:
        shown = []
        if with_dates:
            shown.append(setting(entity, "date_format", _date_format(key)))
        if with_stamps:
            time = TIME_PARTS[variant]
            shown.append(setting(entity, "timestamp_format", _date_format(key) + time))
        return " and ".join(shown)

    if None in fitting:
        return {}, None  # ISO: the default, never taken for anything else
    if not fitting:  # in no single format: the default, rows that depart are quarantined
        return {}, None
    if len(fitting) > 1:
        key = next(iter(fitting))
        sep, variant = key[1], fitting[key]
        return {}, (
            f"dates in column(s) {named} are written as two numbers up to 12 and a year "
            f"(the pattern dd{sep}dd{sep}yyyy, no part above 12), which reads as day-month-year "
            f"or as month-day-year, and the delivery declares no {' or '.join(keys)}: add "
            f"{example(('dmy', sep), variant)} (day first) or "
            f"{example(('mdy', sep), variant)} (month first) "
            f"{where}"
        )
    ((key, variant),) = fitting.items()
    chosen = {}
    if with_dates:
        chosen["date_format"] = _date_format(key)
    if with_stamps:
        chosen["timestamp_format"] = _date_format(key) + TIME_PARTS[variant]
    return chosen, None


def decide(entity: Entity, spec: FileSpec, counts: dict) -> tuple[FileSpec, list[str], str | None]:
    """The spec to read one file with, the settings detected, or the error that fails it."""
    numbers, dates = _values_detectable(entity, spec)
    chosen: dict = {}
    errors = []
    for wanted, rule in ((numbers, decide_numbers), (dates, decide_dates)):
        if wanted:
            found, error = rule(entity, spec, counts)
            chosen.update(found)
            if error:
                errors.append(error)
    if errors:
        return spec, [], "; ".join(errors)
    return replace(spec, **chosen), list(chosen), None
