"""The change log (stg_loader__changed_orders): what each run lists, per scenario.

A tiny hand-written shop is loaded with the real loader and built with real dbt (the log, and
fct_order_lines and fct_returns, whose previous build the log reads for erased customers),
planned by `returnlens.incremental.plan_build` and recorded by `record_built`, as the
pipeline's dbt step does. Run a: the shop as first delivered (the log lists nothing: the first
build is full). Between a and b a customer is forgotten. Run b: a new day (an order and its
line), a late return for a February order, the March order lines re-delivered with one line
removed and one quantity changed (its order shares an RMA with another order), the customers
export re-delivered with a new customer whose e-mail an e-mail-keyed order names, a late SEK
rate, a production batch's row changed, a return withdrawn from a re-delivered returns file
and a late NPS answer. Run b2: no new file.

Then the review's findings of increment 2 (docs/plans/incremental-facts.md, "Open work for
increment 3"). Before run c a customer whose order is keyed by her e-mail is forgotten and a
return matched to its order by the order's id written as a name ('#O14') is withdrawn; run c
is an alert run (the `returns_alerts` job's dbt selection, here restricted to the facts the
log looks things up in), which rebuilds the facts (H1). Before run d a customer sharing an
e-mail with another changes her e-mail, and a customer sharing another e-mail is forgotten:
the orders keyed by those e-mails now resolve (H2); and an order arrives whose shop name is
the reference a return was delivered with, so the return moves to it from the order it was
matched to by id (M1). Run d is a main run.

The expected rows are written out by hand from the landing rows below, never read from the
models.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
from datetime import date
from pathlib import Path

import duckdb
import pytest
import yaml

from returnlens.ingest import contracts
from returnlens.ingest.loader import load_all
from returnlens.ingest.privacy import forget_customer
from returnlens.profile import dbt_vars, read_profile
from tests.integration.test_referential_defects import dbt

pytestmark = pytest.mark.integration

SALT = "a-salt-for-the-change-log-test-0123456789"
LOG = "staging.stg_loader__changed_orders"
SELECT = "+fct_order_lines +fct_returns stg_loader__changed_orders"
INCREMENTAL_SELECTED = (
    "stg_loader__changed_orders",
    "stg_shop__orders",
    "int_order_lines_joined_to_returns",
    "fct_order_lines",
    "fct_returns",
)
COLS = {e.name: [c.name for c in e.columns] for e in contracts.ENTITIES}


def pseudonym(email: str) -> str:
    """The customer_id the Shopify admin export's adapter gives an order of this e-mail."""
    return "email-" + hashlib.sha256((SALT + email.strip().lower()).encode()).hexdigest()[:20]


def customer(cid: str, email: str) -> dict:
    return {
        "customer_id": cid, "first_name": "Test", "last_name": f"Person{cid}", "email": email,
        "phone": "", "street": "Straat 1", "postal_code": "1234AB", "city": "Utrecht",
        "country_code": "NL", "created_at": "2025-01-01 09:00:00",
    }  # fmt: skip


def order(oid: str, cid: str, day: str, currency: str = "EUR") -> dict:
    return {
        "order_id": oid, "customer_id": cid, "session_id": "", "ordered_at": f"{day} 10:00:00",
        "channel": "web", "shipping_country": "NL", "shipped_at": "", "delivered_at": "",
        "order_total_eur": "20.00", "currency": currency,
    }  # fmt: skip


def line(lid: str, sku: str = "A", quantity: int = 1, batch: str = "") -> dict:
    return {
        "order_line_id": lid, "order_id": lid.split("-")[0], "line_number": lid.split("-")[1],
        "sku": sku, "quantity": quantity, "unit_price_eur": "20.00", "discount_eur": "0.00",
        "batch_id": batch,
    }  # fmt: skip


def return_line(rma: str, lid: str, day: str) -> dict:
    row = dict.fromkeys(COLS["returns"], "")
    return row | {
        "rma_id": rma, "order_id": lid.split("-")[0], "order_line_id": lid, "sku": "A",
        "quantity": 1, "reason_code": "SIZE_TOO_SMALL", "requested_at": f"{day} 12:00:00",
        "resolution": "refund",
    }  # fmt: skip


