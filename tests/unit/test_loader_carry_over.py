"""Re-delivered landing files: unchanged rows keep their `_loaded_at`, and the rows a delivery no
longer holds as they were (changed, removed, now quarantined) are recorded in
`raw.retracted_rows` with what they were about (order, RMA, sku, salted customer hash, date),
never personal data. Expectations are computed from the rows these tests write."""

from __future__ import annotations

import hashlib
from datetime import date, datetime

import pytest

from returnlens.adapters import adapter_entities
from returnlens.ingest.contracts import ENTITIES, Column, Entity, entity
from returnlens.ingest.loader import load_entity
from returnlens.ingest.privacy import forget_customer
from returnlens.profile import ShopProfile, shop_entities

pytestmark = pytest.mark.unit

SALT = "a-test-salt-of-enough-length-0123456789"
ORDERS_HEADER = (
    "order_id,customer_id,session_id,ordered_at,channel,shipping_country,shipped_at,"
    "delivered_at,order_total_eur,currency\n"
)
CUSTOMERS_HEADER = (
    "customer_id,first_name,last_name,email,phone,street,postal_code,city,country_code,created_at\n"
)
RETURNS_HEADER = (
    "rma_id,order_id,order_line_id,sku,quantity,reason_code,reason_text,requested_at,"
    "received_at,inspected_at,refunded_at,condition_grade,disposition,resolution,"
    "refund_amount_eur,status\n"
)
RETRACTED_COLUMNS = [
    "entity",
    "load_id",
    "retracted_at",
    "source_file",
    "cause",
    "order_id",
    "rma_id",
    "response_id",
    "sku",
    "batch_id",
    "customer_hash",
    "currency",
    "event_date",
    "email_customer_id",
]


def email_customer_id(email: str) -> str:
    """The customer_id of an order keyed by this e-mail (Shopify's admin export adapter,
    macro email_customer_id): 'email-' + 20 hex digits of SHA-256(salt || lower(trim(e-mail)))."""
    return "email-" + hashlib.sha256((SALT + email.strip().lower()).encode()).hexdigest()[:20]


def customer_hash(customer_id: str) -> str:
    """The facts' customer key: hex SHA-256 of salt || id (macros/hash_customer_id.sql)."""
    return hashlib.sha256((SALT + customer_id).encode()).hexdigest()


@pytest.fixture()
def landing(tmp_path, monkeypatch):
    monkeypatch.setenv("RETURNLENS_PII_SALT", SALT)
    for source in ("shop", "returns"):
        (tmp_path / "landing" / source).mkdir(parents=True)
    return tmp_path / "landing"


def _stamps(con, table: str, key: str) -> dict[str, object]:
    return dict(con.execute(f"select {key}, _loaded_at from {table}").fetchall())


def _retracted(con) -> list[tuple]:
    return con.execute(
        "select entity, source_file, cause, order_id, rma_id, response_id, sku, batch_id, "
        "customer_hash, currency, event_date from raw.retracted_rows order by all"
    ).fetchall()


def _last_load(con, name: str) -> tuple[str, int, int, int]:
    return con.execute(
        "select load_id, rows_in, rows_loaded, rows_quarantined from raw.load_audit "
        "where entity = ? order by finished_at desc limit 1",
        [name],
    ).fetchall()[0]


