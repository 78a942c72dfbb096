"""Regression tests for the publish-blocking defects of issue 12 (1-3) and the missing-period
gate of issue 11 (defect 2), each on a small landing set run through the real loader, real dbt
and the real Great Expectations gates.

Expected figures are computed here from the landing files this module writes (Python's csv
module and plain arithmetic), never from the models under test.
"""

from __future__ import annotations

import csv
import json
import math
import os
import shutil
import statistics
import subprocess
from collections import Counter, defaultdict
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path

import duckdb
import pytest

from returnlens.config import PROJECT_ROOT
from returnlens.dbt_runner import dbt_executable
from returnlens.ingest import contracts
from returnlens.ingest.loader import load_all
from returnlens.quality.gates import EXPECTATIONS_DIR
from returnlens.quality.history import run_gate
from tests.integration.reference_stats import benjamini_hochberg, upper_p_value

pytestmark = pytest.mark.integration

WEEK_1 = date(2026, 3, 2)  # a Monday
WEEK_2 = date(2026, 3, 9)
RETURN_WINDOW_DAYS = 30  # dbt var return_window_days (dbt_project.yml)
FDR_Q = 0.05  # signal_var quality_fdr_q
MIN_LIFT = 1.5  # signal_var quality_min_lift
HIGH_LIFT = 2.0  # signal_var quality_high_lift
MIN_LINES = 30  # signal_var quality_min_lines
MIN_RETURNS = 5  # signal_var quality_min_returns

# A supplier (SUPM) whose products span two categories, and one single-category supplier in each
# of them. (supplier, category, subcategory, products, lines per product, returned per product)
PRODUCT_GROUPS = (
    ("SUPM", "apparel", "dresses", ["MA1", "MA2", "MA3", "MA4", "MA5", "MA6"], 10, [5] * 6),
    ("SUPM", "home", "glass", ["MB1", "MB2"], 10, [5, 5]),
    ("SUPA", "apparel", "dresses", ["A1", "A2", "A3", "A4"], 25, [3, 3, 2, 2]),
    ("SUPB", "home", "glass", ["B1", "B2", "B3", "B4"], 25, [8, 8, 7, 7]),
)


# ----------------------------------------------------------------------------- landing set


def _write_csv(path: Path, header: list[str], rows: list[list]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)


def _ts(d: date, hour: int = 10) -> str:
    return datetime(d.year, d.month, d.day, hour).strftime("%Y-%m-%d %H:%M:%S")


# the free text of the orphan return: it names customer C07 ("Test Person7"); with the order
# unknown nobody's name can be masked, so the text must never reach a mart
ORPHAN_TEXT = "gekocht voor Test Person7, valt veel te klein"


