"""Open and closed returns from status (issue 12 item 8, failure 10).

A shop whose returns export has no received/refunded timestamps got a review queue of every
return it ever had: each counted as open. Here a hand-made shop with a year of such returns
(old and recent, some with the portal's own status text, some without) runs through the real
loader, real dbt and the real Great Expectations gates, once for every test of this module:

- the review queue holds only the returns that are plausibly still open: those whose status
  says open, and those without a (known) status or closing timestamp requested at most
  return_window_days + open_return_slack_days before the data's as-of moment; older ones are
  stale, counted per request month;
- the status decides a return's state where the portal delivers a known one (checked per RMA
  against the states written here by hand), and unknown status values are kept and listed;
- without any processing timestamp, the processing-time marts say "not available: no
  processing timestamps delivered" and their gates pass with that note.

Expectations are computed from the landing files this module writes (csv, datetime).
"""

from __future__ import annotations

import csv
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from returnlens.ingest import contracts
from returnlens.quality.gates import EXPECTATIONS_DIR
from returnlens.quality.history import run_gates
from tests.integration.test_referential_defects import dbt, load, query, read_csv

pytestmark = pytest.mark.integration

RETURN_WINDOW_DAYS = 30  # dbt var return_window_days (dbt_project.yml)
SLACK_DAYS = 30  # dbt var open_return_slack_days (docs/kpis.md)
FIRST_DAY = date(2025, 4, 1)
DAYS = 365
NOT_AVAILABLE = "not available: no processing timestamps delivered"

# Returns with a status, by RMA: (status as the portal wrote it, days before the last order
# the return was requested, resolution, inspected), and the state and rule expected, written
# by hand from the status vocabularies (generic English/Dutch, Shopify, bol.com, Sendcloud).
STATUS_RETURNS = {
    "RS01": ("Refunded", 200, "refund", False),
    "RS02": ("  REQUESTED ", 250, "refund", False),  # the status says open, however old
    "RS03": ("Onderweg", 10, "refund", False),
    "RS04": ("ontvangen", 12, "refund", False),
    "RS05": ("CANCELED", 20, "refund", False),
    "RS06": ("DECLINED", 300, "refund", False),
    "RS07": ("RETURN_DOES_NOT_MEET_CONDITIONS", 15, "refund", False),
    "RS08": ("in-transit", 5, "refund", False),
    "RS09": ("In transit", 8, "exchange", True),  # open status, but the exchange was inspected
    "RS10": ("terugbetaald", 3, "refund", False),
    "RS11": ("Wacht op label", 9, "refund", False),  # unknown: timestamps, recent: open
    "RS12": ("Wacht op label", 180, "refund", False),  # unknown: timestamps, old: stale
    "RS13": ("mystery", 150, "exchange", True),  # unknown: timestamps, closed
    "RS14": ("", 100, "refund", False),  # an empty status is no status: old, stale
    "RS15": ("delivered", 4, "refund", False),  # Sendcloud: back at the warehouse
}
EXPECTED_STATES = {
    "RS01": ("closed", "status"),
    "RS02": ("open", "status"),
    "RS03": ("open", "status"),
    "RS04": ("open", "status"),
    "RS05": ("cancelled", "status"),
    "RS06": ("rejected", "status"),
    "RS07": ("rejected", "status"),
    "RS08": ("open", "status"),
    "RS09": ("closed", "timestamps"),
    "RS10": ("closed", "status"),
    "RS11": ("open", "timestamps"),
    "RS12": ("stale", "stale"),
    "RS13": ("closed", "timestamps"),
    "RS14": ("stale", "stale"),
    "RS15": ("open", "status"),
}
# what the review queue says an open return waits for, where the status tells
EXPECTED_STEPS = {
    "RS02": "awaiting_receipt",
    "RS03": "awaiting_receipt",
    "RS04": "awaiting_inspection",
    "RS08": "awaiting_receipt",
    "RS11": "awaiting_receipt",
    "RS15": "awaiting_inspection",
}
UNKNOWN_STATUSES = {"wacht op label": 2, "mystery": 1}


def _ts(d: datetime) -> str:
    return d.strftime("%Y-%m-%d %H:%M:%S")


