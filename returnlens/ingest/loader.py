"""Load landing files into `raw`, enforcing the landing contracts.

The new or changed files of an entity are read in batches with DuckDB's native readers as text
(Excel through pandas, registered in DuckDB), checked against the contract in one set-based pass,
and then, in one transaction per batch, each file's earlier rows are replaced by the rows that
passed; rows that did not pass go to `raw.quarantine_rows` with the raw text and the reason; a file
that cannot be read at all is recorded whole in `raw.quarantine_files`. `raw.load_audit` records,
for every file, rows in = rows loaded + rows quarantined (checked against what was written, not
assumed); a file that failed whole is audited with the rows it holds (lines minus the header for
CSV, lines for JSON lines, rows for Excel and Parquet when still readable; null, with "row count
unknown" in the error, when not). Columns the contract does not know are kept as JSON in `_extra`.

**File identity** is the path relative to the landing root (`shop/orders_2026-01.csv`) plus the
checksum: moving the data folder loads nothing twice. Warehouses written with absolute paths are
migrated in place (`ensure_raw_schema`). A file whose checksum equals the one already loaded is
skipped, so loads are idempotent and only new or changed files are read. A failed file is retried
when it changes or the contract changes; a load that crashed (status `error`) is retried on the
next run. A crash inside a batch rolls the batch back, so raw is as before.

**Every file under the landing folder is accounted for** (`account_landing`, see
`returnlens/ingest/landing.py`): files no delivery pattern matches are audited as `unrecognised`
(with the patterns they failed to match), hidden files and the demo's `ground_truth.json` as
`ignored`, symbolic links as `refused` (never followed, so nothing outside the landing folder is
read; a link inside the folder is refused too: copy files into place). A listed file that
disappears gets a `gone` row.

**Exact types.** A value is loaded only when its text is exactly a value of the column's type
under the delivery's dialect (`FileSpec`): integers are an optional sign and digits; decimal(p,s)
has at most s decimals and p-s integer digits; a thousands separator only where a dialect declares
one, between groups of three; dates and timestamps ISO (or the declared format), a UTC offset
only when it is zero. Anything else ("1.253", "1.5", "12.505" in decimal(10,2), "4.92E+11") is
quarantined with a reason naming the column and the problem, never rounded. The check is a
regular expression on the text plus `try_cast`, in the same set-based SQL pass.

**Excel artefacts** in text columns are quarantined, not repaired: the text-formula wrapper
`="O0003848-1"` and numbers in Excel's scientific notation (`4.92E+11`, digits already lost). A
repair would have to guess (the digits of 4.92E+11 are gone; a `="…"` may be meant literally), and
a quarantined row is visible, explained and replayable once the export is fixed; the reason names
the artefact and the fix (format the column as text before exporting). So are postal codes that
lost their leading zero(s) (a German `01067` read as `1067`), for the countries whose codes are
all digits of one length (`POSTAL_CODE_DIGITS` in the contracts).

**Trailing delimiters**: a data row that ends in one empty field more than the header (a trailing
`,`) loads with the header's fields (DuckDB drops the empty last field); a row with any other
number of fields fails the file with the line number.

**No row content outside raw**: load errors, quarantine reasons and audit texts name the file,
the problem, line numbers and column names (only when the header looks like column names), never
field values; the raw record of a quarantined row keeps its text in `raw.quarantine_rows`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from returnlens.ingest import dialect
from returnlens.ingest.contracts import ENTITIES, POSTAL_CODE_DIGITS, Column, Entity, FileSpec
from returnlens.ingest.erasure import apply_forgotten, erase_forgotten_free_text
from returnlens.ingest.landing import entity_files, inventory, relative_name
from returnlens.ingest.readers import (
    IDENTIFIER,
    LandingFileError,
    ReadPaths,
    count_rows,
    csv_scan,
    delimiter_advice,
    diagnose,
    excel_bytes,
    file_columns,
    jsonl_scan,
    looks_like_header,
    parquet_scan,
    redacted,
    register_xlsx,
    select_columns,
)
from returnlens.ingest.values import (
    _DECIMAL_TYPE,
    _EXCEL_SCIENTIFIC,
    _INTEGER_TYPES,
    _SCIENTIFIC,
    DEFAULT_SPEC,
    _canonical,
    _number_pattern,
    _typed_expr,
)
from returnlens.profile import VALUE_SET_COLUMNS, landing_entities
from returnlens.warehouse import quote_ident as qi
from returnlens.warehouse import quote_literal as ql

__all__ = [
    "EntityResult",
    "FileResult",
    "LandingFileError",
    "LoadResults",
    "account_landing",
    "ensure_raw_schema",
    "landing_files",
    "load_all",
    "load_entity",
]

# statuses of audit rows of files that are not an entity's delivery (entity is null)
UNLOADED_STATUSES = ("unrecognised", "ignored", "refused")

LOADER_COLUMNS = (
    ("_source_file", "varchar"),
    ("_file_row_number", "bigint"),
    ("_loaded_at", "timestamp"),
    ("_extra", "varchar"),  # JSON object of columns the contract does not know, else null
)

# A batch of files is read, checked and committed together; bounded so memory stays bounded.
BATCH_BYTES = 512 * 1024 * 1024
ROW_KEY_STRIDE = 10**12  # _row_key = file order * stride + file row number (ordered, unique)

AUDIT_DDL = """
create table if not exists raw.load_audit (
    load_id varchar,
    entity varchar,
    source varchar,
    source_file varchar,
    checksum varchar,
    size_bytes bigint,
    rows_in bigint,
    rows_loaded bigint,
    rows_quarantined bigint,
    started_at timestamp,
    finished_at timestamp,
    status varchar,
    error varchar,
    extra_columns varchar,
    contract_hash varchar,
    dialect varchar
)
"""
AUDIT_COLUMNS = (
    "load_id, entity, source, source_file, checksum, size_bytes, rows_in, rows_loaded, "
    "rows_quarantined, started_at, finished_at, status, error, extra_columns, contract_hash"
)

QUARANTINE_ROWS_DDL = """
create table if not exists raw.quarantine_rows (
    load_id varchar,
    entity varchar,
    source_file varchar,
    file_row_number bigint,
    reason varchar,
    raw_record varchar,
    quarantined_at timestamp
)
"""

QUARANTINE_FILES_DDL = """
create table if not exists raw.quarantine_files (
    load_id varchar,
    entity varchar,
    source_file varchar,
    checksum varchar,
    error varchar,
    quarantined_at timestamp
)
"""

FORGOTTEN_DDL = """
create table if not exists raw.forgotten_customers (
    customer_hash varchar,
    forgotten_at timestamp
)
"""


@dataclass
class FileResult:
    """Outcome of loading one file."""

    source_file: str  # path relative to the landing root
    status: str  # loaded | unchanged | failed | error | unrecognised | ignored | refused
    rows_in: int | None = 0  # None: a failed file whose rows cannot be counted
    rows_loaded: int = 0
    rows_quarantined: int = 0
    error: str | None = None
    extra_columns: list[str] = field(default_factory=list)


@dataclass
class EntityResult:
    """Outcome of loading all files of one entity."""

    entity: str
    table: str
    files: list[FileResult] = field(default_factory=list)
    table_rows: int = 0

    @property
    def rows_in(self) -> int:
        """Rows read from files that were (re)loaded in this run."""
        return sum(f.rows_in or 0 for f in self.files)

    @property
    def rows_loaded(self) -> int:
        """Rows loaded in this run."""
        return sum(f.rows_loaded for f in self.files)

    @property
    def rows_quarantined(self) -> int:
        """Rows quarantined in this run."""
        return sum(f.rows_quarantined for f in self.files)

    def count(self, status: str) -> int:
        """Number of files with the given status."""
        return sum(1 for f in self.files if f.status == status)


class LoadResults(list):
    """What `load_all` did: one EntityResult per entity (the list), and `unloaded`, every other
    file under the landing folder (unrecognised, ignored, refused) with what to do about it."""

    def __init__(self, results: Iterable[EntityResult], unloaded: list[FileResult]) -> None:
        super().__init__(results)
        self.unloaded = unloaded

    def format(self) -> str:
        """The load summary a person reads (CLI, logs)."""
        lines = [
            f"raw.{r.entity:<20} files loaded {r.count('loaded')}, unchanged "
            f"{r.count('unchanged')}, failed {r.count('failed')}; rows loaded "
            f"{r.rows_loaded:,}, quarantined {r.rows_quarantined:,}"
            for r in self
        ]
        lines += [f"  FAILED {f.error}" for r in self for f in r.files if f.status == "failed"]
        lines += format_unloaded(self.unloaded)
        return "\n".join(lines)


def format_unloaded(files: list[FileResult]) -> list[str]:
    """Summary lines of the files under the landing folder that were not loaded."""
    if not files:
        return []
    counts = {s: sum(1 for f in files if f.status == s) for s in UNLOADED_STATUSES}
    head = ", ".join(f"{n} {s}" for s, n in counts.items() if n)
    return [f"landing files not loaded: {head}"] + [
        f"  {f.status.upper()} {f.error}" for f in files
    ]


@dataclass
class _Pending:
    """A file about to be loaded, and what was learnt about it on the way."""

    path: Path  # absolute path in the landing folder
    name: str  # identity: path relative to the landing root
    spec: FileSpec
    checksum: str
    size: int
    order: int
    started: datetime = field(default_factory=lambda: _now())
    read_path: Path | None = None  # what DuckDB reads (a plain-named link, a UTF-8 copy)
    present: list[str] = field(default_factory=list)
    extras: list[str] = field(default_factory=list)
    scan: str | None = None  # registered view of an Excel file
    error: str | None = None
    rows_in: int | None = 0
    detected: list[str] = field(default_factory=list)  # settings detected (undeclared dialect)
    detect_values: bool = False  # numbers/dates depart from the default: decide on all values


# (entity, column) -> the shop profile's value set that governs it
_PROFILE_VALUE_SET = {target: name for name, cols in VALUE_SET_COLUMNS.items() for target in cols}


def ensure_raw_schema(
    con: duckdb.DuckDBPyConnection, entities: Iterable[Entity] = ENTITIES
) -> None:
    """Create the raw schema, the audit, quarantine and erasure tables and one table per entity.

    Tables made by earlier versions gain the new columns (`_extra`, audit columns) in place.
    """
    con.execute("create schema if not exists raw")
    con.execute(AUDIT_DDL)
    con.execute("alter table raw.load_audit add column if not exists extra_columns varchar")
    con.execute("alter table raw.load_audit add column if not exists contract_hash varchar")
    con.execute("alter table raw.load_audit add column if not exists dialect varchar")
    con.execute(QUARANTINE_ROWS_DDL)
    con.execute(QUARANTINE_FILES_DDL)
    con.execute(FORGOTTEN_DDL)
    for ent in entities:
        cols = [f"{qi(c.name)} {c.type}" for c in ent.columns]
        cols += [f"{name} {typ}" for name, typ in LOADER_COLUMNS]
        con.execute(f"create table if not exists {ent.table} ({', '.join(cols)})")
        for c in ent.columns:  # a column the contract gained since the table was made
            con.execute(f"alter table {ent.table} add column if not exists {qi(c.name)} {c.type}")
        for name, typ in LOADER_COLUMNS:
            con.execute(f"alter table {ent.table} add column if not exists {name} {typ}")
    migrate_absolute_paths(con)


# an audited entity file named by more than `<source>/<file>`: written by a version that
# identified files by their absolute path
_ABSOLUTE = "entity is not null and source_file like '%/%/%'"
_RELATIVE = "regexp_extract({col}, '([^/]+/[^/]+)$', 1)"


def migrate_absolute_paths(con: duckdb.DuckDBPyConnection) -> int:
    """Rewrite file names written as absolute paths to paths relative to the landing root.

    Earlier versions identified a file by its absolute path. Every file they loaded was an
    entity's delivery, directly in `landing/<source>/`, so its relative path is exactly the last
    two components of the absolute one. All tables are rewritten in one transaction, the first
    time a warehouse is opened by this version (the check is one query on the audit). Returns
    the number of audit rows rewritten.
    """
    (n,) = con.execute(f"select count(*) from raw.load_audit where {_ABSOLUTE}").fetchall()[0]
    if not n:
        return 0
    tables = [
        r[0]
        for r in con.execute(
            "select table_name from information_schema.columns where table_schema = 'raw' "
            "and column_name = '_source_file' order by 1"
        ).fetchall()
    ]
    con.execute("begin transaction")
    try:
        con.execute(
            f"update raw.load_audit set source_file = {_RELATIVE.format(col='source_file')} "
            f"where {_ABSOLUTE}"
        )
        for table in ("quarantine_rows", "quarantine_files"):
            con.execute(
                f"update raw.{table} set source_file = {_RELATIVE.format(col='source_file')} "
                "where source_file like '%/%/%'"
            )
        for table in tables:
            con.execute(
                f"update raw.{qi(table)} set _source_file = "
                f"{_RELATIVE.format(col='_source_file')} where _source_file like '%/%/%'"
            )
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    return n


def file_checksum(path: Path) -> str:
    """SHA-256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def contract_hash(entity: Entity) -> str:
    """Fingerprint of an entity's contract: a failed file is retried when it changes."""
    return hashlib.sha256(repr(entity).encode()).hexdigest()[:16]


