"""Reading a batch of landing files into text rows, before any check.

Each file to load is a `PendingFile`: `prepare` learns its columns (a file that is empty, not
readable in its format or missing required columns gets the error a shop can act on, and is
failed whole); for an undeclared delivery, `returnlens/ingest/dialect.py` settles its encoding,
delimiter and number and date dialect. Files of one layout are read together, as one scan per
file glued with `union all` (`group_select`); `stage` reads a batch into the temp table `_stage`
one layout, then one file, at a time, so a file that cannot be read is found and failed alone.
Every value is read as text: the contract is checked afterwards (`returnlens/ingest/row_checks.py`).
A read that runs out of DuckDB's memory is no fault of the file: the load fails naming the memory
setting and the file (`MemoryBudgetExceeded`), and nothing is recorded against the file.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import duckdb

from returnlens.ingest import dialect
from returnlens.ingest.contracts import Entity, FileSpec
from returnlens.ingest.raw_tables import utc_now
from returnlens.ingest.read_failures import (
    count_rows,
    delimiter_advice,
    diagnose,
    raise_if_out_of_memory,
)
from returnlens.ingest.readers import (
    LandingFileError,
    ReadPaths,
    csv_scan,
    excel_bytes,
    file_columns,
    jsonl_scan,
    looks_like_header,
    native_columns,
    parquet_scan,
    parquet_type_problems,
    parquet_types,
    redacted,
    register_xlsx,
    select_columns,
    temporal,
)
from returnlens.warehouse import quote_ident as qi
from returnlens.warehouse import quote_literal as ql


@dataclass
class PendingFile:
    """A file about to be loaded, and what was learnt about it on the way."""

    path: Path  # absolute path in the landing folder
    name: str  # identity: path relative to the landing root
    spec: FileSpec
    checksum: str
    size: int
    order: int
    started: datetime = field(default_factory=lambda: utc_now())
    read_path: Path | None = None  # what DuckDB reads (a plain-named link, a UTF-8 copy)
    present: list[str] = field(default_factory=list)
    types: dict[str, str] = field(default_factory=dict)  # Parquet: column -> type
    extras: list[str] = field(default_factory=list)
    scan: str | None = None  # registered view of an Excel file
    error: str | None = None
    rows_in: int | None = 0
    detected: list[str] = field(default_factory=list)  # settings detected (undeclared dialect)
    detect_values: bool = False  # numbers/dates depart from the default: decide on all values
    sample_pending: bool = False  # whether they depart is decided later (`settle_samples`)
    hashing: Future | None = None  # the checksum being computed beside the read (loader)


def _describe_format(entity: Entity, spec: FileSpec) -> str:
    if spec.format == "csv":
        d = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}[spec.delimiter]
        return f"a {d}-separated {spec.encoding.upper()} CSV file with a header row"
    if spec.format == "jsonl":
        return f"{spec.encoding.upper()} JSON lines (one complete object per line)"
    if spec.format == "xlsx":
        return "an Excel workbook with a header row on the first sheet"
    return "a Parquet file"


def _read_error(entity: Entity, p: PendingFile, exc: BaseException) -> str:
    """The message of a file that cannot be read: the cause in plain words and the fix.

    The reader's own text is used only for its category and numbers (it quotes row content).
    A read that ran out of memory is no fault of the file: the load fails naming the setting.
    """
    raise_if_out_of_memory(exc, _reading(p))
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


def _reading(p: PendingFile) -> str:
    """The loader's step that reads `p`, for an out-of-memory message."""
    return f"The loader (reading {p.name})"


def _missing_columns_error(entity: Entity, p: PendingFile, missing: list[str]) -> str:
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


