"""What a load reports: per file, per entity, and for the files under the landing folder that
are no entity's delivery (`LoadResults.format()` is the summary the CLI and the logs print)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from returnlens.ingest.raw_tables import UNLOADED_STATUSES


@dataclass
class FileResult:
    """Outcome of loading one file."""

    source_file: str  # path relative to the landing root
    status: str  # loaded | unchanged | failed | error | unrecognised | ignored | refused
    rows_in: int | None = 0  # None: a failed file whose rows cannot be counted
    rows_loaded: int = 0
    rows_quarantined: int = 0
    error: str | None = None
    extra_columns: list[str] = field(default_factory=list)
    # an unchanged file: how that was known, "size+mtime" (not read at all: same size and times
    # as when it was last hashed) or "checksum" (its times changed, so it was hashed again)
    unchanged_by: str | None = None


@dataclass
class EntityResult:
    """Outcome of loading all files of one entity."""

    entity: str
    table: str
    files: list[FileResult] = field(default_factory=list)
    table_rows: int = 0

    @property
    def rows_in(self) -> int:
        """Rows read from files that were (re)loaded in this run."""
        return sum(f.rows_in or 0 for f in self.files)

    @property
    def rows_loaded(self) -> int:
        """Rows loaded in this run."""
        return sum(f.rows_loaded for f in self.files)

    @property
    def rows_quarantined(self) -> int:
        """Rows quarantined in this run."""
        return sum(f.rows_quarantined for f in self.files)

    def count(self, status: str) -> int:
        """Number of files with the given status."""
        return sum(1 for f in self.files if f.status == status)


class LoadResults(list):
    """What `load_all` did: one EntityResult per entity (the list), and `unloaded`, every other
    file under the landing folder (unrecognised, ignored, refused) with what to do about it."""

    def __init__(self, results: Iterable[EntityResult], unloaded: list[FileResult]) -> None:
        super().__init__(results)
        self.unloaded = unloaded

    def format(self) -> str:
        """The load summary a person reads (CLI, logs)."""
        lines = [
            f"raw.{r.entity:<20} files loaded {r.count('loaded')}, unchanged "
            f"{r.count('unchanged')}, failed {r.count('failed')}; rows loaded "
            f"{r.rows_loaded:,}, quarantined {r.rows_quarantined:,}"
            for r in self
        ]
        lines += [f"  FAILED {f.error}" for r in self for f in r.files if f.status == "failed"]
        lines += format_unloaded(self.unloaded)
        return "\n".join(lines)


def format_unloaded(files: list[FileResult]) -> list[str]:
    """Summary lines of the files under the landing folder that were not loaded."""
    if not files:
        return []
    counts = {s: sum(1 for f in files if f.status == s) for s in UNLOADED_STATUSES}
    head = ", ".join(f"{n} {s}" for s, n in counts.items() if n)
    return [f"landing files not loaded: {head}"] + [
        f"  {f.status.upper()} {f.error}" for f in files
    ]
