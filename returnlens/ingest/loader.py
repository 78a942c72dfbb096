"""Load landing files into `raw`, enforcing the landing contracts.

The new or changed files of an entity are read in batches with DuckDB's native readers as text
(Excel through pandas, registered in DuckDB), and in one transaction per batch each file's
earlier rows are replaced: every row is checked against the contract and written in one scan of
the files, rows repeating a key are then found on the written rows (the files are read again
only for the text of such rows), rows that did not pass go to `raw.quarantine_rows` with the
raw text and the reason, and unchanged rows keep their `_loaded_at` (`carry_over.py`); a file
that cannot be read at all is recorded whole in `raw.quarantine_files`. `raw.load_audit` records,
for every file, rows in = rows loaded + rows quarantined (checked against what was written, not
assumed); a file that failed whole is audited with the rows it holds (lines minus the header for
CSV, lines for JSON lines, rows for Excel and Parquet when still readable; null, with "row count
unknown" in the error, when not). Columns the contract does not know are kept as JSON in `_extra`.

**File identity** is the path relative to the landing root (`shop/orders_2026-01.csv`) plus the
checksum (BLAKE3; the bare SHA-256 digests of older warehouses still match, `file_checksum`):
moving the data folder loads nothing twice. Warehouses written with absolute paths are migrated
in place (`ensure_raw_schema`). A file whose checksum equals the one already loaded is
skipped, so loads are idempotent and only new or changed files are read (a file never loaded
is hashed in a thread while DuckDB reads it). A file is not even hashed when its size, mtime
and ctime equal those it had when it was last hashed (`raw.landing_fingerprints`; the result
says `unchanged_by="size+mtime"`): a rerun costs a `stat` per file, not a read of every file.
The ctime catches a rewrite that kept size and mtime (`cp -p`, `rsync -t`); a file changed
within `RACY_MARGIN_NS` before it was hashed is hashed again next time. A failed file is
retried when it changes or the contract changes; a load that crashed (status `error`) is
retried on the next run. A crash inside a batch rolls the batch back, so raw is as before.

**Every file under the landing folder is accounted for** (`account_landing`, see
`returnlens/ingest/landing.py`): files no delivery pattern matches are audited as `unrecognised`
(with the patterns they failed to match), hidden files and the demo's `ground_truth.json` as
`ignored`, symbolic links as `refused` (never followed, so nothing outside the landing folder is
read; a link inside the folder is refused too: copy files into place). A listed file that
disappears gets a `gone` row.

**Exact types, Excel artefacts and duplicate keys**: a value is loaded only when its text is
exactly a value of the column's type, never rounded; Excel's artefacts in text columns and
repeated keys are quarantined with the reason (`returnlens/ingest/row_checks.py`).

**Trailing delimiters**: a data row that ends in one empty field more than the header (a trailing
`,`) loads with the header's fields (DuckDB drops the empty last field); a row with any other
number of fields fails the file with the line number.

**No row content outside raw**: load errors, quarantine reasons and audit texts name the file,
the problem, line numbers and column names (only when the header looks like column names), never
field values; the raw record of a quarantined row keeps its text in `raw.quarantine_rows`.

**The modules** of a load, in the order a batch passes through them: `landing.py` (which file is
whose delivery), `staging.py` (read files as text rows; `readers.py`, `dialect.py` and
`read_failures.py` underneath), `row_checks.py` (judge every row), `raw_writes.py` (write rows,
quarantine and audit; `carry_over.py`) over the tables of `raw_tables.py`; this module decides
what to load and holds each batch's transaction, and `results.py` is what it reports.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import duckdb

from returnlens.adapters import (
    ADAPTER_REASON,
    adapter_entities,
    adapter_fingerprint,
    stage_platform_files,
)
from returnlens.ingest.carry_over import carry_over
from returnlens.ingest.contracts import ENTITIES, Entity, FileSpec
from returnlens.ingest.erasure import apply_forgotten, erase_forgotten_free_text
from returnlens.ingest.fingerprints import (
    BLAKE3,
    RACY_MARGIN_NS,
    file_checksum,
    known_fingerprints,
    remember_fingerprints,
)
from returnlens.ingest.landing import entity_files, inventory, relative_name
from returnlens.ingest.raw_tables import UNLOADED_STATUSES, ensure_raw_schema, utc_now
from returnlens.ingest.raw_writes import (
    audit,
    delete_previous,
    extras_text,
    file_counts,
    insert_rows,
    mark_duplicates,
    move_quarantined,
    record_crash,
    written_counts,
)
from returnlens.ingest.readers import ReadPaths, native_columns
from returnlens.ingest.results import EntityResult, FileResult, LoadResults
from returnlens.ingest.row_checks import contract_select
from returnlens.ingest.staging import (
    PendingFile,
    count_failed,
    decide_values,
    departs_in_written,
    group_select,
    layout_groups,
    prepare,
    rescanner,
    stage,
)
from returnlens.profile import landing_entities
from returnlens.warehouse import within_budget

__all__ = [
    "EntityResult",
    "FileResult",
    "LoadResults",
    "account_landing",
    "ensure_raw_schema",
    "landing_files",
    "load_all",
    "load_entity",
]

# A batch of files is read, checked and committed together; bounded so memory stays bounded.
BATCH_BYTES = 512 * 1024 * 1024


def contract_hash(entity: Entity, landing_dir: Path | None = None) -> str:
    """Fingerprint of an entity's contract: a failed file is retried when it changes. For a
    platform adapter it covers its mapping seeds too, and every file is read again when they
    change (a value added to a seed then maps the rows it quarantined), and so is what else of
    the landing folder the adapter's rows depend on (the reporting currency, the files it joins:
    a Shopify refund or a WooCommerce order delivered later reaches the rows that need it)."""
    fingerprint = (
        adapter_fingerprint(entity.adapter, landing_dir, entity.name) if entity.adapter else ""
    )
    text = repr(entity) + fingerprint
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def landing_files_with_specs(entity: Entity, landing_dir: Path) -> list[tuple[Path, FileSpec]]:
    """The files of an entity in the landing zone (absolute paths) with the delivery each
    matches, in name order. Regular files only: symbolic links and hidden files are never read."""
    return entity_files(entity, landing_dir)


def landing_files(entity: Entity, landing_dir: Path) -> list[Path]:
    """The files of an entity in the landing zone, in name order."""
    return [p for p, _ in landing_files_with_specs(entity, landing_dir)]


def _load_batch(
    con: duckdb.DuckDBPyConnection,
    entity: Entity,
    batch: list[PendingFile],
    load_id: str,
    chash: str,
) -> list[FileResult]:
    """Read, check and commit one batch of files; a crash rolls the whole batch back."""
    paths = ReadPaths()
    try:
        if entity.adapter is not None:
            # a platform's JSON: its adapter flattens each file into `_stage` (one row per
            # returned item, the entity's columns as text), then the same checks as any file
            stage_platform_files(con, entity, batch, paths)
            source = "_stage"
        else:
            for p in batch:
                prepare(con, entity, p, paths)
            # Fast path: files of one layout are read, checked and written in a single pass. If
            # that read fails, or layouts differ, or a file turns out to have no rows, the batch
            # is staged first (which isolates the file that cannot be read) and written from
            # there.
            groups = layout_groups(batch)
            detect = any(p.detect_values for p in batch if p.error is None)
            single = len(groups) == 1 and not detect
            source = f"({group_select(entity, groups[0], native=True)})" if single else None
        while True:
            if source is None:
                stage(con, entity, batch, paths)
                source = "_stage"
                decide_values(con, entity, batch)
            good = [p for p in batch if p.error is None]
            rescan = rescanner(entity, source, good)
            counts = _write_batch(con, entity, batch, good, source, rescan, load_id, chash)
            if counts is not None:
                break
            source = None if source != "_stage" else "_stage"
    except Exception as exc:
        _settle(batch)
        record_crash(con, entity, batch, load_id, chash, exc)
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


def _settled(checksum: str | Future) -> str:
    """A checksum, waiting for it when it is being computed in the hashing thread."""
    return checksum.result() if isinstance(checksum, Future) else checksum


def _settle(batch: list[PendingFile]) -> None:
    """The checksums of a batch's files, once they are needed (audit, failed files)."""
    for p in batch:
        if p.hashing is not None:
            p.checksum, p.hashing = p.hashing.result(), None


