"""Orders in another currency than the shop's reporting currency (issue 13, multi-currency):
a tiny hand-written landing folder (EUR and SEK orders, a rates file with a quarantined zero
rate, an inexact rate and a duplicate day, lines and returns) loaded with the real loader and
built with real dbt; the GX gate run on the result.

Expected figures are computed here from the landing files with Python's csv module and
Decimal (ROUND_HALF_UP), with a rate lookup of its own, never from the models under test.
"""

from __future__ import annotations

import csv
import json
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from pathlib import Path

import pytest
import yaml

from returnlens.ingest import contracts
from returnlens.profile import dbt_vars, read_profile
from returnlens.quality.gates import EXPECTATIONS_DIR
from returnlens.quality.history import run_gate
from tests.integration.test_referential_defects import _write_csv, dbt, load, query

pytestmark = pytest.mark.integration

MAX_AGE_DAYS = 7  # dbt var exchange_rate_max_age_days (dbt_project.yml default)
CENT = Decimal("0.01")

# order id, currency ("" = the reporting currency), ordered_at, lines (sku, qty, price, discount)
ORDERS = (
    (
        "O1",
        "EUR",
        "2026-03-02 09:00:00",
        [("P1-OS", 2, "19.99", "1.00"), ("P2-OS", 1, "5.00", "0.00")],
    ),
    ("O2", "", "2026-03-03 12:00:00", [("P1-OS", 1, "24.95", "2.50")]),
    (
        "O3",
        "SEK",
        "2026-03-02 10:00:00",
        [("P1-OS", 1, "249.00", "12.34"), ("P2-OS", 3, "99.95", "0.00")],
    ),
    # 03-04 (zero) and 03-05 (13 decimals) are quarantined: 03-03's rate converts it
    (
        "O4",
        "SEK",
        "2026-03-05 15:00:00",
        [("P1-OS", 1, "30.00", "0.00"), ("P2-OS", 2, "1234.56", "100.00")],
    ),
    # a Sunday: Friday's rate (the first row of the duplicated day)
    ("O5", "SEK", "2026-03-08 11:00:00", [("P1-OS", 1, "499.00", "49.90")]),
    ("O6", "SEK", "2026-03-09 23:30:00", [("P2-OS", 1, "75.50", "0.00")]),
    # 11 days after the last rate: cannot be converted within 7 days
    ("O7", "SEK", "2026-03-20 08:00:00", [("P1-OS", 1, "100.00", "0.00")]),
)
RATES = (
    ("2026-03-02", "SEK", "0.089011526993"),
    ("2026-03-03", "SEK", "0.0895"),
    ("2026-03-04", "SEK", "0"),  # not above 0: quarantined
    ("2026-03-05", "SEK", "0.0891234567891"),  # 13 decimals: quarantined, never rounded
    ("2026-03-06", "SEK", "0.090123456789"),
    ("2026-03-06", "SEK", "0.5"),  # duplicate key: the first row wins
    ("2026-03-09", "SEK", "0.088765432101"),
    ("2026-03-09", "EUR", "2"),  # the reporting currency never takes a rate
)
# rma, order line, quantity, refund ("" = not refunded yet)
RETURNS = (
    ("R1", "O1-1", 1, "18.99"),
    ("R2", "O3-1", 1, "236.66"),
    ("R3", "O4-2", 1, "1134.56"),
    ("R4", "O7-1", 1, "100.00"),
    ("R5", "O5-1", 1, ""),
)


