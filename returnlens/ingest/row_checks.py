"""Judging text rows against the contract, and duplicate keys, set-based.

`contract_select` turns text rows (`_stage`, or the scans of a batch) into the typed values
under the contract's column names plus `_reason` ('' when the row passes) and, for failing rows,
the raw text as JSON, in one scan of the files; the loader writes every row to raw, marks the
rows repeating a key on the written table (`duplicates_select`, which reads only the key and
position columns) and moves the failing ones to quarantine. `checked_select` does both in one
select over staged rows (the quarantine replay).

**Exact types.** A value is loaded only when its text is exactly a value of the column's type
under the delivery's dialect (`FileSpec`): integers are an optional sign and digits; decimal(p,s)
has at most s decimals and p-s integer digits; a thousands separator only where a dialect declares
one, between groups of three; dates and timestamps ISO (or the declared format), a UTC offset
only when it is zero. Anything else ("1.253", "1.5", "12.505" in decimal(10,2), "4.92E+11") is
quarantined with a reason naming the column and the problem, never rounded. The check is a
regular expression on the text plus `try_cast` (`returnlens/ingest/values.py`), in the same
set-based SQL pass.

**Excel artefacts** in text columns are quarantined, not repaired: the text-formula wrapper
`="O0003848-1"` and numbers in Excel's scientific notation (`4.92E+11`, digits already lost). A
repair would have to guess (the digits of 4.92E+11 are gone; a `="…"` may be meant literally), and
a quarantined row is visible, explained and replayable once the export is fixed; the reason names
the artefact and the fix (format the column as text before exporting). So are postal codes that
lost their leading zero(s) (a German `01067` read as `1067`), for the countries whose codes are
all digits of one length (`POSTAL_CODE_DIGITS` in the contracts).

Excel's artefacts are looked for only in files of the formats a spreadsheet writes (CSV, Excel,
a platform's export; in a batch of JSON lines or Parquet alone, the check is left out): programs
write those, and the check costs more than the rest of the contract on a clickstream.

**Duplicate keys**: the first row of a key (by file order and row number) wins; later ones, and
keys already in raw from a file that is not being replaced, are quarantined as duplicates.
"""

from __future__ import annotations

from returnlens.ingest.contracts import POSTAL_CODE_DIGITS, Column, Entity, FileSpec
from returnlens.ingest.excel_artefacts import artefact_reason
from returnlens.ingest.values import (
    _DECIMAL_TYPE,
    _INTEGER_TYPES,
    _SCIENTIFIC,
    DEFAULT_SPEC,
    _canonical,
    _number_pattern,
    _typed_expr,
)
from returnlens.profile import VALUE_SET_COLUMNS
from returnlens.warehouse import quote_ident as qi
from returnlens.warehouse import quote_literal as ql

ROW_KEY_STRIDE = 10**12  # _row_key = file order * stride + file row number (ordered, unique)

# (entity, column) -> the shop profile's value set that governs it
_PROFILE_VALUE_SET = {target: name for name, cols in VALUE_SET_COLUMNS.items() for target in cols}

# Which files (by `_file_order`) were written in which dialect; files not named use the
# contracts' default dialect.
Dialects = dict[int, FileSpec]


def _dialect_key(spec: FileSpec) -> tuple:
    return (
        spec.decimal_separator,
        spec.thousands_separator,
        spec.date_format,
        spec.timestamp_format,
    )


def _by_dialect(dialects: Dialects | None, build) -> str:
    """`build(spec)` for the default dialect, or a CASE on `_file_order` when files differ."""
    groups: dict[tuple, tuple[FileSpec, list[int]]] = {}
    for order, spec in sorted((dialects or {}).items()):
        key = _dialect_key(spec)
        if key != _dialect_key(DEFAULT_SPEC):
            groups.setdefault(key, (spec, []))[1].append(order)
    default = build(DEFAULT_SPEC)
    if not groups:
        return default
    whens = " ".join(
        f"when _file_order in ({', '.join(map(str, orders))}) then {build(spec)}"
        for spec, orders in groups.values()
    )
    return f"case {whens} else {default} end"