def _write_batch(
    con: duckdb.DuckDBPyConnection,
    entity: Entity,
    batch: list[PendingFile],
    good: list[PendingFile],
    source: str,
    rescan: Callable[[list[str]], str],
    load_id: str,
    chash: str,
) -> dict[str, tuple[int, int]] | None:
    """One transaction: replace the good files' rows, quarantine, audit every file of the batch.

    The files are read once: every row is judged against the contract and written, then rows
    repeating a key are marked on the written table (`mark_duplicates`), then every failing row
    is moved to quarantine.

    Returns (loaded, quarantined) per good file, or None (rolled back) when the fast path's read
    failed, a file had no rows or undeclared numbers or dates (`departs_in_written`): the
    caller then retries from the staged rows."""
    files = [p.name for p in good]
    loaded_at = utc_now()
    con.execute("begin transaction")
    try:
        counts: dict[str, tuple[int, int]] = {}
        if good:
            previous = delete_previous(con, entity, files)
            try:
                dialects = {p.order: p.spec for p in good}
                pre = ADAPTER_REASON if entity.adapter is not None else None
                native = native_columns(entity, good[0].types) if source != "_stage" else ()
                select = contract_select(entity, source, dialects, pre, native)
                insert_rows(con, entity, select, loaded_at, previous)
            except duckdb.Error:
                if source == "_stage":
                    raise
                con.execute("rollback")
                return None
            read = file_counts(con, entity, files)
            empty = [p for p in good if read.get(p.name, 0) == 0]
            if empty or departs_in_written(con, entity, good):
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
            mark_duplicates(con, entity, {p.name: p.order for p in good}, rescan)
            move_quarantined(con, entity, files, load_id, loaded_at)
            apply_forgotten(con, entity, files)
            carry_over(con, entity, files, load_id, loaded_at)  # unchanged rows keep _loaded_at
            counts = written_counts(con, entity, files, load_id)
        _settle(batch)
        for p in batch:
            if p.error is not None:
                count_failed(p)
                con.execute(
                    "insert into raw.quarantine_files values (?, ?, ?, ?, ?, ?)",
                    [load_id, entity.name, p.name, p.checksum, p.error, utc_now()],
                )
                audit(con, load_id, entity, p, 0, 0, "failed", p.error, chash)
        for p in good:
            loaded, quarantined = counts[p.name]
            if loaded + quarantined != p.rows_in:  # conservation, checked on what was written
                raise RuntimeError(
                    f"{p.name}: {p.rows_in} rows read but {loaded} loaded + "
                    f"{quarantined} quarantined"
                )
            note = f"extra columns kept in _extra: {extras_text(p.extras)}" if p.extras else None
            audit(con, load_id, entity, p, loaded, quarantined, "loaded", note, chash)
        con.execute("commit")
    except BaseException:
        with contextlib.suppress(duckdb.Error):
            con.execute("rollback")
        raise
    return counts


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