def test_redelivered_orders_keep_unchanged_rows_and_retract_changed_and_removed_ones(con, landing):
    path = landing / "shop" / "orders_2026-01.csv"
    unchanged = "O1,C1,S1,2026-01-03 10:00:00,web,NL,,,10.00,\n"
    changed_before = "O2,C2,,2026-01-04 11:00:00,app,DE,,,20.00,SEK\n"
    changed_after = "O2,C2,,2026-01-04 11:00:00,app,DE,2026-01-05 08:00:00,,20.00,SEK\n"
    removed = "O3,C3,,2026-01-05 12:00:00,web,BE,,,30.00,\n"
    now_bad_before = "O5,C5,,2026-01-06 09:30:00,web,NL,,,50.00,\n"
    now_bad_after = "O5,C5,,2026-01-06 09:30:00,web,NL,,,-50.00,\n"  # below minimum 0
    added = "O4,C4,,2026-01-07 13:00:00,web,NL,,,40.00,\n"
    path.write_text(ORDERS_HEADER + unchanged + changed_before + removed + now_bad_before)
    load_entity(con, entity("orders"), landing)
    first = _stamps(con, "raw.orders", "order_id")
    assert set(first) == {"O1", "O2", "O3", "O5"} and len(set(first.values())) == 1

    # re-delivered: O1 as it was (moved to another line), O2 shipped, O3 gone, O5 now broken,
    # O4 new
    path.write_text(ORDERS_HEADER + added + changed_after + now_bad_after + unchanged)
    res = load_entity(con, entity("orders"), landing)
    second = _stamps(con, "raw.orders", "order_id")
    assert set(second) == {"O1", "O2", "O4"}
    assert second["O1"] == first["O1"]
    assert second["O2"] == second["O4"] > first["O1"]
    # the unchanged row is the re-delivered one (its new position), not a kept old row
    assert con.execute(
        "select _file_row_number, shipped_at from raw.orders where order_id in ('O1', 'O2') "
        "order by order_id"
    ).fetchall() == [(4, None), (2, datetime(2026, 1, 5, 8, 0))]
    load_id, rows_in, loaded, quarantined = _last_load(con, "orders")
    assert (rows_in, loaded, quarantined) == (4, 3, 1) == (res.rows_in, 3, res.rows_quarantined)
    assert _retracted(con) == [
        ("orders", "shop/orders_2026-01.csv", "changed", "O2", None, None, None, None,
         None, "SEK", date(2026, 1, 4)),
        ("orders", "shop/orders_2026-01.csv", "removed", "O3", None, None, None, None,
         None, None, date(2026, 1, 5)),
        ("orders", "shop/orders_2026-01.csv", "removed", "O5", None, None, None, None,
         None, None, date(2026, 1, 6)),
    ]  # fmt: skip
    assert con.execute(
        "select distinct load_id, retracted_at from raw.retracted_rows"
    ).fetchall() == [(load_id, second["O2"])]

    # the same file again: nothing read, nothing retracted
    load_entity(con, entity("orders"), landing)
    assert con.execute("select count(*) from raw.retracted_rows").fetchall() == [(3,)]


def test_retracted_rows_hold_no_personal_data_and_their_columns_are_fixed(con, landing):
    path = landing / "shop" / "customers.csv"
    anna = "C1,Anna,de Vries,anna@example.nl,0612345678,Dorpsstraat 1,1234AB,Utrecht,NL,"
    path.write_text(CUSTOMERS_HEADER + anna + "2025-01-01 00:00:00\n")
    load_entity(con, entity("customers"), landing)
    # her e-mail changed: the old row is retracted, keyed by the salted hash of her id only
    path.write_text(
        CUSTOMERS_HEADER + anna.replace("anna@", "a.devries@") + "2025-01-01 00:00:00\n"
    )
    load_entity(con, entity("customers"), landing)
    columns = [
        r[0]
        for r in con.execute(
            "select column_name from information_schema.columns "
            "where table_schema = 'raw' and table_name = 'retracted_rows' order by ordinal_position"
        ).fetchall()
    ]
    assert columns == RETRACTED_COLUMNS
    assert _retracted(con) == [
        ("customers", "shop/customers.csv", "changed", None, None, None, None, None,
         customer_hash("C1"), None, None),
    ]  # fmt: skip
    text = " ".join(
        str(v) for row in con.execute("select * from raw.retracted_rows").fetchall() for v in row
    )
    for value in ("C1", "Anna", "Vries", "anna@", "0612345678", "Dorpsstraat", "1234AB", "Utrecht"):
        assert value not in text


