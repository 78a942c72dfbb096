"""Keep-it advice (sig_keep_it_advice) equals an independent computation from the landing files
and the cost seed, and is never applied to a customer with abuse signals.

Per return line, the saving of a keep-it is the return label + receiving and inspecting +
refurbishment - the value the goods recovered (docs/kpis.md, "Keep-it advice"); the cost
components come from the independent computation of tests/integration/test_return_costs.py
(Python csv and Decimal), the window and the advice rule are applied here by hand. The line's
standard reason and its customer's risk flag are read from fct_returns and
sig_customer_return_risk, which their own tests check.

The demo shop plants keep-it products (returnlens/demo/keep_it.py): a few often-returned
products made cheap, and look-alike controls where the take-back clearly pays; the generator's
ground truth ("keep_it") states each one's judged lines and expected saving, computed from the
cost seed's documented defaults. Both its shop (demo_landing) and the e2e run's are checked."""

from __future__ import annotations

import csv
import json
import shutil
from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal

import duckdb
import pytest

from tests.integration.test_referential_defects import dbt
from tests.integration.test_return_costs import (
    SEED,
    ZERO,
    Parameters,
    _cents,
    expected_return_lines,
)

pytestmark = pytest.mark.integration

WINDOW_DAYS = 90
MIN_LINES = 5


def _landing_returns(landing) -> dict[tuple[str, str], dict]:
    out = {}
    for path in sorted((landing / "returns").glob("returns_*.csv")):
        with path.open(encoding="utf-8", newline="") as fh:
            for row in csv.DictReader(fh):
                out[(row["rma_id"], row["order_line_id"])] = row
    return out


def _as_of_date(landing) -> date:
    """The latest order or return request in the landing files (the data's as-of date)."""
    moments = [r["requested_at"] for r in _landing_returns(landing).values()]
    for path in (landing / "shop").glob("orders_*.csv"):
        with path.open(encoding="utf-8", newline="") as fh:
            moments.extend(r["ordered_at"] for r in csv.DictReader(fh))
    return date.fromisoformat(max(moments)[:10])


def expected_advice(landing, reasons: dict, risky: set) -> dict[tuple[str, str], dict]:
    """Expected rows of sig_keep_it_advice keyed by (product_id, reason)."""
    params = Parameters(SEED)
    rate = params.by("handling_hourly_rate", "default")
    raw = _landing_returns(landing)
    as_of = _as_of_date(landing)
    first_day = as_of - timedelta(days=WINDOW_DAYS - 1)
    rows: dict[tuple[str, str], dict] = defaultdict(
        lambda: {"lines": 0, "units": 0, "saving": ZERO, "eligible": ZERO, "risky": 0}
    )
    for line in expected_return_lines(landing):
        r = raw[line["key"]]
        shipped_back = line["return_label_eur"] or (
            r["resolution"] != "keep_it" and r["disposition"]
        )
        requested = date.fromisoformat(r["requested_at"][:10])
        if not (
            shipped_back
            and r["disposition"]
            and line["product"] != "unknown"
            and first_day <= requested <= as_of
        ):
            continue
        minutes = sum(
            (
                params.by("handling_minutes", step, None)
                for step, ts in (("receive", r["received_at"]), ("inspect", r["inspected_at"]))
                if ts
            ),
            Decimal(0),
        )
        saving = (
            line["return_label_eur"]
            + _cents(minutes * rate / 60)
            + line["refurbishment_eur"]
            - line["value_recovered_eur"]
        )
        is_risky = reasons[line["key"]][1] in risky
        for reason in ("all", reasons[line["key"]][0] or "unknown"):
            row = rows[(line["product"], reason)]
            row["lines"] += 1
            row["units"] += line["units_returned"]
            row["saving"] += saving
            row["risky"] += is_risky
            row["eligible"] += ZERO if is_risky else saving
    for row in rows.values():
        row["advised"] = row["lines"] >= MIN_LINES and row["saving"] > 0
        row["applied"] = row["eligible"] if row["advised"] else ZERO
        row["window"] = (first_day, as_of)
    return rows


