"""Shopify's admin "Export orders" CSV onto `raw.orders` and `raw.order_lines`
(docs/sources/shopify.md, "From the admin Export orders CSV").

Files: `landing/shopify_export/orders_export*.csv`, as Shopify writes them (Orders -> Export,
`orders_export.csv`, or `orders_export_1.csv`, `_2`, ... when it splits a large export): one
row per line item, the order's own fields (`Id`, `Total`, `Currency`, `Financial Status`, ...)
on the **first row** of the order only, `Name` (#1001) on every row. Each file feeds two
entities: **orders** (one row per order: the first row of each run of rows with the same
`Name`) and **order lines** (one row per row of the file). Read as text (`read_csv`,
`all_varchar`), grouped with window functions in one DuckDB statement per file.

Mapping (amounts in the order's `Currency`): order_id = `Id` (the Admin API's order id, the
connector tables' `order.id`, so the export mixes with them), customer_id = a salted hash of
`Email` (`email-<hash>`; `guest-<Id>` without an e-mail), ordered_at = `Created at` (UTC),
channel = `Source` (seed `shopify_source_names`), shipping_country = `Shipping Country` (else
`Billing Country`), shipped_at = `Fulfilled at`, order_total_eur = `Total`; order lines:
order_line_id = `Id`-<position>, line_number = the row's position in its order, sku =
`Lineitem sku`, quantity, unit_price_eur = `Lineitem price`, discount_eur = `Lineitem
discount`. `Name` goes to the order's `_extra` as `name` (as the connector adapter keeps it);
`Financial Status` and `Refunded Amount` too: they are all the export says about refunds, so
**no raw.returns row can be derived** from it.

**Personal data** (`Email`, Billing/Shipping name, street, address, company, city, zip,
province, phone, `Phone`, `Notes`, `Note Attributes`, payment references, `Tags`) is never
loaded, nor put in `_extra`: `Email` is read only to make the customer key (a salted SHA-256
with the installation's `RETURNLENS_PII_SALT`, so the same shopper's orders share one
customer and the address cannot be read back from it).

Quarantined besides the contract's checks: a line row whose order has no first row in the
file (an export cut between files), a row without `Name`, an order (and its lines) without a
numeric `Id`, in another currency than `shop.reporting_currency`, paid through Shopify's test
gateway (`Payment Method` bogus: the export's only test-order marker), with a `Created at` or
`Fulfilled at` not in Shopify's format, or an amount not exact to the cent (never rounded).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import duckdb

from returnlens.adapters.common import (
    ADAPTER_REASON,
    AMOUNT,
    reading,
    register_seeds,
    stage_rows,
)
from returnlens.config import PiiSaltError, pii_salt
from returnlens.ingest.contracts import Entity, entity
from returnlens.ingest.landing import entity_files
from returnlens.ingest.readers import ReadPaths
from returnlens.profile import load_profile
from returnlens.warehouse import quote_ident as qi
from returnlens.warehouse import quote_literal as ql

PLATFORM = "shopify_export"
PATTERN = "orders_export*.csv"
DOCS = "docs/sources/shopify.md (From the admin Export orders CSV)"
SEEDS = ("shopify_source_names",)
GUEST = "guest-"  # customer_id of an order without e-mail: guest-<Id>
EMAIL_KEY = "email-"  # customer_id of an order with e-mail: email-<20 hex of the salted hash>
TIME_FORMAT = "%Y-%m-%d %H:%M:%S %z"  # how the export writes times: 2024-02-01 10:15:00 +0100
SALT_TABLE = "_shopify_export_salt"
UNREADABLE = (duckdb.InvalidInputException, duckdb.ConversionException, duckdb.IOException)

# the export's columns the adapter reads (names exactly as Shopify writes them) -> SQL alias;
# every other column (names, addresses, phones, notes, tags, payment references) is not read
FIELDS: dict[str, str] = {
    "Name": "name",
    "Email": "email",
    "Financial Status": "financial_status",
    "Paid at": "paid_at",
    "Fulfillment Status": "fulfillment_status",
    "Fulfilled at": "fulfilled_at",
    "Currency": "currency",
    "Subtotal": "subtotal",
    "Shipping": "shipping",
    "Taxes": "taxes",
    "Total": "total",
    "Discount Amount": "discount_amount",
    "Created at": "created_at",
    "Lineitem quantity": "li_quantity",
    "Lineitem name": "li_name",
    "Lineitem price": "li_price",
    "Lineitem compare at price": "li_compare_at_price",
    "Lineitem sku": "li_sku",
    "Lineitem requires shipping": "li_requires_shipping",
    "Lineitem taxable": "li_taxable",
    "Lineitem fulfillment status": "li_fulfillment_status",
    "Lineitem discount": "li_discount",
    "Billing Country": "billing_country",
    "Shipping Country": "shipping_country",
    "Cancelled at": "cancelled_at",
    "Payment Method": "payment_method",
    "Refunded Amount": "refunded_amount",
    "Outstanding Balance": "outstanding_balance",
    "Vendor": "vendor",
    "Id": "id",
    "Risk Level": "risk_level",
    "Source": "source",
}
# without these the file is not Shopify's orders export (it fails whole, naming them)
REQUIRED = (
    "Name",
    "Id",
    "Created at",
    "Currency",
    "Total",
    "Lineitem quantity",
    "Lineitem price",
    "Lineitem sku",
    "Lineitem discount",
)
# order-level amounts kept in `_extra`: exact to the cent or the order is quarantined
EXTRA_AMOUNTS = (
    "Subtotal",
    "Shipping",
    "Taxes",
    "Discount Amount",
    "Refunded Amount",
    "Outstanding Balance",
)


def _inexact(field: str) -> str:
    return (
        f"{field} is not an amount with at most 2 decimals: it is not loaded rounded; export "
        "the orders again and deliver the file as Shopify wrote it (not re-saved by a "
        "spreadsheet)"
    )


def _bad_time(field: str) -> str:
    return (
        f"{field} is not a time as Shopify's export writes it (YYYY-MM-DD HH:MM:SS +HHMM, "
        "with its UTC offset): export the orders again and deliver the file as Shopify wrote "
        "it (a spreadsheet re-saves times without their offset)"
    )


def _utc(expr: str) -> str:
    """A time as the export writes it, as the contracts' UTC text; else the text unchanged."""
    ts = f"try_strptime({expr}, {ql(TIME_FORMAT)})"
    return f"coalesce(strftime({ts} at time zone 'UTC', '%Y-%m-%d %H:%M:%S'), {expr})"


