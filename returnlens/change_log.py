"""The change log's bookkeeping around a build (docs/plans/incremental-facts.md section 2).

`models/staging/loader/stg_loader__changed_orders.sql` appends, per run, the orders whose facts
that run must build again. `returnlens.incremental.plan_build` writes, before the build, what
the log and its readers read in this run to `returnlens_state.change_log_reads` (`READS`), one
row per relation (`schema.table`), which macro `change_log_read` reads at run time:

- the log: `change_seq`, the run's number in the log, one more than the log's last recorded
  build (the seq survives a rebuild of the log: a model that consumed seq 7 never reads an
  older 8), and `changed_after`, the latest `_loaded_at`, `retracted_at` and `forgotten_at` the
  log had seen at its last build (`changed_until` of its record); none before its first build,
  when it lists nothing (everything is built fully then);
- each reader (an incremental model using macro `changed_orders` or `delete_changed`, or
  ref'ing the log) in the run: the last seq it read; `changed_orders` lists rows after it.

Not dbt vars, as the plan had them: dbt parses the whole project again whenever a var differs
from the last parse's (13 s instead of 7 s measured here), and these differ at every run.

`record_built` first drops the run's reads (`clear_reads`: a build by hand after the run must
not take them for its own), then stores per relation the seq it was built to: the log its own and the watermark
it saw (`changed_until`), a consumer the seq of the log it read. `prune` drops, before the
log's build, the rows every reader has read: seq <= the least consumed seq (a reader outside
the run's selection keeps its seq, so its rows stay until it catches up), or <= the log's own
last seq when no reader has a record.

Every incremental relation also records a fingerprint of the PII salt its customer keys were
made with (`salt_fingerprint`: a slow keyed hash, never the salt): after a salt change every
incremental model is rebuilt fully, since rows built before hold keys of the old salt.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import dataclass

LOG_MODEL = "stg_loader__changed_orders"
READS = "returnlens_state.change_log_reads"
CONSUMER_MACROS = ("macro.returnlens.changed_orders", "macro.returnlens.delete_changed")
# the raw tables the log reads by _loaded_at (its sources)
LOGGED_ENTITIES = (
    "orders",
    "order_lines",
    "returns",
    "nps_responses",
    "customers",
    "production_batches",
    "exchange_rates",
)
# the earliest watermark: a log built on an empty raw still lists everything loaded afterwards
EPOCH = dt.datetime(1970, 1, 1)
FINGERPRINT_ROUNDS = 100_000


@dataclass
class LogPlan:
    """What the run's build of the change log is: its relation, seq and the watermark now."""

    relation: str
    seq: int
    watermark: dt.datetime


def salt_fingerprint(salt: str) -> str:
    """A fingerprint of the PII salt to tell a changed salt from the same one: PBKDF2 (SHA-256,
    FINGERPRINT_ROUNDS rounds, fixed purpose string), 128 bits; storing it reveals no more of
    the salt than the customer keys do, and guessing a salt from it costs the rounds."""
    digest = hashlib.pbkdf2_hmac(
        "sha256", salt.encode(), b"returnlens salt fingerprint", FINGERPRINT_ROUNDS
    )
    return digest.hex()[:32]


def current_salt_fingerprint() -> str:
    """The fingerprint of the salt this installation hashes customer ids with now."""
    from returnlens.config import pii_salt

    return salt_fingerprint(pii_salt())


def log_node(manifest: dict) -> dict | None:
    """The change log's manifest node, None when the project has none."""
    for node in manifest["nodes"].values():
        if node["resource_type"] == "model" and node.get("name") == LOG_MODEL:
            return node
    return None


def is_consumer(node: dict) -> bool:
    """Whether an incremental model reads the change log: it uses its macros, or refs it (a
    reader declares `-- depends_on: {{ ref(...) }}`, since dbt records no ref made only on an
    incremental build)."""
    depends_on = node["depends_on"]
    return any(m in depends_on.get("macros", []) for m in CONSUMER_MACROS) or any(
        n.split(".")[-1] == LOG_MODEL for n in depends_on.get("nodes", [])
    )


# a call of one of the CONSUMER_MACROS in a hook's SQL (a hook set in a yml is not recorded
# among the model's macros)
_CONSUMER_CALL = re.compile(r"\b(changed_orders|delete_changed)\s*\(")
DEPENDS_ON_LOG = f"-- depends_on: {{{{ ref('{LOG_MODEL}') }}}}"


class ReaderError(ValueError):
    """A model reading the change log in a way the pipeline cannot plan; says what to change."""


def _calls_consumer_macros(node: dict) -> bool:
    """Whether a model calls changed_orders or delete_changed: in its SQL (dbt records the
    macros) or in a hook (its SQL text)."""
    if any(m in node["depends_on"].get("macros", []) for m in CONSUMER_MACROS):
        return True
    hooks = [*node["config"].get("pre-hook", []), *node["config"].get("post-hook", [])]
    return any(_CONSUMER_CALL.search(h.get("sql", "") if isinstance(h, dict) else h) for h in hooks)