def batch(units: int) -> dict:
    return {
        "batch_id": "B1", "product_id": "PA", "supplier_id": "S1",
        "received_date": "2026-02-15", "units_received": units,
    }  # fmt: skip


def referenced_return(rma: str, reference: str, day: str) -> dict:
    """A return line as a returns platform names it: its own line id, the order by the
    reference it was given, the sku (stg_returns__order_line_matches finds the line)."""
    return return_line(rma, "O0-1", day) | {"order_line_id": f"SC-{rma}", "order_id": reference}


def write(path: Path, entity: str, rows: list[dict], extra: tuple[str, ...] = ()) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=[*COLS[entity], *extra])
        writer.writeheader()
        writer.writerows(rows)


CUSTOMERS = [
    customer(c, e)
    for c, e in [("C1", "one@x.test"), ("C2", "two@x.test"), ("C4", "four@x.test"),
                 ("C5", "five@x.test"), ("C6", "six@x.test"), ("C8", "eight@x.test"),
                 ("C9", "nine@x.test"), ("C11", "eleven@x.test"), ("C15", "shared@x.test"),
                 ("C16", "shared@x.test"), ("C17", "pair@x.test"), ("C18", "pair@x.test")]
]  # fmt: skip
MARCH_LINES = [
    line("O1-1", batch="B1"), line("O1-2", sku="B"), line("O2-1"), line("O3-1"), line("O4-1"),
    line("O5-1"), line("O6-1"), line("O7-1"), line("O9-1"),
]  # fmt: skip


MAY_RETURNS = [
    referenced_return("R12", "#O12", "2026-05-10"),
    referenced_return("R14", "#O14", "2026-05-12"),
]


def write_shop(landing: Path) -> None:
    """The shop as first delivered (run a)."""
    write(landing / "shop" / "customers.csv", "customers", CUSTOMERS)
    products = [
        {"sku": sku, "product_id": f"P{sku}", "product_name": f"Product {sku}",
         "category": "home", "subcategory": "glass", "size": "one-size", "colour": "clear",
         "supplier_id": "S1", "list_price_eur": "20.00", "unit_cost_eur": "8.00", "weight_g": 300}
        for sku in ("A", "B")
    ]  # fmt: skip
    write(landing / "shop" / "products.csv", "products", products)
    write(landing / "shop" / "orders_2026-02.csv", "orders", [order("O8", "C8", "2026-02-01")])
    write(landing / "shop" / "order_lines_2026-02.csv", "order_lines", [line("O8-1")])
    march = [
        order("O1", "C1", "2026-03-01"),
        order("O2", "C2", "2026-03-02"),
        order("O3", pseudonym("three@x.test"), "2026-03-03"),  # no such customer yet
        order("O4", "C4", "2026-03-05", "SEK"),  # no SEK rate within 7 days yet: held back
        order("O5", "C5", "2026-03-20", "SEK"),
        order("O6", "C6", "2026-03-06"),
        order("O7", pseudonym("six@x.test"), "2026-03-07"),  # resolves to C6
        order("O9", "C9", "2026-03-09"),
    ]
    write(landing / "shop" / "orders_2026-03.csv", "orders", march)
    write(landing / "shop" / "order_lines_2026-03.csv", "order_lines", MARCH_LINES)
    returns = [
        return_line("R1", "O1-1", "2026-03-10"),
        return_line("R3", "O2-1", "2026-03-12"),  # one RMA, two orders
        return_line("R3", "O9-1", "2026-03-12"),
    ]
    write(landing / "returns" / "returns_2026-03.csv", "returns", returns)
    write(landing / "purchasing" / "batches.csv", "production_batches", [batch(100)])
    # for runs c and d: O11 keyed by C11's e-mail, O15 and O17 by e-mails two customers share
    # (unresolved), returns R12 and R14 delivered with '#O12' and '#O14', matched to O12 and O14
    # by their ids (a leading '#' ignored when no order has that name)
    may = [
        order("O11", pseudonym("eleven@x.test"), "2026-05-01"),
        order("O12", "C1", "2026-05-02"),
        order("O14", "C1", "2026-05-04"),
        order("O15", pseudonym("shared@x.test"), "2026-05-05"),
        order("O17", pseudonym("pair@x.test"), "2026-05-07"),
    ]
    write(landing / "shop" / "orders_2026-05.csv", "orders", may)
    may_lines = [line(f"{o['order_id']}-1") for o in may]
    write(landing / "shop" / "order_lines_2026-05.csv", "order_lines", may_lines)
    write(landing / "returns" / "returns_2026-05.csv", "returns", MAY_RETURNS)
    rates = [{"rate_date": "2026-03-18", "currency": "SEK", "reporting_currency_per_unit": "0.09"}]
    write(landing / "exchange_rates" / "exchange_rates_2026-03-18.csv", "exchange_rates", rates)
    profile = {
        "shop": {"name": "Change log shop", "reporting_currency": "EUR"},
        "values": {"currency": {"closed": ["EUR", "SEK"]}},
    }
    (landing / "returnlens.yml").write_text(yaml.safe_dump(profile), encoding="utf-8")


