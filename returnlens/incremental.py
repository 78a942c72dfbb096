"""Incremental dbt models: when to build them fully, and how to backfill a date range.

The project's incremental models (today `int_web_events_aggregated_to_order_lines`, the
finalised web journeys; append strategy, portable) keep their rows between runs, so a normal
run only appends what is new. They must be rebuilt from scratch when what they hold no longer
follows from their definition. `plan_build` decides, before the run's `dbt build`:

- `--full-refresh` asked for (`returnlens run --full-refresh`, or the Dagster run config):
  dbt's `--full-refresh`, every incremental model rebuilt;
- a model's *definition* changed since its table was built: its table is dropped, so the build
  creates it fully. The definition is a hash (`definitions`) of the model's and all its
  ancestors' SQL checksums and configs, the macros they use (transitively), the project's
  and the command line's vars (the backfill vars left out), and the dbt-core and adapter
  versions:
  a changed column, a changed look-back or a changed staging model upstream all count;
- what its rows were built from changed, as the model declares in its config
  (`meta: {rebuild_fully_when: {forgotten_customers: true, changed: {model: [columns]}}}`): a
  customer forgotten since the build (`forget-customer`), or a row of a `changed` model's
  columns (e.g. a sku's category) changed or removed since the build (the build recorded the
  rows it saw in `returnlens_state`; new rows do not count). Its table is dropped, so the
  build creates it fully, and the reason names what changed. A file delivered again is not
  such a change: a monthly file that grew by a day is delivered again every day; a changed
  past delivery is what `--backfill-start/--backfill-end` is for (docs/operations.md);
- `--backfill-start D --backfill-end D` (ISO dates, inclusive): passed to dbt as the vars
  `backfill_start`/`backfill_end`; the model's pre-hook (`delete_backfill_range`) deletes the
  range's rows and the append builds them again from the current inputs.

After a build, `record_built` stores the hash of each incremental model that dbt built
successfully in `returnlens_state.incremental_models` of the warehouse itself (so the record
travels with the file it describes: a restored or replaced warehouse is judged by its own),
with the fingerprint of the PII salt it was built with (a changed salt rebuilds it fully) and,
for the change log and the models reading it, the seq they were built to; what the change
log and its readers read in a run, and its pruning, are `returnlens.change_log`'s.

Size: `plan_build` is one decision per run (definitions, declared inputs, salt, backfill, the
change log's seqs and whether to trust them) over one connection, with its record beside it;
the change log's own rules are already apart (`returnlens.change_log`). To split next.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import importlib.metadata
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from returnlens.change_log import (
    EPOCH,
    LogPlan,
    check_readers,
    clear_reads,
    current_salt_fingerprint,
    is_consumer,
    log_node,
    previous_facts_built_without_log,
    prune,
    relation_key,
    watermark,
    write_reads,
)
from returnlens.config import PROJECT_ROOT

STATE_SCHEMA = "returnlens_state"
STATE_TABLE = f"{STATE_SCHEMA}.incremental_models"
BACKFILL_VARS = ("backfill_start", "backfill_end")


class BackfillError(ValueError):
    """A backfill range that cannot be used; the message says what to pass instead."""


def backfill_vars(start: str | dt.date | None, end: str | dt.date | None) -> dict[str, str]:
    """The dbt vars of a backfill of the order dates start..end (inclusive), checked."""
    if start is None and end is None:
        return {}
    if start is None or end is None:
        raise BackfillError(
            "A backfill needs both --backfill-start and --backfill-end (ISO dates, inclusive, "
            f"e.g. 2026-10-01); got start={start}, end={end}."
        )
    try:
        first = start if isinstance(start, dt.date) else dt.date.fromisoformat(str(start))
        last = end if isinstance(end, dt.date) else dt.date.fromisoformat(str(end))
    except ValueError as exc:
        raise BackfillError(
            f"A backfill range takes ISO dates (YYYY-MM-DD): {exc}. Pass e.g. "
            "--backfill-start 2026-10-01 --backfill-end 2026-10-31."
        ) from exc
    if first > last:
        raise BackfillError(
            f"The backfill range is empty: --backfill-start {first} is after --backfill-end "
            f"{last}. Swap them."
        )
    return {"backfill_start": first.isoformat(), "backfill_end": last.isoformat()}


def incremental_models(manifest: dict) -> dict[str, dict]:
    """unique_id -> node of the project's models materialised incrementally."""
    return {
        uid: node
        for uid, node in manifest["nodes"].items()
        if node["resource_type"] == "model" and node["config"].get("materialized") == "incremental"
    }