def write_tiny_shop(root: Path, *, orphans: bool) -> Path:
    """A hand-made shop of 280 order lines in two weeks; with `orphans`, also a customer and a
    product whose rows are quarantined (each with an order line) and an open return whose order
    line is not in the shop export."""
    for source in contracts.SOURCES:
        (root / source).mkdir(parents=True, exist_ok=True)
    cols = {e.name: [c.name for c in e.columns] for e in contracts.ENTITIES}
    _write_csv(
        root / "purchasing" / "suppliers.csv",
        cols["suppliers"],
        [[s, f"Supplier {s}", "NL", 14] for s in ("SUPM", "SUPA", "SUPB")],
    )
    customers = [
        [
            f"C{i:02d}",
            "Test",
            f"Person{i}",
            f"p{i}@example.invalid",
            "",
            "Teststraat 1",
            "1000",
            "Teststad",
            "NL",
            "2025-01-01 09:00:00",
        ]
        for i in range(1, 21)
    ]
    products = [
        [f"{p}-OS", p, f"Product {p}", cat, sub, "one-size", "black", sup, "20.00", "8.00", "300"]
        for sup, cat, sub, names, _, _ in PRODUCT_GROUPS
        for p in names
    ]
    orders, lines, returns = [], [], []
    n = 0
    for _sup, _cat, _sub, names, per_product, returned in PRODUCT_GROUPS:
        for product, k_returned in zip(names, returned, strict=True):
            for i in range(per_product):
                n += 1
                order_id = f"O{n:04d}"
                day = (WEEK_1 if i % 2 == 0 else WEEK_2) + timedelta(days=i % 5)
                orders.append(
                    [
                        order_id,
                        f"C{(n % 20) + 1:02d}",
                        "",
                        _ts(day),
                        "web",
                        "NL",
                        _ts(day, 18),
                        _ts(day + timedelta(days=2)),
                        "20.00",
                    ]
                )
                lines.append(
                    [f"{order_id}-1", order_id, 1, f"{product}-OS", 1, "20.00", "0.00", ""]
                )
                if i < k_returned:
                    asked = day + timedelta(days=5)
                    returns.append(
                        [
                            f"R{n:04d}",
                            order_id,
                            f"{order_id}-1",
                            f"{product}-OS",
                            1,
                            "CHANGED_MIND",
                            "",
                            _ts(asked),
                            _ts(asked + timedelta(days=2)),
                            _ts(asked + timedelta(days=3)),
                            _ts(asked + timedelta(days=4)),
                            "as_new",
                            "restock",
                            "refund",
                            "20.00",
                        ]
                    )
    if orphans:
        # a customer whose created_at is not a timestamp: quarantined; its order stays
        customers.append(
            [
                "C21",
                "Test",
                "Person21",
                "p21@example.invalid",
                "",
                "Teststraat 1",
                "1000",
                "Teststad",
                "NL",
                "yesterday",
            ]
        )
        orders.append(["O0901", "C21", "", _ts(WEEK_2), "web", "NL", "", "", "20.00"])
        lines.append(["O0901-1", "O0901", 1, "A1-OS", 1, "20.00", "0.00", ""])
        # a product whose price is not a number: quarantined; its order line stays
        products.append(
            [
                "X1-OS",
                "X1",
                "Product X1",
                "home",
                "glass",
                "one-size",
                "black",
                "SUPB",
                "n/a",
                "8.00",
                "300",
            ]
        )
        orders.append(["O0902", "C01", "", _ts(WEEK_2), "web", "NL", "", "", "20.00"])
        lines.append(["O0902-1", "O0902", 1, "X1-OS", 1, "20.00", "0.00", ""])
        # a return of the quarantined product's line (its sku is not in the product export)
        returns.append(
            [
                "R9998",
                "O0902",
                "O0902-1",
                "X1-OS",
                1,
                "DEFECTIVE",
                "",
                _ts(WEEK_2),
                "",
                "",
                "",
                "",
                "",
                "refund",
                "",
            ]
        )
        # an NPS answer of the quarantined customer, about its order, and one about an order
        # the shop never exported
        # the shop's other answers (its first 98 orders) keep both shares within tolerance
        nps = [
            ["N1", "C21", "O0901", "post_delivery", _ts(WEEK_2), 8, 4, ""],
            ["N2", "C01", "O0999", "post_delivery", _ts(WEEK_2), 9, 5, ""],
        ] + [
            [f"N{i + 3}", o[1], o[0], "post_delivery", o[3], 7, 4, ""]
            for i, o in enumerate(orders[:98])
        ]
        _write_csv(
            root / "surveys" / "nps_2026-03.csv",
            [
                "response_id",
                "customer_id",
                "order_id",
                "touchpoint",
                "responded_at",
                "score",
                "rating",
                "comment",
            ],
            nps,
        )
        # an open return (nothing received, nothing refunded) of a line the shop never exported
        returns.append(
            [
                "R9999",
                "O9999",
                "O9999-1",
                "MA1-OS",
                1,
                "",
                ORPHAN_TEXT,
                _ts(WEEK_2),
                "",
                "",
                "",
                "",
                "",
                "refund",
                "",
            ]
        )
    _write_csv(root / "shop" / "customers.csv", cols["customers"], customers)
    _write_csv(root / "shop" / "products.csv", cols["products"], products)
    # rows without the optional currency column (the reporting currency)
    orders_header = [c for c in cols["orders"] if c != "currency"]
    _write_csv(root / "shop" / "orders_2026-03.csv", orders_header, orders)
    _write_csv(root / "shop" / "order_lines_2026-03.csv", cols["order_lines"], lines)
    # rows without the optional status column
    header = [c for c in cols["returns"] if c != "status"]
    _write_csv(root / "returns" / "returns_2026-03.csv", header, returns)
    return root


def read_csv(path: Path) -> list[dict]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


# ----------------------------------------------------------------------------- real stack

MODELS_ONLY = ("--resource-type", "model", "--resource-type", "seed")  # no data tests