def write_shop(root: Path) -> Path:
    cols = {e.name: [c.name for c in e.columns] for e in contracts.ENTITIES}
    _write_csv(
        root / "shop" / "customers.csv",
        cols["customers"],
        [
            [
                "C1",
                "Test",
                "Person",
                "p@example.invalid",
                "",
                "Gatan 1",
                "11122",
                "Stockholm",
                "SE",
                "2025-01-01 09:00:00",
            ]
        ],
    )
    _write_csv(
        root / "shop" / "products.csv",
        cols["products"],
        [
            [
                sku,
                sku[:2],
                f"Product {sku}",
                "home",
                "glass",
                "one-size",
                "clear",
                "S1",
                "20.00",
                "8.00",
                "300",
            ]
            for sku in ("P1-OS", "P2-OS")
        ],
    )
    orders, lines = [], []
    for order_id, currency, at, order_lines in ORDERS:
        total = sum(q * Decimal(p) - Decimal(d) for _, q, p, d in order_lines)
        orders.append([order_id, "C1", "", at, "web", "SE", "", "", f"{total:.2f}", currency])
        for n, (sku, q, price, discount) in enumerate(order_lines, start=1):
            lines.append([f"{order_id}-{n}", order_id, n, sku, q, price, discount, ""])
    _write_csv(root / "shop" / "orders_2026-03.csv", cols["orders"], orders)
    _write_csv(root / "shop" / "order_lines_2026-03.csv", cols["order_lines"], lines)
    skus = {f"{o}-{n}": sku for o, _, _, ls in ORDERS for n, (sku, *_) in enumerate(ls, start=1)}
    _write_csv(
        root / "returns" / "returns_2026-03.csv",
        cols["returns"],
        [
            [
                rma,
                line.split("-")[0],
                line,
                skus[line],
                q,
                "SIZE_TOO_SMALL",
                "",
                "2026-03-21 10:00:00",
                "",
                "",
                "2026-03-25 10:00:00" if refund else "",
                "",
                "",
                "refund",
                refund,
                "",
            ]
            for rma, line, q, refund in RETURNS
        ],
    )
    _write_csv(root / "exchange_rates" / "exchange_rates_2026.csv", cols["exchange_rates"], RATES)
    profile = {
        "shop": {"name": "Tiny two-currency shop", "reporting_currency": "EUR"},
        "values": {"currency": {"closed": ["EUR", "SEK"]}},
    }
    (root / "returnlens.yml").write_text(yaml.safe_dump(profile), encoding="utf-8")
    return root


# ------------------------------------------------------ expectations, from the files alone


def _rows(path: Path) -> list[dict]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def _exact_rate(text: str) -> Decimal | None:
    """The rate as the contract reads it: decimal(18,12) exactly and above 0, else None."""
    try:
        rate = Decimal(text)
    except InvalidOperation:
        return None
    if rate <= 0 or rate.as_tuple().exponent < -12 or abs(rate) >= Decimal(10) ** 6:
        return None
    return rate


def expected_rates(landing: Path, reporting: str) -> dict[str, tuple[str, Decimal | None]]:
    """order id -> (currency, rate or None when no rate lies within MAX_AGE_DAYS)."""
    rates: dict[tuple[str, date], Decimal] = {}
    for r in _rows(landing / "exchange_rates" / "exchange_rates_2026.csv"):
        key = (r["currency"], date.fromisoformat(r["rate_date"]))
        rate = _exact_rate(r["reporting_currency_per_unit"])
        if rate is not None and key not in rates:  # the first row of a key wins
            rates[key] = rate
    out = {}
    for o in _rows(landing / "shop" / "orders_2026-03.csv"):
        currency = o["currency"] or reporting
        day = datetime.fromisoformat(o["ordered_at"]).date()
        if currency == reporting:
            out[o["order_id"]] = (currency, Decimal(1))
            continue
        found = None
        for age in range(MAX_AGE_DAYS + 1):  # the latest on or before, at most 7 days old
            found = rates.get((currency, day - timedelta(days=age)))
            if found is not None:
                break
        out[o["order_id"]] = (currency, found)
    return out


def _convert(amount: Decimal, rate: Decimal) -> Decimal:
    return (amount * rate).quantize(CENT, rounding=ROUND_HALF_UP)


@pytest.fixture(scope="module")
def two_currency_shop(tmp_path_factory) -> dict:
    """Loaded with the real loader under the folder's profile, built with real dbt (the
    models and data tests the two facts and the conversion report need; no unit tests)."""
    tmp = tmp_path_factory.mktemp("fx")
    landing = write_shop(tmp / "landing")
    warehouse = tmp / "warehouse.duckdb"
    mp = pytest.MonkeyPatch()
    mp.delenv("RETURNLENS_PROFILE", raising=False)
    try:
        load(landing, warehouse)
    finally:
        mp.undo()
    profile = read_profile(landing / "returnlens.yml")
    build = dbt(
        [
            "build",
            "--select",
            "+fct_order_lines +fct_returns +rpt_currency_conversions",
            "--indirect-selection",
            "cautious",
            "--exclude-resource-type",
            "unit_test",
            "--vars",
            json.dumps(dbt_vars(profile)),
        ],
        warehouse,
        tmp / "target",
    )
    return {
        "landing": landing,
        "warehouse": warehouse,
        "build": build,
        "tmp": tmp,
        "profile": profile,
    }