def _ancestors(manifest: dict, unique_id: str) -> set[str]:
    """The nodes (models, seeds, snapshots) a node is built from, transitively, itself too."""
    seen: set[str] = set()
    todo = [unique_id]
    while todo:
        uid = todo.pop()
        if uid in seen or uid not in manifest["nodes"]:
            continue
        seen.add(uid)
        todo.extend(manifest["nodes"][uid]["depends_on"].get("nodes", []))
    return seen


def _macros(manifest: dict, roots: Iterable[str]) -> list[str]:
    """The macros `roots` use, transitively, with their SQL (dbt's own included: their code
    changes with the dbt version, which the hash holds as well)."""
    macros = manifest["macros"]
    seen: set[str] = set()
    todo = list(roots)
    while todo:
        uid = todo.pop()
        if uid in seen or uid not in macros:
            continue
        seen.add(uid)
        todo.extend(macros[uid].get("depends_on", {}).get("macros", []))
    return sorted(seen)


def project_vars(project_dir: Path) -> dict:
    """The `vars:` of the project's dbt_project.yml (the manifest does not keep them)."""
    path = Path(project_dir) / "dbt_project.yml"
    config = yaml.safe_load(path.read_text(encoding="utf-8")) if path.exists() else None
    return (config or {}).get("vars") or {}


def definitions(manifest: dict, vars_json: str, project_vars: dict | None = None) -> dict[str, str]:
    """relation name -> the definition hash of each incremental model (module docstring)."""
    cli_vars = {k: v for k, v in json.loads(vars_json or "{}").items() if k not in BACKFILL_VARS}
    project_vars = project_vars or {}
    shared = hashlib.sha256()
    for package in ("dbt-core", "dbt-duckdb", "dbt-spark"):
        try:
            shared.update(f"{package} {importlib.metadata.version(package)}\0".encode())
        except importlib.metadata.PackageNotFoundError:
            continue
    shared.update(json.dumps([project_vars, cli_vars], sort_keys=True, default=str).encode())
    out = {}
    for uid, node in incremental_models(manifest).items():
        digest = shared.copy()
        nodes = sorted(_ancestors(manifest, uid))
        macro_roots: list[str] = []
        for ancestor in nodes:
            props = manifest["nodes"][ancestor]
            config = {k: v for k, v in props["config"].items() if k not in ("meta", "docs")}
            config["rebuild_fully_when"] = _declared_inputs(props)
            digest.update(
                json.dumps([ancestor, props.get("checksum"), config], sort_keys=True).encode()
            )
            macro_roots += props["depends_on"].get("macros", [])
        for macro in _macros(manifest, macro_roots):
            digest.update(f"{macro}\0{manifest['macros'][macro]['macro_sql']}\0".encode())
        out[node["relation_name"]] = digest.hexdigest()
    return out


@dataclass
class BuildPlan:
    """What the run's `dbt build` gets: extra arguments, vars, tables to drop first, and why."""

    args: list[str] = field(default_factory=list)
    vars: dict[str, str] = field(default_factory=dict)
    drop: list[str] = field(default_factory=list)  # relations rebuilt fully (definition changed)
    fresh: list[str] = field(default_factory=list)  # relations not built yet
    definitions: dict[str, str] = field(default_factory=dict)
    reasons: list[str] = field(default_factory=list)  # for the run log
    # when the build's inputs were read: an erasure after it counts for the next run
    planned_at: dt.datetime = field(default_factory=lambda: _utc_now())
    salt_fingerprint: str | None = None  # of the salt the build hashes customer ids with
    log: LogPlan | None = None  # the change log's build in this run (returnlens.change_log)
    log_seq: int | None = None  # the log's last recorded seq (what a consumer reads up to)
    consumers: list[str] = field(default_factory=list)  # relations reading the change log
    # what the log and its readers read in this run: schema.table -> (seq, changed_after)
    log_reads: dict[str, tuple] = field(default_factory=dict)


