"""Publish the marts from the build warehouse to the serving database, atomically.

The marts are copied into `serving.tmp.duckdb` next to the serving file, checkpointed and closed,
and then `os.replace`d onto `serving.duckdb`. Readers holding the old file keep reading it; new
connections see the new file; nobody ever sees a half-written serving database. Only the `marts`
schema is copied, and of it only the dbt project's public models (`access: public`): no raw
data, no PII, no scratch tables. The gate results of the run go along
(`marts.publish_log`, `marts.publish_gate_results`), and a publish whose run has a failed gate
is refused. `marts.publish_log` also says which publish it is (`publish_id`) and whether the
data is the generated demo shop (`is_demo`: the landing folder holds the generator's
`ground_truth.json`).

A partial publish (`refresh`: the marts a run rebuilt, e.g. the `returns_alerts` job) copies the
serving file to the temp file instead, replaces only those marts in it from the warehouse and
keeps every other mart as it was published before; the swap is the same `os.replace`.
`marts.publish_log.refreshed_at` (JSON, mart -> when the publish that last copied it ran) says
which marts this publish refreshed and how old the others are; a full publish sets every mart to
its own time.

Optionally every mart is also written as Parquet, published as a whole (see docs/bi.md):

    <serving stem>_parquet/
        manifest.json                 {"publish_id", "folder": "versions/<publish_id>", ...}
        current -> versions/<publish_id>
        versions/<publish_id>/<mart>.parquet, publish_log.parquet, publish_gate_results.parquet

A version folder is written under a temporary name, renamed into `versions/` complete, and never
changed afterwards; then `manifest.json` (written to a temp file and `os.replace`d) and the
`current` symlink (a new link `os.replace`d onto the old one) are switched to it. A reader that
reads the manifest once and then only files of its folder sees one publish, never two mixed;
every file also carries the id of the publish that wrote it in its Parquet key-value metadata
(`publish_id`): after a partial publish the marts it did not refresh are hard links to the
previous version's files (their own publish id, `publish_id`/`published_at` per table in the
manifest). Old
versions are removed once they are not among the newest RETURNLENS_PARQUET_KEEP (default 3)
and were superseded more than RETURNLENS_PARQUET_GRACE_SECONDS ago (default 3600), so a slow
reader of an older version can finish.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import shutil
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from returnlens.config import settings
from returnlens.dbt_runner import public_models
from returnlens.warehouse import (
    connect,
    connect_reader,
    quote_ident,
    quote_literal,
    within_budget,
)

PUBLISHED_SCHEMA = "marts"
# written by the demo generator at the landing root; a shop's own deliveries never hold it
DEMO_MARKER = "ground_truth.json"
PARQUET_KEEP_DEFAULT = 3
PARQUET_GRACE_SECONDS_DEFAULT = 3600.0
PUBLISH_ID_FORMAT = "%Y%m%dT%H%M%S%fZ"

log = logging.getLogger(__name__)


class GateFailedError(RuntimeError):
    """A gate of this run failed: nothing is published."""


@dataclass
class PublishResult:
    """What was published where."""

    serving: Path
    tables: dict[str, int]
    published_at: datetime
    gates: dict[str, bool]
    parquet_dir: Path | None
    publish_id: str = ""
    is_demo: bool = False
    refreshed: list[str] | None = None  # the marts this publish copied (all but in a partial)


def is_demo_landing(landing: Path) -> bool:
    """True when a landing folder is the generated demo shop (it holds the generator's marker)."""
    return (landing / DEMO_MARKER).is_file()


def new_publish_id(published_at: datetime) -> str:
    """A publish id that sorts by time: `20260105T061502123456Z-1a2b3c4d`."""
    return f"{published_at.strftime(PUBLISH_ID_FORMAT)}-{uuid.uuid4().hex[:8]}"


def _has_gate_history(con) -> bool:
    return (
        con.execute(
            "select count(*) from duckdb_tables() where database_name = 'build' "
            "and schema_name = 'quality' and table_name = 'gate_runs'"
        ).fetchall()[0][0]
        > 0
    )


def _gate_results(con, run_id: str | None) -> dict[str, bool]:
    if run_id is None or not _has_gate_history(con):
        return {}
    rows = con.execute(
        "select suite, bool_and(passed) from build.quality.gate_runs where run_id = ? group by 1",
        [run_id],
    ).fetchall()
    return dict(rows)


def _failed_since(con, evaluated: set[str]) -> list[str]:
    """Suites not evaluated in this run whose latest run (of any job) failed them: what a partial
    publish reads besides its own models was last judged a failure and not judged again."""
    if not _has_gate_history(con):
        return []
    rows = con.execute(
        "with per_run as ("
        "    select suite, run_id, bool_and(passed) as passed, max(evaluated_at) as evaluated"
        "    from build.quality.gate_runs group by suite, run_id"
        "), latest as ("
        "    select suite, passed, row_number() over"
        "        (partition by suite order by evaluated desc, run_id desc) as recency"
        "    from per_run"
        ") select suite from latest where recency = 1 and not passed order by suite"
    ).fetchall()
    return [suite for (suite,) in rows if suite not in evaluated]


@within_budget("The publish")
def publish(
    warehouse: Path | None = None,
    serving: Path | None = None,
    run_id: str | None = None,
    parquet: bool | None = None,
    is_demo: bool | None = None,
    models: Iterable[str] | None = None,
    refresh: Iterable[str] | None = None,
) -> PublishResult:
    """Copy the public marts into a fresh serving file and swap it in.

    `models` defaults to the dbt project's `access: public` models (the manifest); a table of
    the `marts` schema that is not one of them is not published. `is_demo` defaults to whether
    the configured landing folder is the generated demo shop. `refresh`: publish only these
    marts (of `models`) and keep the others as the serving file holds them (module docstring);
    None publishes them all.
    """
    cfg = settings()
    warehouse = warehouse or cfg.warehouse
    serving = serving or cfg.serving
    parquet = cfg.publish_parquet if parquet is None else parquet
    is_demo = is_demo_landing(cfg.landing_dir) if is_demo is None else is_demo
    serving.parent.mkdir(parents=True, exist_ok=True)
    tmp = serving.with_name(serving.stem + ".tmp.duckdb")
    for leftover in (tmp, tmp.with_name(tmp.name + ".wal")):
        leftover.unlink(missing_ok=True)
    published_at = datetime.now(UTC).replace(tzinfo=None)
    publish_id = new_publish_id(published_at)
    tables: dict[str, int] = {}
    previous: dict[str, str] = {}  # mart -> when it was last published (a partial publish)
    if refresh is not None:
        previous = _published_marts(serving)
        _copy_file(serving, tmp)
    con = connect(tmp)
    try:
        con.execute(f"attach {quote_literal(str(warehouse))} as build (read_only)")
        gates = _gate_results(con, run_id)
        failed = sorted(name for name, ok in gates.items() if not ok)
        if failed:
            raise GateFailedError(
                f"run {run_id}: gate(s) {', '.join(failed)} failed; nothing is published and "
                f"{serving} stays as it was."
            )
        stale = _failed_since(con, set(gates)) if refresh is not None else []
        if stale:
            raise GateFailedError(
                f"run {run_id}: gate(s) {', '.join(stale)} failed in an earlier run and have not "
                "passed since; this run rebuilt only some marts and did not check what they read "
                f"besides, so nothing is published and {serving} stays as it was. Fix the data "
                "those gates judge and run the main job."
            )
        built = {
            r[0]
            for r in con.execute(
                "select table_name from duckdb_tables() "
                "where database_name = 'build' and schema_name = ?",
                [PUBLISHED_SCHEMA],
            ).fetchall()
        }
        if not built:
            raise RuntimeError(
                f"{warehouse}: no tables in schema {PUBLISHED_SCHEMA!r}; run the pipeline first."
            )
        names = sorted(set(public_models() if models is None else models))
        missing = [name for name in names if name not in built]
        if missing:
            raise RuntimeError(
                f"{warehouse}: public mart(s) {', '.join(missing)} not built; nothing is "
                f"published and {serving} stays as it was. Run the pipeline (`make run`) to "
                "build them."
            )
        if unpublished := sorted(built - set(names)):
            log.info(
                "not published (tables in %s.%s that are not public dbt models): %s",
                warehouse.name,
                PUBLISHED_SCHEMA,
                ", ".join(unpublished),
            )
        if refresh is None:
            con.execute(f"create schema {PUBLISHED_SCHEMA}")
            copied = names
        else:
            copied = sorted(set(refresh) & set(names))
            if absent := sorted(set(names) - set(copied) - set(previous)):
                raise RuntimeError(
                    f"{serving}: public mart(s) {', '.join(absent)} not published yet; a "
                    f"partial publish keeps the other marts as published, so {serving} stays "
                    "as it was. Run the main job (`make run`) to publish every mart."
                )
            # a table no longer public (nor a mart any more) leaves serving as in a full publish
            for table in ("publish_log", "publish_gate_results", *(set(previous) - set(names))):
                con.execute(f"drop table if exists {PUBLISHED_SCHEMA}.{quote_ident(table)}")
        for name in copied:
            q = quote_ident(name)
            con.execute(
                f"create or replace table {PUBLISHED_SCHEMA}.{q} as "
                f"select * from build.{PUBLISHED_SCHEMA}.{q}"
            )
        for name in names:
            q = quote_ident(name)
            tables[name] = con.execute(f"select count(*) from {PUBLISHED_SCHEMA}.{q}").fetchall()[
                0
            ][0]
        stamp = published_at.isoformat()
        refreshed_at = {name: previous.get(name, stamp) for name in names}
        refreshed_at.update({name: stamp for name in copied})
        con.execute(
            f"create table {PUBLISHED_SCHEMA}.publish_gate_results as "
            "select run_id, suite, relation, row_count, passed, failed, warnings, summary, "
            "evaluated_at from build.quality.gate_runs where run_id = ?"
            if gates
            else f"create table {PUBLISHED_SCHEMA}.publish_gate_results ("
            "run_id varchar, suite varchar, relation varchar, row_count bigint, passed boolean, "
            "failed integer, warnings integer, summary varchar, evaluated_at timestamp)",
            [run_id] if gates else [],
        )
        con.execute("detach build")
        con.execute(
            f"create table {PUBLISHED_SCHEMA}.publish_log ("
            "published_at timestamp, run_id varchar, tables varchar, gates_passed boolean, "
            "gate_results varchar, publish_id varchar, is_demo boolean, refreshed_at varchar)"
        )
        con.execute(
            f"insert into {PUBLISHED_SCHEMA}.publish_log values (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                published_at,
                run_id,
                json.dumps(tables, sort_keys=True),
                all(gates.values()),
                json.dumps(gates, sort_keys=True),
                publish_id,
                is_demo,
                json.dumps(refreshed_at, sort_keys=True),
            ],
        )
        con.execute("checkpoint")
        root = parquet_root(serving)
        version = None
        if parquet:
            current = _current_version(root) if refresh is not None else None
            linked = _linkable(root, refreshed_at, set(copied)) if current is not None else set()
            version = _write_parquet(con, root, names, publish_id, current, linked)
        log_rows = {
            name: con.execute(f"select count(*) from {PUBLISHED_SCHEMA}.{name}").fetchall()[0][0]
            for name in ("publish_log", "publish_gate_results")
        }
    finally:
        con.close()
    # the Parquet export is made current first: if that fails, neither the export nor the
    # serving file has changed and the publish failed as a whole (the complete but unused
    # version folder is removed by a later publish's clean-up)
    parquet_dir = None
    if version is not None:
        parquet_dir = _switch_parquet(
            root,
            version,
            publish_id,
            published_at,
            {**tables, **log_rows},
            is_demo,
            refreshed_at,
            linked,
        )
    os.replace(tmp, serving)
    if version is not None:
        try:
            remove_old_parquet_versions(root)
        except (OSError, ValueError) as exc:  # clean-up, not publishing: the publish stands
            log.warning(
                "published %s, but old Parquet versions in %s were not removed (%s); check "
                "RETURNLENS_PARQUET_KEEP / RETURNLENS_PARQUET_GRACE_SECONDS and the folder's "
                "permissions",
                publish_id,
                root,
                exc,
            )
    return PublishResult(
        serving, tables, published_at, gates, parquet_dir, publish_id, is_demo, copied
    )


