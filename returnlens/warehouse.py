"""Connections to the build warehouse, configured in one place."""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import quote, urlencode

import duckdb

from returnlens.config import SettingError, Settings, format_bytes, parse_bytes, settings

BUDGET_SETTING = "RETURNLENS_MEMORY_BUDGET"
DBT_THREADS_SETTING = "RETURNLENS_DBT_THREADS"
# What one of the largest models may need of DuckDB's memory per million order lines: at 10M
# order lines one model at a time fitted the default 2.4 GiB, two side by side did not
# (fct_returns and rpt_referential_integrity both ran out of memory, issue 16).
BYTES_PER_MILLION_LINES = 240 << 20


def duckdb_config(cfg: Settings | None = None) -> dict[str, str]:
    """memory_limit, threads and temp_directory (spill folder) of every DuckDB database a run
    opens, from the memory budget (see `returnlens.config.duckdb_share`)."""
    cfg = cfg or settings()
    # DuckDB makes its temp_directory one level deep only, and only when it first spills: a
    # missing parent then fails that query with an IO error that reads like a file's fault
    # (made per connection, not once per process: a long-lived Dagster process outlives a
    # data folder removed between runs; the check costs one stat)
    try:
        cfg.spill_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SettingError(
            f"The spill folder {cfg.spill_dir} cannot be made ({exc.strerror}): DuckDB writes what "
            "does not fit the memory limit there. Set RETURNLENS_SPILL_DIR to a writable folder "
            'with free disk space (docs/operations.md, "Memory").'
        ) from exc
    return {
        "memory_limit": cfg.duckdb_memory_limit,
        "threads": str(cfg.duckdb_threads),
        "temp_directory": str(cfg.spill_dir),
    }


def dbt_threads(cfg: Settings, warehouse: Path) -> tuple[int, str]:
    """How many models dbt builds at a time, and why (for the run log).

    dbt's threads share one DuckDB database and its memory limit. Two at a time hide dbt's own
    per-model work behind the other model's SQL (most of a small run), but two of the largest
    models side by side may not fit where each fits alone: two threads only while each would
    have BYTES_PER_MILLION_LINES per million order lines loaded (raw.order_lines), else one.
    RETURNLENS_DBT_THREADS overrides."""
    override = os.environ.get(DBT_THREADS_SETTING)
    if override:
        if not override.isdigit() or int(override) < 1:
            raise SettingError(
                f"{DBT_THREADS_SETTING}={override!r} is not a number of threads: set it to a "
                "whole number of at least 1 (how many models dbt builds at a time), or unset it."
            )
        return int(override), f"{DBT_THREADS_SETTING}={override}"
    lines = 0
    if Path(warehouse).exists():
        with connect(warehouse) as con:
            exists = con.execute(
                "select count(*) from information_schema.tables "
                "where table_schema = 'raw' and table_name = 'order_lines'"
            ).fetchone()[0]
            if exists:
                lines = con.execute("select count(*) from raw.order_lines").fetchone()[0]
    limit = parse_bytes(cfg.duckdb_memory_limit, "RETURNLENS_DUCKDB_MEMORY_LIMIT")
    need = lines * BYTES_PER_MILLION_LINES // 1_000_000
    threads = 2 if limit // 2 >= need else 1
    return threads, (
        f"{lines:,} order lines need ~{format_bytes(need)} of DuckDB's {format_bytes(limit)} per "
        f"model: {threads} model(s) at a time ({DBT_THREADS_SETTING} overrides)"
    )


def connect(
    path: Path | str | None = None, *, read_only: bool = False
) -> duckdb.DuckDBPyConnection:
    """Open the warehouse (or another DuckDB file, or `:memory:`) with the configured memory
    limit, threads and spill folder: every DuckDB connection of Returnlens is opened here."""
    cfg = settings()
    target = Path(path) if path is not None else cfg.warehouse
    if not read_only and str(path) != ":memory:":
        target.parent.mkdir(parents=True, exist_ok=True)
    return duckdb.connect(
        ":memory:" if str(path) == ":memory:" else str(target),
        read_only=read_only,
        config=duckdb_config(cfg),
    )


def connect_reader(path: Path | str) -> duckdb.DuckDBPyConnection:
    """A configured in-memory connection with `path` attached read-only and in use: reads a
    published file without opening a database of its own for it (so it never conflicts with
    another connection of this process to the same file, whatever that one's settings)."""
    con = connect(":memory:")
    try:
        con.execute(f"attach {quote_literal(str(path))} as reader (read_only)")
        con.execute("use reader")
    except BaseException:
        con.close()
        raise
    return con


def sqlalchemy_url(path: Path | str) -> str:
    """`duckdb:///<path>?memory_limit=...`: the same settings for SQLAlchemy users (GX)."""
    return f"duckdb:///{quote(str(path))}?{urlencode(duckdb_config())}"


class MemoryBudgetExceeded(RuntimeError):
    """A step ran out of memory under the configured budget; the message names the setting."""