def _ensure_state(con) -> None:
    con.execute(f"create schema if not exists {STATE_SCHEMA}")
    con.execute(
        f"create table if not exists {STATE_TABLE} (relation_name varchar primary key, "
        "definition_hash varchar not null, built_at timestamp not null, "
        "built_fully boolean not null)"
    )
    for column, kind in (
        ("change_seq", "bigint"),
        ("changed_until", "timestamp"),
        ("salt_fingerprint", "varchar"),
    ):
        con.execute(f"alter table {STATE_TABLE} add column if not exists {column} {kind}")


def _utc_now() -> dt.datetime:
    from returnlens.ingest.raw_tables import utc_now

    return utc_now()


def _inputs_table(relation_name: str, model: str) -> str:
    """The state table of the `model` rows an incremental relation was last built from."""
    schema, table = _schema_table(relation_name)
    return f'"{STATE_SCHEMA}"."{schema}__{table}__{model}"'


def _declared_inputs(node: dict) -> dict:
    """The model's `rebuild_fully_when` (module docstring), {} when it declares none."""
    return (node["config"].get("meta") or {}).get("rebuild_fully_when") or {}


def _relation_of(manifest: dict, model: str) -> str:
    """The relation of a model `rebuild_fully_when.changed` names: a view, so that before the
    build it shows the rows just loaded (a table still holds the last run's)."""
    for node in manifest["nodes"].values():
        if node["resource_type"] == "model" and node.get("name") == model:
            if node["config"].get("materialized") != "view":
                raise ValueError(
                    f"rebuild_fully_when names the model {model!r}, which is materialised as "
                    f"{node['config'].get('materialized')}: it is read before the build, when a "
                    "table still holds the last run's rows; name a view (a staging model)."
                )
            # schema.table only: the warehouse file's own database, whatever it is called
            return ".".join(f'"{part}"' for part in _schema_table(node["relation_name"]))
    raise ValueError(
        f"rebuild_fully_when names the model {model!r}, which is not in the dbt project: "
        "name a model of the project (its file name without .sql)."
    )


def _columns(columns: list[str]) -> str:
    from returnlens.warehouse import quote_ident

    return ", ".join(quote_ident(c) for c in columns)


def _inputs_changed(con, manifest: dict, relation: str, node: dict, built_at) -> str | None:
    """Why what the relation was built from changed since `built_at` (module docstring), or
    None when nothing it declares changed."""
    inputs = _declared_inputs(node)
    if inputs.get("forgotten_customers") and _relation_exists(con, '"raw"."forgotten_customers"'):
        forgotten = con.execute(
            "select count(*) from raw.forgotten_customers where forgotten_at > ?", [built_at]
        ).fetchone()[0]
        if forgotten:
            return f"{forgotten} customer(s) forgotten since it was built (forget-customer)"
    for model, columns in (inputs.get("changed") or {}).items():
        stored = _inputs_table(relation, model)
        if not _relation_exists(con, stored):
            return f"the rows of {model} it was built from were not recorded (built before)"
        changed = con.execute(
            f"select count(*) from (select {_columns(columns)} from {stored} except "
            f"select {_columns(columns)} from {_relation_of(manifest, model)})"
        ).fetchone()[0]
        if changed:
            return (
                f"{changed} row(s) of {model} ({', '.join(columns)}) changed or removed since "
                "it was built"
            )
    return None


