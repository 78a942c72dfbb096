"""Gate history in the warehouse: volume parameters from earlier runs, results of this run."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from returnlens.quality.availability import (
    delivered_entities,
    missing_for,
    not_available_message,
    required_missing,
)
from returnlens.quality.gates import (
    SOURCE_DELIVERED,
    ExpectationOutcome,
    GateResult,
    load_suite_file,
    run_suites,
)
from returnlens.warehouse import (
    MemoryBudgetExceeded,
    budget_message,
    connect,
    is_out_of_memory,
    within_budget,
)

GATE_RUNS_DDL = """
create table if not exists quality.gate_runs (
    run_id varchar,
    suite varchar,
    relation varchar,
    row_count bigint,
    passed boolean,
    failed integer,
    warnings integer,
    summary varchar,
    details varchar,
    evaluated_at timestamp
)
"""


def ensure_history(con: duckdb.DuckDBPyConnection) -> None:
    """Create the quality schema and the gate history table."""
    con.execute("create schema if not exists quality")
    con.execute(GATE_RUNS_DDL)


def row_count(con: duckdb.DuckDBPyConnection, relation: str) -> int | None:
    """Rows in the relation now, or None when it does not exist."""
    try:
        return con.execute(f"select count(*) from {relation}").fetchall()[0][0]
    except duckdb.CatalogException:
        return None


def volume_parameters(
    con: duckdb.DuckDBPyConnection,
    suite: str,
    volume: dict[str, float] | None,
    rows: int | None = None,
) -> dict[str, Any]:
    """`previous_row_count_min`/`_max` from the last passed run of the suite.

    `volume` is the suite's `meta.volume`: `shrink` (share the table may lose) and `grow`
    (share it may gain; null = no upper bound). Without history: at least one row, no maximum.
    `may_be_empty_when` (a SELECT of one boolean) names when an empty table is right: the
    shop's data lack what the mart is built from (no dispositions, no batches in a platform's
    data); then the minimum is 0, with or without history. Given `rows` (the relation's rows
    now) at or above the minimum, that condition is not evaluated: it could only lower a
    minimum that is met (sig_batch_quality's scans a view of the quality rules: 2 s CPU at
    scale 6.7).
    """
    ensure_history(con)
    volume = volume or {}

    def minimum_or_zero(minimum: int) -> int:
        if rows is not None and rows >= minimum:
            return minimum
        condition = volume.get("may_be_empty_when")
        return 0 if condition and con.execute(condition).fetchall()[0][0] else minimum

    history = con.execute(
        "select row_count from quality.gate_runs where suite = ? and passed "
        "order by evaluated_at desc limit 1",
        [suite],
    ).fetchall()
    previous = history[0][0] if history else None
    if previous is None:
        return {
            "previous_row_count": None,
            "previous_row_count_min": minimum_or_zero(1),
            "previous_row_count_max": None,
        }
    shrink = volume.get("shrink")
    grow = volume.get("grow")
    minimum = math.floor(previous * (1 - shrink)) if shrink is not None else 1
    return {
        "previous_row_count": previous,
        "previous_row_count_min": minimum_or_zero(minimum),
        "previous_row_count_max": math.ceil(previous * (1 + grow)) if grow is not None else None,
    }


NULL_SHARE_PARAMETER = "previous_not_null_share_min__"


def null_share_parameters(con: duckdb.DuckDBPyConnection, spec: dict[str, Any]) -> dict[str, float]:
    """`previous_not_null_share_min__<column>` for the suite's not-null expectations that ask
    for it: the share of non-null values in the last passed run minus the suite's tolerance
    (`meta.null_share.tolerance`, absolute). Without history 0: the first load sets the level.
    """
    wanted = [
        exp["kwargs"]["column"]
        for exp in spec["expectations"]
        if isinstance(exp["kwargs"].get("mostly"), dict)
        and str(exp["kwargs"]["mostly"].get("$PARAMETER", "")).startswith(NULL_SHARE_PARAMETER)
    ]
    if not wanted:
        return {}
    ensure_history(con)
    tolerance = float(spec["meta"].get("null_share", {}).get("tolerance", 0.1))
    rows = con.execute(
        "select row_count, details from quality.gate_runs where suite = ? and passed "
        "order by evaluated_at desc limit 1",
        [spec["name"]],
    ).fetchall()
    previous: dict[str, float] = {}
    if rows and rows[0][0]:
        n = rows[0][0]
        for d in json.loads(rows[0][1] or "[]"):
            if d["expectation"] == "expect_column_values_to_not_be_null" and (
                d.get("unexpected_count") is not None
            ):
                previous[d["column"]] = 1 - d["unexpected_count"] / n
    return {
        f"{NULL_SHARE_PARAMETER}{c}": round(max(0.0, previous[c] - tolerance), 6)
        if c in previous
        else 0.0
        for c in wanted
    }


def record(
    con: duckdb.DuckDBPyConnection, run_id: str, result: GateResult, rows: int | None
) -> None:
    """Append one suite's outcome to the gate history."""
    ensure_history(con)
    details = [
        {
            "expectation": o.expectation,
            "column": o.column,
            "severity": o.severity,
            "success": o.success,
            "observed": o.observed,
            "unexpected_count": o.unexpected_count,
            "examples": o.examples[:5],
            "error": o.error,
        }
        for o in result.outcomes
    ]
    con.execute(
        "insert into quality.gate_runs values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            run_id,
            result.suite,
            result.relation,
            rows,
            result.passed,
            len(result.failures),
            len(result.warnings),
            result.summary(),
            json.dumps(details, default=str),
            datetime.now(UTC).replace(tzinfo=None),
        ],
    )