def _published_marts(serving: Path) -> dict[str, str]:
    """Mart -> when it was last published, from the serving file's publish log (a file of an
    older version without `refreshed_at`: every mart at the log's time). An error naming what
    to do when there is no serving file to publish into."""
    if not serving.is_file():
        raise RuntimeError(
            f"{serving}: no serving database yet, so a partial publish has nothing to keep; run "
            "the main job (`make run`) to publish every mart first."
        )
    con = connect_reader(serving)
    try:
        marts = [
            r[0]
            for r in con.execute(
                "select table_name from duckdb_tables() "
                "where database_name = 'reader' and schema_name = ?",
                [PUBLISHED_SCHEMA],
            ).fetchall()
        ]
        columns = {
            r[0]
            for r in con.execute(
                "select column_name from duckdb_columns() where database_name = 'reader' "
                "and schema_name = ? and table_name = 'publish_log'",
                [PUBLISHED_SCHEMA],
            ).fetchall()
        }
        row = con.execute(
            "select published_at, "
            + ("refreshed_at" if "refreshed_at" in columns else "null")
            + f" from {PUBLISHED_SCHEMA}.publish_log order by published_at desc limit 1"
        ).fetchone()
    finally:
        con.close()
    at = row[0].isoformat() if row else ""
    known = json.loads(row[1]) if row and row[1] else {}
    return {m: known.get(m, at) for m in marts if m not in ("publish_log", "publish_gate_results")}