def landing_files_with_specs(entity: Entity, landing_dir: Path) -> list[tuple[Path, FileSpec]]:
    """The files of an entity in the landing zone (absolute paths) with the delivery each
    matches, in name order. Regular files only: symbolic links and hidden files are never read."""
    return entity_files(entity, landing_dir)


def landing_files(entity: Entity, landing_dir: Path) -> list[Path]:
    """The files of an entity in the landing zone, in name order."""
    return [p for p, _ in landing_files_with_specs(entity, landing_dir)]


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _describe_format(entity: Entity, spec: FileSpec) -> str:
    if spec.format == "csv":
        d = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}[spec.delimiter]
        return f"a {d}-separated {spec.encoding.upper()} CSV file with a header row"
    if spec.format == "jsonl":
        return f"{spec.encoding.upper()} JSON lines (one complete object per line)"
    if spec.format == "xlsx":
        return "an Excel workbook with a header row on the first sheet"
    return "a Parquet file"


def _read_error(entity: Entity, p: _Pending, exc: BaseException) -> str:
    """The message of a file that cannot be read: the cause in plain words and the fix.

    The reader's own text is used only for its category and numbers (it quotes row content).
    """
    text = str(exc)
    why = diagnose(p.path, p.spec, text)
    if why is None and p.spec.format == "csv":
        why = delimiter_advice(p.path, p.spec, entity)
    if why is None:
        why = f"the {p.spec.format.upper()} reader reports: {redacted(text) or type(exc).__name__}"
    return (
        f"{p.name}: cannot be read as {p.spec.format.upper()}: {why}. Export it again as "
        f"{_describe_format(entity, p.spec)} as described in docs/contracts/{entity.source}.md "
        "and deliver it again (under the same name: it replaces the failed delivery)."
    )


