"""Why a landing file cannot be read, and how many rows a file that failed holds.

Only called on the failure path, so reading a file's bytes here costs nothing on good files.
`diagnose()` looks at the bytes and the reader's error text to say *why* a read failed (an Excel
workbook named .csv, not the declared encoding, another delimiter, a line with too many fields,
a field longer than the reader's limit, cut off mid-row) in words a shop can act on; messages name
line numbers and column names, never field values. `count_rows()` counts the rows of a file that
failed whole, without parsing it, so the audit's conservation holds. `raise_if_out_of_memory()`
keeps DuckDB running out of memory out of all that: it is the memory limit's fault, not the file's.
"""

from __future__ import annotations

import codecs
import json
import re
from pathlib import Path

from returnlens.ingest.contracts import Entity, FileSpec
from returnlens.ingest.readers import DELIMITER_NAMES, PY_ENCODINGS, excel_bytes
from returnlens.warehouse import MemoryBudgetExceeded, budget_message, is_out_of_memory


def raise_if_out_of_memory(error: BaseException, step: str) -> None:
    """Fail the load with `MemoryBudgetExceeded` (naming the memory setting and `step`, which
    names the file) when `error` is DuckDB running out of memory: the file is not at fault, so
    it must not be failed, quarantined or judged by what the reader said then."""
    if is_out_of_memory(error):
        raise MemoryBudgetExceeded(budget_message(step, error)) from error


def other_delimiter(path: Path, spec: FileSpec) -> str | None:
    """The delimiter the first line seems to use when it is not the declared one, else None."""
    try:
        with path.open(encoding=PY_ENCODINGS[spec.encoding], errors="replace", newline="") as fh:
            first = fh.readline(65536)
    except OSError:
        return None
    counts = {d: first.count(d) for d in (";", "\t", "|", ",") if d != spec.delimiter}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] > 0 and first.count(spec.delimiter) == 0 else None


def delimiter_advice(path: Path, spec: FileSpec, entity: Entity | None = None) -> str | None:
    """'the file looks ';'-delimited ...' when the first line is split by another delimiter."""
    found = other_delimiter(path, spec)
    if found is None:
        return None
    name = DELIMITER_NAMES[found]
    declared = DELIMITER_NAMES[spec.delimiter]
    where = (
        f"`delimiter: {json.dumps(found)}` under deliveries.{entity.name} in returnlens.yml "
        "(docs/profile.md)"
        if entity is not None
        else "the shop profile"
    )
    return (
        f"the file looks {name}-delimited, not {declared}-delimited: declare delimiter "
        f"{name} for this delivery ({where}), or export it {declared}-delimited"
    )


def diagnose(path: Path, spec: FileSpec, error: str = "") -> str | None:
    """Why a file that could not be read cannot be read, in plain words; None if no idea.

    `error` is the reader's error text (used for its category and numbers only). Only called on
    the failure path, so reading the bytes here costs nothing on good files.
    """
    if spec.format in ("csv", "jsonl") and excel_bytes(path):
        return (
            "this is an Excel workbook saved with a ."
            + path.suffix.lstrip(".")
            + " name: export as CSV or name it .xlsx"
            + (" (if the contract accepts Excel for this entity)" if spec.format == "csv" else "")
        )
    if spec.format in ("csv", "jsonl"):
        advice = _encoding_advice(path, spec)
        if advice is not None:
            return advice
    if spec.format == "csv":
        truncated = _truncated_csv(path, spec)
        if truncated is not None:
            return truncated
        line = re.search(r"CSV Error on Line: (\d+)", error)
        size = re.search(r"Maximum line size of (\d+) bytes exceeded\. Actual Size:\s*(\d+)", error)
        if size:
            where = f"line {line.group(1)}" if line else "a line"
            return (
                f"{where} has a field longer than the reader's limit of "
                f"{int(size.group(1)):,} bytes (the line has {int(size.group(2)):,} bytes): "
                "a runaway quoted field or a value that does not belong in a CSV cell; "
                "shorten or remove it"
            )
        fields = re.search(r"Expected Number of Columns: (\d+) Found: (\d+)", error)
        if fields:
            expected, found = int(fields.group(1)), int(fields.group(2))
            where = f"line {line.group(1)}" if line else "a line"
            d = DELIMITER_NAMES[spec.delimiter]
            cause = (
                f"a value with an unquoted {d} in it? Put values that contain {d} in double quotes"
                if found > expected
                else "the row is cut short or a field is missing"
            )
            return f"{where} has {found} fields where the header has {expected}: {cause}"
        if "unterminated quote" in error and line:
            return (
                f"line {line.group(1)} opens a quoted field that is never closed: a '\"' "
                "inside a value that is not doubled, or a missing closing '\"'"
            )
    if spec.format == "jsonl":
        data = path.read_bytes()
        if data and not data.rstrip(b" \t").endswith(b"\n"):
            return (
                "the last line is not a complete JSON object and has no line end: the file "
                "looks truncated, cut off mid-object"
            )
        what = re.search(r"Malformed JSON[^:]*: ([a-z ]+)", error)
        if what:
            return (
                f"a line is not a valid JSON object ({what.group(1).strip()}): every line must "
                "be one complete JSON object"
            )
    return None