def _bad_value_reason(c: Column, spec: FileSpec) -> str:
    """Why the text of a non-text column is not a value of its type (never quoting it)."""
    col = qi(c.name)
    t = c.type.lower()
    if t in ("date", "timestamp"):
        fmt = spec.date_format if t == "date" else spec.timestamp_format
        form = (
            f"not a valid {t} in the declared format {fmt}"
            if fmt
            else (
                "not a valid date written YYYY-MM-DD"
                if t == "date"
                else "not a valid timestamp written YYYY-MM-DD HH:MM:SS (UTC, no other offset)"
            )
        )
        return (
            f"case when regexp_full_match({col}, '[0-9]{{5}}([.,][0-9]+)?') then "
            "'an Excel serial date number: format the column as a date before exporting' "
            f"else {ql(form)} end"
        )
    pattern = _number_pattern(t, spec)
    if pattern is None:
        return ql(f"not a valid {t}")
    whens = [
        (f"{col} <> trim({col})", "spaces around the number"),
        (
            f"regexp_full_match({col}, {ql(_SCIENTIFIC)})",
            "scientific notation (as Excel shows large numbers; digits may be lost): "
            "export the full number",
        ),
    ]
    m = _DECIMAL_TYPE.fullmatch(t)
    if spec.plain_numbers:
        if t in _INTEGER_TYPES:
            whens += [
                (
                    f"regexp_full_match({col}, '[+-]?[0-9]{{1,3}}([.,][0-9]{{3}})+')",
                    "'.' or ',' between groups of three digits: a thousands separator? Declare "
                    "thousands_separator for this delivery, or export numbers without grouping "
                    "(an integer column takes whole numbers only)",
                ),
                (
                    f"regexp_full_match({col}, '[+-]?[0-9]*[.,][0-9]+')",
                    "a fraction: an integer column takes whole numbers only",
                ),
            ]
        else:
            whens.append(
                (
                    f"contains({col}, ',')",
                    "a ',' in the number (a decimal comma, or digits grouped by thousands): "
                    "declare decimal_separator and thousands_separator for this delivery, or "
                    "export with '.' decimals and no grouping",
                )
            )
    if m and int(m.group(2)) >= 0:
        scale = int(m.group(2))
        whens.append(
            (
                f"regexp_full_match({_canonical(col, spec)}, "
                f"{ql(f'[+-]?[0-9]*[.][0-9]{{{scale + 1},}}')})",
                f"more than {scale} decimal places: it does not fit {t} without rounding; "
                f"export it with at most {scale}",
            )
        )
    whens.append((f"regexp_full_match({col}, {ql(pattern)})", f"out of range for {t}"))
    if spec.plain_numbers:
        form = "digits with an optional sign" + ("" if t in _INTEGER_TYPES else " and '.' decimals")
    else:
        g = spec.thousands_separator
        form = f"digits with '{spec.decimal_separator}' decimals" + (
            f" and '{g}' between groups of three" if g else ""
        )
    return (
        "case "
        + " ".join(f"when {cond} then {ql(text)}" for cond, text in whens)
        + f" else {ql(f'not a number as the delivery writes them ({form})')} end"
    )


# Formats no spreadsheet writes: their text columns are not checked for Excel's artefacts (the
# check costs more than the rest of the contract on a clickstream)
NOT_FROM_EXCEL = ("jsonl", "parquet")


def _from_excel_only(dialects: Dialects | None, expr: str, complete: bool) -> str | None:
    """`expr` for rows of files a spreadsheet may write (all if unknown); None: no row is (`complete`)."""
    skip = sorted(o for o, spec in (dialects or {}).items() if spec.format in NOT_FROM_EXCEL)
    if not skip:
        return expr
    if complete and len(skip) == len(dialects or {}):
        return None
    return f"case when _file_order not in ({', '.join(map(str, skip))}) then {expr} end"