def _missing_columns_error(entity: Entity, p: _Pending, missing: list[str]) -> str:
    """Missing required columns: the likely cause (delimiter, no header) and the fix.

    The columns found are listed only when they look like column names; a data row taken for
    the header is never quoted.
    """
    advice = delimiter_advice(p.path, p.spec, entity) if p.spec.format == "csv" else None
    if advice is not None:
        return (
            f"{p.name}: cannot be read as CSV: {advice}. Split by the declared delimiter, the "
            f"header misses required column(s) {', '.join(missing)}; fix the delimiter and "
            "deliver the file again."
        )
    if looks_like_header(p.present, entity):
        found = f"found {', '.join(p.present)}"
    else:
        found = (
            f"the first line has {len(p.present)} field(s) that do not look like column names "
            "(not listed: they may be data; is the header row missing?)"
        )
    return (
        f"{p.name}: missing required column(s) {', '.join(missing)}; {found}. Rename or add "
        f"the columns as in docs/contracts/{entity.source}.md and deliver the file again."
    )


# ------------------------------------------------------------------------------ preparing
def _prepare(con: duckdb.DuckDBPyConnection, entity: Entity, p: _Pending, paths: ReadPaths) -> None:
    """Learn a file's columns; sets `p.error` (a LandingFileError message) if it is unusable."""
    try:
        if p.size == 0:
            raise LandingFileError(
                f"{p.name}: the file is empty (0 bytes). Deliver it again with a header and rows."
            )
        if p.spec.format == "xlsx":
            p.scan = f"_xlsx_{p.order}"
            try:
                p.present = register_xlsx(con, p.path, p.scan)
            except LandingFileError as exc:
                p.scan = None
                raise LandingFileError(f"{p.name}: {exc}") from exc
        else:
            if p.spec.format in ("csv", "jsonl") and excel_bytes(p.path):
                raise LandingFileError(_read_error(entity, p, LandingFileError("")))
            try:
                _read_layout(entity, p, paths)
                p.present = file_columns(con, p.read_path, p.spec)
            except LandingFileError as exc:  # our own header parse or transcoding: precise
                raise LandingFileError(
                    f"{p.name}: cannot be read as {p.spec.format.upper()}: {exc}. Export it "
                    f"again as {_describe_format(entity, p.spec)} as described in "
                    f"docs/contracts/{entity.source}.md and deliver it again."
                ) from exc
            except (duckdb.Error, UnicodeDecodeError, OSError) as exc:
                raise LandingFileError(_read_error(entity, p, exc)) from exc
        missing = [c.name for c in entity.columns if c.required and c.name not in p.present]
        if missing:
            raise LandingFileError(_missing_columns_error(entity, p, missing))
        known = {c.name for c in entity.columns}
        p.extras = [c for c in p.present if c not in known]
        if dialect.detectable(p.spec):
            p.detect_values = dialect.sample_departs(con, entity, p.read_path, p.spec, p.present)
    except LandingFileError as exc:
        p.error = str(exc)