def _facts(con) -> tuple[dict, set]:
    reasons = {
        (rma, line): (reason, customer)
        for rma, line, reason, customer in con.execute(
            "select rma_id, order_line_id, reason, customer_key from marts.fct_returns"
        ).fetchall()
    }
    risky = {
        key
        for (key,) in con.execute(
            "select customer_key from marts.sig_customer_return_risk where is_risky"
        ).fetchall()
    }
    return reasons, risky


def _published(con) -> dict[tuple[str, str], dict]:
    cursor = con.execute(
        "select product_id, reason, window_start_date, window_end_date, assessed_lines, "
        "assessed_units, keep_it_saving_eur, is_keep_it_advised, risky_customer_lines, "
        "saving_if_applied_eur from marts.sig_keep_it_advice"
    )
    names = [d[0] for d in cursor.description]
    return {(r[0], r[1]): dict(zip(names, r, strict=True)) for r in cursor.fetchall()}


def test_keep_it_advice_equals_the_landing_files_and_the_seed(pipeline_run):
    assert pipeline_run.success
    with duckdb.connect(str(pipeline_run.serving), read_only=True) as con:
        reasons, risky = _facts(con)
        got = _published(con)
    want = expected_advice(pipeline_run.landing, reasons, risky)
    assert want, "the demo shop has return lines in the keep-it window"
    assert set(got) == set(want), (
        f"only in the mart {sorted(set(got) - set(want))[:5]}, "
        f"only expected {sorted(set(want) - set(got))[:5]}"
    )
    for key, row in want.items():
        published = got[key]
        assert (published["window_start_date"], published["window_end_date"]) == row["window"]
        assert published["assessed_lines"] == row["lines"], key
        assert published["assessed_units"] == row["units"], key
        assert published["keep_it_saving_eur"] == row["saving"], key
        assert published["is_keep_it_advised"] == row["advised"], key
        assert published["risky_customer_lines"] == row["risky"], key
        assert published["saving_if_applied_eur"] == row["applied"], key
    # the demo holds both outcomes: products where keep-it pays and where the take-back does
    assert {r["advised"] for r in want.values()} == {True, False}


def test_keep_it_is_never_advised_for_a_customer_with_abuse_signals(pipeline_run, tmp_path):
    """With the evidence rule relaxed to one line (so many slices are advised) and the
    customers of some paying lines flagged risky on a warehouse copy (so risky customers' lines
    do sit in advised products, whatever the demo's draw), the saving of every advised slice
    leaves every line of a risky customer out, and equals the sum over the other customers'."""
    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copy(pipeline_run.warehouse, warehouse)
    with duckdb.connect(str(warehouse)) as con:
        con.execute(
            "update marts.sig_customer_return_risk set is_risky = true where customer_key in ("
            "select customer_key from intermediate.int_return_lines_assessed_for_keep_it "
            "where keep_it_saving_eur > 0 and customer_key is not null "
            "order by rma_id, order_line_id limit 10)"
        )
    result = dbt(
        [
            "run",
            "--select",
            "int_return_lines_assessed_for_keep_it sig_keep_it_advice",
            "--vars",
            "{keep_it_min_lines: 1}",
        ],
        warehouse,
        tmp_path / "target",
    )
    assert result.returncode == 0, result.stdout[-2000:]
    with duckdb.connect(str(warehouse), read_only=True) as con:
        risky_lines_in_advised = con.execute(
            "select count(*) from intermediate.int_return_lines_assessed_for_keep_it l "
            "join marts.sig_keep_it_advice a on a.product_id = l.product_id "
            "and a.reason = 'all' and a.is_keep_it_advised where l.is_risky_customer"
        ).fetchone()[0]
        assert risky_lines_in_advised > 0, "the check needs risky customers in advised products"
        wrong = con.execute(
            "select a.product_id, a.reason, a.saving_if_applied_eur, "
            "coalesce(sum(l.keep_it_saving_eur) filter (where not l.is_risky_customer), 0) "
            "from marts.sig_keep_it_advice a "
            "join intermediate.int_return_lines_assessed_for_keep_it l "
            "on a.product_id = l.product_id and a.reason in ('all', l.reason) "
            "where a.is_keep_it_advised group by all "
            "having a.saving_if_applied_eur <> coalesce("
            "sum(l.keep_it_saving_eur) filter (where not l.is_risky_customer), 0)"
        ).fetchall()
        assert not wrong, wrong[:5]


