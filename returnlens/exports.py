"""Exports of the signal marts for people outside the warehouse, read from the serving database.

- `exports/quality_alerts/<supplier_id>.csv` and `.json`: the open quality alerts that concern
  one supplier (the supplier itself, its products, its batches), for purchasing to mail to that
  supplier. One file pair per supplier with open alerts; files of suppliers without open alerts
  are removed, so the folder always shows the current state.
- `exports/review_queue.csv`: the open returns with their routing decision, for the warehouse team.

No customer data leaves: the exported columns are listed here explicitly (no customer key, no
customer risk reasons), and `assert_no_customer_data` refuses any column that looks like one.
Files are written to a temp name and renamed into place, so a reader never sees half a file.
"""

from __future__ import annotations

import csv
import json
import os
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import duckdb

from returnlens.config import settings

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


@dataclass
class ExportResult:
    """What an export run wrote."""

    export_dir: Path
    alert_files: dict[str, int] = field(default_factory=dict)
    removed_files: list[str] = field(default_factory=list)
    review_queue_rows: int = 0


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
    tmp.write_text(text, encoding="utf-8", newline="")
    os.replace(tmp, path)


def _csv_text(columns: tuple[str, ...], rows: list[tuple]) -> str:
    import io

    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows([[_plain(v) for v in row] for row in rows])
    return buf.getvalue()


def _safe_name(recipient: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in recipient) or "unknown"


def write_exports(serving: Path | None = None, export_dir: Path | None = None) -> ExportResult:
    """Write the supplier alert files and the review queue from the serving database."""
    cfg = settings()
    serving = serving or cfg.serving
    export_dir = export_dir or cfg.data_dir / "exports"
    assert_no_customer_data(ALERT_COLUMNS)
    assert_no_customer_data(REVIEW_QUEUE_COLUMNS)
    alerts_dir = export_dir / "quality_alerts"
    alerts_dir.mkdir(parents=True, exist_ok=True)
    result = ExportResult(export_dir=export_dir)
    con = duckdb.connect(str(serving), read_only=True)
    try:
        alerts = con.execute(
            f"select {', '.join(ALERT_COLUMNS)} from marts.sig_quality_alerts "
            "order by supplier_id, severity = 'high' desc, alert_id"
        ).fetchall()
        queue = con.execute(
            f"select {', '.join(REVIEW_QUEUE_COLUMNS)} from marts.sig_review_queue "
            "order by priority nulls last, days_open desc, rma_id, order_line_id"
        ).fetchall()
    finally:
        con.close()

    by_supplier: dict[str, list[tuple]] = {}
    supplier_at = ALERT_COLUMNS.index("supplier_id")
    for row in alerts:
        by_supplier.setdefault(row[supplier_at] or "unknown", []).append(row)
    written = set()
    for supplier, rows in by_supplier.items():
        stem = _safe_name(supplier)
        _write_atomic(alerts_dir / f"{stem}.csv", _csv_text(ALERT_COLUMNS, rows))
        records = [dict(zip(ALERT_COLUMNS, map(_plain, r), strict=True)) for r in rows]
        _write_atomic(
            alerts_dir / f"{stem}.json",
            json.dumps({"recipient": supplier, "alerts": records}, indent=2, ensure_ascii=False),
        )
        written |= {f"{stem}.csv", f"{stem}.json"}
        result.alert_files[supplier] = len(rows)
    for stale in sorted(alerts_dir.iterdir()):
        if stale.is_file() and stale.name not in written:
            stale.unlink()
            result.removed_files.append(stale.name)

    _write_atomic(export_dir / "review_queue.csv", _csv_text(REVIEW_QUEUE_COLUMNS, queue))
    result.review_queue_rows = len(queue)
    return result