def deliver_day_b(landing: Path) -> None:
    """What arrives between a and b (see the module docstring)."""
    write(landing / "shop" / "orders_2026-04.csv", "orders", [order("O10", "C1", "2026-04-01")])
    write(landing / "shop" / "order_lines_2026-04.csv", "order_lines", [line("O10-1")])
    late = [return_line("R2", "O8-1", "2026-04-01")]
    write(landing / "returns" / "returns_late_2026-04-01.csv", "returns", late)
    redelivered = [
        line("O2-1", quantity=2) if r["order_line_id"] == "O2-1" else r
        for r in MARCH_LINES
        if r["order_line_id"] != "O1-2"
    ]
    write(landing / "shop" / "order_lines_2026-03.csv", "order_lines", redelivered)
    with (landing / "shop" / "customers.csv").open(encoding="utf-8", newline="") as fh:
        now = list(csv.DictReader(fh))  # as forget-customer left it (C6 scrubbed)
    write(landing / "shop" / "customers.csv", "customers", [*now, customer("C3", "three@x.test")])
    rates = [{"rate_date": "2026-03-04", "currency": "SEK", "reporting_currency_per_unit": "0.09"}]
    write(landing / "exchange_rates" / "exchange_rates_2026-03-04.csv", "exchange_rates", rates)
    write(landing / "purchasing" / "batches.csv", "production_batches", [batch(90)])
    returns = [
        return_line("R3", "O2-1", "2026-03-12"),
        return_line("R3", "O9-1", "2026-03-12"),
    ]  # R1 withdrawn
    write(landing / "returns" / "returns_2026-03.csv", "returns", returns)
    answer = {
        "response_id": "N1", "customer_id": "C5", "order_id": "O5", "touchpoint": "post_delivery",
        "responded_at": "2026-04-02 08:00:00", "score": 9, "rating": "", "comment": "",
    }  # fmt: skip
    write(landing / "surveys" / "nps_2026-04.csv", "nps_responses", [answer])


def deliver_before_alerts(landing: Path) -> None:
    """Between b2 and the alert run c: R14 withdrawn (C11 is forgotten by the fixture)."""
    write(landing / "returns" / "returns_2026-05.csv", "returns", MAY_RETURNS[:1])


def deliver_before_d(landing: Path) -> None:
    """Between c and the main run d (C17 is forgotten by the fixture)."""
    with (landing / "shop" / "customers.csv").open(encoding="utf-8", newline="") as fh:
        now = list(csv.DictReader(fh))  # as forget-customer left it (C6, C11, C17 scrubbed)
    moved = [r | {"email": "sixteen@x.test"} if r["customer_id"] == "C16" else r for r in now]
    write(landing / "shop" / "customers.csv", "customers", moved)
    o13 = order("O13", "C1", "2026-06-01") | {"name": "#O12"}
    write(landing / "shop" / "orders_2026-06.csv", "orders", [o13], extra=("name",))
    write(landing / "shop" / "order_lines_2026-06.csv", "order_lines", [line("O13-1")])