def test_a_changed_or_forgotten_email_leaves_its_old_pseudonym(con, landing):
    """Review H2: an order keyed by an e-mail two customers share resolves to neither; when one
    of them changes e-mail (or is forgotten, which nulls it) the order resolves, and only the
    old e-mail finds it. The retracted row keeps the old e-mail as the customer_id such an
    order carries (its salted pseudonym), never the e-mail."""
    path = landing / "shop" / "customers.csv"
    row = "{c},Test,Person,{e},,Straat 1,1234AB,Utrecht,NL,2025-01-01 00:00:00\n"
    both = [("C1", " Shared@X.test"), ("C2", "shared@x.test"), ("C3", "three@x.test")]
    path.write_text(CUSTOMERS_HEADER + "".join(row.format(c=c, e=e) for c, e in both))
    load_entity(con, entity("customers"), landing)
    moved = [("C1", "one@x.test"), *both[1:]]
    path.write_text(CUSTOMERS_HEADER + "".join(row.format(c=c, e=e) for c, e in moved))
    load_entity(con, entity("customers"), landing)
    forget_customer(con, "C3")
    assert con.execute(
        "select cause, customer_hash, email_customer_id from raw.retracted_rows "
        "where entity = 'customers' order by cause"
    ).fetchall() == [
        ("changed", customer_hash("C1"), email_customer_id("shared@x.test")),
        ("forgotten", customer_hash("C3"), email_customer_id("three@x.test")),
    ]
    (forgotten_at,) = con.execute("select forgotten_at from raw.forgotten_customers").fetchone()
    assert con.execute(
        "select retracted_at from raw.retracted_rows where cause = 'forgotten'"
    ).fetchall() == [(forgotten_at,)]


def test_redelivered_returns_are_matched_on_their_whole_key(con, landing):
    path = landing / "returns" / "returns_2026-02.csv"
    line = "R1,O1,O1-{n},SKU{n},1,SIZE_TOO_SMALL,,2026-02-0{n} 10:00:00,,,,,,refund,10.00,{s}\n"
    path.write_text(
        RETURNS_HEADER + line.format(n=1, s="requested") + line.format(n=2, s="requested")
    )
    load_entity(con, entity("returns"), landing)
    first = _stamps(con, "raw.returns", "order_line_id")
    # same RMA: line 1 refunded, line 2 unchanged
    path.write_text(
        RETURNS_HEADER + line.format(n=2, s="requested") + line.format(n=1, s="refunded")
    )
    load_entity(con, entity("returns"), landing)
    second = _stamps(con, "raw.returns", "order_line_id")
    assert second["O1-2"] == first["O1-2"] < second["O1-1"]
    assert _retracted(con) == [
        ("returns", "returns/returns_2026-02.csv", "changed", "O1", "R1", None, "SKU1", None,
         None, None, date(2026, 2, 1)),
    ]  # fmt: skip


def test_an_erased_customer_redelivered_stays_erased_and_is_not_changed(con, landing):
    path = landing / "shop" / "customers.csv"
    anna = "C1,Anna,de Vries,anna@example.nl,0612345678,Dorpsstraat 1,1234AB,Utrecht,NL,2025-01-01 00:00:00\n"
    bob = "C2,Bob,Jansen,bob@example.nl,,Kerkweg 2,5678CD,Gent,BE,2025-01-02 00:00:00\n"
    cleo = "C3,Cleo,Smit,cleo@example.nl,,Laan 3,9999ZZ,Delft,NL,2025-01-03 00:00:00\n"
    path.write_text(CUSTOMERS_HEADER + anna + bob)
    load_entity(con, entity("customers"), landing)
    first = _stamps(con, "raw.customers", "customer_id")
    forget_customer(con, "C1")
    # the shop's next export still holds her, unchanged, and a new customer
    path.write_text(CUSTOMERS_HEADER + bob + cleo + anna)
    res = load_entity(con, entity("customers"), landing)
    pii = entity("customers").pii_columns
    assert con.execute(
        f"select {', '.join(pii)}, _extra from raw.customers where customer_id = 'C1'"
    ).fetchall() == [(None,) * (len(pii) + 1)]
    second = _stamps(con, "raw.customers", "customer_id")
    assert (second["C1"], second["C2"]) == (first["C1"], first["C2"]) and second["C3"] > first["C1"]
    # the re-delivery retracted nothing; forget-customer recorded her erased e-mail's pseudonym
    assert [r[2] for r in _retracted(con)] == ["forgotten"]
    _, rows_in, loaded, quarantined = _last_load(con, "customers")
    assert rows_in == loaded + quarantined == 3 == res.rows_loaded

    # scrubbing the landing file writes tombstones into her PII fields: reloaded, they are erased
    # again, and her row is still unchanged
    forget_customer(con, "C1", landing_dir=landing)
    assert "anna" not in path.read_text().lower()
    load_entity(con, entity("customers"), landing)
    assert _stamps(con, "raw.customers", "customer_id") == second
    assert con.execute("select email from raw.customers where customer_id = 'C1'").fetchall() == [
        (None,)
    ]
    # her second request found no e-mail left to record
    assert [r[2] for r in _retracted(con)] == ["forgotten"]