def _read_layout(entity: Entity, p: _Pending, paths: ReadPaths) -> None:
    """The path DuckDB reads a file by and, for an undeclared CSV delivery, its encoding and
    delimiter where the file settles them (`returnlens/ingest/dialect.py`)."""
    p.spec, p.read_path = dialect.read_layout(p.path, p.spec, entity, paths, p.order, p.detected)


def _group_select(entity: Entity, group: list[_Pending]) -> str:
    """A select over files with the same layout: contract columns as text, `_extra`, position."""
    first = group[0]
    cols = select_columns(entity, first.present)
    extra = (
        "cast(to_json(struct_pack("
        + ", ".join(f"{qi(x)} := cast({qi(x)} as varchar)" for x in first.extras)
        + ")) as varchar)"
        if first.extras
        else "cast(null as varchar)"
    )
    # row_number() over () follows the scan's order (insertion order is preserved); one scan per
    # file (a streaming row number each), glued with union all, avoids a window over the batch
    return "\nunion all\n".join(
        f"select {cols}, {extra} as _extra, {ql(p.name)} as _source_file, "
        f"{p.order} as _file_order, row_number() over () as _file_row_number "
        f"from {_scan(p)}"
        for p in group
    )


def _scan(p: _Pending) -> str:
    """The scan of one file, by the path DuckDB reads it by (never expanded as a glob)."""
    path = p.read_path or p.path
    if p.spec.format == "csv":
        return csv_scan(path, p.spec, p.present)
    if p.spec.format == "jsonl":
        return jsonl_scan(path, p.present)
    if p.spec.format == "parquet":
        return parquet_scan(path)
    return p.scan or ""


def _stage(
    con: duckdb.DuckDBPyConnection,
    entity: Entity,
    batch: list[_Pending],
    paths: ReadPaths | None = None,
) -> None:
    """Read the readable files of a batch into temp table `_stage`, one layout, then one file,
    at a time, so a file that cannot be read is found and failed alone (sets its `error`).

    An undeclared UTF-8 delivery whose bytes turn out not to be UTF-8 (beyond the first MiB
    that detection looked at) is read again as Windows-1252 where that is unambiguous."""
    cols = ", ".join(f"{qi(c.name)} varchar" for c in entity.columns)
    con.execute(
        f"create or replace temp table _stage ({cols}, _extra varchar, "
        "_source_file varchar, _file_order bigint, _file_row_number bigint)"
    )
    for group in _groups(batch):
        try:
            con.execute(f"insert into _stage {_group_select(entity, group)}")
        except duckdb.Error as exc:
            if len(group) == 1:
                _stage_again(con, entity, group[0], exc, paths)
                continue
            for p in group:
                try:
                    con.execute(f"insert into _stage {_group_select(entity, [p])}")
                except duckdb.Error as exc1:
                    _stage_again(con, entity, p, exc1, paths)