def build_by_hand_after_a_new_order(landing: Path, warehouse: Path, target: Path) -> dict:
    """After the runs: order O20 delivered and loaded, then the staged orders and the lines
    joined to returns built by hand (`dbt build`, no plan): the reads the runs recorded, and
    the models' rows of O20 after."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        kept = con.execute(
            "select count(*) from information_schema.tables "
            "where table_schema = 'returnlens_state' and table_name = 'change_log_reads'"
        ).fetchone()[0]
        reads = con.execute(
            "select count(*) from returnlens_state.change_log_reads" if kept else "select 0"
        ).fetchone()
    write(landing / "shop" / "orders_2026-07.csv", "orders", [order("O20", "C1", "2026-07-01")])
    write(landing / "shop" / "order_lines_2026-07.csv", "order_lines", [line("O20-1")])
    with duckdb.connect(str(warehouse)) as con:
        load_all(con, landing)
    profile_vars = json.dumps(dbt_vars(read_profile(landing / "returnlens.yml")))
    build = dbt(
        ["build", "--select", "stg_shop__orders int_order_lines_joined_to_returns",
         "--exclude-resource-type", "unit_test", "--vars", profile_vars],
        warehouse, target,
    )  # fmt: skip
    assert build.returncode == 0, build.stdout[-4000:]
    with duckdb.connect(str(warehouse), read_only=True) as con:
        orders = con.execute(
            "select count(*) from staging.stg_shop__orders where order_id = 'O20'"
        ).fetchone()[0]
        lines = con.execute(
            "select count(*) from intermediate.int_order_lines_joined_to_returns "
            "where order_id = 'O20'"
        ).fetchone()[0]
    return {"reads_left": reads[0], "orders": orders, "lines": lines}


# the returns_alerts job's dbt selection (orchestration/defs/automation/jobs.py), restricted
# to the facts the log looks orders up in and their ancestors on that path
ALERTS = "source:returns.returns+,+sig_quality_alerts"
ALERTS_SELECT = f"{ALERTS},+fct_order_lines {ALERTS},+fct_returns"


def selected_models(select: str, warehouse: Path, target: Path) -> set[str]:
    """The unique ids of the models a dbt selection builds (as the Dagster step passes them)."""
    listed = dbt(
        ["ls", "--resource-type", "model", "--select", select, "--output", "json",
         "--output-keys", "unique_id", "--quiet"],
        warehouse, target,
    )  # fmt: skip
    assert listed.returncode == 0, listed.stdout[-3000:]
    return {json.loads(row)["unique_id"] for row in listed.stdout.splitlines() if row.strip()}


def run(
    landing: Path,
    warehouse: Path,
    target: Path,
    select: str = SELECT,
    selected: set[str] | None = None,
) -> dict:
    """Load, plan, build and record as the pipeline's dbt step does; the log's rows after."""
    from returnlens.incremental import plan_build, record_built

    with duckdb.connect(str(warehouse)) as con:
        load_all(con, landing)
    profile_vars = json.dumps(dbt_vars(read_profile(landing / "returnlens.yml")))
    plan = plan_build(
        target / "manifest.json",
        warehouse,
        profile_vars,
        # the incremental models SELECT builds: the log and its readers
        selected=selected or {f"model.returnlens.{m}" for m in INCREMENTAL_SELECTED},
    )
    build = dbt(
        ["build", "--select", select, "--indirect-selection", "cautious",
         "--exclude-resource-type", "unit_test",
         "--vars", json.dumps({**json.loads(profile_vars), **plan.vars})],
        warehouse, target,
    )  # fmt: skip
    assert build.returncode == 0, build.stdout[-4000:]
    record_built(warehouse, plan, target / "run_results.json", target / "manifest.json")
    with duckdb.connect(str(warehouse), read_only=True) as con:
        rows = con.execute(
            f"select change_seq, order_id, cause, ordered_date, requested_date, responded_date "
            f"from {LOG}"
        ).fetchall()
        columns = [
            r[0]
            for r in con.execute(
                "select column_name from information_schema.columns where table_schema = "
                "'staging' and table_name = 'stg_loader__changed_orders' order by ordinal_position"
            ).fetchall()
        ]
    compiled = target / "compiled" / "returnlens" / "models" / "staging" / "loader"
    sql = (compiled / "stg_loader__changed_orders.sql").read_text(encoding="utf-8")
    return {"plan": plan, "rows": rows, "columns": columns, "dbt_log": build.stdout, "sql": sql}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("change_log")
    landing, warehouse, target = tmp / "landing", tmp / "warehouse.duckdb", tmp / "target"
    write_shop(landing)
    mp = pytest.MonkeyPatch()
    mp.delenv("RETURNLENS_PROFILE", raising=False)
    mp.setenv("RETURNLENS_PII_SALT", SALT)
    mp.setenv("RETURNLENS_DATA_DIR", str(tmp / "data"))
    mp.setenv("RETURNLENS_DUCKDB_THREADS", "1")
    try:
        parse = dbt(["parse"], warehouse, target)
        assert parse.returncode == 0, parse.stdout[-3000:]
        out = {"a": run(landing, warehouse, target)}
        with duckdb.connect(str(warehouse)) as con:
            forget_customer(con, "C6", landing_dir=landing)
        deliver_day_b(landing)
        out["b"] = run(landing, warehouse, target)
        out["b2"] = run(landing, warehouse, target)
        with duckdb.connect(str(warehouse)) as con:
            forget_customer(con, "C11", landing_dir=landing)
        deliver_before_alerts(landing)
        alerts = selected_models(ALERTS_SELECT, warehouse, target)
        out["c"] = run(landing, warehouse, target, ALERTS_SELECT, alerts)
        out["c"]["selected"] = alerts
        with duckdb.connect(str(warehouse)) as con:
            forget_customer(con, "C17", landing_dir=landing)
        deliver_before_d(landing)
        out["d"] = run(landing, warehouse, target)
        out["by_hand"] = build_by_hand_after_a_new_order(landing, warehouse, target)
    finally:
        mp.undo()
    return out


def listed(rows: list[tuple], seq: int) -> set[tuple]:
    return {r[1:] for r in rows if r[0] == seq}


def d(text: str) -> date:
    return date.fromisoformat(text)


LOG_KEY = "staging.stg_loader__changed_orders"


def test_the_first_run_lists_nothing(runs):
    assert runs["a"]["plan"].log_reads[LOG_KEY] == (1, None)
    assert runs["a"]["rows"] == []


def test_run_b_lists_each_changed_order_with_its_cause_and_dates(runs):
    assert runs["b"]["plan"].log_reads[LOG_KEY][0] == 2
    assert listed(runs["b"]["rows"], 2) == {
        # a new day: the order and its line
        ("O10", "order_loaded", d("2026-04-01"), None, None),
        ("O10", "order_line_loaded", d("2026-04-01"), None, None),
        # a late return for a February order: its order date and the request date
        ("O8", "return_loaded", d("2026-02-01"), d("2026-04-01"), None),
        # the March lines re-delivered: O1-2 removed, O2-1's quantity changed
        ("O1", "order_line_retracted", d("2026-03-01"), None, None),
        ("O2", "order_line_loaded", d("2026-03-02"), None, None),
        ("O2", "order_line_retracted", d("2026-03-02"), None, None),
        # O2's RMA R3 also returns a line of O9: its parcel costs are split anew
        ("O9", "rma_shared", d("2026-03-09"), None, None),
        # batch B1 changed: O1-1 was picked from it
        ("O1", "batch_loaded", d("2026-03-01"), None, None),
        # R1 (O1-1) withdrawn from the re-delivered returns file: its old request date
        ("O1", "return_retracted", d("2026-03-01"), d("2026-03-10"), None),
        # a late NPS answer about O5
        ("O5", "nps_response_loaded", d("2026-03-20"), None, d("2026-04-02")),
        # the new customer C3 has the e-mail O3 is keyed by
        ("O3", "customer_loaded", d("2026-03-03"), None, None),
        # the SEK rate of 03-04 converts orders of 03-04 to 03-11: O4, not O5 (03-20)
        ("O4", "exchange_rate_loaded", d("2026-03-05"), None, None),
        # C6 forgotten: O6 by its id, O7 by its e-mail, found in the facts built before
        ("O6", "customer_forgotten", d("2026-03-06"), None, None),
        ("O7", "customer_forgotten", d("2026-03-07"), None, None),
    }


def test_a_rerun_without_new_files_appends_nothing(runs):
    assert runs["b2"]["plan"].log_reads[LOG_KEY][0] == 3
    assert listed(runs["b2"]["rows"], 3) == set()
    # run b's rows were pruned once every reader (the facts SELECT builds) had read them
    assert runs["b2"]["rows"] == []


def test_an_alert_run_between_main_runs_leaves_no_order_unlisted(runs):
    """H1: the alert run rebuilds fct_order_lines and fct_returns, which the log reads as the
    facts built before (an erased customer's orders, a withdrawn return's order): it builds
    the log too, first, so a reader that read b2's seq finds the orders in c's or d's."""
    b2_seq = runs["b2"]["plan"].log_reads[LOG_KEY][0]
    after_b2 = {r[1:3] for name in ("c", "d") for r in runs[name]["rows"] if r[0] > b2_seq}
    # C11 forgotten: O11 is keyed by her e-mail and resolved to her until then
    assert ("O11", "customer_forgotten") in after_b2
    # R14 withdrawn: delivered as '#O14', the facts had matched it to O14
    assert ("O14", "rma_shared") in after_b2
    assert ("#O14", "return_retracted") in after_b2
    # the job's selection builds the log (an edge from the facts to it, so first)
    assert "model.returnlens.stg_loader__changed_orders" in runs["c"]["selected"]