def load(landing: Path, warehouse: Path) -> None:
    con = duckdb.connect(str(warehouse))
    try:
        load_all(con, landing)
    finally:
        con.close()


def dbt(args: list[str], warehouse: Path, target: Path) -> subprocess.CompletedProcess:
    """Run the project's dbt against `warehouse`, with a private target folder."""
    env = {
        **os.environ,
        "RETURNLENS_WAREHOUSE": str(warehouse),
        "DBT_TARGET_PATH": str(target),
        "DBT_LOG_PATH": str(target / "logs"),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }
    return subprocess.run(
        [
            dbt_executable(),
            *args,
            "--project-dir",
            str(PROJECT_ROOT),
            "--profiles-dir",
            str(PROJECT_ROOT),
        ],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def query(warehouse: Path, sql: str, params: list | None = None) -> list[tuple]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(sql, params or []).fetchall()


def wilson_lower(successes: int, trials: int, z: float) -> float:
    p = successes / trials
    centre = p + z * z / (2 * trials)
    spread = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials))
    return (centre - spread) / (1 + z * z / trials)


def wilson_upper(successes: int, trials: int, z: float) -> float:
    p = successes / trials
    centre = p + z * z / (2 * trials)
    spread = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials))
    return (centre + spread) / (1 + z * z / trials)


# --------------------------------------------------------------- issue 12, defect 1


def expected_supplier_return_rate_alerts(landing: Path) -> list[dict]:
    """The supplier-level return-rate rule recomputed from the files (docs/signals.md): per
    order week, every supplier with enough lines by then is tested one-sided for "rate above
    its baseline x the lift" (its baseline is the rest of each of its categories, weighted by
    its order lines there, as of that week) and Benjamini-Hochberg runs over those suppliers;
    an alert holds in the latest week, since the first week of its unbroken run."""
    products = {r["sku"]: r for r in read_csv(landing / "shop" / "products.csv")}
    orders = {r["order_id"]: r for r in read_csv(landing / "shop" / "orders_2026-03.csv")}
    returned = {r["order_line_id"] for r in read_csv(landing / "returns" / "returns_2026-03.csv")}
    per = defaultdict(Counter)  # week -> (supplier, category, lines|returned) -> count
    for line in read_csv(landing / "shop" / "order_lines_2026-03.csv"):
        product = products[line["sku"]]
        ordered = datetime.fromisoformat(orders[line["order_id"]]["ordered_at"]).date()
        week = ordered - timedelta(days=ordered.weekday())
        key = (product["supplier_id"], product["category"])
        per[week][(*key, "lines")] += 1
        per[week][(*key, "returned")] += line["order_line_id"] in returned

    def verdicts(upto) -> dict[str, dict]:
        lines, rets = Counter(), Counter()
        for week, counts in per.items():
            if week <= upto:
                for (supplier, cat, what), n in counts.items():
                    (lines if what == "lines" else rets)[(supplier, cat)] += n
        out = {}
        for supplier in sorted({s for s, _ in lines}):
            cats = {c: n for (s, c), n in lines.items() if s == supplier}
            trials = sum(cats.values())
            if trials < MIN_LINES:
                continue  # not tested: not in the family
            expected = sum(
                n
                * sum(v for (s, c), v in rets.items() if c == cat and s != supplier)
                / sum(v for (s, c), v in lines.items() if c == cat and s != supplier)
                for cat, n in cats.items()
            )
            successes = sum(rets[(supplier, c)] for c in cats)
            out[supplier] = {
                "successes": successes,
                "trials": trials,
                "baseline": expected / trials,
                "p": upper_p_value(successes, trials, min(1.0, expected / trials * MIN_LIFT)),
                "category": sorted(cats.items(), key=lambda kv: (-kv[1], kv[0]))[0][0],
            }
        q = benjamini_hochberg({k: v["p"] for k, v in out.items()})
        for k, v in out.items():
            v["holds"] = q[k] <= FDR_Q and v["successes"] >= MIN_RETURNS
        return out

    weeks = sorted(per)
    by_week = {w: verdicts(w) for w in weeks}
    latest = by_week[weeks[-1]]
    alerts = []
    for supplier, v in latest.items():
        if not v["holds"]:
            continue
        since = None
        for week in weeks:
            held = by_week[week].get(supplier, {}).get("holds", False)
            since = (since or week) if held else None
        rate = v["successes"] / v["trials"]
        alerts.append(
            {
                "alert_id": f"supplier:{supplier}:return_rate",
                "subject_id": supplier,
                "supplier_id": supplier,
                "category": v["category"],
                "successes": v["successes"],
                "trials": v["trials"],
                "rate": rate,
                "rate_lower_95": wilson_lower(v["successes"], v["trials"], 1.96),
                "rate_upper_95": wilson_upper(v["successes"], v["trials"], 1.96),
                "baseline_rate": v["baseline"],
                "since_week_start_date": since,
                "severity": "high" if rate >= v["baseline"] * HIGH_LIFT else "medium",
            }
        )
    return alerts


