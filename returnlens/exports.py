"""Exports of the signal marts for people outside the warehouse, read from the serving database.

- `exports/quality_alerts/<slug>-<hash>.csv` and `.json`: the open quality alerts that concern
  one supplier (the supplier itself, its products, its batches), for purchasing to mail to that
  supplier. The file name is a readable slug of the supplier id (at most 40 characters of
  `A-Z a-z 0-9 _ -`) plus the first 12 hex digits of the SHA-256 of the exact id, so every
  supplier gets its own file whatever its id holds (`SUP/003` and `SUP_003`, case, 300
  characters, path separators). Alerts without a known supplier go to `no_supplier.csv/.json`.
  `exports/quality_alerts/index.csv` maps each supplier id (and name) to its two files: look a
  supplier up there. Files of suppliers without open alerts are removed, so the folder always
  shows the current state.
- `exports/review_queue.csv`: the open returns with their routing decision, for the warehouse team.

No customer data leaves: the exported columns are listed here explicitly (no customer key, no
customer risk reasons), and `assert_no_customer_data` refuses any column that looks like one.
Files are written to a temp name and renamed into place, so a reader never sees half a file; the
index is written last, and only when every file was written. A file that cannot be written
raises `ExportError`, which names the path, the problem and the fix (the serving database is
published by then: `returnlens export` writes the exports again once the problem is fixed).
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

from returnlens.config import settings
from returnlens.warehouse import connect_reader, within_budget

# The cost behind an alert (cost_of_returns_eur, margin_lost_to_returns_eur,
# rule_cost_of_returns_eur) is the shop's own cost and margin: shown on the dashboard, not sent
# to suppliers.
ALERT_COLUMNS = (
    "alert_id",
    "subject_level",
    "subject_id",
    "subject_name",
    "supplier_id",
    "supplier_name",
    "category",
    "alert_rule",
    "what",
    "rate",
    "rate_lower_95",
    "rate_upper_95",
    "baseline_rate",
    "baseline_scope",
    "lift",
    "successes",
    "trials",
    "top_reasons",
    "evidence",
    "since_week_start_date",
    "action_owner",
    "severity",
)

REVIEW_QUEUE_COLUMNS = (
    "rma_id",
    "order_line_id",
    "order_id",
    "sku",
    "product_id",
    "category",
    "reason",
    "resolution",
    "return_status",
    "returned_quantity",
    "returned_value_eur",
    "days_open",
    "decision",
    "review_rules",
    "priority",
    "is_premium_product",
    "is_fragile_damage_claim",
    "is_risky_customer",
    "is_high_value",
    "customer_risk_score",
    "requested_at",
    "received_at",
    "inspected_at",
)

CUSTOMER_COLUMN_MARKERS = ("customer_key", "customer_id", "email", "name_", "phone", "address")


INDEX_COLUMNS = ("supplier_id", "has_supplier", "supplier_name", "alerts", "csv_file", "json_file")
NO_SUPPLIER_STEM = "no_supplier"
SLUG_MAX = 40
HASH_DIGITS = 12
EXPORT_FIX = (
    "Fix it (free space, permissions, or move away what is in the way), then run "
    "`returnlens export` to write the exports from the published serving database again "
    "(the next run does it too)."
)


class ExportError(RuntimeError):
    """An export file could not be written; the message names the path and the fix."""


@dataclass
class ExportResult:
    """What an export run wrote."""

    export_dir: Path
    alert_files: dict[str | None, int] = field(default_factory=dict)
    files: dict[str | None, str] = field(default_factory=dict)
    removed_files: list[str] = field(default_factory=list)
    review_queue_rows: int = 0

    @property
    def index(self) -> Path:
        """The index of the supplier alert files."""
        return self.export_dir / "quality_alerts" / "index.csv"


def file_stem(supplier_id: str | None) -> str:
    """The export file name (without extension) of a supplier: unique, safe and bounded.

    A readable slug of the id plus a hash of the exact id: two ids never share a name, also on
    case-insensitive file systems (the hash differs), and the name never exceeds 53 characters.
    """
    if supplier_id is None:
        return NO_SUPPLIER_STEM
    slug = re.sub(r"[^A-Za-z0-9_-]+", "_", supplier_id).strip("_-")[:SLUG_MAX].strip("_-")
    digest = hashlib.sha256(supplier_id.encode("utf-8")).hexdigest()[:HASH_DIGITS]
    return f"{slug or 'supplier'}-{digest}"


def assert_no_customer_data(columns: tuple[str, ...] | list[str]) -> None:
    """Refuse to export a column that identifies or describes a customer."""
    bad = [c for c in columns if any(m in c for m in CUSTOMER_COLUMN_MARKERS)]
    if bad:
        raise ValueError(f"refusing to export customer data columns: {bad}")


def _plain(value):
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    try:
        tmp.write_text(text, encoding="utf-8", newline="")
        os.replace(tmp, path)
    except OSError as exc:
        if tmp.is_file():
            tmp.unlink()
        raise ExportError(f"cannot write {path}: {exc.strerror or exc}. {EXPORT_FIX}") from exc


def _csv_text(columns: tuple[str, ...], rows: list[tuple]) -> str:
    import io

    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows([[_plain(v) for v in row] for row in rows])
    return buf.getvalue()


def _alerts_folder(export_dir: Path) -> Path:
    alerts_dir = export_dir / "quality_alerts"
    try:
        alerts_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        blocker = next(
            (p for p in (export_dir, alerts_dir) if p.exists() and not p.is_dir()), alerts_dir
        )
        problem = "is a file, not a folder" if blocker.exists() else (exc.strerror or str(exc))
        raise ExportError(
            f"cannot create the export folder {alerts_dir}: {blocker} {problem}. {EXPORT_FIX}"
        ) from exc
    return alerts_dir


@within_budget("The exports")
def write_exports(serving: Path | None = None, export_dir: Path | None = None) -> ExportResult:
    """Write the supplier alert files, their index and the review queue from the serving
    database; raise `ExportError` (path, problem, fix) when a file cannot be written."""
    cfg = settings()
    serving = serving or cfg.serving
    export_dir = export_dir or default_export_dir()
    assert_no_customer_data(ALERT_COLUMNS)
    assert_no_customer_data(REVIEW_QUEUE_COLUMNS)
    alerts_dir = _alerts_folder(export_dir)
    result = ExportResult(export_dir=export_dir)
    con = connect_reader(serving)
    try:
        alerts = con.execute(
            f"select {', '.join(ALERT_COLUMNS)} from marts.sig_quality_alerts "
            "order by supplier_id nulls last, severity = 'high' desc, alert_id"
        ).fetchall()
        queue = con.execute(
            f"select {', '.join(REVIEW_QUEUE_COLUMNS)} from marts.sig_review_queue "
            "order by priority nulls last, days_open desc, rma_id, order_line_id"
        ).fetchall()
    finally:
        con.close()

    by_supplier: dict[str | None, list[tuple]] = {}
    supplier_at = ALERT_COLUMNS.index("supplier_id")
    name_at = ALERT_COLUMNS.index("supplier_name")
    for row in alerts:
        by_supplier.setdefault(row[supplier_at], []).append(row)
    index_rows = []
    failures: list[ExportError] = []
    for supplier, rows in by_supplier.items():
        stem = file_stem(supplier)
        records = [dict(zip(ALERT_COLUMNS, map(_plain, r), strict=True)) for r in rows]
        try:
            _write_atomic(alerts_dir / f"{stem}.csv", _csv_text(ALERT_COLUMNS, rows))
            _write_atomic(
                alerts_dir / f"{stem}.json",
                json.dumps(
                    {"recipient": supplier, "alerts": records}, indent=2, ensure_ascii=False
                ),
            )
        except ExportError as exc:
            failures.append(exc)
            continue
        result.alert_files[supplier] = len(rows)
        result.files[supplier] = stem
        name = next((r[name_at] for r in rows if r[name_at] is not None), None)
        index_rows.append(
            (
                "" if supplier is None else supplier,
                "false" if supplier is None else "true",
                name,
                len(rows),
                f"{stem}.csv",
                f"{stem}.json",
            )
        )
    # the index lists exactly the files written now (also when some failed: the others were
    # rewritten, so an earlier index would no longer match them)
    _write_atomic(alerts_dir / "index.csv", _csv_text(INDEX_COLUMNS, index_rows))
    if failures:  # stale files stay until an export succeeds: nothing is removed half-way
        raise ExportError(
            f"{len(failures)} of {len(by_supplier)} supplier alert export(s) failed; "
            f"the first: {failures[0]}"
        ) from failures[0]
    written = {name for row in index_rows for name in row[4:]} | {"index.csv"}
    for stale in sorted(alerts_dir.iterdir()):
        if stale.is_file() and stale.name not in written:
            stale.unlink()
            result.removed_files.append(stale.name)

    _write_atomic(export_dir / "review_queue.csv", _csv_text(REVIEW_QUEUE_COLUMNS, queue))
    result.review_queue_rows = len(queue)
    return result


def default_export_dir() -> Path:
    """Where exports go: RETURNLENS_EXPORTS_DIR, else `<data dir>/exports`."""
    value = os.environ.get("RETURNLENS_EXPORTS_DIR")
    return Path(value).resolve() if value else settings().data_dir / "exports"
