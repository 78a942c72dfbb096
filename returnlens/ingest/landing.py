"""What is in the landing folder: every file, and what the loader does with it.

A file's identity is its path relative to the landing root, in POSIX form
(`returns/returns_2026-01.csv`), plus its checksum: moving the whole data folder changes nothing.

Every entry under the landing root is accounted for, in one of four ways:

- **an entity's delivery**: a regular file directly in `landing/<source>/` whose name matches one
  of the entity's delivery patterns (`Entity.file_specs`); the loader loads it;
- **unrecognised**: any other regular file (a pattern it does not match, such as
  `returns_2026-09.xlsx` where the contract accepts `returns_*.csv`; a file in a subfolder of a
  source folder, in an unknown folder or at the top level); listed with the patterns it failed
  to match and what to do, never read;
- **ignored**: hidden files and folders (names starting with `.`) and the demo generator's
  `ground_truth.json` at the landing root; listed, never read;
- **refused**: symbolic links (to files or folders), wherever they point, and anything that is
  not a regular file (sockets, pipes, devices). A link whose target is outside the landing folder
  is named as such. Links are never followed, so no file outside the landing folder is ever read
  or published: a delivery is copied into place, not linked.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path, PurePosixPath

from returnlens.ingest.contracts import ENTITIES, Entity, FileSpec

PROFILE_FILE = "returnlens.yml"  # the shop profile (returnlens.profile) at the landing root
DEMO_GROUND_TRUTH = "ground_truth.json"  # written by `returnlens generate` at the landing root

FORMAT_NAMES = {
    "csv": "CSV",
    "jsonl": "JSON lines",
    "parquet": "Parquet",
    "xlsx": "Excel",
    "json": "JSON",
}


@dataclass(frozen=True)
class LandingEntry:
    """A file (or refused link / hidden folder) under the landing root that is not loaded."""

    path: Path  # absolute path of the entry itself (for a link: the link, not its target)
    name: str  # identity: POSIX path relative to the landing root
    status: str  # unrecognised | ignored | refused
    note: str  # why, and what to do; names no content
    size: int | None  # bytes of a regular file, None otherwise
    source: str | None  # the source folder it sits in, when that is a known source


def relative_name(path: Path, landing_dir: Path) -> str:
    """The identity of a landing file: its POSIX path relative to the landing root."""
    return PurePosixPath(*path.relative_to(landing_dir).parts).as_posix()


def _match(entity: Entity, rel_in_source: str) -> FileSpec | None:
    """The first delivery of `entity` whose pattern matches (like a glob: same folder depth)."""
    depth = rel_in_source.count("/")
    for spec in entity.file_specs:
        if spec.pattern.count("/") == depth and fnmatchcase(rel_in_source, spec.pattern):
            return spec
    return None


def spec_of(entity: Entity, name: str) -> FileSpec | None:
    """The delivery of `entity` a landing file (by its relative name) matches, or None."""
    source, _, rel_in_source = name.partition("/")
    return _match(entity, rel_in_source) if source == entity.source else None


def _hidden(rel_in_source: str) -> bool:
    return any(part.startswith(".") for part in rel_in_source.split("/"))


def _walk(folder: Path):
    """(path, rel POSIX path, lstat) of every entry under `folder`, links not followed, sorted."""
    stack = [(folder, "")]
    while stack:
        current, prefix = stack.pop()
        try:
            entries = sorted(os.scandir(current), key=lambda e: e.name, reverse=True)
        except (FileNotFoundError, NotADirectoryError, PermissionError):
            continue
        for entry in entries:
            rel = f"{prefix}{entry.name}"
            try:
                st = entry.stat(follow_symlinks=False)
            except FileNotFoundError:  # removed while listing
                continue
            yield Path(entry.path), rel, st
            if stat.S_ISDIR(st.st_mode) and not entry.name.startswith("."):
                stack.append((Path(entry.path), rel + "/"))


def _utf8_name(rel: str) -> bool:
    """True when a path's name is valid UTF-8 (not bytes Python could only escape)."""
    try:
        rel.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def printable_name(rel: str) -> str:
    """A name that is not valid UTF-8 with its odd bytes written as \\xNN (audit, messages)."""
    return os.fsencode(rel).decode("utf-8", "backslashreplace")


def entity_files(entity: Entity, landing_dir: Path) -> list[tuple[Path, FileSpec]]:
    """The regular files of an entity's deliveries (absolute paths), in name order.

    Symbolic links and hidden files are never an entity's files (see the module docstring).
    """
    folder = landing_dir / entity.source
    if folder.is_symlink() or not folder.is_dir():
        return []
    found = []
    for path, rel, st in _walk(folder):
        if not stat.S_ISREG(st.st_mode) or _hidden(rel) or not _utf8_name(rel):
            continue
        spec = _match(entity, rel)
        if spec is not None:
            found.append((path, spec))
    return sorted(found, key=lambda item: relative_name(item[0], landing_dir))


