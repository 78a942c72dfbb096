"""The demo-shop generator writes deterministic files that satisfy the landing contracts."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import duckdb
import pytest

from returnlens.demo.generator import generate
from returnlens.ingest.contracts import ENTITIES, Entity

# what the demo shop writes: every entity but exchange rates (it sells in its reporting
# currency only; tests/integration/test_multi_currency.py covers rates)
GENERATED = tuple(e for e in ENTITIES if e.name != "exchange_rates")

pytestmark = pytest.mark.unit

AS_OF = "2026-11-20 00:00:00"
DEMO_PROFILE = Path(__file__).resolve().parents[2] / "profiles" / "demo.yml"
TS_FORMAT = r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}"


def _hashes(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


# optional contract columns the demo shop does not write (its amounts are all in the reporting
# currency); `generate --profile` writes orders.currency (tests/unit/test_generate_profile.py)
NOT_IN_DEMO = {("orders", "currency")}


def _written(e: Entity) -> list:
    """The contract columns of `e` the demo writes, in order."""
    return [c for c in e.columns if (e.name, c.name) not in NOT_IN_DEMO]


def _reader(landing: Path, e: Entity, typed: bool = True) -> str:
    glob = str(landing / e.source / e.pattern)
    cols = {c.name: (c.type.upper() if typed else "VARCHAR") for c in _written(e)}
    if e.format == "csv":
        return (
            f"read_csv('{glob}', header = true, auto_detect = false, columns = {cols}, "
            "timestampformat = '%Y-%m-%d %H:%M:%S', dateformat = '%Y-%m-%d', filename = true)"
        )
    if e.format == "jsonl":
        return (
            f"read_json('{glob}', format = 'newline_delimited', columns = {cols}, filename = true)"
        )
    return f"read_parquet('{glob}', filename = true)"


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    a, b, c = (tmp_path_factory.mktemp(n) for n in ("run_a", "run_b", "run_c"))
    generate(a, seed=3, scale=0.05)
    generate(b, seed=3, scale=0.05)
    generate(c, seed=4, scale=0.05)
    return _hashes(a), _hashes(b), _hashes(c)


@pytest.fixture(scope="module")
def db(demo_landing: Path):
    con = duckdb.connect()
    for e in GENERATED:
        con.execute(f"create table {e.name} as select * from {_reader(demo_landing, e)}")
    yield con
    con.close()


def _one(con, sql: str):
    return con.execute(sql).fetchone()


# ------------------------------------------------------------------ determinism and layout
def test_same_seed_gives_identical_bytes(runs):
    a, b, _ = runs
    assert len(a) > 40
    assert a == b


def test_different_seed_gives_different_files(runs):
    a, _, c = runs
    common = set(a) & set(c)
    differing = [f for f in common if a[f] != c[f]]
    assert len(differing) >= 0.9 * len(common)


def test_regeneration_replaces_the_source_folders(tmp_path):
    stale = tmp_path / "shop" / "orders_1999-01.csv"
    stale.parent.mkdir(parents=True)
    stale.write_text("order_id\nX\n")
    summary = generate(tmp_path, seed=1, scale=0.02)
    assert not stale.exists()
    assert summary["rows"]["orders"] == 2000 or summary["rows"]["orders"] > 0
    assert summary["elapsed_s"] > 0


def test_layout_matches_contract_patterns(demo_landing: Path):
    assert (demo_landing / "ground_truth.json").is_file()
    # the demo's profile is written next to the files, so a run on them uses it
    assert (demo_landing / "returnlens.yml").read_bytes() == DEMO_PROFILE.read_bytes()
    for e in GENERATED:
        assert list((demo_landing / e.source).glob(e.pattern)), e.name
    root_files = {f.name for f in demo_landing.iterdir() if f.is_file()}
    assert root_files == {"ground_truth.json", "returnlens.yml"}
    for f in demo_landing.rglob("*"):
        if f.is_file() and f.parent != demo_landing:
            source = f.parent.name
            assert any(e.source == source and f.match(e.pattern) for e in ENTITIES), f
    monthly = {p.name for p in (demo_landing / "shop").glob("orders_*.csv")}
    assert monthly == {f"orders_{m}.csv" for m in _months("2025-11", 12)}


def _months(first: str, n: int) -> list[str]:
    y, m = int(first[:4]), int(first[5:])
    out = []
    for _ in range(n):
        out.append(f"{y:04d}-{m:02d}")
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


def test_ground_truth_is_deterministic_json(demo_landing: Path, ground_truth: dict):
    text = (demo_landing / "ground_truth.json").read_text()
    assert text == json.dumps(ground_truth, sort_keys=True, indent=2) + "\n"
    assert ground_truth["seed"] == 7
    assert ground_truth["period"] == {
        "start": "2025-11-01 00:00:00",
        "end": "2026-10-31 23:59:59",
        "as_of": AS_OF,
    }
    assert ground_truth["return_window_days"] == 30


# ------------------------------------------------------------------ contracts
@pytest.mark.parametrize("e", GENERATED, ids=lambda e: e.name)
def test_files_conform_to_contract(demo_landing: Path, ground_truth: dict, e: Entity):
    con = duckdb.connect()
    assert all(not c.required for c in e.columns if c not in _written(e))
    names = [c.name for c in _written(e)]
    glob = str(demo_landing / e.source / e.pattern)
    # column names, in order
    for f in sorted((demo_landing / e.source).glob(e.pattern)):
        if e.format == "csv":
            assert f.open(encoding="utf-8").readline().rstrip("\n").split(",") == names, f
        elif e.format == "parquet":
            cols = con.execute(f"describe select * from read_parquet('{f}')").fetchall()
            assert [(c[0], c[1]) for c in cols] == [(c.name, c.type.upper()) for c in _written(e)]
    if e.format == "jsonl":
        keys = con.execute(
            f"select distinct json_keys(json) from read_json_objects('{glob}', "
            "format = 'newline_delimited')"
        ).fetchall()
        assert keys == [(names,)]
    # typed read of every column; row count as documented in the ground truth
    con.execute(f"create table t as select * exclude (filename) from {_reader(demo_landing, e)}")
    n = _one(con, "select count(*) from t")[0]
    assert n == ground_truth["row_counts"][e.name] > 0
    for c in _written(e):
        if c.required:
            assert _one(con, f"select count(*) from t where {c.name} is null")[0] == 0, c.name
        if c.allowed:
            bad = con.execute(
                f"select distinct {c.name} from t where {c.name} not in {tuple(c.allowed)}"
            ).fetchall()
            assert bad == [], (c.name, bad)
        if c.min_value is not None:
            low = _one(con, f"select min({c.name}) from t")[0]
            assert low is None or low >= c.min_value, c.name
    key = ", ".join(e.key)
    dups = _one(con, f"select count(*) from (select {key} from t group by all having count(*) > 1)")
    assert dups[0] == 0
    # text formats: timestamps without fractions, decimals with two places, no empty strings
    if e.format in ("csv", "jsonl"):
        con.execute(
            f"create table raw as select * exclude (filename) from "
            f"{_reader(demo_landing, e, typed=False)}"
        )
        for c in _written(e):
            if c.type == "timestamp":
                pattern = TS_FORMAT
            elif c.type.startswith("decimal"):
                pattern = r"\d+\.\d{2}"
            elif c.type == "date":
                pattern = r"\d{4}-\d{2}-\d{2}"
            else:
                pattern = None
            if pattern:
                bad = _one(
                    con,
                    f"select count(*) from raw where not regexp_full_match({c.name}, '{pattern}')",
                )[0]
                assert bad == 0, c.name
            empty = _one(con, f"select count(*) from raw where {c.name} = ''")[0]
            assert empty == 0, c.name


def test_monthly_files_hold_their_month(db):
    for table, column in (
        ("orders", "ordered_at"),
        ("returns", "requested_at"),
        ("nps_responses", "responded_at"),
        ("web_events", "event_at"),
    ):
        bad = _one(
            db,
            f"select count(*) from {table} "
            f"where strftime({column}, '%Y-%m') <> regexp_extract(filename, '_(\\d{{4}}-\\d{{2}})\\.', 1)",
        )[0]
        assert bad == 0, table
    bad = _one(
        db,
        """
        select count(*) from order_lines as l join orders as o using (order_id)
        where regexp_extract(l.filename, '_(\\d{4}-\\d{2})\\.', 1) <> strftime(o.ordered_at, '%Y-%m')
        """,
    )[0]
    assert bad == 0


# ------------------------------------------------------------------ arithmetic and consistency
def test_order_totals_are_the_sum_of_their_lines(db):
    bad = _one(
        db,
        """
        select count(*) from orders as o join (
            select order_id, sum(quantity * unit_price_eur - discount_eur) as total
            from order_lines group by 1) as l using (order_id)
        where o.order_total_eur <> l.total
        """,
    )[0]
    assert bad == 0
    orphans = _one(
        db, "select count(*) from order_lines where order_id not in (select order_id from orders)"
    )[0]
    assert orphans == 0
    lineless = _one(
        db, "select count(*) from orders where order_id not in (select order_id from order_lines)"
    )[0]
    assert lineless == 0
    numbering = _one(
        db,
        """
        select count(*) from (select order_id, max(line_number) as m, count(*) as n
            from order_lines group by 1) where m <> n
        """,
    )[0]
    assert numbering == 0
    assert (
        _one(db, "select count(*) from order_lines where discount_eur > quantity * unit_price_eur")[
            0
        ]
        == 0
    )


def test_refund_amounts(db):
    rows = db.execute(
        """
        select r.resolution, r.refund_amount_eur, r.refunded_at,
            round(r.quantity * (l.unit_price_eur - l.discount_eur / l.quantity), 2) as expected,
            r.quantity <= l.quantity as qty_ok, r.sku = l.sku as sku_ok
        from returns as r join order_lines as l using (order_line_id, order_id)
        """
    ).fetchall()
    assert len(rows) == _one(db, "select count(*) from returns")[0]
    for resolution, amount, refunded_at, expected, qty_ok, sku_ok in rows:
        assert qty_ok and sku_ok
        if resolution == "exchange":
            assert amount == 0
        elif refunded_at is None:
            assert amount is None
        else:
            assert abs(float(amount) - float(expected)) <= 0.011, (resolution, amount, expected)
    shares = dict(
        db.execute(
            "select resolution, count(*) / sum(count(*)) over () from "
            "(select distinct rma_id, resolution from returns) group by 1"
        ).fetchall()
    )
    assert 0.6 < shares["refund"] < 0.8 and 0.1 < shares["exchange"] < 0.2


def test_return_timelines(db):
    (n, bad_window, bad_recv, bad_insp, bad_ref, keep_it_bad, one_rma) = _one(
        db,
        """
        select count(*),
            count(*) filter (where r.requested_at < o.delivered_at
                or r.requested_at > o.delivered_at + interval 30 days or o.delivered_at is null),
            count(*) filter (where date_diff('second', requested_at, received_at)
                not between 2 * 86400 and 10 * 86400),
            count(*) filter (where date_diff('second', received_at, inspected_at)
                not between 0 and 5 * 86400),
            count(*) filter (where date_diff('second', inspected_at, refunded_at)
                not between 0 and 35 * 86400),
            count(*) filter (where resolution = 'keep_it' and (received_at is not null
                or inspected_at is not null or condition_grade is not null
                or disposition is not null)),
            (select count(*) from (select order_id from returns group by 1
                having count(distinct rma_id) > 1))
        from returns as r join orders as o using (order_id)
        """,
    )
    assert n > 0
    assert bad_window == bad_recv == bad_insp == bad_ref == keep_it_bad == one_rma == 0
    consistent = _one(
        db,
        """
        select count(*) from returns
        where (inspected_at is null) <> (condition_grade is null)
            or (condition_grade is null) <> (disposition is null)
            or (received_at is null and inspected_at is not null)
        """,
    )[0]
    assert consistent == 0
    rma_level = _one(
        db,
        "select count(*) from (select rma_id from returns group by 1 "
        "having count(distinct requested_at) > 1 or count(distinct order_id) > 1)",
    )[0]
    assert rma_level == 0


def test_nothing_after_as_of(db):
    for e in GENERATED:
        for c in e.columns:
            if c.type in ("timestamp", "date"):
                latest = _one(db, f"select max({c.name}) from {e.name}")[0]
                assert latest is None or str(latest) <= AS_OF, (e.name, c.name, latest)
    first, last = _one(db, "select min(ordered_at), max(ordered_at) from orders")
    assert str(first) >= "2025-11-01" and str(last) < "2026-11-01"
    in_progress = _one(db, "select count(*) from returns where refunded_at is null")[0]
    assert in_progress > 0


def test_batches_were_received_before_the_order(db):
    bad = _one(
        db,
        """
        select count(*) from order_lines as l
        join orders as o using (order_id)
        join products as p using (sku)
        join production_batches as b using (batch_id)
        where b.product_id <> p.product_id or b.received_date >= cast(o.ordered_at as date)
            or b.supplier_id <> p.supplier_id
        """,
    )[0]
    assert bad == 0
    assert _one(db, "select count(*) from order_lines where batch_id is null")[0] == 0


def test_customers(db):
    n, emails, early = _one(
        db,
        """
        select count(*), count(distinct email),
            count(*) filter (where c.created_at > f.first_order)
        from customers as c
        left join (select customer_id, min(ordered_at) as first_order from orders group by 1) as f
            using (customer_id)
        """,
    )
    assert n == emails
    assert early == 0
    assert (
        _one(
            db,
            "select count(*) from orders where customer_id not in "
            "(select customer_id from customers)",
        )[0]
        == 0
    )
    countries = {r[0] for r in db.execute("select distinct country_code from customers").fetchall()}
    assert countries == {"NL", "BE", "DE"}


def test_scale_one_volumes(ground_truth):
    rows = ground_truth["row_counts"]
    scale = ground_truth["scale"]
    # the shop draws 100k orders per unit of scale; the customers lost after a slow refund
    # (the planted loyalty gap) do not place some of theirs
    lost = ground_truth["loyalty"]["orders_dropped"]
    assert 0 < lost < 0.05 * rows["orders"]
    assert rows["orders"] + lost == round(100_000 * scale)
    assert rows["customers"] == round(20_000 * scale)
    assert 1.4 < rows["order_lines"] / rows["orders"] < 1.6
    assert 2000 <= rows["products"] <= 3000
    assert rows["suppliers"] == 25


# ------------------------------------------------------------------ dirty mode
def test_dirty_mode(tmp_path):
    generate(tmp_path, seed=5, scale=0.05, dirty=True)
    truth = json.loads((tmp_path / "ground_truth.json").read_text())
    assert truth["dirty"] is True
    assert truth["dirty_mode"]["orphan_return_rma_ids"]
    con = duckdb.connect()
    for e in GENERATED:
        con.execute(f"create table {e.name} as select * from {_reader(tmp_path, e)}")
    dup_orders = _one(con, "select count(*) - count(distinct order_id) from orders")[0]
    assert dup_orders > 0
    orphans = _one(
        con,
        "select count(distinct order_id) from returns where order_id not in "
        "(select order_id from orders)",
    )[0]
    assert orphans == len(truth["dirty_mode"]["orphan_return_rma_ids"])
    blank = _one(
        con, "select count(*) from returns where reason_code is null and reason_text is not null"
    )[0]
    assert blank > 0
    variants = _one(
        con,
        "select count(*) from returns where reason_text <> trim(reason_text) "
        "or reason_text = upper(reason_text)",
    )[0]
    assert variants > 0


# ------------------------------------------------------------------ shop shape options
def _csv_rows(path: Path) -> list[dict]:
    import csv

    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def test_default_supplier_count_and_planted_signals_keep_the_default_bytes(runs, tmp_path):
    a, _, _ = runs
    generate(tmp_path, seed=3, scale=0.05, suppliers=25, plant_signals=True)
    assert _hashes(tmp_path) == a
    # the default shop's truth has no "planted" key, so its bytes are unchanged
    assert "planted" not in json.loads((tmp_path / "ground_truth.json").read_text())


@pytest.fixture(scope="module")
def many_suppliers(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("many_suppliers")
    generate(out, seed=3, scale=0.05, suppliers=300, plant_signals=False)
    return out


def test_suppliers_option_spreads_suppliers_over_categories_and_each_sells(many_suppliers):
    suppliers = _csv_rows(many_suppliers / "purchasing" / "suppliers.csv")
    products = _csv_rows(many_suppliers / "shop" / "products.csv")
    assert len(suppliers) == 300 == len({s["supplier_id"] for s in suppliers})
    assert all(len(s["supplier_id"]) == len("SUP001") for s in suppliers)
    categories: dict[str, set[str]] = {}
    for p in products:
        categories.setdefault(p["supplier_id"], set()).add(p["category"])
    # every supplier sells at least one product, all of one category
    assert set(categories) == {s["supplier_id"] for s in suppliers}
    assert all(len(c) == 1 for c in categories.values())
    per_category: dict[str, int] = {}
    for cats in categories.values():
        per_category[next(iter(cats))] = per_category.get(next(iter(cats)), 0) + 1
    # the demo's proportions 7:4:5:4:5 of 25, scaled to 300
    assert per_category == {"apparel": 84, "shoes": 48, "home": 60, "garden": 48, "electronics": 60}
    products_per_category: dict[str, set[str]] = {}
    for p in products:
        products_per_category.setdefault(p["category"], set()).add(p["product_id"])
    for category, n in per_category.items():
        assert len(products_per_category[category]) >= 2 * n - 5, category


def test_no_planted_signals_is_said_in_the_ground_truth(many_suppliers):
    truth = json.loads((many_suppliers / "ground_truth.json").read_text())
    planted = truth["planted"]
    assert planted["plant_signals"] is False
    assert planted["suppliers"] == 300
    assert planted["small_sizing_supplier_ids"] == []
    assert planted["defective_batch_ids"] == []
    assert planted["supplier_effect_logit_sd"] == 0.0 and planted["return_seasonality"] is False
    assert truth["signals"]["small_sizing"]["small_sizing_supplier_ids"] == []
    assert truth["signals"]["defective_batches"]["defective_batch_ids"] == []
    assert truth["signals"]["seasonality"]["return_logit_offset_by_calendar_month"] == {}
    batches = {b["batch_id"] for b in _csv_rows(many_suppliers / "purchasing" / "batches.csv")}
    assert planted["batches"] == len(batches)


def test_without_planted_signals_category_base_rates_are_kept(tmp_path):
    # same seed, same catalogue and orders: only the returns' planted effects differ
    generate(tmp_path / "planted", seed=9, scale=0.2)
    generate(tmp_path / "null", seed=9, scale=0.2, plant_signals=False)
    truths = [
        json.loads((tmp_path / d / "ground_truth.json").read_text()) for d in ("planted", "null")
    ]
    for c, facts in truths[0]["signals"]["base_return_rates"].items():
        null_rate = truths[1]["signals"]["base_return_rates"][c]["expected_return_rate_all_lines"]
        assert null_rate == pytest.approx(facts["expected_return_rate_all_lines"], abs=0.01), c
    assert (tmp_path / "planted" / "shop" / "customers.csv").read_bytes() == (
        tmp_path / "null" / "shop" / "customers.csv"
    ).read_bytes()
    # the same products, but for the unit cost of the planted keep-it products
    cheap = set(truths[0]["keep_it"]["advised"])
    products = [_csv_rows(tmp_path / d / "shop" / "products.csv") for d in ("planted", "null")]
    for rows in products:
        for r in rows:
            if r["product_id"] in cheap:
                r["unit_cost_eur"] = "planted"
    assert products[0] == products[1]
    assert truths[0]["signals"]["defective_batches"]["defective_batch_ids"]
    assert truths[1]["signals"]["fragile"]["expected_damage_rate_multiplier"] == pytest.approx(
        1.0, abs=0.05
    )


def test_too_few_suppliers_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="at least one supplier per category"):
        generate(tmp_path, seed=1, scale=0.02, suppliers=3)
