"""Readers of landing files: every format becomes a DuckDB scan of text columns.

CSV, JSON lines and Parquet are read by DuckDB's native readers; Excel (the survey tool's
export) is read by pandas/openpyxl as text and registered as a DuckDB view, so every format goes
through the same set-based contract check. When a read fails, `diagnose()` looks at the bytes to
say *why* (not the declared encoding, cut off mid-row or mid-object) in words a shop can act on.
"""

from __future__ import annotations

import codecs
from pathlib import Path

import duckdb

from returnlens.ingest.contracts import Entity, FileSpec
from returnlens.warehouse import quote_literal as ql

# DuckDB's read_csv knows these natively; contracts may declare any of them.
CSV_ENCODINGS = {"utf-8": "utf-8", "latin-1": "latin-1", "utf-16": "utf-16"}


class LandingFileError(Exception):
    """A landing file that cannot be loaded at all; the message says what to do."""


def csv_scan(paths: list[Path], spec: FileSpec) -> str:
    """`read_csv` over one or more files of the same layout, every column as text."""
    files = "[" + ", ".join(ql(str(p)) for p in paths) + "]"
    return (
        f"read_csv({files}, header = true, all_varchar = true, delim = ',', quote = '\"', "
        f"escape = '\"', encoding = {ql(CSV_ENCODINGS[spec.encoding])}, strict_mode = true, "
        "null_padding = false, filename = '_source_file')"
    )


def jsonl_scan(paths: list[Path], entity: Entity, present: list[str]) -> str:
    """`read_json` (newline-delimited) with every present key as text."""
    files = "[" + ", ".join(ql(str(p)) for p in paths) + "]"
    cols = ", ".join(f"{ql(c)}: 'VARCHAR'" for c in present)
    return (
        f"read_json({files}, format = 'newline_delimited', columns = {{{cols}}}, "
        "filename = '_source_file')"
    )


def parquet_scan(paths: list[Path]) -> str:
    """`read_parquet`; columns are cast to text by the staging select."""
    files = "[" + ", ".join(ql(str(p)) for p in paths) + "]"
    return f"read_parquet({files}, filename = '_source_file')"


def header_scan(path: Path, spec: FileSpec) -> str:
    """A scan of one file used only to learn its columns (cheap: DuckDB sniffs the start)."""
    if spec.format == "csv":
        return csv_scan([path], spec)
    if spec.format == "jsonl":
        # auto-detect the keys (all of them, including unknown ones) from the first records
        return f"read_json({ql(str(path))}, format = 'newline_delimited', sample_size = 2048)"
    if spec.format == "parquet":
        return parquet_scan([path])
    raise ValueError(f"no header scan for format {spec.format!r}")  # pragma: no cover


def file_columns(con: duckdb.DuckDBPyConnection, path: Path, spec: FileSpec) -> list[str]:
    """Column names of one file (without the `_source_file` the readers add)."""
    rows = con.execute(f"describe select * from {header_scan(path, spec)}").fetchall()
    return [r[0] for r in rows if r[0] != "_source_file"]


def register_xlsx(con: duckdb.DuckDBPyConnection, path: Path, view: str) -> list[str]:
    """Read an Excel export as text with pandas/openpyxl and register it as a DuckDB view.

    Returns the column names. Empty cells become nulls; numbers and dates become their text.
    """
    import pandas as pd  # local import: only Excel deliveries need pandas

    try:
        frame = pd.read_excel(path, sheet_name=0, dtype=str, engine="openpyxl")
    except Exception as exc:  # zip/xml errors of a broken workbook have many types
        raise LandingFileError(
            f"{path}: cannot be read as an Excel workbook ({type(exc).__name__}: "
            f"{_first_line(exc)}). The file is probably truncated or not an .xlsx export; "
            "export it again from the survey tool and deliver it again."
        ) from exc
    frame.columns = [str(c).strip() for c in frame.columns]
    frame["_source_file"] = str(path)
    con.register(view, frame)
    return [c for c in frame.columns if c != "_source_file"]


def diagnose(path: Path, spec: FileSpec) -> str | None:
    """Why a file that DuckDB refused cannot be read, in plain words; None if no idea.

    Only called on the failure path, so reading the bytes here costs nothing on good files.
    """
    if spec.format in ("csv", "jsonl") and spec.encoding == "utf-8":
        bad = _first_invalid_utf8(path)
        if bad is not None:
            offset, line, byte = bad
            return (
                f"the file is not valid UTF-8 (byte 0x{byte:02X} at byte offset {offset}, "
                f"line {line}); the contract declares UTF-8. Export it as UTF-8, or, if this "
                "source always sends Latin-1, declare encoding='latin-1' for the entity in "
                "returnlens/ingest/contracts.py"
            )
    if spec.format == "csv":
        data = path.read_bytes()
        if data.count(b'"') % 2 == 1:
            return (
                "the file ends inside a quoted field (an odd number of '\"'): it looks "
                "truncated, cut off mid-row"
            )
        if data and not data.endswith(b"\n"):
            last = data.rsplit(b"\n", 1)[-1]
            header = data.split(b"\n", 1)[0]
            if last.count(b",") != header.count(b","):
                return (
                    f"the last line has {last.count(b',') + 1} fields where the header has "
                    f"{header.count(b',') + 1} and no line end: the file looks truncated, "
                    "cut off mid-row"
                )
    if spec.format == "jsonl":
        data = path.read_bytes()
        if data and not data.rstrip(b" \t").endswith(b"\n"):
            return (
                "the last line is not a complete JSON object and has no line end: the file "
                "looks truncated, cut off mid-object"
            )
    return None


def _first_invalid_utf8(path: Path) -> tuple[int, int, int] | None:
    """(byte offset, line number, byte) of the first invalid UTF-8 byte, or None."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset, lines = 0, 1  # of the first byte not yet passed to the decoder
    with path.open("rb") as fh:
        for chunk in [*iter(lambda: fh.read(1 << 20), b""), b""]:
            held = decoder.getstate()[0]  # bytes of an incomplete sequence from the last chunk
            try:
                decoder.decode(chunk, final=not chunk)
            except UnicodeDecodeError as exc:
                data = exc.object
                start = offset - len(held)
                before = data[: exc.start]
                newlines = before.count(b"\n") - held.count(b"\n")
                return start + exc.start, lines + newlines, data[exc.start]
            offset += len(chunk)
            lines += chunk.count(b"\n")
    return None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