def check_reason_sql(
    entity: Entity,
    typed: str = "__t_",
    dialects: Dialects | None = None,
    native: tuple[str, ...] = (),
    complete: bool = False,
) -> str:
    """SQL expression naming every contract violation of a staged row, '' when none.

    Non-text columns are expected beside their text as `<typed><name>` (see `typed_select`);
    `native` ones hold a value of the type as delivered, so they have no text to judge.
    Reasons name the column and the problem, never the value (it stays in the raw record).
    Excel's artefacts are looked for only in files of formats a spreadsheet writes (none when
    `dialects` names the file of every row, `complete`, and none is such a file)."""
    parts: list[str] = []
    for c in entity.columns:
        col = qi(c.name)
        val = qi(typed + c.name) if c.type != "varchar" else col
        if c.required:
            parts.append(f"case when {col} is null then 'missing required {c.name}' end")
        if c.type != "varchar":
            if c.name not in native:  # a native column (Parquet, of the type): nothing to parse
                reason = _by_dialect(dialects, lambda spec, c=c: _bad_value_reason(c, spec))
                parts.append(
                    f"case when {col} is not null and {val} is null "
                    f"then {ql(f'bad {c.type} in {c.name}: ')} || ({reason}) end"
                )
        else:
            parts += filter(None, [_from_excel_only(dialects, artefact_reason(c), complete)])
        if c.allowed is not None:
            allowed = ", ".join(ql(v) for v in c.allowed)
            value_set = _PROFILE_VALUE_SET.get((entity.name, c.name))
            why = (
                f"not in the closed value set values.{value_set} of the shop profile: add it to "
                "returnlens.yml, or make the set open (docs/profile.md)"
                if value_set
                else "not one of the allowed values"
            )
            parts.append(
                f"case when {col} is not null and {col} not in ({allowed}) "
                f"then {ql(f'unknown value in {c.name} ({why})')} end"
            )
        if c.min_value is not None and c.min_exclusive:
            parts.append(
                f"case when {val} <= {c.min_value} then '{c.name} not above {c.min_value:g}' end"
            )
        elif c.min_value is not None:
            parts.append(
                f"case when {val} < {c.min_value} then '{c.name} below minimum {c.min_value:g}' end"
            )
    parts += _postal_code_reasons(entity)
    return f"concat_ws('; ', {', '.join(parts)})" if parts else "''"


def _postal_code_reasons(entity: Entity) -> list[str]:
    """A postal code that lost its leading zero(s) in a spreadsheet (01067 read as 1067)."""
    names = {c.name for c in entity.columns}
    if not {"postal_code", "country_code"} <= names:
        return []
    digits = " ".join(
        f"when {ql(country)} then {n}" for country, n in sorted(POSTAL_CODE_DIGITS.items())
    )
    reason = (
        "postal_code lost its leading zero(s): a spreadsheet read it as a number; format the "
        "column as text before exporting (or pad it with zeros) and deliver the file again"
    )
    return [
        "case when regexp_full_match(postal_code, '[0-9]+') "
        f"and length(postal_code) < (case country_code {digits} end) then {ql(reason)} end"
    ]


def typed_select(
    entity: Entity,
    prefix: str = "__t_",
    dialects: Dialects | None = None,
    native: tuple[str, ...] = (),
) -> str:
    """The exact value of every non-text column of `_stage`-like text rows (null when the text
    is not exactly a value of the type under the file's dialect), named `<prefix><name>`;
    `native` columns are taken as they are from `__n_<name>` (a Parquet column of the type)."""
    return ", ".join(
        (
            qi("__n_" + c.name)
            if c.name in native
            else _by_dialect(dialects, lambda spec, c=c: _typed_expr(c, spec))
        )
        + f" as {qi(prefix + c.name)}"
        for c in entity.columns
        if c.type != "varchar"
    )