# ------------------------------------------------------------------ the planted keep-it products
def _truth(landing) -> dict:
    return json.loads((landing / "ground_truth.json").read_text())["keep_it"]


def test_the_generator_truth_equals_the_landing_files(demo_landing):
    """The keep-it truth of the demo shop (seed 7, scale 0.3) equals the computation from its
    landing files and the seed (the product rows: no warehouse needed for them), and it plants
    what it promises: keep-it clearly cheaper on the planted products, clearly not on the
    controls, each with enough lines in the window."""
    truth = _truth(demo_landing)
    products = truth["products"]
    planted = {p for p, t in products.items() if t["role"] == "keep_it"}
    controls = {p for p, t in products.items() if t["role"] == "control"}
    assert len(planted) == 3 and len(controls) == 3, products
    assert set(truth["advised"]) == planted and set(truth["not_advised"]) == controls
    reasons = defaultdict(lambda: (None, None))  # product rows only: no reason, nobody risky
    want = expected_advice(demo_landing, reasons, set())
    for product, t in products.items():
        row = want[(product, "all")]
        assert row["window"] == (
            date.fromisoformat(truth["window_start_date"]),
            date.fromisoformat(truth["as_of_date"]),
        )
        assert t["judged_lines"] == row["lines"] >= MIN_LINES + 1, product
        assert t["judged_units"] == row["units"], product
        assert Decimal(str(t["expected_saving_eur"])) == row["saving"], product
        assert t["must_be_advised"] == row["advised"] == (product in planted), product
        per_line = t["expected_saving_per_line_eur"]
        assert per_line >= 2.0 if product in planted else per_line <= -10.0, (product, per_line)


def test_the_planted_keep_it_products_are_advised_and_the_controls_not(pipeline_run):
    """On the e2e shop (seed 11, scale 0.1), every planted product is advised with the saving
    per line the generator expects, and no control is. Tolerance: none beyond the float of the
    ratio: the generator computes every line's saving in whole cents with the documented
    rounding (half up per component, the label's odd cents on the smallest order line id), so
    the lines, units and the slice's saving are equal exactly and the per-line saving (a double,
    the truth's rounded to 6 decimals) within 1e-6 EUR."""
    assert pipeline_run.success
    truth = _truth(pipeline_run.landing)
    products = truth["products"]
    assert len(truth["advised"]) == 3 and len(truth["not_advised"]) == 3, products
    with duckdb.connect(str(pipeline_run.serving), read_only=True) as con:
        got = {
            r[0]: r[1:]
            for r in con.execute(
                "select product_id, assessed_lines, assessed_units, keep_it_saving_eur, "
                "keep_it_saving_per_line_eur, is_keep_it_advised, saving_if_applied_eur, "
                "window_start_date, window_end_date "
                "from marts.sig_keep_it_advice where reason = 'all' and product_id in ?",
                [list(products)],
            ).fetchall()
        }
    assert set(got) == set(products)
    for product, t in products.items():
        lines, units, saving, per_line, advised, applied, start, end = got[product]
        assert (str(start), str(end)) == (truth["window_start_date"], truth["as_of_date"])
        assert (lines, units) == (t["judged_lines"], t["judged_units"]), product
        assert saving == Decimal(str(t["expected_saving_eur"])), product
        assert abs(per_line - t["expected_saving_per_line_eur"]) < 1e-6, product
        assert advised is (product in truth["advised"]) is t["must_be_advised"], product
        assert advised or applied == 0, product
    assert all(products[p]["expected_saving_per_line_eur"] <= -10 for p in truth["not_advised"])