def _patterns(entities: list[Entity]) -> str:
    return "; ".join(
        f"{spec.pattern} ({FORMAT_NAMES[spec.format]})" for e in entities for spec in e.file_specs
    )


def _inside(path: Path, root_real: str) -> bool:
    target = os.path.realpath(path)
    return target == root_real or target.startswith(root_real.rstrip(os.sep) + os.sep)


def inventory(
    landing_dir: Path, entities: tuple[Entity, ...] | list[Entity] = ENTITIES
) -> list[LandingEntry]:
    """Every entry under the landing root that is not an entity's delivery, with its status.

    Together with `entity_files` of every entity this accounts for every file under the root.
    """
    if not landing_dir.is_dir():
        return []
    root_real = os.path.realpath(landing_dir)
    by_source: dict[str, list[Entity]] = {}
    for e in entities:
        by_source.setdefault(e.source, []).append(e)
    known = ", ".join(by_source)
    out: list[LandingEntry] = []
    for path, rel, st in _walk(landing_dir):
        parts = rel.split("/")
        source = parts[0] if len(parts) > 1 and parts[0] in by_source else None
        size = st.st_size if stat.S_ISREG(st.st_mode) else None

        def add(status: str, note: str, path=path, rel=rel, size=size, source=source) -> None:
            out.append(LandingEntry(path, rel, status, note, size, source))

        kind = "folder" if stat.S_ISDIR(st.st_mode) else "file"
        if not _utf8_name(rel):
            shown = printable_name(rel)
            out.append(
                LandingEntry(
                    path,
                    shown,
                    "refused",
                    f"{shown}: the {kind} name is not valid UTF-8 (bytes of another encoding, "
                    "e.g. from a Windows zip); not read. Rename it with plain or UTF-8 "
                    "characters and it is loaded on the next run.",
                    size,
                    source,
                )
            )
            continue
        if stat.S_ISLNK(st.st_mode):
            if _inside(path, root_real):
                add(
                    "refused",
                    f"{rel}: is a symbolic link; the loader reads only regular files and "
                    "follows no links, so it was not read. Copy the file into the landing "
                    "folder instead of linking it.",
                )
            else:
                add(
                    "refused",
                    f"{rel}: is a symbolic link to a location outside the landing folder; "
                    "refused and not read. Copy the delivery into the landing folder instead.",
                )
            continue
        if parts[-1].startswith("."):
            add(
                "ignored",
                f"{rel}: hidden {kind} (its name starts with '.'): ignored, not read"
                + (", nor anything in it." if kind == "folder" else "."),
            )
            continue
        if stat.S_ISDIR(st.st_mode):
            continue
        if not stat.S_ISREG(st.st_mode):
            add("refused", f"{rel}: is not a regular file (a pipe, socket or device); not read.")
            continue
        if rel == PROFILE_FILE:
            add(
                "ignored",
                f"{rel}: the shop profile: read as this run's settings (value sets, limits, "
                "sources, dialects; docs/profile.md), not loaded as data.",
            )
            continue
        if rel == DEMO_GROUND_TRUTH:
            add(
                "ignored",
                f"{rel}: ignored: demo ground truth (written by `returnlens generate`; "
                "not a delivery).",
            )
            continue
        if source is not None:
            rel_in_source = "/".join(parts[1:])
            if any(_match(e, rel_in_source) for e in by_source[source]):
                continue  # an entity's delivery: loaded by the loader
            joined = [
                e
                for e in by_source[source]
                if "/" not in rel_in_source and any(fnmatchcase(rel_in_source, g) for g in e.reads)
            ]
            if joined:  # a platform table an adapter joins into another table's rows
                add(
                    "ignored",
                    f"{rel}: not loaded as rows of its own: the {source} adapter joins it into "
                    f"the rows of raw.{', raw.'.join(e.name for e in joined)} "
                    f"(docs/sources/{source}.md).",
                )
                continue
            where = (
                f"it is in a subfolder of {source}/, and files are read only directly in {source}/"
                if len(parts) > 2
                else f"its name matches none of the deliveries {source}/ accepts"
            )
            folder = "sources" if any(e.adapter for e in by_source[source]) else "contracts"
            add(
                "unrecognised",
                f"{rel}: not loaded: {where} ({_patterns(by_source[source])}). Rename or "
                f"move it to match a pattern, or export it again in an accepted format, as "
                f"described in docs/{folder}/{source}.md.",
            )
        elif len(parts) == 1:
            add(
                "unrecognised",
                f"{rel}: not loaded: files at the top of the landing folder are not read; "
                f"deliveries go into the folder of their source ({known}) under a name their "
                "contract accepts (docs/contracts/).",
            )
        else:
            add(
                "unrecognised",
                f"{rel}: not loaded: {parts[0]}/ is not a known source folder (known "
                f"sources: {known}); move the file into the folder of its source under a "
                "name its contract accepts (docs/contracts/).",
            )
    return sorted(out, key=lambda e: e.name)