ALERT_COLUMNS = (
    "alert_id, subject_level, subject_id, supplier_id, category, alert_rule, successes, trials, "
    "rate, rate_lower_95, rate_upper_95, baseline_rate, since_week_start_date, severity, "
    "baseline_scope"
)


def test_defect12_1_quality_alerts_are_exact_and_repeatable_when_a_supplier_spans_categories(
    tmp_path,
):
    landing = write_tiny_shop(tmp_path / "landing", orphans=False)
    warehouse = tmp_path / "warehouse.duckdb"
    load(landing, warehouse)
    expected = expected_supplier_return_rate_alerts(landing)
    # the case is what it should be: one multi-category supplier, far above its mix baseline
    assert [a["alert_id"] for a in expected] == ["supplier:SUPM:return_rate"]
    assert expected[0]["successes"] == 40 and expected[0]["trials"] == 80
    assert expected[0]["baseline_rate"] == pytest.approx((60 * 0.1 + 20 * 0.3) / 80)
    assert expected[0]["since_week_start_date"] == WEEK_1

    outputs = []
    for attempt in range(2):
        run = dbt(
            ["build", "--select", "+sig_quality_alerts", *MODELS_ONLY],
            warehouse,
            tmp_path / "target",
        )
        assert run.returncode == 0, run.stdout[-3000:]
        outputs.append(
            query(warehouse, f"select {ALERT_COLUMNS} from marts.sig_quality_alerts order by 1")
        )
        if attempt == 0:
            per_subject = query(
                warehouse,
                "select subject_level, subject_id, alert_rule, count(*) "
                "from intermediate.int_quality_rules_evaluated group by all having count(*) > 1",
            )
            assert per_subject == [], "one row per subject and rule"
    assert outputs[0] == outputs[1], "two builds of the same data gave different alerts"

    got = [
        dict(zip([c.strip() for c in ALERT_COLUMNS.split(",")], r, strict=True)) for r in outputs[0]
    ]
    assert [g["alert_id"] for g in got] == [a["alert_id"] for a in expected]
    for g, e in zip(got, expected, strict=True):
        assert g["subject_level"] == "supplier" and g["alert_rule"] == "return_rate"
        assert g["baseline_scope"] == "category"
        for key in ("subject_id", "supplier_id", "category", "successes", "trials", "severity"):
            assert g[key] == e[key], key
        assert g["since_week_start_date"] == e["since_week_start_date"]
        for key in ("rate", "rate_lower_95", "rate_upper_95", "baseline_rate"):
            assert g[key] == pytest.approx(e[key], rel=1e-9), key
    supplier_rows = query(
        warehouse,
        "select supplier_id, category, order_lines, returned_lines from marts.sig_supplier_quality "
        "order by 1",
    )
    assert supplier_rows == [
        ("SUPA", "apparel", 100, 10),
        ("SUPB", "home", 100, 30),
        ("SUPM", "apparel", 80, 40),
    ]


# ------------------------------------------------------- issue 12, defects 2 and 3


@pytest.fixture(scope="module")
def orphan_shop(tmp_path_factory) -> dict:
    """The tiny shop with a quarantined customer, a quarantined product and an orphan open
    return, loaded and built with `dbt build` as the pipeline builds (models and data tests;
    the unit tests run once in test_dbt_lint.py)."""
    tmp = tmp_path_factory.mktemp("orphans")
    landing = write_tiny_shop(tmp / "landing", orphans=True)
    warehouse = tmp / "warehouse.duckdb"
    load(landing, warehouse)
    build = dbt(["build", "--exclude-resource-type", "unit_test"], warehouse, tmp / "target")
    return {"landing": landing, "warehouse": warehouse, "build": build, "tmp": tmp}