def checked_select(
    entity: Entity,
    source: str,
    replaced: list[str],
    dialects: Dialects | None = None,
    pre_reason: str | None = None,
) -> str:
    """A select over `source` (text rows) judging every row: contract, then duplicate keys.

    It yields the typed values under the contract's column names, `_reason` ('' = the row
    passes) and, for failing rows only, `_raw_record` (the text as JSON). The first row of a key
    (by file order and row number) wins, later ones are quarantined as duplicates (a contract
    violation is reported first); a key already in raw from a file that is not being replaced
    is a duplicate too. `pre_reason`: a text column of `source` with problems found before the
    contract check ('' or null when none; a platform adapter's), reported first.
    """
    keys = ", ".join(qi(k) for k in entity.key)
    typed = typed_select(entity, dialects=dialects)
    reason = check_reason_sql(entity, dialects=dialects)
    check = reason
    if pre_reason is not None:
        check = f"concat_ws('; ', nullif({qi(pre_reason)}, ''), nullif({reason}, ''))"
    replaced_list = ", ".join(ql(f) for f in replaced) or "''"
    values = ", ".join(
        f"{qi(c.name)}" if c.type == "varchar" else f"{qi('__t_' + c.name)} as {qi(c.name)}"
        for c in entity.columns
    )
    record = raw_record_sql(entity)
    not_null = " and ".join(f"{qi(k)} is not null" for k in entity.key)
    return f"""
        with src as not materialized (
            select *, _file_order * {ROW_KEY_STRIDE} + _file_row_number as _row_key
            from {source}
        ),
        keyed as not materialized (
            select {keys}, hash({keys}) as _h, _row_key, _source_file from src where {not_null}
        ),
        candidates as (
            -- grouping 64-bit hashes is much cheaper than grouping the (text) keys; the few
            -- candidate hashes are then grouped by the real key (collisions drop out there)
            select _h from keyed group by _h having count(*) > 1
        ),
        firsts as (
            select {keys}, min(_row_key) as _first_row_key,
                arg_min(_source_file, _row_key) as _first_file
            from keyed
            semi join candidates using (_h)
            group by {keys}
            having count(*) > 1
        ),
        existing as (
            select {keys}, min(o._source_file) as _other_file
            from keyed
            join {entity.table} as o using ({keys})
            where o._source_file not in ({replaced_list})
            group by {keys}
        ),
        reasons as (
            select
                src.*, {typed + ", " if typed else ""}
                firsts._first_row_key, firsts._first_file, existing._other_file
            from src
            left join firsts using ({keys})
            left join existing using ({keys})
        ),
        checked as (
            select *, {check} as _check from reasons
        ),
        judged as (
            select
                *,
                case
                    when _check <> '' then _check
                    when _first_row_key is not null and _row_key <> _first_row_key
                        then case
                            when _first_file = _source_file then 'duplicate key within the file'
                            else 'duplicate key: also in ' || _first_file
                        end
                    when _other_file is not null
                        then 'duplicate key: already loaded from ' || _other_file
                    else ''
                end as _reason
            from checked
        )
        select
            {values}, _extra, _source_file, _file_order, _file_row_number, _reason,
            case
                when _reason = '' then null
                when _extra is null then {record}
                else {raw_record_sql(entity, with_extra=True)}
            end as _raw_record
        from judged
        """