def _stage_again(
    con: duckdb.DuckDBPyConnection,
    entity: Entity,
    p: _Pending,
    exc: duckdb.Error,
    paths: ReadPaths | None,
) -> None:
    """A file whose read failed: failed with the cause, or, when an undeclared UTF-8 delivery
    holds bytes that are not UTF-8, prepared again as Windows-1252 and staged."""
    if paths is None or not dialect.utf8_failure(p.spec, str(exc)):
        p.error = _read_error(entity, p, exc)
        return
    p.spec = dataclasses.replace(p.spec, encoding="cp1252")
    p.detected.append("encoding")
    _prepare(con, entity, p, paths)
    if p.error is not None:
        return
    try:
        con.execute(f"insert into _stage {_group_select(entity, [p])}")
    except duckdb.Error as exc1:
        p.error = _read_error(entity, p, exc1)


def _decide_values(con: duckdb.DuckDBPyConnection, entity: Entity, batch: list[_Pending]) -> None:
    """The number and date dialect of staged undeclared files whose sample departs from the
    default, decided on ALL their values in one aggregate pass; a file that is ambiguous fails
    whole (its staged rows are dropped) with the setting to declare."""
    todo = [p for p in batch if p.error is None and p.detect_values]
    counts = dialect.value_dialects(con, entity, "_stage", [p.order for p in todo])
    failed = []
    for p in todo:
        p.detect_values = False
        p.spec, found, error = dialect.decide(entity, p.spec, counts.get(p.order, {}))
        p.detected += [k for k in found if k not in p.detected]
        if error is not None:
            p.error = (
                f"{p.name}: {error}. Nothing of the file is loaded; deliver it again or declare "
                "its dialect (the file is retried when it or the profile changes)."
            )
            failed.append(p.order)
    if failed:
        con.execute(f"delete from _stage where _file_order in ({', '.join(map(str, failed))})")


def _groups(batch: list[_Pending]) -> list[list[_Pending]]:
    """Readable files grouped by layout (delivery and columns); Excel files one by one."""
    groups: dict[tuple, list[_Pending]] = {}
    for p in batch:
        if p.error is None:
            key = (p.spec, tuple(p.present)) if p.spec.format != "xlsx" else (p.order,)
            groups.setdefault(key, []).append(p)
    return list(groups.values())


# ------------------------------------------------------------------------------ checking
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


def _artefact_reason(c: Column) -> str:
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
    return (
        f"case when starts_with({col}, '=\"') and ends_with({col}, '\"') then {ql(formula)} "
        f"when contains({col}, 'E+') and regexp_full_match({col}, {ql(_EXCEL_SCIENTIFIC)}) "
        f"then {ql(scientific)} end"
    )


def check_reason_sql(entity: Entity, typed: str = "__t_", dialects: Dialects | None = None) -> str:
    """SQL expression naming every contract violation of a staged row, '' when none.

    Non-text columns are expected beside their text as `<typed><name>` (see `typed_select`).
    Reasons name the column and the problem, never the value (it stays in the raw record).
    """
    parts: list[str] = []
    for c in entity.columns:
        col = qi(c.name)
        val = qi(typed + c.name) if c.type != "varchar" else col
        if c.required:
            parts.append(f"case when {col} is null then 'missing required {c.name}' end")
        if c.type != "varchar":
            reason = _by_dialect(dialects, lambda spec, c=c: _bad_value_reason(c, spec))
            parts.append(
                f"case when {col} is not null and {val} is null "
                f"then {ql(f'bad {c.type} in {c.name}: ')} || ({reason}) end"
            )
        else:
            parts.append(_artefact_reason(c))
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
        if c.min_value is not None:
            parts.append(
                f"case when {val} < {c.min_value} then '{c.name} below minimum {c.min_value:g}' end"
            )
    parts += _postal_code_reasons(entity)
    return f"concat_ws('; ', {', '.join(parts)})"


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


def typed_select(entity: Entity, prefix: str = "__t_", dialects: Dialects | None = None) -> str:
    """The exact value of every non-text column of `_stage`-like text rows (null when the text
    is not exactly a value of the type under the file's dialect), named `<prefix><name>`."""
    return ", ".join(
        f"{_by_dialect(dialects, lambda spec, c=c: _typed_expr(c, spec))} as {qi(prefix + c.name)}"
        for c in entity.columns
        if c.type != "varchar"
    )


