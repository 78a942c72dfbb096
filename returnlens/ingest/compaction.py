"""Compact a DuckDB file: copy every object into a fresh file and put it in place of the old one.

The erasure of a customer (`returnlens.ingest.privacy`) needs it. DuckDB keeps per-column
min/max statistics in its metadata blocks, and a string column's statistics hold a prefix of its
smallest and largest value (measured: an erased first name, and the start of the e-mail, in four
places of the file). A checkpoint writes new metadata and frees the old pieces, but a metadata
block is cut into small pieces and is only freed whole when all of them are: a freed piece
inside a block still in use keeps its bytes, and overwriting the free blocks does not reach it
(nor does rewriting the tables). A fresh file holds only what is live: the copy has none of it.

How: one connection to the file (refused while another connection of this process, or another
process, holds it) attaches a new file next to it and runs `COPY FROM DATABASE`, which creates
every schema, table (with its constraints, defaults and comments), view, sequence, index, macro
and type, and copies the rows; the copy's catalogue and row counts are compared with the
original's before anything is replaced. Both files are checkpointed and closed (no write-ahead
log is left), and `os.replace` puts the copy in place, so the warehouse is at every moment
either the old file or the new one. Costs: the time to write the file again and, for that time,
free disk space of the file's size.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import duckdb

from returnlens.warehouse import duckdb_config
from returnlens.warehouse import quote_ident as qi
from returnlens.warehouse import quote_literal as ql

COPY_ALIAS = "returnlens_compact"
# a setting no other connection of Returnlens uses: DuckDB refuses a second connection to an
# open file with other settings, so the compaction cannot start while this process holds one
COMPACTION_AGENT = "returnlens-compaction"

# what a compacted copy must keep, per kind of object (a query per catalogue function)
_CATALOGUE = {
    "schemas": "select schema_name, comment from duckdb_schemas() where database_name = ?",
    "tables": "select schema_name, table_name, comment, sql from duckdb_tables() "
    "where database_name = ?",
    "views": "select schema_name, view_name, comment from duckdb_views() "
    "where database_name = ? and not internal",
    "columns": "select schema_name, table_name, column_name, data_type, column_default, "
    "is_nullable, comment from duckdb_columns() where database_name = ?",
    "constraints": "select schema_name, table_name, constraint_type, constraint_text "
    "from duckdb_constraints() where database_name = ?",
    "sequences": "select schema_name, sequence_name, start_value, increment_by, last_value "
    "from duckdb_sequences() where database_name = ?",
    "indexes": "select schema_name, table_name, index_name, sql from duckdb_indexes() "
    "where database_name = ?",
    "macros": "select schema_name, function_name, function_type, macro_definition "
    "from duckdb_functions() where database_name = ? and not internal",
    "types": "select schema_name, type_name, logical_type from duckdb_types() "
    "where database_name = ? and not internal",
}


class CompactionError(RuntimeError):
    """The file was not compacted (and is unchanged); the message says why and what to do."""


@dataclass(frozen=True)
class Compaction:
    """What a compaction did: the file's size (with its write-ahead log) before and after."""

    path: Path
    bytes_before: int
    bytes_after: int
    seconds: float


def _size(path: Path) -> int:
    wal = path.with_name(path.name + ".wal")
    return path.stat().st_size + (wal.stat().st_size if wal.exists() else 0)


def _catalogue(con: duckdb.DuckDBPyConnection, database: str) -> dict[str, list]:
    """Every object of `database` (names, definitions, comments) and every table's row count."""
    found = {
        k: sorted(map(repr, con.execute(q, [database]).fetchall())) for k, q in _CATALOGUE.items()
    }
    tables = con.execute(
        "select schema_name, table_name from duckdb_tables() where database_name = ?", [database]
    ).fetchall()
    counts = [
        f"select {ql(s)}, {ql(t)}, count(*) from {qi(database)}.{qi(s)}.{qi(t)}" for s, t in tables
    ]
    found["rows"] = sorted(con.execute(" union all ".join(counts)).fetchall()) if counts else []
    return found


def _differences(old: dict[str, list], new: dict[str, list]) -> list[str]:
    return [
        f"{kind}: {len(set(old[kind]) - set(new[kind]))} missing or changed in the copy"
        for kind in old
        if old[kind] != new[kind]
    ]


def _remove(*paths: Path) -> None:
    for p in paths:
        p.unlink(missing_ok=True)


def compact_database(path: Path) -> Compaction:
    """Rewrite the DuckDB file `path` into a fresh file holding only its live data, in place.

    No other connection to the file may be open, in this process or another (close them
    first; `returnlens forget-customer` does this itself). Raises `CompactionError`, with the
    file unchanged, when one is, when the copy differs from the original, or when a
    write-ahead log is left behind.
    """
    path = Path(path)
    started = time.perf_counter()
    wal = path.with_name(path.name + ".wal")
    tmp = path.with_name(f".{path.name}.compact")
    tmp_wal = tmp.with_name(tmp.name + ".wal")
    _remove(tmp, tmp_wal)  # left by a compaction that was killed: never in use
    before = _size(path)
    try:
        con = duckdb.connect(
            str(path), config={**duckdb_config(), "custom_user_agent": COMPACTION_AGENT}
        )
    except (duckdb.ConnectionException, duckdb.IOException) as exc:
        raise CompactionError(
            f"cannot compact {path}: another connection holds it (a pipeline run, the Dagster UI "
            "or a connection of this program). Wait until the run ends or stop it, then try "
            f"again. DuckDB said: {str(exc).splitlines()[0][:200]}"
        ) from exc
    try:
        database = con.execute("select current_database()").fetchall()[0][0]
        con.execute("checkpoint")
        con.execute(f"attach {ql(str(tmp))} as {COPY_ALIAS}")
        con.execute(f"copy from database {qi(database)} to {COPY_ALIAS}")
        missing = _differences(_catalogue(con, database), _catalogue(con, COPY_ALIAS))
        con.execute(f"detach {COPY_ALIAS}")  # checkpoints and closes the copy
    except BaseException:
        con.close()
        _remove(tmp, tmp_wal)
        raise
    con.close()
    if missing or wal.exists() or tmp_wal.exists():
        _remove(tmp, tmp_wal)
        what = "; ".join(missing) or "a write-ahead log was left after closing"
        raise CompactionError(
            f"did not compact {path}, it is unchanged: {what}. Report this with the DuckDB "
            f"version ({duckdb.__version__})."
        )
    shutil.copymode(path, tmp)
    with open(path, "rb") as held:
        # a process opening the old file from now until the replace gets DuckDB's lock error
        # instead of writing to a file that is about to be unlinked; one that opened it since
        # the close above makes this fail, and the file stays as it is
        try:
            fcntl.lockf(held, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError as exc:
            _remove(tmp)
            raise CompactionError(
                f"did not compact {path}, it is unchanged: another process opened it while it "
                "was being copied. Wait until that run ends, then try again."
            ) from exc
        os.replace(tmp, path)
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)  # the rename itself survives a power cut
    finally:
        os.close(directory)
    return Compaction(path, before, _size(path), time.perf_counter() - started)