def write_shop_without_processing_timestamps(root: Path) -> Path:
    """A year of orders, one a day, and a return of most of them: requested 4 days after the
    order, never with received_at or refunded_at; every seventh an exchange that was inspected.
    Plus the returns with a status above, of the last orders."""
    for source in contracts.SOURCES:
        (root / source).mkdir(parents=True, exist_ok=True)
    cols = {e.name: [c.name for c in e.columns] for e in contracts.ENTITIES}

    def write(path: Path, entity: str, rows: list[dict]) -> None:
        with path.open("w", encoding="utf-8", newline="") as fh:
            # the portal's status column, whether or not the contract names it yet
            fields = [*cols[entity], *(["status"] if entity == "returns" else [])]
            writer = csv.DictWriter(fh, list(dict.fromkeys(fields)), restval="")
            writer.writeheader()
            writer.writerows(rows)

    write(
        root / "purchasing" / "suppliers.csv",
        "suppliers",
        [{"supplier_id": "S1", "supplier_name": "S1", "country_code": "NL", "lead_time_days": 9}],
    )
    write(
        root / "shop" / "customers.csv",
        "customers",
        [
            {
                "customer_id": f"C{i}",
                "first_name": "Test",
                "last_name": f"Person{i}",
                "email": f"p{i}@example.invalid",
                "street": "Teststraat 1",
                "postal_code": "1000",
                "city": "Teststad",
                "country_code": "NL",
                "created_at": "2025-01-01 09:00:00",
            }
            for i in range(5)
        ],
    )
    write(
        root / "shop" / "products.csv",
        "products",
        [
            {
                "sku": "P1-OS",
                "product_id": "P1",
                "product_name": "Product 1",
                "category": "apparel",
                "subcategory": "dresses",
                "size": "one-size",
                "colour": "black",
                "supplier_id": "S1",
                "list_price_eur": "40.00",
                "unit_cost_eur": "10.00",
            }
        ],
    )
    orders, lines, returns = [], [], []
    for i in range(DAYS):
        ordered = datetime.combine(FIRST_DAY + timedelta(days=i), datetime.min.time()).replace(
            hour=10
        )
        order_id = f"O{i:04d}"
        orders.append(
            {
                "order_id": order_id,
                "customer_id": f"C{i % 5}",
                "ordered_at": _ts(ordered),
                "channel": "web",
                "shipping_country": "NL",
                "order_total_eur": "40.00",
            }
        )
        lines.append(
            {
                "order_line_id": f"{order_id}-1",
                "order_id": order_id,
                "line_number": 1,
                "sku": "P1-OS",
                "quantity": 1,
                "unit_price_eur": "40.00",
                "discount_eur": "0.00",
            }
        )
        if i % 3 == 2 or i >= DAYS - 3:  # not every order is returned
            continue
        requested = ordered + timedelta(days=4)
        exchange = i % 7 == 0
        returns.append(
            {
                "rma_id": f"R{i:04d}",
                "order_id": order_id,
                "order_line_id": f"{order_id}-1",
                "sku": "P1-OS",
                "quantity": 1,
                "reason_code": "CHANGED_MIND",
                "requested_at": _ts(requested),
                "inspected_at": _ts(requested + timedelta(days=6)) if exchange else "",
                "resolution": "exchange" if exchange else "refund",
            }
        )
    last_order = datetime.fromisoformat(orders[-1]["ordered_at"])
    for n, (rma, (status, days_before, resolution, inspected)) in enumerate(STATUS_RETURNS.items()):
        order_id = f"O9{n:03d}"
        ordered = last_order - timedelta(days=days_before + 4)
        requested = ordered + timedelta(days=4)
        orders.append(
            {
                "order_id": order_id,
                "customer_id": "C1",
                "ordered_at": _ts(ordered),
                "channel": "web",
                "shipping_country": "NL",
                "order_total_eur": "40.00",
            }
        )
        lines.append(
            {
                "order_line_id": f"{order_id}-1",
                "order_id": order_id,
                "line_number": 1,
                "sku": "P1-OS",
                "quantity": 1,
                "unit_price_eur": "40.00",
                "discount_eur": "0.00",
            }
        )
        returns.append(
            {
                "rma_id": rma,
                "order_id": order_id,
                "order_line_id": f"{order_id}-1",
                "sku": "P1-OS",
                "quantity": 1,
                "reason_code": "CHANGED_MIND",
                "requested_at": _ts(requested),
                "inspected_at": _ts(requested + timedelta(days=1)) if inspected else "",
                "resolution": resolution,
                "status": status,
            }
        )
    write(root / "shop" / "orders_2025.csv", "orders", orders)
    write(root / "shop" / "order_lines_2025.csv", "order_lines", lines)
    write(root / "returns" / "returns_2025.csv", "returns", returns)
    return root