def _time_ok(expr: str) -> str:
    return f"({expr} is null or try_strptime({expr}, {ql(TIME_FORMAT)}) is not null)"


def _exact(expr: str) -> str:
    return f"({expr} is null or regexp_full_match({expr}, {ql(AMOUNT)}))"


def customer_key_sql(email: str) -> str:
    """The customer key of an e-mail (SQL): `email-` + 20 hex digits of SHA-256(salt ||
    lower(trimmed e-mail)); the salt is read from temp table `_shopify_export_salt`."""
    return (
        f"{ql(EMAIL_KEY)} || substr(sha256((select salt from {SALT_TABLE}) || "
        f"lower({email})), 1, 20)"
    )


def customer_id_for(email: str, salt: str | None = None) -> str:
    """The customer_id an order of this e-mail gets (to find it for `forget-customer`)."""
    salt = pii_salt() if salt is None else salt
    digest = hashlib.sha256((salt + email.strip().lower()).encode()).hexdigest()
    return EMAIL_KEY + digest[:20]


def rows_sql(path: str, present: set[str]) -> str:
    """CTEs `rows` (every row of the file, text, `Email` replaced by the customer key, with
    `grp` its order's run and `line_no` its position in it) and `heads` (each run's first row
    when it carries the order's fields: one per order)."""
    exprs = []
    for col, alias in FIELDS.items():
        value = f"nullif(trim({qi(col)}), '')" if col in present else "cast(null as varchar)"
        exprs.append(f"{value} as {alias}")
    source = (
        f"read_csv({ql(path)}, header = true, all_varchar = true, delim = ',', "
        "quote = '\"', escape = '\"')"
    )
    return f"""
    src as (
        select {", ".join(exprs)}, row_number() over () as _row_no from {source}
    ),
    keyed as (
        select
            * exclude (email),
            case when email is not null then {customer_key_sql("email")} end as email_key,
            coalesce(id, currency, total, financial_status) is not null as has_order_fields,
            lag(name) over (order by _row_no) as prev_name
        from src
    ),
    runs as (
        select
            *,
            sum(case when name is not distinct from prev_name then 0 else 1 end)
                over (order by _row_no) as grp
        from keyed
    ),
    rows as (
        select
            *,
            row_number() over (partition by grp order by _row_no) as line_no,
            count(*) over (partition by grp) as n_lines
        from runs
    ),
    heads as (
        select * from rows where line_no = 1 and has_order_fields
    )"""