def _valid_timestamp(text: str) -> bool:
    try:
        datetime.fromisoformat(text)
    except ValueError:
        return False
    return True


def _valid_decimal(text: str) -> bool:
    try:
        Decimal(text)
    except InvalidOperation:
        return False
    return True


def expected_orphans(landing: Path) -> dict[str, tuple[int, int]]:
    """orphan kind -> (orphan rows, rows), from the files."""
    customers = {
        r["customer_id"]
        for r in read_csv(landing / "shop" / "customers.csv")
        if _valid_timestamp(r["created_at"])
    }
    skus = {
        r["sku"]
        for r in read_csv(landing / "shop" / "products.csv")
        if _valid_decimal(r["list_price_eur"])
    }
    orders = read_csv(landing / "shop" / "orders_2026-03.csv")
    lines = read_csv(landing / "shop" / "order_lines_2026-03.csv")
    returns = read_csv(landing / "returns" / "returns_2026-03.csv")
    line_ids = {r["order_line_id"] for r in lines}
    return {
        "orders_without_customer": (
            sum(r["customer_id"] not in customers for r in orders),
            len(orders),
        ),
        "order_lines_without_product": (sum(r["sku"] not in skus for r in lines), len(lines)),
        "return_lines_without_order_line": (
            sum(r["order_line_id"] not in line_ids for r in returns),
            len(returns),
        ),
    }


def test_defect12_2_3_orphans_do_not_block_the_build(orphan_shop):
    build = orphan_shop["build"]
    failing = [ln for ln in build.stdout.splitlines() if " FAIL " in ln or " ERROR " in ln]
    assert build.returncode == 0, "\n".join(failing) or build.stdout[-3000:]


def test_defect12_2_open_return_without_known_order_line_is_kept_flagged_and_counted(
    orphan_shop,
):
    warehouse = orphan_shop["warehouse"]
    returns = read_csv(orphan_shop["landing"] / "returns" / "returns_2026-03.csv")
    orphan = next(r for r in returns if r["rma_id"] == "R9999")
    assert orphan["refunded_at"] == "" and orphan["received_at"] == ""
    queue = query(
        warehouse,
        "select rma_id, order_line_id, has_known_order_line, return_status "
        "from marts.sig_review_queue order by rma_id",
    )
    open_in_files = [r for r in returns if r["refunded_at"] == ""]
    assert [q[0] for q in queue] == sorted(r["rma_id"] for r in open_in_files)
    assert ("R9999", "O9999-1", False, "awaiting_receipt") in queue
    assert all(q[2] for q in queue if q[0] != "R9999")
    kept = query(
        warehouse,
        "select rma_id, has_known_order_line, is_open from marts.fct_returns "
        "where order_line_id = 'O9999-1'",
    )
    assert kept == [("R9999", False, True)]
    orphans, total = expected_orphans(orphan_shop["landing"])["return_lines_without_order_line"]
    row = query(
        warehouse,
        "select orphan_rows, total_rows, orphan_share, status from marts.rpt_referential_integrity "
        "where orphan_kind = 'return_lines_without_order_line'",
    )
    assert row == [(orphans, total, pytest.approx(orphans / total), "ok")]
    assert orphans == 1


def test_defect12_3_quarantined_customer_and_product_degrade_and_are_counted(orphan_shop):
    warehouse = orphan_shop["warehouse"]
    expected = expected_orphans(orphan_shop["landing"])
    assert expected["orders_without_customer"][0] == 1
    assert expected["order_lines_without_product"][0] == 1
    rows = {
        r[0]: r[1:]
        for r in query(
            warehouse,
            "select orphan_kind, orphan_rows, total_rows, orphan_share, tolerance_share, status "
            "from marts.rpt_referential_integrity",
        )
    }
    # the documented defaults (docs/kpis.md): 5 % for returns ahead of the shop export, else 2 %
    tolerance = {"return_lines_without_order_line": 0.05}
    for kind, (orphans, total) in expected.items():
        got = rows[kind]
        assert got[:2] == (orphans, total), kind
        assert got[2] == pytest.approx(orphans / total), kind
        assert got[3] == tolerance.get(kind, 0.02), kind
        assert got[4] == ("ok" if orphans / total <= got[3] else "over_tolerance"), kind
    # kept and flagged in the marts: the order line of the quarantined customer and the line of
    # the quarantined product are both in fct_order_lines
    lines = query(
        warehouse,
        "select order_line_id, has_known_customer, product_id, category "
        "from marts.fct_order_lines where order_line_id in ('O0901-1', 'O0902-1') order by 1",
    )
    assert lines == [("O0901-1", False, "A1", "apparel"), ("O0902-1", True, None, "unknown")]
    customers = query(
        warehouse,
        "select has_customer_record, orders from marts.dim_customers "
        "where customer_key = (select customer_key from marts.fct_order_lines "
        "where order_line_id = 'O0901-1')",
    )
    assert customers == [(False, 1)]


