"""Every `returnlens` command that runs out of DuckDB's memory says so in one message naming the
setting, the step and the file, and exits 1, as `returnlens run` does: no Python traceback.

The commands run as a user runs them, through the installed `returnlens` entry point in a
process of their own, with RETURNLENS_DUCKDB_MEMORY_LIMIT=2MiB on a landing whose CSV files are
larger than that: DuckDB's CSV reader takes a buffer of the file's size, so the read runs out of
memory every time (see test_memory_budget_reads.py).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

LIMIT = "RETURNLENS_DUCKDB_MEMORY_LIMIT"
ENTRY_POINT = Path(sys.executable).with_name("returnlens")
CUSTOMER = "C0000007"


def _landing(root: Path) -> list[str]:
    """A customers CSV (~3.5 MiB) and a production batches CSV (~2.4 MiB); their names."""
    customers = root / "shop" / "customers.csv"
    customers.parent.mkdir(parents=True)
    header = "customer_id,first_name,last_name,email,phone,street,postal_code,city,country_code"
    lines = [
        f"C{i:07d},Ann{i},Berg,ann.{i}@mail.example.nl,+31 6 {i:08d},Dorpsstraat {i},"
        "1234 AB,Utrecht,NL"
        for i in range(1, 40_001)
    ]
    customers.write_text("\n".join([header, *lines]) + "\n")
    batches = root / "purchasing" / "batches.csv"
    batches.parent.mkdir(parents=True)
    rows = [
        f"AP{i:07d}-B01,AP{i % 977:05d},SUP{i % 25:03d},2025-{i % 12 + 1:02d}-01,7"
        for i in range(60_000)
    ]
    header = "batch_id,product_id,supplier_id,received_date,units_received"
    batches.write_text("\n".join([header, *rows]) + "\n")
    for path in (customers, batches):
        assert path.stat().st_size > 2 << 20
    return [p.relative_to(root).as_posix() for p in (customers, batches)]


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(["check-landing"], id="check-landing"),
        pytest.param(["load"], id="load"),
        pytest.param(["forget-customer", CUSTOMER, "--scrub-landing"], id="forget-customer"),
    ],
)
def test_a_command_out_of_memory_prints_the_message_and_no_traceback(args, tmp_path):
    landing = tmp_path / "landing"
    names = _landing(landing)
    env = {k: v for k, v in os.environ.items() if not k.startswith("RETURNLENS_")}
    env.update(
        RETURNLENS_DATA_DIR=str(tmp_path / "data"),
        RETURNLENS_LANDING_DIR=str(landing),
        RETURNLENS_PII_SALT="a-test-salt-of-this-test-only",
        **{LIMIT: "2MiB"},
    )
    done = subprocess.run(
        [str(ENTRY_POINT), *args],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 1, output
    assert "Traceback" not in output
    assert f"{LIMIT}=2MiB limits each DuckDB database" in output
    assert "ran out of memory" in output
    assert [n for n in names if n in output], output  # the file being read when it happened
    assert "ann.7@" not in output and "Dorpsstraat" not in output  # no personal data
