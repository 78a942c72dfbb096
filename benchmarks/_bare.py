"""Bare DuckDB doing a run's work, the baseline of bench_fixed_overhead and bench_scale.

- ingest: `read_csv`/`read_json`/`read_parquet` of the same landing files into tables;
- dbt: the compiled SQL of every model (views and tables, in dbt's order) and of every data
  test (`select count(*) from (<test>)`) from the run's own `run_results.json`;
- gates: each GX suite of expectations/ as one aggregate query over its relation (or its
  `meta.query`), with the parameters the run's gates use;
- publish: the same copy of the public marts into a fresh file, checkpoint, and Parquet.

`python -m benchmarks._bare <landing> <warehouse> <dbt run dir> <workdir> <serving> <out.json>`
runs all
four in one process (DuckDB's own defaults: every core, 80 % of the memory) and writes each
part's wall and CPU time to out.json; bench_scale measures that process's peak memory.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

READERS = {".csv": "read_csv", ".json": "read_json", ".jsonl": "read_json"}
READERS[".parquet"] = "read_parquet"


def bare_ingest(landing: Path, db: Path) -> None:
    """Every landing folder's files, per format, into one table each."""
    import duckdb

    con = duckdb.connect(str(db))
    for folder in sorted(p for p in landing.iterdir() if p.is_dir()):
        for suffix, reader in READERS.items():
            files = sorted(str(f) for f in folder.glob(f"*{suffix}"))
            if files:
                name = f"{folder.name}_{suffix[1:]}"
                con.execute(
                    f"create table {name} as select * from {reader}(?, union_by_name = true)",
                    [files],
                )
    con.close()


def bare_dbt(run_dir: Path, warehouse: Path) -> dict:
    """Run the compiled SQL of the run's models and tests straight in DuckDB, in dbt's order,
    on `warehouse` (its raw tables and seeds as the run left them); the models are replaced."""
    import duckdb

    from returnlens.config import pii_salt

    results = json.loads((run_dir / "run_results.json").read_text())["results"]
    manifest = json.loads((run_dir / "manifest.json").read_text())["nodes"]
    con = duckdb.connect()
    # the compiled SQL names relations "warehouse"."<schema>"."<table>", as the run's file does
    con.execute(f"attach '{warehouse}' as warehouse")
    con.execute("use warehouse")
    con.execute("set variable returnlens_pii_salt = ?", [pii_salt()])
    models = tests = 0
    w, c = time.perf_counter(), time.process_time()
    for r in results:  # completion order: every node after the nodes it depends on
        node = manifest.get(r["unique_id"], {})
        sql = r.get("compiled_code") or node.get("compiled_code")
        if not sql:
            continue
        if node["resource_type"] == "model":
            kind = "view" if node["config"]["materialized"] == "view" else "table"
            con.execute(f"create or replace {kind} {r['relation_name']} as {sql}")
            models += 1
        elif node["resource_type"] == "test":
            con.execute(f"select count(*) from ({sql}) as t").fetchall()
            tests += 1
    wall, cpu = time.perf_counter() - w, time.process_time() - c
    con.close()
    return {"wall": wall, "cpu": cpu, "models": models, "tests": tests}


def bare_publish(warehouse: Path, marts: list[str], out: Path) -> None:
    """Copy the marts into a fresh file, checkpoint, and write each to Parquet."""
    import duckdb

    con = duckdb.connect(str(out))
    con.execute(f"attach '{warehouse}' as build (read_only)")
    con.execute("create schema marts")
    for name in marts:
        con.execute(f"create table marts.{name} as select * from build.marts.{name}")
    con.execute("detach build")
    con.execute("checkpoint")
    parquet = out.with_name(out.stem + "_parquet")
    parquet.mkdir()
    for name in marts:
        con.execute(f"copy marts.{name} to '{parquet / name}.parquet' (format parquet)")
    con.close()


def published_marts(serving: Path) -> list[str]:
    """The marts a run published (its serving file's tables in `marts`)."""
    import duckdb

    con = duckdb.connect(str(serving), read_only=True)
    try:
        return [
            r[0]
            for r in con.execute(
                "select table_name from duckdb_tables() where schema_name = 'marts' "
                "and table_name not like 'publish_%'"
            ).fetchall()
        ]
    finally:
        con.close()


def latest_dbt_run(target: Path) -> Path:
    """The newest dbt invocation folder (with run_results.json) under a target folder."""
    runs = [p.parent for p in target.glob("*/run_results.json")]
    return max(runs, key=lambda p: p.stat().st_mtime)


# --- the gates as one aggregate query per suite -------------------------------------------


def _literal(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float):
        return repr(value)
    return "'" + str(value).replace("'", "''") + "'"


def _resolve(value: Any, parameters: dict[str, Any]) -> Any:
    if isinstance(value, dict) and "$PARAMETER" in value:
        return parameters.get(value["$PARAMETER"])
    return value