def check_readers(manifest: dict) -> None:
    """Refuse a model that calls changed_orders or delete_changed without declaring its
    dependency on the log (review M3): dbt records no ref() made only on an incremental build
    or in a pre-hook, so without `-- depends_on` dbt may build the model before the log, and
    the model's seq would be recorded by its macros' reads but not by the plan. ReaderError
    names the model, its file and the line to add."""
    missing = []
    for node in manifest["nodes"].values():
        if node["resource_type"] != "model" or node.get("name") == LOG_MODEL:
            continue
        refs_log = any(n.split(".")[-1] == LOG_MODEL for n in node["depends_on"].get("nodes", []))
        if _calls_consumer_macros(node) and not refs_log:
            where = node.get("original_file_path") or node.get("name")
            missing.append(f"{node.get('name')} ({where})")
    if missing:
        raise ReaderError(
            "These models read the change log (macro changed_orders or delete_changed) without "
            f"declaring it: {', '.join(sorted(missing))}. Add the line `{DEPENDS_ON_LOG}` to "
            "each model's SQL: dbt records no ref() made only on an incremental build or in a "
            "pre-hook, so without it dbt may build the model before the log, and the run cannot "
            "record what the model read."
        )


# the models whose previous build the log reads (macro previous_relation in its SQL)
_PREVIOUS_CALL = re.compile(r"previous_relation\(\s*['\"](\w+)['\"]\s*\)")


def previous_facts_built_without_log(manifest: dict, selected: set[str] | None) -> list[str]:
    """The models the log reads the previous build of (fct_order_lines, fct_returns: macro
    previous_relation in its SQL) that a subset builds without the log, by name; [] for a full
    build or one that builds the log (which then runs first: those models declare it). Such a
    build overwrites what the log's next build looks orders up in (review H1)."""
    if selected is None:
        return []
    logs = [
        uid
        for uid, n in manifest["nodes"].items()
        if n["resource_type"] == "model" and n.get("name") == LOG_MODEL
    ]
    if not logs or logs[0] in selected:
        return []
    read = set(_PREVIOUS_CALL.findall(manifest["nodes"][logs[0]].get("raw_code") or ""))
    return sorted(
        n["name"] for uid, n in manifest["nodes"].items() if uid in selected and n["name"] in read
    )


def relation_key(relation_name: str) -> str:
    """`schema.table` of dbt's `"database"."schema"."table"`: how macro changed_orders names
    `this` in returnlens_state.change_log_reads (the database is the file's own, whatever it is
    called)."""
    parts = [p.strip('"') for p in relation_name.split(".")]
    return f"{parts[-2]}.{parts[-1]}"


def watermark(con) -> dt.datetime:
    """The latest `_loaded_at` of the raw tables the log reads, `retracted_at` and
    `forgotten_at`, now (EPOCH when there is none)."""
    present = {
        name
        for (name,) in con.execute(
            "select table_name from information_schema.columns "
            "where table_schema = 'raw' and column_name in ('_loaded_at', 'retracted_at', "
            "'forgotten_at')"
        ).fetchall()
    }
    parts = [f"select max(_loaded_at) as t from raw.{e}" for e in LOGGED_ENTITIES if e in present]
    if "retracted_rows" in present:
        parts.append("select max(retracted_at) as t from raw.retracted_rows")
    if "forgotten_customers" in present:
        parts.append("select max(forgotten_at) as t from raw.forgotten_customers")
    if not parts:
        return EPOCH
    (latest,) = con.execute(f"select max(t) from ({' union all '.join(parts)})").fetchone()
    return latest or EPOCH


def prune(con, log_relation: str, keep_after: int | None) -> int:
    """Delete the log rows of seq <= keep_after (None: none); the number deleted."""
    if keep_after is None:
        return 0
    from returnlens.warehouse import quote_ident

    schema, table = relation_key(log_relation).split(".")
    exists = con.execute(
        "select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
        [schema, table],
    ).fetchone()[0]
    if not exists:
        return 0
    target = f"{quote_ident(schema)}.{quote_ident(table)}"
    (n,) = con.execute(
        f"select count(*) from {target} where change_seq <= ?", [keep_after]
    ).fetchone()
    if n:
        con.execute(f"delete from {target} where change_seq <= ?", [keep_after])
    return n


def clear_reads(con) -> None:
    """Drop what the change log and its readers read in the run that just built (`READS`): a
    build after it by hand (`dbt build`) must not take that run's reads for its own, or a
    reader would list the run's orders again and leave out whatever was loaded since; without
    a read it deletes all its rows and builds them again (macro delete_changed)."""
    con.execute(f"drop table if exists {READS}")


def write_reads(con, reads: dict[str, tuple]) -> None:
    """Replace what the change log and its readers read in this run (`READS`)."""
    con.execute(
        f"create or replace table {READS} (relation varchar primary key, change_seq bigint, "
        "changed_after timestamp)"
    )
    for relation, (seq, after) in reads.items():
        con.execute(f"insert into {READS} values (?, ?, ?)", [relation, seq, after])
