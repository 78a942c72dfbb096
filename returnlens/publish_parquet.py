"""The Parquet copy of the published marts (`returnlens/publish.py`), published as a whole
(see docs/bi.md):

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
import os
import shutil
import time
from datetime import UTC, datetime
from pathlib import Path

from returnlens.warehouse import quote_ident, quote_literal

PUBLISHED_SCHEMA = "marts"
PARQUET_KEEP_DEFAULT = 3
PARQUET_GRACE_SECONDS_DEFAULT = 3600.0
PUBLISH_ID_FORMAT = "%Y%m%dT%H%M%S%fZ"


def current_version(root: Path) -> Path | None:
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


def linkable(root: Path, refreshed_at: dict[str, str]) -> set[str]:
    """The marts whose file in the current Parquet version holds what serving holds (the
    manifest's `published_at` is serving's `refreshed_at`, as the serving file says before this
    publish): a publish with the Parquet export switched off left serving newer than the
    export. A publish keeps the files of those it keeps as they were."""
    try:
        tables = json.loads((root / "manifest.json").read_text(encoding="utf-8"))["tables"]
    except (OSError, ValueError, KeyError, TypeError):
        return set()
    return {
        name
        for name, at in refreshed_at.items()
        if (tables.get(name) or {}).get("published_at") == at
    }


def write_parquet(
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


def switch_parquet(
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
