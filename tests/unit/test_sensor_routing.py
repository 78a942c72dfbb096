"""Which job the landing sensor starts (issue 16): `returns_alerts` when every new or changed
file is a returns delivery, `main` otherwise. The real sensor function on a hand-made landing
folder with its own shop profile; the expected job is stated per case by hand."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

PROFILE = """version: 1
shop:
  name: Routing test shop
  reporting_currency: EUR
deliveries:
  returns:
    - pattern: "rma_export_*.csv"
      format: csv
"""


def _write(path: Path, text: str = "a,b\n1,2\n") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    then = time.time() - 3600  # long settled
    os.utime(path, (then, then))
    return path


@pytest.fixture()
def landing(tmp_path, monkeypatch):
    root = tmp_path / "landing"
    _write(root / "returnlens.yml", PROFILE)
    _write(root / "shop" / "orders_2026-01.csv")
    _write(root / "returns" / "rma_export_2026-01.csv")
    monkeypatch.setenv("RETURNLENS_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("RETURNLENS_LANDING_DIR", str(root))
    monkeypatch.delenv("RETURNLENS_PROFILE", raising=False)
    return root


def _tick(cursor: str | None):
    import dagster as dg

    from orchestration.defs.automation.jobs import landing_files_sensor

    ctx = dg.build_sensor_context(cursor=cursor)
    result = landing_files_sensor(ctx)
    return result, ctx.cursor


def _job_after(landing: Path, change) -> str | None:
    """The job the sensor requests for `change` made after a tick that saw the landing."""
    _, seen = _tick(None)
    change(landing)
    result, _ = _tick(seen)
    return getattr(result, "job_name", None)


def test_the_profiles_returns_delivery_starts_the_alert_job(landing):
    from orchestration.defs.automation.jobs import returns_deliveries

    # the profile's pattern, not the contract's returns_*.csv, makes a returns delivery
    assert returns_deliveries(landing) == {"returns/rma_export_2026-01.csv"}
    assert _job_after(landing, lambda r: _write(r / "returns" / "rma_export_2026-02.csv")) == (
        "returns_alerts"
    )


def test_a_platforms_returns_file_starts_the_alert_job(landing):
    assert _job_after(landing, lambda r: _write(r / "bol" / "returns_2026-02-p1.json", "{}")) == (
        "returns_alerts"
    )


@pytest.mark.parametrize(
    "case",
    ["orders file", "returns and orders", "removed returns file", "returns file of no pattern"],
)
def test_anything_else_starts_the_main_job(landing, case):
    changes = {
        "orders file": lambda r: _write(r / "shop" / "orders_2026-02.csv"),
        "returns and orders": lambda r: (
            _write(r / "returns" / "rma_export_2026-02.csv"),
            _write(r / "shop" / "orders_2026-02.csv"),
        ),
        "removed returns file": lambda r: (r / "returns" / "rma_export_2026-01.csv").unlink(),
        # the contract's own pattern no longer applies under the profile: an unrecognised file
        "returns file of no pattern": lambda r: _write(r / "returns" / "returns_2026-02.csv"),
    }
    assert _job_after(landing, changes[case]) == "main"


def test_the_first_tick_requests_main_and_names_the_files(landing):
    result, cursor = _tick(None)
    assert result.job_name == "main"
    assert set(json.loads(cursor)) == {"shop/orders_2026-01.csv", "returns/rma_export_2026-01.csv"}