def order_reason(reporting: str) -> str:
    """Why an order (and so each of its lines) is not loaded, over the columns of `heads`."""
    amounts = ",\n            ".join(
        f"case when not {_exact(FIELDS[a])} then {ql(_inexact(a))} end" for a in EXTRA_AMOUNTS
    )
    return f"""concat_ws('; ',
            case when name is null then 'Name is empty (every order has one, e.g. #1001): '
                || 'export the orders again' end,
            case when id is null then 'Id is empty on the order''s first row (Shopify writes '
                    || 'the order id there): export the orders again'
                when not regexp_full_match(id, '[0-9]+')
                then 'Id is not Shopify''s numeric order id: export the orders again' end,
            case when currency is null then 'Currency is empty on the order''s first row: '
                    || 'export the orders again'
                when currency <> {ql(reporting)} then 'the order''s Currency is not '
                    || 'shop.reporting_currency of the shop profile (returnlens.yml): amounts '
                    || 'are never converted silently and there are no exchange rates yet, so '
                    || 'the order is not loaded; if the shop reports in that currency, set '
                    || 'shop.reporting_currency to it ({DOCS})' end,
            case when lower(coalesce(payment_method, '')) like '%bogus%'
                then 'a test order (Payment Method is Shopify''s test gateway, bogus): not a '
                    || 'sale, not loaded' end,
            case when not {_time_ok("created_at")} then {ql(_bad_time("Created at"))} end,
            case when not {_time_ok("fulfilled_at")} then {ql(_bad_time("Fulfilled at"))} end,
            case when not {_exact("total")} then {ql(_inexact("Total"))} end,
            {amounts}
        )"""


def flatten_orders(path: str, present: set[str], name: str, order: int, reporting: str) -> str:
    """One row per order of an export file, as the orders contract's text columns."""
    return f"""
    with {rows_sql(path, present)},
    flat as (select heads.*, {order_reason(reporting)} as reason from heads)
    select
        id as order_id,
        coalesce(email_key, {ql(GUEST)} || id) as customer_id,
        cast(null as varchar) as session_id,
        {_utc("created_at")} as ordered_at,
        coalesce(s.channel, source) as channel,
        coalesce(shipping_country, billing_country) as shipping_country,
        {_utc("fulfilled_at")} as shipped_at,
        cast(null as varchar) as delivered_at,
        total as order_total_eur,
        currency,
        cast(json_object(
            'name', name, 'financial_status', financial_status,
            'fulfillment_status', fulfillment_status, 'refunded_amount', refunded_amount,
            'paid_at', {_utc("paid_at")}, 'cancelled_at', {_utc("cancelled_at")},
            'subtotal', subtotal, 'shipping', shipping, 'taxes', taxes,
            'discount_amount', discount_amount, 'outstanding_balance', outstanding_balance,
            'risk_level', risk_level, 'source_name', source, 'line_items', n_lines
        ) as varchar) as _extra,
        {ql(name)} as _source_file,
        {order} as _file_order,
        _row_no as _file_row_number,
        reason as {ADAPTER_REASON}
    from flat
    left join _seed_shopify_source_names as s on flat.source = s.source_name
    """