@within_budget("The quality gates")
def run_gates(
    paths: list[Path], warehouse: Path, run_id: str, docs_dir: Path | None = None
) -> list[tuple[GateResult, int | None, dict[str, Any]]]:
    """Run suites with volume parameters from the history, then record their outcomes.

    A suite on a relation that needs an optional source the shop did not deliver at all is
    skipped: it passes with the note "not available: no <source> delivered" and its row count
    is recorded as unknown, so a later first delivery is gated as a first load. A suite on the
    raw table of a required source of which no file was delivered fails, and says so first.
    """
    from returnlens.config import settings
    from returnlens.profile import gate_parameters, load_profile, optional_entities

    profile = load_profile(settings().landing_dir)
    optional = optional_entities(profile)
    specs = [load_suite_file(p) for p in paths]
    con = connect(warehouse)
    try:
        rows = [row_count(con, s["meta"]["relation"]) for s in specs]
        parameters = {
            s["name"]: {
                **volume_parameters(con, s["name"], s["meta"].get("volume"), n),
                **null_share_parameters(con, s),
                **gate_parameters(profile),
            }
            for s, n in zip(specs, rows, strict=True)
        }
        delivered = delivered_entities(con)
    finally:
        con.close()  # GX opens its own connection to the same file
    missing = [missing_for(s["meta"]["relation"], delivered, optional) for s in specs]
    to_run = [p for p, m in zip(paths, missing, strict=True) if not m]
    ran = iter(
        run_suites(to_run, warehouse, docs_dir=docs_dir, parameters=parameters) if to_run else []
    )
    results = [
        GateResult(
            s["name"],
            s["meta"]["relation"],
            [],
            skipped="; ".join(not_available_message(e) for e in m),
        )
        if m
        else next(ran)
        for s, m in zip(specs, missing, strict=True)
    ]
    rows = [None if m else n for n, m in zip(rows, missing, strict=True)]
    # GX catches DuckDB's errors into the expectation's result: out of memory is no data defect
    oom = [o.error for r in results for o in r.outcomes if is_out_of_memory(o.error)]
    if oom:
        raise MemoryBudgetExceeded(budget_message("The quality gates", oom[0]))
    for result in results:
        error = required_missing(result.relation, delivered, optional)
        if error:  # say plainly what is missing, next to the volume failure it causes
            result.outcomes.insert(
                0,
                ExpectationOutcome(SOURCE_DELIVERED, None, "critical", False, error=error),
            )
    con = connect(warehouse)
    try:
        for result, n in zip(results, rows, strict=True):
            record(con, run_id, result, n)
    finally:
        con.close()
    return [(r, n, parameters[r.suite]) for r, n in zip(results, rows, strict=True)]


def run_gate(
    path: Path, warehouse: Path, run_id: str, docs_dir: Path | None = None
) -> tuple[GateResult, int | None, dict[str, Any]]:
    """Run one suite; see `run_gates`."""
    return run_gates([path], warehouse, run_id, docs_dir)[0]
