"""`returnlens check-landing`: a dry run of the loader over a landing folder.

The real loader runs against a throw-away DuckDB file in `<data dir>/tmp/` (never the warehouse),
so what it reports is exactly what a run would do: per file its rows, how many would load,
how many would be quarantined and why, files that would fail or are not recognised, and the
entities of which no file was delivered. Quarantine reasons are grouped by their text, which
never quotes a value (the values stay in the landing file).
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

import duckdb

from returnlens.config import settings
from returnlens.ingest.dialect import describe
from returnlens.ingest.loader import load_all
from returnlens.profile import load_profile, shop_entities
from returnlens.warehouse import duckdb_config


@dataclass
class FileCheck:
    """What a run would do with one landing file."""

    file: str  # path relative to the landing root
    entity: str | None
    status: str  # would load | would fail | unrecognised | ignored | refused
    rows: int | None
    would_load: int
    would_quarantine: int
    reasons: dict[str, int] = field(default_factory=dict)  # quarantine reason -> rows
    message: str | None = None
    # the dialect a CSV file was read with (raw.load_audit.dialect): its settings, whether they
    # were declared, and which were detected in the file
    dialect: dict | None = None


@dataclass
class LandingCheck:
    """The dry run's result for a whole landing folder."""

    landing_dir: str
    files: list[FileCheck]
    missing: list[str]  # required entities (source/table) without any delivered file
    missing_optional: dict[str, list[str]] = field(default_factory=dict)  # entity -> marts empty
    # the shop profile the check applied: its file (None: the built-in defaults), name, currency
    profile: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when every file would load (quarantined rows are allowed, reported) and every
        required source is delivered (optional ones may be missing)."""
        return not self.missing and all(f.status in ("would load", "ignored") for f in self.files)

    def to_json(self) -> str:
        """The result as JSON (for scripts and CI)."""
        return json.dumps({**asdict(self), "ok": self.ok}, indent=2)

    def format(self) -> str:
        """The result as a table a person reads."""
        head = f"{'file':<44} {'entity':<20} {'status':<13} {'rows':>9} {'load':>9} {'quar.':>7}"
        lines = [f"Landing check of {self.landing_dir} (dry run, the warehouse is untouched)"]
        if self.profile:
            lines.append(
                f"Shop profile: {self.profile['file']} ({self.profile['name']}, amounts in "
                f"{self.profile['reporting_currency']})"
                if self.profile.get("file")
                else "Shop profile: none, the built-in defaults (open value sets, no shop limits; "
                "put a returnlens.yml at the landing root: docs/profile.md)"
            )
        lines.append(head)
        for f in self.files:
            rows = "?" if f.rows is None else f"{f.rows:,}"
            lines.append(
                f"{f.file[:44]:<44} {(f.entity or '-')[:20]:<20} {f.status:<13} {rows:>9} "
                f"{f.would_load:>9,} {f.would_quarantine:>7,}"
            )
            if f.dialect and f.dialect.get("detected"):
                lines.append(
                    f"    dialect detected (not declared): {describe(f.dialect)}; declare it "
                    f"under deliveries.{f.entity} in returnlens.yml to make it fixed"
                )
            lines += [f"    {n:,} row(s): {r}" for r, n in f.reasons.items()]
            if f.message and f.status != "would load":
                lines.append(f"    {f.message}")
        if self.missing:
            lines.append("REQUIRED, no file delivered: " + ", ".join(self.missing))
        lines += [
            f"optional, not delivered: {entity}: {', '.join(marts)} will be published empty "
            "(not available)"
            for entity, marts in self.missing_optional.items()
        ]
        total = sum(f.rows or 0 for f in self.files)
        load = sum(f.would_load for f in self.files)
        quarantine = sum(f.would_quarantine for f in self.files)
        bad = sum(1 for f in self.files if f.status not in ("would load", "ignored"))
        lines.append(
            f"{len(self.files)} file(s), {total:,} row(s): {load:,} would load, "
            f"{quarantine:,} would be quarantined; {bad} file(s) would not load."
        )
        return "\n".join(lines)


def check_landing(landing_dir: Path) -> LandingCheck:
    """Run the loader on `landing_dir` into a temp database and report what it would do."""
    landing_dir = Path(landing_dir)
    if not landing_dir.is_dir():
        raise FileNotFoundError(
            f"{landing_dir}: no such folder. Point check-landing at the folder that holds "
            "the source folders (shop/, returns/, ...)."
        )
    cfg = settings()
    # inside the data folder (raw rows hold personal data: they never go to the system temp)
    scratch = cfg.data_dir / "tmp"
    scratch.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="check-landing-", dir=scratch) as tmp:
        con = duckdb.connect(
            str(Path(tmp) / "check.duckdb"),
            config={**duckdb_config(cfg), "temp_directory": str(Path(tmp) / "spill")},
        )
        try:
            load_all(con, landing_dir)
            return _report(con, landing_dir)
        finally:
            con.close()


def _report(con: duckdb.DuckDBPyConnection, landing_dir: Path) -> LandingCheck:
    audit = con.execute(
        """
        select source_file, entity, status, rows_in, rows_loaded, rows_quarantined, error,
            dialect
        from raw.load_audit
        qualify row_number() over (
            -- a platform file may feed several raw tables (WooCommerce orders: two)
            partition by source_file, entity order by finished_at desc
        ) = 1
        order by source_file, entity
        """
    ).fetchall()
    reasons: dict[tuple[str, str], dict[str, int]] = {}
    for source_file, entity, reason, n in con.execute(
        "select source_file, entity, reason, count(*) from raw.quarantine_rows "
        "group by 1, 2, 3 order by 1, 2, 4 desc, 3"
    ).fetchall():
        reasons.setdefault((source_file, entity), {})[reason] = n
    status_words = {"loaded": "would load", "failed": "would fail", "error": "would fail"}
    files = [
        FileCheck(
            file=name,
            entity=entity,
            status=status_words.get(status, status),
            rows=rows_in if entity is not None else None,
            would_load=loaded or 0,
            would_quarantine=quarantined or 0,
            reasons=reasons.get((name, entity), {}),
            message=error,
            dialect=json.loads(dialect) if dialect else None,
        )
        for name, entity, status, rows_in, loaded, quarantined, error, dialect in audit
        if status != "gone"
    ]
    from returnlens.quality.availability import MARTS_NEEDING

    shop = load_profile(landing_dir)
    entities = shop_entities(shop)
    delivered = {f.entity for f in files if f.entity}
    missing = [
        f"{e.source}/{e.name}" for e in entities if e.name not in delivered and not e.optional
    ]
    missing_optional = {
        f"{e.source}/{e.name}": list(MARTS_NEEDING.get(e.name, ()))
        for e in entities
        if e.name not in delivered and e.optional
    }
    profile = {
        "file": str(shop.path) if shop.path else None,
        "name": shop.name,
        "reporting_currency": shop.reporting_currency,
    }
    return LandingCheck(str(landing_dir), files, missing, missing_optional, profile)