def _schema_table(relation_name: str) -> tuple[str, str]:
    """("schema", "table") of dbt's `"database"."schema"."table"` (the database is the file's
    own, whatever it is called)."""
    parts = [p.strip('"') for p in relation_name.split(".")]
    return parts[-2], parts[-1]


def _relation_exists(con, relation_name: str) -> bool:
    return bool(
        con.execute(
            "select count(*) from information_schema.tables "
            "where table_schema = ? and table_name = ?",
            list(_schema_table(relation_name)),
        ).fetchone()[0]
    )


def plan_build(
    manifest_path: Path,
    warehouse: Path,
    vars_json: str,
    *,
    full_refresh: bool = False,
    backfill_start: str | None = None,
    backfill_end: str | None = None,
    project_dir: Path = PROJECT_ROOT,
    selected: set[str] | None = None,
) -> BuildPlan:
    """Decide how the run builds the incremental models (module docstring) and drop the tables
    of those whose definition changed. `BackfillError` for an unusable range, `ReaderError`
    for a model reading the change log without declaring it (returnlens.change_log).

    `selected`: the unique ids the build selects (a subset materialised from the Dagster UI),
    None for all. An incremental model outside it is left as it is, even when its definition
    changed: the build would not create it again, and its readers in the selection read it;
    the next run that selects it rebuilds it."""
    from returnlens.warehouse import connect

    manifest = json.loads(Path(manifest_path).read_text(encoding="utf-8"))
    check_readers(manifest)  # a reader of the change log without its dependency fails first
    for node in incremental_models(manifest).values():  # a wrong declaration fails first
        for model in _declared_inputs(node).get("changed") or {}:
            _relation_of(manifest, model)
    plan = BuildPlan(definitions=definitions(manifest, vars_json, project_vars(project_dir)))
    if selected is not None:
        relations = {n["relation_name"]: uid for uid, n in incremental_models(manifest).items()}
        for relation, uid in relations.items():
            if uid not in selected:
                del plan.definitions[relation]
                plan.reasons.append(
                    f"{relation}: not selected in this run, left as it is (a run that selects "
                    "it rebuilds it if it must)"
                )
    plan.vars = backfill_vars(backfill_start, backfill_end)
    if full_refresh:
        plan.args.append("--full-refresh")
        plan.reasons.append("full refresh asked for: every incremental model is rebuilt")
        if plan.vars:
            plan.reasons.append("the backfill range is moot in a full refresh")
            plan.vars = {}
    overwritten = previous_facts_built_without_log(manifest, selected)
    if overwritten:
        _forget_reads(warehouse, manifest)
        plan.reasons.append(
            f"{', '.join(overwritten)} built without the change log, which reads their previous "
            "build to find the orders that leave them: every model reading the change log is "
            "rebuilt fully when next built (select the change log with them to avoid this)"
        )
    if not plan.definitions:
        return plan
    plan.salt_fingerprint = current_salt_fingerprint()
    con = connect(warehouse)
    try:
        _ensure_state(con)
        built = {
            row[0]: row[1:]
            for row in con.execute(
                f"select relation_name, definition_hash, built_at, change_seq, changed_until, "
                f"salt_fingerprint from {STATE_TABLE}"
            ).fetchall()
        }
        nodes = {n["relation_name"]: n for n in incremental_models(manifest).values()}
        plan.consumers = [r for r, n in nodes.items() if is_consumer(n)]
        log = log_node(manifest)
        log_record = built.get(log["relation_name"]) if log else None
        plan.log_seq = log_record[2] if log_record else None
        why_log_lost, log_too = _log_untrusted(con, log_record, plan.planned_at)
        for relation, digest in plan.definitions.items() if not full_refresh else ():
            recorded_digest, built_at, seq, _, salt = built.get(relation, (None,) * 5)
            if not _relation_exists(con, relation):
                plan.fresh.append(relation)
                plan.reasons.append(f"{relation}: not built yet, built fully")
                continue
            if recorded_digest != digest:
                why = (
                    "its definition (its SQL, an upstream model, a macro or a var) changed "
                    "since it was built"
                )
            elif salt != plan.salt_fingerprint:
                why = "the PII salt of its customer keys changed (or was not recorded) since"
            elif relation in plan.consumers and (seq is None or plan.log_seq is None):
                why = "the change log it reads holds no record of what it read (or was rebuilt)"
            elif why_log_lost and (
                relation in plan.consumers or (log_too and relation == log["relation_name"])
            ):
                why = why_log_lost
            else:
                why = _inputs_changed(con, manifest, relation, nodes[relation], built_at)
            if why is None:
                plan.reasons.append(f"{relation}: incremental")
                continue
            _drop(con, relation)
            plan.drop.append(relation)
            plan.reasons.append(f"{relation}: {why}, rebuilt fully")
        if log is not None:
            _plan_change_log(
                con,
                plan,
                log["relation_name"],
                log_record,
                built,
                full_refresh or bool(why_log_lost),
            )
    finally:
        con.close()
    if plan.vars.get("backfill_start"):
        plan.reasons.append(
            f"backfill of the order dates {plan.vars['backfill_start']} to "
            f"{plan.vars['backfill_end']}: those rows are deleted and built again"
        )
    return plan