@pytest.fixture(scope="module")
def stateless_shop(tmp_path_factory) -> dict:
    """The shop loaded and built once (models, seeds and their data tests, as the pipeline
    builds; the unit tests run once in test_dbt_lint.py)."""
    tmp = tmp_path_factory.mktemp("return_states")
    landing = write_shop_without_processing_timestamps(tmp / "landing")
    warehouse = tmp / "warehouse.duckdb"
    load(landing, warehouse)
    build = dbt(
        [
            "build",
            "--select",
            "+sig_review_queue +kpi_return_processing_times +rpt_return_states "
            "+rpt_unmapped_return_statuses +rpt_source_availability",
            "--indirect-selection",
            "cautious",  # no tests on models outside the selection
            "--exclude-resource-type",
            "unit_test",
        ],
        warehouse,
        tmp / "target",
    )
    return {"landing": landing, "warehouse": warehouse, "build": build, "tmp": tmp}


def _build_ok(shop: dict) -> None:
    build = shop["build"]
    failing = [ln for ln in build.stdout.splitlines() if " FAIL " in ln or " ERROR " in ln]
    assert build.returncode == 0, "\n".join(failing) or build.stdout[-3000:]


def _files(landing: Path) -> tuple[list[dict], list[dict], datetime]:
    orders = read_csv(landing / "shop" / "orders_2025.csv")
    returns = read_csv(landing / "returns" / "returns_2025.csv")
    as_of = max(
        datetime.fromisoformat(t)
        for t in [r["ordered_at"] for r in orders] + [r["requested_at"] for r in returns]
    )
    return orders, returns, as_of


def expected_queue_and_stale(landing: Path) -> tuple[set[tuple[str, str]], list[dict]]:
    """The review queue's (rma_id, order_line_id) and the stale return rows, from the files."""
    _, returns, as_of = _files(landing)
    max_age = timedelta(days=RETURN_WINDOW_DAYS + SLACK_DAYS)

    def timestamp_rule(r: dict) -> str:
        if r["resolution"] == "exchange" and r["inspected_at"]:
            return "closed"
        return "open" if as_of - datetime.fromisoformat(r["requested_at"]) <= max_age else "stale"

    plain = [r for r in returns if r["rma_id"] not in STATUS_RETURNS]  # no status at all
    assert plain and not any(r["status"] for r in plain)
    queue = {(r["rma_id"], r["order_line_id"]) for r in plain if timestamp_rule(r) == "open"}
    queue |= {
        (r["rma_id"], r["order_line_id"])
        for r in returns
        if EXPECTED_STATES.get(r["rma_id"], ("",))[0] == "open"
    }
    stale = [r for r in plain if timestamp_rule(r) == "stale"]
    stale += [r for r in returns if EXPECTED_STATES.get(r["rma_id"], ("",))[0] == "stale"]
    # the case is what it should be: a year of returns, most of them long past any processing
    assert len(plain) > 200 and len(stale) > 150
    assert 20 < len(queue) < 60
    return queue, stale