def test_the_alert_run_lists_what_changed_since_b2(runs):
    seq = runs["c"]["plan"].log_reads[LOG_KEY][0]
    assert listed(runs["c"]["rows"], seq) == {
        ("O11", "customer_forgotten", d("2026-05-01"), None, None),
        # the withdrawn return's delivered reference, and the order it was matched to
        ("#O14", "return_retracted", None, d("2026-05-12"), None),
        ("O14", "rma_shared", d("2026-05-04"), None, None),
    }


def test_run_d_lists_orders_an_email_no_longer_shared_resolves_and_a_return_left(runs):
    """H2: O15 (shared@, C15 and C16) resolves to C15 once C16's e-mail changed; O17 (pair@,
    C17 and C18) resolves to C18 once C17 is forgotten. M1: R12 moves from O12 (matched by
    id) to O13 (named '#O12'), so O12's facts lose it."""
    seq = runs["d"]["plan"].log_reads[LOG_KEY][0]
    assert listed(runs["d"]["rows"], seq) == {
        ("O13", "order_loaded", d("2026-06-01"), None, None),
        ("O13", "order_line_loaded", d("2026-06-01"), None, None),
        ("O15", "customer_retracted", d("2026-05-05"), None, None),
        ("O17", "customer_forgotten", d("2026-05-07"), None, None),
        # R12's orders: the one the facts had, and its delivered reference (not an order)
        ("O12", "rma_shared", d("2026-05-02"), None, None),
        ("#O12", "rma_shared", None, None, None),
    }