def test_defect12_3_orphan_share_gate_passes_within_and_fails_over_its_tolerance(
    orphan_shop, tmp_path
):
    suite = EXPECTATIONS_DIR / "rpt_referential_integrity.json"
    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copy(orphan_shop["warehouse"], warehouse)
    result, _, _ = run_gate(suite, warehouse, "within", docs_dir=tmp_path / "docs")
    assert result.passed, result.summary()

    # a shop that tolerates fewer orphans: 1 order of 282 without its customer is too many
    orphans, total = expected_orphans(orphan_shop["landing"])["orders_without_customer"]
    tolerance = 0.001
    assert orphans / total > tolerance
    run = dbt(
        [
            "run",
            "--select",
            "rpt_referential_integrity",
            "--vars",
            json.dumps({"orphan_tolerance_orders_without_customer": tolerance}),
        ],
        warehouse,
        tmp_path / "target",
    )
    assert run.returncode == 0, run.stdout[-3000:]
    result, _, _ = run_gate(suite, warehouse, "over", docs_dir=tmp_path / "docs")
    assert not result.passed
    (failure,) = result.failures
    (message,) = failure.examples
    assert f"{orphans} of {total}" in message
    assert "orphan_tolerance_orders_without_customer" in message  # the setting that changes it
    assert "customers" in message  # what to check


# ---------------------------------------------------------------- issue 11, defect 2


def _month(ts: str) -> str:
    return ts[:7]


def cohort_figures(landing: Path) -> dict[str, tuple[int, int]]:
    """order month -> (orders, orders with a returned line), from the landing files."""
    ordered = {}
    for path in sorted((landing / "shop").glob("orders_*.csv")):
        for r in read_csv(path):
            ordered[r["order_id"]] = _month(r["ordered_at"])
    line_order = {}
    for path in sorted((landing / "shop").glob("order_lines_*.csv")):
        for r in read_csv(path):
            if r["order_id"] in ordered:
                line_order[r["order_line_id"]] = r["order_id"]
    returned_orders = set()
    for path in sorted((landing / "returns").glob("returns_*.csv")):
        for r in read_csv(path):
            if r["order_line_id"] in line_order:
                returned_orders.add(line_order[r["order_line_id"]])
    orders = Counter(ordered.values())
    with_return = Counter(ordered[o] for o in returned_orders)
    return {m: (orders[m], with_return[m]) for m in sorted(orders)}


def test_defect11_2_completeness_gate_passes_on_the_complete_shop(pipeline_run, tmp_path):
    assert pipeline_run.success
    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copy(pipeline_run.warehouse, warehouse)
    suite = EXPECTATIONS_DIR / "rpt_return_completeness.json"
    result, _, _ = run_gate(suite, warehouse, "complete", docs_dir=tmp_path / "docs")
    assert result.passed, result.summary()
    mature = query(
        warehouse,
        "select count(*) from marts.rpt_return_completeness where is_mature",
    )[0][0]
    assert mature >= 3  # the gate had something to compare