def test_defect12_10_review_queue_holds_only_plausibly_open_returns(stateless_shop):
    _build_ok(stateless_shop)
    _, returns, _ = _files(stateless_shop["landing"])
    assert all(r["received_at"] == "" and r["refunded_at"] == "" for r in returns)
    expected, stale = expected_queue_and_stale(stateless_shop["landing"])

    queue = query(
        stateless_shop["warehouse"], "select rma_id, order_line_id from marts.sig_review_queue"
    )
    assert len(queue) == len(set(queue))
    assert set(queue) == expected

    # stale returns: counted per request month, never queued
    by_month: dict[date, int] = {}
    for r in stale:
        month = datetime.fromisoformat(r["requested_at"]).date().replace(day=1)
        by_month[month] = by_month.get(month, 0) + 1
    got = query(
        stateless_shop["warehouse"],
        "select requested_month_start_date, stale_lines from marts.rpt_return_states "
        "where stale_lines > 0 order by 1",
    )
    assert got == sorted(by_month.items())
    totals = query(
        stateless_shop["warehouse"],
        "select sum(return_lines), sum(open_lines), sum(stale_lines) from marts.rpt_return_states",
    )
    assert totals == [(len(returns), len(expected), sum(by_month.values()))]


def test_status_drives_a_returns_state_and_unknown_statuses_are_listed(stateless_shop):
    _build_ok(stateless_shop)
    rows = query(
        stateless_shop["warehouse"],
        "select rma_id, source_status, return_state, return_state_rule, is_open, is_stale "
        "from marts.fct_returns where rma_id like 'RS%' order by rma_id",
    )
    got = {r[0]: r[1:] for r in rows}
    assert sorted(got) == sorted(STATUS_RETURNS)
    for rma, (state, rule) in EXPECTED_STATES.items():
        assert got[rma] == (
            _n(STATUS_RETURNS[rma][0]) or None,
            state,
            rule,
            state == "open",
            state == "stale",
        ), rma
    steps = dict(
        query(
            stateless_shop["warehouse"],
            "select rma_id, return_status from marts.sig_review_queue where rma_id like 'RS%'",
        )
    )
    assert steps == EXPECTED_STEPS

    unknown = query(
        stateless_shop["warehouse"],
        "select source_status, return_lines, open_lines, closed_lines, stale_lines "
        "from marts.rpt_unmapped_return_statuses order by 1",
    )
    expected = []
    for status, n in sorted(UNKNOWN_STATUSES.items()):
        states = [EXPECTED_STATES[r][0] for r, v in STATUS_RETURNS.items() if _n(v[0]) == status]
        assert len(states) == n
        expected.append((status, n, *(states.count(s) for s in ("open", "closed", "stale"))))
    assert unknown == expected


def _n(status: str) -> str:
    return " ".join(status.lower().replace("_", " ").replace("-", " ").split())


def test_processing_time_marts_not_available_without_processing_timestamps(
    stateless_shop, tmp_path
):
    _build_ok(stateless_shop)
    warehouse = stateless_shop["warehouse"]
    assert query(warehouse, "select count(*) from marts.kpi_return_processing_times") == [(0,)]
    status = query(
        warehouse,
        "select landing_source, is_optional, is_delivered, marts_affected, message "
        "from marts.rpt_source_availability where entity = 'processing_timestamps'",
    )
    assert status == [("returns", True, False, "kpi_return_processing_times", NOT_AVAILABLE)]
    assert query(
        warehouse, "select message from marts.rpt_source_availability where entity = 'returns'"
    ) == [("delivered",)]

    suites = ["kpi_return_processing_times", "rpt_return_states", "sig_review_queue"]
    out = run_gates(
        [EXPECTATIONS_DIR / f"{s}.json" for s in suites],
        warehouse,
        "run-1",
        docs_dir=tmp_path / "docs",
    )
    results = {r.suite: r for r, _, _ in out}
    times = results["kpi_return_processing_times"]
    assert times.passed and times.skipped == NOT_AVAILABLE
    assert results["sig_review_queue"].passed, results["sig_review_queue"].summary()
    # stale returns over their tolerated share: a warning that names the figures and the
    # setting, not a failed run
    states = results["rpt_return_states"]
    assert states.passed and not states.failures, states.summary()
    (warning,) = states.warnings
    _, returns, _ = _files(stateless_shop["landing"])
    _, stale = expected_queue_and_stale(stateless_shop["landing"])
    text = warning.describe()
    assert f"{len(stale)} of {len(returns)} return lines" in text
    assert "open_return_slack_days" in text and "stale_return_tolerance_share" in text