def test_the_log_holds_order_ids_and_dates_only(runs):
    assert runs["b"]["columns"] == [
        "change_seq", "order_id", "ordered_date", "requested_date", "responded_date", "cause",
    ]  # fmt: skip
    every = [r for name in ("b", "b2", "c", "d") for r in runs[name]["rows"]]
    assert personal_values(every) == []
    assert runs["b"]["rows"], "run b lists orders: the scan above saw values"


def personal_values(rows: list[tuple]) -> list[str]:
    """The values among `rows` that look personal (the scan of the log's values)."""
    text = [str(v) for r in rows for v in r if v is not None]
    return [v for v in text if PERSONAL.search(v) or any(p in v for p in OF_THIS_SHOP)]


# a salted hash (sha256: 64 hex characters), an e-mail address, an e-mail pseudonym
PERSONAL = re.compile(r"(?<![0-9a-f])[0-9a-f]{64}(?![0-9a-f])|[^\s@]+@[^\s@]+|email-", re.I)
# this shop's forgotten customers' ids and the customers' names and streets (customer())
OF_THIS_SHOP = ("C6", "C11", "C17", "Person", "Straat")


def test_the_personal_data_scan_flags_hashes_emails_and_pseudonyms():
    """The scan above can fail: values written here by hand, each one kind it must flag."""
    salted_hash = "3f" * 32  # 64 hex characters, as a salted sha256 of a customer id
    flagged = [
        ("O1", salted_hash.upper()),
        ("O2", "jan.jansen@example.nl"),
        ("O3", pseudonym("jan.jansen@example.nl")),
    ]
    assert personal_values(flagged) == [
        salted_hash.upper(),
        "jan.jansen@example.nl",
        pseudonym("jan.jansen@example.nl"),
    ]
    # order ids, causes and dates are not flagged, a 40-character hex order id neither
    clean = [("O10", "order_loaded", date(2026, 4, 1)), ("a" * 40, "rma_shared", None)]
    assert personal_values(clean) == []