def _truncated_csv(path: Path, spec: FileSpec) -> str | None:
    """'cut off mid-row' when the file's last line has no line end and is incomplete."""
    with path.open("rb") as fh:
        fh.seek(0, 2)
        size = fh.tell()
        fh.seek(max(size - 1, 0))
        if size == 0 or fh.read(1) == b"\n":
            return None
    data = path.read_bytes()
    if data.count(b'"') % 2 == 1:
        return (
            "the file ends inside a quoted field (an odd number of '\"'): it looks "
            "truncated, cut off mid-row"
        )
    last = data.rsplit(b"\n", 1)[-1]
    header = data.split(b"\n", 1)[0]
    d = spec.delimiter.encode()
    if last.count(d) != header.count(d):
        return (
            f"the last line has {last.count(d) + 1} fields where the header has "
            f"{header.count(d) + 1} and no line end: the file looks truncated, cut off mid-row"
        )
    return None


def _encoding_advice(path: Path, spec: FileSpec) -> str | None:
    if spec.encoding == "utf-8":
        bad = _first_invalid(path, "utf-8")
        if bad is None:
            return None
        offset, line, byte = bad
        c1 = (offset, line, byte) if 0x80 <= byte <= 0x9F else _first_c1_byte(path, offset)
        if c1 is not None:
            fix = (
                f"It holds byte 0x{c1[2]:02X} (line {c1[1]}), a Windows-1252 character ('€' is "
                "0x80): the file looks like Windows-1252 (cp1252, what Excel on Windows saves). "
                "Export it as UTF-8, or declare encoding='cp1252' for this delivery"
            )
        else:
            fix = (
                "Export it as UTF-8, or, if this source always sends Windows text, declare "
                "encoding='cp1252' (Windows-1252; encoding='latin-1' reads the same letters "
                "but not '€' and other Windows characters) for this delivery"
            )
        return (
            f"the file is not valid UTF-8 (byte 0x{byte:02X} at byte offset {offset}, line "
            f"{line}); the contract declares UTF-8. {fix}"
        )
    if spec.encoding == "latin-1":
        bad = _first_c1_byte(path)
        if bad is not None:
            offset, line, byte = bad
            return (
                f"byte 0x{byte:02X} at byte offset {offset} (line {line}) is a control "
                "character in Latin-1 but a printable one in Windows-1252 (0x80 is '€'): "
                "declare encoding='cp1252' for this delivery"
            )
    return None


def _first_invalid(path: Path, encoding: str) -> tuple[int, int, int] | None:
    """(byte offset, line number, byte) of the first byte invalid in `encoding`, or None."""
    decoder = codecs.getincrementaldecoder(encoding)()
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


def _first_c1_byte(path: Path, start: int = 0) -> tuple[int, int, int] | None:
    """(offset, line, byte) of the first byte 0x80-0x9F (Latin-1 control characters, printable
    in Windows-1252) at or after byte `start`."""
    pattern = re.compile(rb"[\x80-\x9f]")
    offset, lines = 0, 1
    with path.open("rb") as fh:
        if start:
            head = fh.read(start)
            offset, lines = len(head), 1 + head.count(b"\n")
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            m = pattern.search(chunk)
            if m:
                return offset + m.start(), lines + chunk[: m.start()].count(b"\n"), m.group()[0]
            offset += len(chunk)
            lines += chunk.count(b"\n")
    return None


def count_rows(path: Path, spec: FileSpec) -> int | None:
    """Rows of a file that could not be loaded, counted without parsing it; None if unknowable.

    CSV: lines minus the header; JSON lines: lines; Excel and Parquet: rows, when the workbook
    or the footer can still be read. (Lines, not records: a quoted line break counts twice.)
    """
    try:
        if spec.format in ("csv", "jsonl") and excel_bytes(path):
            return _xlsx_rows(path)
        if spec.format in ("csv", "jsonl"):
            lines = _count_lines(path, spec.encoding)
            return max(lines - 1, 0) if spec.format == "csv" else lines
        if spec.format == "xlsx":
            return _xlsx_rows(path)
        if spec.format == "parquet":
            import pyarrow.parquet as pq

            return pq.ParquetFile(path).metadata.num_rows
    except Exception:  # a broken file: its row count is unknown
        return None
    return None


def _count_lines(path: Path, encoding: str) -> int:
    """Lines of a text file (a last line without a line end counts), read in chunks."""
    if encoding == "utf-16":
        decoder = codecs.getincrementaldecoder("utf-16")("replace")
        newline, last = "\n", ""
    else:
        decoder, newline, last = None, b"\n", b""
    lines = 0
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            piece = decoder.decode(chunk) if decoder else chunk
            if piece:
                lines += piece.count(newline)
                last = piece[-1:]
    return lines + (1 if last and last != newline else 0)


def _xlsx_rows(path: Path) -> int | None:
    from openpyxl import load_workbook

    with path.open("rb") as fh:  # a file object: openpyxl refuses names not ending in .xlsx
        wb = load_workbook(fh, read_only=True)
        try:
            return max(wb.worksheets[0].max_row - 1, 0)
        finally:
            wb.close()
