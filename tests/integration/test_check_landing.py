"""`returnlens check-landing`: a dry run over a landing folder with good, bad and undeclared files.

Expected figures come from the hand-written files (counted with Python's csv module), and the
warehouse must be untouched: the dry run writes nothing outside a temp folder.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from returnlens.ingest.check import check_landing
from returnlens.ingest.contracts import ENTITIES, entity

pytestmark = pytest.mark.integration

SUPPLIERS = entity("suppliers")
SUP_HEADER = ",".join(c.name for c in SUPPLIERS.columns)


def _rows(path: Path) -> int:
    with path.open(encoding="utf-8", newline="") as fh:
        return sum(1 for _ in csv.reader(fh)) - 1


@pytest.fixture()
def landing(tmp_path, monkeypatch):
    monkeypatch.setenv("RETURNLENS_DATA_DIR", str(tmp_path / "data"))
    for var in ("RETURNLENS_WAREHOUSE", "RETURNLENS_LANDING_DIR", "RETURNLENS_SERVING"):
        monkeypatch.delenv(var, raising=False)
    root = tmp_path / "landing"
    (root / "purchasing").mkdir(parents=True)
    (root / "returns").mkdir()
    good = root / "purchasing" / "suppliers.csv"
    good.write_text(f"{SUP_HEADER}\nS1,Acme,NL,10\nS2,Beta,DE,5\nS3,Gamma,BE,7\n")
    bad = root / "purchasing" / "batches.csv"
    bad.write_text(
        "batch_id,product_id,supplier_id,received_date,units_received\n"
        "B1,P1,S1,2026-01-05,100\n"
        "B2,P1,S1,2026-01-06,1.5\n"  # not an integer: quarantined, never rounded
        "B3,P2,S2,not a date,10\n"
        "B4,P2,S2,2026-01-07,-3\n"  # below the minimum
    )
    # a Dutch export with ';' that the contract does not declare: the delimiter is detected,
    # but 1,250 is a decimal comma or a thousands separator: the file fails
    undeclared = root / "returns" / "returns_2026-01.csv"
    header = ";".join(c.name for c in entity("returns").columns if c.name != "status")
    undeclared.write_text(
        f"{header}\nR1;O1;O1-1;SKU1;1;OTHER;;2026-01-05 10:00:00;;;;;;refund;1,250\n"
    )
    # a month delivered as Excel where the contract says CSV: not recognised
    (root / "returns" / "returns_2026-02.xlsx").write_bytes(b"PK\x03\x04 not loaded")
    return root


def test_check_landing_reports_every_file_and_writes_no_warehouse(landing, tmp_path):
    from returnlens.config import settings

    result = check_landing(landing)
    by_file = {f.file: f for f in result.files}
    assert set(by_file) == {
        "purchasing/suppliers.csv",
        "purchasing/batches.csv",
        "returns/returns_2026-01.csv",
        "returns/returns_2026-02.xlsx",
    }
    good = by_file["purchasing/suppliers.csv"]
    n = _rows(landing / "purchasing" / "suppliers.csv")
    assert (good.status, good.rows, good.would_load, good.would_quarantine) == (
        "would load",
        n,
        n,
        0,
    )
    bad = by_file["purchasing/batches.csv"]
    assert bad.status == "would load"
    assert bad.rows == _rows(landing / "purchasing" / "batches.csv") == 4
    assert (bad.would_load, bad.would_quarantine) == (1, 3)
    assert sum(bad.reasons.values()) == 3
    reasons = " | ".join(bad.reasons)
    assert "units_received" in reasons and "received_date" in reasons
    assert "1.5" not in reasons and "not a date" not in reasons  # reasons quote no values

    failed = by_file["returns/returns_2026-01.csv"]
    assert failed.status == "would fail"
    assert failed.would_load == 0
    assert failed.rows == _rows(landing / "returns" / "returns_2026-01.csv") == 1
    assert "refund_amount_eur" in failed.message and "decimal_separator" in failed.message
    assert "deliveries.returns" in failed.message
    assert "1,250" not in failed.message and "O1-1" not in failed.message
    assert failed.dialect["delimiter"] == ";" and failed.dialect["detected"] == ["delimiter"]

    unrecognised = by_file["returns/returns_2026-02.xlsx"]
    assert unrecognised.status == "unrecognised"
    assert "returns_*.csv" in unrecognised.message

    delivered = {"suppliers", "production_batches", "returns"}
    assert set(result.missing) == {
        f"{e.source}/{e.name}" for e in ENTITIES if e.name not in delivered and not e.optional
    }
    assert "shop/orders" in result.missing  # required, not delivered
    assert set(result.missing_optional) == {
        f"{e.source}/{e.name}" for e in ENTITIES if e.name not in delivered and e.optional
    }
    assert "sig_purchase_journeys" in result.missing_optional["web/web_events"]
    assert not result.ok
    assert not settings().warehouse.exists(), "a dry run must not write the warehouse"
    # the throw-away database lived in <data dir>/tmp and is gone
    assert list((tmp_path / "data" / "tmp").iterdir()) == []
    assert not list(tmp_path.rglob("*.duckdb"))

    text = result.format()
    assert "returns/returns_2026-02.xlsx" in text and "would be quarantined" in text


def test_check_landing_cli_prints_the_table_or_json_and_exits_non_zero_on_failures(landing):
    from returnlens.cli import main

    runner = CliRunner()
    out = runner.invoke(main, ["check-landing", str(landing)])
    assert out.exit_code == 1, out.output
    assert "purchasing/batches.csv" in out.output
    as_json = runner.invoke(main, ["check-landing", str(landing), "--json"])
    data = json.loads(as_json.output)
    assert data["ok"] is False
    assert {f["file"] for f in data["files"]} >= {"purchasing/suppliers.csv"}
    # only optional sources and bad rows left to report: a complete shop passes
    from returnlens.demo.generator import generate

    shop = landing.parent / "complete"
    generate(shop, seed=3, scale=0.01)
    clean = runner.invoke(main, ["check-landing", str(shop)])
    assert clean.exit_code == 0, clean.output
    assert "REQUIRED" not in clean.output and "would fail" not in clean.output
    # the check says which shop profile it applied: the generated shop's, or none
    assert f"Shop profile: {shop / 'returnlens.yml'} (Returnlens demo shop, amounts in EUR)" in (
        clean.output
    )
    assert "Shop profile: none, the built-in defaults" in out.output
    assert data["profile"] == {"file": None, "name": "my shop", "reporting_currency": "EUR"}
    missing = runner.invoke(main, ["check-landing", str(landing.parent / "nope")])
    assert missing.exit_code != 0
    assert "no such folder" in missing.output