def expectation_sql(expectation: dict, parameters: dict[str, Any]) -> str:
    """One aggregate expression computing what GX needs to decide the expectation: the count
    of unexpected rows, or the observed value (row count, mean, share of unique values)."""
    kw = {k: _resolve(v, parameters) for k, v in expectation.get("kwargs", {}).items()}
    kind = expectation["type"]
    col = f'"{kw["column"]}"' if "column" in kw else None
    if kind == "expect_table_row_count_to_be_between":
        return "count(*)"
    if kind == "expect_column_values_to_be_between":
        bounds = []
        if kw.get("min_value") is not None:
            op = ">" if kw.get("strict_min") else ">="
            bounds.append(f"{col} {op} {_literal(kw['min_value'])}")
        if kw.get("max_value") is not None:
            op = "<" if kw.get("strict_max") else "<="
            bounds.append(f"{col} {op} {_literal(kw['max_value'])}")
        if not bounds:
            return f"count({col})"
        return f"count(*) filter (where {col} is not null and not ({' and '.join(bounds)}))"
    if kind == "expect_column_pair_values_a_to_be_greater_than_b":
        a, b = f'"{kw["column_A"]}"', f'"{kw["column_B"]}"'
        op = ">=" if kw.get("or_equal") else ">"
        return f"count(*) filter (where {a} is not null and {b} is not null and not ({a} {op} {b}))"
    if kind == "expect_column_values_to_be_in_set":
        values = ", ".join(_literal(v) for v in kw["value_set"]) or "null"
        return f"count(*) filter (where {col} is not null and {col} not in ({values}))"
    if kind == "expect_column_mean_to_be_between":
        return f"avg({col})"
    if kind == "expect_column_values_to_not_be_null":
        return f"count(*) - count({col})"
    if kind == "expect_column_values_to_be_null":
        return f"count({col})"
    if kind == "expect_column_values_to_be_unique":
        return f"count({col}) - count(distinct {col})"
    if kind == "expect_column_proportion_of_unique_values_to_be_between":
        return f"count(distinct {col}) / nullif(count({col}), 0)"
    if kind == "expect_column_value_lengths_to_equal":
        return f"count(*) filter (where length({col}) <> {_literal(kw['value'])})"
    raise ValueError(f"no bare SQL for {kind}: add it to benchmarks/_bare.expectation_sql")


def suite_sql(spec: dict, parameters: dict[str, Any]) -> str:
    """A suite as one aggregate query over its relation or its `meta.query`."""
    from returnlens.quality.gates import render_query

    relation = spec["meta"]["relation"]
    query = render_query(spec["meta"].get("query") or f"select * from {relation}", parameters)
    exprs = ", ".join(expectation_sql(e, parameters) for e in spec["expectations"])
    return f"select {exprs} from ({query}) as suite_query"


def gate_queries(warehouse: Path) -> list[tuple[str, str]]:
    """(suite, SQL) for every suite the run's gates validate (a suite on a source the shop did
    not deliver is skipped, as the gates skip it), with the parameters the gates use."""
    from returnlens.config import settings
    from returnlens.profile import gate_parameters, load_profile, optional_entities
    from returnlens.quality.availability import delivered_entities, missing_for
    from returnlens.quality.gates import load_suite_file, suite_paths
    from returnlens.quality.history import null_share_parameters, volume_parameters
    from returnlens.warehouse import connect

    profile = load_profile(settings().landing_dir)
    optional = optional_entities(profile)
    con = connect(warehouse)
    try:
        delivered = delivered_entities(con)
        out = []
        for path in suite_paths():
            spec = load_suite_file(path)
            if missing_for(spec["meta"]["relation"], delivered, optional):
                continue
            parameters = {
                **volume_parameters(con, spec["name"], spec["meta"].get("volume")),
                **null_share_parameters(con, spec),
                **gate_parameters(profile),
            }
            out.append((spec["name"], suite_sql(spec, parameters)))
        return out
    finally:
        con.close()


def bare_gates(warehouse: Path, queries: list[tuple[str, str]]) -> None:
    """Run each suite's query on a read-only connection, as GX's own connection reads."""
    import duckdb

    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        for name, sql in queries:
            try:
                con.execute(sql).fetchall()
            except duckdb.Error as exc:
                raise RuntimeError(f"bare gate query of suite {name} failed: {exc}") from exc
    finally:
        con.close()


def _timed(fn) -> dict:
    w, c = time.perf_counter(), time.process_time()
    fn()
    return {"wall": time.perf_counter() - w, "cpu": time.process_time() - c}


def run_all(landing: Path, warehouse: Path, run_dir: Path, workdir: Path, serving: Path) -> dict:
    """Ingest, dbt, gates and publish, bare, in this process; each part's wall and CPU time.
    The marts published are those of the run's serving file."""
    workdir.mkdir(parents=True, exist_ok=True)
    marts = published_marts(serving)
    parts = {"ingest": _timed(lambda: bare_ingest(landing, workdir / "bare_ingest.duckdb"))}
    (workdir / "bare_ingest.duckdb").unlink()  # its disk is not needed any more (scale 67)
    dbt = bare_dbt(run_dir, warehouse)
    parts["dbt"] = {"wall": dbt["wall"], "cpu": dbt["cpu"]}
    queries = gate_queries(warehouse)  # parameters of the run's gates, not timed
    parts["gates"] = _timed(lambda: bare_gates(warehouse, queries))
    out = workdir / "bare_serving.duckdb"
    parts["publish"] = _timed(lambda: bare_publish(warehouse, marts, out))
    return {
        "parts": parts,
        "models": dbt["models"],
        "tests": dbt["tests"],
        "suites": len(queries),
        "marts": len(marts),
    }


if __name__ == "__main__":
    landing, warehouse, run_dir, workdir, serving, out = map(Path, sys.argv[1:7])
    out.write_text(json.dumps(run_all(landing, warehouse, run_dir, workdir, serving)))