def test_an_erased_customers_return_reason_does_not_make_the_return_changed(con, landing):
    orders = landing / "shop" / "orders_2026-02.csv"
    orders.write_text(ORDERS_HEADER + "O1,C1,,2026-02-01 10:00:00,web,NL,,,10.00,\n")
    load_entity(con, entity("orders"), landing)
    returns = landing / "returns" / "returns_2026-02.csv"
    mine = "R1,O1,O1-1,SKU1,1,SIZE_TOO_SMALL,te klein voor Anna,2026-02-03 10:00:00,,,,,,refund,10.00,\n"
    other = "R2,O9,O9-1,SKU2,1,OTHER,,2026-02-04 10:00:00,,,,,,refund,5.00,\n"
    returns.write_text(RETURNS_HEADER + mine + other)
    load_entity(con, entity("returns"), landing)
    first = _stamps(con, "raw.returns", "rma_id")
    forget_customer(con, "C1")
    assert con.execute("select reason_text from raw.returns where rma_id = 'R1'").fetchall() == [
        (None,)
    ]
    # the portal's next export: both returns as before, in another order
    returns.write_text(RETURNS_HEADER + other + mine)
    load_entity(con, entity("returns"), landing)
    assert con.execute("select reason_text from raw.returns where rma_id = 'R1'").fetchall() == [
        (None,)
    ]
    assert _stamps(con, "raw.returns", "rma_id") == first
    assert _retracted(con) == []


def test_every_entity_declares_what_it_affects_with_known_non_personal_columns():
    from returnlens.ingest.contracts import RETRACTED_AFFECTS

    shaped = shop_entities(ShopProfile())
    native = {e.name: e for e in ENTITIES}
    for e in (*ENTITIES, *adapter_entities(), *shaped):
        assert e.affects == native[e.name].affects, f"{e.source}/{e.name}"
    for e in ENTITIES:
        for target, column in e.affects:
            assert target in RETRACTED_AFFECTS, (e.name, target)
            # the e-mail only as its salted pseudonym (test above)
            assert not e.column(column).pii or target == "email_customer_id", (e.name, column)
            if target == "customer_hash":
                assert column == "customer_id", e.name
    # an order's customer_id may be an e-mail pseudonym the models resolve through the
    # customers (Shopify's admin export): its hash is not the facts' customer_key, so a
    # retracted order names its order only (the change log finds its customer in the facts)
    assert dict(native["orders"].affects) == {
        "order_id": "order_id",
        "currency": "currency",
        "event_date": "ordered_at",
    }
    assert dict(native["order_lines"].affects) == {
        "order_id": "order_id",
        "sku": "sku",
        "batch_id": "batch_id",
    }


def test_an_entity_without_a_key_or_with_unknown_affects_is_refused():
    with pytest.raises(ValueError, match="shop/things has no key"):
        Entity("shop", "things", "things*.csv", "csv", (), "Things.")
    with pytest.raises(ValueError, match="shop/things: affects names column 'nope'"):
        Entity(
            "shop", "things", "things*.csv", "csv", ("id",), "Things.", affects=(("sku", "nope"),)
        )