def _copy_file(source: Path, target: Path) -> None:
    """Copy a closed DuckDB file (a copy-on-write clone where the file system can, else a
    copy in the kernel)."""
    with source.open("rb") as src, target.open("wb") as dst:
        try:
            import fcntl

            fcntl.ioctl(dst.fileno(), 0x40049409, src.fileno())  # FICLONE
            return
        except (ImportError, OSError):
            pass
    shutil.copyfile(source, target)


def _current_version(root: Path) -> Path | None:
    """The version folder the Parquet manifest points at, None without one."""
    try:
        manifest = json.loads((root / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    folder = root / manifest.get("folder", "")
    return folder if folder.is_dir() and folder != root else None


def parquet_root(serving: Path) -> Path:
    """The Parquet export's folder: `<serving stem>_parquet/` beside the serving file."""
    return serving.with_name(serving.stem + "_parquet")


def _linkable(root: Path, refreshed_at: dict[str, str], copied: set[str]) -> set[str]:
    """The marts a partial publish keeps whose file in the current Parquet version holds what
    serving holds (the manifest's `published_at` is serving's `refreshed_at`): a publish with
    the Parquet export switched off left serving newer than the export."""
    try:
        tables = json.loads((root / "manifest.json").read_text(encoding="utf-8"))["tables"]
    except (OSError, ValueError, KeyError, TypeError):
        return set()
    return {
        name
        for name, at in refreshed_at.items()
        if name not in copied and (tables.get(name) or {}).get("published_at") == at
    }


def _write_parquet(
    con,
    root: Path,
    names: list[str],
    publish_id: str,
    current: Path | None = None,
    linked: set[str] | None = None,
) -> Path:
    """Write every published table into a new, complete version folder (not yet current).
    With `current` (a partial publish), a mart in `linked` is a hard link to its file in that
    version (versions never change), or a copy where links are not possible."""
    versions = root / "versions"
    staging = versions / f".{publish_id}.tmp"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    meta = f"kv_metadata {{publish_id: {quote_literal(publish_id)}}}"
    for name in [*names, "publish_log", "publish_gate_results"]:
        kept = None if current is None else current / f"{name}.parquet"
        keep = kept is not None and name in names and name in (linked or set())
        if keep and kept.is_file():
            try:
                os.link(kept, staging / kept.name)
            except OSError:
                shutil.copy2(kept, staging / kept.name)
            continue
        target = quote_literal(str(staging / f"{name}.parquet"))
        con.execute(
            f"copy {PUBLISHED_SCHEMA}.{quote_ident(name)} to {target} (format parquet, {meta})"
        )
    version = versions / publish_id
    os.replace(staging, version)
    return version


def _switch_parquet(
    root: Path,
    version: Path,
    publish_id: str,
    published_at: datetime,
    tables: dict[str, int],
    is_demo: bool,
    refreshed_at: dict[str, str] | None = None,
    linked: set[str] | None = None,
) -> Path:
    """Point `manifest.json` and the `current` link at a complete version folder, atomically.
    Each table names the publish that wrote its file (`linked`: files of the previous version)
    and when its content was published (`refreshed_at`)."""
    previous, previous_id = {}, ""
    try:
        old = json.loads((root / "manifest.json").read_text(encoding="utf-8"))
        previous, previous_id = old.get("tables", {}), old.get("publish_id", "")
    except (OSError, ValueError):
        pass
    _migrate_flat_layout(root)
    folder = version.relative_to(root).as_posix()
    stamp = published_at.isoformat()
    files = {}
    for name, rows in tables.items():
        at = (refreshed_at or {}).get(name, stamp)
        kept = name in (linked or set()) and name in previous
        files[name] = {
            "file": f"{name}.parquet",
            "rows": rows,
            "publish_id": previous[name].get("publish_id", previous_id) if kept else publish_id,
            "published_at": at,
        }
    manifest = {
        "publish_id": publish_id,
        "published_at": published_at.isoformat(),
        "folder": folder,
        "is_demo": is_demo,
        "tables": files,
    }
    tmp = root / f".manifest.{publish_id}.tmp"
    tmp.write_text(json.dumps(manifest, indent=2, sort_keys=True), encoding="utf-8")
    os.replace(tmp, root / "manifest.json")
    link = root / f".current.{publish_id}.tmp"
    try:
        link.unlink(missing_ok=True)
        os.symlink(folder, link, target_is_directory=True)
        os.replace(link, root / "current")
    except OSError:  # no symlinks here (e.g. Windows without the privilege): the manifest rules
        link.unlink(missing_ok=True)
    return version


def _migrate_flat_layout(root: Path) -> None:
    """Remove the Parquet files of the earlier layout (straight in the folder, swapped by
    renames): they are replaced by `versions/` and the manifest."""
    for stale in root.glob("*.parquet"):
        stale.unlink(missing_ok=True)
    shutil.rmtree(root.with_name(root.name + ".old"), ignore_errors=True)
    shutil.rmtree(root.with_name(root.name + ".tmp"), ignore_errors=True)


def _publish_time(publish_id: str) -> float | None:
    try:
        stamp = datetime.strptime(publish_id.split("-", 1)[0], PUBLISH_ID_FORMAT)
    except ValueError:
        return None
    return stamp.replace(tzinfo=UTC).timestamp()


def remove_old_parquet_versions(
    root: Path, keep: int | None = None, grace_seconds: float | None = None
) -> list[str]:
    """Remove versions older than the newest `keep` that were superseded more than
    `grace_seconds` ago (and temp folders of failed publishes older than that)."""
    keep = (
        int(os.environ.get("RETURNLENS_PARQUET_KEEP", PARQUET_KEEP_DEFAULT))
        if keep is None
        else keep
    )
    if grace_seconds is None:
        grace_seconds = float(
            os.environ.get("RETURNLENS_PARQUET_GRACE_SECONDS", PARQUET_GRACE_SECONDS_DEFAULT)
        )
    keep = max(keep, 1)
    versions_dir = root / "versions"
    manifest = json.loads((root / "manifest.json").read_text(encoding="utf-8"))
    current = manifest["folder"].rsplit("/", 1)[-1]
    now = time.time()
    versions = sorted(
        (p.name, t)
        for p in versions_dir.iterdir()
        if p.is_dir() and (t := _publish_time(p.name)) is not None
    )
    removed = []
    older = versions[: max(len(versions) - keep + 1, 0)]  # each with its successor
    for (name, _), (_, superseded_at) in itertools.pairwise(older):
        if name != current and now - superseded_at > grace_seconds:
            shutil.rmtree(versions_dir / name, ignore_errors=True)
            removed.append(name)
    for leftover in versions_dir.glob(".*.tmp"):
        if now - leftover.stat().st_mtime > max(grace_seconds, 60):
            shutil.rmtree(leftover, ignore_errors=True)
    return removed