def prepare(
    con: duckdb.DuckDBPyConnection, entity: Entity, p: PendingFile, paths: ReadPaths
) -> None:
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
        if p.spec.format == "parquet":
            p.types = parquet_types(con, p.read_path or p.path)
            wrong = parquet_type_problems(entity, p.types)
            if wrong:
                raise LandingFileError(
                    f"{p.name}: {len(wrong)} column(s) of a type that cannot hold the "
                    f"contract's values exactly: {'; '.join(wrong)}. Write the columns with "
                    f"those types as in docs/contracts/{entity.source}.md and deliver the file "
                    "again (under the same name: it replaces the failed delivery)."
                )
        known = {c.name for c in entity.columns}
        p.extras = [c for c in p.present if c not in known]
        # whether the values depart from the default dialect: decided on the rows the single
        # pass writes (no read of its own), or by `settle_samples` when the batch is staged
        p.sample_pending = dialect.detectable(p.spec)
    except LandingFileError as exc:
        p.error = str(exc)
    except duckdb.Error as exc:  # a Parquet footer, a dialect sample: named, never the file's
        raise_if_out_of_memory(exc, _reading(p))
        raise


def _read_layout(entity: Entity, p: PendingFile, paths: ReadPaths) -> None:
    """The path DuckDB reads a file by and, for an undeclared CSV delivery, its encoding and
    delimiter where the file settles them (`returnlens/ingest/dialect.py`)."""
    p.spec, p.read_path = dialect.read_layout(p.path, p.spec, entity, paths, p.order, p.detected)


def group_select(entity: Entity, group: list[PendingFile], native: bool = False) -> str:
    """A select over files with the same layout: contract columns as text, `_extra`, position;
    `native`: also the columns a Parquet file holds in exactly the contract's type, as they are
    (`__n_<name>`, see `native_columns`)."""
    first = group[0]
    kept = native_columns(entity, first.types) if native else ()
    # a native date or timestamp is not written out as text for every row: its text is only
    # needed in a failing row's raw record, where to_json writes it as that same text
    cols = select_columns(entity, first.present, first.types, as_is=temporal(entity, kept))
    cols += "".join(f", {qi(n)} as {qi('__n_' + n)}" for n in kept)
    extra = (
        "cast(to_json(struct_pack("
        + ", ".join(f"{qi(x)} := cast({qi(x)} as varchar)" for x in first.extras)
        + ")) as varchar)"
        if first.extras
        else "cast(null as varchar)"
    )
    # row_number() over () follows the scan's order (insertion order is preserved); one scan per
    # file (a streaming row number each), glued with union all, avoids a window over the batch.
    # A Parquet file numbers its rows itself (`file_row_number`): the streaming window would
    # read it on one thread (measured: 1.3-1.4x the wall time of the parallel read)
    return "\nunion all\n".join(
        f"select {cols}, {extra} as _extra, {ql(p.name)} as _source_file, "
        f"{p.order} as _file_order, {_row_number(p)} as _file_row_number "
        f"from {_scan(p)}"
        for p in group
    )


def _parquet_numbered(p: PendingFile) -> bool:
    """A Parquet file read with the reader's own row numbers (unless a column has that name)."""
    return p.spec.format == "parquet" and "file_row_number" not in p.present


def _row_number(p: PendingFile) -> str:
    """The 1-based position of a row in its file."""
    return "file_row_number + 1" if _parquet_numbered(p) else "row_number() over ()"


def rescanner(entity: Entity, source: str, good: list[PendingFile]) -> Callable[[list[str]], str]:
    """A select of the text rows of named files of a batch, read again (for the raw text of
    duplicate rows): the staged rows, or the files' scans."""

    def rescan(names: list[str]) -> str:
        if source == "_stage":
            return source
        return f"({group_select(entity, [p for p in good if p.name in names])})"

    return rescan


def _scan(p: PendingFile) -> str:
    """The scan of one file, by the path DuckDB reads it by (never expanded as a glob); a
    Parquet scan also gives each row's `file_row_number` (see `_row_number`)."""
    path = p.read_path or p.path
    if p.spec.format == "csv":
        return csv_scan(path, p.spec, p.present)
    if p.spec.format == "jsonl":
        return jsonl_scan(path, p.present)
    if p.spec.format == "parquet":
        return parquet_scan(path, _parquet_numbered(p))
    return p.scan or ""