def test_a_customer_hash_that_is_not_the_facts_customer_key_is_refused_with_what_to_declare():
    columns = (Column("order_id", "varchar", "Order."), Column("buyer", "varchar", "Buyer id."))
    with pytest.raises(ValueError, match="customer_hash is the hash of customer_id only") as err:
        Entity(
            "shop", "things", "t*.csv", "csv", ("order_id",), "Things.", columns=columns,
            affects=(("customer_hash", "buyer"),),
        )  # fmt: skip
    assert "declare ('order_id', <its order column>)" in str(err.value)
    resolved = (Column("order_id", "varchar", "Order."), Column("customer_id", "varchar", "Id."))
    with pytest.raises(ValueError, match="e-mail pseudonym") as err:
        Entity(
            "shop", "orders", "o*.csv", "csv", ("order_id",), "Orders.", columns=resolved,
            affects=(("customer_hash", "customer_id"),),
        )  # fmt: skip
    assert "declare ('order_id', 'order_id')" in str(err.value)


def test_a_row_moved_to_another_file_of_the_same_batch_is_unchanged(con, landing):
    january = landing / "shop" / "orders_2026-01.csv"
    february = landing / "shop" / "orders_2026-02.csv"
    late = "O2,C2,,2026-01-31 23:30:00,web,NL,,,20.00,\n"
    january.write_text(ORDERS_HEADER + "O1,C1,,2026-01-03 10:00:00,web,NL,,,10.00,\n" + late)
    february.write_text(ORDERS_HEADER + "O3,C3,,2026-02-01 09:00:00,web,NL,,,30.00,\n")
    load_entity(con, entity("orders"), landing)
    first = _stamps(con, "raw.orders", "order_id")
    # the shop moves O2 into February's file (by its local date): both files change, O2 does not
    january.write_text(ORDERS_HEADER + "O1,C1,,2026-01-03 10:00:00,web,NL,,,10.00,\n")
    february.write_text(ORDERS_HEADER + late + "O3,C3,,2026-02-01 09:00:00,web,NL,,,30.00,\n")
    res = load_entity(con, entity("orders"), landing)
    assert [f.status for f in res.files] == ["loaded", "loaded"]
    assert _stamps(con, "raw.orders", "order_id") == first
    assert con.execute("select _source_file from raw.orders where order_id = 'O2'").fetchall() == [
        ("shop/orders_2026-02.csv",)
    ]
    assert _retracted(con) == []


def test_a_clock_that_stamps_two_loads_alike_still_retracts_exactly_what_changed(
    con, landing, monkeypatch
):
    from returnlens.ingest import loader

    monkeypatch.setattr(loader, "utc_now", lambda: datetime(2026, 3, 1, 12, 0))
    path = landing / "shop" / "orders_2026-02.csv"
    kept = "O1,C1,,2026-02-03 10:00:00,web,NL,,,10.00,\n"
    path.write_text(ORDERS_HEADER + kept + "O2,C2,,2026-02-04 10:00:00,web,NL,,,20.00,\n")
    load_entity(con, entity("orders"), landing)
    path.write_text(ORDERS_HEADER + kept + "O2,C2,,2026-02-04 10:00:00,web,NL,,,21.00,\n")
    load_entity(con, entity("orders"), landing)
    assert _retracted(con) == [
        ("orders", "shop/orders_2026-02.csv", "changed", "O2", None, None, None, None,
         None, None, date(2026, 2, 4)),
    ]  # fmt: skip


def test_a_row_whose_only_change_is_a_column_the_contract_does_not_know_is_changed(con, landing):
    """Columns outside the contract are kept in `_extra`, and models read some of them (a
    Sendcloud return's label cost, a Shopify order's name): a change there is a change."""
    path = landing / "shop" / "orders_2026-01.csv"
    header = ORDERS_HEADER.rstrip("\n") + ",label_cost\n"
    path.write_text(header + "O1,C1,,2026-01-03 10:00:00,web,NL,,,10.00,,4.50\n")
    load_entity(con, entity("orders"), landing)
    first = _stamps(con, "raw.orders", "order_id")
    path.write_text(header + "O1,C1,,2026-01-03 10:00:00,web,NL,,,10.00,,6.95\n")
    load_entity(con, entity("orders"), landing)
    second = _stamps(con, "raw.orders", "order_id")
    assert second["O1"] > first["O1"]
    assert [(r[2], r[3]) for r in _retracted(con)] == [("changed", "O1")]