def budget_message(step: str, error: BaseException | str) -> str:
    """What to tell a person when `step` ran out of memory (names the settings to change)."""
    cfg = settings()
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    # DuckDB's own line (dbt puts "Runtime Error in model ..." first); it quotes no data
    detail = next(
        (line for line in lines if "Out of Memory" in line), lines[0] if lines else repr(error)
    )
    if os.environ.get("RETURNLENS_DUCKDB_MEMORY_LIMIT"):
        return (
            f"{step} ran out of memory: RETURNLENS_DUCKDB_MEMORY_LIMIT="
            f"{cfg.duckdb_memory_limit} limits each DuckDB database (DuckDB said: "
            f"{detail[:200]}). Raise it, or unset it to derive the limit from "
            f"{BUDGET_SETTING} (now {format_bytes(cfg.memory_budget)}); docs/operations.md "
            "sizes memory per million order lines."
        )
    return (
        f"{step} ran out of memory within the memory budget {BUDGET_SETTING}="
        f"{format_bytes(cfg.memory_budget)} (DuckDB may use {cfg.duckdb_memory_limit} of it per "
        f"database; DuckDB said: {detail[:200]}). Raise {BUDGET_SETTING} (e.g. to "
        f"{format_bytes(cfg.memory_budget * 2)}) if the machine has the memory, and check that "
        f"the spill folder {cfg.spill_dir} (RETURNLENS_SPILL_DIR) has free disk space; "
        "docs/operations.md sizes memory per million order lines."
    )


def is_out_of_memory(error: BaseException | str | None) -> bool:
    """True for DuckDB's out-of-memory error, raised or quoted in a message (dbt, GX)."""
    if isinstance(error, duckdb.OutOfMemoryException):
        return True
    return error is not None and "Out of Memory Error" in str(error)


def errored_results(results: list[dict], cause: Callable[[str | None], bool]) -> list[dict]:
    """The nodes of dbt's run results that errored with a message `cause` recognises."""
    return [r for r in results if r["status"] == "error" and cause(r.get("message"))]


def out_of_memory_results(results: list[dict]) -> list[dict]:
    """The nodes of dbt's run results that errored because DuckDB ran out of memory."""
    return errored_results(results, is_out_of_memory)


def _errored_in_run(run_results: Path, cause: Callable[[str | None], bool]) -> list[dict]:
    """`errored_results` of a run_results.json ([] when dbt wrote none)."""
    if not Path(run_results).exists():
        return []
    return errored_results(json.loads(Path(run_results).read_text())["results"], cause)


def _node_names(results: list[dict]) -> str:
    """The nodes' names (`model.returnlens.<name>`, `test.returnlens.<name>.<hash>`), listed."""
    return ", ".join(r["unique_id"].split(".")[2] for r in results)


def dbt_out_of_memory(run_results: Path) -> MemoryBudgetExceeded | None:
    """The error to raise when dbt's models ran out of memory (from dbt's run_results.json),
    naming the models and the setting; None when none did."""
    hit = _errored_in_run(run_results, is_out_of_memory)
    if not hit:
        return None
    return MemoryBudgetExceeded(budget_message(f"dbt ({_node_names(hit)})", hit[0]["message"]))


def is_disk_full(message: str | None) -> bool:
    """True for the operating system's "No space left on device" quoted by DuckDB (dbt)."""
    return message is not None and "No space left on device" in message


def dbt_disk_full(run_results: Path) -> str | None:
    """What to tell a person when dbt's models could not write to disk (DuckDB spilling or
    writing the warehouse), naming the models, the folders and the setting; None otherwise."""
    hit = _errored_in_run(run_results, is_disk_full)
    if not hit:
        return None
    cfg = settings()
    return (
        f"dbt ({_node_names(hit)}) found no space left on the disk (DuckDB could not write its "
        f"spill folder {cfg.spill_dir} or the warehouse in {cfg.warehouse.parent}). Free disk "
        "space there, or set RETURNLENS_SPILL_DIR to a folder on a disk with room; "
        "docs/operations.md sizes disk per million order lines."
    )


@contextlib.contextmanager
def within_budget(step: str) -> Iterator[None]:
    """Turn DuckDB's out-of-memory error inside the block into `MemoryBudgetExceeded`."""
    try:
        yield
    except duckdb.OutOfMemoryException as exc:
        raise MemoryBudgetExceeded(budget_message(step, exc)) from exc


def quote_ident(name: str) -> str:
    """Quote an identifier for DuckDB SQL (names come from our contracts, never from users)."""
    return '"' + name.replace('"', '""') + '"'


def quote_literal(value: str) -> str:
    """Quote a string literal for DuckDB SQL (values come from our contracts and file paths)."""
    return "'" + value.replace("'", "''") + "'"


def fetch_row(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> tuple:
    """Run a query that returns one row and fetch it completely.

    DuckDB 2.0 keeps a result open after `fetchone()` and refuses further work on the
    connection until it is drained, so single-row queries go through `fetchall()`.
    """
    rows = con.execute(sql, params or []).fetchall()
    if len(rows) != 1:
        raise ValueError(f"expected one row, got {len(rows)} from: {sql[:200]}")
    return rows[0]


def scalar(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None):
    """Run a query that returns a single value."""
    return fetch_row(con, sql, params)[0]