def test_defect11_2_a_month_of_missing_returns_fails_the_gate_naming_the_month(
    pipeline_run, tmp_path
):
    landing = tmp_path / "landing"
    shutil.copytree(pipeline_run.landing, landing)
    returns_files = sorted((landing / "returns").glob("returns_*.csv"))
    removed = returns_files[len(returns_files) // 2]
    month = removed.stem.split("_")[-1]  # returns_YYYY-MM.csv: returns requested in that month
    # delivered in a format the returns contract does not read: the rows never reach raw
    removed.rename(removed.with_suffix(".xlsx"))
    figures = cohort_figures(landing)
    sold, returned = figures[month]
    complete = cohort_figures(pipeline_run.landing)
    assert returned < 0.5 * statistics.median(r / s for s, r in complete.values()) * sold

    warehouse = tmp_path / "warehouse.duckdb"
    load(landing, warehouse)
    run = dbt(
        ["build", "--select", "+rpt_return_completeness", *MODELS_ONLY],
        warehouse,
        tmp_path / "target",
    )
    assert run.returncode == 0, run.stdout[-3000:]
    result, _, _ = run_gate(
        EXPECTATIONS_DIR / "rpt_return_completeness.json",
        warehouse,
        "gap",
        docs_dir=tmp_path / "docs",
    )
    assert not result.passed
    messages = [m for f in result.failures for m in f.examples]
    ours = [m for m in messages if month in m]
    assert ours, messages
    assert f"{returned} of {sold} orders had a return" in ours[0]
    assert "returns" in ours[0] and "file" in ours[0]  # what to check


def test_defect12_3_a_quarantined_product_does_not_fail_the_raw_order_line_gate(
    orphan_shop, tmp_path
):
    """The raw suites no longer repeat the referential checks with hard-coded shares (one
    quarantined product among few order lines failed raw_order_lines); the share is gated once,
    with its setting, by rpt_referential_integrity."""
    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copy(orphan_shop["warehouse"], warehouse)
    orphans, total = expected_orphans(orphan_shop["landing"])["order_lines_without_product"]
    assert orphans / total > 0.001  # above what the old raw_order_lines gate allowed
    for suite in ("raw_order_lines", "raw_returns"):
        result, _, _ = run_gate(
            EXPECTATIONS_DIR / f"{suite}.json", warehouse, "orphans", docs_dir=tmp_path / "docs"
        )
        assert result.passed, result.summary()


def test_the_text_of_a_return_without_a_known_order_is_mapped_but_never_published(orphan_shop):
    """Found by the PII scan once a ';' returns file loaded: free-text masking masks the names of
    the return's own customer, found through its order; a return whose order is unknown passed
    any name in its text (here another customer's) to fct_returns, rpt_unmapped_reason_texts
    and the serving copy. Its reason is still mapped from the text; the text is not published."""
    warehouse = orphan_shop["warehouse"]
    customers = read_csv(orphan_shop["landing"] / "shop" / "customers.csv")
    named = next(c for c in customers if f"{c['first_name']} {c['last_name']}" in ORPHAN_TEXT)
    row = query(
        warehouse,
        "select reason, reason_source, reason_text_normalised from marts.fct_returns "
        "where rma_id = 'R9999'",
    )
    assert row == [("size_too_small", "reason_keywords", None)]
    for relation, column in (
        ("marts.fct_returns", "reason_text_normalised"),
        ("marts.rpt_unmapped_reason_texts", "reason_text_normalised"),
    ):
        leaked = query(
            warehouse,
            f"select count(*) from {relation} where contains(lower({column}), ?)",
            [named["last_name"].lower()],
        )
        assert leaked == [(0,)], relation
    # nor is it on disk outside raw: the tables of the intermediate layer that map reasons
    # (tables since issue 16) keep no text of a writer who is unknown; the views compute it
    tables = query(
        warehouse,
        "select schema_name, table_name, list(column_name order by column_name) "
        "from duckdb_columns() where schema_name not in ('raw', 'main') "
        "and data_type = 'VARCHAR' and not internal and table_name in "
        "(select table_name from duckdb_tables() where schema_name = duckdb_columns.schema_name) "
        "group by all order by all",
    )
    assert ("intermediate", "int_return_lines_mapped_to_reasons") in {t[:2] for t in tables}
    on_disk = []
    with duckdb.connect(str(warehouse), read_only=True) as con:
        for schema, table, columns in tables:
            hit = " or ".join(f'contains(lower("{c}"), ?)' for c in columns)
            (n,) = con.execute(
                f'select count(*) from "{schema}"."{table}" where {hit}',
                [named["last_name"].lower()] * len(columns),
            ).fetchone()
            on_disk += [f"{schema}.{table}"] if n else []
    assert on_disk == [], f"the unknown writer's text is stored in {on_disk}"
    assert query(
        warehouse,
        "select reason, reason_text, reason_text_normalised, is_writer_known "
        "from intermediate.int_return_lines_mapped_to_reasons where rma_id = 'R9999'",
    ) == [("size_too_small", None, None, False)]