def flatten_order_lines(path: str, present: set[str], name: str, order: int, reporting: str) -> str:
    """One row per row of an export file (a line item), as the order lines contract's columns."""
    return f"""
    with {rows_sql(path, present)},
    orders as (
        select grp, id, currency, name, {order_reason(reporting)} as reason from heads
    )
    select
        o.id || '-' || cast(l.line_no as varchar) as order_line_id,
        o.id as order_id,
        cast(l.line_no as varchar) as line_number,
        l.li_sku as sku,
        l.li_quantity as quantity,
        l.li_price as unit_price_eur,
        l.li_discount as discount_eur,
        cast(null as varchar) as batch_id,
        cast(json_object(
            'order_name', l.name, 'lineitem_name', l.li_name,
            'compare_at_price', l.li_compare_at_price,
            'requires_shipping', l.li_requires_shipping, 'taxable', l.li_taxable,
            'fulfillment_status', l.li_fulfillment_status, 'vendor', l.vendor,
            'currency', o.currency
        ) as varchar) as _extra,
        {ql(name)} as _source_file,
        {order} as _file_order,
        l._row_no as _file_row_number,
        concat_ws('; ',
            case when l.name is null then 'Name is empty (every row of the export carries '
                || 'its order''s Name, e.g. #1001): export the orders again' end,
            case when o.grp is null then 'its order has no first row in this file (Shopify '
                    || 'writes the order''s Id, Total and Currency on its first line item '
                    || 'only): deliver the export whole, with each order''s rows in one file'
                when o.reason <> '' then 'the order is not loaded: ' || o.reason end,
            case when l.id is not null and o.id is not null and l.id <> o.id
                then 'Id differs from the Id on its order''s first row (two orders with one '
                    || 'Name next to each other): export the orders again' end,
            case when l.li_sku is null then 'Lineitem sku is empty: the marts join order lines '
                || 'to products by sku; give the product (or variant) a SKU in Shopify and '
                || 'export the orders again' end,
            case when not {_exact("l.li_compare_at_price")}
                then {ql(_inexact("Lineitem compare at price"))} end
        ) as {ADAPTER_REASON}
    from rows as l
    left join orders as o on l.grp = o.grp
    """


@dataclass(frozen=True)
class ExportAdapter:
    """One raw table fed by Shopify's orders export: its entity and how a file becomes rows."""

    name: str  # the platform (its landing folder)
    label: str
    entity: Entity
    item: str  # what one row is, for messages
    # (path, columns present, file identity, file order, reporting currency) -> select
    flatten: Callable[[str, set[str], str, int, str], str]
    seeds: tuple[str, ...] = SEEDS

    def fingerprint(self, landing_dir: Path) -> str:
        """What the rows depend on besides the file (part of the contract hash): the reporting
        currency and, when there are export files, the salt of the customer key (a digest of
        it, never the salt; not asked for without files, so no salt is made for nothing)."""
        currency = load_profile(landing_dir).reporting_currency
        if not entity_files(self.entity, landing_dir):
            return f"reporting_currency={currency}"
        try:
            salt = hashlib.sha256(pii_salt().encode()).hexdigest()[:16]
        except PiiSaltError:
            salt = "unavailable"
        return f"reporting_currency={currency};salt={salt}"


def _entity(name: str, description: str) -> Entity:
    return Entity(
        source=PLATFORM,
        name=name,
        pattern=PATTERN,
        format="csv",
        key=entity(name).key,
        affects=entity(name).affects,
        columns=entity(name).columns,
        optional=True,
        adapter=PLATFORM,
        description=description,
    )