def stage(
    con: duckdb.DuckDBPyConnection,
    entity: Entity,
    batch: list[PendingFile],
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
    for group in layout_groups(batch):
        try:
            con.execute(f"insert into _stage {group_select(entity, group)}")
        except duckdb.Error as exc:
            if len(group) == 1:
                _stage_again(con, entity, group[0], exc, paths)
                continue
            for p in group:
                try:
                    con.execute(f"insert into _stage {group_select(entity, [p])}")
                except duckdb.Error as exc1:
                    _stage_again(con, entity, p, exc1, paths)


def _stage_again(
    con: duckdb.DuckDBPyConnection,
    entity: Entity,
    p: PendingFile,
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
    prepare(con, entity, p, paths)
    if p.error is not None:
        return
    try:
        con.execute(f"insert into _stage {group_select(entity, [p])}")
    except duckdb.Error as exc1:
        p.error = _read_error(entity, p, exc1)


def settle_samples(
    con: duckdb.DuckDBPyConnection, entity: Entity, batch: list[PendingFile]
) -> None:
    """Whether the values of each undeclared file not yet judged depart from the default dialect
    (`dialect.sample_departs`, a read of its first rows): for a batch that is staged."""
    for p in batch:
        if p.error is None and p.sample_pending:
            p.sample_pending = False
            try:
                p.detect_values = dialect.sample_departs(
                    con, entity, p.read_path, p.spec, p.present
                )
            except duckdb.Error as exc:
                raise_if_out_of_memory(exc, _reading(p))
                raise


def departs_in_written(
    con: duckdb.DuckDBPyConnection, entity: Entity, good: list[PendingFile]
) -> bool:
    """Whether an undeclared file of the loader's single pass holds, in its first
    `dialect.SAMPLE_ROWS` rows, numbers or dates the default dialect does not take: the
    decision of `dialect.sample_departs`, made on the rows just written instead of a read of the
    file (such a value fails the contract, so its row is written failing, `_loaded_at` null,
    with the column null and its text in the raw record). Settles `detect_values` of every
    file still pending; True when one departs (the batch is then staged)."""
    pending = [p for p in good if p.sample_pending]
    whens = []
    for p in pending:
        p.sample_pending = False
        cols = dialect.sampled_columns(entity, p.spec, p.present)
        if cols:
            departs = " or ".join(
                f"({qi(c.name)} is null and (_extra -> 'record' ->> {ql(c.name)}) is not null)"
                for c in cols
            )
            whens.append(f"(_source_file = {ql(p.name)} and ({departs}))")
    if not whens:
        return False
    departed = {
        name
        for (name,) in con.execute(
            f"select distinct _source_file from {entity.table} "
            "where _source_file in (select unnest(?::varchar[])) and _loaded_at is null "
            f"and _file_row_number <= {dialect.SAMPLE_ROWS} and ({' or '.join(whens)})",
            [[p.name for p in pending]],
        ).fetchall()
    }
    for p in pending:
        p.detect_values = p.name in departed
    return bool(departed)


def decide_values(con: duckdb.DuckDBPyConnection, entity: Entity, batch: list[PendingFile]) -> None:
    """The number and date dialect of staged undeclared files whose sample departs from the
    default, decided on ALL their values in one aggregate pass; a file that is ambiguous fails
    whole (its staged rows are dropped) with the setting to declare. Files whose sample was not
    judged yet are judged first (`settle_samples`)."""
    settle_samples(con, entity, batch)
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


def layout_groups(batch: list[PendingFile]) -> list[list[PendingFile]]:
    """Readable files grouped by layout (delivery and columns); Excel files one by one."""
    groups: dict[tuple, list[PendingFile]] = {}
    for p in batch:
        if p.error is None:
            key = (
                (p.spec, tuple(p.present), tuple(p.types.items()))
                if p.spec.format != "xlsx"
                else (p.order,)
            )
            groups.setdefault(key, []).append(p)
    return list(groups.values())


def count_failed(p: PendingFile) -> None:
    """Rows of a file that failed whole (so conservation holds), or null and said so."""
    if p.size == 0:
        p.rows_in = 0
        return
    if p.spec.format == "json":  # a platform adapter counted the items, or said unknown
        return
    p.rows_in = count_rows(p.path, p.spec)
    if p.rows_in is None and "row count unknown" not in (p.error or ""):
        p.error = (
            f"{p.error} (Rows in the file: unknown, the file cannot be read far enough to "
            "count them; row count unknown.)"
        )