def test_the_runs_seqs_are_no_dbt_vars_so_dbt_parses_only_what_changed(runs):
    """A var that differs from the last parse's makes dbt parse the whole project again (13 s
    instead of 7 here): the seqs are read from the warehouse, the vars stay the shop's."""
    # the check sees it: run a's build has the shop's vars, the parse before it had none
    assert "Unable to do partial parsing" in runs["a"]["dbt_log"]
    for name in ("b", "b2"):
        assert runs[name]["plan"].vars == {}
        assert "Unable to do partial parsing" not in runs[name]["dbt_log"], name


def walk(node, found: list) -> None:
    """Every table reference (schema, name) and column name under a DuckDB JSON syntax tree."""
    if isinstance(node, dict):
        if node.get("type") == "BASE_TABLE":
            found.append(("table", node["schema_name"], node["table_name"]))
        if node.get("class") == "COLUMN_REF":
            found.append(("column", node["column_names"][-1]))
        for value in node.values():
            walk(value, found)
    elif isinstance(node, list):
        for value in node:
            walk(value, found)


def test_the_rows_loaded_since_are_filtered_where_they_are_read(runs):
    """DuckDB computes a CTE used more than once in full before a later filter: at 10M order
    lines that read every order, line and return each run. So no CTE used more than once
    carries the load stamp out to be filtered later (run b's SQL, parsed by DuckDB)."""
    with duckdb.connect() as con:
        tree = json.loads(
            con.execute("select json_serialize_sql(?)", [runs["b"]["sql"]]).fetchone()[0]
        )
    assert not tree["error"], tree
    top = tree["statements"][0]["node"]
    ctes = {c["key"]: c["value"]["query_node"] for c in top["cte_map"]["map"]}
    references = []
    walk(tree, references)
    used = {name: references.count(("table", "", name)) for name in ctes}  # not raw.orders
    assert used["orders"] > 1  # the lookup of every order: several joins read it
    carried = []
    for name, query in ctes.items():
        selected = []
        walk(select_lists(query), selected)
        if used[name] > 1 and ("column", "_loaded_at") in selected:
            carried.append(name)
    assert carried == []


def select_lists(query: dict) -> list:
    """The select lists giving a query node's columns (each branch of a union)."""
    if query["type"] == "SET_OPERATION_NODE":
        branches = query.get("children") or [query["left"], query["right"]]
        return [s for branch in branches for s in select_lists(branch)]
    return [query["select_list"]]


def test_a_build_by_hand_after_the_runs_takes_no_read_of_theirs(runs):
    """A run's reads of the change log are spent when it records what it built: a `dbt build`
    by hand afterwards finds none, so a reader rebuilds fully and a new order is in it (kept,
    the build re-listed the last run's orders only and left O20 out)."""
    assert runs["by_hand"] == {"reads_left": 0, "orders": 1, "lines": 1}