def contract_select(
    entity: Entity,
    source: str,
    dialects: Dialects | None = None,
    pre_reason: str | None = None,
    native: tuple[str, ...] = (),
) -> str:
    """A select over `source` (text rows) judging every row against the contract alone, in
    one scan: the typed values, `_reason` ('' = the row passes the contract) and, for failing
    rows, `_raw_record`. Duplicate keys need every row of the batch: the loader judges them
    afterwards on the written rows (`duplicates_select`), so the files are read once.
    `native`: columns `source` also holds typed, as `__n_<name>` (`group_select`). Every row of
    `source` is of a file `dialects` names."""
    typed = typed_select(entity, dialects=dialects, native=native)
    check = check_reason_sql(entity, dialects=dialects, native=native, complete=True)
    if pre_reason is not None:
        check = f"concat_ws('; ', nullif({qi(pre_reason)}, ''), nullif({check}, ''))"
    values = ", ".join(
        f"{qi(c.name)}" if c.type == "varchar" else f"{qi('__t_' + c.name)} as {qi(c.name)}"
        for c in entity.columns
    )
    return f"""
        with typed as not materialized (
            select *{", " + typed if typed else ""} from {source}
        ),
        checked as not materialized (
            select *, {check} as _reason from typed
        )
        select
            {values}, _extra, _source_file, _file_order, _file_row_number, _reason,
            case
                when _reason = '' then null
                when _extra is null then {raw_record_sql(entity)}
                else {raw_record_sql(entity, with_extra=True)}
            end as _raw_record
        from checked
        """


def duplicates_select(entity: Entity) -> str:
    """The written rows of a batch that are duplicates: (`_source_file`, `_file_row_number`,
    `_reason`) of each row that passed the contract but whose key an earlier row of the batch
    has (by file order, then row number; that row may itself have failed the contract), or
    that a file outside the batch already loaded. Parameters: the batch's files and their
    orders (two lists). Reads the entity's table only (its key and position columns)."""
    keys = ", ".join(qi(k) for k in entity.key)
    not_null = " and ".join(f"b.{qi(k)} is not null" for k in entity.key)
    return f"""
        with files as (
            select unnest(?::varchar[]) as _source_file, unnest(?::bigint[]) as _file_order
        ),
        batch as (
            select {", ".join(f"b.{qi(k)}" for k in entity.key)}, b._source_file,
                b._file_row_number, b._loaded_at is not null as _passed,
                hash({", ".join(f"b.{qi(k)}" for k in entity.key)}) as _h,
                f._file_order * {ROW_KEY_STRIDE} + b._file_row_number as _row_key
            from {entity.table} as b
            join files as f using (_source_file)
            where {not_null}
        ),
        candidates as (
            -- grouping 64-bit hashes is much cheaper than grouping the (text) keys; the few
            -- candidate hashes are then grouped by the real key (collisions drop out there)
            select _h from batch group by _h having count(*) > 1
        ),
        firsts as (
            select {keys}, min(_row_key) as _first_row_key,
                arg_min(_source_file, _row_key) as _first_file
            from batch
            semi join candidates using (_h)
            group by {keys}
            having count(*) > 1
        ),
        others as (
            select {keys}, _source_file as _other_file from {entity.table}
            where _source_file not in (select _source_file from files)
        ),
        existing as (
            select {keys}, min(others._other_file) as _other_file
            from batch
            join others using ({keys})
            where batch._passed
            group by {keys}
        ),
        judged as (
            select
                batch._source_file, batch._file_row_number,
                case
                    when _first_row_key is not null and _row_key <> _first_row_key
                        then case
                            when _first_file = batch._source_file
                                then 'duplicate key within the file'
                            else 'duplicate key: also in ' || _first_file
                        end
                    when _other_file is not null
                        then 'duplicate key: already loaded from ' || _other_file
                end as _reason
            from batch
            left join firsts using ({keys})
            left join existing using ({keys})
            where _passed
        )
        select * from judged where _reason is not null
        """


def raw_record_sql(entity: Entity, *, with_extra: bool = False) -> str:
    """The text of a row as a JSON object (unknown columns nested under `_extra`)."""
    fields = [f"{qi(c.name)} := {qi(c.name)}" for c in entity.columns]
    if with_extra:
        fields.append("_extra := json(_extra)")
    return f"cast(to_json(struct_pack({', '.join(fields)})) as varchar)"