def _forget_reads(warehouse: Path, manifest: dict) -> None:
    """Clear the seq every reader of the change log read (rebuilt fully when next built)."""
    from returnlens.warehouse import connect

    readers = [n["relation_name"] for n in incremental_models(manifest).values() if is_consumer(n)]
    con = connect(warehouse)
    try:
        _ensure_state(con)
        for relation in readers:
            con.execute(
                f"update {STATE_TABLE} set change_seq = null where relation_name = ?", [relation]
            )
    finally:
        con.close()


def _drop(con, relation: str) -> None:
    """Drop a relation (table, or view for a model that was a view before) before the build."""
    from returnlens.warehouse import quote_ident

    schema, table = _schema_table(relation)
    kind = con.execute(
        "select table_type from information_schema.tables "
        "where table_schema = ? and table_name = ?",
        [schema, table],
    ).fetchone()[0]
    what = "view" if kind == "VIEW" else "table"
    con.execute(f"drop {what} {quote_ident(schema)}.{quote_ident(table)}")


def _log_untrusted(con, log_record: tuple | None, now: dt.datetime) -> tuple[str | None, bool]:
    """Why the change log's next rows are not to be used, so that its readers are rebuilt
    fully, and whether the log is rebuilt fully too ((None, False) when they can be used):

    - its last build saw no stamp at all (an empty warehouse, the epoch) and raw has rows now:
      its next rows would list the whole history (review L5); the readers are rebuilt fully
      and the log lists nothing this once (as on a first build);
    - now is before the latest stamp it saw: the stamps are wall-clock, so a clock stepped
      back or a warehouse restored from elsewhere stamps new rows earlier, and the log would
      never list them (review M6); the log and its readers are rebuilt fully."""
    until = log_record[3] if log_record else None
    if until is None:
        return None, False
    if until == EPOCH:
        if watermark(con) == EPOCH:  # still nothing loaded: the log lists nothing anyway
            return None, False
        return (
            "the change log's last build saw an empty warehouse (no load stamp): its next rows "
            "would list the whole history, so the models reading it are rebuilt fully instead"
        ), False
    if now < until:
        return (
            f"WARNING: the clock ({now:%Y-%m-%d %H:%M:%S} UTC) is behind the latest load stamp "
            f"the change log saw ({until:%Y-%m-%d %H:%M:%S}): a clock stepped back or a "
            "warehouse restored from elsewhere; rows loaded now would never be listed, so the "
            "log and the models reading it are rebuilt fully (at every run until the clock "
            "passes that stamp)"
        ), True
    return None, False


