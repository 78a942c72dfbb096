"""Readers of landing files: every format becomes a DuckDB scan of text columns.

CSV, JSON lines and Parquet are read by DuckDB's native readers; Excel (the survey tool's
export) is read by pandas/openpyxl as text and registered as a DuckDB view, so every format goes
through the same set-based contract check.

- **Literal paths.** DuckDB's readers expand glob characters (`*`, `?`, `[`) in a path, so a
  file named `returns_[1].csv` would be read as `returns_1.csv`. Such a file is read through a
  link with a plain name in a private temp folder (`ReadPaths`), so each file is read exactly
  once, as itself.
- **CSV dialect.** The header row is parsed by Python's csv module under the declared dialect
  (first record only) and DuckDB reads the rest with `auto_detect = false` and exactly those
  columns: its sniffer can never take a data row for the header or skip rows.
- **cp1252** (Windows-1252) is transcoded to UTF-8 into a temp file in one streaming pass
  (DuckDB's read_csv has no cp1252 without an extension); a byte cp1252 does not define fails
  the file with its offset.
- **Errors.** When a read fails, `diagnose()` (`returnlens/ingest/read_failures.py`) looks at
  the bytes to say *why* (an Excel workbook named .csv, not the declared encoding, another
  delimiter, a line with too many fields, a field longer than the reader's limit, cut off
  mid-row) in words a shop can act on. Messages name line numbers and column names, never field
  values: DuckDB's own error text (which quotes the offending line) is reduced to its category
  and numbers by `redacted()`.
"""

from __future__ import annotations

import codecs
import csv
import json
import re
import shutil
import tempfile
from pathlib import Path

import duckdb

from returnlens.ingest.contracts import Entity, FileSpec
from returnlens.ingest.dialect_messages import UTF8_SEQUENCE, mixed_message, undefined_message
from returnlens.warehouse import quote_ident as qi
from returnlens.warehouse import quote_literal as ql

# DuckDB's read_csv knows these natively; cp1252 is transcoded to UTF-8 first.
CSV_ENCODINGS = {"utf-8": "utf-8", "latin-1": "latin-1", "utf-16": "utf-16", "cp1252": "utf-8"}
PY_ENCODINGS = {"utf-8": "utf-8-sig", "latin-1": "latin-1", "utf-16": "utf-16", "cp1252": "utf-8"}
GLOB_CHARS = ("*", "?", "[")
MAX_LINE_BYTES = 2_000_000  # DuckDB read_csv's default max_line_size
SAMPLE_BUFFER_BYTES = 1 << 20  # JSON lines' keys are sampled through this buffer first
EXCEL_MAGIC = (b"PK\x03\x04", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1")  # xlsx (zip), xls (OLE2)
DELIMITER_NAMES = {",": "','", ";": "';'", "\t": "tab", "|": "'|'"}
IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_ .()/-]{0,63}")


class LandingFileError(Exception):
    """A landing file that cannot be loaded at all; the message says what to do."""


def refuse_repeated_names(names: list[str]) -> None:
    """A header that names a column twice is ambiguous: the file fails (names shown only when
    they look like column names, never content)."""
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        shown = [n for n in repeated if IDENTIFIER.fullmatch(n)]
        which = f" ({', '.join(shown)})" if len(shown) == len(repeated) else ""
        raise LandingFileError(
            f"the header names {len(repeated)} column(s) more than once{which}: which of them "
            "is meant is ambiguous; remove or rename the duplicates"
        )


class ReadPaths:
    """Paths DuckDB can read each landing file by, exactly: the file itself when its path has no
    glob character, else a link with a plain name; a cp1252 file as a UTF-8 copy. Temp files live
    in a private folder under `<data dir>/tmp/` (a copy holds personal data: it never goes to the
    system temp folder), removed by `close()`."""

    def __init__(self) -> None:
        self._dir: Path | None = None

    def _tmp(self) -> Path:
        if self._dir is None:
            from returnlens.config import settings

            scratch = settings().data_dir / "tmp"
            scratch.mkdir(parents=True, exist_ok=True)
            self._dir = Path(tempfile.mkdtemp(prefix="read-", dir=scratch))
        return self._dir

    def path_for(
        self, path: Path, spec: FileSpec, order: int, detected_for: Entity | None = None
    ) -> Path:
        """The path to hand to DuckDB for `path` (may raise LandingFileError for cp1252).

        `detected_for`: the entity, when cp1252 was detected rather than declared: the copy
        then also fails if the file holds UTF-8 characters (in no single encoding)."""
        if spec.encoding == "cp1252" and spec.format in ("csv", "jsonl"):
            target = self._tmp() / f"f{order}.utf8"
            transcode_cp1252(path, target, detected_for)
            return target
        if any(c in str(path) for c in GLOB_CHARS):
            ext = "".join(c for c in path.suffix if c.isalnum())
            link = self._tmp() / f"f{order}.{ext or 'dat'}"
            link.unlink(missing_ok=True)
            link.symlink_to(path)
            return link
        return path

    def close(self) -> None:
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None