def test_exchange_rates_load_exactly_or_are_quarantined(two_currency_shop):
    (audit,) = query(
        two_currency_shop["warehouse"],
        "select rows_in, rows_loaded, rows_quarantined from raw.load_audit "
        "where entity = 'exchange_rates'",
    )
    assert audit[0] == len(RATES) and audit[0] == audit[1] + audit[2]
    reasons = query(
        two_currency_shop["warehouse"],
        "select file_row_number, reason from raw.quarantine_rows where entity = 'exchange_rates' "
        "order by 1",
    )
    assert [n for n, _ in reasons] == [3, 4, 6]
    assert "reporting_currency_per_unit not above 0" in reasons[0][1]
    assert "reporting_currency_per_unit" in reasons[1][1]
    assert "duplicate" in reasons[2][1].lower()
    # every SEK order loaded: the profile lists SEK
    assert query(two_currency_shop["warehouse"], "select count(*) from raw.orders") == [
        (len(ORDERS),)
    ]


def test_order_lines_are_converted_half_up_per_amount_and_keep_the_original(two_currency_shop):
    build = two_currency_shop["build"]
    assert build.returncode == 0, build.stdout[-4000:]
    landing = two_currency_shop["landing"]
    rates = expected_rates(landing, "EUR")
    assert rates["O4"][1] == Decimal("0.0895") and rates["O5"][1] == Decimal("0.090123456789")
    assert rates["O7"][1] is None
    expected = set()
    for line in _rows(landing / "shop" / "order_lines_2026-03.csv"):
        currency, rate = rates[line["order_id"]]
        if rate is None:
            continue  # held back with its order
        q, price, discount = (
            int(line["quantity"]),
            Decimal(line["unit_price_eur"]),
            Decimal(line["discount_eur"]),
        )
        price_eur, discount_eur = _convert(price, rate), _convert(discount, rate)
        expected.add(
            (
                line["order_line_id"],
                currency,
                rate,
                price_eur,
                discount_eur,
                q * price_eur - discount_eur,
                price,
                discount,
                q * price - discount,
            )
        )
    actual = set(
        query(
            two_currency_shop["warehouse"],
            "select order_line_id, currency_code, exchange_rate, unit_price_eur, discount_eur, "
            "line_amount_eur, unit_price_original, discount_original, line_amount_original "
            "from marts.fct_order_lines",
        )
    )
    assert actual == expected
    # a half cent rounds up: 30.00 SEK x 0.0895 = 2.685 -> 2.69 (half-even would give 2.68)
    assert ("O4-1", Decimal("2.69")) in {(a[0], a[3]) for a in actual}
    # the reporting currency is untouched
    for row in actual:
        if row[1] == "EUR":
            assert row[3:6] == row[6:9]


def test_refunds_convert_with_their_orders_rate(two_currency_shop):
    landing = two_currency_shop["landing"]
    rates = expected_rates(landing, "EUR")
    expected = set()
    for r in _rows(landing / "returns" / "returns_2026-03.csv"):
        currency, rate = rates[r["order_id"]]
        if rate is None:
            continue
        original = Decimal(r["refund_amount_eur"]) if r["refund_amount_eur"] else None
        converted = _convert(original, rate) if original is not None else None
        expected.add((r["rma_id"], r["order_line_id"], currency, rate, converted, original))
    actual = set(
        query(
            two_currency_shop["warehouse"],
            "select rma_id, order_line_id, currency_code, exchange_rate, refund_amount_eur, "
            "refund_amount_original from marts.fct_returns",
        )
    )
    assert actual == expected
    assert {"R2", "R3"} <= {a[0] for a in actual} and "R4" not in {a[0] for a in actual}


def test_an_order_without_a_rate_is_held_back_and_blocks_the_publish_saying_what_to_do(
    two_currency_shop, tmp_path
):
    warehouse = two_currency_shop["warehouse"]
    held = query(
        warehouse,
        "select (select count(*) from marts.fct_order_lines where order_id = 'O7'), "
        "(select count(*) from marts.fct_returns where order_id = 'O7')",
    )
    assert held == [(0, 0)]  # never summed unconverted
    (row,) = query(
        warehouse,
        "select orders, converted_orders, orders_without_rate, order_lines_held_back, status "
        "from marts.rpt_currency_conversions where currency_code = 'SEK'",
    )
    sek = [o for o in ORDERS if o[1] == "SEK"]
    assert row == (len(sek), len(sek) - 1, 1, 1, "missing_rates")

    suite = EXPECTATIONS_DIR / "rpt_currency_conversions.json"
    result, _, _ = run_gate(suite, warehouse, "fx", docs_dir=tmp_path / "docs")
    assert not result.passed
    (failure,) = result.failures
    (message,) = failure.examples
    assert "1 orders in SEK dated 2026-03-20" in message
    assert "shop/orders_2026-03.csv" in message  # the file
    assert "rates delivered from 2026-03-02 to 2026-03-09" in message  # the problem
    assert "exchange_rates/exchange_rates*.csv" in message  # what to do
    assert "exchange_rate_max_age_days" in message  # the setting