def _batches(pending: list[PendingFile], limit: int) -> Iterator[list[PendingFile]]:
    batch: list[PendingFile] = []
    size = 0
    for p in pending:
        if batch and size + p.size > limit:
            yield batch
            batch, size = [], 0
        batch.append(p)
        size += p.size
    if batch:
        yield batch


@within_budget("The loader")
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
    chash = contract_hash(entity, landing_dir)
    # a platform adapter's result is told apart from the native entity's of the same table
    label = entity.name if entity.adapter is None else f"{entity.name} from {entity.adapter}"
    result = EntityResult(label, entity.table)
    previous = _last_loads(con, entity)
    files = [
        (p, spec, relative_name(p, landing_dir)) for p, spec in entity_files(entity, landing_dir)
    ]
    known = known_fingerprints(con, [name for _, _, name in files])
    hashed: list[list] = []
    pending: list[PendingFile] = []
    # a file never loaded is read whatever its checksum: it is hashed in a thread while
    # DuckDB reads it (the hash is recorded in the audit and the fingerprints after the load)
    hasher = ThreadPoolExecutor(max_workers=1, thread_name_prefix="returnlens-checksum")
    for order, (path, spec, name) in enumerate(files):
        # size and times first: a file that did not change since it was hashed is not read
        st = os.stat(path, follow_symlinks=False)
        stamp = (st.st_size, st.st_mtime_ns, st.st_ctime_ns)
        cached = known.get(name)
        if cached is not None and cached[:3] == stamp and cached[2] < cached[4] - RACY_MARGIN_NS:
            checksum, how = cached[3], "size+mtime"
        elif name not in previous:
            hashing = hasher.submit(file_checksum, path)
            hashed.append([name, *stamp, hashing, time.time_ns()])
            pending.append(PendingFile(path, name, spec, "", st.st_size, order, hashing=hashing))
            continue
        else:
            hashed_ns = time.time_ns()
            checksum, how = file_checksum(path, like=previous[name][0]), "checksum"
            if not checksum.startswith(BLAKE3) and checksum != previous[name][0]:
                # changed since a load that stored SHA-256: loaded, and hashed anew as BLAKE3
                hashing = hasher.submit(file_checksum, path)
                hashed.append([name, *stamp, hashing, hashed_ns])
                pending.append(
                    PendingFile(path, name, spec, "", st.st_size, order, hashing=hashing)
                )
                continue
            hashed.append([name, *stamp, checksum, hashed_ns])
        last = previous.get(name)
        if last is not None and last[0] == checksum:
            _, status, last_hash = last
            mapped_alike = entity.adapter is None or last_hash == chash
            if (status in ("loaded", "replayed") and mapped_alike) or (
                status == "failed" and last_hash == chash
            ):
                result.files.append(FileResult(name, "unchanged", unchanged_by=how))
                continue
        pending.append(PendingFile(path, name, spec, checksum, st.st_size, order))
    try:
        for batch in _batches(pending, batch_bytes):
            result.files.extend(_load_batch(con, entity, batch, load_id, chash))
        remember_fingerprints(con, [[*r[:4], _settled(r[4]), r[5]] for r in hashed])
    finally:
        hasher.shutdown(cancel_futures=True)
    result.files.sort(key=lambda f: f.source_file)
    result.table_rows = con.execute(f"select count(*) from {entity.table}").fetchall()[0][0]
    return result


def load_all(con: duckdb.DuckDBPyConnection, landing_dir: Path) -> LoadResults:
    """Load every entity of every source and account for every other file under the landing
    folder (used by the CLI and tests; Dagster loads per asset). A list of EntityResult, with
    the files not loaded in `.unloaded` and the summary in `.format()`."""
    # the platform adapters' deliveries (bol/, sendcloud/) load into the same raw tables
    entities = (*landing_entities(landing_dir), *adapter_entities())
    load_id = uuid.uuid4().hex
    results = [load_entity(con, e, landing_dir, load_id) for e in entities]
    unloaded = account_landing(con, landing_dir, load_id, entities)
    erase_forgotten_free_text(con)  # every source is loaded: whatever order they loaded in
    return LoadResults(results, unloaded)


@within_budget("The loader")
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
    now = utc_now()
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