def transcode_cp1252(src: Path, dst: Path, detected_for: Entity | None = None) -> None:
    """Stream a Windows-1252 file into a UTF-8 copy; fail on a byte cp1252 does not define.

    When cp1252 was detected (`detected_for`), a UTF-8 character anywhere in the file fails it
    too: such a file mixes encodings (a UTF-8 BOM at the start is no character)."""

    decoder = codecs.getincrementaldecoder("cp1252")("strict")
    offset, lines, tail = 0, 1, b""
    with src.open("rb") as fi, dst.open("w", encoding="utf-8", newline="") as fo:
        for chunk in iter(lambda: fi.read(1 << 20), b""):
            if detected_for is not None:
                # the last bytes of the previous chunk: a sequence may span two chunks
                window = tail + chunk
                start = 3 if offset == 0 and chunk.startswith(b"\xef\xbb\xbf") else 0
                seq = UTF8_SEQUENCE.search(window, start)
                if seq:
                    at = seq.start() - len(tail)
                    line = lines + chunk[: max(at, 0)].count(b"\n")
                    raise LandingFileError(mixed_message(detected_for, line, None))
                tail = chunk[-3:]
            try:
                fo.write(decoder.decode(chunk))
            except UnicodeDecodeError as exc:
                line = lines + chunk[: exc.start].count(b"\n")
                if detected_for is not None:
                    raise LandingFileError(
                        undefined_message(detected_for, chunk[exc.start], offset + exc.start, line)
                    ) from exc
                raise LandingFileError(
                    f"byte 0x{chunk[exc.start]:02X} at byte offset {offset + exc.start} "
                    f"(line {line}) is not a Windows-1252 (cp1252) character, although the "
                    "contract declares cp1252: export the file as UTF-8 (and declare "
                    "encoding='utf-8'), or check which encoding the exporting tool uses"
                ) from exc
            offset += len(chunk)
            lines += chunk.count(b"\n")


# ------------------------------------------------------------------------------ scans
def csv_header(path: Path, spec: FileSpec) -> list[str]:
    """Column names of a CSV file: its first record under the declared dialect.

    Blank names become `column<i>`. Raises LandingFileError when the first record is not a
    usable header (several lines, a name repeated: ambiguous).
    """
    csv.field_size_limit(MAX_LINE_BYTES)
    with path.open(encoding=PY_ENCODINGS[spec.encoding], newline="") as fh:
        reader = csv.reader(fh, delimiter=spec.delimiter, quotechar='"', strict=True)
        try:
            row = next(reader, [])
        except csv.Error as exc:
            raise LandingFileError(
                "the first line (the header) cannot be parsed as CSV: "
                f"{redacted(str(exc))}; the header must be one line of column names"
            ) from exc
        if reader.line_num > 1:
            raise LandingFileError(
                "the header row spans several lines (a line break inside a quoted column "
                "name); the header must be one line of column names"
            )
    names = [raw.strip() or f"column{i}" for i, raw in enumerate(row)]
    refuse_repeated_names(names)
    return names


def csv_scan(path: Path, spec: FileSpec, columns: list[str], sample: bool = False) -> str:
    """`read_csv` of one file with exactly these (text) columns; no sniffing. `sample`: for
    reading the first rows only, on one thread (the parallel reader starts on buffers all over
    the file: 4x the time of a 10,000-row sample)."""
    cols = ", ".join(f"{ql(c)}: 'VARCHAR'" for c in columns)
    return (
        f"read_csv({ql(str(path))}, auto_detect = false, header = true, columns = {{{cols}}}, "
        f"delim = {ql(spec.delimiter)}, quote = '\"', escape = '\"', "
        f"encoding = {ql(CSV_ENCODINGS[spec.encoding])}, strict_mode = true, "
        f"null_padding = false{', parallel = false' if sample else ''})"
    )


def jsonl_scan(path: Path, present: list[str]) -> str:
    """`read_json` (newline-delimited) with every present key as text."""
    cols = ", ".join(f"{ql(c)}: 'VARCHAR'" for c in present)
    return f"read_json({ql(str(path))}, format = 'newline_delimited', columns = {{{cols}}})"


def parquet_scan(path: Path, numbered: bool = False) -> str:
    """`read_parquet`; columns are cast to text by the staging select. `numbered`: with the
    0-based `file_row_number` of each row."""
    return f"read_parquet({ql(str(path))}{', file_row_number = true' if numbered else ''})"