def checked_select(
    entity: Entity, source: str, replaced: list[str], dialects: Dialects | None = None
) -> str:
    """A select over `source` (text rows) judging every row: contract, then duplicate keys.

    It yields the typed values under the contract's column names, `_reason` ('' = the row
    passes) and, for failing rows only, `_raw_record` (the text as JSON). The first row of a key
    (by file order and row number) wins, later ones are quarantined as duplicates (a contract
    violation is reported first); a key already in raw from a file that is not being replaced
    is a duplicate too.
    """
    keys = ", ".join(qi(k) for k in entity.key)
    typed = typed_select(entity, dialects=dialects)
    reason = check_reason_sql(entity, dialects=dialects)
    replaced_list = ", ".join(ql(f) for f in replaced) or "''"
    values = ", ".join(
        f"{qi(c.name)}" if c.type == "varchar" else f"{qi('__t_' + c.name)} as {qi(c.name)}"
        for c in entity.columns
    )
    record = _raw_record_sql(entity)
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
            select *, {reason} as _check from reasons
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
                else {_raw_record_sql(entity, with_extra=True)}
            end as _raw_record
        from judged
        """


def _raw_record_sql(entity: Entity, *, with_extra: bool = False) -> str:
    """The text of a row as a JSON object (unknown columns nested under `_extra`)."""
    fields = [f"{qi(c.name)} := {qi(c.name)}" for c in entity.columns]
    if with_extra:
        fields.append("_extra := json(_extra)")
    return f"cast(to_json(struct_pack({', '.join(fields)})) as varchar)"


def _insert_rows(
    con: duckdb.DuckDBPyConnection, entity: Entity, select: str, loaded_at: datetime
) -> None:
    """Write every judged row into raw in one pass (the fast path: one scan, one write).

    Failing rows are written too, marked by a null `_loaded_at` with the reason and raw text in
    `_extra`; `_move_quarantined` moves them to quarantine before the transaction commits, so no
    reader ever sees them.
    """
    names = ", ".join(qi(c.name) for c in entity.columns)
    con.execute(
        f"insert into {entity.table} ({names}, _source_file, _file_row_number, _loaded_at, "
        f"_extra) select {names}, _source_file, _file_row_number, "
        "case when _reason = '' then cast(? as timestamp) end, "
        "case when _reason = '' then _extra "
        "else cast(json_object('reason', _reason, 'record', json(_raw_record)) as varchar) end "
        f"from ({select})",
        [loaded_at],
    )


def _move_quarantined(
    con: duckdb.DuckDBPyConnection,
    entity: Entity,
    files: list[str],
    load_id: str,
    loaded_at: datetime,
) -> None:
    """Move the marked failing rows of these files from raw to `raw.quarantine_rows`."""
    placeholders = ", ".join("?" for _ in files)
    marked = f"_source_file in ({placeholders}) and _loaded_at is null"
    con.execute(
        "insert into raw.quarantine_rows "
        "select ?, ?, _source_file, _file_row_number, _extra ->> 'reason', "
        f"_extra ->> 'record', ? from {entity.table} where {marked} "
        "order by _source_file, _file_row_number",
        [load_id, entity.name, loaded_at, *files],
    )
    con.execute(f"delete from {entity.table} where {marked}", files)


def _delete_previous(con: duckdb.DuckDBPyConnection, entity: Entity, files: list[str]) -> None:
    """Remove what earlier deliveries of these files left in raw and in quarantine."""
    placeholders = ", ".join("?" for _ in files)
    con.execute(f"delete from {entity.table} where _source_file in ({placeholders})", files)
    con.execute(
        f"delete from raw.quarantine_rows where entity = ? and source_file in ({placeholders})",
        [entity.name, *files],
    )


def _audit(
    con: duckdb.DuckDBPyConnection,
    load_id: str,
    entity: Entity,
    p: _Pending,
    loaded: int,
    quarantined: int,
    status: str,
    error: str | None,
    chash: str,
) -> None:
    con.execute(
        f"insert into raw.load_audit ({AUDIT_COLUMNS}, dialect) "
        "values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            load_id,
            entity.name,
            entity.source,
            p.name,
            p.checksum,
            p.size,
            p.rows_in,
            loaded,
            quarantined,
            p.started,
            _now(),
            status,
            error,
            _extras_text(p.extras),
            chash,
            dialect.dialect_json(p.spec, p.detected),
        ],
    )


def _extras_text(extras: list[str]) -> str | None:
    """Names of extra columns for the audit: only names that look like column names."""
    shown = [x for x in extras if IDENTIFIER.fullmatch(x)]
    hidden = len(extras) - len(shown)
    text = ", ".join(shown) + (f"{', ' if shown else ''}{hidden} unnamed" if hidden else "")
    return text or None


def _load_batch(
    con: duckdb.DuckDBPyConnection,
    entity: Entity,
    batch: list[_Pending],
    load_id: str,
    chash: str,
) -> list[FileResult]:
    """Read, check and commit one batch of files; a crash rolls the whole batch back."""
    paths = ReadPaths()
    try:
        for p in batch:
            _prepare(con, entity, p, paths)
        # Fast path: files of one layout are read, checked and written in a single pass. If that
        # read fails, or layouts differ, or a file turns out to have no rows, the batch is
        # staged first (which isolates the file that cannot be read) and written from there.
        groups = _groups(batch)
        detect = any(p.detect_values for p in batch if p.error is None)
        single = len(groups) == 1 and not detect
        source = f"({_group_select(entity, groups[0])})" if single else None
        while True:
            if source is None:
                _stage(con, entity, batch, paths)
                source = "_stage"
                _decide_values(con, entity, batch)
            good = [p for p in batch if p.error is None]
            counts = _write_batch(con, entity, batch, good, source, load_id, chash)
            if counts is not None:
                break
            source = None if source != "_stage" else "_stage"
    except Exception as exc:
        _record_crash(con, entity, batch, load_id, chash, exc)
        raise
    finally:
        paths.close()
        for p in batch:
            if p.scan is not None:
                con.unregister(p.scan)
    results = []
    for p in batch:
        if p.error is not None:
            results.append(FileResult(p.name, "failed", p.rows_in, error=p.error))
        else:
            loaded, quarantined = counts[p.name]
            results.append(
                FileResult(p.name, "loaded", p.rows_in, loaded, quarantined, None, p.extras)
            )
    return results


def _write_batch(
    con: duckdb.DuckDBPyConnection,
    entity: Entity,
    batch: list[_Pending],
    good: list[_Pending],
    source: str,
    load_id: str,
    chash: str,
) -> dict[str, tuple[int, int]] | None:
    """One transaction: replace the good files' rows, quarantine, audit every file of the batch.

    Returns (loaded, quarantined) per good file, or None (rolled back) when the fast path's read
    failed or a file had no rows; the caller then retries from the staged rows.
    """
    files = [p.name for p in good]
    loaded_at = _now()
    con.execute("begin transaction")
    try:
        counts: dict[str, tuple[int, int]] = {}
        if good:
            _delete_previous(con, entity, files)
            try:
                dialects = {p.order: p.spec for p in good}
                select = checked_select(entity, source, files, dialects)
                _insert_rows(con, entity, select, loaded_at)
            except duckdb.Error:
                if source == "_stage":
                    raise
                con.execute("rollback")
                return None
            read = _file_counts(con, entity, files)
            empty = [p for p in good if read.get(p.name, 0) == 0]
            if empty:
                con.execute("rollback")
                for p in empty:
                    p.error = (
                        f"{p.name}: the file has a header but no rows. An empty delivery is not "
                        "loaded; deliver the file again with its rows (or remove it if it was "
                        "sent by mistake)."
                    )
                return None
            for p in good:
                p.rows_in = read[p.name]
            _move_quarantined(con, entity, files, load_id, loaded_at)
            apply_forgotten(con, entity, files)
            counts = _written_counts(con, entity, files, load_id)
        for p in batch:
            if p.error is not None:
                _count_failed(p)
                con.execute(
                    "insert into raw.quarantine_files values (?, ?, ?, ?, ?, ?)",
                    [load_id, entity.name, p.name, p.checksum, p.error, _now()],
                )
                _audit(con, load_id, entity, p, 0, 0, "failed", p.error, chash)
        for p in good:
            loaded, quarantined = counts[p.name]
            if loaded + quarantined != p.rows_in:  # conservation, checked on what was written
                raise RuntimeError(
                    f"{p.name}: {p.rows_in} rows read but {loaded} loaded + "
                    f"{quarantined} quarantined"
                )
            note = f"extra columns kept in _extra: {_extras_text(p.extras)}" if p.extras else None
            _audit(con, load_id, entity, p, loaded, quarantined, "loaded", note, chash)
        con.execute("commit")
    except BaseException:
        with contextlib.suppress(duckdb.Error):
            con.execute("rollback")
        raise
    return counts


def _count_failed(p: _Pending) -> None:
    """Rows of a file that failed whole (so conservation holds), or null and said so."""
    if p.size == 0:
        p.rows_in = 0
        return
    p.rows_in = count_rows(p.path, p.spec)
    if p.rows_in is None and "row count unknown" not in (p.error or ""):
        p.error = (
            f"{p.error} (Rows in the file: unknown, the file cannot be read far enough to "
            "count them; row count unknown.)"
        )


def _file_counts(con: duckdb.DuckDBPyConnection, entity: Entity, files: list[str]) -> dict:
    placeholders = ", ".join("?" for _ in files)
    return dict(
        con.execute(
            f"select _source_file, count(*) from {entity.table} "
            f"where _source_file in ({placeholders}) group by 1",
            files,
        ).fetchall()
    )


def _written_counts(
    con: duckdb.DuckDBPyConnection, entity: Entity, files: list[str], load_id: str
) -> dict[str, tuple[int, int]]:
    """Rows per file now in raw and in quarantine (counted in the tables, not in `_checked`)."""
    placeholders = ", ".join("?" for _ in files)
    rows = con.execute(
        f"""
        with f as (select unnest([{placeholders}]) as source_file),
        r as (
            select _source_file as source_file, count(*) as n from {entity.table}
            where _source_file in ({placeholders}) group by 1
        ),
        q as (
            select source_file, count(*) as n from raw.quarantine_rows
            where entity = ? and load_id = ? and source_file in ({placeholders}) group by 1
        )
        select f.source_file, coalesce(r.n, 0), coalesce(q.n, 0)
        from f left join r using (source_file) left join q using (source_file)
        """,
        [*files, *files, entity.name, load_id, *files],
    ).fetchall()
    return {f: (loaded, quarantined) for f, loaded, quarantined in rows}


def _record_crash(
    con: duckdb.DuckDBPyConnection,
    entity: Entity,
    batch: list[_Pending],
    load_id: str,
    chash: str,
    exc: BaseException,
) -> None:
    """Audit a batch that crashed (status `error`: retried on the next run); raw is unchanged."""
    message = f"load crashed and was rolled back: {type(exc).__name__}: {redacted(str(exc))}"
    try:
        con.execute("begin transaction")
        for p in batch:
            _audit(con, load_id, entity, p, 0, 0, "error", message, chash)
        con.execute("commit")
    except duckdb.Error:  # the connection itself is broken: the raised error says enough
        with contextlib.suppress(duckdb.Error):
            con.execute("rollback")


def _last_loads(con: duckdb.DuckDBPyConnection, entity: Entity) -> dict[str, tuple[str, str, str]]:
    rows = con.execute(
        """
        select source_file, checksum, status, contract_hash
        from raw.load_audit
        where entity = ?
        qualify row_number() over (partition by source_file order by finished_at desc) = 1
        """,
        [entity.name],
    ).fetchall()
    return {f: (c, s, h) for f, c, s, h in rows}


def _batches(pending: list[_Pending], limit: int) -> Iterator[list[_Pending]]:
    batch: list[_Pending] = []
    size = 0
    for p in pending:
        if batch and size + p.size > limit:
            yield batch
            batch, size = [], 0
        batch.append(p)
        size += p.size
    if batch:
        yield batch


def load_entity(
    con: duckdb.DuckDBPyConnection,
    entity: Entity,
    landing_dir: Path,
    load_id: str | None = None,
    *,
    batch_bytes: int = BATCH_BYTES,
) -> EntityResult:
    """Load the new or changed files of one entity; unchanged files are skipped."""
    ensure_raw_schema(con, [entity])
    load_id = load_id or uuid.uuid4().hex
    chash = contract_hash(entity)
    result = EntityResult(entity.name, entity.table)
    previous = _last_loads(con, entity)
    pending: list[_Pending] = []
    for order, (path, spec) in enumerate(landing_files_with_specs(entity, landing_dir)):
        name = relative_name(path, landing_dir)
        checksum = file_checksum(path)
        last = previous.get(name)
        if last is not None and last[0] == checksum:
            _, status, last_hash = last
            if status in ("loaded", "replayed") or (status == "failed" and last_hash == chash):
                result.files.append(FileResult(name, "unchanged"))
                continue
        pending.append(_Pending(path, name, spec, checksum, path.stat().st_size, order))
    for batch in _batches(pending, batch_bytes):
        result.files.extend(_load_batch(con, entity, batch, load_id, chash))
    result.files.sort(key=lambda f: f.source_file)
    result.table_rows = con.execute(f"select count(*) from {entity.table}").fetchall()[0][0]
    return result


def load_all(con: duckdb.DuckDBPyConnection, landing_dir: Path) -> LoadResults:
    """Load every entity of every source and account for every other file under the landing
    folder (used by the CLI and tests; Dagster loads per asset). A list of EntityResult, with
    the files not loaded in `.unloaded` and the summary in `.format()`."""
    entities = landing_entities(landing_dir)
    load_id = uuid.uuid4().hex
    results = [load_entity(con, e, landing_dir, load_id) for e in entities]
    unloaded = account_landing(con, landing_dir, load_id, entities)
    erase_forgotten_free_text(con)  # every source is loaded: whatever order they loaded in
    return LoadResults(results, unloaded)


def account_landing(
    con: duckdb.DuckDBPyConnection,
    landing_dir: Path,
    load_id: str | None = None,
    entities: tuple[Entity, ...] | list[Entity] = ENTITIES,
) -> list[FileResult]:
    """Audit every file under the landing folder that is no entity's delivery.

    Unrecognised, ignored and refused files get an audit row (entity null) with the reason and
    what to do, when new or changed (by status, size and reason); a file listed before that is
    no longer there gets a `gone` row. Returns every such file present now (status, reason).
    Nothing of these files is read.
    """
    ensure_raw_schema(con, [])
    load_id = load_id or uuid.uuid4().hex
    entries = inventory(landing_dir, entities)
    latest = {
        name: (status, size, error)
        for name, status, size, error in con.execute(
            """
            select source_file, status, size_bytes, error from raw.load_audit
            where entity is null
            qualify row_number() over (partition by source_file order by finished_at desc) = 1
            """
        ).fetchall()
    }
    now = _now()
    rows = [
        [load_id, e.source, e.name, e.size, now, e.status, e.note]
        for e in entries
        if latest.get(e.name) != (e.status, e.size, e.note)
    ]
    present = {e.name for e in entries}
    for name, (status, _, _) in sorted(latest.items()):
        if status in UNLOADED_STATUSES and name not in present:
            source = name.split("/", 1)[0] if "/" in name else None
            note = (
                f"{name}: no longer waiting: removed from the landing folder, or now accepted "
                "as a delivery (see its own load)"
            )
            rows.append([load_id, source, name, None, now, "gone", note])
    if rows:
        con.execute("begin transaction")
        try:
            con.executemany(
                "insert into raw.load_audit (load_id, entity, source, source_file, size_bytes, "
                "started_at, finished_at, status, error) values (?, null, ?, ?, ?, ?, ?, ?, ?)",
                [[r[0], r[1], r[2], r[3], r[4], r[4], r[5], r[6]] for r in rows],
            )
            con.execute("commit")
        except BaseException:
            con.execute("rollback")
            raise
    return [FileResult(e.name, e.status, None, error=e.note) for e in entries]