def _plan_change_log(con, plan, log_relation, log_record, built, full_refresh) -> None:
    """The change log's seqs for this run, its readers' and pruning (returnlens.change_log).
    `full_refresh`: also true when the log's rows cannot be trusted (`_log_untrusted`)."""
    consumed = {r: built[r][2] for r in plan.consumers if r in built and built[r][2] is not None}
    plan.log_reads = {
        relation_key(r): (seq, None) for r, seq in consumed.items() if r in plan.definitions
    }
    if log_relation in plan.definitions:
        # before the log's build: rows every reader has read (without readers, the last run's)
        # (no record of the log: it is rebuilt fully, nothing to prune; a reader's seq then
        # refers to a log nobody recorded)
        keep_after = None if plan.log_seq is None else min([*consumed.values(), plan.log_seq])
        pruned = prune(con, log_relation, keep_after)
        if pruned:
            plan.reasons.append(f"{log_relation}: {pruned} row(s) every reader has read, pruned")
        plan.log = LogPlan(log_relation, (plan.log_seq or 0) + 1, watermark(con))
        after = log_record[3] if log_record else None
        if after == EPOCH:  # nothing before, or its readers rebuilt fully: it lists nothing
            after = None
        plan.log_reads[relation_key(log_relation)] = (plan.log.seq, after)
        if full_refresh or log_relation in (*plan.drop, *plan.fresh):
            # rebuilt fully, its earlier rows are gone: a reader outside the run has read up to
            # a seq the log no longer continues from, and is rebuilt fully when next selected
            for relation in (r for r in plan.consumers if r not in plan.definitions):
                con.execute(
                    f"update {STATE_TABLE} set change_seq = null where relation_name = ?",
                    [relation],
                )
    write_reads(con, plan.log_reads)


def record_built(
    warehouse: Path, plan: BuildPlan, run_results: Path, manifest_path: Path | None = None
) -> list[str]:
    """Store the definition hash of each incremental model this build built successfully, and
    the rows of the models it declares it must be rebuilt for when they change (read from the
    manifest at `manifest_path`); the relations recorded."""
    from returnlens.warehouse import connect

    con = connect(warehouse)
    try:
        clear_reads(con)  # this build's reads are spent, whatever it built
    finally:
        con.close()
    if not plan.definitions or not run_results.exists():
        return []
    results = json.loads(run_results.read_text(encoding="utf-8"))["results"]
    ok = {r.get("relation_name") for r in results if r["status"] == "success"}
    recorded = [rel for rel in plan.definitions if rel in ok]
    if not recorded:
        return []
    manifest = (
        json.loads(Path(manifest_path).read_text(encoding="utf-8")) if manifest_path else None
    )
    nodes = (
        {n["relation_name"]: n for n in incremental_models(manifest).values()} if manifest else {}
    )
    con = connect(warehouse)
    try:
        _ensure_state(con)
        # the seq a reader of the change log read up to: this run's, when the log was built
        read_seq = plan.log.seq if plan.log and plan.log.relation in recorded else plan.log_seq
        for relation in recorded:
            fully = "--full-refresh" in plan.args or relation in (*plan.drop, *plan.fresh)
            seq, until = (read_seq, None) if relation in plan.consumers else (None, None)
            if plan.log and relation == plan.log.relation:
                seq, until = plan.log.seq, plan.log.watermark
            # the time the build was planned, in UTC as the erasure list is stamped: an
            # erasure while dbt ran is seen by the next run
            con.execute(
                f"insert or replace into {STATE_TABLE} (relation_name, definition_hash, "
                "built_at, built_fully, change_seq, changed_until, salt_fingerprint) "
                "values (?, ?, ?, ?, ?, ?, ?)",
                [
                    relation,
                    plan.definitions[relation],
                    plan.planned_at,
                    fully,
                    seq,
                    until,
                    plan.salt_fingerprint,
                ],
            )
            changed = _declared_inputs(nodes[relation]).get("changed") if relation in nodes else {}
            for model, columns in (changed or {}).items():
                con.execute(
                    f"create or replace table {_inputs_table(relation, model)} as select "
                    f"distinct {_columns(columns)} from {_relation_of(manifest, model)}"
                )
    finally:
        con.close()
    return recorded