# The Parquet types each contract type is read from: their values cast to text exactly and are
# then checked as text like any delivery's (a value that does not fit, e.g. a timestamp with
# nanoseconds, is quarantined, never truncated). Text is accepted for every type, as in JSON
# lines. Any other type (an epoch number for a timestamp, a number for a text id) fails the file.
_PARQUET_INTEGERS = (
    "TINYINT",
    "SMALLINT",
    "INTEGER",
    "BIGINT",
    "HUGEINT",
    "UTINYINT",
    "USMALLINT",
    "UINTEGER",
    "UBIGINT",
)
_PARQUET_TIMESTAMPS = (
    "TIMESTAMP",
    "TIMESTAMP_S",
    "TIMESTAMP_MS",
    "TIMESTAMP_NS",
    "TIMESTAMP WITH TIME ZONE",  # an instant: read as UTC
)
_PARQUET_NUMBERS = (*_PARQUET_INTEGERS, "FLOAT", "DOUBLE", "DECIMAL")
_PARQUET_ACCEPTS = {
    "varchar": ((), "text (VARCHAR)"),
    "timestamp": (_PARQUET_TIMESTAMPS, "a Parquet timestamp, or text YYYY-MM-DD HH:MM:SS (UTC)"),
    "date": (("DATE",), "a Parquet date, or text YYYY-MM-DD"),
    "boolean": (("BOOLEAN",), "a Parquet boolean"),
    "integer": (_PARQUET_INTEGERS, "a Parquet integer"),
    "bigint": (_PARQUET_INTEGERS, "a Parquet integer"),
    "double": (_PARQUET_NUMBERS, "a Parquet number"),
    "decimal": (_PARQUET_NUMBERS, "a Parquet number"),
}
UTC_INSTANT = "TIMESTAMP WITH TIME ZONE"


def parquet_types(con: duckdb.DuckDBPyConnection, path: Path) -> dict[str, str]:
    """Column name -> DuckDB type of a Parquet file (from its footer)."""
    scan = parquet_scan(path)
    return {r[0]: r[1] for r in con.execute(f"describe select * from {scan}").fetchall()}


# contract types a Parquet column may hold exactly: such a column's values are taken as they are
# (no round trip through text); its text is kept for the raw record of a row that fails
_NATIVE_TYPES = ("timestamp", "date", "integer", "bigint", "boolean")


def native_columns(entity: Entity, types: dict[str, str]) -> tuple[str, ...]:
    """Non-text contract columns a Parquet file holds in exactly the contract's type."""
    return tuple(
        c.name
        for c in entity.columns
        if types.get(c.name)
        and (c.type.lower() in _NATIVE_TYPES or c.type.lower().startswith("decimal("))
        and types[c.name].replace(" ", "").lower() == c.type.replace(" ", "").lower()
    )


def parquet_type_problems(entity: Entity, types: dict[str, str]) -> list[str]:
    """The contract columns of a Parquet file whose type cannot hold the contract's values
    exactly, as "<column> is <type>, the contract says <type> (<what is accepted>)"."""
    problems = []
    for c in entity.columns:
        found = types.get(c.name)
        if found is None:
            continue
        base = c.type.lower().split("(", 1)[0]
        if base not in _PARQUET_ACCEPTS:
            continue
        accepted, words = _PARQUET_ACCEPTS[base]
        if found == "VARCHAR" or found.split("(", 1)[0] in accepted:
            continue
        problems.append(f"{c.name} is {found}, the contract says {c.type} ({words})")
    return problems


def sampled_keys(path: Path, records: int = 2048) -> list[str] | None:
    """The keys of the first `records` objects of a JSON lines file, in order of appearance
    (what DuckDB's `describe` of its sample gives, at a tenth of its cost); None when the sample
    is anything but plain UTF-8 objects with distinct keys (DuckDB then reads the file, and
    reports what is wrong with it)."""

    def no_repeats(pairs: list[tuple]) -> dict:
        if len({k for k, _ in pairs}) != len(pairs):
            raise ValueError("a key repeated in an object")
        return dict(pairs)

    keys: dict[str, None] = {}
    try:
        with path.open("rb") as fh:
            if fh.read(3) != b"\xef\xbb\xbf":
                fh.seek(0)
            for _, line in zip(range(records), (ln for ln in fh if ln.strip()), strict=False):
                obj = json.loads(line.decode("utf-8"), object_pairs_hook=no_repeats)
                if not isinstance(obj, dict):
                    return None
                keys.update(dict.fromkeys(obj))
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None
    return list(keys) or None