# raw table -> adapter (one file, two raw tables)
ADAPTERS: dict[str, ExportAdapter] = {
    a.entity.name: a
    for a in (
        ExportAdapter(
            PLATFORM,
            "Shopify Export orders CSV",
            _entity(
                "orders",
                "Shopify admin Export orders CSV (orders_export*.csv), one row per order (its "
                "first row), loaded into raw.orders (docs/sources/shopify.md).",
            ),
            "order",
            flatten_orders,
        ),
        ExportAdapter(
            PLATFORM,
            "Shopify Export orders CSV",
            _entity(
                "order_lines",
                "Shopify admin Export orders CSV (orders_export*.csv), one row per line item, "
                "loaded into raw.order_lines (docs/sources/shopify.md).",
            ),
            "line item",
            flatten_order_lines,
        ),
    )
}


def _fail(p, text: str, rows_in: int | None = None) -> None:
    p.rows_in = rows_in
    p.error = text


def _columns(con: duckdb.DuckDBPyConnection, path: str) -> set[str]:
    """The header of an export file (raises DuckDB's error for a file it cannot read)."""
    rel = (
        f"select * from read_csv({ql(path)}, header = true, all_varchar = true, delim = ',', "
        "quote = '\"', escape = '\"')"
    )
    names = {r[0] for r in con.execute(f"describe {rel}").fetchall()}
    con.execute(f"select count(*) from ({rel})").fetchall()  # the whole file parses
    return names


def stage(con: duckdb.DuckDBPyConnection, ent: Entity, batch: list, paths: ReadPaths) -> None:
    """Flatten each export file of the batch into `_stage` (the entity's columns as text)."""
    adapter = ADAPTERS[ent.name]
    cols = ", ".join(f"{qi(c.name)} varchar" for c in ent.columns)
    con.execute(
        f"create or replace temp table _stage ({cols}, _extra varchar, _source_file varchar, "
        f"_file_order bigint, _file_row_number bigint, {ADAPTER_REASON} varchar)"
    )
    register_seeds(con, adapter.seeds)
    try:
        salt = pii_salt()
    except PiiSaltError as exc:
        for p in batch:
            _fail(p, f"{p.name}: not loaded: the customer key needs the salt: {exc}")
        return
    con.execute(
        f"create or replace temp table {SALT_TABLE} as select cast(? as varchar) as salt", [salt]
    )
    for p in batch:
        if p.size == 0:
            _fail(
                p,
                f"{p.name}: the file is empty (0 bytes). Export the orders again (Orders -> "
                f"Export, CSV) and deliver the file as Shopify wrote it ({DOCS}).",
                0,
            )
            continue
        path = str(paths.path_for(p.path, p.spec, p.order))
        reporting = load_profile(p.path.parent.parent).reporting_currency
        try:
            with reading(p.name):
                present = _columns(con, path)
        except UNREADABLE:
            _fail(
                p,
                f"{p.name}: cannot be read as the {adapter.label}: it is not a comma-separated "
                "UTF-8 CSV file with a header row (cut off, re-saved by a spreadsheet with "
                "another separator or encoding, or not a CSV at all). Export the orders again "
                f"as described in {DOCS} and deliver the file as Shopify wrote it, under the "
                "same name (it replaces the failed delivery). Rows in the file: unknown (row "
                "count unknown).",
            )
            continue
        missing = [c for c in REQUIRED if c not in present]
        if missing:
            _fail(
                p,
                f"{p.name}: not the {adapter.label}: the header has no column "
                f"{', '.join(missing)} (Shopify's export names its columns exactly so). Export "
                f"the orders again and deliver the file with Shopify's header ({DOCS}).",
            )
            continue
        select = adapter.flatten(path, present, p.name, p.order, reporting)
        with reading(p.name):
            n = stage_rows(con, ent, select, p.order)
        if n == 0:
            _fail(
                p,
                f"{p.name}: holds no {adapter.item} (a header only, or no row with an order's "
                "Id, Total and Currency). An empty export is not loaded: remove it, or export "
                f"the orders again with their rows ({DOCS}).",
                0,
            )