def file_columns(con: duckdb.DuckDBPyConnection, path: Path, spec: FileSpec) -> list[str]:
    """Column names of one file (CSV: the header; JSON lines: the keys of the first records)."""
    if spec.format == "csv":
        return csv_header(path, spec)
    if spec.format == "jsonl":
        keys = sampled_keys(path) if spec.encoding == "utf-8" else None
        if keys is not None:
            return keys
        scan = f"read_json({ql(str(path))}, format = 'newline_delimited', sample_size = 2048)"
        try:  # the sample through a 1 MiB buffer (the default 16 MiB costs ~4x as much)
            small = f"{scan[:-1]}, maximum_object_size = {SAMPLE_BUFFER_BYTES})"
            return [r[0] for r in con.execute(f"describe select * from {small}").fetchall()]
        except duckdb.Error:  # a longer line: the reader's default buffer, and its errors
            pass
    elif spec.format == "parquet":
        scan = parquet_scan(path)
    else:  # pragma: no cover
        raise ValueError(f"no header scan for format {spec.format!r}")
    return [r[0] for r in con.execute(f"describe select * from {scan}").fetchall()]


def register_xlsx(con: duckdb.DuckDBPyConnection, path: Path, view: str) -> list[str]:
    """Read an Excel export as text with pandas/openpyxl and register it as a DuckDB view.

    Returns the column names. Empty cells become nulls; numbers and dates become their text
    (openpyxl gives whole numbers as integers, so 5 reads as "5", not "5.0").
    """
    import pandas as pd  # local import: only Excel deliveries need pandas

    try:
        # only an empty cell is missing: pandas would also take the texts 'NaN', 'NULL',
        # 'n/a', 'None', ... for missing values and load a comment 'NULL' as null
        frame = pd.read_excel(
            path, sheet_name=0, dtype=str, engine="openpyxl", keep_default_na=False, na_values=[""]
        )
    except Exception as exc:  # zip/xml errors of a broken workbook have many types
        raise LandingFileError(
            f"cannot be read as an Excel workbook ({type(exc).__name__}). The file is probably "
            "truncated or not an .xlsx export; export it again from the tool and deliver it again"
        ) from exc
    # pandas renames a repeated header ("comment", "comment.1"): check the sheet's own first row
    from openpyxl import load_workbook

    wb = load_workbook(path, read_only=True, data_only=True)
    try:
        first = next(wb.worksheets[0].iter_rows(max_row=1, values_only=True), ())
    finally:
        wb.close()
    names = [str(v).strip() if v is not None else f"column{i}" for i, v in enumerate(first)]
    refuse_repeated_names(names)
    frame.columns = [str(c).strip() for c in frame.columns]
    con.register(view, frame)
    return list(frame.columns)


def temporal(entity: Entity, names: tuple[str, ...]) -> tuple[str, ...]:
    """The date and timestamp columns among `names` (native columns a select keeps as they are:
    their JSON in a raw record is their text)."""
    return tuple(c.name for c in entity.columns if c.name in names and c.type in TEMPORAL)


TEMPORAL = ("date", "timestamp")


def select_columns(
    entity: Entity,
    present: list[str],
    types: dict[str, str] | None = None,
    as_is: tuple[str, ...] = (),
) -> str:
    """Contract columns as text (null when absent in the file). `types`: a Parquet file's
    column types; an instant (timestamp with time zone) is written as its UTC time. `as_is`:
    columns taken as they are (a Parquet date or timestamp of exactly the contract's type)."""

    def text(name: str) -> str:
        if name in as_is:
            return qi(name)
        if types and types.get(name) == UTC_INSTANT:
            return f"cast(timezone('UTC', {qi(name)}) as varchar)"
        return f"cast({qi(name)} as varchar)"

    return ", ".join(
        f"{text(c.name)} as {qi(c.name)}"
        if c.name in present
        else f"cast(null as varchar) as {qi(c.name)}"
        for c in entity.columns
    )


# ------------------------------------------------------------------------------ diagnosis
def excel_bytes(path: Path) -> bool:
    """True when the file starts like an Excel workbook (xlsx or xls)."""
    with path.open("rb") as fh:
        head = fh.read(8)
    return any(head.startswith(m) for m in EXCEL_MAGIC)


def looks_like_header(names: list[str], entity: Entity) -> bool:
    """True when names look like column names (identifiers, one of them a contract column),
    so a message may list them; a data row taken for a header is never quoted."""
    known = {c.name.lower() for c in entity.columns}
    return (
        bool(names)
        and all(IDENTIFIER.fullmatch(n) for n in names)
        and any(n.lower() in known for n in names)
    )


def redacted(text: str) -> str:
    """A reader's error text reduced to its first line without any quoted or row content.

    DuckDB's errors quote the offending line ("Original Line: ..."), values in quotes, and
    file names; all of that is removed: only the category and numbers remain.
    """
    first = text.strip().splitlines()[0] if text.strip() else ""
    first = first.split("Original Line", 1)[0]
    first = re.sub(r"\"[^\"]*\"|'[^']*'|`[^`]*`", "…", first)
    first = re.sub(r"(?i)(file|path)\s+\S+", r"\1", first)
    return first[:200].strip().rstrip(".:")
